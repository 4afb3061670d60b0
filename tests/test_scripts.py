"""scripts/: the GPU measurement helpers run on a CPU with a tiny preset, and their summaries add up."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from types import SimpleNamespace

import pytest
import torch
from notebook_files import ROOT
from tokenmath import models

SCRIPTS = ROOT / "scripts"


def _load(name: str):
    if str(SCRIPTS) not in sys.path:  # the scripts import their shared helpers (_common)
        sys.path.insert(0, str(SCRIPTS))
    spec = importlib.util.spec_from_file_location(name, SCRIPTS / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _run(script: str, *args: str) -> subprocess.CompletedProcess:
    # one thread: the other pytest worker may be timing something
    env = dict(os.environ, PYTHONPATH=str(ROOT / "lib"), OMP_NUM_THREADS="1")
    return subprocess.run(
        [sys.executable, str(SCRIPTS / script), *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
        check=False,
    )


def test_matmul_shapes_are_the_decoders_matrices():
    shapes = _load("matmul_shapes").shapes(models.get("llama-3-8b"))
    assert shapes == {
        "wqkv": (4096 + 2 * 1024, 4096),
        "wo": (4096, 4096),
        "w13": (2 * 14336, 4096),
        "w2": (4096, 14336),
        "lm_head": (128256, 4096),
    }


def test_matmul_shapes_on_cpu(tmp_path):
    out = tmp_path / "m.json"
    done = _run(
        "matmul_shapes.py",
        "--model",
        "tiny",
        "--batches",
        "1,4",
        "--reps",
        "3",
        "--device",
        "cpu",
        "--out",
        str(out),
    )
    assert done.returncode == 0, done.stderr[-2000:]
    report = json.loads(out.read_text())
    assert report["device_info"]["kind"] == "cpu" and report["calibration"]["copy_bandwidth"] > 0
    rows = report["results"]
    assert len(rows) == 5 * 2
    for r in rows:
        assert r["flops"] == 2 * r["batch"] * r["d_in"] * r["d_out"]
        assert r["bytes"] == 4 * (r["d_in"] * r["d_out"] + r["batch"] * (r["d_in"] + r["d_out"]))
        assert r["achieved_flops"] == pytest.approx(r["flops"] / r["time_s"])
        assert r["roofline_datasheet_s"] is None and r["roofline_calibrated_s"] > 0


def _kernel(name: str, start: float, end: float):
    interval = SimpleNamespace(start=start, end=end, elapsed_us=lambda: end - start)
    return SimpleNamespace(
        name=name, device_type=torch.autograd.DeviceType.CUDA, time_range=interval
    )


def test_profile_groups_and_gpu_summary():
    prof = _load("profile_step")
    assert prof.group("sm90_xmma_gemm_bf16bf16_bf16f32") == "matmul"
    assert prof.group("nvjet_hsh_64x8_64x16_2x1_v_bz_splitK_TNT") == "matmul"
    assert prof.group("pytorch_flash::flash_fwd_splitkv_kernel") == "attention"
    assert prof.group("Memcpy DtoD (Device -> Device)") == "memory"
    assert prof.group("triton_red_fused__to_copy_add_mean_mul_pow_rsqrt_0") == "other"
    cpu_op = SimpleNamespace(name="aten::mm", device_type=torch.autograd.DeviceType.CPU)
    # two steps: 10 us gemm, 2 us gap, 3 us norm, 1 us gap, 4 us flash; then the same again
    events = [cpu_op]
    for t in (0.0, 100.0):
        events += [
            _kernel("gemv_kernel", t, t + 10),
            _kernel("rms_norm_kernel", t + 12, t + 15),
            _kernel("flash_fwd_splitkv_kernel", t + 16, t + 20),
        ]
    s = prof._gpu_summary(events, steps=2)
    assert s["kernels_per_step"] == 3
    assert s["busy_s_per_step"] == pytest.approx(17e-6)
    assert s["span_s_per_step"] == pytest.approx(60e-6)  # 0 .. 120 us over two steps
    assert s["idle_s_per_step"] == pytest.approx(43e-6)
    assert s["groups"]["matmul"] == {"kernels_per_step": 1, "time_s_per_step": pytest.approx(10e-6)}
    assert [k["name"] for k in s["top_kernels"]] == [
        "gemv_kernel",
        "flash_fwd_splitkv_kernel",
        "rms_norm_kernel",
    ]
    assert prof._gpu_summary([cpu_op], steps=1) == {"kernels_per_step": 0}


def test_profile_step_on_cpu_counts_operators(tmp_path):
    out = tmp_path / "p.json"
    done = _run(
        "profile_step.py",
        "--model",
        "tiny",
        "--modes",
        "eager",
        "--points",
        "1:16,2:8",
        "--steps",
        "2",
        "--device",
        "cpu",
        "--out",
        str(out),
    )
    assert done.returncode == 0, done.stderr[-2000:]
    rows = json.loads(out.read_text())["results"]
    assert [(r["mode"], r["batch"], r["context"]) for r in rows] == [
        ("eager", 1, 16),
        ("eager", 2, 8),
    ]
    for r in rows:
        assert "error" not in r, r
        # at least one linear per weight matrix per layer (4) plus the LM head
        assert r["aten_ops_per_step"] >= 4 * models.get("tiny").n_layers + 1


def test_compiled_variants_name_real_inductor_settings():
    import torch._inductor.config as inductor_config

    module = _load("compiled_variants")
    variants = module.VARIANTS
    assert list(variants)[0] == "default" and variants["default"] == ({}, "trees")
    assert module.has_setting(inductor_config, "max_autotune_gemm")
    assert module.has_setting(inductor_config, "triton.cudagraphs")
    assert not module.has_setting(inductor_config, "triton.warp_speed")
    for name, (settings, replay) in variants.items():
        assert replay in ("trees", "manual"), name
        for key in settings:
            assert module.has_setting(inductor_config, key), f"{name}: no Inductor setting {key}"
            with inductor_config.patch({key: settings[key]}):
                pass
    done = _run("compiled_variants.py", "--variants", "default,warp_speed", "--out", "/dev/null")
    assert done.returncode != 0 and "unknown ['warp_speed']" in done.stderr


def test_targets_table_from_the_stored_h200_run():
    text = _load("targets").table(ROOT / "data" / "measurements", "NVIDIA-H200")
    assert "| B=1, S=512 | compiled | 4.79 | 65.6% | 74.1% | 70% | no |" in text
    assert "compiled vs eager at B=1, S=512: 2.44x (target 3x: not met)" in text
    assert "12 of 14 other steps within 15%" in text
    with pytest.raises(ValueError, match="no NVIDIA-B300.json"):
        _load("targets").table(ROOT / "data" / "measurements", "NVIDIA-B300")


def _measure_gpu(tmp_path, **env_vars: str) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHON=sys.executable, OMP_NUM_THREADS="1", OUT_DIR=str(tmp_path))
    env.update(MODEL="tiny", DEVICE="cpu", MATMUL_BATCHES="1,4", PROFILE_POINTS="1:16")
    env.update(PROFILE_MODES="eager", VARIANT_POINTS="", **env_vars)
    return subprocess.run(
        ["bash", str(SCRIPTS / "measure_gpu.sh")],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
        check=False,
    )


def test_measure_gpu_runs_only_the_chosen_stages(tmp_path):
    done = _measure_gpu(tmp_path, STAGES="matmul,profile")
    assert done.returncode == 0, done.stdout + done.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "cpu-matmul-shapes.json",
        "cpu-profile.json",
    ]
    assert "decode sweep" not in done.stdout and "CUDA tests" not in done.stdout


def test_measure_gpu_rejects_an_unknown_stage(tmp_path):
    done = _measure_gpu(tmp_path, STAGES="matmul,warmup")
    assert done.returncode == 2
    assert "STAGES: unknown stage 'warmup'" in done.stderr
    assert list(tmp_path.iterdir()) == []
