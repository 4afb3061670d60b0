"""Honest timing of torch code on CPU and CUDA, and a record of the machine it ran on.

``bench(fn)`` returns a :class:`Timing` in seconds. It dispatches to well-kept timers:

* CUDA with triton: ``triton.testing.do_bench`` (CUDA events, one pair per call, a 256 MB
  L2 flush before each call outside the timed region);
* CUDA without triton (or ``flush_l2=False``): the same loop written here with CUDA events;
* CPU: ``torch.utils.benchmark.Timer.blocked_autorange`` with ``num_threads`` set to
  ``torch.get_num_threads()`` (the Timer's default of one thread halves CPU matmul speed).

``warmup`` and ``reps`` count calls of ``fn`` on every backend. On CPU, calls are grouped into
blocks (``Timing.calls_per_run`` calls each) so that timer overhead stays below 0.01 %; the
quantiles are then over block means.

Derived rates: ``achieved_bandwidth = bytes / t`` (bytes/s), ``achieved_flops = flops / t``.
"""

from __future__ import annotations

import datetime as _dt
import math
import os
import platform
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

import torch

from tokenmath.validate import nonneg, nonneg_int, positive, positive_int

__all__ = [
    "Timing",
    "bench",
    "bench_graph",
    "device_info",
    "achieved_bandwidth",
    "achieved_flops",
    "resolve_device",
]

_FLUSH_BYTES = 256 * 2**20  # do_bench's flush size; ample next to a 50 MiB H100 L2


@dataclass(frozen=True)
class Timing:
    """Quantiles of the time of one call of ``fn``, in seconds."""

    median_s: float
    p20_s: float
    p80_s: float
    min_s: float
    n_runs: int  # timed samples (CUDA: calls; CPU: blocks of calls_per_run calls)
    backend: str  # "triton.do_bench", "cuda-events", "cuda-graph", "torch.utils.benchmark"
    device: str
    calls_per_run: int = 1

    @property
    def iqr_s(self) -> float:
        """Spread ``p80_s - p20_s`` (seconds)."""
        return self.p80_s - self.p20_s

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def resolve_device(device: str | torch.device | None = None) -> torch.device:
    """``None`` -> ``cuda`` when a GPU is visible, else ``cpu``; a bare ``cuda`` gets its index."""
    if device is None:
        device = "cuda" if torch.cuda.is_available() else "cpu"
    try:
        dev = torch.device(device)
    except (RuntimeError, TypeError) as exc:
        raise ValueError(
            f"device must be a torch device such as 'cpu' or 'cuda:0', got {device!r}"
        ) from exc
    if dev.type == "cuda":
        if not torch.cuda.is_available():
            raise RuntimeError(
                f"device={str(device)!r} asked for CUDA, but no CUDA device is visible"
            )
        if dev.index is None:
            dev = torch.device("cuda", torch.cuda.current_device())
    elif dev.type != "cpu":
        raise ValueError(f"device must be 'cpu' or 'cuda[:i]', got {str(device)!r}")
    return dev


def _quantile(sorted_xs: list[float], q: float) -> float:
    """Linear-interpolation quantile of an ascending list (numpy's default rule)."""
    pos = q * (len(sorted_xs) - 1)
    lo = math.floor(pos)
    hi = min(lo + 1, len(sorted_xs) - 1)
    return sorted_xs[lo] + (sorted_xs[hi] - sorted_xs[lo]) * (pos - lo)


def _summary(times_s: list[float], backend: str, device: torch.device, calls: int = 1) -> Timing:
    xs = sorted(float(t) for t in times_s)
    if not xs or not all(math.isfinite(t) and t >= 0 for t in xs):
        raise RuntimeError(f"{backend} returned no usable times: {times_s[:5]!r}")
    return Timing(
        median_s=_quantile(xs, 0.5),
        p20_s=_quantile(xs, 0.2),
        p80_s=_quantile(xs, 0.8),
        min_s=xs[0],
        n_runs=len(xs),
        backend=backend,
        device=str(device),
        calls_per_run=calls,
    )


# ----------------------------------------------------------------------------- bench


def bench(
    fn: Callable[[], Any],
    *,
    warmup: int = 10,
    reps: int = 30,
    flush_l2: bool = True,
    device: str | torch.device | None = None,
) -> Timing:
    """Time ``fn()`` (no arguments): ``warmup`` untimed calls, then about ``reps`` timed calls.

    ``device`` is where ``fn`` runs (default: CUDA when visible). On CUDA, ``flush_l2`` zeroes a
    256 MB buffer before each timed call so that no call finds its inputs in L2 (do_bench always
    flushes, so ``flush_l2=False`` uses the plain CUDA-event loop). On CPU ``flush_l2`` is ignored:
    CPU caches cannot be flushed from Python; use inputs larger than the last-level cache.
    """
    if not callable(fn):
        raise ValueError(f"fn must be a callable taking no arguments, got {fn!r}")
    warmup = nonneg_int(warmup, "warmup")
    reps = positive_int(reps, "reps")
    dev = resolve_device(device)
    if dev.type == "cuda":
        with torch.cuda.device(dev):
            if flush_l2:
                try:
                    import triton.testing  # only CUDA builds ship triton
                except Exception:  # noqa: BLE001 - ImportError or a broken install
                    pass
                else:
                    times = _triton_times(triton.testing.do_bench, fn, warmup, reps)
                    if times is not None:
                        return _summary(times, "triton.do_bench", dev)
            return _summary(_event_times(fn, warmup, reps, flush_l2, dev), "cuda-events", dev)
    return _cpu_bench(fn, warmup, reps, dev)


def _estimate_cuda_s(fn: Callable[[], Any], calls: int = 3) -> float:
    start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
    torch.cuda.synchronize()
    start.record()
    for _ in range(calls):
        fn()
    end.record()
    torch.cuda.synchronize()
    return max(start.elapsed_time(end) / 1e3 / calls, 1e-7)


def _triton_times(do_bench: Callable[..., Any], fn, warmup: int, reps: int) -> list[float] | None:
    """Run do_bench with warmup/rep budgets (ms) sized to give about ``warmup``/``reps`` calls."""
    fn()
    est_ms = _estimate_cuda_s(fn) * 1e3
    warm_ms = max(warmup * est_ms, 1e-3)
    rep_ms = max(reps * est_ms, 1e-3)
    try:  # triton >= 3.0: every sample, in ms
        out = do_bench(fn, warmup=warm_ms, rep=rep_ms, return_mode="all")
    except (TypeError, ValueError, AssertionError):
        return None  # an old triton without return_mode="all": use our own event loop
    if not isinstance(out, (list, tuple)) or not out:
        return None
    return [float(t) / 1e3 for t in out]


def _flush_buffer(dev: torch.device) -> torch.Tensor:
    props = torch.cuda.get_device_properties(dev)
    l2 = int(getattr(props, "L2_cache_size", 0) or 0)
    return torch.empty(max(_FLUSH_BYTES, 4 * l2), dtype=torch.int8, device=dev)


def _event_times(fn, warmup: int, reps: int, flush_l2: bool, dev: torch.device) -> list[float]:
    """The do_bench loop: an event pair per call, one synchronize at the end."""
    cache = _flush_buffer(dev) if flush_l2 else None
    for _ in range(max(warmup, 1)):
        fn()
    torch.cuda.synchronize(dev)
    starts = [torch.cuda.Event(enable_timing=True) for _ in range(reps)]
    ends = [torch.cuda.Event(enable_timing=True) for _ in range(reps)]
    for i in range(reps):
        if cache is not None:
            cache.zero_()
        starts[i].record()
        fn()
        ends[i].record()
    torch.cuda.synchronize(dev)
    return [s.elapsed_time(e) / 1e3 for s, e in zip(starts, ends)]


def _cpu_bench(fn, warmup: int, reps: int, dev: torch.device) -> Timing:
    from torch.utils import benchmark

    for _ in range(warmup):
        fn()
    t0 = time.perf_counter()
    fn()
    one_s = max(time.perf_counter() - t0, 1e-9)
    timer = benchmark.Timer(stmt="fn()", globals={"fn": fn}, num_threads=torch.get_num_threads())
    # blocked_autorange runs blocks until min_run_time has passed: about `reps` calls for slow
    # functions, and at least 50 ms of samples for fast ones (block size grows for those).
    m = timer.blocked_autorange(min_run_time=max(reps * one_s, 0.05))
    times, number = list(m.times), int(m.number_per_run)
    # A stall on a loaded machine can make one block fill the whole budget: top up to 3 samples
    # (or `reps`, if fewer), so that a median and percentiles mean something.
    while len(times) < min(max(reps, 1), 3):
        times += list(timer.timeit(number).times)
    return _summary(times, "torch.utils.benchmark", dev, calls=number)


def bench_graph(
    fn: Callable[[], Any],
    *,
    warmup: int = 3,
    reps: int = 30,
    calls_per_graph: int = 1,
    flush_l2: bool = True,
    device: str | torch.device | None = None,
) -> Timing:
    """Capture ``calls_per_graph`` calls of ``fn`` in one ``torch.cuda.CUDAGraph``, time replays.

    The result is per call of ``fn`` (replay time / ``calls_per_graph``). CUDA only: on CPU this
    raises ``RuntimeError`` (there are no CPU graphs to replay; use :func:`bench`), rather than
    silently timing something else. ``fn`` must be capturable: no host synchronisation, no
    allocation that depends on data, static input and output buffers.
    """
    if not callable(fn):
        raise ValueError(f"fn must be a callable taking no arguments, got {fn!r}")
    warmup = positive_int(warmup, "warmup")
    reps = positive_int(reps, "reps")
    calls_per_graph = positive_int(calls_per_graph, "calls_per_graph")
    dev = resolve_device(device)
    if dev.type != "cuda":
        raise RuntimeError(
            "bench_graph needs a CUDA device (it replays a captured CUDA graph); "
            "on CPU use tokenmath.timing.bench"
        )
    with torch.cuda.device(dev):
        side = torch.cuda.Stream()
        side.wait_stream(torch.cuda.current_stream())
        with torch.cuda.stream(side):  # warm up off the default stream, as capture requires
            for _ in range(warmup):
                fn()
        torch.cuda.current_stream().wait_stream(side)
        torch.cuda.synchronize(dev)
        graph = torch.cuda.CUDAGraph()
        with torch.cuda.graph(graph):
            for _ in range(calls_per_graph):
                fn()
        times = _event_times(graph.replay, 2, reps, flush_l2, dev)
        del graph
    return _summary([t / calls_per_graph for t in times], "cuda-graph", dev, calls_per_graph)


# ----------------------------------------------------------------------------- rates


def achieved_bandwidth(bytes: float, time_s: float) -> float:  # noqa: A002 - the course's word
    """Achieved bandwidth ``bytes / time_s`` in bytes/s."""
    return nonneg(bytes, "bytes") / positive(time_s, "time_s")


def achieved_flops(flops: float, time_s: float) -> float:
    """Achieved FLOP/s ``flops / time_s``."""
    return nonneg(flops, "flops") / positive(time_s, "time_s")


# ----------------------------------------------------------------------------- device_info


def _try(probe: Callable[[], Any]) -> Any:
    try:
        return probe()
    except Exception:  # noqa: BLE001 - every probe is optional
        return None


def _cpu_name() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as fh:
            for line in fh:
                if line.lower().startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "cpu"


def _cpu_memory_bytes() -> int | None:
    return _try(lambda: os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES"))


def cpu_cache_bytes() -> int | None:
    """Size of the largest CPU cache level (Linux sysfs), in bytes; ``None`` if unreadable."""
    best = None
    base = "/sys/devices/system/cpu/cpu0/cache"
    try:
        entries = os.listdir(base)
    except OSError:
        return None
    for entry in entries:
        text = _try(lambda e=entry: open(f"{base}/{e}/size", encoding="utf-8").read().strip())
        if not text:
            continue
        mult = {"K": 2**10, "M": 2**20, "G": 2**30}.get(text[-1].upper(), 1)
        digits = text[:-1] if text[-1].isalpha() else text
        if digits.isdigit():
            size = int(digits) * mult
            best = size if best is None else max(best, size)
    return best


def _nvml_id(dev: torch.device, props: Any) -> str:
    """The GPU's id for nvidia-smi/NVML: its PCI bus id when readable (CUDA_VISIBLE_DEVICES
    renumbers CUDA devices but not NVML's), else the CUDA index."""
    dom, bus, slot = (
        getattr(props, a, None) for a in ("pci_domain_id", "pci_bus_id", "pci_device_id")
    )
    if all(isinstance(x, int) for x in (dom, bus, slot)):
        return f"{dom:08X}:{bus:02X}:{slot:02X}.0"
    return str(dev.index if dev.index is not None else 0)


def _nvidia_smi(index: str) -> dict[str, Any]:
    """Clocks, power limit and driver from nvidia-smi, where it exists (every field optional)."""
    exe = shutil.which("nvidia-smi")
    if exe is None:
        return {}
    fields = [
        ("driver_version", str),
        ("clocks.sm", float),
        ("clocks.max.sm", float),
        ("clocks.mem", float),
        ("clocks.max.mem", float),
        ("power.limit", float),
        ("power.max_limit", float),
        ("power.draw", float),
        ("temperature.gpu", float),
        ("pstate", str),
    ]
    try:
        out = (
            subprocess.run(
                [
                    exe,
                    f"--id={index}",
                    "--query-gpu=" + ",".join(f for f, _ in fields),
                    "--format=csv,noheader,nounits",
                ],
                capture_output=True,
                text=True,
                timeout=10,
                check=True,
            )
            .stdout.strip()
            .splitlines()[0]
        )
    except Exception:  # noqa: BLE001
        return {}
    info: dict[str, Any] = {}
    names = {
        "clocks.sm": "sm_clock_mhz",
        "clocks.max.sm": "max_sm_clock_mhz",
        "clocks.mem": "mem_clock_mhz",
        "clocks.max.mem": "max_mem_clock_mhz",
        "power.limit": "power_limit_w",
        "power.max_limit": "max_power_limit_w",
        "power.draw": "power_draw_w",
        "temperature.gpu": "temperature_c",
    }
    for (field, conv), raw in zip(fields, out.split(",")):
        value = _try(lambda r=raw, c=conv: c(r.strip()))
        if value not in (None, "", "[N/A]"):
            info[names.get(field, field.replace(".", "_"))] = value
    return info


def _pynvml(index: str) -> dict[str, Any]:
    try:
        import pynvml  # optional (nvidia-ml-py)

        pynvml.nvmlInit()
    except Exception:  # noqa: BLE001
        return {}
    info: dict[str, Any] = {}
    try:
        if index.isdigit():
            h = _try(lambda: pynvml.nvmlDeviceGetHandleByIndex(int(index)))
        else:  # nvidia-ml-py versions differ on str or bytes here
            h = _try(lambda: pynvml.nvmlDeviceGetHandleByPciBusId(index))
            h = h or _try(lambda: pynvml.nvmlDeviceGetHandleByPciBusId(index.encode()))
        if h is None:
            return {}
        probes = {
            "sm_clock_mhz": lambda: pynvml.nvmlDeviceGetClockInfo(h, pynvml.NVML_CLOCK_SM),
            "max_sm_clock_mhz": lambda: pynvml.nvmlDeviceGetMaxClockInfo(h, pynvml.NVML_CLOCK_SM),
            "mem_clock_mhz": lambda: pynvml.nvmlDeviceGetClockInfo(h, pynvml.NVML_CLOCK_MEM),
            "max_mem_clock_mhz": lambda: pynvml.nvmlDeviceGetMaxClockInfo(h, pynvml.NVML_CLOCK_MEM),
            "power_limit_w": lambda: pynvml.nvmlDeviceGetEnforcedPowerLimit(h) / 1e3,
            "memory_bus_width_bits": lambda: pynvml.nvmlDeviceGetMemoryBusWidth(h),
        }
        for key, probe in probes.items():
            value = _try(probe)
            if value is not None:
                info[key] = value
    finally:
        _try(pynvml.nvmlShutdown)
    return info


def device_info(device: str | torch.device | None = None) -> dict[str, Any]:
    """What a measurement ran on: device, memory, clocks and power where readable, versions, date.

    Every probe is guarded: a field that cannot be read is absent (never guessed).
    """
    import tokenmath

    dev = resolve_device(device)
    info: dict[str, Any] = {
        "kind": dev.type,
        "device": str(dev),
        "cpu_name": _cpu_name(),
        "cpu_count": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "torch_version": torch.__version__,
        "tokenmath_version": getattr(tokenmath, "__version__", "unknown"),
        "python_version": platform.python_version(),
        "platform": platform.platform(),
        "date_utc": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
    }
    if dev.type == "cpu":
        info["name"] = info["cpu_name"]
        info["total_memory_bytes"] = _cpu_memory_bytes()
        info["cache_bytes"] = cpu_cache_bytes()
        return info
    props = torch.cuda.get_device_properties(dev)
    info.update(
        name=props.name,
        total_memory_bytes=int(props.total_memory),
        compute_capability=f"{props.major}.{props.minor}",
        sm_count=int(props.multi_processor_count),
        cuda_version=torch.version.cuda,
        bf16_supported=_try(torch.cuda.is_bf16_supported),
    )
    l2 = getattr(props, "L2_cache_size", None)
    if l2:
        info["cache_bytes"] = int(l2)
    free_total = _try(lambda: torch.cuda.mem_get_info(dev))
    if free_total:
        info["free_memory_bytes"] = int(free_total[0])
    index = _nvml_id(dev, props)
    info["nvml_id"] = index
    for key, value in {**_nvidia_smi(index), **_pynvml(index)}.items():
        info.setdefault(key, value)
    if "triton" in sys.modules or _try(lambda: __import__("triton")) is not None:
        info["triton_version"] = _try(lambda: sys.modules["triton"].__version__)
    return info
