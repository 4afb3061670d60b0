"""lib/tokenmath/data/measurements: every file records its machine, its derived numbers agree with
its measured ones, and tokenmath.measurements loads them from the package's data, never from the
network (tests/test_colab_wheel.py checks that an installed wheel carries them)."""

from __future__ import annotations

import json
import math

import pytest
from notebook_files import ROOT
from tokenmath import hardware, measurements

DATA = ROOT / "lib" / "tokenmath" / "data" / "measurements"
FILES = sorted(DATA.glob("*.json"))
BENCH = [p for p in FILES if {"results", "modes"} <= json.loads(p.read_text()).keys()]


def test_there_are_gpu_measurements():
    assert any(p.name.startswith("NVIDIA-") for p in FILES)
    assert BENCH


@pytest.mark.parametrize("path", FILES, ids=[p.name for p in FILES])
def test_every_file_records_device_versions_and_date(path):
    report = json.loads(path.read_text())
    info = report["device_info"]
    for key in ("name", "torch_version", "tokenmath_version", "date_utc"):
        assert info.get(key), f"{path.name}: device_info lacks {key}"
    assert report["results"], f"{path.name}: no results"
    assert f"`{path.name}`" in (DATA / "README.md").read_text(), f"README does not list {path.name}"


@pytest.mark.parametrize("path", BENCH, ids=[p.name for p in BENCH])
def test_bench_rows_are_consistent_and_above_the_datasheet_roofline(path):
    report = json.loads(path.read_text())
    ds = report["datasheet"]
    assert ds["hbm_bandwidth"] == hardware.get(ds["name"]).hbm_bandwidth
    rows = measurements.rows(report)
    assert rows
    for r in rows:
        assert r["step_time_s"] > 0 and r["p20_s"] <= r["step_time_s"] <= r["p80_s"]
        assert r["bytes_read"] == r["weight_bytes"] + r["kv_bytes"]
        assert math.isclose(
            r["achieved_bandwidth"], r["bytes_read"] / r["step_time_s"], rel_tol=1e-9
        )
        assert math.isclose(
            r["mbu_datasheet"], r["achieved_bandwidth"] / ds["hbm_bandwidth"], rel_tol=1e-9
        )
        # The datasheet roofline is a lower bound on every real step, and MBU stays below 1.
        assert r["measured_over_predicted_datasheet"] > 1
        assert 0 < r["mbu_datasheet"] < 1 and 0 < r["mbu_measured"] < 1


def test_h200_sweep_with_a_fixed_cost_per_step():
    """Chapter 2 and the measurements' README quote this: with t0 fitted on 3 points the
    calibrated roofline is within 15 % of every graph-mode step up to batch 64, not at 256."""
    report = measurements.fit_overhead(measurements.load("NVIDIA-H200-roofline-sweep"))
    assert report["overhead_fit"]["graph"]["overhead_s"] == pytest.approx(2.1e-3, abs=0.1e-3)
    rows = measurements.rows(report, mode="graph")
    small = [r for r in rows if r["batch"] <= 64]
    assert len(small) == 15
    assert all(0.85 <= r["measured_over_predicted_calibrated_t0"] <= 1.15 for r in small)
    big = [r["measured_over_predicted_calibrated_t0"] for r in rows if r["batch"] == 256]
    assert len(big) == 2 and min(big) > 1.3


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
    out = measurements.fit_overhead(report)
    fit = out["overhead_fit"]["graph"]
    assert fit["overhead_s"] == pytest.approx(2e-3)
    assert fit["points"] == [[1, 512], [1, 2048], [4, 512]] and fit["n_fit"] == 3
    by = {(r["batch"], r["context"]): r for r in out["results"] if not r["skipped"]}
    assert by[(64, 2048)]["roofline_calibrated_t0_s"] == pytest.approx(9.2e-3)
    assert by[(64, 2048)]["measured_over_predicted_calibrated_t0"] == pytest.approx(9.5 / 9.2)
    assert by[(16, 512)]["measured_over_predicted_calibrated_t0"] == pytest.approx(1.0)
    assert [r["overhead_fit_point"] for r in by.values()] == [True, True, True, False, False]
    assert "overhead_fit" not in report and "overhead_fit_point" not in report["results"][0]
    one = measurements.fit_overhead(report, n_fit=1)["overhead_fit"]["graph"]
    assert one["points"] == [[1, 512]] and one["overhead_s"] == pytest.approx(2e-3)


def test_fit_overhead_says_why_it_cannot_fit():
    rows = [(1, 512, 5.0e-3, 3.0e-3)]
    assert "calibrat" in measurements.fit_overhead(_report(rows, False))["overhead_fit"]["graph"]["error"]
    faster = measurements.fit_overhead(_report([(1, 512, 2.0e-3, 3.0e-3)]))["overhead_fit"]["graph"]
    assert "pessimistic" in faster["error"]
    with pytest.raises(ValueError, match="n_fit"):
        measurements.fit_overhead(_report(rows), n_fit=0)
    with pytest.raises(ValueError, match="report"):
        measurements.fit_overhead({"rows": []})


def test_the_package_data_is_the_folder_in_the_clone():
    assert measurements.data_dir() == DATA
    assert set(measurements.names()) == {p.stem for p in FILES}
    name = BENCH[0].stem
    assert measurements.load(name) == json.loads(BENCH[0].read_text())
    assert measurements.load(name + ".json") == measurements.load(name)


def test_every_measurement_is_package_data_of_the_wheel():
    tomllib = pytest.importorskip("tomllib")  # Python 3.11+
    package_data = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    globs = package_data["package-data"]["tokenmath"]
    lib = ROOT / "lib" / "tokenmath"
    shipped = {p for g in globs for p in lib.glob(g)}
    assert set(FILES) <= shipped


def test_the_old_folder_points_to_the_new_one():
    old = ROOT / "data" / "measurements"
    assert not list(old.glob("*.json")), "measurements belong in lib/tokenmath/data/measurements"
    assert "lib/tokenmath/data/measurements" in (old / "README.md").read_text()


@pytest.mark.parametrize("bad", ["", "../README", "a/b", ".hidden", 3, None])
def test_bad_names(bad):
    with pytest.raises(ValueError, match="name must be"):
        measurements.load(bad)


def test_missing_name_lists_what_exists():
    with pytest.raises(ValueError, match="available: .*NVIDIA-H200"):
        measurements.load("no-such-run")
    with pytest.raises(ValueError, match="available"):
        measurements.load("README.md")  # only .json files are measurements


def test_load_reads_the_package_from_a_zip_too(tmp_path):
    """importlib.resources, not file paths: the package imported from a zip loads its data."""
    import subprocess
    import sys
    import zipfile

    lib = ROOT / "lib"
    archive = tmp_path / "tokenmath.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        for path in sorted((lib / "tokenmath").rglob("*")):
            if path.is_file() and "__pycache__" not in path.parts:
                zf.write(path, path.relative_to(lib).as_posix())
    code = (
        f"import sys; sys.path.insert(0, {str(archive)!r}); import tokenmath.measurements as m; "
        f"assert m.__file__.startswith({str(archive)!r}), m.__file__; "
        "print(len(m.names()), m.load('NVIDIA-H200')['device_info']['name'])"
    )
    # -S: no site-packages, so neither the editable install nor the clone is importable.
    out = subprocess.run(
        [sys.executable, "-S", "-c", code], capture_output=True, text=True, cwd=tmp_path
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == [str(len(FILES)), "NVIDIA", "H200"]


def test_rows_filters_skipped_and_mode():
    report = {
        "results": [
            {"batch": 1, "mode": "graph", "skipped": None},
            {"batch": 2, "mode": "eager", "skipped": None},
            {"batch": 3, "mode": "graph", "skipped": "does not fit"},
        ]
    }
    assert [r["batch"] for r in measurements.rows(report)] == [1, 2]
    assert [r["batch"] for r in measurements.rows(report, mode="graph")] == [1]
    with pytest.raises(ValueError, match="tokenmath bench report"):
        measurements.rows({"no": "results"})


def test_module_imports_neither_torch_matplotlib_nor_a_network_client():
    import subprocess
    import sys

    heavy = ("torch", "matplotlib", "urllib.request", "http.client")
    code = (
        "import sys, tokenmath.measurements as m; m.load('NVIDIA-H200'); "
        f"print([k for k in {heavy!r} if k in sys.modules])"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
