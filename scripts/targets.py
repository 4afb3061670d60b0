"""Issue 4's performance targets against a GPU run's reports, as a Markdown table.

Reads ``<gpu>.json`` (eager and graph), ``<gpu>-compiled.json`` and ``<gpu>-roofline-sweep.json``
from a folder (what ``scripts/measure_gpu.sh`` writes) and prints, for the three target points,
step time and MBU per mode against the target, the fast path's speed-up over eager at batch 1,
and how close the calibrated roofline comes to the sweep, without and with a fixed cost per step
``t0`` fitted on three points (``tokenmath.bench.fit_overhead``). Nothing is measured here.

    PYTHONPATH=lib python scripts/targets.py data/measurements --gpu NVIDIA-H200
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from tokenmath import measurements
from tokenmath.bench import fit_overhead

# (batch, context) -> MBU target against the datasheet bandwidth (issue 4)
MBU_TARGETS = {(1, 512): 0.70, (64, 2048): 0.75, (1, 32768): 0.70}
SPEEDUP_TARGET = 3.0
ROOFLINE_TOLERANCE = 0.15


def _load(folder: Path, name: str) -> dict | None:
    path = folder / f"{name}.json"
    return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else None


def _pct(x: float | None) -> str:
    return "n/a" if x is None else f"{x:.1%}"


def table(folder: Path, gpu: str) -> str:
    """The Markdown summary of the reports named ``gpu*`` in ``folder``."""
    rows = []
    for suffix in ("", "-compiled"):
        report = _load(folder, gpu + suffix)
        if report is not None:
            rows += measurements.rows(report)
    if not rows:
        raise ValueError(f"no {gpu}.json or {gpu}-compiled.json in {folder}")
    lines = [
        "| point | mode | step (ms) | MBU, datasheet | MBU, copy | target | met |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    by_point: dict[tuple[int, int], dict[str, dict]] = {}
    for r in rows:
        by_point.setdefault((r["batch"], r["context"]), {})[r["mode"]] = r
    for point, target in MBU_TARGETS.items():
        for mode, r in sorted(
            by_point.get(point, {}).items(), key=lambda kv: -kv[1]["step_time_s"]
        ):
            ds, copy = r.get("mbu_datasheet"), r.get("mbu_measured")
            met = "n/a" if ds is None else ("yes" if ds >= target else "no")
            lines.append(
                f"| B={point[0]}, S={point[1]} | {mode} | {r['step_time_s'] * 1e3:.2f} | "
                f"{_pct(ds)} | {_pct(copy)} | {target:.0%} | {met} |"
            )
    out = ["\n".join(lines), ""]
    modes = by_point.get((1, 512), {})
    if "eager" in modes:
        for fast in ("graph", "compiled"):
            if fast in modes:
                ratio = modes["eager"]["step_time_s"] / modes[fast]["step_time_s"]
                met = "met" if ratio >= SPEEDUP_TARGET else "not met"
                out.append(
                    f"- {fast} vs eager at B=1, S=512: {ratio:.2f}x "
                    f"(target {SPEEDUP_TARGET:.0f}x: {met})"
                )
    sweep = _load(folder, gpu + "-roofline-sweep")
    if sweep is not None:
        fitted = fit_overhead(sweep)
        for mode, fit in fitted.get("overhead_fit", {}).items():
            data = measurements.rows(fitted, mode=mode)
            plain = [r["measured_over_predicted_calibrated"] for r in data]
            within = sum(abs(x - 1) <= ROOFLINE_TOLERANCE for x in plain)
            out.append(
                f"- calibrated roofline, {mode}: {within} of {len(plain)} steps within "
                f"{ROOFLINE_TOLERANCE:.0%} (measured / predicted {min(plain):.2f} to "
                f"{max(plain):.2f})"
            )
            if "overhead_s" not in fit:
                out.append(f"- with t0, {mode}: not fitted ({fit['error']})")
                continue
            tested = [r for r in data if not r["overhead_fit_point"]]
            ratios = [r["measured_over_predicted_calibrated_t0"] for r in tested]
            within = sum(abs(x - 1) <= ROOFLINE_TOLERANCE for x in ratios)
            misses = ", ".join(
                f"B={r['batch']} S={r['context']} {r['measured_over_predicted_calibrated_t0']:.2f}"
                for r in tested
                if abs(r["measured_over_predicted_calibrated_t0"] - 1) > ROOFLINE_TOLERANCE
            )
            out.append(
                f"- with t0 = {fit['overhead_s'] * 1e3:.2f} ms fitted on "
                + ", ".join(f"B={b} S={s}" for b, s in fit["points"])
                + f": {within} of {len(tested)} other steps within {ROOFLINE_TOLERANCE:.0%}"
                + (f"; outside: {misses}" if misses else "")
            )
    return "\n".join(out)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("folder", type=Path)
    p.add_argument("--gpu", required=True, help="file name prefix, e.g. NVIDIA-H200")
    args = p.parse_args()
    print(table(args.folder, args.gpu))


if __name__ == "__main__":
    main()
