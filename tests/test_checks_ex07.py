"""The prefill-against-decode exercise's checks accept the reference and answers within the
stated precision, and reject plausible wrong answers with a hint that names the mistake."""

from __future__ import annotations

import math
import re

import jupytext
import pytest
from grading_helpers import assert_passes, assert_rejected
from notebook_files import ROOT
from tokenmath import hardware, models, roofline
from tokenmath.checks import ex07_prefill_vs_decode as ex
from tokenmath.checks._grading import precision_text

PAGE = ROOT / "exercises" / "07_prefill_vs_decode.md"


# Task 1: ttft ---------------------------------------------------------------------------------


def _ttft(n_params, bytes_per_param, prompt_len, batch, peak_flops, bandwidth, mfu, *,
          use_mfu=True, use_max=True, use_batch=True, factor=2.0):
    flops = factor * n_params * (batch if use_batch else 1) * prompt_len
    compute = flops / (peak_flops * (mfu if use_mfu else 1.0))
    memory = n_params * bytes_per_param / bandwidth
    return max(compute, memory) if use_max else compute


@pytest.mark.parametrize(
    ("wrong", "hint"),
    [
        (lambda **kw: _ttft(**kw, use_mfu=False), "divide the compute time by mfu"),
        (lambda **kw: _ttft(**kw, use_max=False), "take the max"),
        (lambda **kw: _ttft(**kw, use_batch=False), "prefilled together"),
        (lambda **kw: _ttft(**kw, factor=1.0), "factor 2"),
    ],
)
def test_ttft_wrong_answers(wrong, hint):
    assert_rejected(ex.check_ttft, wrong, hint)


def test_ttft_agrees_with_the_library_for_long_prompts():
    # roofline.prefill adds attention FLOPs but multiplies only N_matmul (no embedding
    # table); for a 2,000-token prompt the two differ by a few percent.
    m, h100 = models.get("llama-3-8b"), hardware.get("H100-SXM")
    lib = roofline.prefill(m, h100, 2000, mfu=0.5).time_s
    mine = ex.ttft(m.param_count(), 2, 2000, 1, h100.peak_flops("bf16"), h100.hbm_bandwidth,
                   0.5)
    assert mine == pytest.approx(lib, rel=0.08)


# Task 2: prefill_bound ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("wrong", "hint"),
    [
        (lambda **kw: "Compute", "not always compute-bound"),
        (lambda **kw: ex.prefill_bound(**{**kw, "bytes_per_param": 2}), "int8 or int4"),
        (lambda n_params, bytes_per_param, prompt_len, peak_flops, bandwidth:
         "compute" if prompt_len / peak_flops >= bytes_per_param / bandwidth else "memory",
         "factor 2"),
        (lambda **kw: "memory" if ex.prefill_bound(**kw) == "compute" else "compute",
         "labels are swapped"),
    ],
)
def test_prefill_bound_wrong_answers(wrong, hint):
    assert_rejected(ex.check_prefill_bound, wrong, hint)


def test_prefill_bound_agrees_with_the_library():
    m, h100 = models.get("llama-3-8b"), hardware.get("H100-SXM")
    kw = {"n_params": m.param_count(), "bytes_per_param": 2,
          "peak_flops": h100.peak_flops("bf16"), "bandwidth": h100.hbm_bandwidth}
    for p in (64, 100, 1000, 4096):
        assert ex.prefill_bound(**kw, prompt_len=p) == roofline.prefill(m, h100, p).bound


def test_label_tasks_ignore_case_and_spaces():
    assert_passes(ex.check_prefill_bound, lambda **kw: f" {ex.prefill_bound(**kw).upper()}  ")
    assert_passes(ex.check_cheaper_deployment,
                  lambda **kw: ex.cheaper_deployment(**kw).upper())


# Task 3: compute_bound_prompt_len -------------------------------------------------------------


@pytest.mark.parametrize(
    ("wrong", "hint"),
    [
        (lambda peak_flops, bandwidth, bytes_per_param:
         math.floor(peak_flops * bytes_per_param / (2 * bandwidth)), "math.ceil"),
        (lambda peak_flops, bandwidth, bytes_per_param:
         peak_flops * bytes_per_param / (2 * bandwidth), "whole number"),
        (lambda peak_flops, bandwidth, bytes_per_param:
         math.ceil(peak_flops * bytes_per_param / bandwidth), "factor 2"),
        (lambda peak_flops, bandwidth, bytes_per_param:
         math.ceil(peak_flops / bandwidth), "2-byte weights"),
    ],
)
def test_compute_bound_prompt_len_wrong_answers(wrong, hint):
    assert_rejected(ex.check_compute_bound_prompt_len, wrong, hint)


def test_integer_task_accepts_floats_and_rejects_off_by_one():
    task = ex.COMPUTE_BOUND_PROMPT_LEN
    assert_passes(ex.check_compute_bound_prompt_len,
                  lambda **kw: float(task.reference(**kw)))
    result = ex.check_compute_bound_prompt_len(lambda **kw: task.reference(**kw) + 1)
    assert not result.passed and "exact" in result.message


def test_crossover_is_the_first_compute_bound_prompt_of_the_library():
    m, h100 = models.get("llama-3-8b"), hardware.get("H100-SXM")
    p = ex.compute_bound_prompt_len(h100.peak_flops("bf16"), h100.hbm_bandwidth, 2)
    assert p == 296
    # The library also counts attention FLOPs and the KV write; its crossover is close.
    first = next(t for t in range(200, 400) if roofline.prefill(m, h100, t).bound == "compute")
    assert abs(first - p) <= 10


# Task 4: cheaper_deployment -------------------------------------------------------------------


def _costs(**kw):
    return ex._deployment_costs(**kw)


@pytest.mark.parametrize(
    ("wrong", "hint"),
    [
        (lambda **kw: "a" if kw["price_a"] <= kw["price_b"] else "b", "cheaper chip"),
        (lambda **kw: "a" if _costs(**kw, per_token=False)[0] <= _costs(**kw, per_token=False)[1]
         else "b", "divide its cost by the batch"),
        (lambda **kw: "a" if _costs(**kw, kv=False)[0] <= _costs(**kw, kv=False)[1] else "b",
         "kv cache"),
        (lambda **kw: "b" if ex.cheaper_deployment(**kw) == "a" else "a", "labels are swapped"),
    ],
)
def test_cheaper_deployment_wrong_answers(wrong, hint):
    assert_rejected(ex.check_cheaper_deployment, wrong, hint)


def test_cheaper_deployment_answers_both_ways():
    answers = {ex.cheaper_deployment(**c.kwargs) for c in ex.CHEAPER_DEPLOYMENT.cases}
    assert answers == {"a", "b"}


# Task 5: output_input_cost_ratio --------------------------------------------------------------


@pytest.mark.parametrize(
    ("wrong", "hint"),
    [
        (lambda **kw: 1 / ex.output_input_cost_ratio(**kw), "upside down"),
        (lambda **kw: ex.output_input_cost_ratio(**{**kw, "prefill_mfu": 1.0}),
         "not at peak"),
        (lambda **kw: ex.output_input_cost_ratio(**{**kw, "kv_bytes_per_token": 0}),
         "kv cache"),
        (lambda **kw: ex.output_input_cost_ratio(**kw) * kw["batch"], "divide its time"),
    ],
)
def test_output_input_cost_ratio_wrong_answers(wrong, hint):
    assert_rejected(ex.check_output_input_cost_ratio, wrong, hint)


def test_cost_ratio_agrees_with_the_library():
    # Decode cost per token from roofline.decode_step, prefill cost from 2 N / (F m).
    m, h100 = models.get("llama-3-8b"), hardware.get("H100-SXM")
    step = roofline.decode_step(m, h100, 64, 2048)
    n = m.param_count()
    lib = (step.time_s / 64) / (2 * n / (h100.peak_flops("bf16") * 0.5))
    mine = ex.output_input_cost_ratio(n, 2, m.kv_bytes_per_token(), 2048, 64,
                                      h100.peak_flops("bf16"), h100.hbm_bandwidth, 0.5)
    assert mine == pytest.approx(lib, rel=0.05)
    assert 3 < mine < 5


# Precision: every number task accepts answers within it and rejects answers outside it -------


@pytest.mark.parametrize("task", [t for t in ex.TASKS if t.kind == "number"],
                         ids=lambda t: t.name)
def test_number_tasks_accept_answers_within_their_precision(task):
    check = getattr(ex, f"check_{task.name}")
    assert_passes(check, lambda **kw: task.reference(**kw) * (1 + 0.5 * task.rtol))
    assert_passes(check, lambda **kw: task.reference(**kw) * (1 - 0.5 * task.rtol))
    result = check(lambda **kw: task.reference(**kw) * (1 + 3 * task.rtol))
    assert not result.passed and "relative error" in result.message


def test_ttft_with_attention_is_within_precision_for_short_prompts():
    # Adding one layer's worth of small extras (0.5 %) stays inside the 1 % it is graded at.
    assert_passes(ex.check_ttft, lambda **kw: ex.ttft(**kw) * 1.005)


# The page -------------------------------------------------------------------------------------


def _normalised(text: str) -> str:
    return re.sub(r"\s+", " ", text.replace("`", "").replace("*", "")).lower()


def test_page_states_each_tasks_precision():
    page = _normalised(PAGE.read_text())
    for task in ex.TASKS:
        assert _normalised(precision_text(task)) in page, task.name
        assert ex.precision(task.name) == precision_text(task)


def test_page_code_lines_fit_88_characters():
    cells = [c for c in jupytext.read(PAGE).cells if c.cell_type == "code"
             and "remove-cell" not in c.metadata.get("tags", [])]
    long = [line for c in cells for line in c.source.splitlines() if len(line) > 88]
    assert not long, long


def test_worked_example_does_not_count():
    result = ex.check_example(lambda n_params, prompt_len: 2 * n_params)
    assert not result.passed and "one token" in (result.hint or "")
    assert_passes(ex.check_example, lambda n_params, prompt_len: 2 * n_params * prompt_len)
