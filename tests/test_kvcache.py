"""tokenmath.kvcache: byte accounting, a leak-free block allocator, and the waste arithmetic."""

from __future__ import annotations

import math
import random

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from tokenmath import models
from tokenmath.kvcache import (
    CacheFullError,
    OutOfBlocksError,
    PagedKVCache,
    StaticKVCache,
    dtype_name,
    paged_waste,
    static_waste,
)

TINY = models.get("tiny")


def test_static_bytes():
    c = StaticKVCache(TINY, batch=3, max_len=40)
    L, K, h = TINY.n_layers, TINY.n_kv_heads, TINY.head_dim
    assert c.allocated_bytes == 2 * L * 3 * K * 40 * h * 4
    assert c.used_bytes == 0
    assert c.reserve(10) == 0 and c.reserve(1) == 10
    assert c.used_bytes == TINY.kv_bytes_per_token("fp32") * 3 * 11
    bf = StaticKVCache(TINY, batch=2, max_len=8, dtype=torch.bfloat16)
    bf.reserve(5)
    assert bf.used_bytes == TINY.kv_bytes_per_token("bf16") * 2 * 5
    assert bf.allocated_bytes == TINY.kv_bytes_per_token("bf16") * 2 * 8


def test_static_full_raises_and_keeps_state():
    c = StaticKVCache(TINY, batch=1, max_len=8)
    c.reserve(6)
    with pytest.raises(CacheFullError, match="max_len=8"):
        c.reserve(3)
    assert c.length == 6
    assert isinstance(CacheFullError("x"), RuntimeError)


def test_static_update_returns_the_prefix():
    c = StaticKVCache(TINY, batch=2, max_len=8)
    k = torch.randn(2, TINY.n_kv_heads, 3, TINY.head_dim)
    v = torch.randn_like(k)
    start = c.reserve(3)
    keys, values = c.update(1, k, v, start)
    assert torch.equal(keys, k) and torch.equal(values, v)
    k2, v2 = (
        torch.randn(2, TINY.n_kv_heads, 1, TINY.head_dim),
        torch.randn(2, TINY.n_kv_heads, 1, TINY.head_dim),
    )
    keys, values = c.update(1, k2, v2, c.reserve(1))
    assert torch.equal(keys, torch.cat([k, k2], dim=2)) and torch.equal(
        values, torch.cat([v, v2], dim=2)
    )
    with pytest.raises(ValueError):
        c.update(1, k, v, 6)  # not reserved


def _snapshot(c: PagedKVCache):
    return (
        {s: c.block_table(s) for s in c.sequences},
        {s: c.length(s) for s in c.sequences},
        c.free_blocks,
    )


def _check_invariants(c: PagedKVCache):
    tables = [c.block_table(s) for s in c.sequences]
    used = [b for t in tables for b in t]
    assert len(used) == len(set(used)), "a block is owned twice"
    assert not set(used) & set(c.free_blocks), "a block is both free and owned"
    assert len(c.free_blocks) == len(set(c.free_blocks))
    assert sorted(used + c.free_blocks) == list(range(c.num_blocks)), "a block leaked"
    assert c.num_free_blocks + c.num_used_blocks == c.num_blocks
    for s in c.sequences:
        assert len(c.block_table(s)) == math.ceil(c.length(s) / c.block_size)
    assert c.used_bytes == TINY.kv_bytes_per_token("fp32") * c.tokens
    assert c.used_bytes <= c.reserved_bytes <= c.allocated_bytes


def _workload(c: PagedKVCache, ops, rng_seed: int) -> None:
    rng = random.Random(rng_seed)
    for op, n in ops:
        live = c.sequences
        if op == 0 or not live:
            c.add_sequence()
        elif op == 1:
            seq = rng.choice(live)
            before = _snapshot(c)
            need = c.blocks_needed(seq, n)
            try:
                start = c.append(seq, n)
            except OutOfBlocksError as e:
                assert need > c.num_free_blocks
                assert (e.needed, e.free, e.total) == (need, c.num_free_blocks, c.num_blocks)
                assert _snapshot(c) == before, "a failed append changed the cache"
            else:
                assert start == before[1][seq]
                assert c.length(seq) == start + n
        else:
            c.release(rng.choice(live))
        _check_invariants(c)


def test_random_workload_never_leaks_or_overlaps():
    for seed in range(5):
        c = PagedKVCache(TINY, num_blocks=20, block_size=4)
        rng = random.Random(seed)
        ops = [(rng.choice([0, 1, 1, 1, 2]), rng.randint(1, 12)) for _ in range(300)]
        _workload(c, ops, seed)
        for s in c.sequences:
            c.release(s)
        assert c.num_free_blocks == 20 and c.tokens == 0 and c.used_bytes == 0


@settings(max_examples=60, deadline=None)
@given(
    ops=st.lists(st.tuples(st.integers(0, 2), st.integers(1, 30)), max_size=80),
    block_size=st.sampled_from([1, 3, 16]),
    num_blocks=st.integers(1, 12),
)
def test_allocator_properties(ops, block_size, num_blocks):
    c = PagedKVCache(TINY, num_blocks=num_blocks, block_size=block_size)
    _workload(c, ops, 0)


def test_out_of_blocks_error_is_clear_and_atomic():
    c = PagedKVCache(TINY, num_blocks=4, block_size=4)
    a, b = c.add_sequence(), c.add_sequence()
    c.append(a, 9)  # 3 blocks
    before = _snapshot(c)
    with pytest.raises(OutOfBlocksError, match=r"need 2 more, 1 free of 4") as info:
        c.append(b, 5)
    assert isinstance(info.value, RuntimeError)
    assert _snapshot(c) == before
    c.activate([a, b])
    with pytest.raises(ValueError, match="equal lengths"):
        c.reserve(1)
    c.release(a)
    assert c.num_free_blocks == 4 and c.active == [b]


def test_paged_reserve_is_all_or_nothing():
    c = PagedKVCache(TINY, num_blocks=3, block_size=4)
    ids = [c.add_sequence(), c.add_sequence()]
    c.activate(ids)
    c.reserve(4)  # one block each
    before = _snapshot(c)
    with pytest.raises(OutOfBlocksError):
        c.reserve(1)  # needs two blocks, one is free
    assert _snapshot(c) == before


def test_paged_write_and_gather_round_trip():
    torch.manual_seed(0)
    c = PagedKVCache(TINY, num_blocks=16, block_size=4)
    K, h = TINY.n_kv_heads, TINY.head_dim
    ref = {}
    seqs = [c.add_sequence() for _ in range(3)]
    for step, n in enumerate([5, 1, 7, 2]):
        for s in seqs:
            if step == 1 and s == seqs[1]:
                continue  # lengths differ between sequences
            start = c.append(s, n)
            k, v = torch.randn(1, K, n, h), torch.randn(1, K, n, h)
            c.write(1, [s], start, k, v)
            rk, rv = ref.get(s, (torch.zeros(1, K, 0, h), torch.zeros(1, K, 0, h)))
            ref[s] = (torch.cat([rk, k], 2), torch.cat([rv, v], 2))
    for s in seqs:
        k, v = c.gather(1, [s], c.length(s))
        assert torch.equal(k, ref[s][0]) and torch.equal(v, ref[s][1])
        k0, _ = c.gather(0, [s], c.length(s))
        assert torch.count_nonzero(k0) == 0  # layer 0 untouched
    # the blocks interleave: sequence 0's blocks are not contiguous in the pool
    assert c.block_table(seqs[0]) != list(
        range(c.block_table(seqs[0])[0], c.block_table(seqs[0])[0] + 4)
    )
    assert c.used_bytes == TINY.kv_bytes_per_token("fp32") * (15 + 14 + 15)


def test_waste_helpers():
    assert static_waste([10, 20], 40) == pytest.approx(1 - 30 / 80)
    assert static_waste([40, 40], 40) == 0.0
    assert paged_waste([10, 20], 16) == pytest.approx(1 - 30 / 48)
    assert paged_waste([16, 32], 16) == 0.0
    assert paged_waste([0, 0], 16) == 0.0
    assert paged_waste([1], 1) == 0.0
    rng = random.Random(1)
    lengths = [rng.randint(1, 2048) for _ in range(500)]
    # paged wastes less than one block per sequence; static pays for the longest
    assert paged_waste(lengths, 16) < 16 * len(lengths) / sum(lengths)
    assert paged_waste(lengths, 16) < static_waste(lengths, 2048)
    for bad in [([], 16), ([-1], 16), ([3], 0), ([3.5], 16)]:
        with pytest.raises(ValueError):
            paged_waste(*bad)
    with pytest.raises(ValueError, match="max_len"):
        static_waste([50], 40)


def test_bad_construction():
    with pytest.raises(ValueError, match="MLA"):
        StaticKVCache(models.get("deepseek-v3"), batch=1, max_len=1)
    with pytest.raises(ValueError, match="num_blocks"):
        PagedKVCache(TINY, num_blocks=0)
    with pytest.raises(ValueError, match="batch"):
        StaticKVCache(TINY, batch=0, max_len=4)
    with pytest.raises(ValueError, match="dtype"):
        dtype_name(torch.int8)
    c = PagedKVCache(TINY, num_blocks=2)
    with pytest.raises(KeyError):
        c.release(7)
    with pytest.raises(ValueError, match="no active"):
        c.reserve(1)
