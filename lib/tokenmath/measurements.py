"""Measurements stored with the course, shipped inside the package, wherever you run.

Each file in ``tokenmath/data/measurements/`` (``lib/tokenmath/data/measurements/*.json`` in a
clone) is the JSON a real run wrote (``tokenmath bench --json`` or a script in ``scripts/``), with
the ``device_info`` of the machine. They are package data of the wheel, so ``load(name)`` reads
them with :mod:`importlib.resources` from a clone, an editable install or a plain ``pip install``
(Colab) alike, and never uses the network. Standard library only (and the torch-free
``tokenmath.roofline``).
"""

from __future__ import annotations

import json
from importlib import resources
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from importlib.resources.abc import Traversable

__all__ = ["data_dir", "names", "load", "rows", "fit_overhead"]


def data_dir() -> Traversable:
    """The folder of stored measurements inside the installed package: a ``Traversable`` of
    :mod:`importlib.resources` (a :class:`pathlib.Path` unless the package is imported from a zip)."""
    return resources.files("tokenmath").joinpath("data").joinpath("measurements")


def names() -> list[str]:
    """Names of the stored measurement files (without ``.json``), sorted."""
    d = data_dir()
    if not d.is_dir():
        return []
    return sorted(p.name[:-5] for p in d.iterdir() if p.name.endswith(".json") and p.is_file())


def load(name: str) -> dict[str, Any]:
    """The stored report ``name`` (e.g. ``"NVIDIA-H200-roofline-sweep"``; ``.json`` optional).

    Read from the package's data (:func:`data_dir`), never from the network. A name that is not a
    plain file name, or that names no stored file, raises ``ValueError`` (the latter listing the
    names there are).
    """
    if not isinstance(name, str) or not name or "/" in name or "\\" in name or name.startswith("."):
        raise ValueError(
            f"name must be a measurement file name such as 'NVIDIA-H200', got {name!r}"
        )
    stem = name[:-5] if name.endswith(".json") else name
    path = data_dir().joinpath(f"{stem}.json")
    if not path.is_file():
        raise ValueError(
            f"no stored measurement named {stem!r}; available: {', '.join(names()) or 'none'}"
        )
    return json.loads(path.read_text(encoding="utf-8"))


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
