"""Checks for ``exercises/00_warmup``: the ridge point and the roofline lower bound on time."""

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

EXERCISE = "00_warmup"


# Reference solutions -------------------------------------------------------------------------


def ridge_point(peak_flops: float, bandwidth: float) -> float:
    """Arithmetic intensity where compute time equals memory time: I* = F / W (FLOP/byte)."""
    return peak_flops / bandwidth


def time_lower_bound(flops: float, bytes_moved: float, peak_flops: float, bandwidth: float) -> float:
    """Roofline lower bound on time: T >= max(flops / F, bytes / W), in seconds."""
    return max(flops / peak_flops, bytes_moved / bandwidth)


# Tasks ---------------------------------------------------------------------------------------


def _random_hw(rng: random.Random) -> dict[str, float]:
    return {"peak_flops": log_uniform(rng, 1e12, 5e15), "bandwidth": log_uniform(rng, 1e11, 2e13)}


def _random_step(rng: random.Random) -> dict[str, float]:
    hw = _random_hw(rng)
    return {
        "flops": log_uniform(rng, 1e6, 1e16),
        "bytes_moved": log_uniform(rng, 1e6, 1e12),
        **hw,
    }


RIDGE_POINT = Task(
    name="ridge_point",
    reference=ridge_point,
    cases=[
        # H100 SXM: 989 TFLOP/s dense bf16 (the datasheet's 1,979 is "with sparsity"), 3.35 TB/s.
        # Published ridge ~295 FLOP/byte: scaling book, roofline.md and gpus.md.
        Case({"peak_flops": 989e12, "bandwidth": 3.35e12}, expected=295.0, rtol=0.01,
             source="scaling book: H100 ridge ~295"),
        # A100 with kipply's effective bandwidth: 312e12 / 1.5e12 = 208 (Transformer Inference
        # Arithmetic, kipp.ly, 2022).
        Case({"peak_flops": 312e12, "bandwidth": 1.5e12}, expected=208.0, rtol=1e-9,
             source="kipply: A100 ratio 208"),
    ],
    mistakes=[
        Mistake(lambda peak_flops, bandwidth: bandwidth / peak_flops,
                "the ridge point is FLOPs per byte: divide the FLOP/s by the bytes/s, not the "
                "other way round."),
        Mistake(lambda peak_flops, bandwidth: 2 * peak_flops / bandwidth,
                "you doubled the FLOP/s. The peak already counts a multiply-add as 2 FLOPs, and a "
                "datasheet figure 'with sparsity' is twice the dense rate: use dense FLOP/s as given."),
        Mistake(lambda peak_flops, bandwidth: peak_flops / 2 / bandwidth,
                "a factor 2 went missing: the peak FLOP/s already counts multiply and add as 2 "
                "FLOPs, so don't halve it."),
        Mistake(lambda peak_flops, bandwidth: (peak_flops / 1e9) / (bandwidth / 2**30),
                "GiB against GB: you divided the bandwidth by 2**30 but the FLOP/s by 1e9. Keep "
                "both in base units (bytes/s, FLOP/s); 1 GB = 1e9 bytes, 1 GiB = 2**30 bytes."),
    ],
    random_cases=_random_hw,
)

TIME_LOWER_BOUND = Task(
    name="time_lower_bound",
    reference=time_lower_bound,
    cases=[
        # Batch-1 decode of a 7B fp16 model: 14e9 bytes of weights, 2 x 7e9 FLOPs, on a 2 TB/s,
        # 312 TFLOP/s GPU. Memory-bound at 7 ms: the Databricks best-practices blog (2023) measures
        # 14 ms on such a GPU and calls it 50% memory-bandwidth utilization.
        Case({"flops": 14e9, "bytes_moved": 14e9, "peak_flops": 312e12, "bandwidth": 2e12},
             expected=7e-3, rtol=1e-9, source="Databricks MBU example: 14 GB at 2 TB/s"),
        # A large square bf16 matmul, 8192^3: 2 * 8192^3 FLOPs, 3 * 8192^2 * 2 bytes, on an H100
        # SXM (989e12 FLOP/s dense, 3.35e12 B/s): compute-bound at about 1.11 ms.
        Case({"flops": 2 * 8192**3, "bytes_moved": 3 * 8192**2 * 2, "peak_flops": 989e12,
              "bandwidth": 3.35e12}),
    ],
    mistakes=[
        Mistake(lambda flops, bytes_moved, peak_flops, bandwidth:
                flops / peak_flops + bytes_moved / bandwidth,
                "the sum is the upper bound (no overlap). Compute and memory traffic overlap, so "
                "the lower bound is the larger of the two times."),
        Mistake(lambda flops, bytes_moved, peak_flops, bandwidth:
                min(flops / peak_flops, bytes_moved / bandwidth),
                "a step cannot finish before its slower part: take the maximum, not the minimum."),
        Mistake(lambda flops, bytes_moved, peak_flops, bandwidth: flops / peak_flops,
                "you only counted compute time; include the memory time bytes_moved / bandwidth "
                "(it dominates decoding)."),
        Mistake(lambda flops, bytes_moved, peak_flops, bandwidth: bytes_moved / bandwidth,
                "you only counted memory time; include the compute time flops / peak_flops."),
        Mistake(lambda flops, bytes_moved, peak_flops, bandwidth:
                1e3 * max(flops / peak_flops, bytes_moved / bandwidth),
                "return seconds (SI base units), not milliseconds."),
    ],
    random_cases=_random_step,
)

TASKS = [RIDGE_POINT, TIME_LOWER_BOUND]
SOLUTIONS: dict[str, Callable[..., float]] = {t.name: t.reference for t in TASKS}


def check_ridge_point(fn: Callable[..., float] | None = None) -> CheckResult:
    """Check the reader's ``ridge_point(peak_flops, bandwidth)`` (default: the reference)."""
    return report(run_task(EXERCISE, RIDGE_POINT, fn))


def check_time_lower_bound(fn: Callable[..., float] | None = None) -> CheckResult:
    """Check the reader's ``time_lower_bound(flops, bytes_moved, peak_flops, bandwidth)``."""
    return report(run_task(EXERCISE, TIME_LOWER_BOUND, fn))


def score() -> tuple[int, int]:
    """Print the reader's score for this exercise: tasks passed out of tasks."""
    return _score(EXERCISE, TASKS)
