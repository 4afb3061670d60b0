"""tokenmath.kvcache and tokenmath.paging: byte accounting, the one write path, a leak-free block
allocator, and the waste arithmetic."""

from __future__ import annotations

import math
import random

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from tokenmath import models
from tokenmath.kvcache import CacheFullError, PagedKVCache, StaticKVCache, dtype_name
from tokenmath.paging import BlockAllocator, OutOfBlocksError, paged_waste, static_waste

TINY = models.get("tiny")
K, h = TINY.n_kv_heads, TINY.head_dim


def test_static_bytes():
    c = StaticKVCache(TINY, batch=3, max_len=40)
    assert c.allocated_bytes == 2 * TINY.n_layers * 3 * K * 40 * h * 4
    bf = StaticKVCache(TINY, batch=2, max_len=8, dtype=torch.bfloat16)
    assert bf.allocated_bytes == TINY.kv_bytes_per_token("bf16") * 2 * 8
    c.grow_to(40)
    with pytest.raises(CacheFullError, match="41 positions exceed max_len=40"):
        c.grow_to(41)


def test_static_update_writes_at_the_positions_and_returns_the_buffers():
    c = StaticKVCache(TINY, batch=2, max_len=8)
    k, v = torch.randn(2, K, 3, h), torch.randn(2, K, 3, h)
    keys, values = c.layers[1].update(torch.tensor([2, 3, 4]), k, v)
    assert keys.shape == (2, K, 8, h) and keys.data_ptr() == c.layers[1].k.data_ptr()
    assert torch.equal(keys[:, :, 2:5], k) and torch.equal(values[:, :, 2:5], v)
    assert torch.count_nonzero(keys[:, :, :2]) == 0 and torch.count_nonzero(keys[:, :, 5:]) == 0
    assert torch.count_nonzero(c.layers[0].k) == 0  # other layers untouched


def test_paged_write_and_gather_round_trip():
    torch.manual_seed(0)
    c = PagedKVCache(TINY, num_blocks=16, block_size=4)
    seqs = [c.blocks.add_sequence() for _ in range(3)]
    c.activate(seqs)
    ref_k, ref_v = torch.zeros(3, K, 0, h), torch.zeros(3, K, 0, h)
    for n in [5, 1, 7, 2]:  # the sequences grow in turn: their blocks interleave
        start = ref_k.shape[2]
        c.grow_to(start + n)
        k, v = torch.randn(3, K, n, h), torch.randn(3, K, n, h)
        keys, values = c.layers[1].update(torch.arange(start, start + n), k, v)
        ref_k, ref_v = torch.cat([ref_k, k], 2), torch.cat([ref_v, v], 2)
        length = start + n
        assert keys.shape[2] == 4 * math.ceil(length / 4)
        assert torch.equal(keys[:, :, :length], ref_k) and torch.equal(values[:, :, :length], ref_v)
    assert torch.count_nonzero(c.layers[0].k) == 0  # layer 0 untouched
    assert c.blocks.block_table(seqs[0]) == [0, 1, 6, 7]
    assert c.used_bytes == TINY.kv_bytes_per_token("fp32") * 3 * 15
    assert c.reserved_bytes == c.bytes_per_block * 12
    assert c.allocated_bytes == c.bytes_per_block * 16


def test_paged_grow_to_is_all_or_nothing():
    c = PagedKVCache(TINY, num_blocks=3, block_size=4)
    c.activate([c.blocks.add_sequence(), c.blocks.add_sequence()])
    c.grow_to(4)  # one block each
    with pytest.raises(OutOfBlocksError, match="need 2 more, 1 free of 3"):
        c.grow_to(5)
    assert [c.blocks.length(i) for i in c.active] == [4, 4] and c.blocks.num_free_blocks == 1
    c.release(0)
    assert c.active == [1] and c.blocks.num_free_blocks == 2


# ----------------------------------------------------------------------------- the allocator


def _snapshot(a: BlockAllocator):
    return ({s: a.block_table(s) for s in a.sequences}, {s: a.length(s) for s in a.sequences},
            a.free_blocks)


def _check_invariants(a: BlockAllocator):
    used = [b for s in a.sequences for b in a.block_table(s)]
    assert len(used) == len(set(used)), "a block is owned twice"
    assert sorted(used + a.free_blocks) == list(range(a.num_blocks)), "a block leaked"
    assert a.num_free_blocks + a.num_used_blocks == a.num_blocks
    for s in a.sequences:
        assert len(a.block_table(s)) == math.ceil(a.length(s) / a.block_size)
    slots = a.block_size * a.num_used_blocks
    assert a.waste == (0.0 if slots == 0 else pytest.approx(1 - a.tokens / slots))


def _workload(a: BlockAllocator, ops, rng_seed: int) -> None:
    rng = random.Random(rng_seed)
    for op, n in ops:
        live = a.sequences
        if op == 0 or not live:
            a.add_sequence()
        elif op == 1:
            seq = rng.choice(live)
            before = _snapshot(a)
            need = a.blocks_needed(seq, n)
            try:
                start = a.append(seq, n)
            except OutOfBlocksError as e:
                assert need > a.num_free_blocks
                assert (e.needed, e.free, e.total) == (need, a.num_free_blocks, a.num_blocks)
                assert _snapshot(a) == before, "a failed append changed the allocator"
            else:
                assert start == before[1][seq] and a.length(seq) == start + n
        else:
            a.release(rng.choice(live))
        _check_invariants(a)


def test_random_workload_never_leaks_or_overlaps():
    for seed in range(5):
        a = BlockAllocator(num_blocks=20, block_size=4)
        rng = random.Random(seed)
        _workload(a, [(rng.choice([0, 1, 1, 1, 2]), rng.randint(1, 12)) for _ in range(300)], seed)
        for s in a.sequences:
            a.release(s)
        assert a.num_free_blocks == 20 and a.tokens == 0


@settings(max_examples=60, deadline=None)
@given(
    ops=st.lists(st.tuples(st.integers(0, 2), st.integers(1, 30)), max_size=80),
    block_size=st.sampled_from([1, 3, 16]),
    num_blocks=st.integers(1, 12),
)
def test_allocator_properties(ops, block_size, num_blocks):
    _workload(BlockAllocator(num_blocks, block_size), ops, 0)


def test_out_of_blocks_error_is_clear_and_atomic():
    a = BlockAllocator(num_blocks=4, block_size=4)
    x, y = a.add_sequence(), a.add_sequence()
    assert a.append(x, 9) == 0  # 3 blocks
    before = _snapshot(a)
    with pytest.raises(OutOfBlocksError, match=r"for sequence 1: need 2 more, 1 free of 4"):
        a.append(y, 5)
    assert _snapshot(a) == before
    a.grow_to([x, y], 4)  # x is longer already; y takes the last block
    assert (a.length(x), a.length(y), a.num_free_blocks) == (9, 4, 0)


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
    # the allocator holding these lengths wastes exactly paged_waste
    a = BlockAllocator(num_blocks=sum(math.ceil(n / 16) for n in lengths), block_size=16)
    for n in lengths:
        a.append(a.add_sequence(), n)
    assert a.num_free_blocks == 0 and a.waste == pytest.approx(paged_waste(lengths, 16))
    for bad in [([], 16), ([-1], 16), ([3], 0), ([3.5], 16)]:
        with pytest.raises(ValueError):
            paged_waste(*bad)
    with pytest.raises(ValueError, match="max_len"):
        static_waste([50], 40)


def test_bad_construction():
    with pytest.raises(ValueError, match="MLA"):
        StaticKVCache(models.get("deepseek-v3"), batch=1, max_len=1)
    with pytest.raises(ValueError, match="batch"):
        StaticKVCache(TINY, batch=0, max_len=4)
    with pytest.raises(ValueError, match="num_blocks"):
        PagedKVCache(TINY, num_blocks=0)
    with pytest.raises(ValueError, match="dtype"):
        StaticKVCache(TINY, batch=1, max_len=4, dtype=torch.int8)
    assert [dtype_name(d) for d in (torch.float32, torch.bfloat16, torch.float16)] == [
        "fp32", "bf16", "fp16"
    ]
    c = PagedKVCache(TINY, num_blocks=2)
    with pytest.raises(KeyError):
        c.blocks.release(7)
    with pytest.raises(ValueError, match="no active"):
        c.grow_to(1)
