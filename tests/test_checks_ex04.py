"""The KV-memory exercise's checks accept the reference and answers within the stated precision,
and reject plausible wrong answers with a hint that names the mistake."""

from __future__ import annotations

import math
import re
from dataclasses import replace

import jupytext
import pytest
from grading_helpers import assert_passes, assert_rejected
from notebook_files import ROOT
from tokenmath import hardware, models, roofline
from tokenmath.checks import ex04_kv_cache_memory as ex
from tokenmath.checks._grading import _RESULTS, precision_text
from tokenmath.dtypes import bytes_per_element

PAGE = ROOT / "exercises" / "04_kv_cache_memory.md"


# Task 1: kv_cache_gb ---------------------------------------------------------------------------


def _kv_bytes(n_layers, n_kv_heads, head_dim, dtype, context, batch):
    return 2 * n_layers * n_kv_heads * head_dim * bytes_per_element(dtype) * context * batch


@pytest.mark.parametrize(
    ("wrong", "hint"),
    [
        (lambda **k: _kv_bytes(**k) / 2**30, "GiB, not GB"),
        (lambda **k: _kv_bytes(**k) / 2 / 1e9, "K or V counted"),
        (lambda **k: _kv_bytes(**k) * 8 / 1e9, "gigabits"),
        (lambda n_layers, n_kv_heads, head_dim, dtype, context, batch:
         4 * n_layers * n_kv_heads * head_dim * context * batch / 1e9, "2 bytes per element"),
        (lambda n_layers, n_kv_heads, head_dim, dtype, context, batch:
         _kv_bytes(n_layers, n_kv_heads, head_dim, dtype, context, 1) / 1e9, "one sequence"),
        (lambda **k: _kv_bytes(**k), "that is bytes"),
    ],
)
def test_kv_cache_gb_wrong_answers(wrong, hint):
    assert_rejected(ex.check_kv_cache_gb, wrong, hint)


def test_gib_hint_names_the_factor():
    result = ex.check_kv_cache_gb(lambda **k: _kv_bytes(**k) / 2**30)
    assert "0.9313" in result.hint and "1e9" in result.hint


# Task 2: max_batch_that_fits -------------------------------------------------------------------


def _fit(memory_gb, n_params, weight_dtype, kv_bytes_per_token, context, *, gib=False,
         weights=True, rounding=math.floor, clamp=True):
    memory = memory_gb * (2**30 if gib else 1e9)
    free = memory - (n_params * bytes_per_element(weight_dtype) if weights else 0)
    if clamp and free < 0:
        return 0
    return rounding(free / (context * kv_bytes_per_token))


@pytest.mark.parametrize(
    ("wrong", "hint"),
    [
        (lambda **k: _fit(**k, weights=False), "forgot the weights"),
        (lambda **k: _fit(**k, gib=True), "not * 2**30"),
        (lambda **k: _fit(**k, rounding=math.ceil), "ceil"),
        (lambda **k: _fit(**k, rounding=round), "round()"),
        (lambda **k: _fit(**k, rounding=int, clamp=False), "int() truncates"),
        (lambda **k: _fit(**k, clamp=False), "return 0"),
        (lambda memory_gb, n_params, weight_dtype, kv_bytes_per_token, context:
         max(0, (memory_gb * 1e9 - 2 * n_params) // (context * kv_bytes_per_token)),
         "stored in weight_dtype"),
    ],
)
def test_max_batch_wrong_answers(wrong, hint):
    assert_rejected(ex.check_max_batch_that_fits, wrong, hint)


def test_int_against_floor_gets_a_hint_even_when_most_cases_agree():
    # int() and floor agree whenever the weights fit; they differ only on the cases where
    # they do not, and the hint must still come.
    def wrong(memory_gb, n_params, weight_dtype, kv_bytes_per_token, context):
        free = memory_gb * 1e9 - n_params * bytes_per_element(weight_dtype)
        return int(free / (context * kv_bytes_per_token))

    result = assert_rejected(ex.check_max_batch_that_fits, wrong, "int() truncates")
    assert "n_params=7.06e+10" in result.message


def test_gib_memory_gets_a_hint_though_floor_often_hides_it():
    # 7 % more memory changes the batch on some cases only: a partial match.
    def wrong(memory_gb, n_params, weight_dtype, kv_bytes_per_token, context):
        free = memory_gb * 2**30 - n_params * bytes_per_element(weight_dtype)
        return max(0, int(free // (context * kv_bytes_per_token)))

    assert_rejected(ex.check_max_batch_that_fits, wrong, "2**30")


# Task 3: what_runs_out_first ------------------------------------------------------------------


def _limit(memory_gb, n_params, weight_dtype, kv_bytes_per_token, context, peak_flops,
           bandwidth, *, kv_read=True, weights_in_memory=True):
    weights = n_params * bytes_per_element(weight_dtype)
    if weights > memory_gb * 1e9:
        return "weights"
    free = memory_gb * 1e9 - (weights if weights_in_memory else 0)
    batch = math.floor(free / (context * kv_bytes_per_token))
    if batch == 0:
        return "kv cache"
    compute = 2 * n_params * batch / peak_flops
    memory = (weights + (batch * context * kv_bytes_per_token if kv_read else 0)) / bandwidth
    return "compute" if compute >= memory else "KV cache"


@pytest.mark.parametrize(
    ("wrong", "hint"),
    [
        (lambda **k: _limit(**k, kv_read=False), "reads every sequence's cache"),
        (lambda **k: _limit(**k, weights_in_memory=False), "share the memory"),
        (lambda **k: "kv cache", "memory is not always the limit"),
    ],
)
def test_what_runs_out_first_wrong_answers(wrong, hint):
    assert_rejected(ex.check_what_runs_out_first, wrong, hint)


def test_what_runs_out_first_meets_all_three_answers():
    answers = {ex.what_runs_out_first(**c.kwargs) for c in ex.WHAT_RUNS_OUT_FIRST.cases}
    assert answers == {"weights", "kv cache", "compute"}
    assert_passes(ex.check_what_runs_out_first, _limit)  # an independent solution


# Task 4: static_or_paged ----------------------------------------------------------------------


def _layout(cache_gb, kv_bytes_per_token, lengths, max_len, block_size, *, paged_rounds=True,
            static_reserves=True):
    budget = cache_gb * 1e9
    static = sum(max_len if static_reserves else n for n in lengths) * kv_bytes_per_token
    paged = sum(block_size * math.ceil(n / block_size) if paged_rounds else n
                for n in lengths) * kv_bytes_per_token
    return "both" if static <= budget else ("paged" if paged <= budget else "neither")


@pytest.mark.parametrize(
    ("wrong", "hint"),
    [
        (lambda **k: _layout(**k, paged_rounds=False), "whole blocks"),
        (lambda **k: _layout(**k, static_reserves=False), "reserves max_len"),
        (lambda cache_gb, **k: _layout(cache_gb * 2**30 / 1e9, **k), "2**30"),
    ],
)
def test_static_or_paged_wrong_answers(wrong, hint):
    assert_rejected(ex.check_static_or_paged, wrong, hint)


def test_static_or_paged_matches_the_paging_module():
    for case in ex.STATIC_OR_PAGED.cases:
        kw = case.kwargs
        slots = kw["block_size"] * sum(math.ceil(n / kw["block_size"]) for n in kw["lengths"])
        paged_fits = slots * kw["kv_bytes_per_token"] <= kw["cache_gb"] * 1e9
        assert (ex.static_or_paged(**kw) != "neither") == paged_fits


# Task 5: max_context --------------------------------------------------------------------------


def _context(free_gb, kv_bytes_per_token, n_layers, n_window_layers, window, batch, *,
             use_window=True, unit=1e9, rounding=math.floor):
    """By search: the largest S whose cache fits (an independent solution)."""
    per_layer = kv_bytes_per_token / n_layers

    def size(s):
        windowed = n_window_layers * (min(s, window) if use_window else s)
        return batch * per_layer * ((n_layers - n_window_layers) * s + windowed)

    budget = free_gb * unit
    lo, hi = 0, 1
    while size(hi) <= budget:
        hi *= 2
    while hi - lo > 1:
        mid = (lo + hi) // 2
        lo, hi = (mid, hi) if size(mid) <= budget else (lo, mid)
    if rounding is math.floor:
        return lo
    return rounding(lo + (budget - size(lo)) / (size(lo + 1) - size(lo)))


@pytest.mark.parametrize(
    ("wrong", "hint"),
    [
        (lambda **k: _context(**k, use_window=False), "ignored the window"),
        (lambda **k: _context(**k, unit=2**30), "not * 2**30"),
        (lambda batch, **k: _context(**k, batch=1), "among them"),
        (lambda kv_bytes_per_token, n_layers, **k:
         _context(kv_bytes_per_token=kv_bytes_per_token * n_layers, n_layers=n_layers, **k),
         "kv_bytes_per_token / l"),
        (lambda **k: _context(**k, rounding=round), "round()"),
    ],
)
def test_max_context_wrong_answers(wrong, hint):
    assert_rejected(ex.check_max_context, wrong, hint)


def test_max_context_agrees_with_the_library_and_a_search():
    assert_passes(ex.check_max_context, _context)
    gemma2 = models.ModelConfig(
        "gemma-2-9b-like", n_layers=42, d_model=3584, n_heads=16, n_kv_heads=8, head_dim=256,
        d_ff=14336, vocab_size=256000, sliding_window=4096, n_window_layers=21)
    k_b = gemma2.kv_bytes_per_token("bf16")
    assert k_b == 344_064
    for free_gb, batch in [(60, 8), (60, 64), (20, 1), (140, 3)]:
        s = ex.max_context(free_gb, k_b, 42, 21, 4096, batch)
        assert batch * gemma2.kv_cache_bytes(s) <= free_gb * 1e9
        assert batch * gemma2.kv_cache_bytes(s + 1) > free_gb * 1e9
    no_window = replace(gemma2, sliding_window=0, n_window_layers=None)
    assert ex.max_context(60, k_b, 42, 0, 4096, 8) == math.floor(
        60e9 / 8 / no_window.kv_bytes_per_token())


# Precision: every task accepts answers within it and rejects answers outside it -------------


def test_number_task_accepts_answers_within_its_precision():
    task = ex.KV_CACHE_GB
    for factor in (1 + 0.5 * task.rtol, 1 - 0.5 * task.rtol):
        assert_passes(ex.check_kv_cache_gb, lambda f=factor, **k: ex.kv_cache_gb(**k) * f)
    result = ex.check_kv_cache_gb(lambda **k: ex.kv_cache_gb(**k) * (1 + 3 * task.rtol))
    assert not result.passed and "0.1 %" in result.message


@pytest.mark.parametrize("task", [t for t in ex.TASKS if t.kind == "integer"],
                         ids=lambda t: t.name)
def test_integer_tasks_accept_floats_and_reject_off_by_one(task):
    check = getattr(ex, f"check_{task.name}")
    assert_passes(check, lambda **kw: float(task.reference(**kw)))
    result = check(lambda **kw: task.reference(**kw) + 1)
    assert not result.passed and "exact" in result.message


@pytest.mark.parametrize("task", [t for t in ex.TASKS if t.kind == "label"],
                         ids=lambda t: t.name)
def test_label_tasks_ignore_case_and_spaces_but_not_other_labels(task):
    check = getattr(ex, f"check_{task.name}")
    assert_passes(check, lambda **kw: f" {task.reference(**kw).upper()}  ")
    labels = list(task.labels)

    def other(**kw):
        return labels[(labels.index(task.reference(**kw)) + 1) % len(labels)]

    result = check(other)
    assert not result.passed and "expected" in result.message


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
    result = ex.check_example(lambda n_params, dtype: n_params * bytes_per_element(dtype) / 2**30)
    assert not result.passed and "GiB" in (result.hint or "")
    assert dict(_RESULTS.get(ex.EXERCISE, {})) == before
    out = capsys.readouterr().out
    assert "not implemented yet" not in out
    assert max(len(line) for line in out.splitlines()) <= 88


# The references agree with the library -------------------------------------------------------


def test_references_agree_with_the_library():
    for name in ("llama-3-8b", "llama-3-70b", "mistral-7b", "small"):
        m = models.get(name)
        for dtype in ("bf16", "int8", "fp32", "int4"):
            assert ex.kv_cache_gb(m.n_layers, m.n_kv_heads, m.head_dim, dtype, 1000, 3) == \
                pytest.approx(3 * 1000 * m.kv_bytes_per_token(dtype) / 1e9, rel=1e-12)
    # max_batch_that_fits is roofline.max_batch with N = param_count().
    for name, hw, context in [("llama-3-8b", "H100-SXM", 8192), ("llama-3-8b", "A100-40GB", 2048),
                              ("llama-2-13b", "A100-40GB", 2048), ("llama-3-70b", "H200", 4096)]:
        m = models.get(name)
        a = hardware.get(hw)
        ours = ex.max_batch_that_fits(a.hbm_bytes / 1e9, m.param_count(), "bf16",
                                      m.kv_bytes_per_token("bf16"), context)
        assert ours == roofline.max_batch(m, a, context)
