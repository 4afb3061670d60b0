"""Checks for ``exercises/02_transformer_arithmetic``: parameters, KV bytes, experts touched by
a batch, the batch that touches most experts, the roof of a decode step, and the fixed cost per
step inferred from two measured steps.

Symbols: ``L`` layers, ``d`` model width, ``H`` query heads, ``K`` KV heads, ``h`` head dim,
``f`` MLP hidden size, ``V`` vocabulary, ``S`` context, ``E`` routed experts, ``k`` top-k,
``B`` batch, ``b`` bytes per element, ``N`` parameters, ``k_B`` KV bytes per token,
``F`` FLOP/s, ``W`` bytes/s, ``t0`` fixed cost per step.
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
    report,
    run_example,
    run_task,
)
from tokenmath.checks._grading import score as _score

EXERCISE = "02_transformer_arithmetic"
LABELS = ("compute", "memory")


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


def expected_experts_touched(n_experts: int, top_k: int, batch: int) -> float:
    """Routed experts ``B`` tokens touch under uniform routing: ``E (1 - (1 - k/E)^B)``."""
    return n_experts * (1.0 - (1.0 - top_k / n_experts) ** batch)


def batch_to_touch(n_experts: int, top_k: int, fraction: float) -> int:
    """Smallest whole ``B`` whose expected experts touched reach ``fraction`` of ``E``:
    ``ceil(ln(1 - f) / ln(1 - k/E))``."""
    batch = max(1, math.ceil(math.log(1 - fraction) / math.log(1 - top_k / n_experts)))
    while expected_experts_touched(n_experts, top_k, batch) < fraction * n_experts:
        batch += 1  # guard against rounding at the boundary
    while batch > 1 and expected_experts_touched(n_experts, top_k, batch - 1) >= (
            fraction * n_experts):
        batch -= 1
    return batch


def decode_step_bound(
    n_params: float, bytes_per_weight: float, kv_bytes_per_token: float, batch: int,
    context: int, peak_flops: float, bandwidth: float,
) -> str:
    """"compute" when ``2 N B / F >= (N b_w + B S k_B) / W``, else "memory"."""
    flops = 2.0 * n_params * batch
    moved = n_params * bytes_per_weight + batch * context * kv_bytes_per_token
    return "compute" if flops / peak_flops >= moved / bandwidth else "memory"


def fixed_cost_from_two_steps(bytes_1: float, time_1: float, bytes_2: float,
                              time_2: float) -> float:
    """``t0`` of ``t = M / W + t0`` through two measured memory-bound steps, in seconds."""
    bandwidth = (bytes_2 - bytes_1) / (time_2 - time_1)
    return time_1 - bytes_1 / bandwidth


def tokens_per_second(batch: int, step_time_s: float) -> float:
    """The worked example (not graded): tokens a decode step of ``B`` sequences makes per second."""
    return batch / step_time_s


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


def _random_experts(rng: random.Random) -> dict[str, int]:
    e = rng.choice([8, 16, 64, 128, 160, 256])
    return {"n_experts": e, "top_k": rng.randint(1, min(8, e - 1)),
            "batch": rng.choice([1, 2, 3, 5, 10, 32, 100, 500, 2000])}


def _random_fraction(rng: random.Random) -> dict[str, float]:
    e = rng.choice([8, 16, 64, 128, 160, 256])
    return {"n_experts": e, "top_k": rng.randint(1, min(8, e - 1)),
            "fraction": round(rng.uniform(0.3, 0.995), 3)}


def _random_decode(rng: random.Random) -> dict[str, float]:
    peak, bandwidth = log_uniform(rng, 6e13, 5e15), log_uniform(rng, 3e11, 8e12)
    b_w = rng.choice([0.5, 1, 2])
    critical = peak / bandwidth * b_w / 2
    return {
        "n_params": log_uniform(rng, 1e9, 4e11),
        "bytes_per_weight": b_w,
        "kv_bytes_per_token": rng.choice([32768, 65536, 131072, 163840, 327680, 819200]),
        "batch": max(1, round(critical * log_uniform(rng, 0.3, 8))),
        "context": rng.choice([0, 128, 512, 2048, 8192, 32768]),
        "peak_flops": peak,
        "bandwidth": bandwidth,
    }


def _random_two_steps(rng: random.Random) -> dict[str, float]:
    bandwidth, t0 = log_uniform(rng, 3e11, 8e12), log_uniform(rng, 2e-5, 5e-3)
    bytes_1 = log_uniform(rng, 1e8, 1e11)
    bytes_2 = bytes_1 * log_uniform(rng, 1.2, 20)
    return {"bytes_1": bytes_1, "time_1": bytes_1 / bandwidth + t0,
            "bytes_2": bytes_2, "time_2": bytes_2 / bandwidth + t0}


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
        # Scaling book, https://jax-ml.github.io/scaling-book/applied-inference/: LLaMA-3-70B with an int8 KV cache,
        # 2 * 80 * 8 * 128 * 1 = 163,840 bytes ("160 kB").
        Case({"n_layers": 80, "n_heads": 64, "n_kv_heads": 8, "head_dim": 128,
              "bytes_per_element": 1}, expected=163840.0,
             source="scaling book, applied inference: LLaMA-3-70B int8 KV 163,840 B"),
        # vLLM paper (Kwon et al. 2023, arXiv 2309.06180): OPT-13B, 2 * 5120 * 40 * 2 B = 800 KB.
        Case({"n_layers": 40, "n_heads": 40, "n_kv_heads": 40, "head_dim": 128,
              "bytes_per_element": 2}, expected=819200.0,
             source="vLLM paper arXiv 2309.06180: OPT-13B 800 KB per token"),
        # Llama-3-8B in bf16: 2 x 32 x 8 x 128 x 2 B = 128 KiB (its config.json).
        Case({"n_layers": 32, "n_heads": 32, "n_kv_heads": 8, "head_dim": 128,
              "bytes_per_element": 2}, expected=131072.0,
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
    kind="integer",
)

EXPECTED_EXPERTS_TOUCHED = Task(
    name="expected_experts_touched",
    reference=expected_experts_touched,
    cases=[
        # DeepSeek-V3 config (arXiv 2412.19437; HF config.json): 256 routed experts, 8 per token
        # (plus 1 shared, always on, not counted here). One token touches exactly 8.
        Case({"n_experts": 256, "top_k": 8, "batch": 1}, expected=8.0,
             source="DeepSeek-V3 config: 8 of 256 routed experts"),
        # Mixtral 8x7B: 2 of 8 experts per token.
        Case({"n_experts": 8, "top_k": 2, "batch": 1}, expected=2.0,
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
                "(never more than E)."),
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
    rtol=0.01,  # a simulation with enough draws passes
)

BATCH_TO_TOUCH = Task(
    name="batch_to_touch",
    reference=batch_to_touch,
    kind="integer",
    cases=[
        # Mixtral 8x7B (2 of 8): chapter 2 says it reads essentially all experts from ~16 on.
        Case({"n_experts": 8, "top_k": 2, "fraction": 0.99}),
        # DeepSeek-V3 (8 of 256 routed): "most of its experts by a batch of about a hundred".
        Case({"n_experts": 256, "top_k": 8, "fraction": 0.9}),
        Case({"n_experts": 64, "top_k": 6, "fraction": 0.5}),
        Case({"n_experts": 8, "top_k": 2, "fraction": 0.25}, expected=1,
             source="Mixtral 8x7B config: one token reads 2 of 8 experts"),
    ],
    mistakes=[
        Mistake(lambda n_experts, top_k, fraction:
                math.floor(math.log(1 - fraction) / math.log(1 - top_k / n_experts)),
                "round UP: the batch you solved for is not a whole number, and the whole batch "
                "below it falls short of the fraction. int() rounds down."),
        Mistake(lambda n_experts, top_k, fraction:
                math.ceil(-n_experts * math.log(1 - fraction) / top_k),
                "(1 - k/E)^B is close to exp(-k B / E) only when k/E is small; for Mixtral "
                "(k/E = 1/4) the approximation is off. Solve with (1 - k/E)^B itself."),
        Mistake(lambda n_experts, top_k, fraction: math.ceil(fraction * n_experts / top_k),
                "tokens overlap: a new token often picks experts already touched, so reaching a "
                "fraction f of the experts takes more than f E / k tokens."),
        Mistake(lambda n_experts, top_k, fraction:
                math.ceil(math.log(fraction) / math.log(1 - top_k / n_experts)),
                "(1 - k/E)^B is the share of experts MISSED: set it to 1 - f, not f."),
    ],
    random_cases=_random_fraction,
)

# Llama-3-8B in bf16 (8.03e9 parameters, 131,072 KV bytes per token) on an H100 SXM.
_LLAMA_H100 = {"n_params": 8.03e9, "bytes_per_weight": 2, "kv_bytes_per_token": 131072,
               "peak_flops": 989e12, "bandwidth": 3.35e12}

DECODE_STEP_BOUND = Task(
    name="decode_step_bound",
    reference=decode_step_bound,
    kind="label",
    labels=LABELS,
    cases=[
        # Chapter 2: "B = 64, S = 4096 ... memory-bound" for Llama-3-8B on an H100.
        Case({**_LLAMA_H100, "batch": 64, "context": 4096}, expected="memory",
             source="chapter 2: Llama-3-8B, B = 64, S = 4096 on an H100 is memory-bound"),
        Case({**_LLAMA_H100, "batch": 512, "context": 0}),
        # Past the ridge in batch, but 512 x 4096 tokens of cache are read too.
        Case({**_LLAMA_H100, "batch": 512, "context": 4096}),
        # int8 weights: the weights take half the bytes, so a smaller batch is compute-bound.
        Case({**_LLAMA_H100, "bytes_per_weight": 1, "batch": 200, "context": 0}),
    ],
    mistakes=[
        Mistake(lambda n_params, bytes_per_weight, kv_bytes_per_token, batch, context,
                peak_flops, bandwidth:
                "memory" if decode_step_bound(n_params, bytes_per_weight, kv_bytes_per_token,
                                              batch, context, peak_flops, bandwidth)
                == "compute" else "compute",
                "the answers are swapped: the step is bound by the resource whose time is "
                "LONGER."),
        Mistake(lambda n_params, bytes_per_weight, kv_bytes_per_token, batch, context,
                peak_flops, bandwidth:
                decode_step_bound(n_params, bytes_per_weight, 0, batch, context, peak_flops,
                                  bandwidth),
                "a decode step reads the KV cache of every sequence too: B S k_B bytes on top "
                "of the weights. At long contexts it keeps a large batch memory-bound."),
        Mistake(lambda n_params, bytes_per_weight, kv_bytes_per_token, batch, context,
                peak_flops, bandwidth:
                "compute" if batch >= peak_flops / bandwidth else "memory",
                "'compute-bound once B reaches F / W' holds only for 2-byte weights and no "
                "cache. Compare this step's compute time with its memory time."),
        Mistake(lambda n_params, bytes_per_weight, kv_bytes_per_token, batch, context,
                peak_flops, bandwidth:
                "compute" if n_params * batch / peak_flops
                >= (n_params * bytes_per_weight + batch * context * kv_bytes_per_token)
                / bandwidth else "memory",
                "each weight does one multiply-add, 2 FLOPs, per token: the step does 2 N B "
                "FLOPs."),
    ],
    random_cases=_random_decode,
)

FIXED_COST_FROM_TWO_STEPS = Task(
    name="fixed_cost_from_two_steps",
    reference=fixed_cost_from_two_steps,
    cases=[
        # Chapter 6's H200 at S = 512: 15.08 GB in 5.65 ms at B = 1, 19.3 GB in 6.64 ms at
        # B = 64 (calibrated roofline plus t0): t0 comes out near 2.1 ms.
        Case({"bytes_1": 15.08e9, "time_1": 5.65e-3, "bytes_2": 19.3e9, "time_2": 6.64e-3}),
        # 4 TB/s and t0 = 1 ms exactly.
        Case({"bytes_1": 4e9, "time_1": 2e-3, "bytes_2": 8e9, "time_2": 3e-3}, expected=1e-3,
             source="arithmetic: 4 GB per ms, 1 ms fixed"),
    ],
    mistakes=[
        Mistake(lambda bytes_1, time_1, bytes_2, time_2: time_2 - time_1,
                "time_2 - time_1 is the time of the extra bytes, not the fixed cost. Find the "
                "bandwidth from the difference first, then what it leaves of one step."),
        Mistake(lambda bytes_1, time_1, bytes_2, time_2: time_1 - bytes_1 / (bytes_2 / time_2),
                "bytes_2 / time_2 is not the bandwidth: that step's time includes t0 too. The "
                "bandwidth is the extra bytes over the extra time."),
        Mistake(lambda bytes_1, time_1, bytes_2, time_2: min(time_1, time_2),
                "even the smaller step spends part of its time reading bytes: subtract that."),
        Mistake(lambda bytes_1, time_1, bytes_2, time_2:
                1e3 * fixed_cost_from_two_steps(bytes_1, time_1, bytes_2, time_2),
                "return seconds (SI base units), not milliseconds."),
    ],
    random_cases=_random_two_steps,
    rtol=0.01,
)

TASKS = [PARAM_COUNT, KV_BYTES_PER_TOKEN, EXPECTED_EXPERTS_TOUCHED, BATCH_TO_TOUCH,
         DECODE_STEP_BOUND, FIXED_COST_FROM_TWO_STEPS]
SOLUTIONS: dict[str, Callable[..., object]] = {t.name: t.reference for t in TASKS}

#: The worked example of the page: not a task, never counted in the score.
EXAMPLE = Task(
    name="tokens_per_second",
    reference=tokens_per_second,
    cases=[Case({"batch": 64, "step_time_s": 7.39e-3}, expected=8660.0, rtol=0.001,
                source="chapter 6: H200, B = 64, S = 512, 7.39 ms")],
    mistakes=[
        Mistake(lambda batch, step_time_s: 1 / step_time_s,
                "that is steps per second: each step makes one token for each of the B "
                "sequences."),
        Mistake(lambda batch, step_time_s: batch * step_time_s,
                "upside down: tokens per second is tokens per step divided by the step time."),
    ],
    rtol=1e-3,
)


def check_param_count(fn: Callable[..., float] | None = None) -> CheckResult:
    """Check ``param_count(n_layers, d_model, n_heads, n_kv_heads, head_dim, d_ff, vocab_size,
    tied_embeddings)``."""
    return report(run_task(EXERCISE, PARAM_COUNT, fn))


def check_kv_bytes_per_token(fn: Callable[..., float] | None = None) -> CheckResult:
    """Check ``kv_bytes_per_token(n_layers, n_heads, n_kv_heads, head_dim, bytes_per_element)``."""
    return report(run_task(EXERCISE, KV_BYTES_PER_TOKEN, fn))


def check_expected_experts_touched(fn: Callable[..., float] | None = None) -> CheckResult:
    """Check ``expected_experts_touched(n_experts, top_k, batch)``."""
    return report(run_task(EXERCISE, EXPECTED_EXPERTS_TOUCHED, fn))


def check_batch_to_touch(fn: Callable[..., int] | None = None) -> CheckResult:
    """Check ``batch_to_touch(n_experts, top_k, fraction)``."""
    return report(run_task(EXERCISE, BATCH_TO_TOUCH, fn))


def check_decode_step_bound(fn: Callable[..., str] | None = None) -> CheckResult:
    """Check ``decode_step_bound(n_params, bytes_per_weight, kv_bytes_per_token, batch, context,
    peak_flops, bandwidth)``."""
    return report(run_task(EXERCISE, DECODE_STEP_BOUND, fn))


def check_fixed_cost_from_two_steps(fn: Callable[..., float] | None = None) -> CheckResult:
    """Check ``fixed_cost_from_two_steps(bytes_1, time_1, bytes_2, time_2)``."""
    return report(run_task(EXERCISE, FIXED_COST_FROM_TWO_STEPS, fn))


def check_example(fn: Callable[..., float]) -> CheckResult:
    """The page's worked example: check ``tokens_per_second`` without counting it."""
    return run_example(EXERCISE, EXAMPLE, fn)


def score() -> tuple[int, int]:
    """Print the reader's score for this exercise: tasks passed out of tasks."""
    return _score(EXERCISE, TASKS)
