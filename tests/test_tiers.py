"""tokenmath.tiers: drain times, the cost of holding bytes in a tier, the cheapest tier for a
hold time, the break-even hold, reloading a prefix against recomputing it, KV tokens in SRAM."""

from __future__ import annotations

import math

import pytest
from tokenmath import models, roofline, tiers


def test_catalog_entries_have_sources_and_positive_numbers():
    assert len(tiers.CATALOG) >= 6
    for t in tiers.CATALOG.values():
        assert t.source.startswith("http"), t.name
        assert t.capacity_bytes > 0 and t.bandwidth > 0
        assert t.kind in tiers.KINDS
    for name in tiers.CACHE_TIERS:
        assert tiers.get(name).price_per_hour is not None


def test_drain_times_of_the_catalog():
    assert tiers.get("HBM-H200").drain_s == pytest.approx(141e9 / 4.8e12)
    assert tiers.get("HBM-H100").drain_s == pytest.approx(80e9 / 3.35e12)
    assert tiers.get("DRAM-PCIe5").drain_s == pytest.approx(4.0)  # 256 GB over 64 GB/s
    assert tiers.get("NVMe").drain_s == pytest.approx(600.0)  # 3.84 TB at 6.4 GB/s
    assert tiers.get("HDD").drain_s / 3600 == pytest.approx(19.5, rel=0.01)
    assert tiers.get("SRAM-Groq").drain_s < 1e-5
    # each cache tier drains orders of magnitude slower than the one above it
    drains = [tiers.get(n).drain_s for n in tiers.CACHE_TIERS]
    assert all(b > 50 * a for a, b in zip(drains, drains[1:]))


def test_drain_time_and_transfer_time():
    assert tiers.drain_time(288e9, 20e12) == pytest.approx(14.4e-3)  # the lecture's Rubin
    assert tiers.transfer_time(0, 1e9) == 0.0
    assert tiers.transfer_time(4e9, 64e9) == pytest.approx(62.5e-3)


def test_prices_are_the_cited_list_prices():
    dram = tiers.get("DRAM-PCIe5")
    assert dram.price_per_hour == pytest.approx(0.004237 * 256e9 / 2**30)
    nvme = tiers.get("NVMe")
    assert nvme.price_per_hour * 730 / (3.84e12 / 2**30) == pytest.approx(0.08)
    assert tiers.get("HBM-H100").price_per_byte_s == pytest.approx(2.0 / 3600 / 80e9)
    with pytest.raises(ValueError, match="no price_per_hour"):
        _ = tiers.get("HBM-H200").price_per_byte_s


def test_hold_cost_is_flat_then_linear_with_the_kink_at_the_drain_time():
    t = tiers.get("NVMe")
    n = 1e9
    flat = n * t.price_per_hour / 3600 / t.bandwidth
    assert tiers.hold_cost(t, n, 0.0) == pytest.approx(flat)
    assert tiers.hold_cost(t, n, t.drain_s / 2) == pytest.approx(flat)
    assert tiers.hold_cost(t, n, t.drain_s) == pytest.approx(flat)
    assert tiers.hold_cost(t, n, 10 * t.drain_s) == pytest.approx(10 * flat)
    # two reads move the kink to twice the drain time
    assert tiers.hold_cost(t, n, 1.5 * t.drain_s, reads=2) == pytest.approx(2 * flat)
    assert tiers.hold_cost(t, 0, 100) == 0.0


def test_cheapest_tier_follows_the_drain_times():
    assert tiers.cheapest_tier(0.01).name == "HBM-H100"
    assert tiers.cheapest_tier(5).name == "DRAM-PCIe5"
    assert tiers.cheapest_tier(300).name == "NVMe"  # a 5-minute time to live
    assert tiers.cheapest_tier(3600).name == "NVMe"  # a 1-hour time to live
    assert tiers.cheapest_tier(86400).name == "HDD"
    assert tiers.cheapest_tier(1e9, ["HBM-H100"]).name == "HBM-H100"


def test_cheapest_tier_is_the_minimum_cost():
    for hold in (1e-3, 0.3, 2, 40, 900, 2e4, 1e6):
        best = tiers.cheapest_tier(hold)
        costs = {n: tiers.hold_cost(n, 1.0, hold) for n in tiers.CACHE_TIERS}
        assert costs[best.name] == min(costs.values())


def test_break_even_hold():
    t = tiers.get("DRAM-PCIe5")
    n, recompute = 10e9, 0.01
    hold = tiers.break_even_hold_s(t, n, recompute)
    assert hold > t.drain_s
    assert tiers.hold_cost(t, n, hold) == pytest.approx(recompute)
    assert tiers.hold_cost(t, n, 0.9 * hold) < recompute
    # reading 10 GB back from a hard disk at 285 MB/s costs more than a $0.005 recompute
    assert tiers.break_even_hold_s("HDD", n, recompute / 2) == 0.0


def test_prefix_reload_matches_the_formulas():
    r = tiers.prefix_reload("llama-3-8b", "H100-SXM", 32768, 64e9, mfu=0.5)
    kv = 32768 * 131072
    assert r.kv_bytes == kv
    assert r.reload_s == pytest.approx(kv / 64e9)
    pre = roofline.prefill("llama-3-8b", "H100-SXM", 32768, mfu=0.5)
    assert r.recompute_s == pytest.approx(pre.time_s)
    assert r.speedup == pytest.approx(r.recompute_s / r.reload_s)
    assert r.breakeven_bandwidth == pytest.approx(kv / r.recompute_s)
    # without attention FLOPs the break-even bandwidth is k_B F mfu / (2 N)
    m = models.get("llama-3-8b")
    ideal = 131072 * 989e12 * 0.5 / m.flops_per_token(0)
    assert r.breakeven_bandwidth < ideal  # attention FLOPs make the recompute slower
    assert r.breakeven_bandwidth > 0.5 * ideal


def test_prefix_reload_shards_over_chips_and_follows_the_kv_dtype():
    one = tiers.prefix_reload("llama-3-70b", "H100-SXM", 4096, 64e9)
    eight = tiers.prefix_reload("llama-3-70b", "H100-SXM", 4096, 64e9, n_chips=8)
    assert eight.reload_s == pytest.approx(one.reload_s / 8)
    assert eight.recompute_s == pytest.approx(one.recompute_s / 8)
    half = tiers.prefix_reload("llama-3-70b", "H100-SXM", 4096, 64e9, kv_dtype="int8")
    assert half.kv_bytes == pytest.approx(one.kv_bytes / 2)
    assert half.recompute_s == pytest.approx(one.recompute_s)


def test_sram_kv_tokens():
    # Llama-3-8B in bf16 on one 44 GB wafer: about 213 thousand tokens of bf16 KV
    weights = models.get("llama-3-8b").param_count() * 2
    n = tiers.sram_kv_tokens(44e9, weights, 131072)
    assert n == math.floor((44e9 - weights) / 131072)
    assert 210_000 < n < 216_000
    assert tiers.sram_kv_tokens(1e9, 2e9, 100) == 0
    assert tiers.sram_kv_tokens(1000, 0, 10) == 100


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda: tiers.drain_time(0, 1e9), "capacity_bytes"),
        (lambda: tiers.drain_time(1e9, -1), "bandwidth"),
        (lambda: tiers.transfer_time(-1, 1e9), "nbytes"),
        (lambda: tiers.hold_cost("NVMe", 1e9, -1), "hold_s"),
        (lambda: tiers.hold_cost("NVMe", 1e9, 1, reads=0), "reads"),
        (lambda: tiers.hold_cost("HBM-H200", 1e9, 1), "no price_per_hour"),
        (lambda: tiers.cheapest_tier(1, []), "tiers"),
        (lambda: tiers.break_even_hold_s("NVMe", 0, 1), "nbytes"),
        (lambda: tiers.break_even_hold_s("NVMe", 1, 0), "recompute_cost"),
        (lambda: tiers.prefix_reload("llama-3-8b", "H100-SXM", 0, 1e9), "tokens"),
        (lambda: tiers.prefix_reload("llama-3-8b", "H100-SXM", 8, 0), "link_bandwidth"),
        (lambda: tiers.prefix_reload("llama-3-8b", "H100-SXM", 8, 1e9, mfu=2), "mfu"),
        (lambda: tiers.prefix_reload("llama-3-8b", "H100-SXM", 8, 1e9, kv_dtype="x"),
         "kv_dtype"),
        (lambda: tiers.sram_kv_tokens(0, 1, 1), "sram_bytes"),
        (lambda: tiers.sram_kv_tokens(1, 1, 0), "kv_bytes_per_token"),
        (lambda: tiers.Tier("x", 0, 1), "capacity_bytes"),
        (lambda: tiers.Tier("", 1, 1), "name"),
        (lambda: tiers.Tier("x", 1, 1, price_per_hour=-2), "price_per_hour"),
        (lambda: tiers.Tier("x", 1, 1, kind="tape"), "kind"),
        (lambda: tiers.get(3), "tier"),
    ],
)
def test_bad_input_raises_a_value_error_naming_the_parameter(call, match):
    with pytest.raises(ValueError, match=match):
        call()


def test_unknown_tier_name():
    with pytest.raises(KeyError, match="unknown tier"):
        tiers.get("tape")
    assert tiers.get("nvme") is tiers.CATALOG["NVMe"]
