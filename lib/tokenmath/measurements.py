"""Measurements stored with the course (``data/measurements/*.json``), wherever you run.

Each file is the JSON a real run wrote (``tokenmath bench --json`` or a script in ``scripts/``), with
the ``device_info`` of the machine. ``load(name)`` reads it from the repository's ``data/`` folder
when the package runs from a clone (or from ``$TOKENMATH_DATA``), and otherwise downloads it from
the course repository (Colab installs the package without ``data/``). Standard library only.
"""

from __future__ import annotations

import json
import os
import urllib.request
from pathlib import Path
from typing import Any

__all__ = ["REPOSITORY_RAW", "data_dir", "names", "load", "rows"]

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
