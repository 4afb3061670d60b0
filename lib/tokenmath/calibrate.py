"""Measure the reader's own roofline: memory bandwidth and matmul FLOP/s of this device.

Three probes, each on buffers well beyond the last-level cache:

* copy bandwidth ``W_copy = 2 N / t`` for ``dst.copy_(src)`` of ``N`` bytes (``N`` read, ``N``
  written);
* read bandwidth ``W_read = N / t`` for a sum reduction over ``N`` bytes;
* matmul FLOP/s ``F = 2 n^3 / t`` for an ``n x n`` by ``n x n`` product, in bf16 on CUDA (fp16
  on parts without bf16, e.g. T4, compute capability < 8.0) and fp32 (no TF32) on CPU and CUDA.

``measure()`` returns an :class:`~tokenmath.hardware.Accelerator` whose ``hbm_bandwidth`` is the
measured **copy** bandwidth (decode streams weights once and writes little, so copy is the
conservative choice; on real parts it lands below the datasheet figure, by how much is what
the lab measures). ``measure_all()`` also keeps the read bandwidth and every timing.
Feeding the result to ``tokenmath.roofline`` gives the calibrated roofline.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import torch

from tokenmath.hardware import Accelerator
from tokenmath.timing import Timing, bench, device_info, resolve_device

__all__ = ["Calibration", "measure", "measure_all", "matmul_dtype", "TORCH_DTYPES"]

GiB = 2**30
MB = 10**6


@dataclass(frozen=True)
class Calibration:
    """Everything one calibration measured. ``accelerator`` feeds the roofline functions."""

    accelerator: Accelerator
    copy_bandwidth: float  # bytes/s, counting read + write
    read_bandwidth: float  # bytes/s
    flops: dict[str, float] = field(hash=False)  # dtype -> measured matmul FLOP/s
    buffer_bytes: int = 0  # size of one bandwidth buffer
    matmul_n: dict[str, int] = field(default_factory=dict, hash=False)
    timings: dict[str, Timing] = field(default_factory=dict, hash=False)
    device_info: dict[str, Any] = field(default_factory=dict, hash=False)

    def to_dict(self) -> dict[str, Any]:
        a = self.accelerator
        return {
            "accelerator": {
                "name": a.name,
                "flops": dict(a.flops),
                "hbm_bandwidth": a.hbm_bandwidth,
                "hbm_bytes": a.hbm_bytes,
                "cache_bytes": a.cache_bytes,
                "source": a.source,
            },
            "copy_bandwidth": self.copy_bandwidth,
            "read_bandwidth": self.read_bandwidth,
            "flops": dict(self.flops),
            "buffer_bytes": self.buffer_bytes,
            "matmul_n": dict(self.matmul_n),
            "timings": {k: t.to_dict() for k, t in self.timings.items()},
            "device_info": dict(self.device_info),
        }


def matmul_dtype(device: str | torch.device | None = None) -> str:
    """The half-precision matmul dtype of a device: ``bf16``, ``fp16`` on CUDA parts without bf16
    (compute capability < 8.0, e.g. T4), ``fp32`` on CPU."""
    dev = resolve_device(device)
    if dev.type == "cpu":
        return "fp32"
    major, _ = torch.cuda.get_device_capability(dev)
    if major >= 8 and torch.cuda.is_bf16_supported():
        return "bf16"
    return "fp16"


# dtype name (as matmul_dtype returns it) -> torch dtype
TORCH_DTYPES = {"fp32": torch.float32, "bf16": torch.bfloat16, "fp16": torch.float16}


def _buffer_bytes(dev: torch.device, info: dict[str, Any], quick: bool) -> int:
    """Bandwidth buffer: >= 8x the largest cache; GPU >= 1 GiB, CPU >= 256 MB.

    Capped so that two buffers use at most a quarter of the free (GPU) or total (CPU) memory.
    """
    cache = int(info.get("cache_bytes") or 0)
    if dev.type == "cuda":
        want = max(GiB, 8 * cache)
        free = int(info.get("free_memory_bytes") or info.get("total_memory_bytes") or 4 * want)
    else:
        want = max(256 * MB, 8 * cache)
        free = int(info.get("total_memory_bytes") or 4 * want)
    size = min(want, free // 8)
    return max(size - size % 4096, 4096)


def _check_rate(value: float, name: str) -> float:
    if not (math.isfinite(value) and value > 0):
        raise RuntimeError(f"calibration measured a non-positive or non-finite {name}: {value!r}")
    return value


def measure_all(device: str | torch.device | None = None, *, quick: bool = False) -> Calibration:
    """Run the copy, read and matmul probes on ``device`` (default: CUDA when visible).

    ``quick=True`` uses fewer repetitions and smaller matmuls (a few seconds on a
    two-core CPU); the default is the careful measurement to store with results.
    """
    dev = resolve_device(device)
    info = device_info(dev)
    nbytes = _buffer_bytes(dev, info, quick)
    reps = 5 if quick else 20
    warm = 1 if quick else 3
    timings: dict[str, Timing] = {}

    with torch.no_grad():
        copy_bw, read_bw = _bandwidth(nbytes, dev, warm, reps, timings)
        flops: dict[str, float] = {}
        sizes: dict[str, int] = {}
        dtypes = ["fp32"] if dev.type == "cpu" else [matmul_dtype(dev), "fp32"]
        for name in dtypes:
            if dev.type == "cpu":
                n = 1024 if quick else 2048
            else:
                n = 4096 if (quick or name == "fp32") else 8192
            sizes[name] = n
            flops[name] = _matmul_flops(n, TORCH_DTYPES[name], dev, warm, reps, timings, name)

    date = info["date_utc"]
    accel = Accelerator(
        name=f"measured: {info.get('name', dev.type)}",
        flops=flops,
        hbm_bandwidth=copy_bw,
        hbm_bytes=float(info.get("total_memory_bytes") or nbytes),
        cache_bytes=float(info["cache_bytes"]) if info.get("cache_bytes") else None,
        source=(
            f"measured with tokenmath.calibrate on {date} "
            f"(hbm_bandwidth = copy bandwidth; read {read_bw / 1e9:.1f} GB/s)"
        ),
    )
    return Calibration(
        accelerator=accel,
        copy_bandwidth=copy_bw,
        read_bandwidth=read_bw,
        flops=flops,
        buffer_bytes=nbytes,
        matmul_n=sizes,
        timings=timings,
        device_info=info,
    )


def _bandwidth(nbytes: int, dev, warm: int, reps: int, timings: dict) -> tuple[float, float]:
    """Copy ``2 N / t`` and read (sum) ``N / t`` bandwidth on ``N``-byte fp32 buffers."""
    src = torch.empty(nbytes // 4, dtype=torch.float32, device=dev).normal_()
    dst = torch.empty_like(src)
    acc = torch.empty((), dtype=torch.float32, device=dev)
    timings["copy"] = bench(lambda: dst.copy_(src), warmup=warm, reps=reps, device=dev)
    timings["read"] = bench(
        lambda: torch.sum(src, dim=0, out=acc), warmup=warm, reps=reps, device=dev
    )
    copy_bw = _check_rate(2 * nbytes / timings["copy"].median_s, "copy bandwidth")
    read_bw = _check_rate(nbytes / timings["read"].median_s, "read bandwidth")
    return copy_bw, read_bw


def _matmul_flops(n, dtype, dev, warm, reps, timings, name) -> float:
    """``2 n^3 / t`` for one ``n x n`` matmul; fp32 without TF32 so it is the true fp32 rate."""
    a = torch.randn(n, n, device=dev, dtype=dtype)
    b = torch.randn(n, n, device=dev, dtype=dtype)
    c = torch.empty(n, n, device=dev, dtype=dtype)
    prev = torch.backends.cuda.matmul.allow_tf32
    torch.backends.cuda.matmul.allow_tf32 = False
    try:
        t = bench(lambda: torch.mm(a, b, out=c), warmup=warm, reps=reps, device=dev)
    finally:
        torch.backends.cuda.matmul.allow_tf32 = prev
    timings[f"matmul_{name}"] = t
    return _check_rate(2 * n**3 / t.median_s, f"{name} matmul FLOP/s")


def measure(device: str | torch.device | None = None, *, quick: bool = False) -> Accelerator:
    """The measured roofline of ``device`` as an Accelerator (``hbm_bandwidth`` = copy bandwidth)."""
    return measure_all(device, quick=quick).accelerator
