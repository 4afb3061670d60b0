"""Checks for ``exercises/06_chasing_the_roofline``: the regime of a measured step, a fixed
cost per step fitted on three steps and used to predict a fourth, the rung of the ladder that
removes a given cost, and the MBU of a measured step.

Symbols: ``C`` FLOPs of a step, ``M`` bytes it reads, ``F`` FLOP/s and ``W`` bytes/s the card
reaches, ``t0`` fixed cost per step, ``B`` batch, ``S`` context, ``k_B`` KV bytes per token.
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

EXERCISE = "06_chasing_the_roofline"
REGIMES = ("compute", "memory", "overhead")
RUNGS = ("graph", "compiled", "split_kv", "none")

#: The costs of a decode step that task 3 asks about, and the lowest rung that removes each.
COSTS = {
    "cpu_launch": "graph",  # Python launching kernels one at a time from the CPU
    "small_kernels": "compiled",  # the start and end of hundreds of tiny kernels, even replayed
    "idle_sms": "split_kv",  # one block per (sequence, KV head) pair at batch 1, long context
    "weight_bytes": "none",  # reading every weight once per step
    "kv_bytes": "none",  # reading every sequence's cache once per step
    "copy_ceiling": "none",  # HBM reaching ~88 % of the datasheet even for a plain copy
}


# Reference solutions -------------------------------------------------------------------------


def regime(flops: float, bytes_moved: float, step_time_s: float, peak_flops: float,
           bandwidth: float) -> str:
    """The largest of ``C / F``, ``M / W`` and ``t - max(C / F, M / W)``."""
    compute_s, memory_s = flops / peak_flops, bytes_moved / bandwidth
    overhead_s = step_time_s - max(compute_s, memory_s)
    if overhead_s > max(compute_s, memory_s):
        return "overhead"
    return "compute" if compute_s >= memory_s else "memory"


def predict_with_t0(roofline_s: list[float], measured_s: list[float],
                    roofline_next_s: float) -> float:
    """``roofline_next_s + t0`` with ``t0 = mean(measured - roofline)`` over the given steps."""
    t0 = sum(m - r for m, r in zip(measured_s, roofline_s)) / len(roofline_s)
    return roofline_next_s + t0


def rung_for(cost: str) -> str:
    """The lowest rung of the ladder that removes ``cost`` (``"none"``: no rung does)."""
    return COSTS[cost]


def mbu(weight_bytes: float, kv_bytes_per_token: float, batch: int, context: int,
        step_time_s: float, bandwidth: float) -> float:
    """``(weights + B S k_B) / t / W``, a fraction."""
    return (weight_bytes + batch * context * kv_bytes_per_token) / step_time_s / bandwidth


def achieved_bandwidth(bytes_read: float, step_time_s: float) -> float:
    """The worked example (not graded): bytes per second a step reads."""
    return bytes_read / step_time_s


# Random inputs -------------------------------------------------------------------------------


def _random_regime(rng: random.Random) -> dict[str, float]:
    peak, bandwidth = log_uniform(rng, 1e14, 2e15), log_uniform(rng, 1e12, 8e12)
    compute_s, memory_s = log_uniform(rng, 1e-5, 1e-1), log_uniform(rng, 1e-4, 1e-1)
    step = max(compute_s, memory_s) * log_uniform(rng, 1.05, 5)
    return {"flops": compute_s * peak, "bytes_moved": memory_s * bandwidth,
            "step_time_s": step, "peak_flops": peak, "bandwidth": bandwidth}


def _random_predict(rng: random.Random) -> dict[str, object]:
    t0 = log_uniform(rng, 2e-4, 1e-2)
    roof = [log_uniform(rng, 1e-3, 5e-3) for _ in range(3)]
    measured = [r + t0 * rng.uniform(0.9, 1.1) for r in roof]
    return {"roofline_s": roof, "measured_s": measured,
            "roofline_next_s": max(roof) * log_uniform(rng, 3, 20)}


def _random_cost(rng: random.Random) -> dict[str, str]:
    return {"cost": rng.choice(sorted(COSTS))}


def _random_mbu(rng: random.Random) -> dict[str, float]:
    bandwidth = log_uniform(rng, 3e11, 8e12)
    weight_bytes = log_uniform(rng, 1e9, 2e11)
    kv = rng.choice([32768, 131072, 163840, 327680])
    batch, context = rng.choice([1, 4, 16, 64, 256]), rng.choice([512, 2048, 8192, 32768])
    moved = weight_bytes + batch * context * kv
    return {"weight_bytes": weight_bytes, "kv_bytes_per_token": kv, "batch": batch,
            "context": context, "step_time_s": moved / bandwidth / rng.uniform(0.3, 0.85),
            "bandwidth": bandwidth}


# Tasks ---------------------------------------------------------------------------------------

# Chapter 6's H200 (NVIDIA-H200*.json): measured rates and Llama-3-8B steps.
_H200 = {"peak_flops": 773.15e12, "bandwidth": 4.252e12}
_FLOPS_B1_S512 = 1.61e10  # about 2 N + attention, one token

REGIME = Task(
    name="regime",
    reference=regime,
    kind="label",
    labels=REGIMES,
    cases=[
        Case({**_H200, "flops": _FLOPS_B1_S512, "bytes_moved": 15.077e9,
              "step_time_s": 11.70e-3}, expected="overhead",
             source="chapter 6: H200, eager, B = 1, S = 512 (11.70 ms)"),
        Case({**_H200, "flops": _FLOPS_B1_S512, "bytes_moved": 15.077e9,
              "step_time_s": 5.55e-3}, expected="memory",
             source="chapter 6: H200, CUDA graph, B = 1, S = 512 (5.55 ms)"),
        Case({**_H200, "flops": 1.4056e14, "bytes_moved": 16.06e9, "step_time_s": 0.2594},
             expected="compute", source="chapter 6: H200 prefill of 8,192 tokens"),
        Case({**_H200, "flops": 16 * 1.63e10, "bytes_moved": 83.73e9,
              "step_time_s": 22.27e-3}, expected="memory",
             source="chapter 6: H200, CUDA graph, B = 16, S = 32,768"),
        # small step, compute above memory, but the fixed cost dwarfs both
        Case({**_H200, "flops": 2e12, "bytes_moved": 4e9, "step_time_s": 12e-3}),
    ],
    mistakes=[
        Mistake(lambda flops, bytes_moved, step_time_s, peak_flops, bandwidth:
                "compute" if flops / peak_flops >= bytes_moved / bandwidth else "memory",
                "the roofline's two terms are not the whole story: compare the time left "
                "over, step_time_s - max(compute, memory), with them too. A step that "
                "spends most of its time on neither is in the overhead regime."),
        Mistake(lambda flops, bytes_moved, step_time_s, peak_flops, bandwidth:
                "overhead" if step_time_s > max(flops / peak_flops, bytes_moved / bandwidth)
                else regime(flops, bytes_moved, step_time_s, peak_flops, bandwidth),
                "every measured step is above its roofline: that alone does not make it "
                "overhead-bound. The left-over time must be the LARGEST of the three terms."),
        Mistake(lambda flops, bytes_moved, step_time_s, peak_flops, bandwidth:
                {"compute": "memory", "memory": "compute", "overhead": "overhead"}[
                    regime(flops, bytes_moved, step_time_s, peak_flops, bandwidth)],
                "compute and memory are swapped: the step is bound by the resource whose "
                "time is LONGER."),
    ],
    random_cases=_random_regime,
)

PREDICT_WITH_T0 = Task(
    name="predict_with_t0",
    reference=predict_with_t0,
    cases=[
        # Chapter 6's fit: (B, S) = (1, 512), (1, 2048), (4, 512) of the graph-mode sweep;
        # predict B = 64, S = 2048 (calibrated roofline 7.57 ms, measured 10.40 ms).
        Case({"roofline_s": [3.55e-3, 3.59e-3, 3.59e-3],
              "measured_s": [5.55e-3, 5.69e-3, 5.86e-3], "roofline_next_s": 7.57e-3},
             expected=9.69e-3, rtol=0.005,
             source="chapter 6: H200 sweep, t0 = 2.12 ms; B = 64, S = 2048"),
        Case({"roofline_s": [1e-3, 2e-3, 3e-3], "measured_s": [2e-3, 3e-3, 4e-3],
              "roofline_next_s": 10e-3}, expected=11e-3,
             source="arithmetic: t0 = 1 ms exactly"),
    ],
    mistakes=[
        Mistake(lambda roofline_s, measured_s, roofline_next_s:
                roofline_next_s * sum(m / r for m, r in zip(measured_s, roofline_s))
                / len(roofline_s),
                "the fixed cost is ADDED to the roofline, not a factor it is multiplied "
                "by: a factor would grow with the step, and t0 does not."),
        Mistake(lambda roofline_s, measured_s, roofline_next_s:
                sum(m - r for m, r in zip(measured_s, roofline_s)) / len(roofline_s),
                "that is t0 alone: the prediction is the new step's roofline time PLUS t0."),
        Mistake(lambda roofline_s, measured_s, roofline_next_s:
                roofline_next_s + max(m - r for m, r in zip(measured_s, roofline_s)),
                "use the mean of measured - roofline over the three steps (the "
                "least-squares constant), not its largest value."),
        Mistake(lambda roofline_s, measured_s, roofline_next_s:
                1e3 * predict_with_t0(roofline_s, measured_s, roofline_next_s),
                "return seconds (SI base units), not milliseconds."),
    ],
    random_cases=_random_predict,
    rtol=0.01,
)

_SOURCE_RUNGS = "chapter 6, the ladder and its takeaway"

RUNG_FOR = Task(
    name="rung_for",
    reference=rung_for,
    kind="label",
    labels=RUNGS,
    cases=[Case({"cost": cost}, expected=rung, source=_SOURCE_RUNGS)
           for cost, rung in COSTS.items()],
    mistakes=[
        Mistake(lambda cost: {"cpu_launch": "compiled"}.get(cost, COSTS[cost]),
                "the compiled rung does replay a CUDA graph, but the LOWEST rung that stops "
                "the CPU launching kernels one by one is the plain CUDA graph."),
        Mistake(lambda cost: {"small_kernels": "graph"}.get(cost, COSTS[cost]),
                "a CUDA graph replays the same kernels: each still starts and ends on the "
                "GPU. Only fusing them into fewer kernels removes that."),
        Mistake(lambda cost: {"kv_bytes": "split_kv"}.get(cost, COSTS[cost]),
                "split-KV reads the same cache bytes, with more SMs at once: it fixes idle "
                "SMs, not the bytes. No rung reads fewer bytes."),
        Mistake(lambda cost: {"weight_bytes": "compiled", "copy_ceiling": "compiled"}.get(
                    cost, COSTS[cost]),
                "fusion saves small intermediate reads and kernel starts, not the weights "
                "or the card's bandwidth ceiling: every step still reads every weight."),
    ],
    random_cases=_random_cost,
    n_random=6,
)

_LLAMA3_8B_H200 = {"weight_bytes": 15.010e9, "kv_bytes_per_token": 131072,
                   "bandwidth": 4.8e12}

MBU = Task(
    name="mbu",
    reference=mbu,
    cases=[
        Case({**_LLAMA3_8B_H200, "batch": 1, "context": 513, "step_time_s": 4.79e-3},
             expected=0.656, rtol=0.002,
             source="chapter 6: H200, compiled, B = 1, S = 512, 65.6 % of the datasheet"),
        Case({**_LLAMA3_8B_H200, "batch": 64, "context": 2049, "step_time_s": 10.39e-3},
             expected=0.645, rtol=0.002,
             source="chapter 6: H200, CUDA graph, B = 64, S = 2048, 64.5 %"),
    ],
    mistakes=[
        Mistake(lambda weight_bytes, kv_bytes_per_token, batch, context, step_time_s,
                bandwidth: weight_bytes / step_time_s / bandwidth,
                "the step reads every sequence's KV cache too: B S k_B bytes on top of "
                "the weights."),
        Mistake(lambda weight_bytes, kv_bytes_per_token, batch, context, step_time_s,
                bandwidth: (weight_bytes + context * kv_bytes_per_token) / step_time_s
                / bandwidth,
                "each of the B sequences has its own cache: multiply the cache bytes by the "
                "batch."),
        Mistake(lambda weight_bytes, kv_bytes_per_token, batch, context, step_time_s,
                bandwidth: 100 * mbu(weight_bytes, kv_bytes_per_token, batch, context,
                                     step_time_s, bandwidth),
                "return a fraction (0.656), not a percentage (65.6)."),
        Mistake(lambda weight_bytes, kv_bytes_per_token, batch, context, step_time_s,
                bandwidth: batch * weight_bytes / step_time_s / bandwidth,
                "the weights are read once per step, whatever the batch: that is the point "
                "of batching."),
    ],
    random_cases=_random_mbu,
    rtol=0.005,
)

TASKS = [REGIME, PREDICT_WITH_T0, RUNG_FOR, MBU]
SOLUTIONS: dict[str, Callable[..., object]] = {t.name: t.reference for t in TASKS}

#: The worked example of the page: not a task, never counted in the score.
EXAMPLE = Task(
    name="achieved_bandwidth",
    reference=achieved_bandwidth,
    cases=[Case({"bytes_read": 15.077e9, "step_time_s": 5.55e-3}, expected=2.717e12,
                rtol=0.001, source="chapter 6: H200, CUDA graph, B = 1, S = 512")],
    mistakes=[
        Mistake(lambda bytes_read, step_time_s: bytes_read / step_time_s / 1e9,
                "return bytes per second (SI base units), not GB/s."),
        Mistake(lambda bytes_read, step_time_s: step_time_s / bytes_read,
                "upside down: bandwidth is bytes divided by time."),
    ],
    rtol=1e-3,
)


def check_regime(fn: Callable[..., str] | None = None) -> CheckResult:
    """Check ``regime(flops, bytes_moved, step_time_s, peak_flops, bandwidth)``."""
    return report(run_task(EXERCISE, REGIME, fn))


def check_predict_with_t0(fn: Callable[..., float] | None = None) -> CheckResult:
    """Check ``predict_with_t0(roofline_s, measured_s, roofline_next_s)``."""
    return report(run_task(EXERCISE, PREDICT_WITH_T0, fn))


def check_rung_for(fn: Callable[..., str] | None = None) -> CheckResult:
    """Check ``rung_for(cost)``."""
    return report(run_task(EXERCISE, RUNG_FOR, fn))


def check_mbu(fn: Callable[..., float] | None = None) -> CheckResult:
    """Check ``mbu(weight_bytes, kv_bytes_per_token, batch, context, step_time_s,
    bandwidth)``."""
    return report(run_task(EXERCISE, MBU, fn))


def check_example(fn: Callable[..., float]) -> CheckResult:
    """The page's worked example: check ``achieved_bandwidth`` without counting it."""
    return run_example(EXERCISE, EXAMPLE, fn)


def score() -> tuple[int, int]:
    """Print the reader's score for this exercise: tasks passed out of tasks."""
    return _score(EXERCISE, TASKS)
