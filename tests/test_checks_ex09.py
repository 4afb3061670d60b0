"""Chapter 9 exercise checks accept the reference and reject plausible wrong answers; their
simplified formulas agree with the library on published models and real configs."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest
from grading_helpers import (
    assert_fails,
    assert_passes,
    assert_rejected,
    flipped,
    scaled,
    sig_figs,
)
from test_real_configs import CONFIGS
from tokenmath import models, roofline
from tokenmath.checks import ex09_long_context as ex

# Real Hugging Face config.json files, where the checkout sits next to the project's shared
# folder (never committed; the tests that read them skip elsewhere).
SHARED_CONFIGS = Path(__file__).resolve().parents[2] / "shared" / "external" / "configs"


# Task 1 ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("wrong", "hint"),
    [(ex._no_batch, "divide by the batch"),
     (ex._always_memory, "compute-bound"),
     (ex._kv_twice_weights, "weights + KV")],
)
def test_doubling_context_wrong_answers(wrong, hint):
    assert_rejected(ex.check_doubling_context, wrong, hint)


def test_doubling_context_graded_to_one_percent():
    assert_passes(ex.check_doubling_context, sig_figs(ex.doubling_context, 3))
    assert_passes(ex.check_doubling_context, scaled(ex.doubling_context, 1.008))
    assert_fails(ex.check_doubling_context, scaled(ex.doubling_context, 1.03))


@pytest.mark.parametrize("batch", [1, 32, 512])
def test_doubling_context_doubles_the_library_step(batch):
    """At the answer, a dense step of the simplified model takes twice its empty-cache time;
    the library's step (attention FLOPs and embedding rows included) is within 5 %."""
    m = models.get("llama-3-8b")
    s2 = ex.doubling_context(m.param_count(), 2, m.kv_bytes_per_token(), batch, 989e12,
                             3.35e12)
    lib = [roofline.decode_step("llama-3-8b", "H100-SXM", batch, s).time_s
           for s in (0, round(s2))]
    # at batch 512 the step is compute-bound, and the attention FLOPs the exercise leaves out
    # add about 10 % at the answer's 5K tokens
    assert lib[1] / lib[0] == pytest.approx(2, rel=0.05 if batch < 512 else 0.12)


# Task 2 ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("wrong", "hint"),
    [(ex._total, "ACTIVE"), (ex._one_flop, "2 FLOPs"), (ex._inverted, "units")],
)
def test_critical_context_wrong_answers(wrong, hint):
    assert_rejected(ex.check_critical_context, wrong, hint)


def test_critical_context_graded_to_one_percent():
    assert_passes(ex.check_critical_context, sig_figs(ex.critical_context, 3))
    assert_fails(ex.check_critical_context, scaled(ex.critical_context, 1.03))


@pytest.mark.parametrize("name", ["llama-3-8b", "llama-3-70b"])
def test_critical_context_is_near_the_library(name):
    """The library also counts attention FLOPs (which push S* up) and leaves the lookup table
    out (which pulls it down): within 6 % for dense GQA models."""
    m = models.get(name)
    mine = ex.critical_context(m.param_count(), m.active_param_count(), m.kv_bytes_per_token(),
                               989e12, 3.35e12)
    assert mine == pytest.approx(roofline.critical_context(name, "H100-SXM"), rel=0.06)


# Task 3 ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("wrong", "hint"),
    [(ex._no_attention, "MLA"), (ex._no_kv, "cache"), (ex._active_read, "N_tot"),
     (flipped(ex.bound_at, ex.BOUNDS), None)],
)
def test_bound_at_wrong_answers(wrong, hint):
    if hint is None:
        assert_fails(ex.check_bound_at, wrong)
    else:
        assert_rejected(ex.check_bound_at, wrong, hint)


def test_bound_at_is_case_insensitive():
    assert_passes(ex.check_bound_at, lambda **kw: f"  {ex.bound_at(**kw).upper()} ")


@pytest.mark.parametrize(
    ("name", "hw", "dtype", "n_chips", "batch", "context"),
    [("deepseek-v3", "H200", "fp8", 8, 4096, 32768),
     ("deepseek-v3", "H200", "fp8", 8, 512, 32768),
     ("llama-3-70b", "H100-SXM", "bf16", 8, 64, 8192),
     ("llama-3-70b", "H100-SXM", "bf16", 8, 1024, 512)],
)
def test_bound_at_published_cases_agree_with_the_library(name, hw, dtype, n_chips, batch,
                                                        context):
    m = models.get(name)
    case = next(c for c in ex.BOUND_AT.cases
                if c.kwargs["batch"] == batch and c.kwargs["context"] == context)
    lib = roofline.decode_step(name, hw, batch, context, weight_dtype=dtype, n_chips=n_chips)
    assert lib.bound == case.expected
    assert case.kwargs["attention_flops_per_key"] == m.n_layers * m.attention_flops_per_key()
    assert case.kwargs["kv_bytes_per_token"] == m.kv_bytes_per_token(dtype)


# Task 4 ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("wrong", "hint"),
    [(ex._all_layers, "window_layers"), (ex._per_token, "whole cache")],
)
def test_best_kv_mechanism_wrong_answers(wrong, hint):
    assert_rejected(ex.check_best_kv_mechanism, wrong, hint)


def test_best_kv_mechanism_rejects_always_the_same_label():
    for label in ex.MECHANISMS:
        assert_fails(ex.check_best_kv_mechanism, lambda label=label, **kw: label)


def _variants(m: models.ModelConfig, gqa_kv_heads: int, window: int, window_layers: int):
    """The three changes of task 4 applied to a library model."""
    return {"gqa": (dataclasses.replace(m, n_kv_heads=gqa_kv_heads), "bf16"),
            "window": (dataclasses.replace(m, sliding_window=window,
                                           n_window_layers=window_layers), "bf16"),
            "fp8": (m, "fp8")}


@pytest.mark.parametrize("context", [2048, 32768, 131072, 524288])
@pytest.mark.parametrize(
    ("name", "window", "window_layers"),
    [("llama-3-8b", 4096, 32), ("llama-3-8b", 4096, 16), ("llama-3-70b", 8192, 60)],
)
def test_best_kv_mechanism_matches_the_library(name, window, window_layers, context):
    m = models.get(name)
    variants = _variants(m, 2, window, window_layers)
    lib = {k: v.kv_cache_bytes(context, dt) for k, (v, dt) in variants.items()}
    mine = ex.best_kv_mechanism(m.n_layers, m.n_kv_heads, m.head_dim, context, 2, window,
                                window_layers)
    assert lib[mine] == min(lib.values())
    for k in ex.MECHANISMS:  # the private sizes agree with kv_cache_bytes
        assert ex._sizes(m.n_layers, m.n_kv_heads, m.head_dim, context, 2, window,
                         window_layers)[k] == pytest.approx(lib[k], rel=1e-12)


@pytest.mark.parametrize("name", ["mistral-7b", "gemma-2-9b", "gpt-oss-20b"])
def test_window_sizes_agree_with_real_configs(name):
    """The exercise's windowed cache equals the library's for real sliding-window configs
    (architecture keys of their config.json, as in tests/test_real_configs.py)."""
    m = models.from_hf_config(CONFIGS[name], name=name)
    assert m.sliding_window and m.n_window_layers
    for s in (1024, m.sliding_window, 32768, 131072):
        mine = ex._kv_bytes(m.n_layers, m.n_kv_heads, m.head_dim, s, 2, m.sliding_window,
                            m.n_window_layers)
        assert mine == pytest.approx(m.kv_cache_bytes(s), rel=1e-12)


def test_published_window_cases_match_their_configs():
    m = models.from_hf_config(CONFIGS["gemma-2-9b"], name="gemma-2-9b")
    case = ex.BEST_KV_MECHANISM.cases[2].kwargs
    assert (case["n_layers"], case["n_kv_heads"], case["head_dim"]) == (
        m.n_layers, m.n_kv_heads, m.head_dim)
    assert (case["window"], case["window_layers"]) == (m.sliding_window, m.n_window_layers)
    # Mistral 7B's rolling buffer: 8x less cache at 32K tokens (arXiv 2310.06825, sec. 2)
    mistral = models.get("mistral-7b")
    full = mistral.kv_bytes_per_token() * 32768
    assert full / mistral.kv_cache_bytes(32768) == pytest.approx(8)


@pytest.mark.skipif(not SHARED_CONFIGS.is_dir(), reason="no shared config.json files here")
@pytest.mark.parametrize("name", ["mistral-7b", "gemma-2-9b", "gpt-oss-20b", "llama-3.1-8b",
                                  "llama-3.1-70b", "deepseek-v3"])
def test_real_config_files_give_the_exercise_numbers(name):
    """Read the config.json files themselves: the KV bytes per token and windows the exercise
    and the chapter use are what the published files say."""
    m = models.from_hf_config(json.loads((SHARED_CONFIGS / f"{name}.json").read_text()),
                              name=name)
    inline = models.from_hf_config(CONFIGS[name], name=name)
    assert m.kv_bytes_per_token() == inline.kv_bytes_per_token()
    assert (m.sliding_window, m.n_window_layers) == (inline.sliding_window,
                                                     inline.n_window_layers)
    expected_kv = {"llama-3.1-8b": 131072, "llama-3.1-70b": 327680, "deepseek-v3": 70272}
    if name in expected_kv:
        assert m.kv_bytes_per_token() == expected_kv[name]


# Task 5 ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("wrong", "hint"),
    [(ex._implied_total, "ACTIVE"), (ex._implied_one_flop, "2 FLOPs")],
)
def test_implied_kv_bytes_wrong_answers(wrong, hint):
    assert_rejected(ex.check_implied_kv_bytes, wrong, hint)


def test_implied_kv_bytes_graded_to_one_percent():
    assert_passes(ex.check_implied_kv_bytes, sig_figs(ex.implied_kv_bytes, 3))
    assert_fails(ex.check_implied_kv_bytes, scaled(ex.implied_kv_bytes, 1.03))


def test_implied_kv_bytes_inverts_the_critical_context():
    k = ex.implied_kv_bytes(1e12, 1e11, 200000, 989e12, 3.35e12)
    assert ex.critical_context(1e12, 1e11, k, 989e12, 3.35e12) == pytest.approx(200000)


# The page -------------------------------------------------------------------------------------


def test_worked_example_prints_a_hint_and_leaves_the_score_alone(capsys):
    before = ex.score()
    result = ex.check_example(lambda batch, context, kv_bytes_per_token, bandwidth:
                              context * kv_bytes_per_token / bandwidth)
    assert not result.passed and "multiply by the batch" in result.hint
    assert ex.score() == before


def test_score_counts_tasks(capsys):
    for t in ex.TASKS:
        getattr(ex, f"check_{t.name}")()
    ex.check_bound_at(lambda **kw: "memory")
    passed, total = ex.score()
    assert (passed, total) == (len(ex.TASKS) - 1, len(ex.TASKS))
    assert f"{passed}/{total} tasks passed" in capsys.readouterr().out
