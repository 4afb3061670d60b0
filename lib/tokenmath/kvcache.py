"""KV caches as tensors: a preallocated static cache and a paged one.

Symbols: ``L`` layers, ``K`` KV heads, ``h`` head dim, ``b`` bytes per element, ``S`` the
maximum length, ``s`` a block size. One token of one sequence keeps ``k_B = 2 L K h b`` bytes
(``ModelConfig.kv_bytes_per_token``).

Both caches have one module per layer in ``cache.layers``, which the decoder hands to its
attention layers (``Decoder.use_cache``), and one write path per layer::

    keys, values = cache.layers[l].update(input_pos, k, v)

stores ``k, v [B, K, T, h]`` at the positions ``input_pos [T]`` (a device tensor) and returns
this layer's keys and values ``[B, K, >= n, h]``; attention reads the first ``n``.
``cache.grow_to(n)`` makes room for positions ``0..n-1`` of every sequence first.

* :class:`StaticKVCache` reserves ``B S k_B`` bytes up front: every sequence pays for the longest
  one it might become. Its buffers are updated in place with ``index_copy_``, so a CUDA graph or
  ``torch.compile`` captures the writes (as in gpt-fast, https://github.com/pytorch-labs/gpt-fast).
* :class:`PagedKVCache` keeps per layer a pool of blocks of ``s`` tokens, handed out by a
  :class:`tokenmath.paging.BlockAllocator` as sequences grow.
"""

from __future__ import annotations

import math
from collections.abc import Iterable

import torch
from torch import nn

from tokenmath.calibrate import TORCH_DTYPES
from tokenmath.models import ModelConfig
from tokenmath.paging import BlockAllocator, CacheFullError, OutOfBlocksError
from tokenmath.validate import positive_int

__all__ = [
    "CacheFullError",
    "KVCache",
    "OutOfBlocksError",
    "PagedKVCache",
    "StaticKVCache",
    "dtype_name",
]


def dtype_name(dtype: torch.dtype) -> str:
    """The tokenmath name (``fp32``, ``bf16``, ``fp16``) of a torch dtype
    (the inverse of ``tokenmath.calibrate.TORCH_DTYPES``)."""
    for name, value in TORCH_DTYPES.items():
        if value == dtype:
            return name
    raise ValueError(f"dtype must be one of {', '.join(map(str, TORCH_DTYPES.values()))}, got {dtype}")


def _check_config(config: ModelConfig) -> ModelConfig:
    if not isinstance(config, ModelConfig):
        raise ValueError(f"config must be a tokenmath.models.ModelConfig, got {type(config).__name__}")
    if config.is_mla:
        raise ValueError(f"{config.name} uses MLA; these caches store per-head K and V only")
    return config


# ----------------------------------------------------------------------------- static


class KVCache(nn.Module):
    """One layer's static cache: buffers ``k, v [B, K, S, h]``, written in place."""

    def __init__(self, shape: tuple[int, int, int, int], device, dtype: torch.dtype) -> None:
        super().__init__()
        self.register_buffer("k", torch.zeros(shape, device=device, dtype=dtype), persistent=False)
        self.register_buffer("v", torch.zeros(shape, device=device, dtype=dtype), persistent=False)

    def update(self, input_pos: torch.Tensor, k: torch.Tensor, v: torch.Tensor):
        """Store ``k, v [B, K, T, h]`` at positions ``input_pos [T]``; return the buffers."""
        self.k.index_copy_(2, input_pos, k)
        self.v.index_copy_(2, input_pos, v)
        return self.k, self.v


class StaticKVCache(nn.Module):
    """``L`` layers of ``[B, K, S, h]`` keys and values, allocated once: ``B S k_B`` bytes."""

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
        self.batch, self.max_len = positive_int(batch, "batch"), positive_int(max_len, "max_len")
        self.dtype_str = dtype_name(dtype)
        shape = (batch, config.n_kv_heads, max_len, config.head_dim)
        self.layers = nn.ModuleList(KVCache(shape, device, dtype) for _ in range(config.n_layers))

    def grow_to(self, length: int) -> None:
        """Check that positions ``0..length-1`` fit (the memory is already there)."""
        if length > self.max_len:
            raise CacheFullError(
                f"static cache full: {length} positions exceed max_len={self.max_len}"
            )

    @property
    def allocated_bytes(self) -> int:
        """``2 L B K S h b``: the whole preallocation."""
        return sum(b.numel() * b.element_size() for b in self.buffers())


# ----------------------------------------------------------------------------- paged


class PagedLayerCache(nn.Module):
    """One layer's block pools ``k, v [num_blocks, K, s, h]``, read through ``block_table``
    ``[B, n_blocks]`` (the block ids of each batch row, set by :class:`PagedKVCache`)."""

    def __init__(self, shape: tuple[int, int, int, int], device, dtype: torch.dtype) -> None:
        super().__init__()
        self.register_buffer("k", torch.zeros(shape, device=device, dtype=dtype), persistent=False)
        self.register_buffer("v", torch.zeros(shape, device=device, dtype=dtype), persistent=False)
        self.block_table = torch.zeros(0, 0, dtype=torch.long, device=device)

    def update(self, input_pos: torch.Tensor, k: torch.Tensor, v: torch.Tensor):
        """Store ``k, v [B, K, T, h]``: position ``p`` of row ``i`` goes to block
        ``block_table[i, p // s]``, offset ``p % s``. Return the keys and values of every block
        of each row, gathered in order: ``[B, K, n_blocks s, h]`` (a copy)."""
        s = self.k.shape[2]
        blocks = self.block_table[:, input_pos // s]  # [B, T]
        offsets = input_pos % s  # [T]
        self.k[blocks, :, offsets] = k.transpose(1, 2)  # pool[blocks, :, offsets]: [B, T, K, h]
        self.v[blocks, :, offsets] = v.transpose(1, 2)
        return self._gather(self.k), self._gather(self.v)

    def _gather(self, pool: torch.Tensor) -> torch.Tensor:
        x = pool[self.block_table]  # [B, n_blocks, K, s, h]
        B, n, K, s, h = x.shape
        return x.permute(0, 2, 1, 3, 4).reshape(B, K, n * s, h)


class PagedKVCache(nn.Module):
    """Per layer a pool of ``num_blocks`` blocks of ``block_size`` tokens shared by every
    sequence; ``blocks`` (a :class:`~tokenmath.paging.BlockAllocator`) says who owns which.

    ``activate(seq_ids)`` chooses the sequences that are the rows of the decoder's batch;
    ``grow_to(n)`` gives each of them room for ``n`` positions and refreshes the block table
    the layers read.
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
        super().__init__()
        self.config = _check_config(config)
        self.blocks = BlockAllocator(num_blocks, block_size)
        self.dtype_str = dtype_name(dtype)
        shape = (num_blocks, config.n_kv_heads, block_size, config.head_dim)
        self.layers = nn.ModuleList(
            PagedLayerCache(shape, device, dtype) for _ in range(config.n_layers)
        )
        self.active: list[int] = []

    @property
    def batch(self) -> int:
        return len(self.active)

    def activate(self, seq_ids: Iterable[int]) -> None:
        """Make ``seq_ids`` the rows of the decoder's batch, in order."""
        ids = list(seq_ids)
        unknown = sorted(set(ids) - set(self.blocks.sequences))
        if unknown:
            raise KeyError(f"unknown sequence ids {unknown}; live ids: {self.blocks.sequences}")
        self.active = ids

    def grow_to(self, length: int) -> None:
        """Room for positions ``0..length-1`` in every active sequence (all or nothing)."""
        if not self.active:
            raise ValueError("no active sequences: add_sequence() and activate() them first")
        self.blocks.grow_to(self.active, length)
        n = math.ceil(length / self.blocks.block_size)
        rows = [self.blocks.block_table(i)[:n] for i in self.active]
        table = torch.tensor(rows, dtype=torch.long, device=self.layers[0].k.device)
        for layer in self.layers:
            layer.block_table = table

    def release(self, seq_id: int) -> None:
        """Free the blocks of ``seq_id`` (and drop it from the active rows)."""
        self.blocks.release(seq_id)
        self.active = [i for i in self.active if i != seq_id]

    @property
    def bytes_per_block(self) -> float:
        """``k_B s``: one block of every layer, keys and values."""
        return self.config.kv_bytes_per_token(self.dtype_str) * self.blocks.block_size

    @property
    def allocated_bytes(self) -> int:
        """The whole pool, ``2 L N_blocks K s h b``."""
        return sum(b.numel() * b.element_size() for b in self.buffers())

    @property
    def reserved_bytes(self) -> float:
        """Bytes of the blocks handed out: ``k_B s`` per used block."""
        return self.bytes_per_block * self.blocks.num_used_blocks

    @property
    def used_bytes(self) -> float:
        """``k_B sum(n_i)``: bytes that hold a token."""
        return self.config.kv_bytes_per_token(self.dtype_str) * self.blocks.tokens
