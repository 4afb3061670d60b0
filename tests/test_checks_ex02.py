"""Chapter 2 exercise checks accept the reference and reject plausible wrong answers."""

from __future__ import annotations

import math
import random

import pytest
from grading_helpers import (
    assert_fails,
    assert_passes,
    assert_rejected,
    flipped,
    scaled,
    sig_figs,
)
from tokenmath import models
from tokenmath.checks import ex02_transformer_arithmetic as ex


def _shape(m):
    return dict(n_layers=m.n_layers, d_model=m.d_model, n_heads=m.n_heads,
                n_kv_heads=m.n_kv_heads, head_dim=m.head_dim, d_ff=m.d_ff,
                vocab_size=m.vocab_size, tied_embeddings=m.tied_embeddings)


@pytest.mark.parametrize("name", ["llama-3-8b", "llama-3-70b", "mistral-7b", "llama-3.2-1b",
                                  "small", "tiny"])
def test_references_agree_with_the_library(name):
    m = models.get(name)
    assert ex.param_count(**_shape(m)) == m.param_count()
    assert ex.kv_bytes_per_token(m.n_layers, m.n_heads, m.n_kv_heads, m.head_dim, 2) == (
        m.kv_bytes_per_token("bf16"))


def test_expected_experts_agrees_with_the_library():
    for name in ("mixtral-8x7b", "deepseek-v3"):
        m = models.get(name)
        for b in (1, 7, 100, 5000):
            assert ex.expected_experts_touched(m.n_experts, m.n_active_experts, b) == (
                pytest.approx(m.expected_experts_touched(b)))


@pytest.mark.parametrize(
    ("wrong", "hint"),
    [
        (lambda n_layers, d_model, n_heads, n_kv_heads, head_dim, d_ff, vocab_size,
         tied_embeddings: ex.param_count(n_layers, d_model, n_heads, n_heads, head_dim, d_ff,
                                         vocab_size, tied_embeddings), "n_kv_heads"),
        (lambda n_layers, d_model, n_heads, n_kv_heads, head_dim, d_ff, vocab_size,
         tied_embeddings: vocab_size * d_model * (1 if tied_embeddings else 2)
         + n_layers * (2 * d_model * head_dim * (n_heads + n_kv_heads) + 2 * d_model * d_ff),
         "three"),
        (lambda n_layers, d_model, n_heads, n_kv_heads, head_dim, d_ff, vocab_size,
         tied_embeddings: ex.param_count(n_layers, d_model, n_heads, n_kv_heads, head_dim, d_ff,
                                         vocab_size, True), "two V x d tables"),
        (lambda n_layers, d_model, n_heads, n_kv_heads, head_dim, d_ff, vocab_size,
         tied_embeddings: n_layers * (2 * d_model * head_dim * (n_heads + n_kv_heads)
                                      + 3 * d_model * d_ff), "embedding table"),
    ],
)
def test_param_count_wrong_answers(wrong, hint):
    assert_rejected(ex.check_param_count, wrong, hint)


def test_param_count_without_norms_passes():
    # Norm weights are below the tolerance: leaving them out is not a mistake.
    def no_norms(n_layers, d_model, n_heads, n_kv_heads, head_dim, d_ff, vocab_size,
                 tied_embeddings):
        return (vocab_size * d_model * (1 if tied_embeddings else 2)
                + n_layers * (2 * d_model * head_dim * (n_heads + n_kv_heads)
                              + 3 * d_model * d_ff))

    assert_passes(ex.check_param_count, no_norms)


@pytest.mark.parametrize(
    ("wrong", "hint"),
    [
        (lambda n_layers, n_heads, n_kv_heads, head_dim, bytes_per_element:
         n_layers * n_kv_heads * head_dim * bytes_per_element, "K and V counted once"),
        (lambda n_layers, n_heads, n_kv_heads, head_dim, bytes_per_element:
         2 * n_layers * n_heads * head_dim * bytes_per_element, "n_kv_heads heads, not n_heads"),
        (lambda n_layers, n_heads, n_kv_heads, head_dim, bytes_per_element:
         2 * n_layers * n_kv_heads * head_dim * bytes_per_element / 1024, "KiB"),
        (lambda n_layers, n_heads, n_kv_heads, head_dim, bytes_per_element:
         16 * n_layers * n_kv_heads * head_dim * bytes_per_element, "bits"),
    ],
)
def test_kv_bytes_wrong_answers(wrong, hint):
    assert_rejected(ex.check_kv_bytes_per_token, wrong, hint)




def _touch(n_experts, top_k, fraction):
    return math.log(1 - fraction) / math.log(1 - top_k / n_experts)


@pytest.mark.parametrize(
    ("wrong", "hint"),
    [
        (lambda n_experts, top_k, batch: min(n_experts, top_k * batch), "tokens overlap"),
        (lambda n_experts, top_k, batch: top_k * batch, "distinct experts"),
        (lambda n_experts, top_k, batch: n_experts * (1 - (1 - 1 / n_experts) ** batch),
         "k experts, not one"),
        (lambda n_experts, top_k, batch: 1 - (1 - top_k / n_experts) ** batch, "multiply by E"),
    ],
)
def test_expected_experts_wrong_answers(wrong, hint):
    assert_rejected(ex.check_expected_experts_touched, wrong, hint)


def _simulated(n_experts, top_k, batch, seed=1):
    """Monte-Carlo estimate: route ``batch`` tokens at random and count the experts touched."""
    draws = min(3000, max(200, 300_000 // (batch * top_k)))  # large batches vary little
    rng = random.Random(seed)
    experts = range(n_experts)
    total = 0
    for _ in range(draws):
        touched = set()
        for _ in range(batch):
            touched.update(rng.sample(experts, top_k))
            if len(touched) == n_experts:
                break
        total += len(touched)
    return total / draws


def test_expected_experts_accepts_a_simulation_and_grades_to_one_percent():
    # A Monte-Carlo estimate is off by a few 1e-4 relative: "graded to 1 %" accepts it.
    assert_passes(ex.check_expected_experts_touched, _simulated)
    ref = ex.expected_experts_touched
    assert_passes(ex.check_expected_experts_touched, scaled(ref, 1.008))
    assert_fails(ex.check_expected_experts_touched, scaled(ref, 1.02))


@pytest.mark.parametrize(
    ("wrong", "hint"),
    [
        (lambda **kw: int(_touch(**kw)), "round UP"),
        (lambda n_experts, top_k, fraction:
         math.ceil(-n_experts * math.log(1 - fraction) / top_k), "exp(-k B / E)"),
        (lambda n_experts, top_k, fraction: math.ceil(fraction * n_experts / top_k),
         "tokens overlap"),
        (lambda n_experts, top_k, fraction:
         math.ceil(math.log(fraction) / math.log(1 - top_k / n_experts)), "MISSED"),
    ],
)
def test_batch_to_touch_wrong_answers(wrong, hint):
    assert_rejected(ex.check_batch_to_touch, wrong, hint)


def test_batch_to_touch_is_exact_and_accepts_a_search():
    def search(n_experts, top_k, fraction):
        batch = 1
        while ex.expected_experts_touched(n_experts, top_k, batch) < fraction * n_experts:
            batch += 1
        return batch

    assert_passes(ex.check_batch_to_touch, search)
    assert ex.batch_to_touch(8, 2, 0.99) == 17 and ex.batch_to_touch(256, 8, 0.9) == 73
    result = assert_fails(ex.check_batch_to_touch, _touch)  # not rounded
    assert "whole number" in result.message
    assert_fails(ex.check_batch_to_touch, lambda **kw: search(**kw) + 1)


def _step(n_params, bytes_per_weight, kv_bytes_per_token, batch, context, peak_flops,
          bandwidth, flops_per_weight=2.0, kv=True):
    compute = flops_per_weight * n_params * batch / peak_flops
    memory = (n_params * bytes_per_weight + kv * batch * context * kv_bytes_per_token) / bandwidth
    return "compute" if compute >= memory else "memory"


@pytest.mark.parametrize(
    ("wrong", "hint"),
    [
        (flipped(ex.decode_step_bound, ("compute", "memory")), "swapped"),
        # Without the cache: right at context 0 and at small batches, wrong only where the
        # cache tips a large batch back to memory-bound.
        (lambda **kw: _step(**kw, kv=False).title(), "KV cache"),
        (lambda n_params, bytes_per_weight, kv_bytes_per_token, batch, context, peak_flops,
         bandwidth: "compute" if batch > peak_flops / bandwidth else "memory", "2-byte weights"),
        (lambda **kw: _step(**kw, flops_per_weight=1.0), "2 N B"),
    ],
)
def test_decode_step_bound_wrong_answers(wrong, hint):
    assert_rejected(ex.check_decode_step_bound, wrong, hint)


@pytest.mark.parametrize(
    ("wrong", "hint"),
    [
        (lambda bytes_1, time_1, bytes_2, time_2: time_2 - time_1, "extra bytes"),
        (lambda bytes_1, time_1, bytes_2, time_2: time_1 - bytes_1 / (bytes_2 / time_2),
         "not the bandwidth"),
        (lambda bytes_1, time_1, bytes_2, time_2: min(time_1, time_2), "smaller step"),
        (lambda **kw: 1e3 * ex.fixed_cost_from_two_steps(**kw), "milliseconds"),
    ],
)
def test_fixed_cost_wrong_answers(wrong, hint):
    assert_rejected(ex.check_fixed_cost_from_two_steps, wrong, hint)


def test_fixed_cost_graded_to_one_percent():
    ref = ex.fixed_cost_from_two_steps
    assert_passes(ex.check_fixed_cost_from_two_steps, sig_figs(ref, 3))
    assert_passes(ex.check_fixed_cost_from_two_steps, scaled(ref, 0.992))
    assert_fails(ex.check_fixed_cost_from_two_steps, scaled(ref, 0.98))


def test_param_count_graded_to_a_tenth_of_a_percent():
    assert_passes(ex.check_param_count, sig_figs(ex.param_count, 4))
    assert_fails(ex.check_param_count, scaled(ex.param_count, 1.003))


def test_kv_bytes_is_exact():
    assert_passes(ex.check_kv_bytes_per_token, lambda **kw: int(ex.kv_bytes_per_token(**kw)))
    assert_fails(ex.check_kv_bytes_per_token, scaled(ex.kv_bytes_per_token, 1 + 1e-6))


def test_worked_example_prints_a_hint_and_leaves_the_score_alone():
    before = ex.score()
    result = ex.check_example(lambda batch, step_time_s: 1 / step_time_s)
    assert not result.passed and "steps per second" in result.hint
    assert ex.score() == before


def test_score_counts_tasks(capsys):
    for t in ex.TASKS:
        getattr(ex, f"check_{t.name}")()
    ex.check_kv_bytes_per_token(lambda **kw: 0.0)
    passed, total = ex.score()
    assert (passed, total) == (len(ex.TASKS) - 1, len(ex.TASKS))
    assert f"{passed}/{total} tasks passed" in capsys.readouterr().out
