"""Checks for ``exercises/04_kv_cache_memory``: the memory side of serving. How many GB a batch
of caches takes, how many sequences fit, what runs out first, which cache layout fits a
workload, and how long a context a sliding window allows.

Symbols: ``L`` layers, ``K`` KV heads, ``h`` head dim, ``b`` bytes per element, ``k_B`` KV bytes per
token (all layers), ``C`` memory in bytes (1 GB = 1e9 bytes), ``N`` parameters, ``b_w`` bytes per
parameter, ``S`` context, ``B`` batch, ``s`` block size, ``n_i`` sequence lengths, ``w`` sliding
window, ``L_w`` windowed layers, ``F`` peak FLOP/s, ``W`` bandwidth in bytes/s.
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
    precision_text,
    report,
    run_example,
    run_task,
)
from tokenmath.checks._grading import score as _score
from tokenmath.dtypes import DTYPES, bytes_per_element

EXERCISE = "04_kv_cache_memory"

GB = 1e9  # bytes; 1 GiB = 2**30 bytes = 1.0737 GB
_GIB = 2**30

#: Labels of ``what_runs_out_first`` and ``static_or_paged``.
WEIGHTS, KV_CACHE, COMPUTE = "weights", "kv cache", "compute"
BOTH, PAGED, NEITHER = "both", "paged", "neither"

_GIB_HINT = (
    "GiB, not GB: 1 GB = 1e9 bytes, 1 GiB = 2**30 bytes = 1.0737 GB. An answer 0.9313 or "
    "1.0737 times the right one is that mix-up."
)
_GIB_MEMORY_HINT = (
    "the memory is given in GB: memory_gb * 1e9 bytes, not * 2**30 (that is GiB, 7.4 % more "
    "memory than the card has)."
)


# Reference solutions -------------------------------------------------------------------------


def kv_cache_gb(
    n_layers: int, n_kv_heads: int, head_dim: int, dtype: str, context: int, batch: int
) -> float:
    """GB (1e9 bytes) of the KV caches of ``B`` sequences of ``S`` tokens: ``2 L K h b S B / 1e9``."""
    return 2.0 * n_layers * n_kv_heads * head_dim * bytes_per_element(dtype) * context * batch / GB


def max_batch_that_fits(
    memory_gb: float, n_params: float, weight_dtype: str, kv_bytes_per_token: float, context: int
) -> int:
    """Largest ``B`` with ``N b_w + B S k_B <= C``: ``floor((C - N b_w) / (S k_B))``, 0 if the
    weights alone do not fit."""
    free = memory_gb * GB - n_params * bytes_per_element(weight_dtype)
    if free < 0:
        return 0
    return math.floor(free / (context * kv_bytes_per_token))


def _compute_over_memory(
    n_params: float, weight_bytes: float, kv_bytes_per_token: float, context: int, batch: int,
    peak_flops: float, bandwidth: float,
) -> float:
    """Compute time over memory time of a decode step of ``B`` sequences at context ``S``."""
    compute = 2 * n_params * batch / peak_flops
    memory = (weight_bytes + batch * context * kv_bytes_per_token) / bandwidth
    return compute / memory


def what_runs_out_first(
    memory_gb: float,
    n_params: float,
    weight_dtype: str,
    kv_bytes_per_token: float,
    context: int,
    peak_flops: float,
    bandwidth: float,
) -> str:
    """Growing the batch of ``S``-token sequences, which limit comes first:

    ``"weights"`` if ``N b_w > C`` (nothing fits); ``"compute"`` if a decode step of the largest
    batch that fits is compute-bound (``2 N B / F >= (N b_w + B S k_B) / W``; the ratio grows
    with ``B``, so it became compute-bound on the way); else ``"kv cache"``.
    """
    weight_bytes = n_params * bytes_per_element(weight_dtype)
    if weight_bytes > memory_gb * GB:
        return WEIGHTS
    b_max = max_batch_that_fits(memory_gb, n_params, weight_dtype, kv_bytes_per_token, context)
    if b_max == 0:
        return KV_CACHE
    ratio = _compute_over_memory(n_params, weight_bytes, kv_bytes_per_token, context, b_max,
                                 peak_flops, bandwidth)
    return COMPUTE if ratio >= 1 else KV_CACHE


def _blocks(n: int, s: int) -> int:
    return -(-n // s)


def static_or_paged(
    cache_gb: float, kv_bytes_per_token: float, lengths: Sequence[int], max_len: int,
    block_size: int,
) -> str:
    """Which cache layout holds every sequence of ``lengths`` in ``cache_gb`` GB at once.

    A static cache reserves ``max_len`` slots per sequence, a paged one ``s ceil(n_i / s)``:
    ``"both"``, ``"paged"`` (only the paged one fits) or ``"neither"``.
    """
    budget = cache_gb * GB
    static = len(lengths) * max_len * kv_bytes_per_token
    paged = block_size * sum(_blocks(n, block_size) for n in lengths) * kv_bytes_per_token
    if static <= budget:
        return BOTH
    return PAGED if paged <= budget else NEITHER


def max_context(
    free_gb: float, kv_bytes_per_token: float, n_layers: int, n_window_layers: int, window: int,
    batch: int,
) -> int:
    """Longest context ``S`` at which ``B`` sequences' caches fit in ``free_gb`` GB, when
    ``L_w`` of the ``L`` layers keep only the last ``w`` tokens (``L_w < L``).

    A sequence keeps ``(k_B / L) ((L - L_w) S + L_w min(S, w))`` bytes.
    """
    per_layer_token = kv_bytes_per_token / n_layers
    entries = free_gb * GB / (batch * per_layer_token)  # (layer, token) entries per sequence
    if n_window_layers == 0 or entries <= n_layers * window:
        return math.floor(entries / n_layers)
    return math.floor((entries - n_window_layers * window) / (n_layers - n_window_layers))


# Random inputs ---------------------------------------------------------------------------------


def _near_whole(x: float, tol: float = 1e-6) -> bool:
    return abs(x - round(x)) <= tol * max(1.0, abs(x))


def _random_kv(rng: random.Random) -> dict[str, object]:
    return {
        "n_layers": rng.randint(1, 128),
        "n_kv_heads": rng.choice([1, 2, 4, 8, 16, 32, 64]),
        "head_dim": rng.choice([64, 80, 96, 128, 256]),
        "dtype": rng.choice([d for d in DTYPES if d != "bf16"] + ["bf16"] * 2),
        "context": rng.choice([1, 128, 1000, 2048, 4096, 8192, 32768, 131072]),
        "batch": rng.choice([1, 1, 2, 8, 32, 64, 256]),
    }


_MEMORIES_GB = [16, 24, 40, 48, 80, 94, 141, 192]
_WEIGHT_DTYPES = ["bf16", "bf16", "fp16", "fp8", "int8", "int4"]


def _random_fit(rng: random.Random) -> dict[str, object]:
    while True:
        kwargs = {
            "memory_gb": rng.choice(_MEMORIES_GB),
            "n_params": log_uniform(rng, 1e8, 1.2e11),
            "weight_dtype": rng.choice(_WEIGHT_DTYPES),
            "kv_bytes_per_token": log_uniform(rng, 1e4, 3e6),
            "context": rng.choice([128, 512, 1000, 2048, 4096, 8192, 32768]),
        }
        free = kwargs["memory_gb"] * GB - kwargs["n_params"] * bytes_per_element(
            kwargs["weight_dtype"])
        if not _near_whole(free / (kwargs["context"] * kwargs["kv_bytes_per_token"])):
            return kwargs


def _random_limit(rng: random.Random) -> dict[str, object]:
    """A setting whose answer does not hinge on a near-tie (weights within 3 % of the memory,
    or a step within 5 % of the ridge at the largest batch)."""
    while True:
        kwargs = {
            "memory_gb": rng.choice(_MEMORIES_GB),
            "n_params": log_uniform(rng, 1e9, 1e11),
            "weight_dtype": rng.choice(_WEIGHT_DTYPES),
            "kv_bytes_per_token": log_uniform(rng, 3e4, 1e6),
            "context": rng.choice([32, 128, 256, 512, 1024, 4096, 16384]),
            "peak_flops": log_uniform(rng, 1e14, 2e15),
            "bandwidth": log_uniform(rng, 1e12, 8e12),
        }
        weight_bytes = kwargs["n_params"] * bytes_per_element(kwargs["weight_dtype"])
        if abs(weight_bytes / (kwargs["memory_gb"] * GB) - 1) < 0.03:
            continue
        fit_args = {k: kwargs[k] for k in ("memory_gb", "n_params", "weight_dtype",
                                           "kv_bytes_per_token", "context")}
        b_max = max_batch_that_fits(**fit_args)
        if weight_bytes < kwargs["memory_gb"] * GB and b_max >= 1:
            ratio = _compute_over_memory(
                kwargs["n_params"], weight_bytes, kwargs["kv_bytes_per_token"],
                kwargs["context"], b_max, kwargs["peak_flops"], kwargs["bandwidth"])
            if abs(ratio - 1) < 0.05:
                continue
        return kwargs


def _random_layout(rng: random.Random) -> dict[str, object]:
    """A workload with the memory drawn around what it needs, away from exact ties."""
    while True:
        block_size = rng.choice([8, 16, 32, 128])
        max_len = block_size * rng.choice([16, 64, 128, 256])
        lengths = [rng.randint(1, max_len) for _ in range(rng.randint(1, 24))]
        kv = rng.choice([32_768, 131_072, 163_840, 327_680, 819_200])
        paged = block_size * sum(_blocks(n, block_size) for n in lengths) * kv
        cache_gb = paged * log_uniform(rng, 0.6, 4.0) / GB
        static = len(lengths) * max_len * kv
        budget = cache_gb * GB
        if min(abs(budget / paged - 1), abs(budget / static - 1)) > 0.01:
            return {"cache_gb": cache_gb, "kv_bytes_per_token": kv, "lengths": lengths,
                    "max_len": max_len, "block_size": block_size}


def _random_context(rng: random.Random) -> dict[str, object]:
    while True:
        n_layers = rng.choice([12, 24, 26, 32, 42, 46, 48, 80])
        n_window = rng.choice([0, n_layers // 2, n_layers // 2, n_layers - n_layers // 6])
        kwargs = {
            "free_gb": log_uniform(rng, 1, 150),
            "kv_bytes_per_token": 2 * n_layers * rng.choice([1, 2, 4, 8, 16])
            * rng.choice([64, 128, 256]) * rng.choice([1, 2]),
            "n_layers": n_layers,
            "n_window_layers": n_window,
            "window": rng.choice([128, 512, 1024, 4096, 8192]),
            "batch": rng.choice([1, 2, 4, 8, 16, 64, 256]),
        }
        entries = kwargs["free_gb"] * GB * n_layers / (kwargs["batch"]
                                                       * kwargs["kv_bytes_per_token"])
        quotients = [entries / n_layers]
        if n_window:
            quotients.append((entries - n_window * kwargs["window"]) / (n_layers - n_window))
        if max_context(**kwargs) >= 1 and not any(_near_whole(q) for q in quotients):
            return kwargs


# Tasks ---------------------------------------------------------------------------------------

_SIG = 1e-3  # "graded to 0.1 %": GiB (7 % off), K or V only (2x) and bits (8x) all fail
_WHOLE = "an exact whole number (7 or 7.0)"

KV_CACHE_GB = Task(
    name="kv_cache_gb",
    reference=kv_cache_gb,
    cases=[
        # Llama-3-8B (32 layers, 8 KV heads of 128) in bf16: 128 KiB per token (scaling book,
        # https://jax-ml.github.io/scaling-book/inference/); 8,192 tokens are exactly 1 GiB,
        # which is 1.0737 GB.
        Case({"n_layers": 32, "n_kv_heads": 8, "head_dim": 128, "dtype": "bf16",
              "context": 8192, "batch": 1}, expected=1.073741824,
             source="scaling book: Llama-3-8B 128 KiB/token, x 8,192 tokens"),
        # LLaMA-2-13B (40 layers, 40 heads of 128, bf16) at 8,192 tokens: "6.7 GB" (scaling
        # book, applied inference chapter).
        Case({"n_layers": 40, "n_kv_heads": 40, "head_dim": 128, "dtype": "bf16",
              "context": 8192, "batch": 1}, expected=6.7108864,
             source="scaling book: LLaMA-2-13B 6.7 GB at 8K"),
        # PaLM 540B's multi-head baseline (118 layers, 48 heads of 256) at batch 512 and context
        # 2,048: "3 TB" (Pope et al., MLSys 2023, arXiv 2211.05102), which is an int8 cache.
        Case({"n_layers": 118, "n_kv_heads": 48, "head_dim": 256, "dtype": "int8",
              "context": 2048, "batch": 512}, expected=3040.836845568,
             source="Pope et al.: PaLM 540B, 3 TB"),
        # Llama-3-70B, int8 cache: 163,840 B per token ("160 kB", scaling book) x 32 x 4,096.
        Case({"n_layers": 80, "n_kv_heads": 8, "head_dim": 128, "dtype": "int8",
              "context": 4096, "batch": 32}, expected=21.47483648,
             source="scaling book: Llama-3-70B int8 160 kB/token"),
    ],
    mistakes=[
        Mistake(lambda n_layers, n_kv_heads, head_dim, dtype, context, batch:
                kv_cache_gb(n_layers, n_kv_heads, head_dim, dtype, context, batch) * GB / _GIB,
                _GIB_HINT),
        Mistake(lambda n_layers, n_kv_heads, head_dim, dtype, context, batch:
                kv_cache_gb(n_layers, n_kv_heads, head_dim, dtype, context, batch) / 2,
                "K or V counted, not both: each layer keeps a key *and* a value vector per KV "
                "head and token (a factor 2)."),
        Mistake(lambda n_layers, n_kv_heads, head_dim, dtype, context, batch:
                kv_cache_gb(n_layers, n_kv_heads, head_dim, dtype, context, batch) * 8,
                "that is gigabits; bf16 is 2 bytes, int8 1 byte (bytes_per_element)."),
        Mistake(lambda n_layers, n_kv_heads, head_dim, dtype, context, batch:
                4.0 * n_layers * n_kv_heads * head_dim * context * batch / GB,
                "you assumed 2 bytes per element: an int8 or fp8 cache takes 1 byte, fp32 4, "
                "int4 half a byte (bytes_per_element(dtype))."),
        Mistake(lambda n_layers, n_kv_heads, head_dim, dtype, context, batch:
                kv_cache_gb(n_layers, n_kv_heads, head_dim, dtype, context, 1),
                "that is one sequence: each of the batch's sequences keeps its own cache."),
        Mistake(lambda n_layers, n_kv_heads, head_dim, dtype, context, batch:
                kv_cache_gb(n_layers, n_kv_heads, head_dim, dtype, context, batch) * GB,
                "that is bytes; return GB, bytes / 1e9."),
        Mistake(lambda n_layers, n_kv_heads, head_dim, dtype, context, batch:
                kv_cache_gb(n_layers, n_kv_heads, head_dim, dtype, context, batch) * 1e3,
                "that is MB; return GB, bytes / 1e9."),
        Mistake(lambda n_layers, n_kv_heads, head_dim, dtype, context, batch:
                kv_cache_gb(1, n_kv_heads, head_dim, dtype, context, batch),
                "every layer keeps its own K and V: multiply by n_layers."),
    ],
    random_cases=_random_kv,
    rtol=_SIG,
)

# Anyscale's capacity example (https://www.anyscale.com/blog/continuous-batching-llm-inference,
# after ray-project's "LLM numbers"): a 13B model on an A100-40GB, 40 GB - 26 GB of weights =
# 14 GB, "about 1 MB" of KV per token -> 14k tokens -> about 7 sequences of 2,048 tokens. With
# OPT-13B's exact 819,200 B/token the same arithmetic fits 8.
_ANYSCALE = {"memory_gb": 40, "n_params": 13e9, "weight_dtype": "fp16",
             "kv_bytes_per_token": 819_200, "context": 2048}


def _fit_with(memory_bytes: float, weight_bytes: float, per_sequence: float,
              rounding: Callable[[float], float] = math.floor, clamp: bool = True) -> float:
    free = memory_bytes - weight_bytes
    if clamp and free < 0:
        return 0
    return rounding(free / per_sequence)


MAX_BATCH_THAT_FITS = Task(
    name="max_batch_that_fits",
    reference=max_batch_that_fits,
    cases=[
        Case(_ANYSCALE, expected=8, source="Anyscale 13B on A100-40GB, exact KV size"),
        Case({**_ANYSCALE, "kv_bytes_per_token": 1e6}, expected=6,
             source="Anyscale's 1 MB/token rounding (14k tokens / 2,048 = 6.8; they say ~7)"),
        # Llama-3-8B (8.03e9 params, 131,072 B/token) on an 80 GB H100 at 8,192 tokens:
        # 63.9 GB free / 1.07 GB = 59.6.
        Case({"memory_gb": 80, "n_params": 8.03e9, "weight_dtype": "bf16",
              "kv_bytes_per_token": 131_072, "context": 8192}, expected=59,
             source="chapter 4, section 2: Llama-3-8B on an H100"),
        # Llama-3-70B in bf16 (141 GB) does not fit an 80 GB card at all.
        Case({"memory_gb": 80, "n_params": 70.6e9, "weight_dtype": "bf16",
              "kv_bytes_per_token": 327_680, "context": 4096}, expected=0,
             source="chapter 4, section 2: Llama-3-70B bf16 weights exceed 80 GB"),
        # The same weights in int8 (70.6 GB) leave 9.4 GB: 7 sequences of 4,096 tokens.
        Case({"memory_gb": 80, "n_params": 70.6e9, "weight_dtype": "int8",
              "kv_bytes_per_token": 327_680, "context": 4096}, expected=7,
             source="chapter 4, section 2: Llama-3-70B int8 on one H100"),
    ],
    mistakes=[
        Mistake(lambda memory_gb, n_params, weight_dtype, kv_bytes_per_token, context:
                _fit_with(memory_gb * GB, 0, context * kv_bytes_per_token),
                "you forgot the weights: they take N * bytes_per_element(weight_dtype) of the "
                "memory first."),
        Mistake(lambda memory_gb, n_params, weight_dtype, kv_bytes_per_token, context:
                _fit_with(memory_gb * _GIB, n_params * bytes_per_element(weight_dtype),
                          context * kv_bytes_per_token),
                _GIB_MEMORY_HINT),
        Mistake(lambda memory_gb, n_params, weight_dtype, kv_bytes_per_token, context:
                _fit_with(memory_gb * GB, n_params * bytes_per_element(weight_dtype),
                          context * kv_bytes_per_token, math.ceil),
                "ceil lets one sequence too many in: the last one would not fit. Round down "
                "(math.floor)."),
        Mistake(lambda memory_gb, n_params, weight_dtype, kv_bytes_per_token, context:
                _fit_with(memory_gb * GB, n_params * bytes_per_element(weight_dtype),
                          context * kv_bytes_per_token, round),
                "round() rounds 6.8 up to 7, and the 7th sequence does not fit. Round down "
                "(math.floor)."),
        Mistake(lambda memory_gb, n_params, weight_dtype, kv_bytes_per_token, context:
                _fit_with(memory_gb * GB, n_params * bytes_per_element(weight_dtype),
                          context * kv_bytes_per_token, lambda x: x),
                "a batch is a whole number of sequences: round down."),
        Mistake(lambda memory_gb, n_params, weight_dtype, kv_bytes_per_token, context:
                _fit_with(memory_gb * GB, n_params * bytes_per_element(weight_dtype),
                          context * kv_bytes_per_token, int, clamp=False),
                "int() truncates toward zero, so when the weights do not fit it can return a "
                "negative batch (or 0 by luck). When the weights alone exceed the memory, "
                "return 0."),
        Mistake(lambda memory_gb, n_params, weight_dtype, kv_bytes_per_token, context:
                _fit_with(memory_gb * GB, n_params * bytes_per_element(weight_dtype),
                          context * kv_bytes_per_token, clamp=False),
                "when the weights alone exceed the memory nothing fits: return 0, not a "
                "negative batch."),
        Mistake(lambda memory_gb, n_params, weight_dtype, kv_bytes_per_token, context:
                _fit_with(memory_gb * GB, n_params, context * kv_bytes_per_token),
                "the weights take N * bytes_per_element(weight_dtype) bytes, not N."),
        Mistake(lambda memory_gb, n_params, weight_dtype, kv_bytes_per_token, context:
                _fit_with(memory_gb * GB, 2 * n_params, context * kv_bytes_per_token),
                "the weights are stored in weight_dtype: 1 byte per parameter for int8 or "
                "fp8, half a byte for int4, not always 2."),
        Mistake(lambda memory_gb, n_params, weight_dtype, kv_bytes_per_token, context:
                _fit_with(memory_gb * GB, n_params * bytes_per_element(weight_dtype),
                          2 * context * kv_bytes_per_token),
                "kv_bytes_per_token already counts K and V (and all layers): don't double it."),
    ],
    random_cases=_random_fit,
    kind="integer",
    precision=_WHOLE,
)


def _limit_with(memory_bytes: float, n_params: float, weight_bytes: float,
                kv_bytes_per_token: float, context: int, peak_flops: float, bandwidth: float,
                kv_read: bool = True, fit_weights: float | None = None) -> str:
    """``what_runs_out_first`` with one step of the reasoning changed (for known mistakes)."""
    if weight_bytes > memory_bytes:
        return WEIGHTS
    held = weight_bytes if fit_weights is None else fit_weights
    b_max = math.floor((memory_bytes - held) / (context * kv_bytes_per_token))
    if b_max == 0:
        return KV_CACHE
    ratio = _compute_over_memory(n_params, weight_bytes,
                                 kv_bytes_per_token if kv_read else 0.0, context, b_max,
                                 peak_flops, bandwidth)
    return COMPUTE if ratio >= 1 else KV_CACHE


# Llama-3-8B on an H100 SXM (80 GB, 989e12 FLOP/s dense bf16, 3.35e12 B/s): the chapter's
# running example.
_H100_8B = {"memory_gb": 80, "n_params": 8.03e9, "weight_dtype": "bf16",
            "kv_bytes_per_token": 131_072, "peak_flops": 989e12, "bandwidth": 3.35e12}

WHAT_RUNS_OUT_FIRST = Task(
    name="what_runs_out_first",
    reference=what_runs_out_first,
    cases=[
        # Short contexts: a step of 3,800 sequences of 128 tokens would be compute-bound long
        # before memory fills (it turns compute-bound near B = 430).
        Case({**_H100_8B, "context": 128}, expected=COMPUTE,
             source="chapter 3-4: Llama-3-8B on an H100"),
        # 8,192 tokens: each sequence's cache read (1.07 GB) outweighs its FLOPs; only 59 fit.
        Case({**_H100_8B, "context": 8192}, expected=KV_CACHE,
             source="chapter 4, section 2: Llama-3-8B on an H100"),
        Case({**_H100_8B, "n_params": 70.6e9, "kv_bytes_per_token": 327_680,
              "context": 1024}, expected=WEIGHTS,
             source="chapter 4, section 2: Llama-3-70B in bf16 does not fit an H100"),
        # int8 weights make it fit; at 256 tokens 111 sequences fit, and a step of all of
        # them is still memory-bound (compute time 0.66 of memory time).
        Case({**_H100_8B, "n_params": 70.6e9, "weight_dtype": "int8",
              "kv_bytes_per_token": 327_680, "context": 256}, expected=KV_CACHE,
             source="chapter 4, section 2: Llama-3-70B int8 on one H100"),
    ],
    mistakes=[
        Mistake(lambda memory_gb, n_params, weight_dtype, kv_bytes_per_token, context,
                peak_flops, bandwidth:
                _limit_with(memory_gb * GB, n_params, n_params * bytes_per_element(weight_dtype),
                            kv_bytes_per_token, context, peak_flops, bandwidth, kv_read=False),
                "a decode step reads every sequence's cache as well as the weights: "
                "B * S * kv_bytes_per_token more bytes, which can keep it memory-bound at "
                "any batch."),
        Mistake(lambda memory_gb, n_params, weight_dtype, kv_bytes_per_token, context,
                peak_flops, bandwidth:
                _limit_with(memory_gb * GB, n_params, n_params * bytes_per_element(weight_dtype),
                            kv_bytes_per_token, context, peak_flops, bandwidth, fit_weights=0.0),
                "the caches share the memory with the weights: only C - N b_w is free for "
                "them."),
        Mistake(lambda memory_gb, n_params, weight_dtype, kv_bytes_per_token, context,
                peak_flops, bandwidth:
                _limit_with(memory_gb * GB, n_params, 2 * n_params, kv_bytes_per_token,
                            context, peak_flops, bandwidth),
                "the weights are stored in weight_dtype: int8 weights take 1 byte per "
                "parameter, int4 half a byte."),
        Mistake(lambda memory_gb, n_params, weight_dtype, kv_bytes_per_token, context,
                peak_flops, bandwidth: KV_CACHE,
                "memory is not always the limit: at short contexts the step turns "
                "compute-bound (2 N B / F above the bytes / W) before memory fills."),
    ],
    random_cases=_random_limit,
    kind="label",
    labels=(WEIGHTS, KV_CACHE, COMPUTE),
    precision='a label, "weights", "kv cache" or "compute" (case and spaces at the ends do '
              'not matter)',
)


def _layout_with(cache_gb: float, kv: float, lengths: Sequence[int], max_len: int,
                 block_size: int, *, unit: float = GB, static_slots: float | None = None,
                 paged_slots: float | None = None) -> str:
    budget = cache_gb * unit
    static = (len(lengths) * max_len if static_slots is None else static_slots) * kv
    paged = (block_size * sum(_blocks(n, block_size) for n in lengths)
             if paged_slots is None else paged_slots) * kv
    if static <= budget:
        return BOTH
    return PAGED if paged <= budget else NEITHER


# OPT-13B's 819,200 B/token (vLLM paper, "800 KB"), a 2,048-token limit and blocks of 16
# (vLLM's default).
_LAYOUT = {"kv_bytes_per_token": 819_200, "max_len": 2048, "block_size": 16}

STATIC_OR_PAGED = Task(
    name="static_or_paged",
    reference=static_or_paged,
    cases=[
        # 10 requests of 300 tokens: static needs 10 x 2,048 slots (16.8 GB), paged 10 x 304
        # (2.5 GB).
        Case({**_LAYOUT, "cache_gb": 8.0, "lengths": [300] * 10}, expected=PAGED,
             source="chapter 4, section 4: static against paged"),
        Case({**_LAYOUT, "cache_gb": 20.0, "lengths": [300] * 10}, expected=BOTH,
             source="chapter 4, section 4: static against paged"),
        # 8 requests of 2,047 tokens: both layouts need 8 x 2,048 slots (13.4 GB).
        Case({**_LAYOUT, "cache_gb": 13.0, "lengths": [2047] * 8}, expected=NEITHER,
             source="chapter 4, section 4: static against paged"),
        # 100 requests of 17 tokens hold 1.39 GB of tokens, but a paged cache rounds each up
        # to 2 blocks, 32 slots: 2.62 GB.
        Case({**_LAYOUT, "cache_gb": 2.0, "lengths": [17] * 100}, expected=NEITHER,
             source="chapter 4, section 4: blocks of 16"),
    ],
    mistakes=[
        Mistake(lambda cache_gb, kv_bytes_per_token, lengths, max_len, block_size:
                _layout_with(cache_gb, kv_bytes_per_token, lengths, max_len, block_size,
                             paged_slots=sum(lengths)),
                "a paged cache hands out whole blocks: each sequence holds ceil(n / s) blocks "
                "of s slots, not just its n tokens."),
        Mistake(lambda cache_gb, kv_bytes_per_token, lengths, max_len, block_size:
                _layout_with(cache_gb, kv_bytes_per_token, lengths, max_len, block_size,
                             static_slots=sum(lengths)),
                "a static cache reserves max_len slots for every sequence, however short it "
                "turns out to be."),
        Mistake(lambda cache_gb, kv_bytes_per_token, lengths, max_len, block_size:
                _layout_with(cache_gb, kv_bytes_per_token, lengths, max_len, block_size,
                             paged_slots=block_size * sum(n // block_size for n in lengths)),
                "floor drops the partly filled last block: a sequence needs ceil(n / s) "
                "blocks."),
        Mistake(lambda cache_gb, kv_bytes_per_token, lengths, max_len, block_size:
                _layout_with(cache_gb, kv_bytes_per_token, lengths, max_len, block_size,
                             unit=_GIB),
                _GIB_MEMORY_HINT.replace("memory_gb", "cache_gb")),
        Mistake(lambda cache_gb, kv_bytes_per_token, lengths, max_len, block_size:
                _layout_with(cache_gb, kv_bytes_per_token, lengths, max_len, block_size,
                             static_slots=max_len),
                "a static cache reserves max_len slots per sequence, for every sequence."),
    ],
    random_cases=_random_layout,
    kind="label",
    labels=(BOTH, PAGED, NEITHER),
    precision='a label, "both", "paged" or "neither"',
)


def _context_with(free_bytes: float, per_layer_token: float, n_layers: int,
                  n_window_layers: int, window: int, batch: int,
                  rounding: Callable[[float], float] = math.floor) -> float:
    entries = free_bytes / (batch * per_layer_token)
    if n_window_layers == 0 or entries <= n_layers * window:
        return rounding(entries / n_layers)
    return rounding((entries - n_window_layers * window) / (n_layers - n_window_layers))


def _context_over_all_layers(free_gb, kv_bytes_per_token, n_layers, n_window_layers, window,
                             batch):
    """Past the window, what is left divided by all L layers instead of the L - L_w full ones."""
    entries = free_gb * GB / (batch * kv_bytes_per_token / n_layers)
    if n_window_layers == 0 or entries <= n_layers * window:
        return math.floor(entries / n_layers)
    return math.floor((entries - n_window_layers * window) / n_layers)


# Gemma-2-9B (Gemma Team 2024, arXiv 2408.00118, table 1): 42 layers, 8 KV heads of 256, every
# other layer a 4,096-token sliding window; 344,064 B/token in bf16.
_GEMMA2_9B = {"kv_bytes_per_token": 344_064, "n_layers": 42, "n_window_layers": 21,
              "window": 4096}

MAX_CONTEXT = Task(
    name="max_context",
    reference=max_context,
    cases=[
        # 60 GB free (80 GB less 18.5 GB of weights, rounded down), batch 8: 915,527 (layer,
        # token) entries per sequence. Without the window 21,798 tokens; with it, the 21
        # windowed layers stop at 4,096 and the rest take (915,527 - 86,016) / 21.
        Case({**_GEMMA2_9B, "free_gb": 60, "batch": 8}, expected=39_500,
             source="Gemma 2 (arXiv 2408.00118) shapes, worked by hand"),
        Case({**_GEMMA2_9B, "n_window_layers": 0, "free_gb": 60, "batch": 8}, expected=21_798,
             source="Gemma 2 shapes without the window, by hand"),
        # Batch 64: 2,724 tokens per sequence, inside the window, where it saves nothing.
        Case({**_GEMMA2_9B, "free_gb": 60, "batch": 64}, expected=2_724,
             source="Gemma 2 shapes, by hand: below the window nothing is saved"),
        # Llama-3-8B, no window, 63.9 GB free, batch 59: 8,263 tokens (section 2's 59 at 8K).
        Case({"kv_bytes_per_token": 131_072, "n_layers": 32, "n_window_layers": 0,
              "window": 0, "free_gb": 63.9, "batch": 59}, expected=8_263,
             source="chapter 4, section 2: Llama-3-8B on an H100"),
    ],
    mistakes=[
        Mistake(lambda free_gb, kv_bytes_per_token, n_layers, n_window_layers, window, batch:
                _context_with(free_gb * GB, kv_bytes_per_token / n_layers, n_layers, 0,
                              window, batch),
                "you ignored the window: a windowed layer keeps only the last w tokens, so "
                "past w its cache stops growing and only the other layers' caches grow."),
        Mistake(_context_over_all_layers,
                "past the window only the L - L_w full layers grow with the context: divide "
                "what is left by L - L_w, not by L."),
        Mistake(lambda free_gb, kv_bytes_per_token, n_layers, n_window_layers, window, batch:
                _context_with(free_gb * _GIB, kv_bytes_per_token / n_layers, n_layers,
                              n_window_layers, window, batch),
                _GIB_MEMORY_HINT.replace("memory_gb", "free_gb")),
        Mistake(lambda free_gb, kv_bytes_per_token, n_layers, n_window_layers, window, batch:
                _context_with(free_gb * GB, kv_bytes_per_token / n_layers, n_layers,
                              n_window_layers, window, 1),
                "the free memory holds the caches of all the batch's sequences: divide it "
                "among them."),
        Mistake(lambda free_gb, kv_bytes_per_token, n_layers, n_window_layers, window, batch:
                _context_with(free_gb * GB, kv_bytes_per_token, n_layers, n_window_layers,
                              window, batch),
                "kv_bytes_per_token counts all layers: one layer keeps kv_bytes_per_token / L "
                "per token."),
        Mistake(lambda free_gb, kv_bytes_per_token, n_layers, n_window_layers, window, batch:
                _context_with(free_gb * GB, kv_bytes_per_token / n_layers, n_layers,
                              n_window_layers, window, batch, rounding=round),
                "round() can round up to a context that no longer fits: round down "
                "(math.floor)."),
        Mistake(lambda free_gb, kv_bytes_per_token, n_layers, n_window_layers, window, batch:
                _context_with(free_gb * GB, kv_bytes_per_token / n_layers, n_layers,
                              n_window_layers, window, batch, rounding=lambda x: x),
                "a context is a whole number of tokens: round down."),
    ],
    random_cases=_random_context,
    kind="integer",
    precision=_WHOLE,
)

# A worked example of a wrong answer for the page (not graded): the GB of a model's weights.
EXAMPLE = Task(
    name="weights_gb",
    reference=lambda n_params, dtype: n_params * bytes_per_element(dtype) / GB,
    cases=[Case({"n_params": 8.03e9, "dtype": "bf16"}, expected=16.06,
                source="Llama-3-8B, 16.06 GB in bf16")],
    mistakes=[
        Mistake(lambda n_params, dtype: n_params * bytes_per_element(dtype) / _GIB, _GIB_HINT),
    ],
    random_cases=lambda rng: {"n_params": log_uniform(rng, 1e8, 1e12),
                              "dtype": rng.choice(list(DTYPES))},
    rtol=_SIG,
)

TASKS = [KV_CACHE_GB, MAX_BATCH_THAT_FITS, WHAT_RUNS_OUT_FIRST, STATIC_OR_PAGED, MAX_CONTEXT]
SOLUTIONS: dict[str, Callable[..., object]] = {t.name: t.reference for t in TASKS}


def check_example(fn: Callable[..., float]) -> CheckResult:
    """Check a worked example, ``weights_gb(n_params, dtype)``; it does not count in the score."""
    return run_example(EXERCISE, EXAMPLE, fn)


def precision(name: str) -> str:
    """How the task ``name`` is graded, in words."""
    return precision_text({t.name: t for t in TASKS}[name])


def check_kv_cache_gb(fn: Callable[..., float] | None = None) -> CheckResult:
    """Check ``kv_cache_gb(n_layers, n_kv_heads, head_dim, dtype, context, batch)``."""
    return report(run_task(EXERCISE, KV_CACHE_GB, fn))


def check_max_batch_that_fits(fn: Callable[..., int] | None = None) -> CheckResult:
    """Check ``max_batch_that_fits(memory_gb, n_params, weight_dtype, kv_bytes_per_token,
    context)``."""
    return report(run_task(EXERCISE, MAX_BATCH_THAT_FITS, fn))


def check_what_runs_out_first(fn: Callable[..., str] | None = None) -> CheckResult:
    """Check ``what_runs_out_first(memory_gb, n_params, weight_dtype, kv_bytes_per_token,
    context, peak_flops, bandwidth)``."""
    return report(run_task(EXERCISE, WHAT_RUNS_OUT_FIRST, fn))


def check_static_or_paged(fn: Callable[..., str] | None = None) -> CheckResult:
    """Check ``static_or_paged(cache_gb, kv_bytes_per_token, lengths, max_len, block_size)``."""
    return report(run_task(EXERCISE, STATIC_OR_PAGED, fn))


def check_max_context(fn: Callable[..., int] | None = None) -> CheckResult:
    """Check ``max_context(free_gb, kv_bytes_per_token, n_layers, n_window_layers, window,
    batch)``."""
    return report(run_task(EXERCISE, MAX_CONTEXT, fn))


def score() -> tuple[int, int]:
    """Print the reader's score for this exercise: tasks passed out of tasks."""
    return _score(EXERCISE, TASKS)
