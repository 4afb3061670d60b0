"""scripts/: the GPU measurement runner and its scripts run on a CPU with a tiny preset, and what
they write adds up."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from notebook_files import ROOT
from tokenmath import models, roofline

SCRIPTS = ROOT / "scripts"


def _measure_gpu(tmp_path, **env_vars: str) -> subprocess.CompletedProcess:
    # one thread: the other pytest worker may be timing something
    env = dict(os.environ, PYTHON=sys.executable, OMP_NUM_THREADS="1", OUT_DIR=str(tmp_path))
    env.update(DEVICE="cpu", MODEL="tiny", BATCHES="1,2", CONTEXTS="8", LENGTHS="16,32")
    env.update(CALIBRATE="none", **env_vars)
    return subprocess.run(
        ["bash", str(SCRIPTS / "measure_gpu.sh")],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
        check=False,
    )


def test_measure_gpu_runs_the_chosen_stages_on_cpu(tmp_path):
    done = _measure_gpu(tmp_path, STAGES="sweep,prefill,attention")
    assert done.returncode == 0, done.stdout + done.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "cpu-attention.json",
        "cpu-prefill.json",
        "cpu.json",
    ]
    ran = [line.split("] ")[1] for line in done.stdout.splitlines() if line.startswith("== [")]
    assert ran == ["sweep", "prefill", "attention"]
    sweep = json.loads((tmp_path / "cpu.json").read_text())
    assert [(r["batch"], r["context"], r["mode"]) for r in sweep["results"]] == [
        (1, 8, "eager"),
        (2, 8, "eager"),
    ]
    tiny = models.get("tiny")
    prefill = json.loads((tmp_path / "cpu-prefill.json").read_text())
    assert [r["tokens"] for r in prefill["results"]] == [16, 32]
    for r in prefill["results"]:
        assert r["flops"] == roofline.prefill_flops(tiny, r["tokens"])
        assert r["achieved_flops"] == pytest.approx(r["flops"] / r["time_s"])
    attention = json.loads((tmp_path / "cpu-attention.json").read_text())
    by = {(r["variant"], r["batch"]): r for r in attention["results"]}
    for variant in ("sdpa_default", "manual_math"):
        r = by[(variant, 1)]
        assert r["kv_bytes"] == 2 * 8 * 4097 * 128 * 4  # K and V, fp32 on a CPU
        assert r["max_abs_err"] < 1e-5
        assert r["gb_per_s"] == pytest.approx(r["kv_bytes"] / r["time_s"] / 1e9)
    assert "error" in by[("sdpa_cudnn", 1)]  # no cuDNN on a CPU: recorded, the sweep goes on


def test_measure_gpu_rejects_an_unknown_stage(tmp_path):
    done = _measure_gpu(tmp_path, STAGES="sweep,warmup")
    assert done.returncode == 2
    assert "STAGES: unknown stage 'warmup'" in done.stderr
    assert list(tmp_path.iterdir()) == []


def test_measure_gpu_exits_1_when_a_stage_fails(tmp_path):
    done = _measure_gpu(tmp_path, STAGES="prefill", MODEL="no-such-model")
    assert done.returncode == 1 and "== failed" in done.stdout
