"""Checks for ``exercises/05_decode_step``: the regime of a decode step, the fewest chips that
meet a latency target, which step-time form fits a measured step, and the critical context.

Symbols: ``B`` batch, ``S`` context, ``N`` parameters, ``b_w`` bytes per weight, ``k_B`` KV bytes
per token (all layers), ``F`` peak FLOP/s, ``W`` bandwidth in bytes/s, ``C`` HBM bytes per chip.
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

EXERCISE = "05_decode_step"
REGIMES = ("compute", "weights", "kv")
FORMS = ("overlap", "separate")

# Datasheet numbers (dense bf16 FLOP/s, HBM bytes/s, HBM bytes) used by the published cases.
H200 = {"peak_flops": 989e12, "bandwidth": 4.8e12}
H100 = {"peak_flops": 989e12, "bandwidth": 3.35e12}
A100 = {"peak_flops": 312e12, "bandwidth": 2.039e12}
# Llama-3-8B: 8.03e9 parameters, 131,072 KV bytes per token in bf16.
LLAMA_8B = {"params": 8.03e9, "kv_bytes_per_token": 131072, "bytes_per_weight": 2}


# Reference solutions -------------------------------------------------------------------------


def _terms(batch, context, params, kv_bytes_per_token, bytes_per_weight, peak_flops,
           bandwidth):
    compute = 2 * params * batch / peak_flops
    weights = params * bytes_per_weight / bandwidth
    kv = batch * context * kv_bytes_per_token / bandwidth
    return compute, weights, kv


def _largest(compute: float, weights: float, kv: float) -> str:
    times = {"compute": compute, "weights": weights, "kv": kv}
    return max(times, key=times.get)


def step_regime(batch: int, context: int, params: float, kv_bytes_per_token: float,
                bytes_per_weight: float, peak_flops: float, bandwidth: float) -> str:
    """The largest of the three terms of a dense decode step: ``"compute"`` (``2 N B / F``),
    ``"weights"`` (``N b_w / W``) or ``"kv"`` (``B S k_B / W``)."""
    return _largest(*_terms(batch, context, params, kv_bytes_per_token, bytes_per_weight,
                            peak_flops, bandwidth))


def _ceil_ratio(a: float, b: float) -> int:
    n = max(1, math.ceil(a / b))
    while n * b < a:
        n += 1
    while n > 1 and (n - 1) * b >= a:
        n -= 1
    return n


def fewest_chips(total_params: float, active_params: float, bytes_per_weight: float,
                 bandwidth: float, hbm_bytes: float, target_s: float) -> int:
    """Fewest chips whose weight-read floor ``N b_w / (n W)`` is at most ``target_s`` and whose
    HBM holds the weights, ``n C >= N b_w``, with ``N`` the total parameters (a large batch
    touches every expert)."""
    weight_bytes = total_params * bytes_per_weight
    return max(_ceil_ratio(weight_bytes, bandwidth * target_s),
               _ceil_ratio(weight_bytes, hbm_bytes))


def _forms(flops, weight_bytes, kv_bytes, peak_flops, bandwidth):
    compute, weights, kv = flops / peak_flops, weight_bytes / bandwidth, kv_bytes / bandwidth
    return max(compute, weights + kv), kv + max(compute, weights)


def _closer(overlap: float, separate: float, measured_s: float) -> str:
    if abs(measured_s - separate) < abs(measured_s - overlap):
        return "separate"
    return "overlap"


def better_form(flops: float, weight_bytes: float, kv_bytes: float, peak_flops: float,
                bandwidth: float, measured_s: float) -> str:
    """``"overlap"`` (``max(compute, weights + KV)``) or ``"separate"``
    (``KV + max(compute, weights)``): the form whose prediction is closer to ``measured_s``
    in seconds; ``"overlap"`` on a tie."""
    overlap, separate = _forms(flops, weight_bytes, kv_bytes, peak_flops, bandwidth)
    return _closer(overlap, separate, measured_s)


def critical_context(matmul_params: float, n_layers: int, n_q_heads: int, n_kv_heads: int,
                     head_dim: int, bytes_per_kv: float, peak_flops: float,
                     bandwidth: float) -> float:
    """``S*`` where KV read time per token meets compute time per token:
    ``(2 N_mm / F) / (k_B / W - 4 L n_q h / F)`` with ``k_B = 2 L n_kv h b``."""
    k_b = 2 * n_layers * n_kv_heads * head_dim * bytes_per_kv
    attn = 4 * n_layers * n_q_heads * head_dim
    return (2 * matmul_params / peak_flops) / (k_b / bandwidth - attn / peak_flops)


def tokens_per_second(batch: int, step_s: float) -> float:
    """The worked example (not graded): a decode step makes one token per sequence."""
    return batch / step_s


# Random inputs -------------------------------------------------------------------------------


def _random_hw(rng: random.Random) -> dict[str, float]:
    bandwidth = log_uniform(rng, 1e12, 8e12)
    return {"peak_flops": bandwidth * log_uniform(rng, 60, 600), "bandwidth": bandwidth}


def _random_regime(rng: random.Random) -> dict[str, float]:
    while True:
        case = {
            "batch": rng.choice([1, 2, 8, 16, 32, 64, 128, 256, 512, 1024]),
            "context": rng.choice([128, 512, 2048, 8192, 32768, 131072]),
            "params": log_uniform(rng, 1e9, 1e11),
            "kv_bytes_per_token": rng.choice([32768, 65536, 131072, 163840, 327680]),
            "bytes_per_weight": rng.choice([1, 2]),
            **_random_hw(rng),
        }
        times = sorted(_terms(**case))
        if times[2] > 1.1 * times[1]:  # no near ties
            return case


def _random_chips(rng: random.Random) -> dict[str, float]:
    total = log_uniform(rng, 7e9, 1.2e12)
    return {
        "total_params": total,
        "active_params": total * rng.choice([1.0, 0.5, 0.25, 0.1, 0.055]),
        "bytes_per_weight": rng.choice([0.5, 1, 2]),
        "bandwidth": log_uniform(rng, 1e12, 8e12),
        "hbm_bytes": rng.choice([24e9, 80e9, 141e9, 192e9]),
        "target_s": log_uniform(rng, 2e-3, 0.1),
    }


def _random_forms(rng: random.Random) -> dict[str, float]:
    while True:
        hw = _random_hw(rng)
        weights = log_uniform(rng, 1e-3, 2e-2)
        compute = weights * (log_uniform(rng, 1.1, 4) if rng.random() < 0.8
                             else log_uniform(rng, 0.2, 0.9))
        kv = weights * log_uniform(rng, 0.1, 3)
        overlap, separate = max(compute, weights + kv), kv + max(compute, weights)
        measured = rng.choice([overlap, separate]) * log_uniform(rng, 0.95, 1.4)
        if separate <= overlap or abs(abs(measured - overlap) - abs(measured - separate)) \
                > 0.05 * measured:
            return {"flops": compute * hw["peak_flops"],
                    "weight_bytes": weights * hw["bandwidth"],
                    "kv_bytes": kv * hw["bandwidth"], **hw, "measured_s": measured}


def _random_critical(rng: random.Random) -> dict[str, float]:
    while True:
        n_kv = rng.choice([1, 2, 4, 8, 16])
        case = {
            "matmul_params": log_uniform(rng, 1e9, 4e11),
            "n_layers": rng.choice([16, 24, 32, 40, 60, 80, 126]),
            "n_q_heads": n_kv * rng.choice([1, 2, 4, 8, 16]),
            "n_kv_heads": n_kv,
            "head_dim": rng.choice([64, 128]),
            "bytes_per_kv": rng.choice([1, 2]),
            **_random_hw(rng),
        }
        if critical_context(**case) > 0:  # KV bytes per key outpace attention FLOPs
            return case


# Tasks ---------------------------------------------------------------------------------------


def _no_batch_on_kv(batch, context, params, kv_bytes_per_token, bytes_per_weight, peak_flops,
                    bandwidth):
    c, w, _ = _terms(batch, context, params, kv_bytes_per_token, bytes_per_weight, peak_flops,
                     bandwidth)
    return _largest(c, w, context * kv_bytes_per_token / bandwidth)


def _weights_per_sequence(batch, context, params, kv_bytes_per_token, bytes_per_weight,
                          peak_flops, bandwidth):
    c, w, k = _terms(batch, context, params, kv_bytes_per_token, bytes_per_weight, peak_flops,
                     bandwidth)
    return _largest(c, batch * w, k)


def _one_flop(batch, context, params, kv_bytes_per_token, bytes_per_weight, peak_flops,
              bandwidth):
    c, w, k = _terms(batch, context, params, kv_bytes_per_token, bytes_per_weight, peak_flops,
                     bandwidth)
    return _largest(c / 2, w, k)


def _memory_as_one(batch, context, params, kv_bytes_per_token, bytes_per_weight, peak_flops,
                   bandwidth):
    c, w, k = _terms(batch, context, params, kv_bytes_per_token, bytes_per_weight, peak_flops,
                     bandwidth)
    if c >= w + k:
        return "compute"
    return "weights" if w >= k else "kv"


STEP_REGIME = Task(
    name="step_regime",
    reference=step_regime,
    kind="label",
    labels=REGIMES,
    cases=[
        # Rows of the chapter's H200 table, Llama-3-8B in bf16, datasheet numbers.
        Case({"batch": 1, "context": 512, **LLAMA_8B, **H200}, expected="weights",
             source="Llama-3-8B, B = 1, S = 512 on an H200: 3.3 ms of weights"),
        Case({"batch": 16, "context": 32768, **LLAMA_8B, **H200}, expected="kv",
             source="Llama-3-8B, B = 16, S = 32768 on an H200: 14 ms of KV reads"),
        Case({"batch": 256, "context": 512, **LLAMA_8B, **H200}, expected="compute",
             source="Llama-3-8B, B = 256, S = 512 on an H200: 4.2 ms of compute"),
        Case({"batch": 64, "context": 2048, **LLAMA_8B, **H100}),
        Case({"batch": 512, "context": 128, **LLAMA_8B, **H100}),
    ],
    mistakes=[
        Mistake(_no_batch_on_kv,
                "every sequence reads its own cache: the KV term is B S k_B bytes, not S k_B."),
        Mistake(_weights_per_sequence,
                "the weights are read once per step and shared by the whole batch: N b_w "
                "bytes, not B N b_w."),
        Mistake(_one_flop,
                "a multiply-add is 2 FLOPs: a token costs 2 N FLOPs, the batch 2 N B."),
        Mistake(_memory_as_one,
                "you compared compute with weights + KV together. The task asks for the "
                "largest of the three terms on its own."),
    ],
    random_cases=_random_regime,
    n_random=30,
)


FEWEST_CHIPS = Task(
    name="fewest_chips",
    reference=fewest_chips,
    kind="integer",
    cases=[
        # DeepSeek-V3 in fp8 (671.0B total, 37.6B active) on H200s (4.8 TB/s, 141 GB).
        Case({"total_params": 671.03e9, "active_params": 37.55e9, "bytes_per_weight": 1,
              "bandwidth": 4.8e12, "hbm_bytes": 141e9, "target_s": 0.020}, expected=7,
             source="DeepSeek-V3 fp8 on H200s, 20 ms: 671 GB / (4.8 TB/s x 20 ms) = 6.99"),
        Case({"total_params": 671.03e9, "active_params": 37.55e9, "bytes_per_weight": 1,
              "bandwidth": 4.8e12, "hbm_bytes": 141e9, "target_s": 0.010}, expected=14,
             source="DeepSeek-V3 fp8 on H200s, 10 ms"),
        # Llama-3-70B in bf16 (141 GB) on H200s, 50 ms: the floor allows 1 chip, HBM does not.
        Case({"total_params": 70.55e9, "active_params": 70.55e9, "bytes_per_weight": 2,
              "bandwidth": 4.8e12, "hbm_bytes": 141e9, "target_s": 0.050}, expected=2,
             source="Llama-3-70B bf16 is 141.1 GB: one 141 GB H200 cannot hold it"),
    ],
    mistakes=[
        Mistake(lambda total_params, active_params, bytes_per_weight, bandwidth, hbm_bytes,
                target_s: max(_ceil_ratio(active_params * bytes_per_weight,
                                          bandwidth * target_s),
                              _ceil_ratio(total_params * bytes_per_weight, hbm_bytes)),
                "total, not active, parameters: once the batch touches every expert, a step "
                "reads all of them."),
        Mistake(lambda total_params, active_params, bytes_per_weight, bandwidth, hbm_bytes,
                target_s: _ceil_ratio(total_params * bytes_per_weight, bandwidth * target_s),
                "the chips must also hold the weights: n C >= N b_w can need more chips than "
                "the latency target does."),
        Mistake(lambda total_params, active_params, bytes_per_weight, bandwidth, hbm_bytes,
                target_s: max(1, int(total_params * bytes_per_weight
                                     / (bandwidth * target_s)),
                              int(total_params * bytes_per_weight / hbm_bytes)),
                "round UP: a fraction of a chip is a whole chip, and the whole number below "
                "misses the target. int() rounds down."),
        Mistake(lambda total_params, active_params, bytes_per_weight, bandwidth, hbm_bytes,
                target_s: _ceil_ratio(total_params * bytes_per_weight, hbm_bytes),
                "holding the weights is not enough: the time to read them, N b_w / (n W), "
                "must also be within the target."),
    ],
    random_cases=_random_chips,
    n_random=30,
)


def _serial(flops, weight_bytes, kv_bytes, peak_flops, bandwidth, measured_s):
    overlap, _ = _forms(flops, weight_bytes, kv_bytes, peak_flops, bandwidth)
    serial = (flops / peak_flops + (weight_bytes + kv_bytes) / bandwidth)
    return _closer(overlap, serial, measured_s)


BETTER_FORM = Task(
    name="better_form",
    reference=better_form,
    kind="label",
    labels=FORMS,
    cases=[
        # The stored H200 sweep, B = 256, S = 2048 (Llama-3-8B, bf16), with the bandwidth and
        # FLOP/s measured on the card: the step took 29.5 ms.
        Case({"flops": 256 * 2 * 7.505e9 + 256 * 2048 * 4 * 32 * 32 * 128,
              "weight_bytes": 15.01e9, "kv_bytes": 68.75e9, "peak_flops": 773e12,
              "bandwidth": 4.25e12, "measured_s": 29.51e-3}, expected="separate",
             source="stored H200 sweep, B = 256, S = 2048: 29.5 ms measured"),
        # B = 16, S = 512: compute is below the weight time, the two forms agree.
        Case({"flops": 16 * 2 * 7.505e9, "weight_bytes": 15.01e9, "kv_bytes": 1.08e9,
              "peak_flops": 773e12, "bandwidth": 4.25e12, "measured_s": 6.15e-3},
             expected="overlap", source="stored H200 sweep, B = 16, S = 512: forms agree"),
    ],
    mistakes=[
        Mistake(lambda **kw: "overlap" if better_form(**kw) == "separate" else "separate",
                "the answers are swapped: return the form whose prediction is CLOSER to the "
                "measured time."),
        Mistake(_serial,
                "the separate form still overlaps compute with the weight reads: it is "
                "KV + max(compute, weights), not compute + weights + KV."),
        Mistake(lambda flops, weight_bytes, kv_bytes, peak_flops, bandwidth, measured_s:
                "separate" if flops / peak_flops > weight_bytes / bandwidth else "overlap",
                "the forms differ only when compute outlasts the weight reads, but which fits "
                "is decided by the measurement: compare both predictions with measured_s."),
    ],
    random_cases=_random_forms,
    n_random=30,
)


def _no_attention(matmul_params, n_layers, n_q_heads, n_kv_heads, head_dim, bytes_per_kv,
                  peak_flops, bandwidth):
    k_b = 2 * n_layers * n_kv_heads * head_dim * bytes_per_kv
    return 2 * matmul_params * bandwidth / (peak_flops * k_b)


CRITICAL_CONTEXT = Task(
    name="critical_context",
    reference=critical_context,
    cases=[
        # Llama-3-8B (N_matmul = 7.505e9, L = 32, n_q = 32, n_kv = 8, h = 128) in bf16 on an
        # H200: tokenmath.roofline.critical_context gives 567 tokens.
        Case({"matmul_params": 7.505e9, "n_layers": 32, "n_q_heads": 32, "n_kv_heads": 8,
              "head_dim": 128, "bytes_per_kv": 2, **H200}),
        # Llama-3-70B on an A100 80GB: attention does 8 FLOPs per byte of cache against a ridge
        # of 153, so leaving the attention FLOPs out is 5 % off.
        Case({"matmul_params": 69.50e9, "n_layers": 80, "n_q_heads": 64, "n_kv_heads": 8,
              "head_dim": 128, "bytes_per_kv": 2, **A100}),
        # Llama-3-70B with an int8 cache on an H100: attention's 16 FLOP/byte matter more.
        Case({"matmul_params": 69.50e9, "n_layers": 80, "n_q_heads": 64, "n_kv_heads": 8,
              "head_dim": 128, "bytes_per_kv": 1, **H100}),
    ],
    mistakes=[
        Mistake(_no_attention,
                "that is S* without the attention FLOPs (2 N W / (F k_B)). Each cached token "
                "also costs 4 L n_q h FLOPs, and they push S* out: subtract them per token."),
        Mistake(lambda matmul_params, n_layers, n_q_heads, n_kv_heads, head_dim, bytes_per_kv,
                peak_flops, bandwidth: critical_context(matmul_params, n_layers, n_q_heads,
                                                        n_q_heads, head_dim, bytes_per_kv,
                                                        peak_flops, bandwidth),
                "the cache holds KV heads, not query heads: k_B = 2 L n_kv h b."),
        Mistake(lambda matmul_params, n_layers, n_q_heads, n_kv_heads, head_dim, bytes_per_kv,
                peak_flops, bandwidth: critical_context(matmul_params, n_layers, n_q_heads,
                                                        n_kv_heads, head_dim,
                                                        bytes_per_kv / 2, peak_flops,
                                                        bandwidth),
                "each layer caches a key AND a value per KV head: k_B = 2 L n_kv h b."),
        Mistake(lambda matmul_params, n_layers, n_q_heads, n_kv_heads, head_dim, bytes_per_kv,
                peak_flops, bandwidth: critical_context(matmul_params, 1, n_q_heads,
                                                        n_kv_heads, head_dim, bytes_per_kv,
                                                        peak_flops, bandwidth),
                "every layer has its own cache and its own attention: multiply both per-key "
                "terms by L."),
    ],
    random_cases=_random_critical,
    rtol=0.005,
)

TASKS = [STEP_REGIME, FEWEST_CHIPS, BETTER_FORM, CRITICAL_CONTEXT]
SOLUTIONS: dict[str, Callable[..., object]] = {t.name: t.reference for t in TASKS}

#: The worked example of the page: not a task, never counted in the score.
EXAMPLE = Task(
    name="tokens_per_second",
    reference=tokens_per_second,
    cases=[Case({"batch": 64, "step_s": 7.39e-3}, expected=64 / 7.39e-3,
                source="stored H200 sweep, B = 64, S = 512")],
    mistakes=[
        Mistake(lambda batch, step_s: 1 / step_s,
                "a decode step makes one token for EACH of the B sequences: B / step_s."),
        Mistake(lambda batch, step_s: step_s / batch,
                "upside down: that is seconds per token."),
    ],
    rtol=1e-3,
)


def check_step_regime(fn: Callable[..., str] | None = None) -> CheckResult:
    """Check ``step_regime(batch, context, params, kv_bytes_per_token, bytes_per_weight,
    peak_flops, bandwidth)``."""
    return report(run_task(EXERCISE, STEP_REGIME, fn))


def check_fewest_chips(fn: Callable[..., int] | None = None) -> CheckResult:
    """Check ``fewest_chips(total_params, active_params, bytes_per_weight, bandwidth,
    hbm_bytes, target_s)``."""
    return report(run_task(EXERCISE, FEWEST_CHIPS, fn))


def check_better_form(fn: Callable[..., str] | None = None) -> CheckResult:
    """Check ``better_form(flops, weight_bytes, kv_bytes, peak_flops, bandwidth, measured_s)``."""
    return report(run_task(EXERCISE, BETTER_FORM, fn))


def check_critical_context(fn: Callable[..., float] | None = None) -> CheckResult:
    """Check ``critical_context(matmul_params, n_layers, n_q_heads, n_kv_heads, head_dim,
    bytes_per_kv, peak_flops, bandwidth)``."""
    return report(run_task(EXERCISE, CRITICAL_CONTEXT, fn))


def check_example(fn: Callable[..., float]) -> CheckResult:
    """The page's worked example: check ``tokens_per_second`` without counting it."""
    return run_example(EXERCISE, EXAMPLE, fn)


def score() -> tuple[int, int]:
    """Print the reader's score for this exercise: tasks passed out of tasks."""
    return _score(EXERCISE, TASKS)
