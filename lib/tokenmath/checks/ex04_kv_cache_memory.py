"""Checks for ``exercises/04_kv_cache_memory``: KV bytes, the batch that fits, paged blocks.

Symbols: ``L`` layers, ``K`` KV heads, ``h`` head dim, ``b`` bytes per element, ``k_B`` KV bytes per
token, ``C`` memory in bytes, ``N`` parameters, ``b_w`` bytes per parameter, ``S`` context,
``s`` block size, ``n_i`` sequence lengths.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable, Sequence

from tokenmath.checks._grading import (
    Case,
    CheckResult,
    Mistake,
    Task,
    log_uniform,
    report,
    run_task,
)
from tokenmath.checks._grading import score as _score
from tokenmath.dtypes import DTYPES, bytes_per_element

EXERCISE = "04_kv_cache_memory"


# Reference solutions -------------------------------------------------------------------------


def kv_bytes_per_token(n_layers: int, n_kv_heads: int, head_dim: int, dtype: str) -> float:
    """KV-cache bytes one token adds, all layers: ``k_B = 2 L K h b`` (``b`` from ``dtype``)."""
    return 2.0 * n_layers * n_kv_heads * head_dim * bytes_per_element(dtype)


def max_batch_that_fits(
    memory_bytes: float,
    n_params: float,
    bytes_per_param: float,
    kv_bytes_per_token: float,
    context: int,
) -> float:
    """Largest ``B`` with ``N b_w + B S k_B <= C``: ``floor((C - N b_w) / (S k_B))``, 0 if the
    weights alone do not fit."""
    free = memory_bytes - n_params * bytes_per_param
    if free < 0:
        return 0
    return math.floor(free / (context * kv_bytes_per_token))


def blocks_needed(length: int, block_size: int) -> float:
    """Blocks of ``s`` token slots a sequence of ``n`` tokens holds in a paged cache: ``ceil(n/s)``."""
    return -(-length // block_size)


def paged_waste(lengths: Sequence[int], block_size: int) -> float:
    """Fraction of the reserved slots that hold no token:
    ``1 - sum(n_i) / (s * sum(ceil(n_i / s)))``."""
    reserved = block_size * sum(-(-n // block_size) for n in lengths)
    return 1.0 - sum(lengths) / reserved


# Random inputs ---------------------------------------------------------------------------------


def _random_kv(rng: random.Random) -> dict[str, object]:
    return {
        "n_layers": rng.randint(1, 128),
        "n_kv_heads": rng.choice([1, 2, 4, 8, 16, 32, 64]),
        "head_dim": rng.choice([64, 80, 96, 128, 256]),
        "dtype": rng.choice([d for d in DTYPES if d != "bf16"] + ["bf16"] * 2),
    }


def _random_fit(rng: random.Random) -> dict[str, float]:
    return {
        "memory_bytes": rng.choice([16e9, 24e9, 40e9, 48e9, 80e9, 141e9, 192e9]),
        "n_params": log_uniform(rng, 1e8, 1.2e11),
        "bytes_per_param": rng.choice([0.5, 1, 2]),
        "kv_bytes_per_token": log_uniform(rng, 1e4, 3e6),
        "context": rng.choice([128, 512, 1000, 2048, 4096, 8192, 32768]),
    }


def _random_block(rng: random.Random) -> dict[str, int]:
    return {"length": rng.randint(1, 9000), "block_size": rng.choice([4, 8, 16, 32, 128, 256])}


def _random_lengths(rng: random.Random) -> dict[str, object]:
    n = rng.randint(1, 12)
    return {
        "lengths": [rng.randint(1, 4096) for _ in range(n)],
        "block_size": rng.choice([4, 8, 16, 32, 128]),
    }


# Tasks ---------------------------------------------------------------------------------------

KV_BYTES_PER_TOKEN = Task(
    name="kv_bytes_per_token",
    reference=kv_bytes_per_token,
    cases=[
        # Scaling book, inference chapters (https://jax-ml.github.io/scaling-book/inference/):
        # Llama-3-8B 128 KiB/token in bf16; Llama-3-70B int8 160 kB = 163,840 B/token.
        Case({"n_layers": 32, "n_kv_heads": 8, "head_dim": 128, "dtype": "bf16"},
             expected=131_072, rtol=1e-12, source="scaling book: Llama-3-8B 128 KiB"),
        Case({"n_layers": 80, "n_kv_heads": 8, "head_dim": 128, "dtype": "int8"},
             expected=163_840, rtol=1e-12, source="scaling book: Llama-3-70B int8 160 kB"),
        Case({"n_layers": 80, "n_kv_heads": 8, "head_dim": 128, "dtype": "bf16"},
             expected=327_680, rtol=1e-12, source="scaling book: Llama-3-70B 320 KiB"),
        # OPT-13B (40 layers, 40 heads of 128, fp16): "800 KB" per token (Kwon et al., SOSP 2023,
        # arXiv 2309.06180, section 3).
        Case({"n_layers": 40, "n_kv_heads": 40, "head_dim": 128, "dtype": "fp16"},
             expected=819_200, rtol=1e-12, source="vLLM paper: OPT-13B 800 KB"),
    ],
    mistakes=[
        Mistake(lambda n_layers, n_kv_heads, head_dim, dtype:
                n_layers * n_kv_heads * head_dim * bytes_per_element(dtype),
                "K and V counted once: each layer stores a key and a value per KV head (factor 2)."),
        Mistake(lambda n_layers, n_kv_heads, head_dim, dtype:
                2 * n_layers * n_kv_heads * head_dim * bytes_per_element(dtype) / 1024,
                "KiB: return bytes (the scaling book's '128 KiB' is 131,072 bytes)."),
        Mistake(lambda n_layers, n_kv_heads, head_dim, dtype:
                2 * n_layers * n_kv_heads * head_dim * bytes_per_element(dtype) / 1000,
                "kB: return bytes, not bytes / 1000."),
        Mistake(lambda n_layers, n_kv_heads, head_dim, dtype:
                2 * n_layers * n_kv_heads * head_dim * bytes_per_element(dtype) * 8,
                "that is bits; bf16 is 2 bytes, int8 1 byte (tokenmath.dtypes.bytes_per_element)."),
        Mistake(lambda n_layers, n_kv_heads, head_dim, dtype: 4.0 * n_layers * n_kv_heads * head_dim,
                "you ignored the dtype (2 bytes every time): an int8 or fp8 cache takes 1 byte per "
                "element, fp32 4, int4 half a byte."),
    ],
    random_cases=_random_kv,
)

# Anyscale's capacity example (https://www.anyscale.com/blog/continuous-batching-llm-inference,
# after ray-project's "LLM numbers"): a 13B model on an A100-40GB, 40 GB - 26 GB of weights =
# 14 GB, "about 1 MB" of KV per token -> 14k tokens -> about 7 sequences of 2,048 tokens. With
# OPT-13B's exact 819,200 B/token the same arithmetic fits 8.
_ANYSCALE = {"memory_bytes": 40e9, "n_params": 13e9, "bytes_per_param": 2,
             "kv_bytes_per_token": 819_200, "context": 2048}

MAX_BATCH_THAT_FITS = Task(
    name="max_batch_that_fits",
    reference=max_batch_that_fits,
    cases=[
        Case(_ANYSCALE, expected=8, rtol=0, source="Anyscale 13B on A100-40GB, exact KV size"),
        Case({**_ANYSCALE, "kv_bytes_per_token": 1e6}, expected=6, rtol=0,
             source="Anyscale's 1 MB/token rounding (14k tokens / 2,048 = 6.8; they say ~7)"),
        # Llama-3-8B (8.03e9 params, 131,072 B/token) on an 80 GB H100 at 8,192 tokens.
        Case({"memory_bytes": 80e9, "n_params": 8.03e9, "bytes_per_param": 2,
              "kv_bytes_per_token": 131_072, "context": 8192}),
        # Llama-3-70B in bf16 (141 GB) does not fit an 80 GB card at all.
        Case({"memory_bytes": 80e9, "n_params": 70.6e9, "bytes_per_param": 2,
              "kv_bytes_per_token": 327_680, "context": 4096}, expected=0, rtol=0,
             source="Llama-3-70B bf16 weights alone exceed 80 GB"),
    ],
    mistakes=[
        Mistake(lambda memory_bytes, n_params, bytes_per_param, kv_bytes_per_token, context:
                math.floor(memory_bytes / (context * kv_bytes_per_token)),
                "you forgot the weights: they take N * bytes_per_param of the memory first."),
        Mistake(lambda memory_bytes, n_params, bytes_per_param, kv_bytes_per_token, context:
                math.ceil(max(0.0, memory_bytes - n_params * bytes_per_param)
                          / (context * kv_bytes_per_token)),
                "ceil lets one sequence too many in: the last one would not fit. Round down."),
        Mistake(lambda memory_bytes, n_params, bytes_per_param, kv_bytes_per_token, context:
                round(max(0.0, memory_bytes - n_params * bytes_per_param)
                      / (context * kv_bytes_per_token)),
                "rounding to the nearest integer can let one sequence too many in. Round down."),
        Mistake(lambda memory_bytes, n_params, bytes_per_param, kv_bytes_per_token, context:
                (memory_bytes - n_params * bytes_per_param) / (context * kv_bytes_per_token),
                "a batch is a whole number of sequences: round down."),
        Mistake(lambda memory_bytes, n_params, bytes_per_param, kv_bytes_per_token, context:
                math.floor((memory_bytes - n_params * bytes_per_param)
                           / (context * kv_bytes_per_token)),
                "when the weights alone exceed the memory nothing fits: return 0, not a negative "
                "batch."),
        Mistake(lambda memory_bytes, n_params, bytes_per_param, kv_bytes_per_token, context:
                max(0, math.floor((memory_bytes - n_params) / (context * kv_bytes_per_token))),
                "the weights take N * bytes_per_param bytes, not N."),
        Mistake(lambda memory_bytes, n_params, bytes_per_param, kv_bytes_per_token, context:
                max(0, math.floor((memory_bytes - n_params * bytes_per_param)
                                  / (context * kv_bytes_per_token / 2))),
                "kv_bytes_per_token already counts K and V (and all layers); don't halve it."),
    ],
    random_cases=_random_fit,
)

BLOCKS_NEEDED = Task(
    name="blocks_needed",
    reference=blocks_needed,
    cases=[
        # vLLM's default block holds 16 tokens (vLLM engine arguments, --block-size 16); a
        # 2,048-token request fills 128 blocks, a 2,049-token one needs a 129th.
        Case({"length": 2048, "block_size": 16}, expected=128, rtol=0,
             source="vLLM default block size 16"),
        Case({"length": 2049, "block_size": 16}, expected=129, rtol=0,
             source="vLLM default block size 16"),
        Case({"length": 7, "block_size": 4}, expected=2, rtol=0, source="by hand"),
    ],
    mistakes=[
        Mistake(lambda length, block_size: length // block_size,
                "floor drops the partly filled last block: a sequence needs ceil(n / s) blocks."),
        Mistake(lambda length, block_size: length // block_size + 1,
                "floor + 1 takes an extra, empty block when n is a multiple of s: use ceil(n / s)."),
        Mistake(lambda length, block_size: length / block_size,
                "blocks come whole: round n / s up to an integer."),
    ],
    random_cases=_random_block,
)

PAGED_WASTE = Task(
    name="paged_waste",
    reference=paged_waste,
    cases=[
        # By hand: 7 tokens in blocks of 4 use 2 blocks (8 slots), 1 empty: 1/8 wasted.
        Case({"lengths": [7], "block_size": 4}, expected=0.125, rtol=1e-12, source="by hand"),
        # 100 and 40 tokens, blocks of 16: 7 + 3 blocks = 160 slots for 140 tokens.
        Case({"lengths": [100, 40], "block_size": 16}, expected=20 / 160, rtol=1e-12,
             source="by hand"),
        Case({"lengths": [32, 64, 16], "block_size": 16}, expected=0.0, rtol=0,
             source="by hand: every block full"),
    ],
    mistakes=[
        Mistake(lambda lengths, block_size:
                (block_size * sum(-(-n // block_size) for n in lengths) - sum(lengths))
                / sum(lengths),
                "divide the empty slots by the slots reserved, not by the tokens stored."),
        Mistake(lambda lengths, block_size: 100 * paged_waste(lengths, block_size),
                "return a fraction between 0 and 1, not a percentage."),
        Mistake(lambda lengths, block_size:
                block_size * sum(-(-n // block_size) for n in lengths) - sum(lengths),
                "that is the number of empty slots; return it as a fraction of the reserved slots."),
        Mistake(lambda lengths, block_size:
                1 - sum(lengths) / (block_size * sum(n // block_size + 1 for n in lengths)),
                "floor + 1 blocks reserves an extra block when a length is a multiple of the block "
                "size: use ceil(n / s)."),
        Mistake(lambda lengths, block_size:
                sum(lengths) / (block_size * sum(-(-n // block_size) for n in lengths)),
                "that is the used fraction; the waste is 1 minus it."),
    ],
    random_cases=_random_lengths,
)

TASKS = [KV_BYTES_PER_TOKEN, MAX_BATCH_THAT_FITS, BLOCKS_NEEDED, PAGED_WASTE]
SOLUTIONS: dict[str, Callable[..., float]] = {t.name: t.reference for t in TASKS}


def check_kv_bytes_per_token(fn: Callable[..., float] | None = None) -> CheckResult:
    """Check ``kv_bytes_per_token(n_layers, n_kv_heads, head_dim, dtype)``."""
    return report(run_task(EXERCISE, KV_BYTES_PER_TOKEN, fn))


def check_max_batch_that_fits(fn: Callable[..., float] | None = None) -> CheckResult:
    """Check ``max_batch_that_fits(memory_bytes, n_params, bytes_per_param,
    kv_bytes_per_token, context)``."""
    return report(run_task(EXERCISE, MAX_BATCH_THAT_FITS, fn))


def check_blocks_needed(fn: Callable[..., float] | None = None) -> CheckResult:
    """Check ``blocks_needed(length, block_size)``."""
    return report(run_task(EXERCISE, BLOCKS_NEEDED, fn))


def check_paged_waste(fn: Callable[..., float] | None = None) -> CheckResult:
    """Check ``paged_waste(lengths, block_size)``."""
    return report(run_task(EXERCISE, PAGED_WASTE, fn))


def score() -> tuple[int, int]:
    """Print the reader's score for this exercise: tasks passed out of tasks."""
    return _score(EXERCISE, TASKS)
