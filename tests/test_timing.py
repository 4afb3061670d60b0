"""tokenmath.timing: CPU timing is honest; CUDA paths run where a GPU exists."""

from __future__ import annotations

import datetime as dt
import math
import random
import time

import numpy as np
import pytest
import torch
from tokenmath import timing
from tokenmath.timing import achieved_bandwidth, achieved_flops, bench, bench_graph

cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")


def test_sleep_20ms_measures_20ms_within_10_percent():
    t = bench(lambda: time.sleep(0.02), warmup=1, reps=5, device="cpu")
    assert t.median_s == pytest.approx(0.02, rel=0.10)
    assert t.min_s <= t.p20_s <= t.median_s <= t.p80_s
    assert t.n_runs >= 3 and t.calls_per_run == 1
    assert t.backend == "torch.utils.benchmark" and t.device == "cpu"


def test_more_work_measures_longer():
    # 10x longer sleeps; asserting only 3x keeps the test robust on a loaded 2-core machine.
    short = bench(lambda: time.sleep(0.002), warmup=0, reps=5, device="cpu")
    long = bench(lambda: time.sleep(0.020), warmup=0, reps=5, device="cpu")
    assert long.median_s > 3 * short.median_s
    a, b = torch.randn(64, 64), torch.randn(512, 512)  # 512x more FLOPs
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # a busy machine stalls multi-threaded small matmuls for milliseconds
    try:
        small = bench(lambda: a @ a, warmup=2, reps=5, device="cpu")
        big = bench(lambda: b @ b, warmup=2, reps=5, device="cpu")
    finally:
        torch.set_num_threads(threads)
    assert big.median_s > small.median_s


def test_fast_functions_are_grouped_into_blocks():
    x = torch.ones(4)
    t = bench(lambda: x.add_(1), warmup=2, reps=10, device="cpu")
    assert t.calls_per_run > 1  # timer overhead amortised over many calls
    assert 0 < t.median_s < 1e-3


def test_quantile_matches_numpy():
    rng = random.Random(0)
    for n in (1, 2, 5, 17):
        xs = sorted(rng.random() for _ in range(n))
        for q in (0.0, 0.2, 0.5, 0.8, 1.0):
            assert timing._quantile(xs, q) == pytest.approx(float(np.quantile(xs, q)))


@pytest.mark.parametrize(
    "kwargs", [{"reps": 0}, {"warmup": -1}, {"reps": 2.5}, {"reps": True}, {"device": "tpu"}]
)
def test_bench_rejects_bad_input(kwargs):
    with pytest.raises(ValueError):
        bench(lambda: None, **kwargs)


def test_bench_rejects_non_callable():
    with pytest.raises(ValueError, match="fn"):
        bench(42)


def test_rates():
    assert achieved_bandwidth(2e9, 0.5) == 4e9
    assert achieved_flops(1e12, 2.0) == 5e11
    assert achieved_bandwidth(0, 1.0) == 0.0
    for bad in [(1e9, 0.0), (1e9, -1.0), (1e9, math.nan), (math.inf, 1.0), (-1.0, 1.0)]:
        with pytest.raises(ValueError):
            achieved_bandwidth(*bad)
        with pytest.raises(ValueError):
            achieved_flops(*bad)


def test_bench_graph_on_cpu_raises_a_clear_error():
    with pytest.raises(RuntimeError, match="CUDA"):
        bench_graph(lambda: None, device="cpu")


def test_device_info_cpu():
    info = timing.device_info("cpu")
    assert info["kind"] == "cpu"
    assert info["name"]
    assert info["total_memory_bytes"] > 1e8
    assert info["cpu_count"] >= 1 and info["torch_threads"] >= 1
    assert info["torch_version"] == torch.__version__
    import tokenmath

    assert info["tokenmath_version"] == tokenmath.__version__
    assert info["python_version"].count(".") == 2
    when = dt.datetime.fromisoformat(info["date_utc"])
    assert when.utcoffset() == dt.timedelta(0)


def test_resolve_device():
    assert timing.resolve_device("cpu") == torch.device("cpu")
    with pytest.raises(ValueError):
        timing.resolve_device("not-a-device")
    if not torch.cuda.is_available():
        with pytest.raises(RuntimeError, match="CUDA"):
            timing.resolve_device("cuda")


# ----------------------------------------------------------------------------- GPU only


@cuda
def test_cuda_bench_backends_and_scaling():
    a = torch.randn(1024, 1024, device="cuda")
    b = torch.randn(4096, 4096, device="cuda")
    t = bench(lambda: a @ a, warmup=5, reps=20)
    assert t.backend in ("triton.do_bench", "cuda-events") and t.device.startswith("cuda")
    assert t.min_s <= t.median_s <= t.p80_s
    plain = bench(lambda: a @ a, warmup=5, reps=20, flush_l2=False)
    assert plain.backend == "cuda-events" and plain.n_runs == 20
    big = bench(lambda: b @ b, warmup=5, reps=20)
    assert big.median_s > 4 * t.median_s  # 64x the FLOPs


@cuda
def test_cuda_spin_kernel_twice_as_long_measures_about_twice():
    one = bench(lambda: torch.cuda._sleep(10_000_000), warmup=1, reps=5)  # ~5-10 ms of spinning
    two = bench(lambda: torch.cuda._sleep(20_000_000), warmup=1, reps=5)
    assert two.median_s / one.median_s == pytest.approx(2.0, rel=0.15)


@cuda
def test_bench_graph_times_replays():
    x = torch.zeros(1 << 20, device="cuda")
    t = bench_graph(lambda: x.add_(1.0), reps=20, calls_per_graph=10)
    assert t.backend == "cuda-graph" and t.calls_per_run == 10
    assert 0 < t.median_s < 1e-3
    eager = bench(lambda: x.add_(1.0), warmup=5, reps=20)
    assert t.median_s < 3 * eager.median_s


@cuda
def test_device_info_cuda():
    info = timing.device_info("cuda")
    assert info["kind"] == "cuda" and info["name"]
    assert info["total_memory_bytes"] > 1e9
    assert info["sm_count"] > 0
    major, minor = map(int, info["compute_capability"].split("."))
    assert major >= 3
