"""Checks for ``exercises/09_long_context``: the context at which a decode step takes twice as
long as with an empty cache, the context past which batching stops helping, whether a step is
compute- or memory-bound, which of GQA, a sliding window or an fp8 cache saves the most memory
at a given context, and the KV bytes per token a long-context price tier implies.

Symbols: ``B`` batch, ``S`` context (cached tokens per sequence), ``N`` parameters (``N_tot``
total, ``N_act`` active per token), ``b_w`` bytes per weight, ``k_B`` KV bytes per token (all
layers), ``a`` attention FLOPs per cached token (all layers), ``F`` peak FLOP/s, ``W`` bandwidth
in bytes/s. A multiply-add is 2 FLOPs; a decode step reads every weight once and the whole cache
of every sequence.
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
    run_example,
    run_task,
)
from tokenmath.checks._grading import score as _score

EXERCISE = "09_long_context"
BOUNDS = ("compute", "memory")
MECHANISMS = ("gqa", "window", "fp8")

# Datasheet numbers (dense FLOP/s in the compute dtype, HBM bytes/s): NVIDIA H100 SXM and H200,
# https://www.nvidia.com/en-us/data-center/h100/ , https://www.nvidia.com/en-us/data-center/h200/
H100_BF16 = {"peak_flops": 989e12, "bandwidth": 3.35e12}
H200_FP8 = {"peak_flops": 1979e12, "bandwidth": 4.8e12}
# Shapes from the Hugging Face config.json files (meta-llama/Llama-3.1-8B, Llama-3.1-70B,
# deepseek-ai/DeepSeek-V3); KV bytes per token in bf16: 2 L K h b, MLA L (r_kv + r_rope) b.
LLAMA_8B = {"params": 8.03e9, "kv_bytes_per_token": 131072}
LLAMA_70B = {"params": 70.55e9, "kv_bytes_per_token": 327680}
# DeepSeek-V3: 671.0B total, 37.55B active; absorbed MLA attention does 2 H (2 r_kv + r_rope)
# FLOPs per layer and cached token: 61 x 278,528 over all layers.
DEEPSEEK_V3 = {"total_params": 671.03e9, "active_params": 37.55e9}
DEEPSEEK_ATTN_FLOPS = 61 * 2 * 128 * (2 * 512 + 64)


# Reference solutions -------------------------------------------------------------------------


def doubling_context(params: float, bytes_per_weight: float, kv_bytes_per_token: float,
                     batch: int, peak_flops: float, bandwidth: float) -> float:
    """The context ``S`` at which a step of ``B`` sequences takes twice its empty-cache time.

    ``t(S) = max(2 N B / F, (N b_w + B S k_B) / W)`` (attention FLOPs left out, so compute does
    not grow with ``S``). With ``t0 = t(0)``, memory time reaches ``2 t0`` at
    ``S = (2 t0 W - N b_w) / (B k_B)``: ``N b_w / (B k_B)`` when the empty-cache step is
    memory-bound, later when it is compute-bound.
    """
    t0 = max(2 * params * batch / peak_flops, params * bytes_per_weight / bandwidth)
    return (2 * t0 * bandwidth - params * bytes_per_weight) / (batch * kv_bytes_per_token)


def critical_context(total_params: float, active_params: float, kv_bytes_per_token: float,
                     peak_flops: float, bandwidth: float) -> float:
    """The context past which no batch is compute-bound: ``S* = 2 N_act W / (F k_B)``.

    Per token, compute ``2 N_act / F`` against the KV read ``S k_B / W``; the weight read is
    shared by the batch and vanishes per token as ``B`` grows, so ``N_tot`` plays no part.
    """
    return 2 * active_params * bandwidth / (peak_flops * kv_bytes_per_token)


def bound_at(total_params: float, active_params: float, bytes_per_weight: float,
             kv_bytes_per_token: float, attention_flops_per_key: float, batch: int,
             context: int, peak_flops: float, bandwidth: float) -> str:
    """``"compute"`` or ``"memory"``: the larger of ``B (2 N_act + a S) / F`` and
    ``(N_tot b_w + B S k_B) / W`` (``"compute"`` on a tie)."""
    compute = batch * (2 * active_params + attention_flops_per_key * context) / peak_flops
    memory = (total_params * bytes_per_weight + batch * context * kv_bytes_per_token) / bandwidth
    return "compute" if compute >= memory else "memory"


def _kv_bytes(n_layers: int, kv_heads: int, head_dim: int, context: int, bytes_per_value: float,
              window: int = 0, window_layers: int = 0) -> float:
    """Bytes one sequence's cache holds: ``2 K h b X(S)``, ``X(S) = (L - L_w) S + L_w min(S, w)``
    (a windowed layer keeps only its last ``w`` tokens)."""
    entries = (n_layers - window_layers) * context + window_layers * min(context, window)
    return 2 * kv_heads * head_dim * bytes_per_value * entries


def _sizes(n_layers, n_kv_heads, head_dim, context, gqa_kv_heads, window, window_layers,
           all_layers=False):
    wl = n_layers if all_layers else window_layers
    return {"gqa": _kv_bytes(n_layers, gqa_kv_heads, head_dim, context, 2),
            "window": _kv_bytes(n_layers, n_kv_heads, head_dim, context, 2, window, wl),
            "fp8": _kv_bytes(n_layers, n_kv_heads, head_dim, context, 1)}


def best_kv_mechanism(n_layers: int, n_kv_heads: int, head_dim: int, context: int,
                      gqa_kv_heads: int, window: int, window_layers: int) -> str:
    """The change that leaves the smallest cache per sequence of ``context`` tokens (so fits
    the most sequences): ``"gqa"`` (``n_kv_heads`` -> ``gqa_kv_heads``), ``"window"`` (a
    window of ``window`` tokens on ``window_layers`` of the layers) or ``"fp8"`` (a 1-byte
    cache instead of bf16). The baseline is a bf16 cache of every token in every layer."""
    sizes = _sizes(n_layers, n_kv_heads, head_dim, context, gqa_kv_heads, window, window_layers)
    return min(MECHANISMS, key=lambda k: sizes[k])


def implied_kv_bytes(total_params: float, active_params: float, tier_context: int,
                     peak_flops: float, bandwidth: float) -> float:
    """KV bytes per token whose critical context sits at ``tier_context``:
    ``k_B = 2 N_act W / (F S_tier)`` (the roofline kink of a large batch at the tier)."""
    return 2 * active_params * bandwidth / (peak_flops * tier_context)


def kv_read_seconds(batch: int, context: int, kv_bytes_per_token: float,
                    bandwidth: float) -> float:
    """The worked example (not graded): one step's KV read, ``B S k_B / W``."""
    return batch * context * kv_bytes_per_token / bandwidth


# Random inputs -------------------------------------------------------------------------------


def _random_hw(rng: random.Random) -> dict[str, float]:
    bandwidth = log_uniform(rng, 1e12, 8e12)
    return {"peak_flops": bandwidth * log_uniform(rng, 100, 600), "bandwidth": bandwidth}


def _random_doubling(rng: random.Random) -> dict[str, float]:
    return {"params": log_uniform(rng, 1e9, 4e11),
            "bytes_per_weight": rng.choice([1, 2]),
            "kv_bytes_per_token": rng.choice([32768, 65536, 131072, 163840, 327680]),
            "batch": rng.choice([1, 4, 16, 64, 256, 1024, 2048]),
            **_random_hw(rng)}


def _random_critical(rng: random.Random) -> dict[str, float]:
    total = log_uniform(rng, 7e9, 1.2e12)
    return {"total_params": total,
            "active_params": total * rng.choice([1.0, 0.5, 0.25, 0.1, 0.056]),
            "kv_bytes_per_token": rng.choice([16384, 35136, 70272, 131072, 327680]),
            **_random_hw(rng)}


def _random_bound(rng: random.Random) -> dict[str, float]:
    while True:
        total = log_uniform(rng, 7e9, 1e12)
        case = {"total_params": total,
                "active_params": total * rng.choice([1.0, 0.25, 0.056]),
                "bytes_per_weight": rng.choice([1, 2]),
                "kv_bytes_per_token": rng.choice([35136, 70272, 131072, 327680]),
                "attention_flops_per_key": rng.choice([5.2e5, 2.6e6, 1.7e7]),
                "batch": rng.choice([1, 16, 64, 256, 1024, 4096]),
                "context": rng.choice([128, 1024, 8192, 32768, 131072]),
                **_random_hw(rng)}
        c = case["batch"] * (2 * case["active_params"]
                             + case["attention_flops_per_key"] * case["context"])
        c /= case["peak_flops"]
        m = (case["total_params"] * case["bytes_per_weight"]
             + case["batch"] * case["context"] * case["kv_bytes_per_token"])
        m /= case["bandwidth"]
        if max(c, m) > 1.1 * min(c, m):  # no near ties
            return case


def _random_mechanism(rng: random.Random) -> dict[str, int]:
    while True:
        n_layers = rng.choice([24, 32, 40, 48, 64, 80])
        n_kv = rng.choice([8, 16, 32, 64])
        case = {"n_layers": n_layers,
                "n_kv_heads": n_kv,
                "head_dim": rng.choice([64, 128, 256]),
                "context": rng.choice([2048, 8192, 32768, 131072, 524288]),
                "gqa_kv_heads": n_kv // rng.choice([2, 4, 8]),
                "window": rng.choice([128, 1024, 4096, 8192]),
                "window_layers": rng.choice([n_layers, n_layers // 2, 3 * n_layers // 4])}
        sizes = sorted(_sizes(**case).values())
        if sizes[1] > 1.05 * sizes[0]:  # a clear winner
            return case


def _random_implied(rng: random.Random) -> dict[str, float]:
    total = log_uniform(rng, 3e10, 2e12)
    return {"total_params": total,
            "active_params": total * rng.choice([1.0, 0.25, 0.1, 0.05]),
            "tier_context": rng.choice([32768, 128000, 131072, 200000, 262144, 1000000]),
            **_random_hw(rng)}


# Tasks ---------------------------------------------------------------------------------------


def _no_batch(params, bytes_per_weight, kv_bytes_per_token, batch, peak_flops, bandwidth):
    return params * bytes_per_weight / kv_bytes_per_token


def _always_memory(params, bytes_per_weight, kv_bytes_per_token, batch, peak_flops, bandwidth):
    return params * bytes_per_weight / (batch * kv_bytes_per_token)


def _kv_twice_weights(params, bytes_per_weight, kv_bytes_per_token, batch, peak_flops,
                      bandwidth):
    return doubling_context(params, bytes_per_weight, kv_bytes_per_token, batch, peak_flops,
                            bandwidth) + params * bytes_per_weight / (batch * kv_bytes_per_token)


DOUBLING_CONTEXT = Task(
    name="doubling_context",
    reference=doubling_context,
    cases=[
        # Llama-3.1-70B in bf16 at batch 32: the KV read equals the 141 GB weight read at
        # N b_w / (B k_B) = 13,457 tokens, on any number of H100s (chips cancel).
        Case({**LLAMA_70B, "bytes_per_weight": 2, "batch": 32, **H100_BF16},
             expected=13457, rtol=2e-3,
             source="Llama-3.1-70B bf16, B = 32 (Hugging Face config, H100 datasheet)"),
        # Llama-3.1-8B at batch 512 on an H100: the empty-cache step is compute-bound.
        Case({**LLAMA_8B, "bytes_per_weight": 2, "batch": 512, **H100_BF16}),
        Case({**LLAMA_8B, "bytes_per_weight": 2, "batch": 1, **H100_BF16}),
    ],
    mistakes=[
        Mistake(_no_batch,
                "each of the B sequences reads its own cache: the KV read per step is "
                "B S k_B, so divide by the batch too."),
        Mistake(_always_memory,
                "at this batch the empty-cache step is compute-bound (2 N B / F is longer "
                "than the weight read), so the memory time must reach twice the COMPUTE "
                "time: start from t(0) = max(compute, weights)."),
        Mistake(_kv_twice_weights,
                "twice as long means the whole memory time (weights + KV) reaches 2 t(0), "
                "not that the KV read alone does."),
    ],
    random_cases=_random_doubling,
    n_random=30,
    rtol=0.01,
)


def _total(total_params, active_params, kv_bytes_per_token, peak_flops, bandwidth):
    return critical_context(total_params, total_params, kv_bytes_per_token, peak_flops,
                            bandwidth)


def _one_flop(total_params, active_params, kv_bytes_per_token, peak_flops, bandwidth):
    return critical_context(total_params, active_params / 2, kv_bytes_per_token, peak_flops,
                            bandwidth)


def _inverted(total_params, active_params, kv_bytes_per_token, peak_flops, bandwidth):
    return 2 * active_params * peak_flops / (bandwidth * kv_bytes_per_token)


CRITICAL_CONTEXT = Task(
    name="critical_context",
    reference=critical_context,
    cases=[
        # Per-token compute against per-token KV read on an H100 in bf16 (ridge 295): about
        # 0.4K, 1.5K and 3.6K tokens for Llama-3.1-8B, 70B and DeepSeek-V3 (MLA, 70,272 B).
        Case({"total_params": 8.03e9, "active_params": 8.03e9, "kv_bytes_per_token": 131072,
              **H100_BF16}, expected=415, rtol=0.01,
             source="Llama-3.1-8B bf16 on an H100: S* = 2 N W / (F k_B), about 0.4K"),
        Case({"total_params": 70.55e9, "active_params": 70.55e9,
              "kv_bytes_per_token": 327680, **H100_BF16}, expected=1459, rtol=0.01,
             source="Llama-3.1-70B bf16 on an H100: about 1.5K"),
        Case({**DEEPSEEK_V3, "kv_bytes_per_token": 70272, **H100_BF16}, expected=3620,
             rtol=0.01, source="DeepSeek-V3 (MLA, bf16 cache) on an H100: about 3.6K"),
    ],
    mistakes=[
        Mistake(_total,
                "past the critical context the batch is huge and the weight read is shared "
                "by all of it: only the ACTIVE parameters' compute per token (2 N_act / F) "
                "competes with the KV read."),
        Mistake(_one_flop,
                "a multiply-add is 2 FLOPs: a token costs 2 N_act FLOPs."),
        Mistake(_inverted,
                "check the units: compute per token is 2 N_act / F seconds and the KV read "
                "S k_B / W seconds; solve for S."),
    ],
    random_cases=_random_critical,
    n_random=30,
    rtol=0.01,
)


def _no_attention(total_params, active_params, bytes_per_weight, kv_bytes_per_token,
                  attention_flops_per_key, batch, context, peak_flops, bandwidth):
    return bound_at(total_params, active_params, bytes_per_weight, kv_bytes_per_token, 0,
                    batch, context, peak_flops, bandwidth)


def _no_kv(total_params, active_params, bytes_per_weight, kv_bytes_per_token,
           attention_flops_per_key, batch, context, peak_flops, bandwidth):
    return bound_at(total_params, active_params, bytes_per_weight, 0, attention_flops_per_key,
                    batch, context, peak_flops, bandwidth)


def _active_read(total_params, active_params, bytes_per_weight, kv_bytes_per_token,
                 attention_flops_per_key, batch, context, peak_flops, bandwidth):
    return bound_at(active_params, active_params, bytes_per_weight, kv_bytes_per_token,
                    attention_flops_per_key, batch, context, peak_flops, bandwidth)


_DS_H200 = {**DEEPSEEK_V3, "bytes_per_weight": 1, "kv_bytes_per_token": 35136,
            "attention_flops_per_key": DEEPSEEK_ATTN_FLOPS, **H200_FP8}

BOUND_AT = Task(
    name="bound_at",
    reference=bound_at,
    kind="label",
    labels=BOUNDS,
    cases=[
        # DeepSeek-V3 in fp8 (weights, cache, compute) on H200s: absorbed MLA does 483 FLOPs
        # per byte of fp8 cache, above the H200's fp8 ridge of 412, so a large batch at 32K
        # tokens is compute-bound, and a small one memory-bound.
        Case({**_DS_H200, "batch": 4096, "context": 32768}, expected="compute",
             source="DeepSeek-V3 fp8 on H200s, B = 4,096 at 32K (MLA absorbed attention)"),
        Case({**_DS_H200, "batch": 512, "context": 32768}, expected="memory",
             source="DeepSeek-V3 fp8 on H200s, B = 512 at 32K: weights and KV outlast compute"),
        # Llama-3.1-70B in bf16: memory-bound at B = 64 and 8K; compute-bound at B = 1,024
        # and 512 tokens.
        Case({"total_params": 70.55e9, "active_params": 70.55e9, "bytes_per_weight": 2,
              "kv_bytes_per_token": 327680, "attention_flops_per_key": 2621440,
              "batch": 64, "context": 8192, **H100_BF16}, expected="memory",
             source="Llama-3.1-70B bf16, B = 64 at 8K"),
        Case({"total_params": 70.55e9, "active_params": 70.55e9, "bytes_per_weight": 2,
              "kv_bytes_per_token": 327680, "attention_flops_per_key": 2621440,
              "batch": 1024, "context": 512, **H100_BF16}, expected="compute",
             source="Llama-3.1-70B bf16, B = 1,024 at 512 tokens"),
    ],
    mistakes=[
        Mistake(_no_attention,
                "attention FLOPs grow with the context, a S per token: with MLA's absorbed "
                "attention (about 17 million FLOPs per cached token for DeepSeek-V3) they "
                "can make a long-context step compute-bound."),
        Mistake(_no_kv,
                "the step also reads every sequence's cache, B S k_B bytes: at long context "
                "that read, not the weights, sets the memory time."),
        Mistake(_active_read,
                "a large batch routes its tokens to nearly every expert: the step reads all "
                "N_tot weights, not only the N_act one token uses."),
    ],
    random_cases=_random_bound,
    n_random=40,
)


def _all_layers(n_layers, n_kv_heads, head_dim, context, gqa_kv_heads, window, window_layers):
    sizes = _sizes(n_layers, n_kv_heads, head_dim, context, gqa_kv_heads, window,
                   window_layers, all_layers=True)
    return min(MECHANISMS, key=lambda k: sizes[k])


def _per_token(n_layers, n_kv_heads, head_dim, context, gqa_kv_heads, window, window_layers):
    # compares KV bytes per token, where a window saves nothing
    return "gqa" if gqa_kv_heads * 2 < n_kv_heads else "fp8"


BEST_KV_MECHANISM = Task(
    name="best_kv_mechanism",
    reference=best_kv_mechanism,
    kind="label",
    labels=MECHANISMS,
    cases=[
        # Mistral 7B (32 layers, 8 KV heads of 128, window 4,096 on every layer): at 32K the
        # rolling buffer cache is 8x smaller (Mistral 7B paper, arXiv 2310.06825, sec. 2),
        # more than 4x (GQA to 2 heads) or 2x (fp8).
        Case({"n_layers": 32, "n_kv_heads": 8, "head_dim": 128, "context": 32768,
              "gqa_kv_heads": 2, "window": 4096, "window_layers": 32}, expected="window",
             source="Mistral 7B, arXiv 2310.06825: 8x less cache at 32K tokens"),
        # The same at 4K: the window keeps every token, so it saves nothing.
        Case({"n_layers": 32, "n_kv_heads": 8, "head_dim": 128, "context": 4096,
              "gqa_kv_heads": 2, "window": 4096, "window_layers": 32}, expected="gqa",
             source="Mistral 7B shape at 4K: a 4,096-token window keeps everything"),
        # Gemma-2-9B (42 layers, 8 KV heads of 256, window 4,096 on 21 layers; arXiv
        # 2408.00118): at 128K the half-windowed cache is 0.52 of the full one, fp8 is 0.5.
        Case({"n_layers": 42, "n_kv_heads": 8, "head_dim": 256, "context": 131072,
              "gqa_kv_heads": 8, "window": 4096, "window_layers": 21}, expected="fp8",
             source="Gemma-2-9B shape at 128K: windows on half the layers save under half"),
    ],
    mistakes=[
        Mistake(_all_layers,
                "the window applies only to window_layers of the layers; the others keep "
                "every token, so the cache can shrink at most to their share."),
        Mistake(_per_token,
                "a window does not change the KV bytes per token, it caps how many tokens a "
                "layer keeps: compare the whole cache at this context."),
    ],
    random_cases=_random_mechanism,
    n_random=40,
)


def _implied_total(total_params, active_params, tier_context, peak_flops, bandwidth):
    return implied_kv_bytes(total_params, total_params, tier_context, peak_flops, bandwidth)


def _implied_one_flop(total_params, active_params, tier_context, peak_flops, bandwidth):
    return implied_kv_bytes(total_params, active_params / 2, tier_context, peak_flops,
                            bandwidth)


IMPLIED_KV_BYTES = Task(
    name="implied_kv_bytes",
    reference=implied_kv_bytes,
    cases=[
        # Pope's estimate on the Dwarkesh Podcast (https://www.dwarkesh.com/p/reiner-pope):
        # 100B active parameters, the 200K tier, a ratio of 300 in fp8 (F/W = 600 FLOP/B):
        # about 1.7 kB per token. In bf16 on an H100 (F/W = 295): about 3.4 kB.
        Case({"total_params": 1e12, "active_params": 1e11, "tier_context": 200000,
              "peak_flops": 600 * 3.35e12, "bandwidth": 3.35e12}, expected=1667, rtol=0.01,
             source="Pope on the Dwarkesh Podcast, 2026: about 1,667 bytes per token"),
        Case({"total_params": 1e12, "active_params": 1e11, "tier_context": 200000,
              **H100_BF16}, expected=3387, rtol=0.01,
             source="the same in bf16 on an H100 datasheet: about 3.4 kB"),
    ],
    mistakes=[
        Mistake(_implied_total,
                "at the large batch the tier is about, the weight read is shared: only the "
                "ACTIVE parameters' compute per token, 2 N_act / F, meets the KV read."),
        Mistake(_implied_one_flop,
                "a multiply-add is 2 FLOPs: a token costs 2 N_act FLOPs."),
    ],
    random_cases=_random_implied,
    n_random=30,
    rtol=0.01,
)

TASKS = [DOUBLING_CONTEXT, CRITICAL_CONTEXT, BOUND_AT, BEST_KV_MECHANISM, IMPLIED_KV_BYTES]
SOLUTIONS: dict[str, Callable[..., object]] = {t.name: t.reference for t in TASKS}

#: The worked example of the page: not a task, never counted in the score.
EXAMPLE = Task(
    name="kv_read_seconds",
    reference=kv_read_seconds,
    cases=[Case({"batch": 16, "context": 32768, "kv_bytes_per_token": 131072,
                 "bandwidth": 4.8e12}, expected=16 * 32768 * 131072 / 4.8e12,
                source="Llama-3.1-8B in bf16 on an H200, B = 16 at 32K: 14.3 ms")],
    mistakes=[
        Mistake(lambda batch, context, kv_bytes_per_token, bandwidth:
                context * kv_bytes_per_token / bandwidth,
                "each of the B sequences reads its own cache: multiply by the batch."),
        Mistake(lambda batch, context, kv_bytes_per_token, bandwidth:
                batch * kv_bytes_per_token / bandwidth,
                "a step reads every cached token, S of them per sequence."),
    ],
    rtol=1e-3,
)


def check_doubling_context(fn: Callable[..., float] | None = None) -> CheckResult:
    """Check ``doubling_context(params, bytes_per_weight, kv_bytes_per_token, batch,
    peak_flops, bandwidth)``."""
    return report(run_task(EXERCISE, DOUBLING_CONTEXT, fn))


def check_critical_context(fn: Callable[..., float] | None = None) -> CheckResult:
    """Check ``critical_context(total_params, active_params, kv_bytes_per_token, peak_flops,
    bandwidth)``."""
    return report(run_task(EXERCISE, CRITICAL_CONTEXT, fn))


def check_bound_at(fn: Callable[..., str] | None = None) -> CheckResult:
    """Check ``bound_at(total_params, active_params, bytes_per_weight, kv_bytes_per_token,
    attention_flops_per_key, batch, context, peak_flops, bandwidth)``."""
    return report(run_task(EXERCISE, BOUND_AT, fn))


def check_best_kv_mechanism(fn: Callable[..., str] | None = None) -> CheckResult:
    """Check ``best_kv_mechanism(n_layers, n_kv_heads, head_dim, context, gqa_kv_heads,
    window, window_layers)``."""
    return report(run_task(EXERCISE, BEST_KV_MECHANISM, fn))


def check_implied_kv_bytes(fn: Callable[..., float] | None = None) -> CheckResult:
    """Check ``implied_kv_bytes(total_params, active_params, tier_context, peak_flops,
    bandwidth)``."""
    return report(run_task(EXERCISE, IMPLIED_KV_BYTES, fn))


def check_example(fn: Callable[..., float]) -> CheckResult:
    """The page's worked example: check ``kv_read_seconds`` without counting it."""
    return run_example(EXERCISE, EXAMPLE, fn)


def score() -> tuple[int, int]:
    """Print the reader's score for this exercise: tasks passed out of tasks."""
    return _score(EXERCISE, TASKS)

