"""Measurements stored with the course (``data/measurements/*.json``), wherever you run.

Each file is the JSON a real run wrote (``tokenmath bench --json`` or a script in ``scripts/``), with
the ``device_info`` of the machine. ``load(name)`` reads it from the repository's ``data/`` folder
when the package runs from a clone (or from ``$TOKENMATH_DATA``), and otherwise downloads it from
the course repository (Colab installs the package without ``data/``). Standard library only
(and the torch-free ``tokenmath.roofline``).
"""

from __future__ import annotations

import json
import os
import urllib.request
from pathlib import Path
from typing import Any

__all__ = ["REPOSITORY_RAW", "data_dir", "names", "load", "rows", "fit_overhead"]

# The repository of _config.yml (tests/test_measurements.py checks that they agree).
REPOSITORY_RAW = "https://raw.githubusercontent.com/cost-of-a-token/cost-of-a-token/main"
_SUBDIR = "data/measurements"


def data_dir() -> Path | None:
    """The local ``data/measurements`` folder: ``$TOKENMATH_DATA`` if set, else the one of the
    clone this package was imported from, else ``None``."""
    env = os.environ.get("TOKENMATH_DATA")
    if env:
        return Path(env)
    here = Path(__file__).resolve().parents[2] / _SUBDIR  # lib/tokenmath/ -> repository root
    return here if here.is_dir() else None


def names() -> list[str]:
    """Names of the local measurement files (without ``.json``), sorted; empty without a clone."""
    d = data_dir()
    return sorted(p.stem for p in d.glob("*.json")) if d else []


def load(name: str, *, download: bool = True) -> dict[str, Any]:
    """The report ``name`` (e.g. ``"NVIDIA-H200-roofline-sweep"``; ``.json`` optional).

    Read from the local folder when there is one (a clone holds every file, so a name missing
    there raises ``ValueError`` listing the names); else fetched from :data:`REPOSITORY_RAW`
    unless ``download=False``. A name that is not a plain file name raises ``ValueError``.
    """
    if not isinstance(name, str) or not name or "/" in name or "\\" in name or name.startswith("."):
        raise ValueError(
            f"name must be a measurement file name such as 'NVIDIA-H200', got {name!r}"
        )
    stem = name[:-5] if name.endswith(".json") else name
    d = data_dir()
    if d is not None:
        path = d / f"{stem}.json"
        if path.is_file():
            return json.loads(path.read_text(encoding="utf-8"))
        raise ValueError(
            f"no measurement named {stem!r} in {d}; available: {', '.join(names()) or 'none'}"
        )
    if not download:
        raise ValueError(f"no local data/measurements folder, and download=False ({stem!r})")
    url = f"{REPOSITORY_RAW}/{_SUBDIR}/{stem}.json"
    try:
        with urllib.request.urlopen(url, timeout=30) as resp:  # noqa: S310 - a fixed https URL
            return json.loads(resp.read().decode("utf-8"))
    except Exception as exc:  # noqa: BLE001 - network errors of every kind
        raise RuntimeError(f"could not download measurement {stem!r} from {url}: {exc}") from exc


def rows(report: dict[str, Any], *, mode: str | None = None) -> list[dict[str, Any]]:
    """The measured rows of a ``tokenmath bench`` report (skipped ones left out), optionally of
    one ``mode`` (``eager``, ``graph``, ``compiled``)."""
    if not isinstance(report, dict) or not isinstance(report.get("results"), list):
        raise ValueError("report must be a tokenmath bench report (a dict with 'results')")
    out = [r for r in report["results"] if not r.get("skipped")]
    if mode is not None:
        out = [r for r in out if r.get("mode") == mode]
    return out


def fit_overhead(report: dict[str, Any], *, n_fit: int = 3) -> dict[str, Any]:
    """A copy of a bench ``report`` with a fixed cost per step ``t0`` fitted for each mode.

    For each mode, ``t0 = mean(t_meas - t_cal)`` (:func:`tokenmath.roofline.fit_overhead`) over
    the ``n_fit`` measured rows with the smallest calibrated roofline time (the smallest batches
    and contexts: memory-bound, where ``t0`` weighs most). Every measured row of the mode gets
    ``roofline_calibrated_t0_s``, ``measured_over_predicted_calibrated_t0`` and
    ``overhead_fit_point`` (True for the rows ``t0`` was fitted on). ``report["overhead_fit"]``
    maps each mode to ``{"overhead_s", "n_fit", "points": [[B, S], ...]}``, or to ``{"error"}``
    when no fit is possible (no calibration, or measured steps faster than the roofline).
    """
    from tokenmath import roofline

    if isinstance(n_fit, bool) or not isinstance(n_fit, int) or n_fit < 1:
        raise ValueError(f"n_fit must be a positive integer, got {n_fit!r}")
    rows(report)  # a bench report, or ValueError
    out = dict(report, results=[dict(r) for r in report["results"]])
    fits: dict[str, Any] = {}
    for mode in dict.fromkeys(r["mode"] for r in rows(out)):
        measured = rows(out, mode=mode)
        if any(r.get("roofline_calibrated_s") is None for r in measured):
            fits[mode] = {"error": "no calibrated roofline (run with --calibrate quick or full)"}
            continue
        fit = sorted(measured, key=lambda r: (r["roofline_calibrated_s"], r["batch"], r["context"]))
        fit = fit[:n_fit]
        try:
            t0 = roofline.fit_overhead(
                [r["roofline_calibrated_s"] for r in fit], [r["step_time_s"] for r in fit]
            )
        except ValueError as exc:
            fits[mode] = {"error": str(exc)}
            continue
        points = [[r["batch"], r["context"]] for r in fit]
        fits[mode] = {"overhead_s": t0, "n_fit": len(fit), "points": points}
        for r in measured:
            predicted = r["roofline_calibrated_s"] + t0
            r["roofline_calibrated_t0_s"] = predicted
            r["measured_over_predicted_calibrated_t0"] = r["step_time_s"] / predicted
            r["overhead_fit_point"] = any(r is f for f in fit)
    out["overhead_fit"] = fits
    return out
