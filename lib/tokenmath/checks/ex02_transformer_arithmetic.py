"""Checks for ``exercises/02_transformer_arithmetic``: parameters, KV bytes, FLOPs, experts,
attention's share, and a step's time with a fixed cost.

Symbols: ``L`` layers, ``d`` model width, ``H`` query heads, ``K`` KV heads, ``h`` head dim,
``f`` MLP hidden size, ``V`` vocabulary, ``S`` context, ``E`` routed experts, ``k`` top-k,
``B`` batch, ``b`` bytes per element, ``N`` parameters, ``C`` FLOPs and ``M`` bytes of a step,
``F`` FLOP/s, ``W`` bytes/s, ``t0`` fixed cost per step.
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

EXERCISE = "02_transformer_arithmetic"


# Reference solutions -------------------------------------------------------------------------


def param_count(
    n_layers: int, d_model: int, n_heads: int, n_kv_heads: int, head_dim: int, d_ff: int,
    vocab_size: int, tied_embeddings: bool,
) -> float:
    """Llama-style decoder: ``V d (x2 if untied) + d + L (2 d h (H + K) + 3 d f + 2 d)``."""
    d = d_model
    attention = 2 * d * head_dim * (n_heads + n_kv_heads)  # q and o: d H h each; k and v: d K h
    mlp = 3 * d * d_ff  # SwiGLU: gate, up, down
    norms = 2 * d
    embeddings = vocab_size * d * (1 if tied_embeddings else 2)
    return float(embeddings + d + n_layers * (attention + mlp + norms))


def kv_bytes_per_token(
    n_layers: int, n_heads: int, n_kv_heads: int, head_dim: int, bytes_per_element: float
) -> float:
    """KV-cache bytes one token adds, all layers: ``2 L K h b`` (the 2: one key, one value)."""
    return 2.0 * n_layers * n_kv_heads * head_dim * bytes_per_element


def flops_per_token(
    n_matmul_params: float, n_layers: int, n_heads: int, n_kv_heads: int, head_dim: int,
    context: int,
) -> float:
    """Forward FLOPs of one token: ``2 N + 4 L S H h`` (scores and values over ``S`` keys)."""
    return 2.0 * n_matmul_params + 4.0 * n_layers * context * n_heads * head_dim


def expected_experts_touched(n_experts: int, top_k: int, batch: int) -> float:
    """Routed experts ``B`` tokens touch under uniform routing: ``E (1 - (1 - k/E)^B)``."""
    return n_experts * (1.0 - (1.0 - top_k / n_experts) ** batch)


def attention_to_matmul_ratio(
    d_model: int, n_heads: int, n_kv_heads: int, head_dim: int, d_ff: int, context: int
) -> float:
    """Per layer, attention FLOPs over projection + MLP FLOPs for one token at context ``S``:
    ``4 S H h / (2 (2 d h (H + K) + 3 d f))``; ``S / (8 d)`` for MHA with ``f = 4 d``."""
    attention = 4.0 * context * n_heads * head_dim
    matmul = 2.0 * (2 * d_model * head_dim * (n_heads + n_kv_heads) + 3 * d_model * d_ff)
    return attention / matmul


def step_time_with_overhead(
    flops: float, bytes_read: float, peak_flops: float, bandwidth: float, overhead_s: float
) -> float:
    """Roofline plus a fixed cost per step: ``max(C / F, M / W) + t0``."""
    return max(flops / peak_flops, bytes_read / bandwidth) + overhead_s


# Random inputs -------------------------------------------------------------------------------


def _random_shape(rng: random.Random) -> dict[str, int]:
    head_dim = rng.choice([64, 128])
    n_heads = rng.choice([8, 16, 32, 64, 128])
    n_kv_heads = rng.choice([k for k in (1, 2, 4, 8, n_heads) if n_heads % k == 0])
    d_model = n_heads * head_dim
    return {
        "d_model": d_model,
        "n_heads": n_heads,
        "n_kv_heads": n_kv_heads,
        "head_dim": head_dim,
        "d_ff": rng.choice([int(2.6875 * d_model), int(3.5 * d_model), 4 * d_model]),
    }


def _random_params(rng: random.Random) -> dict[str, object]:
    return {
        "n_layers": rng.randint(2, 128),
        **_random_shape(rng),
        "vocab_size": rng.choice([32000, 50257, 128256, 151936]),
        "tied_embeddings": rng.random() < 0.3,
    }


def _random_kv(rng: random.Random) -> dict[str, object]:
    s = _random_shape(rng)
    return {
        "n_layers": rng.randint(2, 128),
        "n_heads": s["n_heads"],
        "n_kv_heads": s["n_kv_heads"],
        "head_dim": s["head_dim"],
        "bytes_per_element": rng.choice([0.5, 1, 2, 4]),
    }


def _random_flops(rng: random.Random) -> dict[str, object]:
    s = _random_shape(rng)
    return {
        "n_matmul_params": float(rng.randint(10**8, 10**12)),
        "n_layers": rng.randint(2, 128),
        "n_heads": s["n_heads"],
        "n_kv_heads": s["n_kv_heads"],
        "head_dim": s["head_dim"],
        "context": rng.choice([1, 100, 2048, 8192, 32768, 131072]),
    }


def _random_experts(rng: random.Random) -> dict[str, int]:
    e = rng.choice([8, 16, 64, 128, 160, 256])
    return {"n_experts": e, "top_k": rng.randint(1, min(8, e - 1)),
            "batch": rng.choice([1, 2, 3, 5, 10, 32, 100, 500, 2000])}


def _random_ratio(rng: random.Random) -> dict[str, int]:
    return {**_random_shape(rng), "context": rng.choice([1, 512, 4096, 32768, 131072])}


def _random_step(rng: random.Random) -> dict[str, float]:
    peak = rng.choice([65e12, 312e12, 989e12, 1979e12])
    bandwidth = rng.choice([320e9, 2.0e12, 3.35e12, 4.8e12])
    ridge = peak / bandwidth
    nbytes = log_uniform(rng, 0.1e9, 200e9)
    # intensity from far below to far above the ridge, so both roofs bind in some cases
    return {
        "flops": nbytes * ridge * rng.choice([0.01, 0.3, 0.9, 1.1, 3.0, 20.0]),
        "bytes_read": nbytes,
        "peak_flops": peak,
        "bandwidth": bandwidth,
        "overhead_s": rng.choice([0.0, 20e-6, 1e-3, 2e-3, 5e-3]) * rng.uniform(0.5, 1.5),
    }


# Tasks ---------------------------------------------------------------------------------------

_LLAMA3_8B = {"n_layers": 32, "d_model": 4096, "n_heads": 32, "n_kv_heads": 8, "head_dim": 128,
              "d_ff": 14336, "vocab_size": 128256, "tied_embeddings": False}
_LLAMA3_70B = {"n_layers": 80, "d_model": 8192, "n_heads": 64, "n_kv_heads": 8, "head_dim": 128,
               "d_ff": 28672, "vocab_size": 128256, "tied_embeddings": False}

PARAM_COUNT = Task(
    name="param_count",
    reference=param_count,
    cases=[
        # Hugging Face model pages (config.json shapes; parameter counts as published).
        Case(_LLAMA3_8B, expected=8.03e9, rtol=0.005,
             source="huggingface.co/meta-llama/Meta-Llama-3-8B: 8.03B params"),
        Case(_LLAMA3_70B, expected=70.6e9, rtol=0.005,
             source="huggingface.co/meta-llama/Meta-Llama-3-70B: 70.6B params"),
        Case({"n_layers": 32, "d_model": 4096, "n_heads": 32, "n_kv_heads": 8, "head_dim": 128,
              "d_ff": 14336, "vocab_size": 32000, "tied_embeddings": False},
             expected=7.24e9, rtol=0.005,
             source="huggingface.co/mistralai/Mistral-7B-v0.1: 7.24B params"),
        Case({"n_layers": 32, "d_model": 4096, "n_heads": 32, "n_kv_heads": 32, "head_dim": 128,
              "d_ff": 11008, "vocab_size": 32000, "tied_embeddings": False},
             expected=6.74e9, rtol=0.005,
             source="huggingface.co/meta-llama/Llama-2-7b-hf: 6.74B params"),
        Case({"n_layers": 16, "d_model": 2048, "n_heads": 32, "n_kv_heads": 8, "head_dim": 64,
              "d_ff": 8192, "vocab_size": 128256, "tied_embeddings": True},
             expected=1.24e9, rtol=0.005,
             source="huggingface.co/meta-llama/Llama-3.2-1B: 1.24B params (tied)"),
    ],
    mistakes=[
        Mistake(lambda n_layers, d_model, n_heads, n_kv_heads, head_dim, d_ff, vocab_size,
                tied_embeddings: param_count(n_layers, d_model, n_heads, n_heads, head_dim,
                                             d_ff, vocab_size, tied_embeddings),
                "the k and v projections have n_kv_heads heads (grouped-query attention), not "
                "n_heads: attention is 2 d h (H + K) per layer."),
        Mistake(lambda n_layers, d_model, n_heads, n_kv_heads, head_dim, d_ff, vocab_size,
                tied_embeddings: param_count(n_layers, d_model, n_heads, n_kv_heads, head_dim,
                                             d_ff, vocab_size, tied_embeddings)
                - n_layers * d_model * d_ff,
                "a SwiGLU MLP has three d x d_ff matrices (gate, up, down), not two."),
        Mistake(lambda n_layers, d_model, n_heads, n_kv_heads, head_dim, d_ff, vocab_size,
                tied_embeddings: param_count(n_layers, d_model, n_heads, n_kv_heads, head_dim,
                                             d_ff, vocab_size, True),
                "an untied model stores two V x d tables: the input embedding and the LM head."),
        Mistake(lambda n_layers, d_model, n_heads, n_kv_heads, head_dim, d_ff, vocab_size,
                tied_embeddings: param_count(n_layers, d_model, n_heads, n_kv_heads, head_dim,
                                             d_ff, vocab_size, False),
                "with tied_embeddings the LM head reuses the embedding table: count V d once."),
        Mistake(lambda n_layers, d_model, n_heads, n_kv_heads, head_dim, d_ff, vocab_size,
                tied_embeddings: param_count(n_layers, d_model, n_heads, n_kv_heads, head_dim,
                                             d_ff, vocab_size, tied_embeddings)
                - vocab_size * d_model * (1 if tied_embeddings else 2),
                "published counts include the embedding table (and the LM head when untied)."),
    ],
    random_cases=_random_params,
    rtol=1e-3,  # norm weights (2 d per layer) are below this: leaving them out is fine
)

KV_BYTES_PER_TOKEN = Task(
    name="kv_bytes_per_token",
    reference=kv_bytes_per_token,
    cases=[
        # Scaling book applied-inference.md: LLaMA-3-70B with an int8 KV cache,
        # 2 * 80 * 8 * 128 * 1 = 163,840 bytes ("160 kB").
        Case({"n_layers": 80, "n_heads": 64, "n_kv_heads": 8, "head_dim": 128,
              "bytes_per_element": 1}, expected=163840.0, rtol=1e-9,
             source="scaling book applied-inference.md: LLaMA-3-70B int8 KV 163,840 B"),
        # vLLM paper (Kwon et al. 2023, arXiv 2309.06180): OPT-13B, 2 * 5120 * 40 * 2 B = 800 KB.
        Case({"n_layers": 40, "n_heads": 40, "n_kv_heads": 40, "head_dim": 128,
              "bytes_per_element": 2}, expected=819200.0, rtol=1e-9,
             source="vLLM paper arXiv 2309.06180: OPT-13B 800 KB per token"),
        # Llama-3-8B in bf16: 128 KiB (claims.md T5).
        Case({"n_layers": 32, "n_heads": 32, "n_kv_heads": 8, "head_dim": 128,
              "bytes_per_element": 2}, expected=131072.0, rtol=1e-9,
             source="Llama-3-8B config: 2 x 32 x 8 x 128 x 2 B"),
    ],
    mistakes=[
        Mistake(lambda n_layers, n_heads, n_kv_heads, head_dim, bytes_per_element:
                n_layers * n_kv_heads * head_dim * bytes_per_element,
                "K and V counted once: every layer stores a key AND a value per KV head, so "
                "there is a factor 2."),
        Mistake(lambda n_layers, n_heads, n_kv_heads, head_dim, bytes_per_element:
                2 * n_layers * n_heads * head_dim * bytes_per_element,
                "the cache holds n_kv_heads heads, not n_heads: with grouped-query attention "
                "several query heads share one KV head."),
        Mistake(lambda n_layers, n_heads, n_kv_heads, head_dim, bytes_per_element:
                n_layers * n_heads * head_dim * bytes_per_element,
                "two slips: K and V are both stored (factor 2), and only n_kv_heads heads are "
                "cached, not n_heads."),
        Mistake(lambda n_layers, n_heads, n_kv_heads, head_dim, bytes_per_element:
                2 * n_layers * n_kv_heads * head_dim * bytes_per_element / 1024,
                "return bytes, not KiB (and note 1 kB = 1000 B, 1 KiB = 1024 B)."),
        Mistake(lambda n_layers, n_heads, n_kv_heads, head_dim, bytes_per_element:
                2 * n_layers * n_kv_heads * head_dim * bytes_per_element / 1000,
                "return bytes, not kB."),
        Mistake(lambda n_layers, n_heads, n_kv_heads, head_dim, bytes_per_element:
                16 * n_layers * n_kv_heads * head_dim * bytes_per_element,
                "that is bits: bytes_per_element is already in bytes, don't multiply by 8."),
    ],
    random_cases=_random_kv,
)

FLOPS_PER_TOKEN = Task(
    name="flops_per_token",
    reference=flops_per_token,
    cases=[
        # The 2N rule (Kaplan et al. 2020, arXiv 2001.08361, Table 1: C_forward ~ 2N; Pope et al.
        # 2022): a 7B-parameter forward pass costs ~1.4e10 FLOPs per token at short context.
        Case({"n_matmul_params": 7e9, "n_layers": 32, "n_heads": 32, "n_kv_heads": 32,
              "head_dim": 128, "context": 0}, expected=14e9, rtol=1e-9,
             source="2N rule: Kaplan et al. 2020, C_forward ~ 2N"),
        # Llama-3-70B shape at 8K context (matmul params: all but the input embedding table).
        Case({"n_matmul_params": 69.5e9, "n_layers": 80, "n_heads": 64, "n_kv_heads": 8,
              "head_dim": 128, "context": 8192}),
    ],
    mistakes=[
        Mistake(lambda n_matmul_params, n_layers, n_heads, n_kv_heads, head_dim, context:
                6 * n_matmul_params + 4 * n_layers * context * n_heads * head_dim,
                "6N is the training rule (forward 2N + backward 4N). Inference runs only the "
                "forward pass: 2N."),
        Mistake(lambda n_matmul_params, n_layers, n_heads, n_kv_heads, head_dim, context:
                6 * n_matmul_params,
                "6N is the training rule (forward 2N + backward 4N). Inference is 2N, plus the "
                "attention term."),
        Mistake(lambda n_matmul_params, n_layers, n_heads, n_kv_heads, head_dim, context:
                n_matmul_params + 2 * n_layers * context * n_heads * head_dim,
                "a multiply-add is 2 FLOPs: each weight costs 2 FLOPs per token (2N), and "
                "attention 4 L S H h."),
        Mistake(lambda n_matmul_params, n_layers, n_heads, n_kv_heads, head_dim, context:
                n_matmul_params + 4 * n_layers * context * n_heads * head_dim,
                "a multiply-add is 2 FLOPs: the weights cost 2N per token, not N."),
        Mistake(lambda n_matmul_params, n_layers, n_heads, n_kv_heads, head_dim, context:
                2 * n_matmul_params,
                "2N counts the weights only. Add attention: scores q.k and the weighted sum of "
                "values, 4 L S H h FLOPs over S keys."),
        Mistake(lambda n_matmul_params, n_layers, n_heads, n_kv_heads, head_dim, context:
                2 * n_matmul_params + 4 * n_layers * context * n_kv_heads * head_dim,
                "attention FLOPs scale with the query heads: every query head computes its own "
                "scores and weighted sum, even when it shares its K and V (use n_heads)."),
        Mistake(lambda n_matmul_params, n_layers, n_heads, n_kv_heads, head_dim, context:
                2 * n_matmul_params + 2 * n_layers * context * n_heads * head_dim,
                "attention has two matmuls over the S keys (q.K scores and the weighted sum of "
                "V), each 2 S h FLOPs per head: 4 L S H h in all."),
    ],
    random_cases=_random_flops,
)

EXPECTED_EXPERTS_TOUCHED = Task(
    name="expected_experts_touched",
    reference=expected_experts_touched,
    cases=[
        # DeepSeek-V3 config (arXiv 2412.19437; HF config.json): 256 routed experts, 8 per token
        # (plus 1 shared, always on, not counted here). One token touches exactly 8.
        Case({"n_experts": 256, "top_k": 8, "batch": 1}, expected=8.0, rtol=1e-9,
             source="DeepSeek-V3 config: 8 of 256 routed experts"),
        # Mixtral 8x7B: 2 of 8 experts per token.
        Case({"n_experts": 8, "top_k": 2, "batch": 1}, expected=2.0, rtol=1e-9,
             source="Mixtral 8x7B config: 2 of 8 experts"),
        Case({"n_experts": 8, "top_k": 2, "batch": 16}),
        Case({"n_experts": 256, "top_k": 8, "batch": 64}),
    ],
    mistakes=[
        Mistake(lambda n_experts, top_k, batch: float(min(n_experts, top_k * batch)),
                "tokens overlap: two tokens often pick the same expert. Each expert is missed "
                "by one token with probability 1 - k/E, by all B with (1 - k/E)^B."),
        Mistake(lambda n_experts, top_k, batch: float(top_k * batch),
                "k B counts an expert once per token that uses it; count distinct experts "
                "(and never more than E): E (1 - (1 - k/E)^B)."),
        Mistake(lambda n_experts, top_k, batch: n_experts * (1 - (1 - 1 / n_experts) ** batch),
                "each token picks k experts, not one: it misses a given expert with probability "
                "1 - k/E."),
        Mistake(lambda n_experts, top_k, batch: 1 - (1 - top_k / n_experts) ** batch,
                "that is the probability that one given expert is touched; multiply by E for "
                "the expected number of experts."),
        Mistake(lambda n_experts, top_k, batch: n_experts * (1 - (top_k / n_experts) ** batch),
                "a token MISSES a given expert with probability 1 - k/E (not k/E)."),
    ],
    random_cases=_random_experts,
)

ATTENTION_TO_MATMUL_RATIO = Task(
    name="attention_to_matmul_ratio",
    reference=attention_to_matmul_ratio,
    cases=[
        # Scaling book transformers.md: with multi-head attention and d_ff = 4 d, attention FLOPs
        # over matmul FLOPs is S / (8 d): equal at S = 8 d (here 32,768 for d = 4096).
        Case({"d_model": 4096, "n_heads": 32, "n_kv_heads": 32, "head_dim": 128,
              "d_ff": 16384, "context": 32768}, expected=1.0, rtol=1e-9,
             source="scaling book transformers.md: ratio S/(8D), equal at S = 8D"),
        Case({"d_model": 8192, "n_heads": 64, "n_kv_heads": 64, "head_dim": 128,
              "d_ff": 32768, "context": 8192}, expected=0.125, rtol=1e-9,
             source="scaling book transformers.md: S/(8D) = 1/8 at S = D"),
        # Llama-3-70B shape (GQA, d_ff = 3.5 d) at 8K context.
        Case({"d_model": 8192, "n_heads": 64, "n_kv_heads": 8, "head_dim": 128,
              "d_ff": 28672, "context": 8192}),
    ],
    mistakes=[
        Mistake(lambda d_model, n_heads, n_kv_heads, head_dim, d_ff, context:
                context / (8 * d_model),
                "S / (8 d) holds only for multi-head attention with d_ff = 4 d. Count the "
                "projections (2 d h (H + K)) and the MLP (3 d f) for this shape."),
        Mistake(lambda d_model, n_heads, n_kv_heads, head_dim, d_ff, context:
                4.0 * context * n_kv_heads * head_dim
                / (2.0 * (2 * d_model * head_dim * (n_heads + n_kv_heads) + 3 * d_model * d_ff)),
                "attention FLOPs scale with the query heads (n_heads): every query head scores "
                "all S keys, even when it shares its K and V."),
        Mistake(lambda d_model, n_heads, n_kv_heads, head_dim, d_ff, context:
                2 * attention_to_matmul_ratio(d_model, n_heads, n_kv_heads, head_dim, d_ff,
                                              context),
                "a factor 2 is off: count 2 FLOPs per weight for the matmuls (2 x params) and "
                "4 S H h for attention (two matmuls of 2 S h FLOPs per head)."),
        Mistake(lambda d_model, n_heads, n_kv_heads, head_dim, d_ff, context:
                4.0 * context * n_heads * head_dim
                / (2.0 * (2 * d_model * head_dim * (n_heads + n_kv_heads) + 2 * d_model * d_ff)),
                "a SwiGLU MLP has three d x d_ff matrices, not two."),
        Mistake(lambda d_model, n_heads, n_kv_heads, head_dim, d_ff, context:
                attention_to_matmul_ratio(d_model, n_heads, n_heads, head_dim, d_ff, context),
                "the k and v projections have n_kv_heads heads: the projections cost "
                "2 d h (H + K) weights per layer, not 4 d H h."),
    ],
    random_cases=_random_ratio,
)

# The H200 run of data/measurements/NVIDIA-H200-roofline-sweep.json, batch 1 at S = 512, graph
# mode: 15.08 GB read, 1.53e10 FLOPs, measured 773 TFLOP/s and 4.25 TB/s, t0 fitted at 2.12 ms.
_H200_B1 = {"flops": 1.528e10, "bytes_read": 15.077e9, "peak_flops": 773.2e12,
            "bandwidth": 4.252e12, "overhead_s": 2.12e-3}
# Batch 256 at S = 512 on the same card: 5.1 ms of compute against 7.6 ms of memory traffic.
_H200_B256 = {"flops": 256 * 1.528e10, "bytes_read": 32.23e9, "peak_flops": 773.2e12,
              "bandwidth": 4.252e12, "overhead_s": 2.12e-3}

STEP_TIME_WITH_OVERHEAD = Task(
    name="step_time_with_overhead",
    reference=step_time_with_overhead,
    cases=[
        Case(_H200_B1),
        Case(_H200_B256),
        # A 1B-parameter model in bf16 at batch 1 reads about 2.5 GB: 0.75 ms at 3.35 TB/s, less
        # than its fixed cost.
        Case({"flops": 2.5e9, "bytes_read": 2.5e9, "peak_flops": 989e12, "bandwidth": 3.35e12,
              "overhead_s": 1.5e-3}),
        # Compute-bound: 2e15 FLOPs at 989 TFLOP/s take 2.02 s, 1 GB at 3.35 TB/s 0.3 ms.
        Case({"flops": 2e15, "bytes_read": 1e9, "peak_flops": 989e12, "bandwidth": 3.35e12,
              "overhead_s": 1e-3}, expected=2e15 / 989e12 + 1e-3, rtol=1e-9,
             source="arithmetic: H100 SXM datasheet, 989 TFLOP/s bf16 dense, 3.35 TB/s"),
    ],
    mistakes=[
        Mistake(lambda flops, bytes_read, peak_flops, bandwidth, overhead_s:
                max(flops / peak_flops, bytes_read / bandwidth),
                "you left out the fixed cost: add overhead_s (t0) to the roofline time."),
        Mistake(lambda flops, bytes_read, peak_flops, bandwidth, overhead_s:
                max(flops / peak_flops, bytes_read / bandwidth, overhead_s),
                "t0 is not a third roof: the step pays it on top of the time its bytes and "
                "FLOPs take. Add it after the max."),
        Mistake(lambda flops, bytes_read, peak_flops, bandwidth, overhead_s:
                flops / peak_flops + bytes_read / bandwidth + overhead_s,
                "in the roofline compute and memory traffic overlap: take the max of C/F and "
                "M/W (not their sum), then add t0."),
        Mistake(lambda flops, bytes_read, peak_flops, bandwidth, overhead_s:
                max(flops / peak_flops, bytes_read / bandwidth + overhead_s),
                "t0 is paid whichever roof binds: add it to the max, not to the memory term "
                "alone."),
        Mistake(lambda flops, bytes_read, peak_flops, bandwidth, overhead_s:
                max(flops / peak_flops + overhead_s, bytes_read / bandwidth),
                "t0 is paid whichever roof binds: add it to the max, not to the compute term "
                "alone."),
    ],
    random_cases=_random_step,
)

TASKS = [PARAM_COUNT, KV_BYTES_PER_TOKEN, FLOPS_PER_TOKEN, EXPECTED_EXPERTS_TOUCHED,
         ATTENTION_TO_MATMUL_RATIO, STEP_TIME_WITH_OVERHEAD]
SOLUTIONS: dict[str, Callable[..., float]] = {t.name: t.reference for t in TASKS}


def check_param_count(fn: Callable[..., float] | None = None) -> CheckResult:
    """Check ``param_count(n_layers, d_model, n_heads, n_kv_heads, head_dim, d_ff, vocab_size,
    tied_embeddings)``."""
    return report(run_task(EXERCISE, PARAM_COUNT, fn))


def check_kv_bytes_per_token(fn: Callable[..., float] | None = None) -> CheckResult:
    """Check ``kv_bytes_per_token(n_layers, n_heads, n_kv_heads, head_dim, bytes_per_element)``."""
    return report(run_task(EXERCISE, KV_BYTES_PER_TOKEN, fn))


def check_flops_per_token(fn: Callable[..., float] | None = None) -> CheckResult:
    """Check ``flops_per_token(n_matmul_params, n_layers, n_heads, n_kv_heads, head_dim,
    context)``."""
    return report(run_task(EXERCISE, FLOPS_PER_TOKEN, fn))


def check_expected_experts_touched(fn: Callable[..., float] | None = None) -> CheckResult:
    """Check ``expected_experts_touched(n_experts, top_k, batch)``."""
    return report(run_task(EXERCISE, EXPECTED_EXPERTS_TOUCHED, fn))


def check_attention_to_matmul_ratio(fn: Callable[..., float] | None = None) -> CheckResult:
    """Check ``attention_to_matmul_ratio(d_model, n_heads, n_kv_heads, head_dim, d_ff,
    context)``."""
    return report(run_task(EXERCISE, ATTENTION_TO_MATMUL_RATIO, fn))


def check_step_time_with_overhead(fn: Callable[..., float] | None = None) -> CheckResult:
    """Check ``step_time_with_overhead(flops, bytes_read, peak_flops, bandwidth, overhead_s)``."""
    return report(run_task(EXERCISE, STEP_TIME_WITH_OVERHEAD, fn))


def score() -> tuple[int, int]:
    """Print the reader's score for this exercise: tasks passed out of tasks."""
    return _score(EXERCISE, TASKS)

