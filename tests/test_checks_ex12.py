"""Chapter 12 exercise checks accept the reference and reject plausible wrong answers."""

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
from tokenmath import models, roofline, tiers
from tokenmath.checks import ex12_memory_hierarchy as ex


def test_server_tiers_are_the_librarys():
    for (_kind, capacity, bandwidth, price), name in zip(ex.SERVER_TIERS, tiers.CACHE_TIERS):
        t = tiers.get(name)
        assert (capacity, bandwidth) == pytest.approx((t.capacity_bytes, t.bandwidth))
        assert price == pytest.approx(t.price_per_hour, rel=1e-3)  # rounded for messages


def test_prefix_numbers_are_the_librarys():
    r = tiers.prefix_reload("llama-3-70b", "H100-SXM", 32768, 64e9, mfu=0.5, n_chips=8)
    assert ex.PREFIX_70B["prefix_bytes"] == r.kv_bytes
    assert ex.PREFIX_70B["recompute_chip_s"] == pytest.approx(8 * r.recompute_s, rel=1e-3)


def test_full_memory_step_is_the_drain_time_and_near_the_library():
    tps = ex.full_memory_throughput(1128e9, 38.4e12, 141.107e9, 8192 * 327680)
    step = 367 / tps
    assert step == pytest.approx(1128e9 / 38.4e12, rel=0.01)  # about the drain time
    b = roofline.max_batch("llama-3-70b", "H200", 8192, n_chips=8)
    lib = roofline.decode_step("llama-3-70b", "H200", b, 8192, n_chips=8)
    assert b == 367
    assert tps == pytest.approx(lib.tokens_per_s, rel=0.005)  # the library skips embeddings


@pytest.mark.parametrize(
    ("wrong", "hint"),
    [
        (ex._fractional, "whole number"),
        (ex._whole_memory_for_kv, "weights live in HBM too"),
        (ex._weights_only, "PLUS B caches"),
    ],
)
def test_full_memory_throughput_wrong_answers(wrong, hint):
    assert_rejected(ex.check_full_memory_throughput, wrong, hint)


def test_full_memory_throughput_graded_to_a_tenth_of_a_percent():
    check = ex.check_full_memory_throughput
    assert_passes(check, sig_figs(ex.full_memory_throughput, 4))
    assert_passes(check, scaled(ex.full_memory_throughput, 1.0008))
    assert_fails(check, scaled(ex.full_memory_throughput, 1.003))


def test_cheapest_tier_on_the_server_matches_the_library():
    for hold in (0.01, 0.1, 1, 5, 20, 300, 3600, 4e4, 86400):
        lib = tiers.cheapest_tier(hold).name
        assert ex.cheapest_tier(hold, ex.SERVER_TIERS) == dict(
            zip(tiers.CACHE_TIERS, ex.TIER_KINDS))[lib]


@pytest.mark.parametrize(
    ("wrong", "hint"),
    [
        (ex._by_capacity_price, "per GB-hour"),
        (ex._fastest, "fastest tier"),
        (ex._by_drain, "rule of thumb"),
        (ex._summed, "not their sum"),
    ],
)
def test_cheapest_tier_wrong_answers(wrong, hint):
    assert_rejected(ex.check_cheapest_tier, wrong, hint)


def test_cheapest_tier_is_case_insensitive_and_rejects_a_tier_that_is_not_offered():
    assert_passes(ex.check_cheapest_tier, lambda **kw: f" {ex.cheapest_tier(**kw).upper()}")
    result = assert_fails(ex.check_cheapest_tier, lambda **kw: "tape")
    assert "return one of" in result.message


def test_hit_or_recompute_matches_the_library():
    n = ex.PREFIX_70B["prefix_bytes"]
    recompute = ex.PREFIX_70B["recompute_chip_s"] * 2.0 / 3600
    for (_kind, capacity, bandwidth, price), name in zip(ex.SERVER_TIERS, tiers.CACHE_TIERS):
        for hold in (1, 300, 3600, 86400):
            lib = "hit" if tiers.hold_cost(name, n, hold) < recompute else "recompute"
            mine = ex.hit_or_recompute(n, ex.PREFIX_70B["recompute_chip_s"], 2.0, hold,
                                       capacity, bandwidth, price)
            assert mine == lib, (name, hold)


@pytest.mark.parametrize(
    ("wrong", "hint"),
    [
        (ex._capacity_only, "not n p T / C"),
        (ex._whole_device, "share n / C"),
        (ex._compare_times, "dollars, not seconds"),
        (flipped(ex.hit_or_recompute, ex.VERDICTS), None),
        (lambda **kw: "hit", None),
    ],
)
def test_hit_or_recompute_wrong_answers(wrong, hint):
    if hint is None:
        assert_fails(ex.check_hit_or_recompute, wrong)
    else:
        assert_rejected(ex.check_hit_or_recompute, wrong, hint)


def test_sram_kv_tokens_matches_the_library():
    for case in (dict(sram_bytes_per_chip=44e9, n_chips=1, params=8.030261248e9,
                      bytes_per_weight=2, kv_bytes_per_token=131072),
                 dict(sram_bytes_per_chip=230e6, n_chips=400, params=70.553706496e9,
                      bytes_per_weight=1, kv_bytes_per_token=327680)):
        lib = tiers.sram_kv_tokens(case["n_chips"] * case["sram_bytes_per_chip"],
                                   case["params"] * case["bytes_per_weight"],
                                   case["kv_bytes_per_token"])
        assert ex.sram_kv_tokens(**case) == lib
    assert models.get("llama-3-8b").param_count() == 8.030261248e9


@pytest.mark.parametrize(
    ("wrong", "hint"),
    [
        (ex._no_weights, "same SRAM"),
        (ex._one_chip, "adds up"),
        (ex._negative, "not a negative"),
        (ex._params_as_bytes, "not bytes"),
    ],
)
def test_sram_kv_tokens_wrong_answers(wrong, hint):
    assert_rejected(ex.check_sram_kv_tokens, wrong, hint)


def test_sram_kv_tokens_is_an_exact_whole_number():
    assert_passes(ex.check_sram_kv_tokens, lambda **kw: float(ex.sram_kv_tokens(**kw)))
    assert_fails(ex.check_sram_kv_tokens, lambda **kw: ex.sram_kv_tokens(**kw) + 1)
    result = assert_fails(ex.check_sram_kv_tokens,
                          lambda **kw: max(0.0, (kw["n_chips"] * kw["sram_bytes_per_chip"]
                                                 - kw["params"] * kw["bytes_per_weight"])
                                           / kw["kv_bytes_per_token"]))
    assert "whole number" in result.message


def test_worked_example_prints_a_hint_and_leaves_the_score_alone(capsys):
    before = ex.score()
    result = ex.check_example(lambda capacity_bytes, bandwidth:
                              bandwidth / capacity_bytes * 1e3)
    assert not result.passed and "upside down" in result.hint
    assert ex.check_example(ex.drain_time_ms).passed
    assert ex.score() == before
    assert math.isclose(ex.drain_time_ms(141e9, 4.8e12), 29.375)


def test_score_counts_tasks(capsys):
    for t in ex.TASKS:
        getattr(ex, f"check_{t.name}")()
    ex.check_cheapest_tier(lambda **kw: "hbm")
    passed, total = ex.score()
    assert (passed, total) == (len(ex.TASKS) - 1, len(ex.TASKS))
    assert f"{passed}/{total} tasks passed" in capsys.readouterr().out
