"""tokenmath.cli: the calculator's table, JSON, plot, errors, and ``python -m tokenmath``."""

from __future__ import annotations

import json
import subprocess
import sys
import types

import pytest
from tokenmath import cli
from tokenmath.cost import per_million_tokens
from tokenmath.roofline import decode_step

EST = ["estimate", "--model", "llama-3-8b", "--hw", "h100"]


def run(capsys, argv):
    code = cli.main(argv)
    out, err = capsys.readouterr()
    return code, out, err


def test_estimate_table(capsys):
    code, out, err = run(capsys, EST + ["--batch", "1,8,64,256", "--context", "1024,8192"])
    assert code == 0 and err == ""
    lines = out.splitlines()
    head = next(i for i, s in enumerate(lines) if s.split()[:2] == ["batch", "context"])
    rows = [s.split() for s in lines[head + 2 : head + 10]]
    assert [(r[0], r[1]) for r in rows] == [
        (b, c) for c in ("1024", "8192") for b in ("1", "8", "64", "256")
    ]
    # batch 64, context 1024: 7.045 ms and 9,085 tok/s, as derived in test_roofline.py
    b64 = rows[2]
    e = decode_step("llama-3-8b", "h100", 64, 1024)
    assert float(b64[2]) == pytest.approx(e.time_s * 1e3, abs=1e-3)
    assert b64[3] == f"{e.tokens_per_s:,.0f}" and b64[4] == "memory"
    assert float(b64[-1]) == pytest.approx(per_million_tokens(e, 2.0), abs=1e-3)  # catalog $2/h
    assert "$2 per chip-hour" in out
    assert rows[-1][7] == "no"  # 256 x 8192 tokens of KV do not fit in 80 GB


def test_estimate_price_flag_and_missing_price(capsys):
    code, out, _ = run(capsys, EST + ["--batch", "64", "--price", "4"])
    e = decode_step("llama-3-8b", "h100", 64, 1024)
    assert code == 0 and f"{per_million_tokens(e, 4.0):.3f}" in out
    code, out, _ = run(capsys, ["estimate", "--model", "llama-3-8b", "--hw", "mi300x"])
    assert code == 0
    assert "has no cited price" in out and "--price" in out


def test_estimate_json(capsys):
    code, out, _ = run(
        capsys,
        EST
        + [
            "--batch",
            "1,64",
            "--context",
            "1024",
            "--weight-dtype",
            "int8",
            "--compute-dtype",
            "bf16",
            "--json",
        ],
    )
    assert code == 0
    data = json.loads(out)
    assert data["model"] == "llama-3-8b" and data["hardware"] == "H100-SXM"
    assert (data["weight_dtype"], data["kv_dtype"], data["compute_dtype"]) == (
        "int8",
        "int8",
        "bf16",
    )
    assert data["price_per_hour"] == 2.0
    assert len(data["rows"]) == 2
    row = data["rows"][1]
    e = decode_step("llama-3-8b", "h100", 64, 1024, weight_dtype="int8", compute_dtype="bf16")
    for key in ("time_s", "tokens_per_s", "compute_s", "weight_s", "kv_s", "memory_s"):
        assert row[key] == pytest.approx(getattr(e, key))
    assert row["bound"] == e.bound and row["fits"] is True
    assert row["usd_per_million_tokens"] == pytest.approx(per_million_tokens(e, 2.0))


def test_estimate_plot_writes_png(capsys, tmp_path):
    path = tmp_path / "est.png"
    code, _, _ = run(capsys, EST + ["--batch", "1,8", "--context", "1024", "--plot", str(path)])
    assert code == 0
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_hardware_and_models(capsys):
    code, out, _ = run(capsys, ["hardware"])
    assert code == 0 and "H100-SXM" in out and "295" in out
    code, out, _ = run(capsys, ["models", "--json"])
    assert code == 0
    names = [r["name"] for r in json.loads(out)]
    assert "llama-3-8b" in names and "deepseek-v3" in names
    code, out, _ = run(capsys, ["hardware", "--json"])
    t4 = next(r for r in json.loads(out) if r["name"] == "T4")
    assert t4["ridge_bf16"] is None  # no bf16 on a T4 ...
    assert t4["ridge_fp16"] == pytest.approx(65e12 / 320e9)  # ... but fp16 tensor cores
    h200 = next(r for r in json.loads(out) if r["name"] == "H200")
    assert h200["link_bandwidth"] == pytest.approx(450e9)  # NVLink 4: 900 GB/s both ways
    code, out, _ = run(capsys, ["hardware"])
    assert "link GB/s" in out
    assert next(line for line in out.splitlines() if "H200" in line).split()[7] == "450"


@pytest.mark.parametrize(
    "argv, word",
    [
        (["estimate", "--model", "nope", "--hw", "h100"], "unknown model"),
        (EST + ["--batch", "0"], "batch"),
        (EST + ["--batch", "abc"], "--batch"),
        (EST + ["--context", "-5"], "context"),
        (["estimate", "--model", "llama-3-8b", "--hw", "zzz"], "unknown accelerator"),
        (["estimate", "--model", "llama-3-8b", "--hw", "t4"], "bf16"),
        (EST + ["--weight-dtype", "int4"], "compute_dtype"),
        (EST + ["--weight-dtype", "int3"], "--weight-dtype"),
        (EST + ["--n-chips", "0"], "n_chips"),
        (EST + ["--price", "nan"], "--price"),
        (["estimate", "--hw", "h100"], "--model"),
        (["frobnicate"], "invalid choice"),
        ([], "required"),
    ],
)
def test_bad_input_exits_2_with_one_line(capsys, argv, word):
    code, out, err = run(capsys, argv)
    assert code == 2
    assert out == ""
    assert err.count("\n") == 1 and err.startswith("tokenmath: error: ")
    assert word in err
    assert "Traceback" not in err


def test_help_exits_0(capsys):
    code, out, _ = run(capsys, ["--help"])
    assert code == 0 and "estimate" in out and "bench" in out
    code, out, _ = run(capsys, ["estimate", "--help"])
    assert code == 0 and "--weight-dtype" in out


def test_bench_is_registered_lazily(monkeypatch, capsys):
    calls = {}
    fake = types.ModuleType("tokenmath.bench")

    def add_arguments(parser):
        parser.add_argument("--steps", type=int, default=1)

    def run_bench(args):
        calls["steps"] = args.steps
        return 0

    fake.add_arguments, fake.run = add_arguments, run_bench
    _fake_bench(monkeypatch, fake)
    assert cli.main(["bench", "--steps", "3"]) == 0
    assert calls == {"steps": 3}


def _fake_bench(monkeypatch, fake):
    import tokenmath

    monkeypatch.setitem(sys.modules, "tokenmath.bench", fake)
    monkeypatch.setattr(tokenmath, "bench", fake, raising=False)


@pytest.mark.parametrize(
    "exc", [RuntimeError("no GPU\nat all"), OSError("disk full"), KeyError("nope"), ValueError("v")]
)
def test_command_errors_are_one_line(monkeypatch, capsys, exc):
    fake = types.ModuleType("tokenmath.bench")
    fake.add_arguments = lambda parser: None

    def run_bench(args):
        raise exc

    fake.run = run_bench
    _fake_bench(monkeypatch, fake)
    code, out, err = run(capsys, ["bench"])
    assert code == 2 and out == ""
    assert err.count("\n") == 1 and err.startswith("tokenmath: error: ")
    assert str(exc.args[0]).split()[0] in err


def test_bugs_keep_their_traceback(monkeypatch):
    fake = types.ModuleType("tokenmath.bench")
    fake.add_arguments = lambda parser: None
    fake.run = lambda args: 1 / 0
    _fake_bench(monkeypatch, fake)
    with pytest.raises(ZeroDivisionError):
        cli.main(["bench"])


def test_bench_on_cuda_without_cuda_is_one_line():
    import torch

    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    res = subprocess.run(
        [sys.executable, "-m", "tokenmath", "bench", "--device", "cuda", "--no-progress"],
        capture_output=True,
        text=True,
    )
    assert res.returncode == 2, res.stderr
    assert res.stdout == ""
    assert res.stderr.count("\n") == 1 and res.stderr.startswith("tokenmath: error: ")
    assert "CUDA" in res.stderr and "Traceback" not in res.stderr


def test_estimate_does_not_import_bench_or_torch():
    code = (
        "import sys; from tokenmath.cli import main; "
        "rc = main(['estimate', '--model', 'tiny', '--hw', 'h100', '--json']); "
        "print(rc, 'tokenmath.bench' in sys.modules, 'torch' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split()[-3:] == ["0", "False", "False"]


def test_python_m_tokenmath():
    ok = subprocess.run(
        [sys.executable, "-m", "tokenmath", "--help"], capture_output=True, text=True
    )
    assert ok.returncode == 0 and "estimate" in ok.stdout
    res = subprocess.run(
        [
            sys.executable,
            "-m",
            "tokenmath",
            "estimate",
            "--model",
            "llama-3-8b",
            "--hw",
            "h100",
            "--batch",
            "1,64",
            "--context",
            "1024",
        ],
        capture_output=True,
        text=True,
    )
    assert res.returncode == 0 and "memory" in res.stdout
    bad = subprocess.run(
        [sys.executable, "-m", "tokenmath", "estimate", "--model", "x", "--hw", "h100"],
        capture_output=True,
        text=True,
    )
    assert bad.returncode == 2 and bad.stderr.count("\n") == 1 and "Traceback" not in bad.stderr
