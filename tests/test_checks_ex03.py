"""The KV-cache exercise's checks accept the reference and answers within the stated precision,
and reject plausible wrong answers with a hint that names the mistake."""

from __future__ import annotations

import math
import re

import jupytext
import pytest
from grading_helpers import assert_passes, assert_rejected
from notebook_files import ROOT
from tokenmath import hardware, models, roofline
from tokenmath.checks import ex03_why_kv_cache as ex
from tokenmath.checks._grading import _RESULTS, precision_text

PAGE = ROOT / "exercises" / "03_why_kv_cache.md"


# Task 1: flops_without_cache ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("wrong", "hint"),
    [
        (lambda n_params, prompt_len, new_tokens:
         2 * n_params * sum(prompt_len + i for i in range(1, new_tokens + 1)), "off by one"),
        (lambda n_params, prompt_len, new_tokens:
         2 * n_params * new_tokens * (new_tokens - 1) / 2, "forgot the prompt"),
        (lambda n_params, prompt_len, new_tokens:
         n_params * sum(prompt_len + i - 1 for i in range(1, new_tokens + 1)), "factor 2"),
        (lambda n_params, prompt_len, new_tokens:
         2 * n_params * (prompt_len + new_tokens - 1), "with* a cache"),
        (lambda n_params, prompt_len, new_tokens:
         2 * n_params * new_tokens * (prompt_len + new_tokens - 1), "longest pass"),
    ],
)
def test_flops_without_cache_wrong_answers(wrong, hint):
    assert_rejected(ex.check_flops_without_cache, wrong, hint)


# Task 2: kv_cache_bytes -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("wrong", "hint"),
    [
        (lambda n_layers, n_kv_heads, head_dim, bytes_per_element, tokens:
         n_layers * n_kv_heads * head_dim * bytes_per_element * tokens, "K and V counted once"),
        (lambda n_layers, n_kv_heads, head_dim, bytes_per_element, tokens:
         2 * n_layers * n_kv_heads * head_dim * bytes_per_element * tokens / 2**30, "GiB"),
        (lambda n_layers, n_kv_heads, head_dim, bytes_per_element, tokens:
         16 * n_layers * n_kv_heads * head_dim * bytes_per_element * tokens, "bits"),
        (lambda n_layers, n_kv_heads, head_dim, bytes_per_element, tokens:
         2 * n_kv_heads * head_dim * bytes_per_element * tokens, "n_layers"),
        (lambda n_layers, n_kv_heads, head_dim, bytes_per_element, tokens:
         4 * n_layers * n_kv_heads * head_dim * tokens, "2 bytes per element"),
    ],
)
def test_kv_cache_bytes_wrong_answers(wrong, hint):
    assert_rejected(ex.check_kv_cache_bytes, wrong, hint)


# Task 3: cache_or_recompute -------------------------------------------------------------------


def _flops_only(n_params, bytes_per_param, kv_bytes_per_token, prefix_len, batch, peak_flops,
                bandwidth):
    """Compares FLOPs, not times: never recomputes a prefix longer than one token."""
    return "recompute" if batch * prefix_len < batch else "cache"


def _batch_forgotten(n_params, bytes_per_param, kv_bytes_per_token, prefix_len, batch,
                     peak_flops, bandwidth):
    """Right roofline, but the no-cache step recomputes one prefix for the whole batch."""
    weights = n_params * bytes_per_param
    recompute = max(2 * n_params * prefix_len / peak_flops, weights / bandwidth)
    cached = max(2 * n_params * batch / peak_flops,
                 (weights + batch * prefix_len * kv_bytes_per_token) / bandwidth)
    return "Recompute" if recompute < cached else "Cache"


def _swapped(**kwargs):
    return "cache" if ex.cache_or_recompute(**kwargs) == "recompute" else "recompute"


@pytest.mark.parametrize(
    ("wrong", "hint"),
    [
        (_flops_only, "compare step *times*"),
        (_batch_forgotten, "each of the b sequences recomputes"),
        (_swapped, "labels are swapped"),
    ],
)
def test_cache_or_recompute_wrong_answers(wrong, hint):
    assert_rejected(ex.check_cache_or_recompute, wrong, hint)


def test_cache_or_recompute_answers_both_ways_and_rejects_non_labels():
    answers = {ex.cache_or_recompute(**c.kwargs) for c in ex.CACHE_OR_RECOMPUTE.cases}
    assert answers == {"cache", "recompute"}
    result = ex.check_cache_or_recompute(lambda **kwargs: 1.0)
    assert not result.passed and "return a string" in result.message


# Task 4: max_free_recompute_batch -------------------------------------------------------------


@pytest.mark.parametrize(
    ("wrong", "hint"),
    [
        (lambda peak_flops, bandwidth, bytes_per_param, prefix_len:
         round(peak_flops * bytes_per_param / (2 * bandwidth * prefix_len)), "round()"),
        (lambda peak_flops, bandwidth, bytes_per_param, prefix_len:
         math.ceil(peak_flops * bytes_per_param / (2 * bandwidth * prefix_len)), "ceil"),
        (lambda peak_flops, bandwidth, bytes_per_param, prefix_len:
         peak_flops * bytes_per_param / (2 * bandwidth * prefix_len), "whole number"),
        (lambda peak_flops, bandwidth, bytes_per_param, prefix_len:
         int(peak_flops * bytes_per_param / (bandwidth * prefix_len)), "factor 2"),
        (lambda peak_flops, bandwidth, bytes_per_param, prefix_len:
         int(peak_flops / (bandwidth * prefix_len)), "2-byte weights"),
        (lambda peak_flops, bandwidth, bytes_per_param, prefix_len:
         peak_flops * bytes_per_param // (2 * bandwidth), "prefix length matters"),
    ],
)
def test_max_free_recompute_batch_wrong_answers(wrong, hint):
    assert_rejected(ex.check_max_free_recompute_batch, wrong, hint)


def test_int_is_as_good_as_floor_here():
    # The bound is never negative, so int() and math.floor agree: both pass.
    assert_passes(ex.check_max_free_recompute_batch,
                  lambda peak_flops, bandwidth, bytes_per_param, prefix_len:
                  int(peak_flops * bytes_per_param / (2 * bandwidth * prefix_len)))


# Task 5: generation_time_ratio ----------------------------------------------------------------


def _times(n_params, bytes_per_param, kv_bytes_per_token, prompt_len, new_tokens, peak_flops,
           bandwidth, *, roofline_per_step=True, weights_in_no_cache=True, prefill=True,
           extra_read=0):
    weights = n_params * bytes_per_param
    no_cache_steps = [(2 * n_params * (prompt_len + i), weights if weights_in_no_cache else 0)
                      for i in range(new_tokens)]
    cached_steps = [(2 * n_params * prompt_len, weights)] if prefill else []
    cached_steps += [(2 * n_params,
                      weights + (prompt_len + j + extra_read) * kv_bytes_per_token)
                     for j in range(new_tokens - 1 if prefill else new_tokens)]

    def total(steps):
        if roofline_per_step:
            return sum(max(f / peak_flops, b / bandwidth) for f, b in steps)
        return max(sum(f for f, _ in steps) / peak_flops, sum(b for _, b in steps) / bandwidth)

    return total(no_cache_steps) / total(cached_steps)


@pytest.mark.parametrize(
    ("wrong", "hint"),
    [
        (lambda n_params, bytes_per_param, kv_bytes_per_token, prompt_len, new_tokens,
         peak_flops, bandwidth:
         ex.flops_without_cache(n_params, prompt_len, new_tokens)
         / (2 * n_params * (prompt_len + new_tokens - 1)), "flop ratio"),
        (lambda *args, **kwargs: _times(*args, **kwargs, roofline_per_step=False),
         "step by step"),
        (lambda *args, **kwargs: _times(*args, **kwargs, weights_in_no_cache=False),
         "also reads all the weights"),
        (lambda *args, **kwargs: _times(*args, **kwargs, prefill=False), "prefill"),
    ],
)
def test_generation_time_ratio_wrong_answers(wrong, hint):
    assert_rejected(ex.check_generation_time_ratio, wrong, hint)


def test_generation_time_ratio_off_by_one_is_within_precision():
    # An independent step-by-step sum agrees; reading the new token's own K,V too (one more
    # token per step) moves the ratio far less than the 1 % it is graded at.
    args = (8.03e9, 2, 131_072, 1000, 1000, 989e12, 3.35e12)
    assert _times(*args) == pytest.approx(ex.generation_time_ratio(*args), rel=1e-12)
    assert_passes(ex.check_generation_time_ratio, lambda **kw: _times(**kw, extra_read=1))


# Precision: every task accepts answers within it and rejects answers outside it -------------


def _scaled(task, factor):
    return lambda **kwargs: task.reference(**kwargs) * factor


@pytest.mark.parametrize("task", [t for t in ex.TASKS if t.kind == "number"],
                         ids=lambda t: t.name)
def test_number_tasks_accept_answers_within_their_precision(task):
    check = getattr(ex, f"check_{task.name}")
    assert_passes(check, _scaled(task, 1 + 0.5 * task.rtol))
    assert_passes(check, _scaled(task, 1 - 0.5 * task.rtol))
    result = check(_scaled(task, 1 + 3 * task.rtol))
    assert not result.passed and "relative error" in result.message


def test_integer_task_accepts_floats_and_rejects_off_by_one():
    task = ex.MAX_FREE_RECOMPUTE_BATCH
    assert_passes(ex.check_max_free_recompute_batch, lambda **kw: float(task.reference(**kw)))
    result = ex.check_max_free_recompute_batch(lambda **kw: task.reference(**kw) + 1)
    assert not result.passed and "exact" in result.message


def test_label_task_ignores_case_and_spaces():
    assert_passes(ex.check_cache_or_recompute,
                  lambda **kw: f"  {ex.cache_or_recompute(**kw).upper()} ")


# Partial matches: a hint still fires when the mistake explains only some cases ---------------


def test_hint_fires_when_a_second_slip_hides_the_first():
    # The off-by-one sum, plus a second bug for one-token answers: the off-by-one mistake
    # explains the reported case though it does not reproduce every case.
    def wrong(n_params, prompt_len, new_tokens):
        if new_tokens == 1:
            return 0.0
        return 2 * n_params * (new_tokens * prompt_len + new_tokens * (new_tokens + 1) / 2)

    result = assert_rejected(ex.check_flops_without_cache, wrong, "off by one")
    assert "new_tokens=1000" in result.message


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


def test_worked_example_does_not_count(capsys):
    before = dict(_RESULTS.get(ex.EXERCISE, {}))
    result = ex.check_example(lambda n_params: n_params)
    assert not result.passed and "factor 2" in (result.hint or "")
    assert dict(_RESULTS.get(ex.EXERCISE, {})) == before
    out = capsys.readouterr().out
    assert "not implemented yet" not in out
    assert max(len(line) for line in out.splitlines()) <= 88
    assert_passes(ex.check_example, lambda n_params: 2 * n_params)


# The references agree with the library -------------------------------------------------------


def test_reference_agrees_with_the_model_catalog():
    for name, dtype, b in [("llama-3-8b", "bf16", 2), ("llama-3-70b", "int8", 1),
                           ("llama-2-13b", "fp16", 2)]:
        m = models.get(name)
        assert ex.kv_cache_bytes(m.n_layers, m.n_kv_heads, m.head_dim, b, 1000) == \
            m.kv_cache_bytes(1000, dtype)


def test_free_batch_is_the_chapters_crossover():
    h100 = hardware.get("H100-SXM")
    f, w = h100.peak_flops("bf16"), h100.hbm_bandwidth
    t_star = f * 2 / (2 * w)  # the chapter's T* at batch 1
    assert ex.max_free_recompute_batch(f, w, 2, 1) == math.floor(t_star)
    for t in (1, 10, 100, 295, 296):
        b = ex.max_free_recompute_batch(f, w, 2, t)
        assert b * t <= t_star < (b + 1) * t


def test_decision_agrees_with_the_roofline_model():
    # Below the crossover a no-cache step costs the weight read and nothing more.
    m, h100 = models.get("llama-3-8b"), hardware.get("H100-SXM")
    kw = {"n_params": m.param_count(), "bytes_per_param": 2,
          "kv_bytes_per_token": m.kv_bytes_per_token(), "peak_flops": h100.peak_flops("bf16"),
          "bandwidth": h100.hbm_bandwidth}
    assert ex.cache_or_recompute(**kw, prefix_len=100, batch=1) == "recompute"
    assert ex.cache_or_recompute(**kw, prefix_len=4096, batch=1) == "cache"
    assert roofline.prefill(m, h100, 4096).time_s > roofline.decode_step(m, h100, 1, 4096).time_s
