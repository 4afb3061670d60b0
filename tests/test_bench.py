"""tokenmath bench: a CPU sweep on a small preset, with every reported field."""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from tokenmath import bench, hardware, models, roofline

FIELDS = [
    "batch",
    "context",
    "mode",
    "kv_len",
    "split_kv",
    "step_time_s",
    "p20_s",
    "p80_s",
    "min_s",
    "n_runs",
    "tokens_per_s",
    "weight_bytes",
    "kv_bytes",
    "bytes_read",
    "achieved_bandwidth",
    "mbu_datasheet",
    "mbu_measured",
    "roofline_datasheet_s",
    "roofline_calibrated_s",
    "measured_over_predicted_datasheet",
    "measured_over_predicted_calibrated",
    "skipped",
]


def _args(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    bench.add_arguments(parser)
    return parser.parse_args(list(argv))


def test_module_import_does_not_import_torch():
    code = "import sys, tokenmath.bench; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


@pytest.mark.skipif(torch.cuda.is_available(), reason="CPU sweep")
def test_run_tiny_on_cpu_writes_every_field(tmp_path, capsys):
    out = tmp_path / "bench.json"
    args = _args(
        "--model",
        "tiny",
        "--batch",
        "1,4",
        "--context",
        "8,32",
        "--steps",
        "3",
        "--warmup",
        "1",
        "--threads",
        "1",
        "--no-progress",
        "--json",
        str(out),
    )
    assert bench.run(args) == 0
    printed = capsys.readouterr().out
    assert "MBU" in printed and "n/a" in printed  # no datasheet for a CPU
    report = json.loads(out.read_text())
    assert report["model"] == "tiny" and report["dtype"] == "fp32" and report["modes"] == ["eager"]
    assert report["device_info"]["kind"] == "cpu" and "torch_version" in report["device_info"]
    assert report["datasheet"] is None
    cal = report["calibration"]
    assert cal["copy_bandwidth"] > 0 and cal["flops"]["fp32"] > 0
    rows = report["results"]
    assert [(r["batch"], r["context"]) for r in rows] == [(1, 8), (1, 32), (4, 8), (4, 32)]
    tiny = models.get("tiny")
    for r in rows:
        assert set(FIELDS) <= set(r), set(FIELDS) - set(r)
        assert r["skipped"] is None and r["step_time_s"] > 0
        assert r["kv_len"] == r["context"] + 1
        # bytes: the model's tensors agree with the model's formula; KV = k_B * B * (S + 1)
        assert r["weight_bytes"] == tiny.decode_weight_params(r["batch"]) * 4
        assert r["kv_bytes"] == tiny.kv_bytes_per_token("fp32") * r["batch"] * r["kv_len"]
        assert r["achieved_bandwidth"] == pytest.approx(r["bytes_read"] / r["step_time_s"])
        assert r["mbu_datasheet"] is None and r["roofline_datasheet_s"] is None
        assert r["mbu_measured"] == pytest.approx(r["achieved_bandwidth"] / cal["copy_bandwidth"])
        assert r["measured_over_predicted_calibrated"] == pytest.approx(
            r["step_time_s"] / r["roofline_calibrated_s"]
        )
    # a fixed cost per step fitted on the 3 rows with the smallest calibrated roofline
    fit = report["overhead_fit"]["eager"]
    assert fit["n_fit"] == 3 and fit["overhead_s"] > 0, fit
    assert sum(r["overhead_fit_point"] for r in rows) == 3
    for r in rows:
        assert r["roofline_calibrated_t0_s"] == pytest.approx(
            r["roofline_calibrated_s"] + fit["overhead_s"]
        )
    assert "t0 (eager):" in printed and "fit" in printed


def test_datasheet_fields_at_named_points(tmp_path):
    out = tmp_path / "b.json"
    args = _args("--model", "tiny", "--points", "1:16,3:8", "--steps", "2", "--warmup", "0",
                 "--threads", "1", "--calibrate", "none", "--hardware", "h100", "--no-progress",
                 "--json", str(out), "--dtype", "fp32", "--device", "cpu", "--split-kv", "off")
    assert bench.run(args) == 0
    report = json.loads(out.read_text())
    assert report["datasheet"]["name"] == "H100-SXM" and report["calibration"] is None
    rows = report["results"]
    assert [(r["batch"], r["context"], r["split_kv"]) for r in rows] == [(1, 16, False), (3, 8, False)]
    h100 = hardware.get("H100-SXM")
    for r in rows:
        want = roofline.decode_step(models.get("tiny"), h100, r["batch"], r["context"],
                                    weight_dtype="fp32").time_s
        assert r["roofline_datasheet_s"] == pytest.approx(want)
        assert r["measured_over_predicted_datasheet"] == pytest.approx(r["step_time_s"] / want)
        assert r["mbu_datasheet"] == pytest.approx(r["achieved_bandwidth"] / h100.hbm_bandwidth)
        assert r["mbu_measured"] is None and r["roofline_calibrated_s"] is None
    assert report["overhead_fit"]["eager"] == {
        "error": "no calibrated roofline (run with --calibrate quick or full)"
    }


def test_too_large_model_on_cpu_is_skipped_with_a_suggestion(tmp_path, capsys):
    out = tmp_path / "big.json"
    args = _args(
        "--model",
        "llama-3-405b",
        "--device",
        "cpu",
        "--calibrate",
        "none",
        "--no-progress",
        "--json",
        str(out),
    )
    assert bench.run(args) == 1
    assert "--model small" in capsys.readouterr().out
    (r,) = json.loads(out.read_text())["results"]
    assert "skipped" in r["skipped"]


def test_bad_input():
    with pytest.raises(SystemExit):
        _args("--batch", "0")
    with pytest.raises(SystemExit):
        _args("--mode", "turbo")
    with pytest.raises(SystemExit):
        _args("--points", "1-512")
    with pytest.raises(ValueError, match="steps"):
        bench.run(
            _args("--model", "tiny", "--steps", "0", "--calibrate", "none", "--device", "cpu")
        )
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match="CUDA"):
            bench.run(_args("--model", "tiny", "--mode", "graph", "--calibrate", "none"))
        with pytest.raises(ValueError, match="flash"):
            bench.run(_args("--model", "tiny", "--split-kv", "on", "--calibrate", "none",
                            "--steps", "1", "--no-progress"))


def test_cli_entry_point(tmp_path):
    out = tmp_path / "cli.json"
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "tokenmath",
            "bench",
            "--model",
            "tiny",
            "--context",
            "8",
            "--steps",
            "2",
            "--warmup",
            "0",
            "--calibrate",
            "none",
            "--device",
            "cpu",
            "--no-progress",
            "--json",
            str(out),
        ],
        capture_output=True,
        text=True,
        env=env,
        cwd=Path(__file__).parent,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    assert json.loads(out.read_text())["results"][0]["step_time_s"] > 0
    bad = subprocess.run(
        [
            sys.executable,
            "-m",
            "tokenmath",
            "bench",
            "--model",
            "no-such-model",
            "--calibrate",
            "none",
            "--device",
            "cpu",
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert (
        bad.returncode == 2 and "tokenmath: error:" in bad.stderr and "Traceback" not in bad.stderr
    )


def test_threads_option_does_not_leak():
    before = torch.get_num_threads()
    args = _args(
        "--model",
        "tiny",
        "--context",
        "8",
        "--steps",
        "1",
        "--warmup",
        "0",
        "--threads",
        "1",
        "--calibrate",
        "none",
        "--device",
        "cpu",
        "--no-progress",
    )
    assert bench.run(args) == 0
    assert torch.get_num_threads() == before
