"""Chapter 5 exercise checks accept the reference and reject plausible wrong answers."""

from __future__ import annotations

import math

import pytest
from grading_helpers import (
    assert_fails,
    assert_passes,
    assert_rejected,
    flipped,
    scaled,
    sig_figs,
)
from tokenmath import hardware, models, roofline
from tokenmath.checks import ex05_decode_step as ex


def test_critical_context_matches_the_library():
    for name, hw in (("llama-3-8b", "H200"), ("llama-3-70b", "A100-80GB"),
                     ("llama-3-70b", "H100-SXM")):
        m, a = models.get(name), hardware.get(hw)
        mine = ex.critical_context(m.flops_per_token(0) / 2, m.n_layers, m.n_heads,
                                   m.n_kv_heads, m.head_dim, 2, a.peak_flops("bf16"),
                                   a.hbm_bandwidth)
        assert mine == pytest.approx(roofline.critical_context(name, hw), rel=1e-9)


def test_fewest_chips_agrees_with_latency_floor():
    n = ex.fewest_chips(671.03e9, 37.55e9, 1, 4.8e12, 141e9, 0.020)
    assert n == 7
    assert roofline.latency_floor("deepseek-v3", "H200", weight_dtype="fp8", n_chips=n) <= 0.020
    assert roofline.latency_floor("deepseek-v3", "H200", weight_dtype="fp8",
                                  n_chips=n - 1) > 0.020


@pytest.mark.parametrize(
    ("wrong", "hint"),
    [
        (ex._no_batch_on_kv, "own cache"),
        (ex._weights_per_sequence, "shared by the whole batch"),
        (ex._one_flop, "2 FLOPs"),
        (ex._memory_as_one, "three terms"),
    ],
)
def test_step_regime_wrong_answers(wrong, hint):
    assert_rejected(ex.check_step_regime, wrong, hint)


def test_step_regime_is_case_insensitive():
    assert_passes(ex.check_step_regime, lambda **kw: ex.step_regime(**kw).upper())


def _ceil(a, b):
    return math.ceil(a / b)


@pytest.mark.parametrize(
    ("wrong", "hint"),
    [
        (lambda total_params, active_params, bytes_per_weight, bandwidth, hbm_bytes, target_s:
         max(_ceil(active_params * bytes_per_weight, bandwidth * target_s),
             _ceil(total_params * bytes_per_weight, hbm_bytes)), "not active"),
        (lambda total_params, active_params, bytes_per_weight, bandwidth, hbm_bytes, target_s:
         _ceil(total_params * bytes_per_weight, bandwidth * target_s), "hold the weights"),
        (lambda total_params, active_params, bytes_per_weight, bandwidth, hbm_bytes, target_s:
         max(1, int(total_params * bytes_per_weight / (bandwidth * target_s)),
             int(total_params * bytes_per_weight / hbm_bytes)), "round UP"),
        (lambda total_params, active_params, bytes_per_weight, bandwidth, hbm_bytes, target_s:
         _ceil(total_params * bytes_per_weight, hbm_bytes), "not enough"),
    ],
)
def test_fewest_chips_wrong_answers(wrong, hint):
    assert_rejected(ex.check_fewest_chips, wrong, hint)


def test_fewest_chips_is_exact_and_accepts_a_search():
    def search(total_params, active_params, bytes_per_weight, bandwidth, hbm_bytes, target_s):
        n = 1
        weight_bytes = total_params * bytes_per_weight
        while weight_bytes / (n * bandwidth) > target_s or n * hbm_bytes < weight_bytes:
            n += 1
        return n

    assert_passes(ex.check_fewest_chips, search)
    assert_passes(ex.check_fewest_chips, lambda **kw: float(search(**kw)))
    assert_fails(ex.check_fewest_chips, lambda **kw: search(**kw) + 1)


@pytest.mark.parametrize(
    ("wrong", "hint"),
    [
        (flipped(ex.better_form, ex.FORMS), "swapped"),
        (ex._serial, "not compute + weights + KV"),
        (lambda flops, weight_bytes, kv_bytes, peak_flops, bandwidth, measured_s:
         "separate" if flops / peak_flops > weight_bytes / bandwidth else "overlap",
         "decided by the measurement"),
    ],
)
def test_better_form_wrong_answers(wrong, hint):
    assert_rejected(ex.check_better_form, wrong, hint)


@pytest.mark.parametrize(
    ("wrong", "hint"),
    [
        (ex._no_attention, "without the attention FLOPs"),
        (lambda **kw: ex.critical_context(**{**kw, "n_kv_heads": kw["n_q_heads"]}),
         "not query heads"),
        (lambda **kw: ex.critical_context(**{**kw, "bytes_per_kv": kw["bytes_per_kv"] / 2}),
         "key AND a value"),
        (lambda **kw: ex.critical_context(**{**kw, "n_layers": 1}), "multiply both"),
    ],
)
def test_critical_context_wrong_answers(wrong, hint):
    assert_rejected(ex.check_critical_context, wrong, hint)


def test_critical_context_graded_to_half_a_percent():
    assert_passes(ex.check_critical_context, sig_figs(ex.critical_context, 4))
    assert_passes(ex.check_critical_context, scaled(ex.critical_context, 1.004))
    assert_fails(ex.check_critical_context, scaled(ex.critical_context, 1.01))


def test_worked_example_prints_a_hint_and_leaves_the_score_alone(capsys):
    before = ex.score()
    result = ex.check_example(lambda batch, step_s: 1 / step_s)
    assert not result.passed and "EACH" in result.hint
    assert ex.score() == before


def test_score_counts_tasks(capsys):
    for t in ex.TASKS:
        getattr(ex, f"check_{t.name}")()
    ex.check_better_form(lambda **kw: "overlap")
    passed, total = ex.score()
    assert (passed, total) == (len(ex.TASKS) - 1, len(ex.TASKS))
    assert f"{passed}/{total} tasks passed" in capsys.readouterr().out
