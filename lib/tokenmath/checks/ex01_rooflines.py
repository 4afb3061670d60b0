"""Checks for ``exercises/01_rooflines``: matmul intensity, the roofline, critical batch, datasheets.

Symbols: ``B`` batch (rows of the activation), ``D`` input width, ``F_out`` output width (``d_out``),
``b`` bytes per element, ``F`` peak FLOP/s, ``W`` bandwidth in bytes/s.
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

EXERCISE = "01_rooflines"
TIB = 2**40


# Reference solutions -------------------------------------------------------------------------


def arithmetic_intensity(batch: int, d_in: int, d_out: int, bytes_per_element: float) -> float:
    """FLOPs per byte of ``[B, D] @ [D, F]``: ``2 B D F / (b (B D + D F + B F))``."""
    flops = 2 * batch * d_in * d_out
    moved = bytes_per_element * (batch * d_in + d_in * d_out + batch * d_out)
    return flops / moved


def attainable_flops(intensity: float, peak_flops: float, bandwidth: float) -> float:
    """Roofline: ``min(F, I W)`` FLOP/s for a kernel of intensity ``I`` FLOP/byte."""
    return min(peak_flops, intensity * bandwidth)


def matmul_time(
    batch: int, d_in: int, d_out: int, bytes_per_element: float, peak_flops: float,
    bandwidth: float,
) -> float:
    """Roofline time of ``[B, D] @ [D, F]``: ``max(2 B D F / F_peak, b (BD + DF + BF) / W)``."""
    flops = 2 * batch * d_in * d_out
    moved = bytes_per_element * (batch * d_in + d_in * d_out + batch * d_out)
    return max(flops / peak_flops, moved / bandwidth)


def critical_batch(peak_flops: float, bandwidth: float, bytes_per_weight: float) -> float:
    """Batch where a weight-bound matmul turns compute-bound (``B << D, F``): ``F b_w / (2 W)``.

    ``peak_flops`` is the rate of the dtype the multiply runs in. bf16 weights and compute:
    ``F / W``; int8 weights dequantized to bf16: half of that; int8 weights and int8 compute:
    ``F_int8 / (2 W) = F_bf16 / W`` again.
    """
    return peak_flops * bytes_per_weight / (2 * bandwidth)


def datasheet_ridge(tflops_with_sparsity: float, bandwidth_tb_per_s: float) -> float:
    """Ridge ``F / W`` (FLOP/byte) from datasheet figures: sparse TFLOP/s halved, TB/s decimal."""
    return (tflops_with_sparsity / 2 * 1e12) / (bandwidth_tb_per_s * 1e12)


# Random inputs -------------------------------------------------------------------------------


def _random_matmul(rng: random.Random) -> dict[str, float]:
    return {
        "batch": rng.choice([1, 2, 3, 8, 16, 64, 100, 256, 1000, 4096]),
        "d_in": rng.choice([256, 512, 1024, 4096, 5120, 8192, 16384]),
        "d_out": rng.choice([512, 1024, 4096, 11008, 14336, 28672]),
        "bytes_per_element": rng.choice([0.5, 1, 2, 4]),
    }


def _random_hw(rng: random.Random) -> dict[str, float]:
    return {"peak_flops": log_uniform(rng, 1e12, 5e15), "bandwidth": log_uniform(rng, 1e11, 1e13)}


def _random_attainable(rng: random.Random) -> dict[str, float]:
    return {"intensity": log_uniform(rng, 0.1, 1e4), **_random_hw(rng)}


def _random_matmul_time(rng: random.Random) -> dict[str, float]:
    return {**_random_matmul(rng), **_random_hw(rng)}


def _random_critical(rng: random.Random) -> dict[str, float]:
    return {**_random_hw(rng), "bytes_per_weight": rng.choice([0.5, 1, 2, 4])}


def _random_datasheet(rng: random.Random) -> dict[str, float]:
    return {
        "tflops_with_sparsity": round(log_uniform(rng, 100, 10000), 1),
        "bandwidth_tb_per_s": round(log_uniform(rng, 0.3, 10), 2),
    }


# Tasks ---------------------------------------------------------------------------------------

ARITHMETIC_INTENSITY = Task(
    name="arithmetic_intensity",
    reference=arithmetic_intensity,
    cases=[
        # Scaling book, roofline.md: a bf16 [B, D] x [D, F] matmul has intensity
        # 2BDF / (2BD + 2DF + 2BF), which tends to B when B << D, F. At B = 1 with
        # D = F = 8192 it is just under 1.
        Case({"batch": 1, "d_in": 8192, "d_out": 8192, "bytes_per_element": 2},
             expected=8192 / 8194, rtol=1e-9,
             source="scaling book roofline.md: 2BDF/(2BD+2DF+2BF) -> B"),
        # A square bf16 matmul of side n has intensity 2n^3 / (3 * 2 n^2) = n / 3.
        Case({"batch": 8192, "d_in": 8192, "d_out": 8192, "bytes_per_element": 2},
             expected=8192 / 3, rtol=1e-9, source="square matmul: n / 3 in bf16"),
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
)

ATTAINABLE_FLOPS = Task(
    name="attainable_flops",
    reference=attainable_flops,
    cases=[
        # H100 SXM, dense bf16 989e12 FLOP/s and 3.35e12 B/s: intensity 1 (batch-1 decode) gets
        # 3.35e12 FLOP/s; anything past the ~295 ridge gets the full 989e12.
        Case({"intensity": 1.0, "peak_flops": 989e12, "bandwidth": 3.35e12}, expected=3.35e12,
             rtol=1e-9, source="H100 datasheet: 3.35 TB/s"),
        Case({"intensity": 1000.0, "peak_flops": 989e12, "bandwidth": 3.35e12},
             expected=989e12, rtol=1e-9, source="H100 datasheet: 989 TFLOP/s dense bf16"),
    ],
    mistakes=[
        Mistake(lambda intensity, peak_flops, bandwidth: max(peak_flops, intensity * bandwidth),
                "a kernel gets the lower of the two roofs: take min(F, I W), not the max."),
        Mistake(lambda intensity, peak_flops, bandwidth: intensity * bandwidth,
                "below the ridge I W is right, but above it the compute roof F caps the rate."),
        Mistake(lambda intensity, peak_flops, bandwidth: peak_flops,
                "the peak is only reached above the ridge; below it memory limits the rate to "
                "I W."),
        Mistake(lambda intensity, peak_flops, bandwidth: min(peak_flops, bandwidth / intensity),
                "intensity is FLOPs per byte, so FLOP/s = intensity x bytes/s (multiply)."),
    ],
    random_cases=_random_attainable,
)

MATMUL_TIME = Task(
    name="matmul_time",
    reference=matmul_time,
    cases=[
        # Batch-1 bf16 matmul with an 8192 x 8192 weight on an H100: memory-bound, reading
        # 2 * (8192 + 8192^2 + 8192) bytes at 3.35e12 B/s, about 40 us.
        Case({"batch": 1, "d_in": 8192, "d_out": 8192, "bytes_per_element": 2,
              "peak_flops": 989e12, "bandwidth": 3.35e12}),
        # Batch 4096: compute-bound, 2 * 4096 * 8192^2 / 989e12, about 0.56 ms.
        Case({"batch": 4096, "d_in": 8192, "d_out": 8192, "bytes_per_element": 2,
              "peak_flops": 989e12, "bandwidth": 3.35e12}),
    ],
    mistakes=[
        Mistake(lambda batch, d_in, d_out, bytes_per_element, peak_flops, bandwidth:
                2 * batch * d_in * d_out / peak_flops
                + bytes_per_element * (batch * d_in + d_in * d_out + batch * d_out) / bandwidth,
                "the sum assumes no overlap (an upper bound). Compute and memory traffic "
                "overlap, so the roofline time is the maximum of the two."),
        Mistake(lambda batch, d_in, d_out, bytes_per_element, peak_flops, bandwidth:
                max(batch * d_in * d_out / peak_flops,
                    bytes_per_element * (batch * d_in + d_in * d_out + batch * d_out)
                    / bandwidth),
                "a multiply-add is 2 FLOPs: the compute time is 2 B D F / F."),
        Mistake(lambda batch, d_in, d_out, bytes_per_element, peak_flops, bandwidth:
                max(2 * batch * d_in * d_out / peak_flops,
                    bytes_per_element * d_in * d_out / bandwidth),
                "you counted only the weight bytes; the activations in and out (B D + B F "
                "elements) move too."),
        Mistake(lambda batch, d_in, d_out, bytes_per_element, peak_flops, bandwidth:
                1e3 * max(2 * batch * d_in * d_out / peak_flops,
                          bytes_per_element * (batch * d_in + d_in * d_out + batch * d_out)
                          / bandwidth),
                "return seconds (SI base units), not milliseconds."),
    ],
    random_cases=_random_matmul_time,
)

CRITICAL_BATCH = Task(
    name="critical_batch",
    reference=critical_batch,
    cases=[
        # Scaling book roofline.md: B_crit = F / W = 240 on a TPU v5e (1.97e14 FLOP/s bf16,
        # 8.2e11 B/s; 240 with the 8.2e11 figure, 241 with Google's 819 GB/s).
        Case({"peak_flops": 197e12, "bandwidth": 819e9, "bytes_per_weight": 2}, expected=240.0,
             rtol=0.01, source="scaling book roofline.md: TPU v5e B_crit 240"),
        # Same chip, int8 weights computed in bf16: half, 120.
        Case({"peak_flops": 197e12, "bandwidth": 819e9, "bytes_per_weight": 1}, expected=120.0,
             rtol=0.01, source="scaling book roofline.md: int8 weights + bf16 FLOPs -> 120"),
        # int8 weights and int8 compute (394 TOPS): back to 240.
        Case({"peak_flops": 394e12, "bandwidth": 819e9, "bytes_per_weight": 1}, expected=240.0,
             rtol=0.01, source="scaling book roofline.md: int8 weights + int8 FLOPs -> 240"),
        # H100 SXM dense bf16: ~295-300 (scaling book gpus.md).
        Case({"peak_flops": 989e12, "bandwidth": 3.35e12, "bytes_per_weight": 2}, expected=295.0,
             rtol=0.01, source="scaling book gpus.md: H100 B_crit ~295"),
        # kipply: A100 312e12 / 1.5e12 = 208 tokens in fp16.
        Case({"peak_flops": 312e12, "bandwidth": 1.5e12, "bytes_per_weight": 2}, expected=208.0,
             rtol=1e-9, source="kipply, Transformer Inference Arithmetic: A100 208"),
    ],
    mistakes=[
        Mistake(lambda peak_flops, bandwidth, bytes_per_weight: peak_flops / bandwidth,
                "F / W is the answer only for 2-byte weights. With b_w bytes per weight the "
                "intensity is about 2 B / b_w, so B_crit = F b_w / (2 W)."),
        Mistake(lambda peak_flops, bandwidth, bytes_per_weight:
                peak_flops * bytes_per_weight / bandwidth,
                "twice too large: each weight does one multiply-add (2 FLOPs) per row of the "
                "batch for b_w bytes, so the intensity is 2 B / b_w and B_crit = F b_w / (2 W). "
                "(Also check that F is the dense rate, not a 'with sparsity' figure.)"),
        Mistake(lambda peak_flops, bandwidth, bytes_per_weight:
                2 * peak_flops / (bytes_per_weight * bandwidth),
                "smaller weights mean fewer bytes per FLOP, so the batch needed to be "
                "compute-bound falls: multiply by bytes_per_weight, don't divide."),
    ],
    random_cases=_random_critical,
)

DATASHEET_RIDGE = Task(
    name="datasheet_ridge",
    reference=datasheet_ridge,
    cases=[
        # NVIDIA H100 SXM datasheet: "1,979 teraFLOPS*" bf16, "* with sparsity"; 3.35 TB/s.
        # Dense 989, ridge ~295 (scaling book roofline.md), not 590.
        Case({"tflops_with_sparsity": 1979, "bandwidth_tb_per_s": 3.35}, expected=295.0,
             rtol=0.01, source="H100 datasheet 1,979* TFLOPS, 3.35 TB/s -> 295"),
        # NVIDIA A100 80GB SXM datasheet: 624* TFLOPS bf16, 2,039 GB/s -> 153 (claims.md T2).
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
)

TASKS = [ARITHMETIC_INTENSITY, ATTAINABLE_FLOPS, MATMUL_TIME, CRITICAL_BATCH, DATASHEET_RIDGE]
SOLUTIONS: dict[str, Callable[..., float]] = {t.name: t.reference for t in TASKS}


def check_arithmetic_intensity(fn: Callable[..., float] | None = None) -> CheckResult:
    """Check ``arithmetic_intensity(batch, d_in, d_out, bytes_per_element)``."""
    return report(run_task(EXERCISE, ARITHMETIC_INTENSITY, fn))


def check_attainable_flops(fn: Callable[..., float] | None = None) -> CheckResult:
    """Check ``attainable_flops(intensity, peak_flops, bandwidth)``."""
    return report(run_task(EXERCISE, ATTAINABLE_FLOPS, fn))


def check_matmul_time(fn: Callable[..., float] | None = None) -> CheckResult:
    """Check ``matmul_time(batch, d_in, d_out, bytes_per_element, peak_flops, bandwidth)``."""
    return report(run_task(EXERCISE, MATMUL_TIME, fn))


def check_critical_batch(fn: Callable[..., float] | None = None) -> CheckResult:
    """Check ``critical_batch(peak_flops, bandwidth, bytes_per_weight)``."""
    return report(run_task(EXERCISE, CRITICAL_BATCH, fn))


def check_datasheet_ridge(fn: Callable[..., float] | None = None) -> CheckResult:
    """Check ``datasheet_ridge(tflops_with_sparsity, bandwidth_tb_per_s)``."""
    return report(run_task(EXERCISE, DATASHEET_RIDGE, fn))


def score() -> tuple[int, int]:
    """Print the reader's score for this exercise: tasks passed out of tasks."""
    return _score(EXERCISE, TASKS)
