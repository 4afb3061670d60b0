"""Paged KV memory without tensors: a block allocator and the waste arithmetic.

Symbols: ``s`` the block size (token slots per block), ``n_i`` the length of sequence ``i``,
``S`` the maximum length a static cache reserves per sequence.

* A static cache reserves ``S`` slots per sequence, so ``1 - sum(n_i) / (B S)`` of it holds no
  token (:func:`static_waste`).
* A paged cache hands out blocks of ``s`` slots as sequences grow. Sequence ``i`` holds
  ``ceil(n_i / s)`` blocks, so only its last block can be partly empty and
  ``1 - sum(n_i) / (s sum(ceil(n_i / s)))`` of the reserved slots hold no token
  (:func:`paged_waste`). This is the PagedAttention idea (Kwon et al. 2023, "Efficient Memory
  Management for Large Language Model Serving with PagedAttention", arXiv 2309.06180).

:class:`BlockAllocator` is the bookkeeping of such a cache: a free list and one block table per
sequence. ``tokenmath.kvcache.PagedKVCache`` puts tensors behind it. Standard library only: a
chapter computes these fractions without importing torch.
"""

from __future__ import annotations

import math
from collections.abc import Iterable

from tokenmath.validate import nonneg_int, positive_int

__all__ = [
    "BlockAllocator",
    "CacheFullError",
    "OutOfBlocksError",
    "paged_waste",
    "static_waste",
]


class CacheFullError(RuntimeError):
    """A cache has no room for the tokens asked for (its state is unchanged)."""


class OutOfBlocksError(CacheFullError):
    """A paged cache has too few free blocks; ``needed``, ``free`` and ``total`` say how many."""

    def __init__(self, needed: int, free: int, total: int, seq_id: int | None = None) -> None:
        self.needed, self.free, self.total, self.seq_id = needed, free, total, seq_id
        who = "" if seq_id is None else f" for sequence {seq_id}"
        super().__init__(
            f"out of KV blocks{who}: need {needed} more, {free} free of {total}; "
            "release finished sequences or build the cache with more num_blocks"
        )


class BlockAllocator:
    """``num_blocks`` blocks of ``block_size`` token slots, shared by every sequence.

    Each sequence owns a block table (block ids, in order): position ``p`` lives in block
    ``table[p // s]`` at offset ``p % s``. :meth:`append` takes blocks from the free list and
    :meth:`release` gives them back; a failed ``append`` raises :class:`OutOfBlocksError` and
    changes nothing.
    """

    def __init__(self, num_blocks: int, block_size: int = 16) -> None:
        self.num_blocks = positive_int(num_blocks, "num_blocks")
        self.block_size = positive_int(block_size, "block_size")
        self._free = list(range(num_blocks - 1, -1, -1))  # pop from the end: block 0 first
        self._tables: dict[int, list[int]] = {}
        self._lengths: dict[int, int] = {}
        self._next_id = 0

    def add_sequence(self) -> int:
        """Register a new, empty sequence (no block yet) and return its id."""
        seq_id, self._next_id = self._next_id, self._next_id + 1
        self._tables[seq_id], self._lengths[seq_id] = [], 0
        return seq_id

    def _seq(self, seq_id: int) -> int:
        if seq_id not in self._tables:
            raise KeyError(f"unknown sequence id {seq_id!r}; live ids: {sorted(self._tables)}")
        return seq_id

    def blocks_needed(self, seq_id: int, n_tokens: int) -> int:
        """Extra blocks ``ceil((n + t) / s) - len(table)`` that appending ``t`` tokens needs."""
        total = self._lengths[self._seq(seq_id)] + n_tokens
        return max(0, math.ceil(total / self.block_size) - len(self._tables[seq_id]))

    def append(self, seq_id: int, n_tokens: int = 1) -> int:
        """Reserve ``n_tokens`` positions at the end of ``seq_id``; return the first of them.

        All or nothing: without enough free blocks, raise :class:`OutOfBlocksError`.
        """
        n_tokens = positive_int(n_tokens, "n_tokens")
        need = self.blocks_needed(seq_id, n_tokens)
        if need > len(self._free):
            raise OutOfBlocksError(need, len(self._free), self.num_blocks, seq_id)
        self._tables[seq_id].extend(self._free.pop() for _ in range(need))
        start = self._lengths[seq_id]
        self._lengths[seq_id] = start + n_tokens
        return start

    def grow_to(self, seq_ids: Iterable[int], length: int) -> None:
        """Make every sequence of ``seq_ids`` at least ``length`` positions long (all or
        nothing over the sequences)."""
        ids = [self._seq(i) for i in seq_ids]
        extra = {i: length - self._lengths[i] for i in ids if length > self._lengths[i]}
        need = sum(self.blocks_needed(i, n) for i, n in extra.items())
        if need > len(self._free):
            raise OutOfBlocksError(need, len(self._free), self.num_blocks)
        for i, n in extra.items():
            self.append(i, n)

    def release(self, seq_id: int) -> None:
        """Return every block of ``seq_id`` to the free list and forget the sequence."""
        self._free.extend(reversed(self._tables.pop(self._seq(seq_id))))
        del self._lengths[seq_id]

    def length(self, seq_id: int) -> int:
        return self._lengths[self._seq(seq_id)]

    def block_table(self, seq_id: int) -> list[int]:
        return list(self._tables[self._seq(seq_id)])

    @property
    def sequences(self) -> list[int]:
        return list(self._tables)

    @property
    def free_blocks(self) -> list[int]:
        return list(self._free)

    @property
    def num_free_blocks(self) -> int:
        return len(self._free)

    @property
    def num_used_blocks(self) -> int:
        return self.num_blocks - len(self._free)

    @property
    def tokens(self) -> int:
        """Positions held by all sequences, ``sum(n_i)``."""
        return sum(self._lengths.values())

    @property
    def waste(self) -> float:
        """Fraction of the handed-out slots that hold no token (0 when none is handed out)."""
        slots = self.block_size * self.num_used_blocks
        return 0.0 if slots == 0 else 1.0 - self.tokens / slots


def _lengths(lengths: Iterable[int]) -> list[int]:
    out = list(lengths)
    if not out:
        raise ValueError("lengths must hold at least one sequence length")
    return [nonneg_int(n, "each length") for n in out]


def static_waste(lengths: Iterable[int], max_len: int) -> float:
    """Fraction of a static cache that holds no token: ``1 - sum(n_i) / (B S)``, where every
    one of the ``B`` sequences reserves ``S = max_len`` positions."""
    ns = _lengths(lengths)
    max_len = positive_int(max_len, "max_len")
    if max(ns) > max_len:
        raise ValueError(f"every length must be <= max_len={max_len}, got {max(ns)}")
    return 1.0 - sum(ns) / (len(ns) * max_len)


def paged_waste(lengths: Iterable[int], block_size: int = 16) -> float:
    """Fraction of reserved paged slots that holds no token:
    ``1 - sum(n_i) / (s sum(ceil(n_i / s)))``; ``0.0`` when nothing is reserved."""
    ns = _lengths(lengths)
    s = positive_int(block_size, "block_size")
    reserved = s * sum(math.ceil(n / s) for n in ns)
    return 0.0 if reserved == 0 else 1.0 - sum(ns) / reserved
