"""KV caches: a preallocated static cache and a paged cache with a block allocator.

Symbols: ``L`` layers, ``K`` KV heads, ``h`` head dim, ``b`` bytes per element, ``S`` the
maximum length, ``s`` a block size. One token of one sequence keeps ``k_B = 2 L K h b`` bytes
(``ModelConfig.kv_bytes_per_token``), so ``used_bytes = k_B * tokens`` for both caches.

* :class:`StaticKVCache` reserves ``B * S * k_B`` bytes up front: every sequence pays for the
  longest one it might become.
* :class:`PagedKVCache` keeps a pool of fixed blocks of ``s`` tokens and hands them out as
  sequences grow; a sequence of ``n`` tokens holds ``ceil(n / s)`` blocks, so it wastes fewer
  than ``s`` token slots (the PagedAttention idea, Kwon et al. 2023, arXiv 2309.06180).

Both implement the small protocol the decoder uses: ``reserve(n) -> start`` (make room for ``n``
new tokens in every active sequence and return the first new position), then per layer
``update(layer, k, v, start) -> (keys, values)`` with shapes ``[B, K, start + n, h]``.

:func:`static_waste` and :func:`paged_waste` are the pure-Python arithmetic of the KV-memory
chapter: the fraction of reserved KV memory that holds no token.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence

import torch
from torch import nn

from tokenmath.models import ModelConfig

__all__ = [
    "CacheFullError",
    "OutOfBlocksError",
    "StaticKVCache",
    "PagedKVCache",
    "static_waste",
    "paged_waste",
    "dtype_name",
]

_DTYPE_NAMES = {torch.float32: "fp32", torch.bfloat16: "bf16", torch.float16: "fp16"}


def dtype_name(dtype: torch.dtype) -> str:
    """The tokenmath name (``fp32``, ``bf16``, ``fp16``) of a torch floating dtype."""
    if dtype not in _DTYPE_NAMES:
        raise ValueError(f"dtype must be torch.float32, bfloat16 or float16, got {dtype}")
    return _DTYPE_NAMES[dtype]


class CacheFullError(RuntimeError):
    """A cache has no room for the tokens asked for (its state is unchanged)."""


class OutOfBlocksError(CacheFullError):
    """A paged cache has too few free blocks; ``needed`` and ``free`` say how many."""

    def __init__(self, needed: int, free: int, total: int, seq_id: int | None = None) -> None:
        self.needed, self.free, self.total, self.seq_id = needed, free, total, seq_id
        who = "" if seq_id is None else f" for sequence {seq_id}"
        super().__init__(
            f"out of KV blocks{who}: need {needed} more, {free} free of {total}; "
            "release finished sequences or build the cache with more num_blocks"
        )


def _pos_int(value: object, name: str, minimum: int = 1) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}")
    return value


def _check_config(config: ModelConfig) -> ModelConfig:
    if not isinstance(config, ModelConfig):
        raise ValueError(
            f"config must be a tokenmath.models.ModelConfig, got {type(config).__name__}"
        )
    if config.is_mla:
        raise ValueError(f"{config.name} uses MLA; these caches store per-head K and V only")
    return config


def _check_kv(k: torch.Tensor, v: torch.Tensor, heads: int, head_dim: int) -> int:
    if k.shape != v.shape or k.dim() != 4 or k.shape[1] != heads or k.shape[3] != head_dim:
        raise ValueError(
            f"k and v must both be [batch, {heads}, new_tokens, {head_dim}], "
            f"got {tuple(k.shape)} and {tuple(v.shape)}"
        )
    return k.shape[2]


# ----------------------------------------------------------------------------- static


class _LayerKV(nn.Module):
    def __init__(self, shape: tuple[int, ...], device: str | torch.device, dtype: torch.dtype):
        super().__init__()
        self.register_buffer("k", torch.zeros(shape, device=device, dtype=dtype), persistent=False)
        self.register_buffer("v", torch.zeros(shape, device=device, dtype=dtype), persistent=False)


class StaticKVCache(nn.Module):
    """Per layer ``[B, K, S, h]`` key and value tensors, allocated once (``B * S * k_B`` bytes).

    ``cache.layers[l].k`` and ``.v`` are the buffers of layer ``l``. The cache is an ``nn.Module``
    so that ``torch.compile`` treats them as static state updated in place (as gpt-fast does).
    ``length`` is the number of positions filled, the same for every sequence of the batch.
    """

    def __init__(
        self,
        config: ModelConfig,
        *,
        batch: int,
        max_len: int,
        device: str | torch.device = "cpu",
        dtype: torch.dtype = torch.float32,
    ) -> None:
        super().__init__()
        self.config = _check_config(config)
        self.batch = _pos_int(batch, "batch")
        self.max_len = _pos_int(max_len, "max_len")
        self.dtype_str = dtype_name(dtype)
        shape = (batch, config.n_kv_heads, max_len, config.head_dim)
        self.layers = nn.ModuleList(_LayerKV(shape, device, dtype) for _ in range(config.n_layers))
        self.length = 0

    @property
    def tokens(self) -> int:
        return self.batch * self.length

    @property
    def allocated_bytes(self) -> int:
        """``2 L B K S h b``: the whole preallocation."""
        return sum(b.numel() * b.element_size() for b in self.buffers())

    @property
    def used_bytes(self) -> float:
        """``k_B * B * length``: bytes that hold a token."""
        return self.config.kv_bytes_per_token(self.dtype_str) * self.tokens

    def reset(self) -> None:
        """Forget every token (the memory stays allocated; stale values are never attended)."""
        self.length = 0

    def reserve(self, n_new: int) -> int:
        """Make room for ``n_new`` positions per sequence; return the first new position."""
        n_new = _pos_int(n_new, "n_new")
        if self.length + n_new > self.max_len:
            raise CacheFullError(
                f"static cache full: {self.length} + {n_new} positions exceed max_len={self.max_len}"
            )
        start, self.length = self.length, self.length + n_new
        return start

    def update(
        self, layer: int, k: torch.Tensor, v: torch.Tensor, start: int
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Store ``k, v`` (``[B, K, n, h]``) at ``start..start+n``; return the first
        ``start + n`` positions of this layer (views, no copy)."""
        n = _check_kv(k, v, self.config.n_kv_heads, self.config.head_dim)
        end = start + n
        if k.shape[0] != self.batch or end > self.length:
            raise ValueError(
                f"update of rows {k.shape[0]}, positions {start}..{end} outside the reserved "
                f"{self.batch} x {self.length}"
            )
        kv = self.layers[layer]
        kv.k[:, :, start:end] = k
        kv.v[:, :, start:end] = v
        return kv.k[:, :, :end], kv.v[:, :, :end]

    def write_at(
        self, layer: int, k: torch.Tensor, v: torch.Tensor, input_pos: torch.Tensor
    ) -> None:
        """Store ``k, v`` at the positions held in the device tensor ``input_pos`` (``[n]``).

        No host-side bookkeeping: this is the form a CUDA graph or ``torch.compile`` can capture.
        """
        kv = self.layers[layer]
        # index_copy_ (not k[:, :, pos] = ...) is the form known to work under CUDA-graph
        # capture and torch.compile (Hugging Face's StaticCache uses it for the same reason).
        kv.k.index_copy_(2, input_pos, k)
        kv.v.index_copy_(2, input_pos, v)


# ----------------------------------------------------------------------------- paged


class PagedKVCache:
    """A pool of ``num_blocks`` blocks of ``block_size`` tokens shared by every sequence.

    Pools ``k_pool``, ``v_pool``: ``[L, num_blocks, K, block_size, h]`` (one pool for all layers;
    block ``j`` of layer ``l`` is ``k_pool[l, j]``). Each sequence owns a block table (a list of
    block ids, in order); position ``p`` lives in block ``table[p // s]`` at offset ``p % s``.
    ``append`` allocates from a free list and ``release`` returns blocks to it; a failed
    ``append`` raises :class:`OutOfBlocksError` and changes nothing.
    """

    def __init__(
        self,
        config: ModelConfig,
        *,
        num_blocks: int,
        block_size: int = 16,
        device: str | torch.device = "cpu",
        dtype: torch.dtype = torch.float32,
    ) -> None:
        self.config = _check_config(config)
        self.num_blocks = _pos_int(num_blocks, "num_blocks")
        self.block_size = _pos_int(block_size, "block_size")
        self.dtype_str = dtype_name(dtype)
        shape = (config.n_layers, num_blocks, config.n_kv_heads, block_size, config.head_dim)
        self.k_pool = torch.zeros(shape, device=device, dtype=dtype)
        self.v_pool = torch.zeros(shape, device=device, dtype=dtype)
        # Pop from the end: block 0 is handed out first.
        self._free: list[int] = list(range(num_blocks - 1, -1, -1))
        self._tables: dict[int, list[int]] = {}
        self._lengths: dict[int, int] = {}
        self._next_id = 0
        self.active: list[int] = []  # the sequences the decoder's batch rows refer to

    # -- bookkeeping ------------------------------------------------------------------------

    def add_sequence(self) -> int:
        """Register a new, empty sequence (no block yet) and return its id."""
        seq_id, self._next_id = self._next_id, self._next_id + 1
        self._tables[seq_id] = []
        self._lengths[seq_id] = 0
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

        All or nothing: if the free list is too short, raise :class:`OutOfBlocksError` with the
        counts and leave every table, length and the free list as they were.
        """
        n_tokens = _pos_int(n_tokens, "n_tokens")
        need = self.blocks_needed(seq_id, n_tokens)
        if need > len(self._free):
            raise OutOfBlocksError(need, len(self._free), self.num_blocks, seq_id)
        table = self._tables[seq_id]
        for _ in range(need):
            table.append(self._free.pop())
        start = self._lengths[seq_id]
        self._lengths[seq_id] = start + n_tokens
        return start

    def release(self, seq_id: int) -> None:
        """Return every block of ``seq_id`` to the free list and forget the sequence."""
        self._free.extend(reversed(self._tables.pop(self._seq(seq_id))))
        del self._lengths[seq_id]
        if seq_id in self.active:
            self.active = [s for s in self.active if s != seq_id]

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
        return sum(self._lengths.values())

    @property
    def bytes_per_block(self) -> float:
        """``k_B * s``: one block of every layer, keys and values."""
        return self.config.kv_bytes_per_token(self.dtype_str) * self.block_size

    @property
    def allocated_bytes(self) -> int:
        """The whole pool, ``2 L N_blocks K s h b``."""
        return (
            self.k_pool.numel() * self.k_pool.element_size()
            + self.v_pool.numel() * self.v_pool.element_size()
        )

    @property
    def reserved_bytes(self) -> float:
        """Bytes of the blocks handed out: ``bytes_per_block * num_used_blocks``."""
        return self.bytes_per_block * self.num_used_blocks

    @property
    def used_bytes(self) -> float:
        """``k_B * tokens``: bytes that hold a token."""
        return self.config.kv_bytes_per_token(self.dtype_str) * self.tokens

    # -- tensors ----------------------------------------------------------------------------

    def _slots(
        self, seq_ids: Sequence[int], start: int, n: int
    ) -> tuple[torch.Tensor, torch.Tensor]:
        pos = range(start, start + n)
        s = self.block_size
        blocks = [[self._tables[i][p // s] for p in pos] for i in seq_ids]
        offsets = [[p % s for p in pos] for _ in seq_ids]
        dev = self.k_pool.device
        return torch.tensor(blocks, device=dev), torch.tensor(offsets, device=dev)

    def write(
        self, layer: int, seq_ids: Sequence[int], start: int, k: torch.Tensor, v: torch.Tensor
    ) -> None:
        """Store ``k, v`` (``[len(seq_ids), K, n, h]``) at positions ``start..start+n``,
        which must already be reserved with :meth:`append`."""
        n = _check_kv(k, v, self.config.n_kv_heads, self.config.head_dim)
        for i in seq_ids:
            if start + n > self.length(i):
                raise ValueError(f"positions {start}..{start + n} of sequence {i} are not reserved")
        blocks, offsets = self._slots(seq_ids, start, n)
        # pool[l][blocks, :, offsets] has shape [B, n, K, h]
        self.k_pool[layer][blocks, :, offsets] = k.transpose(1, 2).to(self.k_pool.dtype)
        self.v_pool[layer][blocks, :, offsets] = v.transpose(1, 2).to(self.v_pool.dtype)

    def gather(
        self, layer: int, seq_ids: Sequence[int], length: int
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Keys and values of the first ``length`` positions of each sequence, gathered from
        their blocks: ``[len(seq_ids), K, length, h]`` (a copy)."""
        nb = math.ceil(length / self.block_size)
        table = torch.tensor(
            [self._tables[i][:nb] for i in seq_ids], device=self.k_pool.device
        )  # [B, nb]

        def one(pool: torch.Tensor) -> torch.Tensor:
            x = pool[layer][table]  # [B, nb, K, s, h]
            B, _, K, s, h = x.shape
            return x.permute(0, 2, 1, 3, 4).reshape(B, K, nb * s, h)[:, :, :length]

        return one(self.k_pool), one(self.v_pool)

    # -- the decoder protocol ---------------------------------------------------------------

    def activate(self, seq_ids: Iterable[int]) -> None:
        """Choose which sequences the rows of the decoder's batch are."""
        ids = [self._seq(i) for i in seq_ids]
        self.active = ids

    def reserve(self, n_new: int) -> int:
        """``append(n_new)`` to every active sequence (all or nothing); return the start."""
        if not self.active:
            raise ValueError("no active sequences: call add_sequence() and activate() first")
        lengths = {self._lengths[i] for i in self.active}
        if len(lengths) != 1:
            raise ValueError(
                f"active sequences must have equal lengths for a batch step, got {lengths}"
            )
        n_new = _pos_int(n_new, "n_new")
        need = sum(self.blocks_needed(i, n_new) for i in self.active)
        if need > len(self._free):
            raise OutOfBlocksError(need, len(self._free), self.num_blocks)
        starts = {self.append(i, n_new) for i in self.active}
        return starts.pop()

    def update(
        self, layer: int, k: torch.Tensor, v: torch.Tensor, start: int
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Write ``k, v`` for the active sequences, then gather their first ``start + n`` keys
        and values from the blocks."""
        if k.shape[0] != len(self.active):
            raise ValueError(f"batch of {k.shape[0]} rows but {len(self.active)} active sequences")
        self.write(layer, self.active, start, k, v)
        return self.gather(layer, self.active, start + k.shape[2])


# ----------------------------------------------------------------------------- waste


def _lengths(lengths: Iterable[int]) -> list[int]:
    out = list(lengths)
    if not out:
        raise ValueError("lengths must hold at least one sequence length")
    for n in out:
        _pos_int(n, "each length", minimum=0)
    return out


def static_waste(lengths: Iterable[int], max_len: int) -> float:
    """Fraction of a static cache that holds no token: ``1 - sum(n_i) / (B * S)``.

    Every sequence reserves ``max_len`` (``S``) positions.
    """
    ns = _lengths(lengths)
    max_len = _pos_int(max_len, "max_len")
    if max(ns) > max_len:
        raise ValueError(f"every length must be <= max_len={max_len}, got {max(ns)}")
    return 1.0 - sum(ns) / (len(ns) * max_len)


def paged_waste(lengths: Iterable[int], block_size: int = 16) -> float:
    """Fraction of reserved paged blocks that holds no token: ``1 - sum(n_i) / (s sum(ceil(n_i/s)))``.

    Only the last block of each sequence can be partly empty. ``0.0`` when nothing is reserved.
    """
    ns = _lengths(lengths)
    s = _pos_int(block_size, "block_size")
    reserved = s * sum(math.ceil(n / s) for n in ns)
    return 0.0 if reserved == 0 else 1.0 - sum(ns) / reserved
