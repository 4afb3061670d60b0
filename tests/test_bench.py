"""tokenmath bench: a CPU sweep on a small preset, with every reported field."""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from tokenmath import bench, hardware, models

FIELDS = [
    "batch",
    "context",
    "mode",
    "kv_len",
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


def _report(rows, calibrated=True):
    out = []
    for b, s, t, roof in rows:
        out.append(
            dict(
                batch=b,
                context=s,
                mode="graph",
                skipped=None,
                step_time_s=t,
                roofline_calibrated_s=roof if calibrated else None,
            )
        )
    out.append(dict(batch=512, context=512, mode="graph", skipped="does not fit"))
    return {"results": out}


def test_fit_overhead_on_the_smallest_calibrated_steps():
    # calibrated roofline in ms, measured = roofline + 2 ms (+0.3 ms at the largest point)
    rows = [(1, 512, 5.0e-3, 3.0e-3), (1, 2048, 5.1e-3, 3.1e-3), (4, 512, 5.2e-3, 3.2e-3)]
    rows += [(64, 2048, 9.5e-3, 7.2e-3), (16, 512, 5.5e-3, 3.5e-3)]
    report = _report(rows)
    out = bench.fit_overhead(report)
    fit = out["overhead_fit"]["graph"]
    assert fit["overhead_s"] == pytest.approx(2e-3)
    assert fit["points"] == [[1, 512], [1, 2048], [4, 512]] and fit["n_fit"] == 3
    by = {(r["batch"], r["context"]): r for r in out["results"] if not r["skipped"]}
    assert by[(64, 2048)]["roofline_calibrated_t0_s"] == pytest.approx(9.2e-3)
    assert by[(64, 2048)]["measured_over_predicted_calibrated_t0"] == pytest.approx(9.5 / 9.2)
    assert by[(16, 512)]["measured_over_predicted_calibrated_t0"] == pytest.approx(1.0)
    assert [r["overhead_fit_point"] for r in by.values()] == [True, True, True, False, False]
    assert "overhead_fit" not in report and "overhead_fit_point" not in report["results"][0]
    one = bench.fit_overhead(report, n_fit=1)["overhead_fit"]["graph"]
    assert one["points"] == [[1, 512]] and one["overhead_s"] == pytest.approx(2e-3)


def test_fit_overhead_says_why_it_cannot_fit():
    rows = [(1, 512, 5.0e-3, 3.0e-3)]
    assert "calibrat" in bench.fit_overhead(_report(rows, False))["overhead_fit"]["graph"]["error"]
    faster = bench.fit_overhead(_report([(1, 512, 2.0e-3, 3.0e-3)]))["overhead_fit"]["graph"]
    assert "pessimistic" in faster["error"]
    with pytest.raises(ValueError, match="n_fit"):
        bench.fit_overhead(_report(rows), n_fit=0)
    with pytest.raises(ValueError, match="report"):
        bench.fit_overhead({"rows": []})


def test_datasheet_fields_with_a_named_part(tmp_path):
    out = tmp_path / "b.json"
    args = _args(
        "--model",
        "tiny",
        "--context",
        "16",
        "--steps",
        "2",
        "--warmup",
        "0",
        "--threads",
        "1",
        "--calibrate",
        "none",
        "--hardware",
        "h100",
        "--no-progress",
        "--json",
        str(out),
        "--dtype",
        "fp32",
        "--device",
        "cpu",
    )
    assert bench.run(args) == 0
    report = json.loads(out.read_text())
    assert report["datasheet"]["name"] == "H100-SXM" and report["calibration"] is None
    (r,) = report["results"]
    h100 = hardware.get("H100-SXM")
    assert r["mbu_datasheet"] == pytest.approx(r["achieved_bandwidth"] / h100.hbm_bandwidth)
    assert r["roofline_datasheet_s"] > 0
    # the datasheet roofline is a lower bound on any real step
    assert r["measured_over_predicted_datasheet"] > 1
    assert r["mbu_measured"] is None and r["roofline_calibrated_s"] is None


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
    with pytest.raises(ValueError, match="steps"):
        bench.run(
            _args("--model", "tiny", "--steps", "0", "--calibrate", "none", "--device", "cpu")
        )
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match="CUDA"):
            bench.run(_args("--model", "tiny", "--mode", "graph", "--calibrate", "none"))


@pytest.mark.parametrize(
    "name, memory, want",
    [
        ("NVIDIA H100 80GB HBM3", 85e9, "H100-SXM"),
        ("NVIDIA H100 PCIe", 85e9, "H100-PCIe"),
        ("NVIDIA H200", 150e9, "H200"),
        ("Tesla T4", 15.8e9, "T4"),
        ("NVIDIA A100-SXM4-80GB", 85e9, "A100-80GB"),
        ("NVIDIA A100-SXM4-40GB", 42e9, "A100-40GB"),
        ("NVIDIA A100-PCIE-40GB", 42e9, "A100-40GB"),
        ("NVIDIA A10", 24e9, "A10"),
        ("NVIDIA L4", 24e9, "L4"),
        ("NVIDIA GeForce RTX 4090", 25e9, "RTX-4090"),
        ("AMD Instinct MI300X", 206e9, "MI300X"),
        ("NVIDIA L40S", 48e9, None),
        ("AMD EPYC", 25e9, None),
    ],
)
def test_match_hardware(name, memory, want):
    got = bench.match_hardware(name, memory)
    assert (got.name if got else None) == want


def test_weight_bytes_read_counts_tensors():
    from tokenmath.decoder import Decoder

    tied = dataclasses.replace(models.get("tiny"), name="tiny-tied", tied_embeddings=True)
    for cfg in (models.get("tiny"), tied):
        m = Decoder(cfg)
        for b in (1, 5):
            assert bench.weight_bytes_read(m, b) == cfg.decode_weight_params(b) * 4


def test_cli_entry_point(tmp_path):
    pytest.importorskip("tokenmath.cli")
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
