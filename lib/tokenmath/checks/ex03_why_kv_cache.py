"""Checks for ``exercises/03_why_kv_cache``: what the KV cache saves, and what it costs.

Symbols: ``N`` parameters multiplied per token (2 N matmul FLOPs per token processed), ``P``
prompt tokens, ``G`` generated tokens, ``L`` layers, ``K`` KV heads, ``h`` head dim, ``b`` bytes per
element, ``T`` tokens, ``F`` peak FLOP/s, ``W`` memory bandwidth in bytes/s, ``B`` batch.
"""

from __future__ import annotations

import random
from collections.abc import Callable

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

EXERCISE = "03_why_kv_cache"


# Reference solutions -------------------------------------------------------------------------


def flops_without_cache(n_params: float, prompt_len: int, new_tokens: int) -> float:
    """Matmul FLOPs to generate ``G`` tokens after a ``P``-token prompt, recomputing the prefix.

    New token ``i`` (1..G) needs a forward pass over the ``P + i - 1`` tokens before it:
    ``2 N sum_{i=1..G} (P + i - 1) = 2 N (G P + G (G - 1) / 2)``.
    """
    g, p = new_tokens, prompt_len
    return 2.0 * n_params * (g * p + g * (g - 1) / 2)


def flops_with_cache(n_params: float, prompt_len: int, new_tokens: int) -> float:
    """Matmul FLOPs with a KV cache: the prefill (``P`` tokens) gives token 1, then ``G - 1``
    decode steps of one token each: ``2 N (P + G - 1)``."""
    return 2.0 * n_params * (prompt_len + new_tokens - 1)


def recompute_ratio(prompt_len: int, new_tokens: int) -> float:
    """FLOPs without a cache over FLOPs with one: ``(G P + G (G - 1) / 2) / (P + G - 1)``."""
    g, p = new_tokens, prompt_len
    return (g * p + g * (g - 1) / 2) / (p + g - 1)


def kv_cache_bytes(
    n_layers: int, n_kv_heads: int, head_dim: int, bytes_per_element: float, tokens: int
) -> float:
    """Bytes of K and V for ``T`` tokens of one sequence, all layers: ``2 L K h b T``."""
    return 2.0 * n_layers * n_kv_heads * head_dim * bytes_per_element * tokens


def recompute_crossover(
    peak_flops: float, bandwidth: float, bytes_per_param: float, batch: int
) -> float:
    """Prefix length ``T*`` up to which a no-cache step is still memory-bound.

    The step does ``2 N B T`` FLOPs and reads ``N b_w`` bytes of weights: equal times at
    ``2 N B T / F = N b_w / W``, so ``T* = F b_w / (2 B W)`` (kipply: 208 on an A100, bf16, B = 1).
    """
    return peak_flops * bytes_per_param / (2.0 * batch * bandwidth)


# Random inputs ---------------------------------------------------------------------------------


def _random_generation(rng: random.Random) -> dict[str, float]:
    return {
        "n_params": log_uniform(rng, 1e6, 1e12),
        "prompt_len": rng.randint(1, 8192),
        "new_tokens": rng.randint(2, 4096),
    }


def _random_lengths(rng: random.Random) -> dict[str, int]:
    return {"prompt_len": rng.randint(1, 8192), "new_tokens": rng.randint(2, 4096)}


def _random_kv(rng: random.Random) -> dict[str, float]:
    n_heads = rng.choice([8, 16, 32, 64, 128])
    return {
        "n_layers": rng.randint(1, 128),
        "n_kv_heads": rng.choice([h for h in (1, 2, 4, 8, 16, 32) if h <= n_heads]),
        "head_dim": rng.choice([64, 80, 96, 128, 256]),
        "bytes_per_element": rng.choice([0.5, 1, 2, 4]),
        "tokens": rng.randint(2, 131072),
    }


def _random_crossover(rng: random.Random) -> dict[str, float]:
    return {
        "peak_flops": log_uniform(rng, 1e12, 5e15),
        "bandwidth": log_uniform(rng, 1e11, 2e13),
        "bytes_per_param": rng.choice([0.5, 1, 4]),
        "batch": rng.randint(2, 256),
    }


# Tasks ---------------------------------------------------------------------------------------

# Worked example of the chapter: an 8B-parameter model, a 1,000-token prompt, 1,000 new tokens.
# By hand: without a cache 2 * 8e9 * (1000 * 1000 + 1000 * 999 / 2) = 2.3992e16 FLOPs; with one
# 2 * 8e9 * 1999 = 3.1984e13 FLOPs (the 2N-FLOPs-per-token rule: Kaplan et al. 2020,
# arXiv 2001.08361; kipply, https://kipp.ly/transformer-inference-arithmetic/).
_WORKED = {"n_params": 8e9, "prompt_len": 1000, "new_tokens": 1000}

FLOPS_WITHOUT_CACHE = Task(
    name="flops_without_cache",
    reference=flops_without_cache,
    cases=[
        Case(_WORKED, expected=2.3992e16, rtol=1e-9, source="2N rule, worked by hand"),
        # One new token: a plain forward pass over the prompt, 2 N P.
        Case({"n_params": 7e9, "prompt_len": 512, "new_tokens": 1}, expected=7.168e12, rtol=1e-9,
             source="2N rule: one forward pass over 512 tokens"),
    ],
    mistakes=[
        Mistake(lambda n_params, prompt_len, new_tokens:
                2 * n_params * (new_tokens * prompt_len + new_tokens * (new_tokens + 1) / 2),
                "off by one: new token i sees the P + i - 1 tokens before it, not P + i (the "
                "first new token comes from a pass over the prompt alone)."),
        Mistake(lambda n_params, prompt_len, new_tokens:
                2 * n_params * (new_tokens * prompt_len + new_tokens**2 / 2),
                "G^2/2 is the integral approximation of the sum; count it exactly: "
                "sum_{i=1..G} (i - 1) = G (G - 1) / 2."),
        Mistake(lambda n_params, prompt_len, new_tokens:
                2 * n_params * new_tokens * (new_tokens - 1) / 2,
                "you forgot the prompt: every pass also runs over the P prompt tokens."),
        Mistake(lambda n_params, prompt_len, new_tokens:
                2 * n_params * new_tokens * (new_tokens + 1) / 2,
                "you forgot the prompt: every pass also runs over the P prompt tokens."),
        Mistake(lambda n_params, prompt_len, new_tokens:
                n_params * (new_tokens * prompt_len + new_tokens * (new_tokens - 1) / 2),
                "a factor 2 went missing: a forward pass costs 2 N FLOPs per token (one multiply "
                "and one add per parameter)."),
        Mistake(lambda n_params, prompt_len, new_tokens:
                2 * n_params * (prompt_len + new_tokens - 1),
                "that is the count *with* a cache (each token processed once), or only the "
                "last pass. Without a cache every step reprocesses the whole prefix: sum the "
                "passes of all G steps."),
    ],
    random_cases=_random_generation,
)

FLOPS_WITH_CACHE = Task(
    name="flops_with_cache",
    reference=flops_with_cache,
    cases=[
        Case(_WORKED, expected=3.1984e13, rtol=1e-9, source="2N rule, worked by hand"),
        Case({"n_params": 7e9, "prompt_len": 512, "new_tokens": 1}, expected=7.168e12, rtol=1e-9,
             source="2N rule: one forward pass over 512 tokens"),
    ],
    mistakes=[
        Mistake(lambda n_params, prompt_len, new_tokens:
                2 * n_params * (prompt_len + new_tokens),
                "one step too many: the prefill already yields the first new token, so there are "
                "only G - 1 decode steps (the last token is never fed back)."),
        Mistake(lambda n_params, prompt_len, new_tokens: 2 * n_params * new_tokens,
                "you forgot the prompt: the prefill runs the P prompt tokens through the model once."),
        Mistake(lambda n_params, prompt_len, new_tokens: 2 * n_params * (new_tokens - 1),
                "you forgot the prompt: the prefill runs the P prompt tokens through the model once."),
        Mistake(lambda n_params, prompt_len, new_tokens:
                n_params * (prompt_len + new_tokens - 1),
                "a factor 2 went missing: 2 N FLOPs per token processed."),
        Mistake(lambda n_params, prompt_len, new_tokens:
                2 * n_params * (new_tokens * prompt_len + new_tokens * (new_tokens - 1) / 2),
                "that is the count without a cache; with one, each token goes through the "
                "model exactly once."),
    ],
    random_cases=_random_generation,
)

RECOMPUTE_RATIO = Task(
    name="recompute_ratio",
    reference=recompute_ratio,
    cases=[
        # 1,499,500 / 1,999 = 750.1...
        Case({"prompt_len": 1000, "new_tokens": 1000}, expected=1_499_500 / 1999, rtol=1e-9,
             source="the chapter's worked example, by hand"),
        Case({"prompt_len": 1, "new_tokens": 100}, expected=5050 / 100, rtol=1e-9,
             source="by hand: 1 + 2 + ... + 100 passes over 100 tokens"),
    ],
    mistakes=[
        Mistake(lambda prompt_len, new_tokens:
                (prompt_len + new_tokens - 1)
                / (new_tokens * prompt_len + new_tokens * (new_tokens - 1) / 2),
                "upside down: divide the FLOPs without a cache by the FLOPs with one (the ratio "
                "is >= 1)."),
        Mistake(lambda prompt_len, new_tokens: new_tokens / 2,
                "G/2 ignores the prompt; with a long prompt every recomputed pass is longer too."),
        Mistake(lambda prompt_len, new_tokens:
                (new_tokens * prompt_len + new_tokens * (new_tokens - 1) / 2) / new_tokens,
                "the cached run also processes the prompt: its token count is P + G - 1, not G."),
        Mistake(lambda prompt_len, new_tokens:
                (new_tokens * prompt_len + new_tokens * (new_tokens + 1) / 2)
                / (prompt_len + new_tokens),
                "off by one in both counts: new token i sees P + i - 1 tokens, and a cached run "
                "processes P + G - 1 tokens."),
    ],
    random_cases=_random_lengths,
)

KV_CACHE_BYTES = Task(
    name="kv_cache_bytes",
    reference=kv_cache_bytes,
    cases=[
        # Llama-3-8B (32 layers, 8 KV heads of 128, bf16): 128 KiB per token. Scaling book,
        # inference chapter, https://jax-ml.github.io/scaling-book/inference/
        Case({"n_layers": 32, "n_kv_heads": 8, "head_dim": 128, "bytes_per_element": 2,
              "tokens": 1}, expected=131_072, rtol=1e-12,
             source="scaling book: Llama-3-8B 128 KiB/token"),
        # LLaMA-2-13B (40 layers, 40 heads of 128, bf16) at 8,192 tokens: "6.7 GB" per sequence.
        # Scaling book, applied inference chapter.
        Case({"n_layers": 40, "n_kv_heads": 40, "head_dim": 128, "bytes_per_element": 2,
              "tokens": 8192}, expected=6.7e9, rtol=0.01,
             source="scaling book: LLaMA-2-13B 6.7 GB at 8K"),
        # Llama-3-70B with an int8 cache: 163,840 B per token ("160 kB"), scaling book.
        Case({"n_layers": 80, "n_kv_heads": 8, "head_dim": 128, "bytes_per_element": 1,
              "tokens": 1}, expected=163_840, rtol=1e-12,
             source="scaling book: Llama-3-70B int8 160 kB/token"),
    ],
    mistakes=[
        Mistake(lambda n_layers, n_kv_heads, head_dim, bytes_per_element, tokens:
                n_layers * n_kv_heads * head_dim * bytes_per_element * tokens,
                "K and V counted once: the cache stores a key *and* a value vector per head, "
                "layer and token (the factor 2)."),
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
    ],
    random_cases=_random_kv,
)

RECOMPUTE_CROSSOVER = Task(
    name="recompute_crossover",
    reference=recompute_crossover,
    cases=[
        # kipply, Transformer Inference Arithmetic (2022): on an A100 (312e12 FLOP/s, 1.5e12 B/s)
        # computing K,V for one token "takes the same amount of time" as for up to 208 tokens.
        Case({"peak_flops": 312e12, "bandwidth": 1.5e12, "bytes_per_param": 2, "batch": 1},
             expected=208.0, rtol=1e-9, source="kipply: A100, 208 tokens"),
        # H100 SXM dense bf16: 989e12 / 3.35e12 = 295 (scaling book's critical batch size).
        Case({"peak_flops": 989e12, "bandwidth": 3.35e12, "bytes_per_param": 2, "batch": 1},
             expected=295.0, rtol=0.01, source="scaling book: H100 ~295"),
    ],
    mistakes=[
        Mistake(lambda peak_flops, bandwidth, bytes_per_param, batch:
                peak_flops * bytes_per_param / (batch * bandwidth),
                "a factor 2 went missing: each token costs 2 N FLOPs (multiply and add)."),
        Mistake(lambda peak_flops, bandwidth, bytes_per_param, batch:
                peak_flops / (2 * batch * bandwidth),
                "the weights take N * bytes_per_param bytes, not N: multiply by bytes_per_param."),
        Mistake(lambda peak_flops, bandwidth, bytes_per_param, batch:
                peak_flops / (batch * bandwidth),
                "F / W is the answer only for 2-byte weights: the bytes per parameter and the 2 "
                "FLOPs per parameter are separate factors (try int8 or fp32 weights)."),
        Mistake(lambda peak_flops, bandwidth, bytes_per_param, batch:
                peak_flops * bytes_per_param / (2 * bandwidth),
                "the batch shares the weight read but not the recomputation: B sequences "
                "recompute B prefixes, so divide by the batch."),
        Mistake(lambda peak_flops, bandwidth, bytes_per_param, batch:
                2 * batch * bandwidth / (peak_flops * bytes_per_param),
                "upside down: T* is a number of tokens, hundreds on a GPU."),
    ],
    random_cases=_random_crossover,
)

TASKS = [FLOPS_WITHOUT_CACHE, FLOPS_WITH_CACHE, RECOMPUTE_RATIO, KV_CACHE_BYTES, RECOMPUTE_CROSSOVER]
SOLUTIONS: dict[str, Callable[..., float]] = {t.name: t.reference for t in TASKS}


def check_flops_without_cache(fn: Callable[..., float] | None = None) -> CheckResult:
    """Check ``flops_without_cache(n_params, prompt_len, new_tokens)``."""
    return report(run_task(EXERCISE, FLOPS_WITHOUT_CACHE, fn))


def check_flops_with_cache(fn: Callable[..., float] | None = None) -> CheckResult:
    """Check ``flops_with_cache(n_params, prompt_len, new_tokens)``."""
    return report(run_task(EXERCISE, FLOPS_WITH_CACHE, fn))


def check_recompute_ratio(fn: Callable[..., float] | None = None) -> CheckResult:
    """Check ``recompute_ratio(prompt_len, new_tokens)``."""
    return report(run_task(EXERCISE, RECOMPUTE_RATIO, fn))


def check_kv_cache_bytes(fn: Callable[..., float] | None = None) -> CheckResult:
    """Check ``kv_cache_bytes(n_layers, n_kv_heads, head_dim, bytes_per_element, tokens)``."""
    return report(run_task(EXERCISE, KV_CACHE_BYTES, fn))


def check_recompute_crossover(fn: Callable[..., float] | None = None) -> CheckResult:
    """Check ``recompute_crossover(peak_flops, bandwidth, bytes_per_param, batch)``."""
    return report(run_task(EXERCISE, RECOMPUTE_CROSSOVER, fn))


def score() -> tuple[int, int]:
    """Print the reader's score for this exercise: tasks passed out of tasks."""
    return _score(EXERCISE, TASKS)
