"""Chapter 11 exercise checks accept the reference and reject plausible wrong answers."""

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
from tokenmath.checks import ex11_beyond_one_chip as ex


def test_half_the_tasks_or_more_ask_for_a_decision():
    decisions = [t for t in ex.TASKS if t.kind in ("label", "integer")]
    assert len(ex.TASKS) >= 4 and 2 * len(decisions) >= len(ex.TASKS)


# ----------------------------------------------------------------------------- all-to-all bytes


def test_all_to_all_bytes_matches_the_library():
    mine = ex.all_to_all_bytes(7168, 8, 58, 2, 2, 8)
    assert mine == pytest.approx(roofline.network_bytes("deepseek-v3", 1, 8, "ep"), rel=1e-12)
    mixed = ex.all_to_all_bytes(7168, 8, 58, 1, 2, 72)  # fp8 dispatch, bf16 combine
    lib = (roofline.network_bytes("deepseek-v3", 1, 72, "ep", activation_dtype="fp8")
           + roofline.network_bytes("deepseek-v3", 1, 72, "ep")) / 2
    assert mixed == pytest.approx(lib, rel=1e-12)


def test_all_to_all_bytes_reproduces_deepseeks_layer_time():
    """120.96 us for 32 tokens per GPU at 50 GB/s (arXiv 2505.09343)."""
    per_token = ex.all_to_all_bytes(7000, 9, 1, 1, 2, 144)
    assert 32 * per_token / 50e9 == pytest.approx(120.96e-6, rel=0.01)


@pytest.mark.parametrize(("index", "hint"),
                         [(0, "combine"), (1, "(n - 1) / n"), (2, "ONE token"), (3, "once")])
def test_all_to_all_bytes_wrong_answers(index, hint):
    assert_rejected(ex.check_all_to_all_bytes, ex.ALL_TO_ALL_BYTES.mistakes[index].fn, hint)


def test_all_to_all_bytes_graded_to_a_tenth_of_a_percent():
    assert_passes(ex.check_all_to_all_bytes, sig_figs(ex.all_to_all_bytes, 4))
    assert_fails(ex.check_all_to_all_bytes, scaled(ex.all_to_all_bytes, 1.003))


# ----------------------------------------------------------------------------- which resource


def test_bound_resource_agrees_with_the_library_on_deepseek():
    """The check's three terms are decode_step's, with all experts read and attention FLOPs
    left out: on 8 H200s at B = 64 both say memory, across racks both say network."""
    kw = dict(weight_dtype="fp8", kv_dtype="bf16", parallelism="ep")
    e = roofline.decode_step("deepseek-v3", "H200", 64, 4096, n_chips=8, **kw)
    assert e.bound == ex.bound_resource(**ex.BOUND_RESOURCE.cases[0].kwargs) == "memory"
    e = roofline.decode_step("deepseek-v3", "B200", 8192, 1024, n_chips=144,
                             link_bandwidth=50e9, **kw)
    assert e.bound == ex.bound_resource(**ex.BOUND_RESOURCE.cases[2].kwargs) == "network"


@pytest.mark.parametrize(("index", "hint"),
                         [(0, "divided by n"), (1, "link_bandwidth"), (2, "KV cache"),
                          (3, "2 FLOPs")])
def test_bound_resource_wrong_answers(index, hint):
    assert_rejected(ex.check_bound_resource, ex.BOUND_RESOURCE.mistakes[index].fn, hint)


def test_bound_resource_rejects_always_memory_and_is_case_insensitive():
    assert_fails(ex.check_bound_resource, lambda **kw: "memory")
    assert_passes(ex.check_bound_resource, lambda **kw: ex.bound_resource(**kw).upper())


# ----------------------------------------------------------------------------- chips needed


def test_chips_needed_matches_the_library_floor():
    """The bandwidth count is the latency floor's: n chips of 8 x H200 give 17.5 ms."""
    floor = roofline.latency_floor("deepseek-v3", "H200", weight_dtype="fp8", n_chips=8)
    weights = floor * 8 * 4.8e12
    assert ex.chips_needed(weights, 141e9, 4.8e12, floor * 1.001) == 8
    assert ex.chips_needed(weights, 141e9, 4.8e12, floor * 0.999) == 9
    b200 = hardware.get("B200")
    assert ex.chips_needed(ex.DS_WEIGHT_BYTES, b200.hbm_bytes, b200.hbm_bandwidth, 1.5e-3) \
        <= 72 < ex.chips_needed(ex.DS_WEIGHT_BYTES, b200.hbm_bytes, b200.hbm_bandwidth, 1e-3)


@pytest.mark.parametrize(("index", "hint"),
                         [(0, "fit"), (1, "fitting is not enough"), (2, "round UP"),
                          (3, "larger")])
def test_chips_needed_wrong_answers(index, hint):
    assert_rejected(ex.check_chips_needed, ex.CHIPS_NEEDED.mistakes[index].fn, hint)


def test_chips_needed_is_a_whole_number():
    assert_passes(ex.check_chips_needed, lambda **kw: float(ex.chips_needed(**kw)))
    assert_fails(ex.check_chips_needed, lambda **kw: ex.chips_needed(**kw) + 0.5)


# ----------------------------------------------------------------------------- capacity or bandwidth


def test_capacity_or_bandwidth_is_the_drain_time_when_all_is_read():
    """Reading all that is stored: bandwidth-limited exactly when t < C / W."""
    for name in ("H100-SXM", "H200", "B200", "MI300X"):
        hw = hardware.get(name)
        drain = hw.hbm_bytes / hw.hbm_bandwidth
        args = (1e12, 1e12, hw.hbm_bytes, hw.hbm_bandwidth)
        assert ex.capacity_or_bandwidth(*args, 0.9 * drain) == "bandwidth"
        assert ex.capacity_or_bandwidth(*args, 1.1 * drain) == "capacity"


@pytest.mark.parametrize(("index", "hint"),
                         [(0, "read_bytes"), (1, "before rounding"), (2, "other way round")])
def test_capacity_or_bandwidth_wrong_answers(index, hint):
    assert_rejected(ex.check_capacity_or_bandwidth,
                    ex.CAPACITY_OR_BANDWIDTH.mistakes[index].fn, hint)


def test_capacity_or_bandwidth_flipped_fails():
    assert_fails(ex.check_capacity_or_bandwidth,
                 flipped(ex.capacity_or_bandwidth, ex.LIMITS))


# ----------------------------------------------------------------------------- pipelining


def test_pipeline_bytes_match_the_library_capacity():
    """One stage of 8 H200s at 32K: the library's largest batch is the micro-batch that fills
    the chips (198 sequences of DeepSeek-V3, fp8 weights, bf16 cache)."""
    m = models.get("deepseek-v3")
    b = roofline.max_batch(m, "H200", 32768, weight_dtype="fp8", kv_dtype="bf16", n_chips=8)
    assert b == 198
    weights, kv = m.param_count() * 1.0, m.kv_cache_bytes(32768, "bf16")
    assert ex.pipeline_bytes_per_chip(weights, kv, b, 8, 1) <= 141e9
    assert ex.pipeline_bytes_per_chip(weights, kv, b + 1, 8, 1) > 141e9
    # more stages free the weights, never the cache: the micro-batch stays below E C / k(S)
    limit = 8 * 141e9 / kv
    for p in (2, 4, 8, 64):
        room = 141e9 - ex.pipeline_bytes_per_chip(weights, kv, 0, 8, p)
        assert math.floor(8 * room / kv) < limit


@pytest.mark.parametrize(("index", "hint"),
                         [(0, "does not shrink"), (1, "share of the layers"), (2, "own layers"),
                          (3, "divide the cache")])
def test_pipeline_bytes_wrong_answers(index, hint):
    assert_rejected(ex.check_pipeline_bytes_per_chip,
                    ex.PIPELINE_BYTES_PER_CHIP.mistakes[index].fn, hint)


def test_pipeline_bytes_graded_to_a_tenth_of_a_percent():
    assert_passes(ex.check_pipeline_bytes_per_chip, sig_figs(ex.pipeline_bytes_per_chip, 4))
    assert_fails(ex.check_pipeline_bytes_per_chip, scaled(ex.pipeline_bytes_per_chip, 1.003))


# ----------------------------------------------------------------------------- page mechanics


def test_worked_example_prints_a_hint_and_leaves_the_score_alone(capsys):
    before = ex.score()
    result = ex.check_example(lambda weight_bytes, n_chips, bandwidth: weight_bytes / bandwidth)
    assert not result.passed and "1/n" in result.hint
    assert ex.score() == before


def test_score_counts_tasks(capsys):
    for t in ex.TASKS:
        getattr(ex, f"check_{t.name}")()
    ex.check_chips_needed(lambda **kw: 1)
    passed, total = ex.score()
    assert (passed, total) == (len(ex.TASKS) - 1, len(ex.TASKS))
    assert f"{passed}/{total} tasks passed" in capsys.readouterr().out
