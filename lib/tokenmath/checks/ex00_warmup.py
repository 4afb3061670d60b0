"""Checks for ``exercises/00_warmup``: the ridge point, the roofline bound on time, which clock
limits a kernel, and how many FLOPs its memory traffic hides.

Symbols: ``C`` FLOPs, ``M`` bytes moved, ``F`` peak FLOP/s (dense), ``W`` bandwidth in bytes/s.
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

EXERCISE = "00_warmup"
GIB = 2**30
LABELS = ("compute", "memory")


# Reference solutions -------------------------------------------------------------------------


def ridge_point(peak_flops: float, bandwidth: float) -> float:
    """Arithmetic intensity where compute time equals memory time: I* = F / W (FLOP/byte)."""
    return peak_flops / bandwidth


def time_lower_bound(flops: float, bytes_moved: float, peak_flops: float, bandwidth: float) -> float:
    """Roofline lower bound on time: T >= max(flops / F, bytes / W), in seconds."""
    return max(flops / peak_flops, bytes_moved / bandwidth)


def limiting_resource(flops: float, bytes_moved: float, peak_flops: float, bandwidth: float) -> str:
    """"compute" when C / F >= M / W (the arithmetic is the slower clock), else "memory"."""
    return "compute" if flops / peak_flops >= bytes_moved / bandwidth else "memory"


def hidden_flops(bytes_moved: float, peak_flops: float, bandwidth: float) -> float:
    """FLOPs a kernel moving M bytes can do in its memory time: M F / W."""
    return bytes_moved * peak_flops / bandwidth


def weight_bytes(n_params: float, bytes_per_param: float) -> float:
    """The worked example (not graded): bytes of a model's weights."""
    return n_params * bytes_per_param


# Random inputs -------------------------------------------------------------------------------


def _random_hw(rng: random.Random) -> dict[str, float]:
    return {"peak_flops": log_uniform(rng, 1e12, 5e15), "bandwidth": log_uniform(rng, 1e11, 2e13)}


def _random_step(rng: random.Random) -> dict[str, float]:
    hw = _random_hw(rng)
    return {
        "flops": log_uniform(rng, 1e6, 1e16),
        "bytes_moved": log_uniform(rng, 1e6, 1e12),
        **hw,
    }


def _random_near_ridge(rng: random.Random) -> dict[str, float]:
    """Intensity spread around the ridge, so both answers (and both mistakes) occur."""
    hw = _random_hw(rng)
    bytes_moved = log_uniform(rng, 1e6, 1e12)
    intensity = hw["peak_flops"] / hw["bandwidth"] * log_uniform(rng, 1e-4, 100)
    return {"flops": intensity * bytes_moved, "bytes_moved": bytes_moved, **hw}


def _random_hidden(rng: random.Random) -> dict[str, float]:
    return {"bytes_moved": log_uniform(rng, 1e6, 1e12), **_random_hw(rng)}


# Tasks ---------------------------------------------------------------------------------------

RIDGE_POINT = Task(
    name="ridge_point",
    reference=ridge_point,
    cases=[
        # H100 SXM: 989 TFLOP/s dense bf16 (the datasheet's 1,979 is "with sparsity"), 3.35 TB/s.
        # Published ridge ~295 FLOP/byte: https://jax-ml.github.io/scaling-book/roofline/ and https://jax-ml.github.io/scaling-book/gpus/.
        Case({"peak_flops": 989e12, "bandwidth": 3.35e12}, expected=295.0, rtol=0.01,
             source="scaling book: H100 ridge ~295"),
        # A100 with kipply's effective bandwidth: 312e12 / 1.5e12 = 208 (Transformer Inference
        # Arithmetic, kipp.ly, 2022).
        Case({"peak_flops": 312e12, "bandwidth": 1.5e12}, expected=208.0,
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
        Mistake(lambda peak_flops, bandwidth: (peak_flops / 1e9) / (bandwidth / GIB),
                "GiB against GB: you divided the bandwidth by 2**30 but the FLOP/s by 1e9. Keep "
                "both in base units (bytes/s, FLOP/s); 1 GB = 1e9 bytes, 1 GiB = 2**30 bytes."),
    ],
    random_cases=_random_hw,
    rtol=1e-3,
)

TIME_LOWER_BOUND = Task(
    name="time_lower_bound",
    reference=time_lower_bound,
    cases=[
        # Batch-1 decode of a 7B fp16 model: 14e9 bytes of weights, 2 x 7e9 FLOPs, on a 2 TB/s,
        # 312 TFLOP/s GPU. Memory-bound at 7 ms: the Databricks best-practices blog (2023) measures
        # 14 ms on such a GPU and calls it 50% memory-bandwidth utilization.
        Case({"flops": 14e9, "bytes_moved": 14e9, "peak_flops": 312e12, "bandwidth": 2e12},
             expected=7e-3, source="Databricks MBU example: 14 GB at 2 TB/s"),
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
    rtol=1e-3,
)

LIMITING_RESOURCE = Task(
    name="limiting_resource",
    reference=limiting_resource,
    kind="label",
    labels=LABELS,
    cases=[
        # The Databricks 7B decode step above: 7 ms of memory traffic, 45 us of arithmetic.
        Case({"flops": 14e9, "bytes_moved": 14e9, "peak_flops": 312e12, "bandwidth": 2e12},
             expected="memory", source="Databricks MBU example: memory-bound decode"),
        # The square 8192^3 bf16 matmul: about 1.11 ms of arithmetic, 0.12 ms of traffic.
        Case({"flops": 2 * 8192**3, "bytes_moved": 3 * 8192**2 * 2, "peak_flops": 989e12,
              "bandwidth": 3.35e12}),
        # 100 FLOPs per byte on an H100 (ridge ~295): more FLOPs than bytes, still memory-bound.
        Case({"flops": 1e11, "bytes_moved": 1e9, "peak_flops": 989e12, "bandwidth": 3.35e12}),
        # Adding two fp32 vectors of 1e9 elements: 1e9 FLOPs, 1.2e10 bytes in and out.
        Case({"flops": 1e9, "bytes_moved": 1.2e10, "peak_flops": 989e12, "bandwidth": 3.35e12}),
    ],
    mistakes=[
        Mistake(lambda flops, bytes_moved, peak_flops, bandwidth:
                "memory" if limiting_resource(flops, bytes_moved, peak_flops, bandwidth)
                == "compute" else "compute",
                "the answers are swapped: the resource that limits the kernel is the one whose "
                "time is LONGER (the step waits for the slower clock)."),
        Mistake(lambda flops, bytes_moved, peak_flops, bandwidth:
                "compute" if flops >= bytes_moved else "memory",
                "comparing FLOPs with bytes leaves out the chip: it does many FLOPs in the time "
                "it moves one byte. Compare the two times (or the intensity with the ridge)."),
        Mistake(lambda flops, bytes_moved, peak_flops, bandwidth:
                "compute" if flops / bytes_moved >= bandwidth / peak_flops else "memory",
                "the ridge is FLOP/s divided by bytes/s (FLOPs per byte); you compared the "
                "intensity with its inverse."),
    ],
    random_cases=_random_near_ridge,
)

HIDDEN_FLOPS = Task(
    name="hidden_flops",
    reference=hidden_flops,
    cases=[
        # kipply's A100 (312 TFLOP/s, 1.5 TB/s effective): 208 FLOPs per byte. A 7B model in
        # fp16 moves 14 GB per step, so ~2.9e12 FLOPs (a batch of ~208 tokens) come for free.
        Case({"bytes_moved": 14e9, "peak_flops": 312e12, "bandwidth": 1.5e12},
             expected=14e9 * 208, source="kipply: A100 ratio 208, 14 GB of fp16 weights"),
        Case({"bytes_moved": 1e9, "peak_flops": 989e12, "bandwidth": 3.35e12}),
    ],
    mistakes=[
        Mistake(lambda bytes_moved, peak_flops, bandwidth: bytes_moved * bandwidth / peak_flops,
                "upside down: in the memory time M / W the chip does F FLOPs per second, so "
                "multiply the time by F."),
        Mistake(lambda bytes_moved, peak_flops, bandwidth: bytes_moved / bandwidth,
                "that is the memory time in seconds; the question asks how many FLOPs fit in it."),
        Mistake(lambda bytes_moved, peak_flops, bandwidth: bytes_moved * peak_flops / bandwidth / 2,
                "a factor 2 went missing: F already counts FLOPs (2 per multiply-add), so don't "
                "halve it."),
        Mistake(lambda bytes_moved, peak_flops, bandwidth: peak_flops / bandwidth,
                "that is the ridge, FLOPs per byte; multiply by the bytes the kernel moves."),
    ],
    random_cases=_random_hidden,
    rtol=1e-3,
)

TASKS = [RIDGE_POINT, TIME_LOWER_BOUND, LIMITING_RESOURCE, HIDDEN_FLOPS]
SOLUTIONS: dict[str, Callable[..., object]] = {t.name: t.reference for t in TASKS}

#: The worked example of the page: not a task, never counted in the score.
EXAMPLE = Task(
    name="weight_bytes",
    reference=weight_bytes,
    cases=[Case({"n_params": 8.03e9, "bytes_per_param": 2}, expected=16.06e9,
                source="Llama-3-8B, 8.03B parameters in bf16")],
    mistakes=[
        Mistake(lambda n_params, bytes_per_param: n_params * bytes_per_param / GIB,
                "that is GiB (2**30 bytes). Return bytes, the course's unit."),
        Mistake(lambda n_params, bytes_per_param: n_params * bytes_per_param / 1e9,
                "that is GB. Return bytes, the course's unit."),
    ],
    rtol=1e-3,
)


def check_ridge_point(fn: Callable[..., float] | None = None) -> CheckResult:
    """Check the reader's ``ridge_point(peak_flops, bandwidth)`` (default: the reference)."""
    return report(run_task(EXERCISE, RIDGE_POINT, fn))


def check_time_lower_bound(fn: Callable[..., float] | None = None) -> CheckResult:
    """Check the reader's ``time_lower_bound(flops, bytes_moved, peak_flops, bandwidth)``."""
    return report(run_task(EXERCISE, TIME_LOWER_BOUND, fn))


def check_limiting_resource(fn: Callable[..., str] | None = None) -> CheckResult:
    """Check the reader's ``limiting_resource(flops, bytes_moved, peak_flops, bandwidth)``."""
    return report(run_task(EXERCISE, LIMITING_RESOURCE, fn))


def check_hidden_flops(fn: Callable[..., float] | None = None) -> CheckResult:
    """Check the reader's ``hidden_flops(bytes_moved, peak_flops, bandwidth)``."""
    return report(run_task(EXERCISE, HIDDEN_FLOPS, fn))


def check_example(fn: Callable[..., float]) -> CheckResult:
    """The page's worked example: check ``weight_bytes`` without counting it in the score."""
    return run_example(EXERCISE, EXAMPLE, fn)


def score() -> tuple[int, int]:
    """Print the reader's score for this exercise: tasks passed out of tasks."""
    return _score(EXERCISE, TASKS)
