"""Checks for ``exercises/01_rooflines``: matmul intensity, which roof a matmul is under, the
smallest batch that makes it compute-bound, datasheet ridges, and the cheaper of two chips.

Symbols: ``B`` batch (rows of the activation), ``D`` input width, ``F_out`` output width (``d_out``),
``b`` bytes per element, ``F`` peak FLOP/s, ``W`` bandwidth in bytes/s.
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

EXERCISE = "01_rooflines"
TIB = 2**40
LABELS = ("compute", "memory")


# Reference solutions -------------------------------------------------------------------------


def _flops(batch: float, d_in: int, d_out: int) -> float:
    return 2.0 * batch * d_in * d_out


def _bytes(batch: float, d_in: int, d_out: int, bytes_per_element: float) -> float:
    return bytes_per_element * (batch * d_in + d_in * d_out + batch * d_out)


def arithmetic_intensity(batch: int, d_in: int, d_out: int, bytes_per_element: float) -> float:
    """FLOPs per byte of ``[B, D] @ [D, F]``: ``2 B D F / (b (B D + D F + B F))``."""
    return _flops(batch, d_in, d_out) / _bytes(batch, d_in, d_out, bytes_per_element)


def _compute_bound(batch: float, d_in: int, d_out: int, bytes_per_element: float,
                   peak_flops: float, bandwidth: float) -> bool:
    return (_flops(batch, d_in, d_out) / peak_flops
            >= _bytes(batch, d_in, d_out, bytes_per_element) / bandwidth)


def matmul_regime(
    batch: int, d_in: int, d_out: int, bytes_per_element: float, peak_flops: float,
    bandwidth: float,
) -> str:
    """"compute" when the matmul's compute time is at least its memory time, else "memory"."""
    bound = _compute_bound(batch, d_in, d_out, bytes_per_element, peak_flops, bandwidth)
    return "compute" if bound else "memory"


def min_compute_bound_batch(
    d_in: int, d_out: int, bytes_per_element: float, peak_flops: float, bandwidth: float
) -> int:
    """Smallest whole ``B`` with ``2 B D F / F_peak >= b (B D + D F + B F) / W``:
    ``ceil(F_peak b D F / (2 D F W - F_peak b (D + F)))`` (requires a positive denominator)."""
    p, b, d, f, w = peak_flops, bytes_per_element, d_in, d_out, bandwidth
    denominator = 2 * d * f * w - p * b * (d + f)
    if denominator <= 0:
        raise ValueError("no batch makes this matmul compute-bound")
    batch = max(1, math.ceil(p * b * d * f / denominator))
    while not _compute_bound(batch, d, f, b, p, w):  # guard against rounding at the boundary
        batch += 1
    while batch > 1 and _compute_bound(batch - 1, d, f, b, p, w):
        batch -= 1
    return batch


def datasheet_ridge(tflops_with_sparsity: float, bandwidth_tb_per_s: float) -> float:
    """Ridge ``F / W`` (FLOP/byte) from datasheet figures: sparse TFLOP/s halved, TB/s decimal."""
    return (tflops_with_sparsity / 2 * 1e12) / (bandwidth_tb_per_s * 1e12)


def _time(flops: float, bytes_moved: float, peak_flops: float, bandwidth: float) -> float:
    return max(flops / peak_flops, bytes_moved / bandwidth)


def cheaper_chip(
    flops: float, bytes_moved: float, peak_flops_a: float, bandwidth_a: float,
    usd_per_hour_a: float, peak_flops_b: float, bandwidth_b: float, usd_per_hour_b: float,
) -> str:
    """"a" or "b": the chip on which the kernel's roofline time costs less (price x time)."""
    cost_a = usd_per_hour_a * _time(flops, bytes_moved, peak_flops_a, bandwidth_a)
    cost_b = usd_per_hour_b * _time(flops, bytes_moved, peak_flops_b, bandwidth_b)
    return "a" if cost_a <= cost_b else "b"


def weight_read_time(n_bytes: float, bandwidth: float) -> float:
    """The worked example (not graded): seconds to read ``n_bytes`` at ``bandwidth``."""
    return n_bytes / bandwidth


# Random inputs -------------------------------------------------------------------------------


def _random_matmul(rng: random.Random) -> dict[str, float]:
    return {
        "batch": rng.choice([1, 2, 3, 8, 16, 64, 100, 256, 1000, 4096]),
        "d_in": rng.choice([256, 512, 1024, 4096, 5120, 8192, 16384]),
        "d_out": rng.choice([512, 1024, 4096, 11008, 14336, 28672]),
        "bytes_per_element": rng.choice([0.5, 1, 2, 4]),
    }


def _random_hw(rng: random.Random) -> dict[str, float]:
    return {"peak_flops": log_uniform(rng, 1e13, 5e15), "bandwidth": log_uniform(rng, 2e11, 1e13)}


def _random_regime(rng: random.Random) -> dict[str, float]:
    """A batch within a factor 3 of the critical batch, where the regime flips."""
    hw = _random_hw(rng)
    b = rng.choice([0.5, 1, 2, 4])
    critical = hw["peak_flops"] / hw["bandwidth"] * b / 2
    return {
        "batch": max(1, round(critical * log_uniform(rng, 0.4, 2.5))),
        "d_in": rng.choice([1024, 2048, 4096, 8192, 16384]),
        "d_out": rng.choice([1024, 4096, 11008, 14336, 28672]),
        "bytes_per_element": b,
        **hw,
    }


def _random_min_batch(rng: random.Random) -> dict[str, float]:
    while True:
        case = {
            "d_in": rng.choice([2048, 4096, 5120, 8192, 16384]),
            "d_out": rng.choice([4096, 11008, 14336, 28672]),
            "bytes_per_element": rng.choice([0.5, 1, 2]),
            "peak_flops": log_uniform(rng, 5e13, 2e15),
            "bandwidth": log_uniform(rng, 5e11, 8e12),
        }
        d, f, b = case["d_in"], case["d_out"], case["bytes_per_element"]
        if 2 * d * f / (b * (d + f)) > 1.3 * case["peak_flops"] / case["bandwidth"]:
            return case


def _random_datasheet(rng: random.Random) -> dict[str, float]:
    return {
        "tflops_with_sparsity": round(log_uniform(rng, 100, 10000), 1),
        "bandwidth_tb_per_s": round(log_uniform(rng, 0.3, 10), 2),
    }


def _cost_ratio(case: dict[str, float]) -> float:
    ta = _time(case["flops"], case["bytes_moved"], case["peak_flops_a"], case["bandwidth_a"])
    tb = _time(case["flops"], case["bytes_moved"], case["peak_flops_b"], case["bandwidth_b"])
    return case["usd_per_hour_a"] * ta / (case["usd_per_hour_b"] * tb)


def _random_chips(rng: random.Random) -> dict[str, float]:
    while True:
        a, b = _random_hw(rng), _random_hw(rng)
        bytes_moved = log_uniform(rng, 1e6, 1e11)
        ridge = math.sqrt(a["peak_flops"] / a["bandwidth"] * b["peak_flops"] / b["bandwidth"])
        case = {
            "flops": bytes_moved * ridge * log_uniform(rng, 0.05, 20),
            "bytes_moved": bytes_moved,
            "peak_flops_a": a["peak_flops"], "bandwidth_a": a["bandwidth"],
            "usd_per_hour_a": round(log_uniform(rng, 0.3, 10), 2),
            "peak_flops_b": b["peak_flops"], "bandwidth_b": b["bandwidth"],
            "usd_per_hour_b": round(log_uniform(rng, 0.3, 10), 2),
        }
        if abs(math.log(_cost_ratio(case))) > 0.03:  # no near ties
            return case


# Tasks ---------------------------------------------------------------------------------------

ARITHMETIC_INTENSITY = Task(
    name="arithmetic_intensity",
    reference=arithmetic_intensity,
    cases=[
        # Scaling book, https://jax-ml.github.io/scaling-book/roofline/: a bf16 [B, D] x [D, F] matmul has intensity
        # 2BDF / (2BD + 2DF + 2BF), which tends to B when B << D, F. At B = 1 with
        # D = F = 8192 it is just under 1.
        Case({"batch": 1, "d_in": 8192, "d_out": 8192, "bytes_per_element": 2},
             expected=8192 / 8194,
             source="scaling book, roofline chapter: 2BDF/(2BD+2DF+2BF) -> B"),
        # A square bf16 matmul of side n has intensity 2n^3 / (3 * 2 n^2) = n / 3.
        Case({"batch": 8192, "d_in": 8192, "d_out": 8192, "bytes_per_element": 2},
             expected=8192 / 3, source="square matmul: n / 3 in bf16"),
        Case({"batch": 64, "d_in": 4096, "d_out": 14336, "bytes_per_element": 1}),
    ],
    mistakes=[
        Mistake(lambda batch, d_in, d_out, bytes_per_element:
                batch * d_in * d_out / (bytes_per_element * (batch * d_in + d_in * d_out
                                                             + batch * d_out)),
                "a multiply-add is 2 FLOPs: the matmul does 2 B D F FLOPs, not B D F."),
        Mistake(lambda batch, d_in, d_out, bytes_per_element:
                2 * batch * d_in * d_out / (bytes_per_element * d_in * d_out),
                "you counted only the weight bytes. The activations in (B D) and out (B F) move "
                "too; they matter once B is not small next to D and F."),
        Mistake(lambda batch, d_in, d_out, bytes_per_element:
                2 * batch * d_in * d_out / (batch * d_in + d_in * d_out + batch * d_out),
                "you counted elements, not bytes: multiply the element count by "
                "bytes_per_element."),
        Mistake(lambda batch, d_in, d_out, bytes_per_element: float(batch),
                "B is only the small-batch limit. Compute the exact ratio of FLOPs to bytes."),
    ],
    random_cases=_random_matmul,
    rtol=1e-3,
)

MATMUL_REGIME = Task(
    name="matmul_regime",
    reference=matmul_regime,
    kind="label",
    labels=LABELS,
    cases=[
        # Chapter 1, problem 2: one MLP matrix of Llama-3-8B at batch 64 on an H100: intensity
        # about 63 against a ridge of 295.
        Case({"batch": 64, "d_in": 4096, "d_out": 14336, "bytes_per_element": 2,
              "peak_flops": 989e12, "bandwidth": 3.35e12}, expected="memory",
             source="chapter 1 problem 2: I ~ 63 < 295 on an H100"),
        Case({"batch": 4096, "d_in": 8192, "d_out": 8192, "bytes_per_element": 2,
              "peak_flops": 989e12, "bandwidth": 3.35e12}),
        # B = 300 is past F / W = 295, but the activations' bytes keep it memory-bound.
        Case({"batch": 300, "d_in": 4096, "d_out": 4096, "bytes_per_element": 2,
              "peak_flops": 989e12, "bandwidth": 3.35e12}),
        # int8 weights and activations multiplied at the bf16 rate: the batch needed halves.
        Case({"batch": 200, "d_in": 8192, "d_out": 28672, "bytes_per_element": 1,
              "peak_flops": 989e12, "bandwidth": 3.35e12}),
    ],
    mistakes=[
        Mistake(lambda batch, d_in, d_out, bytes_per_element, peak_flops, bandwidth:
                "memory" if matmul_regime(batch, d_in, d_out, bytes_per_element, peak_flops,
                                          bandwidth) == "compute" else "compute",
                "the answers are swapped: the matmul is bound by the resource whose time is "
                "LONGER."),
        Mistake(lambda batch, d_in, d_out, bytes_per_element, peak_flops, bandwidth:
                "compute" if batch >= peak_flops / bandwidth else "memory",
                "'the intensity is about B' holds only for 2-byte elements: with b bytes per "
                "element it is about 2 B / b. Compare the two times of this matmul."),
        Mistake(lambda batch, d_in, d_out, bytes_per_element, peak_flops, bandwidth:
                "compute" if 2 * batch / bytes_per_element >= peak_flops / bandwidth
                else "memory",
                "the small-batch rule (intensity about 2 B / b) forgets the activations' bytes "
                "(B D + B F elements). Near the ridge they decide: use the exact byte count."),
        Mistake(lambda batch, d_in, d_out, bytes_per_element, peak_flops, bandwidth:
                "compute" if batch * d_in * d_out / peak_flops
                >= _bytes(batch, d_in, d_out, bytes_per_element) / bandwidth else "memory",
                "a multiply-add is 2 FLOPs: the matmul does 2 B D F FLOPs."),
    ],
    random_cases=_random_regime,
)

MIN_COMPUTE_BOUND_BATCH = Task(
    name="min_compute_bound_batch",
    reference=min_compute_bound_batch,
    kind="integer",
    cases=[
        # An 8192 x 8192 bf16 weight on an H100: the small-batch rule says 295; counting the
        # activations' bytes too, the first compute-bound batch is 319.
        Case({"d_in": 8192, "d_out": 8192, "bytes_per_element": 2, "peak_flops": 989e12,
              "bandwidth": 3.35e12}),
        Case({"d_in": 4096, "d_out": 14336, "bytes_per_element": 2, "peak_flops": 989e12,
              "bandwidth": 3.35e12}),
        # TPU v5e (1.97e14 FLOP/s, 8.19e11 B/s), int8 weights multiplied in bf16.
        Case({"d_in": 8192, "d_out": 28672, "bytes_per_element": 1, "peak_flops": 197e12,
              "bandwidth": 819e9}),
    ],
    mistakes=[
        Mistake(lambda d_in, d_out, bytes_per_element, peak_flops, bandwidth:
                math.ceil(peak_flops * bytes_per_element / (2 * bandwidth)),
                "that is the small-batch rule (the weight's bytes only). The activations in and "
                "out (B D + B F elements) are read and written too, and they grow with B: solve "
                "compute time >= memory time with all the bytes."),
        Mistake(lambda d_in, d_out, bytes_per_element, peak_flops, bandwidth:
                math.floor(peak_flops * bytes_per_element * d_in * d_out
                           / (2 * d_in * d_out * bandwidth
                              - peak_flops * bytes_per_element * (d_in + d_out))),
                "round UP: the batch you found by solving is not a whole number, and the "
                "largest whole batch below it is still memory-bound. int() rounds down."),
        Mistake(lambda d_in, d_out, bytes_per_element, peak_flops, bandwidth:
                round(peak_flops * bytes_per_element * d_in * d_out
                      / (2 * d_in * d_out * bandwidth
                         - peak_flops * bytes_per_element * (d_in + d_out))),
                "round UP, not to the nearest: the batch just below the boundary is still "
                "memory-bound."),
        Mistake(lambda d_in, d_out, bytes_per_element, peak_flops, bandwidth:
                math.ceil(peak_flops / bandwidth),
                "F / W is the small-batch answer for 2-byte elements only, and it forgets the "
                "activations' bytes: solve compute time >= memory time for this matmul."),
    ],
    random_cases=_random_min_batch,
)

DATASHEET_RIDGE = Task(
    name="datasheet_ridge",
    reference=datasheet_ridge,
    cases=[
        # NVIDIA H100 SXM datasheet: "1,979 teraFLOPS*" bf16, "* with sparsity"; 3.35 TB/s.
        # Dense 989, ridge ~295 (https://jax-ml.github.io/scaling-book/roofline/), not 590.
        Case({"tflops_with_sparsity": 1979, "bandwidth_tb_per_s": 3.35}, expected=295.0,
             rtol=0.01, source="H100 datasheet 1,979* TFLOPS, 3.35 TB/s -> 295"),
        # NVIDIA A100 80GB SXM datasheet: 624* TFLOPS bf16, 2,039 GB/s -> 312 / 2.039 = 153.
        Case({"tflops_with_sparsity": 624, "bandwidth_tb_per_s": 2.039}, expected=153.0,
             rtol=0.01, source="A100 80GB datasheet 624* TFLOPS, 2.039 TB/s -> 153"),
    ],
    mistakes=[
        Mistake(lambda tflops_with_sparsity, bandwidth_tb_per_s:
                tflops_with_sparsity / bandwidth_tb_per_s,
                "the datasheet figure is 'with sparsity' (2:4 structured sparsity doubles it). "
                "A dense matmul gets half: divide the TFLOP/s by 2."),
        Mistake(lambda tflops_with_sparsity, bandwidth_tb_per_s:
                (tflops_with_sparsity / 2 * 1e12) / (bandwidth_tb_per_s * TIB),
                "GiB against GB: datasheet TB/s are decimal, 1 TB = 1e12 bytes, not 2**40 (TiB)."),
        Mistake(lambda tflops_with_sparsity, bandwidth_tb_per_s:
                (tflops_with_sparsity * 1e12) / (bandwidth_tb_per_s * TIB),
                "two slips: the figure is 'with sparsity' (halve it) and 1 TB = 1e12 bytes, "
                "not 2**40 (GiB against GB)."),
        Mistake(lambda tflops_with_sparsity, bandwidth_tb_per_s:
                bandwidth_tb_per_s / (tflops_with_sparsity / 2),
                "the ridge point is FLOPs per byte: divide the FLOP/s by the bytes/s."),
    ],
    random_cases=_random_datasheet,
    rtol=1e-3,
)

CHEAPER_CHIP = Task(
    name="cheaper_chip",
    reference=cheaper_chip,
    kind="label",
    labels=("a", "b"),
    cases=[
        # Hypothetical prices: an H100 SXM at $3.00/h against an A100 80GB at $1.50/h.
        # A memory-bound decode step (14 GB, 14 GFLOP): 4.2 ms on the H100, 6.9 ms on the A100.
        Case({"flops": 14e9, "bytes_moved": 14e9, "peak_flops_a": 989e12, "bandwidth_a": 3.35e12,
              "usd_per_hour_a": 3.0, "peak_flops_b": 312e12, "bandwidth_b": 2.039e12,
              "usd_per_hour_b": 1.5}),
        # A compute-bound 8192^3 bf16 matmul: 1.1 ms on the H100, 3.5 ms on the A100.
        Case({"flops": 2 * 8192**3, "bytes_moved": 3 * 8192**2 * 2, "peak_flops_a": 989e12,
              "bandwidth_a": 3.35e12, "usd_per_hour_a": 3.0, "peak_flops_b": 312e12,
              "bandwidth_b": 2.039e12, "usd_per_hour_b": 1.5}),
    ],
    mistakes=[
        Mistake(lambda flops, bytes_moved, peak_flops_a, bandwidth_a, usd_per_hour_a,
                peak_flops_b, bandwidth_b, usd_per_hour_b:
                "a" if usd_per_hour_a <= usd_per_hour_b else "b",
                "the lower hourly price is not the lower cost: a slower chip is rented for "
                "longer. Compare price x time of this kernel on each chip."),
        Mistake(lambda flops, bytes_moved, peak_flops_a, bandwidth_a, usd_per_hour_a,
                peak_flops_b, bandwidth_b, usd_per_hour_b:
                "a" if _time(flops, bytes_moved, peak_flops_a, bandwidth_a)
                <= _time(flops, bytes_moved, peak_flops_b, bandwidth_b) else "b",
                "the faster chip is not always the cheaper one: multiply each time by the "
                "chip's price per second."),
        Mistake(lambda flops, bytes_moved, peak_flops_a, bandwidth_a, usd_per_hour_a,
                peak_flops_b, bandwidth_b, usd_per_hour_b:
                "a" if peak_flops_a / usd_per_hour_a >= peak_flops_b / usd_per_hour_b else "b",
                "FLOP/s per dollar decides only when the kernel is compute-bound on both chips. "
                "Take the roofline time (the slower of the two clocks) on each chip."),
        Mistake(lambda flops, bytes_moved, peak_flops_a, bandwidth_a, usd_per_hour_a,
                peak_flops_b, bandwidth_b, usd_per_hour_b:
                "a" if bandwidth_a / usd_per_hour_a >= bandwidth_b / usd_per_hour_b else "b",
                "bandwidth per dollar decides only when the kernel is memory-bound on both "
                "chips. Take the roofline time (the slower of the two clocks) on each chip."),
    ],
    random_cases=_random_chips,
)

TASKS = [ARITHMETIC_INTENSITY, MATMUL_REGIME, MIN_COMPUTE_BOUND_BATCH, DATASHEET_RIDGE,
         CHEAPER_CHIP]
SOLUTIONS: dict[str, Callable[..., object]] = {t.name: t.reference for t in TASKS}

#: The worked example of the page: not a task, never counted in the score.
EXAMPLE = Task(
    name="weight_read_time",
    reference=weight_read_time,
    cases=[Case({"n_bytes": 16.06e9, "bandwidth": 3.35e12}, expected=16.06e9 / 3.35e12,
                source="Llama-3-8B bf16 weights on an H100 SXM")],
    mistakes=[
        Mistake(lambda n_bytes, bandwidth: 1e3 * n_bytes / bandwidth,
                "that is milliseconds. Return seconds, the course's unit."),
        Mistake(lambda n_bytes, bandwidth: bandwidth / n_bytes,
                "upside down: time is bytes divided by bytes per second."),
    ],
    rtol=1e-3,
)


def check_arithmetic_intensity(fn: Callable[..., float] | None = None) -> CheckResult:
    """Check ``arithmetic_intensity(batch, d_in, d_out, bytes_per_element)``."""
    return report(run_task(EXERCISE, ARITHMETIC_INTENSITY, fn))


def check_matmul_regime(fn: Callable[..., str] | None = None) -> CheckResult:
    """Check ``matmul_regime(batch, d_in, d_out, bytes_per_element, peak_flops, bandwidth)``."""
    return report(run_task(EXERCISE, MATMUL_REGIME, fn))


def check_min_compute_bound_batch(fn: Callable[..., int] | None = None) -> CheckResult:
    """Check ``min_compute_bound_batch(d_in, d_out, bytes_per_element, peak_flops, bandwidth)``."""
    return report(run_task(EXERCISE, MIN_COMPUTE_BOUND_BATCH, fn))


def check_datasheet_ridge(fn: Callable[..., float] | None = None) -> CheckResult:
    """Check ``datasheet_ridge(tflops_with_sparsity, bandwidth_tb_per_s)``."""
    return report(run_task(EXERCISE, DATASHEET_RIDGE, fn))


def check_cheaper_chip(fn: Callable[..., str] | None = None) -> CheckResult:
    """Check ``cheaper_chip(flops, bytes_moved, peak_flops_a, bandwidth_a, usd_per_hour_a,
    peak_flops_b, bandwidth_b, usd_per_hour_b)``."""
    return report(run_task(EXERCISE, CHEAPER_CHIP, fn))


def check_example(fn: Callable[..., float]) -> CheckResult:
    """The page's worked example: check ``weight_read_time`` without counting it."""
    return run_example(EXERCISE, EXAMPLE, fn)


def score() -> tuple[int, int]:
    """Print the reader's score for this exercise: tasks passed out of tasks."""
    return _score(EXERCISE, TASKS)
