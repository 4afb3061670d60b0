"""Chapter 6 exercise checks accept the reference and reject plausible wrong answers."""

from __future__ import annotations

import pytest
from grading_helpers import assert_fails, assert_passes, assert_rejected, scaled
from tokenmath import measurements, roofline
from tokenmath.checks import ex06_chasing_the_roofline as ex


def test_references_pass():
    for task in ex.TASKS:
        assert_passes(getattr(ex, f"check_{task.name}"), task.reference)


def test_regime_cases_agree_with_the_stored_runs():
    eg = measurements.rows(measurements.load("NVIDIA-H200"))
    cal = measurements.load("NVIDIA-H200")["calibration"]
    eager = next(r for r in eg if (r["mode"], r["batch"], r["context"]) == ("eager", 1, 512))
    graph = next(r for r in eg if (r["mode"], r["batch"], r["context"]) == ("graph", 1, 512))
    flops = roofline.decode_step("llama-3-8b", "H200", 1, 512).flops
    args = dict(flops=flops, peak_flops=cal["flops"]["bf16"], bandwidth=cal["copy_bandwidth"])
    assert ex.regime(bytes_moved=eager["bytes_read"], step_time_s=eager["step_time_s"],
                     **args) == "overhead"
    assert ex.regime(bytes_moved=graph["bytes_read"], step_time_s=graph["step_time_s"],
                     **args) == "memory"
    assert graph["mbu_datasheet"] == pytest.approx(
        ex.mbu(graph["weight_bytes"], 131072, 1, 513, graph["step_time_s"], 4.8e12))


def test_predict_with_t0_agrees_with_fit_overhead():
    fit = measurements.fit_overhead(measurements.load("NVIDIA-H200-roofline-sweep"))
    rows = measurements.rows(fit)
    points = [r for r in rows if r["overhead_fit_point"]]
    other = next(r for r in rows if (r["batch"], r["context"]) == (64, 2048))
    got = ex.predict_with_t0([r["roofline_calibrated_s"] for r in points],
                             [r["step_time_s"] for r in points],
                             other["roofline_calibrated_s"])
    assert got == pytest.approx(other["roofline_calibrated_t0_s"])


@pytest.mark.parametrize(
    ("wrong", "hint"),
    [
        (lambda flops, bytes_moved, step_time_s, peak_flops, bandwidth:
         "compute" if flops / peak_flops >= bytes_moved / bandwidth else "memory",
         "overhead regime"),
        (lambda flops, bytes_moved, step_time_s, peak_flops, bandwidth: "overhead"
         if step_time_s > max(flops / peak_flops, bytes_moved / bandwidth)
         else "memory", "largest"),
        (lambda flops, bytes_moved, step_time_s, peak_flops, bandwidth:
         {"compute": "memory", "memory": "compute", "overhead": "overhead"}[
             ex.regime(flops, bytes_moved, step_time_s, peak_flops, bandwidth)], "swapped"),
    ],
)
def test_regime_wrong_answers(wrong, hint):
    assert_rejected(ex.check_regime, wrong, hint)


def test_regime_case_and_spaces_pass():
    assert_passes(ex.check_regime, lambda **kw: f" {ex.regime(**kw).upper()} ")


@pytest.mark.parametrize(
    ("wrong", "hint"),
    [
        (lambda roofline_s, measured_s, roofline_next_s: roofline_next_s
         * sum(m / r for m, r in zip(measured_s, roofline_s)) / 3, "ADDED"),
        (lambda roofline_s, measured_s, roofline_next_s:
         sum(m - r for m, r in zip(measured_s, roofline_s)) / 3, "t0 alone"),
        (lambda roofline_s, measured_s, roofline_next_s: roofline_next_s
         + max(m - r for m, r in zip(measured_s, roofline_s)), "mean"),
        (lambda roofline_s, measured_s, roofline_next_s:
         1e3 * ex.predict_with_t0(roofline_s, measured_s, roofline_next_s), "milliseconds"),
    ],
)
def test_predict_with_t0_wrong_answers(wrong, hint):
    assert_rejected(ex.check_predict_with_t0, wrong, hint)


def test_predict_with_t0_within_precision_passes():
    assert_passes(ex.check_predict_with_t0, scaled(ex.predict_with_t0, 1.004))
    assert_fails(ex.check_predict_with_t0, scaled(ex.predict_with_t0, 1.03))


@pytest.mark.parametrize(
    ("wrong", "hint"),
    [
        (lambda cost: {"cpu_launch": "compiled"}.get(cost, ex.COSTS[cost]), "LOWEST"),
        (lambda cost: {"small_kernels": "graph"}.get(cost, ex.COSTS[cost]), "fusing"),
        (lambda cost: {"kv_bytes": "split_kv"}.get(cost, ex.COSTS[cost]), "idle SMs"),
        (lambda cost: "compiled" if ex.COSTS[cost] == "none" else ex.COSTS[cost],
         "every weight"),
    ],
)
def test_rung_for_wrong_answers(wrong, hint):
    assert_rejected(ex.check_rung_for, wrong, hint)


def test_rung_for_everything_graph_fails():
    assert_fails(ex.check_rung_for, lambda cost: "graph")


@pytest.mark.parametrize(
    ("wrong", "hint"),
    [
        (lambda weight_bytes, kv_bytes_per_token, batch, context, step_time_s, bandwidth:
         weight_bytes / step_time_s / bandwidth, "KV cache"),
        (lambda weight_bytes, kv_bytes_per_token, batch, context, step_time_s, bandwidth:
         (weight_bytes + context * kv_bytes_per_token) / step_time_s / bandwidth,
         "by the batch"),
        (lambda weight_bytes, kv_bytes_per_token, batch, context, step_time_s, bandwidth:
         100 * ex.mbu(weight_bytes, kv_bytes_per_token, batch, context, step_time_s,
                      bandwidth), "percentage"),
        (lambda weight_bytes, kv_bytes_per_token, batch, context, step_time_s, bandwidth:
         batch * weight_bytes / step_time_s / bandwidth, "once per step"),
    ],
)
def test_mbu_wrong_answers(wrong, hint):
    assert_rejected(ex.check_mbu, wrong, hint)


def test_mbu_within_precision_passes():
    assert_passes(ex.check_mbu, scaled(ex.mbu, 1.002))
    assert_fails(ex.check_mbu, scaled(ex.mbu, 1.02))


def test_worked_example_is_wrong_with_a_hint_and_not_scored():
    result = ex.check_example(lambda bytes_read, step_time_s: bytes_read / step_time_s / 1e9)
    assert not result.passed and "GB/s" in result.hint
    assert ex.check_example(ex.achieved_bandwidth).passed
