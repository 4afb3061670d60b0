"""Checks for ``exercises/03_why_kv_cache``: what the KV cache saves, what it costs, and when
recomputing would have been faster.

Symbols: ``N`` parameters multiplied per token (2 N matmul FLOPs per token processed), ``P``
prompt tokens, ``G`` generated tokens, ``T`` tokens already in a sequence, ``L`` layers, ``K`` KV
heads, ``h`` head dim, ``b`` bytes per element, ``b_w`` bytes per parameter, ``k_B`` KV bytes per
token, ``F`` peak FLOP/s, ``W`` memory bandwidth in bytes/s, ``B`` batch. A step's roofline time is
``max(FLOPs / F, bytes / W)``.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable

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

EXERCISE = "03_why_kv_cache"

#: Labels ``cache_or_recompute`` returns.
CACHE, RECOMPUTE = "cache", "recompute"


# Reference solutions -------------------------------------------------------------------------


def flops_without_cache(n_params: float, prompt_len: int, new_tokens: int) -> float:
    """Matmul FLOPs to generate ``G`` tokens after a ``P``-token prompt, recomputing the prefix.

    New token ``i`` (1..G) needs a forward pass over the ``P + i - 1`` tokens before it:
    ``2 N sum_{i=1..G} (P + i - 1) = 2 N (G P + G (G - 1) / 2)``.
    """
    g, p = new_tokens, prompt_len
    return 2.0 * n_params * (g * p + g * (g - 1) / 2)


def kv_cache_bytes(
    n_layers: int, n_kv_heads: int, head_dim: int, bytes_per_element: float, tokens: int
) -> float:
    """Bytes of K and V for ``T`` tokens of one sequence, all layers: ``2 L K h b T``."""
    return 2.0 * n_layers * n_kv_heads * head_dim * bytes_per_element * tokens


def _step_times(
    n_params: float,
    bytes_per_param: float,
    kv_bytes_per_token: float,
    prefix_len: int,
    batch: int,
    peak_flops: float,
    bandwidth: float,
) -> tuple[float, float]:
    """Roofline times (recompute, cached) of the step that produces token ``T + 1``."""
    weights = n_params * bytes_per_param
    recompute = max(2 * n_params * batch * prefix_len / peak_flops, weights / bandwidth)
    cached = max(
        2 * n_params * batch / peak_flops,
        (weights + batch * prefix_len * kv_bytes_per_token) / bandwidth,
    )
    return recompute, cached


def cache_or_recompute(
    n_params: float,
    bytes_per_param: float,
    kv_bytes_per_token: float,
    prefix_len: int,
    batch: int,
    peak_flops: float,
    bandwidth: float,
) -> str:
    """``"recompute"`` if rerunning the ``T``-token prefix of each of ``B`` sequences is a faster
    step than reading their caches, else ``"cache"`` (roofline times).

    Recompute: ``2 N B T`` FLOPs, ``N b_w`` bytes. Cached: ``2 N B`` FLOPs, ``N b_w + B T k_B``
    bytes. Below ``T* = F b_w / (2 B W)`` recomputing is free and skips the cache read.
    """
    recompute, cached = _step_times(
        n_params, bytes_per_param, kv_bytes_per_token, prefix_len, batch, peak_flops, bandwidth
    )
    return RECOMPUTE if recompute < cached else CACHE


def max_free_recompute_batch(
    peak_flops: float, bandwidth: float, bytes_per_param: float, prefix_len: int
) -> int:
    """Largest batch ``B`` at which a no-cache step over ``T`` tokens per sequence is still
    memory-bound: ``2 N B T / F <= N b_w / W``, so ``floor(F b_w / (2 W T))`` (0: not even one)."""
    return math.floor(peak_flops * bytes_per_param / (2.0 * bandwidth * prefix_len))


def _generation_times(
    n_params: float,
    bytes_per_param: float,
    kv_bytes_per_token: float,
    prompt_len: int,
    new_tokens: int,
    peak_flops: float,
    bandwidth: float,
) -> tuple[float, float]:
    """Roofline seconds of a batch-1 generation (without a cache, with one), step by step."""
    weights = n_params * bytes_per_param

    def t(flops: float, nbytes: float) -> float:
        return max(flops / peak_flops, nbytes / bandwidth)

    p, g = prompt_len, new_tokens
    without = sum(t(2 * n_params * (p + i - 1), weights) for i in range(1, g + 1))
    with_cache = t(2 * n_params * p, weights) + sum(
        t(2 * n_params, weights + (p + j - 1) * kv_bytes_per_token) for j in range(1, g)
    )
    return without, with_cache


def generation_time_ratio(
    n_params: float,
    bytes_per_param: float,
    kv_bytes_per_token: float,
    prompt_len: int,
    new_tokens: int,
    peak_flops: float,
    bandwidth: float,
) -> float:
    """Roofline time of generating ``G`` tokens after ``P`` at batch 1 without a cache, over the
    time with one. Each step takes its own ``max(FLOPs / F, bytes / W)``: without a cache step
    ``i`` runs ``P + i - 1`` tokens and reads the weights; with one, a prefill of ``P`` tokens,
    then ``G - 1`` one-token steps that read the weights and every cached token."""
    without, with_cache = _generation_times(
        n_params, bytes_per_param, kv_bytes_per_token, prompt_len, new_tokens, peak_flops,
        bandwidth,
    )
    return without / with_cache


# Random inputs ---------------------------------------------------------------------------------


def _random_generation(rng: random.Random) -> dict[str, float]:
    return {
        "n_params": log_uniform(rng, 1e6, 1e12),
        "prompt_len": rng.randint(1, 8192),
        "new_tokens": rng.randint(2, 4096),
    }


def _random_kv(rng: random.Random) -> dict[str, float]:
    return {
        "n_layers": rng.randint(1, 128),
        "n_kv_heads": rng.choice([1, 2, 4, 8, 16, 32]),
        "head_dim": rng.choice([64, 80, 96, 128, 256]),
        "bytes_per_element": rng.choice([0.5, 1, 2, 4]),
        "tokens": rng.randint(2, 131072),
    }


def _random_hardware(rng: random.Random) -> dict[str, float]:
    return {
        "peak_flops": log_uniform(rng, 5e13, 5e15),
        "bandwidth": log_uniform(rng, 3e11, 8e12),
    }


def _random_model(rng: random.Random) -> dict[str, float]:
    return {
        "n_params": log_uniform(rng, 1e9, 4e11),
        "bytes_per_param": rng.choice([0.5, 1, 2, 2, 4]),
        "kv_bytes_per_token": log_uniform(rng, 3e4, 1e6),
    }


def _clearly_memory_bound(kwargs: dict[str, float]) -> bool:
    """Whether the no-cache step is memory-bound with a 2 % margin."""
    compute = 2 * kwargs["n_params"] * kwargs["batch"] * kwargs["prefix_len"] / kwargs[
        "peak_flops"]
    return compute < 0.98 * kwargs["n_params"] * kwargs["bytes_per_param"] / kwargs["bandwidth"]


def _random_decision(rng: random.Random) -> dict[str, float]:
    """An input on either side of the crossover (half each), not a coin toss: the no-cache
    step is clearly memory-bound (then it wins by the cache read it skips), or the two step
    times are at least 2 % apart."""
    while True:
        model, hardware = _random_model(rng), _random_hardware(rng)
        batch = rng.choice([1, 1, 2, 4, 8, 16, 64, 256])
        t_star = hardware["peak_flops"] * model["bytes_per_param"] / (
            2 * batch * hardware["bandwidth"])
        factor = log_uniform(rng, 0.05, 0.9) if rng.random() < 0.5 else log_uniform(rng, 1.1, 20)
        kwargs = {**model, "prefix_len": max(1, round(t_star * factor)), "batch": batch,
                  **hardware}
        recompute, cached = _step_times(**kwargs)
        if _clearly_memory_bound(kwargs) or abs(recompute - cached) > 0.02 * min(recompute,
                                                                                 cached):
            return kwargs


def _random_free_batch(rng: random.Random) -> dict[str, float]:
    """An input whose exact ``F b_w / (2 W T)`` is not within 1e-6 of a whole number."""
    while True:
        kwargs = {
            **_random_hardware(rng),
            "bytes_per_param": rng.choice([0.5, 1, 2, 4]),
            "prefix_len": int(log_uniform(rng, 1, 1000)),
        }
        x = kwargs["peak_flops"] * kwargs["bytes_per_param"] / (
            2 * kwargs["bandwidth"] * kwargs["prefix_len"]
        )
        if abs(x - round(x)) > 1e-6 * max(1.0, x):
            return kwargs


def _random_time_ratio(rng: random.Random) -> dict[str, float]:
    return {
        **_random_model(rng),
        "prompt_len": rng.randint(1, 4096),
        "new_tokens": rng.randint(2, 1024),
        **_random_hardware(rng),
    }


# Tasks ---------------------------------------------------------------------------------------

# Worked example of the chapter: an 8B-parameter model, a 1,000-token prompt, 1,000 new tokens.
# By hand: without a cache 2 * 8e9 * (1000 * 1000 + 1000 * 999 / 2) = 2.3992e16 FLOPs (the
# 2N-FLOPs-per-token rule: Kaplan et al. 2020, arXiv 2001.08361; kipply,
# https://kipp.ly/transformer-inference-arithmetic/).
_WORKED = {"n_params": 8e9, "prompt_len": 1000, "new_tokens": 1000}

_EXACT = 1e-6  # counts: exact, up to the order of float operations

FLOPS_WITHOUT_CACHE = Task(
    name="flops_without_cache",
    reference=flops_without_cache,
    cases=[
        Case(_WORKED, expected=2.3992e16, rtol=_EXACT, source="2N rule, worked by hand"),
        # One new token: a plain forward pass over the prompt, 2 N P.
        Case({"n_params": 7e9, "prompt_len": 512, "new_tokens": 1}, expected=7.168e12,
             rtol=_EXACT, source="2N rule: one forward pass over 512 tokens"),
        Case({"n_params": 1.0, "prompt_len": 1, "new_tokens": 3}, expected=12.0, rtol=_EXACT,
             source="by hand: passes over 1, 2 and 3 tokens"),
    ],
    mistakes=[
        Mistake(lambda n_params, prompt_len, new_tokens:
                2 * n_params * (new_tokens * prompt_len + new_tokens * (new_tokens + 1) / 2),
                "off by one: new token i sees the P + i - 1 tokens before it, not P + i (the "
                "first new token comes from a pass over the prompt alone)."),
        Mistake(lambda n_params, prompt_len, new_tokens:
                2 * n_params * (new_tokens * prompt_len + new_tokens**2 / 2),
                "G^2/2 approximates the sum; count it exactly: 0 + 1 + ... + (G - 1)."),
        Mistake(lambda n_params, prompt_len, new_tokens:
                2 * n_params * new_tokens * (new_tokens - 1) / 2,
                "you forgot the prompt: every pass also runs over the P prompt tokens."),
        Mistake(lambda n_params, prompt_len, new_tokens:
                2 * n_params * new_tokens * (new_tokens + 1) / 2,
                "you forgot the prompt: every pass also runs over the P prompt tokens."),
        Mistake(lambda n_params, prompt_len, new_tokens:
                n_params * (new_tokens * prompt_len + new_tokens * (new_tokens - 1) / 2),
                "a factor 2 went missing: a forward pass costs 2 N FLOPs per token (one "
                "multiply and one add per parameter)."),
        Mistake(lambda n_params, prompt_len, new_tokens:
                2 * n_params * (prompt_len + new_tokens - 1),
                "that is the count *with* a cache (each token processed once). Without one, "
                "every step reprocesses the whole prefix: add up the passes of all G steps."),
        Mistake(lambda n_params, prompt_len, new_tokens:
                2 * n_params * new_tokens * (prompt_len + new_tokens - 1),
                "that charges every step the longest pass, P + G - 1 tokens; the prefix grows "
                "one token per step."),
    ],
    random_cases=_random_generation,
    rtol=_EXACT,
)

KV_CACHE_BYTES = Task(
    name="kv_cache_bytes",
    reference=kv_cache_bytes,
    cases=[
        # Llama-3-8B (32 layers, 8 KV heads of 128, bf16): 128 KiB per token. Scaling book,
        # inference chapter, https://jax-ml.github.io/scaling-book/inference/
        Case({"n_layers": 32, "n_kv_heads": 8, "head_dim": 128, "bytes_per_element": 2,
              "tokens": 1}, expected=131_072, rtol=_EXACT,
             source="scaling book: Llama-3-8B 128 KiB/token"),
        # LLaMA-2-13B (40 layers, 40 heads of 128, bf16) at 8,192 tokens: "6.7 GB" per sequence
        # (scaling book, applied inference chapter); exactly 6,710,886,400 bytes.
        Case({"n_layers": 40, "n_kv_heads": 40, "head_dim": 128, "bytes_per_element": 2,
              "tokens": 8192}, expected=6_710_886_400, rtol=_EXACT,
             source="scaling book: LLaMA-2-13B 6.7 GB at 8K"),
        # Llama-3-70B with an int8 cache: 163,840 B per token ("160 kB"), scaling book.
        Case({"n_layers": 80, "n_kv_heads": 8, "head_dim": 128, "bytes_per_element": 1,
              "tokens": 1}, expected=163_840, rtol=_EXACT,
             source="scaling book: Llama-3-70B int8 160 kB/token"),
    ],
    mistakes=[
        Mistake(lambda n_layers, n_kv_heads, head_dim, bytes_per_element, tokens:
                n_layers * n_kv_heads * head_dim * bytes_per_element * tokens,
                "K and V counted once: the cache stores a key *and* a value vector per head, "
                "layer and token (a factor 2)."),
        Mistake(lambda n_layers, n_kv_heads, head_dim, bytes_per_element, tokens:
                2 * n_layers * n_kv_heads * head_dim * bytes_per_element * tokens * 8,
                "that is bits; return bytes."),
        Mistake(lambda n_layers, n_kv_heads, head_dim, bytes_per_element, tokens:
                2 * n_layers * n_kv_heads * head_dim * bytes_per_element * tokens / 2**30,
                "GiB: return plain bytes (SI base units), not bytes / 2**30."),
        Mistake(lambda n_layers, n_kv_heads, head_dim, bytes_per_element, tokens:
                2 * n_layers * n_kv_heads * head_dim * bytes_per_element * tokens / 1e9,
                "GB: return plain bytes, not bytes / 1e9."),
        Mistake(lambda n_layers, n_kv_heads, head_dim, bytes_per_element, tokens:
                2 * n_kv_heads * head_dim * bytes_per_element * tokens,
                "every layer keeps its own K and V: multiply by n_layers."),
        Mistake(lambda n_layers, n_kv_heads, head_dim, bytes_per_element, tokens:
                2 * n_layers * n_kv_heads * head_dim * bytes_per_element,
                "that is one token; multiply by the number of tokens in the sequence."),
        Mistake(lambda n_layers, n_kv_heads, head_dim, bytes_per_element, tokens:
                2 * n_layers * n_kv_heads * head_dim * 2 * tokens,
                "you assumed 2 bytes per element; use bytes_per_element (1 for int8, 0.5 for "
                "int4, 4 for fp32)."),
    ],
    random_cases=_random_kv,
    rtol=_EXACT,
)

# Llama-3-8B (8.03e9 parameters, 131,072 B/token in bf16) on an H100 SXM (989e12 FLOP/s dense
# bf16, 3.35e12 B/s), the chapter's running example. T* = 989e12 * 2 / (2 * 3.35e12) = 295 at
# batch 1 (scaling book: the H100's ridge).
_LLAMA_H100 = {"n_params": 8.03e9, "bytes_per_param": 2, "kv_bytes_per_token": 131_072,
               "peak_flops": 989e12, "bandwidth": 3.35e12}


def _label_mistake(fn: Callable[..., tuple[float, float]]) -> Callable[..., str]:
    """A wrong decision: ``"recompute"`` when ``fn``'s (recompute, cached) times say so."""

    def decide(**kwargs: float) -> str:
        recompute, cached = fn(**kwargs)
        return RECOMPUTE if recompute < cached else CACHE

    return decide


def _times_no_batch(n_params, bytes_per_param, kv_bytes_per_token, prefix_len, batch,
                    peak_flops, bandwidth):
    return _step_times(n_params, bytes_per_param, kv_bytes_per_token, prefix_len, 1,
                       peak_flops, bandwidth)


CACHE_OR_RECOMPUTE = Task(
    name="cache_or_recompute",
    reference=cache_or_recompute,
    cases=[
        # Batch 1, 100 tokens: far below T* = 295, the recomputation hides in the weight read.
        Case({**_LLAMA_H100, "prefix_len": 100, "batch": 1}, expected=RECOMPUTE,
             source="chapter 3, section 6: below T* (295 on an H100) recomputing is free"),
        # Batch 64, 100 tokens: T* = 295 / 64 = 4.6 tokens, far past it.
        Case({**_LLAMA_H100, "prefix_len": 100, "batch": 64}, expected=CACHE,
             source="chapter 3, section 6: at a serving batch T* is a few tokens"),
        # Batch 1, 2,000 tokens: the pass over the prefix costs 6.8x the weight read.
        Case({**_LLAMA_H100, "prefix_len": 2000, "batch": 1}, expected=CACHE,
             source="chapter 3, section 6: past T* each recomputed token costs time"),
        # Batch 4, 60 tokens: T* = 74 > 60 at batch 4; recomputing is still free.
        Case({**_LLAMA_H100, "prefix_len": 60, "batch": 4}),
        # Batch 1, 300 tokens: just past T* = 295, the pass over the prefix outlasts the
        # weight read plus the 39 MB of cache (by 1.4 %).
        Case({**_LLAMA_H100, "prefix_len": 300, "batch": 1}, expected=CACHE,
             source="chapter 3, section 6: T* = 295 on an H100"),
    ],
    mistakes=[
        Mistake(lambda **kwargs: CACHE,
                "a cached step is not free: it reads the weights *and* B * T * "
                "kv_bytes_per_token bytes of cache. Compare step *times* (roofline: the slower "
                "of compute and memory): below the crossover the no-cache step hides its FLOPs "
                "in the weight read and skips the cache read."),
        Mistake(_label_mistake(_times_no_batch),
                "each of the B sequences recomputes its own prefix: 2 N B T FLOPs. The batch "
                "shares the weight read, not the recomputation, so the crossover shrinks as "
                "1/B."),
        Mistake(lambda **kwargs: RECOMPUTE if cache_or_recompute(**kwargs) == CACHE else CACHE,
                "the labels are swapped: return \"recompute\" when the step without a cache "
                "is the faster one."),
    ],
    random_cases=_random_decision,
    kind="label",
    labels=(CACHE, RECOMPUTE),
    precision='a label, "cache" or "recompute" (case and spaces do not matter)',
)

MAX_FREE_RECOMPUTE_BATCH = Task(
    name="max_free_recompute_batch",
    reference=max_free_recompute_batch,
    cases=[
        # kipply (Transformer Inference Arithmetic, 2022): on an A100 (312e12 FLOP/s, 1.5e12
        # B/s) computing K,V for up to 208 tokens takes as long as for one: a 1-token prefix is
        # free up to batch 208.
        Case({"peak_flops": 312e12, "bandwidth": 1.5e12, "bytes_per_param": 2, "prefix_len": 1},
             expected=208, source="kipply: A100, 208"),
        # H100 SXM: 989e12 / 3.35e12 = 295.2 (the scaling book's ridge); 100-token prefixes:
        # 2.95 -> 2.
        Case({"peak_flops": 989e12, "bandwidth": 3.35e12, "bytes_per_param": 2,
              "prefix_len": 100}, expected=2, source="scaling book: H100 ridge 295"),
        # 1,000-token prefixes: not even batch 1 is free.
        Case({"peak_flops": 989e12, "bandwidth": 3.35e12, "bytes_per_param": 2,
              "prefix_len": 1000}, expected=0, source="scaling book: H100 ridge 295"),
        # int8 weights on the A100: half the weight read, half the free batch: 104 / 40 = 2.6.
        Case({"peak_flops": 312e12, "bandwidth": 1.5e12, "bytes_per_param": 1,
              "prefix_len": 40}, expected=2, source="kipply's A100, int8 weights"),
    ],
    mistakes=[
        Mistake(lambda peak_flops, bandwidth, bytes_per_param, prefix_len:
                round(peak_flops * bytes_per_param / (2 * bandwidth * prefix_len)),
                "round() can round up, to a batch one too large. The largest batch that is "
                "still free is the bound rounded *down*: math.floor."),
        Mistake(lambda peak_flops, bandwidth, bytes_per_param, prefix_len:
                math.ceil(peak_flops * bytes_per_param / (2 * bandwidth * prefix_len)),
                "ceil gives the first batch that is *not* free; round down."),
        Mistake(lambda peak_flops, bandwidth, bytes_per_param, prefix_len:
                peak_flops * bytes_per_param / (2 * bandwidth * prefix_len),
                "a batch is a whole number of sequences: round the bound down."),
        Mistake(lambda peak_flops, bandwidth, bytes_per_param, prefix_len:
                math.floor(peak_flops * bytes_per_param / (bandwidth * prefix_len)),
                "a factor 2 went missing: each token costs 2 N FLOPs (multiply and add)."),
        Mistake(lambda peak_flops, bandwidth, bytes_per_param, prefix_len:
                math.floor(peak_flops / (2 * bandwidth * prefix_len)),
                "the weight read takes N * bytes_per_param bytes, not N: the bytes per "
                "parameter matter (try int8 or fp32 weights)."),
        Mistake(lambda peak_flops, bandwidth, bytes_per_param, prefix_len:
                math.floor(peak_flops / (bandwidth * prefix_len)),
                "F / (W T) is right only for 2-byte weights: the bytes per parameter and the 2 "
                "FLOPs per parameter are separate factors."),
        Mistake(lambda peak_flops, bandwidth, bytes_per_param, prefix_len:
                math.floor(peak_flops * bytes_per_param / (2 * bandwidth)),
                "the prefix length matters: a no-cache step runs all T tokens of each "
                "sequence, so the free batch shrinks as 1/T."),
    ],
    random_cases=_random_free_batch,
    kind="integer",
    precision="an exact whole number (7 or 7.0)",
)


def _ratio_of_flops(n_params, bytes_per_param, kv_bytes_per_token, prompt_len, new_tokens,
                    peak_flops, bandwidth):
    return (flops_without_cache(n_params, prompt_len, new_tokens)
            / (2 * n_params * (prompt_len + new_tokens - 1)))


def _ratio_of_totals(n_params, bytes_per_param, kv_bytes_per_token, prompt_len, new_tokens,
                     peak_flops, bandwidth):
    """One roofline over the whole generation instead of one per step."""
    weights, p, g = n_params * bytes_per_param, prompt_len, new_tokens
    without = max(flops_without_cache(n_params, p, g) / peak_flops, g * weights / bandwidth)
    kv_read = kv_bytes_per_token * sum(p + j - 1 for j in range(1, g))
    with_cache = max(2 * n_params * (p + g - 1) / peak_flops,
                     (g * weights + kv_read) / bandwidth)
    return without / with_cache


def _ratio_compute_only_without(n_params, bytes_per_param, kv_bytes_per_token, prompt_len,
                                new_tokens, peak_flops, bandwidth):
    """The no-cache steps timed by their FLOPs alone."""
    _, with_cache = _generation_times(n_params, bytes_per_param, kv_bytes_per_token,
                                      prompt_len, new_tokens, peak_flops, bandwidth)
    return flops_without_cache(n_params, prompt_len, new_tokens) / peak_flops / with_cache


def _ratio_decode_only(n_params, bytes_per_param, kv_bytes_per_token, prompt_len, new_tokens,
                       peak_flops, bandwidth):
    """G decode steps with a cache and no prefill."""
    weights, p = n_params * bytes_per_param, prompt_len
    without, _ = _generation_times(n_params, bytes_per_param, kv_bytes_per_token, prompt_len,
                                   new_tokens, peak_flops, bandwidth)
    with_cache = sum(max(2 * n_params / peak_flops,
                         (weights + (p + j - 1) * kv_bytes_per_token) / bandwidth)
                     for j in range(1, new_tokens + 1))
    return without / with_cache


GENERATION_TIME_RATIO = Task(
    name="generation_time_ratio",
    reference=generation_time_ratio,
    cases=[
        # The chapter's worked example, matmuls only: Llama-3-8B on an H100, P = G = 1000.
        # The FLOP ratio is 750; the time ratio only about 5.0.
        Case({**_LLAMA_H100, "prompt_len": 1000, "new_tokens": 1000}),
        # A short chat turn at batch 1: 50 tokens after 20. Every step is memory-bound
        # either way, so the ratio is about 1: no cache would cost no time.
        Case({**_LLAMA_H100, "prompt_len": 20, "new_tokens": 50}),
    ],
    mistakes=[
        Mistake(_ratio_of_flops,
                "that is the FLOP ratio. Time each step with the roofline, max(FLOPs / F, "
                "bytes / W): a short no-cache pass hides inside the weight read."),
        Mistake(_ratio_of_totals,
                "apply the roofline step by step: each step is limited by its own slower "
                "resource, and the short early passes are memory-bound while the long late "
                "ones are compute-bound."),
        Mistake(_ratio_compute_only_without,
                "a no-cache step also reads all the weights: it takes at least N b_w / W, "
                "however short the prefix."),
        Mistake(_ratio_decode_only,
                "with a cache the first new token comes from the prefill (a pass over the "
                "P prompt tokens); only G - 1 one-token steps follow."),
    ],
    random_cases=_random_time_ratio,
    n_random=12,
    rtol=0.01,
    precision="graded to 1 %: a roofline estimate, so off-by-one token counts do not matter",
)

# A worked example of a wrong answer for the page (not graded): one token's matmul FLOPs.
EXAMPLE = Task(
    name="flops_per_token",
    reference=lambda n_params: 2.0 * n_params,
    cases=[Case({"n_params": 8e9}, expected=1.6e10, source="2N rule")],
    mistakes=[
        Mistake(lambda n_params: n_params,
                "a factor 2 went missing: each parameter costs a multiply and an add."),
    ],
    random_cases=lambda rng: {"n_params": log_uniform(rng, 1e6, 1e12)},
    rtol=1e-3,
)

TASKS = [FLOPS_WITHOUT_CACHE, KV_CACHE_BYTES, CACHE_OR_RECOMPUTE, MAX_FREE_RECOMPUTE_BATCH,
         GENERATION_TIME_RATIO]
SOLUTIONS: dict[str, Callable[..., object]] = {t.name: t.reference for t in TASKS}


def check_example(fn: Callable[..., float]) -> CheckResult:
    """Check a worked example, ``flops_per_token(n_params)``; it does not count in the score."""
    return run_example(EXERCISE, EXAMPLE, fn)


def precision(name: str) -> str:
    """How the task ``name`` is graded, in words."""
    return precision_text({t.name: t for t in TASKS}[name])


def check_flops_without_cache(fn: Callable[..., float] | None = None) -> CheckResult:
    """Check ``flops_without_cache(n_params, prompt_len, new_tokens)``."""
    return report(run_task(EXERCISE, FLOPS_WITHOUT_CACHE, fn))


def check_kv_cache_bytes(fn: Callable[..., float] | None = None) -> CheckResult:
    """Check ``kv_cache_bytes(n_layers, n_kv_heads, head_dim, bytes_per_element, tokens)``."""
    return report(run_task(EXERCISE, KV_CACHE_BYTES, fn))


def check_cache_or_recompute(fn: Callable[..., str] | None = None) -> CheckResult:
    """Check ``cache_or_recompute(n_params, bytes_per_param, kv_bytes_per_token, prefix_len,
    batch, peak_flops, bandwidth)``."""
    return report(run_task(EXERCISE, CACHE_OR_RECOMPUTE, fn))


def check_max_free_recompute_batch(fn: Callable[..., int] | None = None) -> CheckResult:
    """Check ``max_free_recompute_batch(peak_flops, bandwidth, bytes_per_param, prefix_len)``."""
    return report(run_task(EXERCISE, MAX_FREE_RECOMPUTE_BATCH, fn))


def check_generation_time_ratio(fn: Callable[..., float] | None = None) -> CheckResult:
    """Check ``generation_time_ratio(n_params, bytes_per_param, kv_bytes_per_token,
    prompt_len, new_tokens, peak_flops, bandwidth)``."""
    return report(run_task(EXERCISE, GENERATION_TIME_RATIO, fn))


def score() -> tuple[int, int]:
    """Print the reader's score for this exercise: tasks passed out of tasks."""
    return _score(EXERCISE, TASKS)
