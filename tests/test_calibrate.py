"""tokenmath.calibrate: a measured roofline of this machine that the roofline functions accept."""

from __future__ import annotations

import math

import pytest
import torch
from tokenmath import calibrate, models, roofline

cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")


@pytest.fixture(scope="module")
def cpu_cal():
    return calibrate.measure_all("cpu", quick=True)


def _positive_finite(x: float) -> bool:
    return isinstance(x, float) and math.isfinite(x) and x > 0


def test_cpu_calibration_is_positive_finite_and_plausible(cpu_cal):
    assert _positive_finite(cpu_cal.copy_bandwidth)
    assert _positive_finite(cpu_cal.read_bandwidth)
    assert set(cpu_cal.flops) == {"fp32"}
    assert _positive_finite(cpu_cal.flops["fp32"])
    # any machine that runs torch: 100 MB/s .. 10 TB/s, 100 MFLOP/s .. 100 TFLOP/s
    assert 1e8 < cpu_cal.copy_bandwidth < 1e13
    assert 1e8 < cpu_cal.read_bandwidth < 1e13
    assert 1e8 < cpu_cal.flops["fp32"] < 1e14


def test_buffers_are_beyond_the_caches(cpu_cal):
    assert cpu_cal.buffer_bytes >= 256e6
    cache = cpu_cal.device_info.get("cache_bytes")
    if cache:
        want = min(8 * cache, cpu_cal.device_info["total_memory_bytes"] / 8)
        assert cpu_cal.buffer_bytes > want - 4096  # rounded down to whole 4 KiB pages


def test_accelerator_carries_the_measurement(cpu_cal):
    acc = cpu_cal.accelerator
    assert acc.name.startswith("measured: ")
    assert acc.hbm_bandwidth == cpu_cal.copy_bandwidth  # copy bandwidth, documented choice
    assert acc.peak_flops("fp32") == cpu_cal.flops["fp32"]
    assert acc.hbm_bytes == cpu_cal.device_info["total_memory_bytes"]
    assert acc.source.startswith("measured with tokenmath.calibrate on ")
    assert cpu_cal.timings["copy"].median_s > 0 and cpu_cal.timings["matmul_fp32"].n_runs >= 1


def test_calibrated_roofline(cpu_cal):
    tiny = models.get("tiny")
    est = roofline.decode_step(tiny, cpu_cal.accelerator, 1, 64, weight_dtype="fp32")
    assert est.time_s > 0
    assert est.memory_s == pytest.approx(est.bytes / cpu_cal.copy_bandwidth)


def test_to_dict_is_plain(cpu_cal):
    import json

    d = json.loads(json.dumps(cpu_cal.to_dict()))
    assert d["copy_bandwidth"] == cpu_cal.copy_bandwidth
    assert d["accelerator"]["flops"]["fp32"] == cpu_cal.flops["fp32"]


def test_measure_returns_an_accelerator(monkeypatch, cpu_cal):
    calls = []
    monkeypatch.setattr(
        calibrate, "measure_all", lambda d=None, quick=False: calls.append((d, quick)) or cpu_cal
    )
    assert calibrate.measure("cpu", quick=True) is cpu_cal.accelerator
    assert calls == [("cpu", True)]


def test_matmul_dtype_cpu():
    assert calibrate.matmul_dtype("cpu") == "fp32"


@cuda
def test_cuda_calibration():
    cal = calibrate.measure_all("cuda", quick=True)
    half = calibrate.matmul_dtype("cuda")
    major = torch.cuda.get_device_capability()[0]
    assert half == ("bf16" if major >= 8 else "fp16")
    assert set(cal.flops) == {half, "fp32"}
    assert cal.flops[half] > cal.flops["fp32"]
    assert cal.buffer_bytes >= min(2**30, cal.device_info["total_memory_bytes"] / 8)
    assert 5e10 < cal.copy_bandwidth < 2e13
    assert cal.read_bandwidth > 0.5 * cal.copy_bandwidth
