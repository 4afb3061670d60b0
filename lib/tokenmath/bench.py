"""``tokenmath bench``: time decode steps of a random-weight decoder and compare with the roofline.

For every ``batch x context x mode`` the step runs at position ``S`` of a static cache of ``S + 1``
positions (``S`` cached tokens plus the new one), as rung ``mode`` of :mod:`tokenmath.rungs`, and
reads, per step,

* weight bytes: every parameter tensor of the model, except that of an untied input embedding
  only the ``B`` looked-up rows are read (``Decoder.weight_bytes_read``);
* KV bytes: ``k_B B (S + 1)``, the whole static cache the attention reads.

``achieved = bytes / t`` and ``MBU = achieved / W`` against the datasheet bandwidth (catalog entry
matched from the device name, or ``--hardware``) and against the copy bandwidth measured by
:mod:`tokenmath.calibrate`. The roofline prediction ``tokenmath.roofline.decode_step`` is computed
for the datasheet and the calibrated accelerator; ``measured / predicted`` should be >= 1 for the
datasheet (a lower bound) and close to 1 for the calibrated one. A step also pays a fixed cost
``t0`` that no byte count sees; :func:`tokenmath.measurements.fit_overhead` fits it per mode.

torch is imported inside :func:`run`, so that ``tokenmath --help`` stays instant.
"""

from __future__ import annotations

import argparse
import itertools
import json
import math
import sys
from dataclasses import dataclass
from typing import Any

__all__ = ["add_arguments", "run"]


def _int_list(text: str) -> list[int]:
    try:
        values = [int(x) for x in str(text).split(",") if x.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected comma-separated integers, got {text!r}"
        ) from None
    if not values or any(v < 1 for v in values):
        raise argparse.ArgumentTypeError(f"expected positive integers, got {text!r}")
    return values


def _point_list(text: str) -> list[tuple[int, int]]:
    try:
        points = [tuple(int(x) for x in p.split(":")) for p in str(text).split(",") if p.strip()]
    except ValueError:
        points = []
    if not points or any(len(p) != 2 or min(p) < 1 for p in points):
        raise argparse.ArgumentTypeError(f"expected batch:context pairs, e.g. 1:512,64:2048, got {text!r}")
    return points


def _mode_list(text: str) -> list[str]:
    from tokenmath.rungs import MODES

    modes = [m.strip() for m in str(text).split(",") if m.strip()]
    if not modes or any(m not in MODES for m in modes):
        raise argparse.ArgumentTypeError(f"modes must be among {', '.join(MODES)}, got {text!r}")
    return modes


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Register the ``tokenmath bench`` options on ``parser``."""
    add = parser.add_argument
    add("--model", default=None, help="model preset (default: llama-3-8b on CUDA, small on CPU)")
    add("--batch", type=_int_list, default=[1], help="batches, e.g. 1,16,64")
    add("--context", type=_int_list, default=[512],
        help="cached tokens per sequence, e.g. 512,2048,32768")
    add("--points", type=_point_list, default=None,
        help="batch:context pairs to measure instead of the --batch x --context grid")
    add("--mode", type=_mode_list, default=None,
        help="rungs eager, graph, compiled, or a list (default: graph on CUDA, eager on CPU)")
    add("--split-kv", choices=("auto", "on", "off"), default="auto",
        help="decode attention through the flash kernel (default: where it pays off)")
    add("--dtype", choices=("fp32", "bf16", "fp16"), default=None,
        help="weights and KV (default: bf16 on CUDA, fp16 without bf16, fp32 on CPU)")
    add("--device", default=None, help="cpu, cuda, cuda:1 (default: cuda if visible)")
    add("--steps", type=int, default=20, help="timed decode steps per configuration")
    add("--warmup", type=int, default=5, help="untimed steps first")
    add("--hardware", default=None,
        help="datasheet entry to compare with (default: matched from the device name)")
    add("--calibrate", choices=("quick", "full", "none"), default="quick",
        help="measure copy bandwidth and matmul FLOP/s first (default: quick)")
    add("--threads", type=int, default=None, help="CPU threads for torch (default: torch's choice)")
    add("--seed", type=int, default=0, help="seed of the random weights")
    add("--json", metavar="PATH", default=None, help="also write the results as JSON")
    add("--no-progress", action="store_true", help="hide the progress bar")


def run(args: argparse.Namespace) -> int:
    """Run the sweep; print a table (and write ``--json``). 0 if something was measured, else 1."""
    import torch

    threads_before = torch.get_num_threads()
    try:
        return _run(args)
    finally:
        torch.set_num_threads(threads_before)  # --threads must not leak into the caller


# ----------------------------------------------------------------------------- the steps of a run


@dataclass
class _Setup:
    device: Any  # torch.device
    config: Any  # ModelConfig
    dtype: str
    modes: list[str]
    split_kv: bool | None
    datasheet: Any  # Accelerator or None
    info: dict[str, Any]


def _setup(args: argparse.Namespace) -> _Setup:
    """Resolve the defaults and check the options (one-line ValueError naming the option)."""
    import torch

    from tokenmath import calibrate, hardware, models
    from tokenmath.timing import device_info, resolve_device

    dev = resolve_device(args.device)
    cuda = dev.type == "cuda"
    modes = args.mode or (["graph"] if cuda else ["eager"])
    if "graph" in modes and not cuda:
        raise ValueError("--mode graph captures a CUDA graph and needs a CUDA device; use eager")
    for flag, least in (("steps", 1), ("warmup", 0)):
        value = getattr(args, flag)
        if isinstance(value, bool) or not isinstance(value, int) or value < least:
            raise ValueError(f"--{flag} must be an integer >= {least}, got {value!r}")
    threads = getattr(args, "threads", None)
    if threads is not None:
        if isinstance(threads, bool) or not isinstance(threads, int) or threads < 1:
            raise ValueError(f"--threads must be a positive integer, got {threads!r}")
        torch.set_num_threads(threads)
    info = device_info(dev)
    datasheet = (
        hardware.get(args.hardware)
        if args.hardware
        else hardware.match_hardware(info.get("name", ""), info.get("total_memory_bytes"))
    )
    return _Setup(
        device=dev,
        config=models.get(args.model or ("llama-3-8b" if cuda else "small")),
        dtype=args.dtype or calibrate.matmul_dtype(dev),
        modes=modes,
        split_kv={"auto": None, "on": True, "off": False}[getattr(args, "split_kv", "auto")],
        datasheet=datasheet,
        info=info,
    )


def _calibrate(s: _Setup, how: str):
    """The copy bandwidth and matmul FLOP/s of this device, or ``None`` for ``none``."""
    import torch

    from tokenmath import calibrate

    if how == "none":
        return None
    cal = calibrate.measure_all(s.device, quick=how == "quick")
    print(
        f"calibrated: copy {cal.copy_bandwidth / 1e9:.1f} GB/s, read "
        f"{cal.read_bandwidth / 1e9:.1f} GB/s, matmul "
        + ", ".join(f"{k} {v / 1e12:.2f} TFLOP/s" for k, v in cal.flops.items())
    )
    if s.device.type == "cuda":
        torch.cuda.empty_cache()
    return cal


def _report(s: _Setup, cal) -> dict[str, Any]:
    ds = s.datasheet
    return {
        "model": s.config.name,
        "dtype": s.dtype,
        "modes": s.modes,
        "device_info": s.info,
        "datasheet": None if ds is None else {
            "name": ds.name,
            "hbm_bandwidth": ds.hbm_bandwidth,
            "flops": dict(ds.flops),
            "source": ds.source,
        },
        "calibration": None if cal is None else {
            k: v for k, v in cal.to_dict().items() if k != "device_info"
        },
        "results": [],
    }


def _free_bytes(dev) -> int:
    import torch

    if dev.type == "cuda":
        return int(torch.cuda.mem_get_info(dev)[0])
    try:
        with open("/proc/meminfo", encoding="utf-8") as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    from tokenmath.timing import device_info

    return int(device_info(dev).get("total_memory_bytes") or 0)


def _no_room(s: _Setup, batch: int | None = None, context: int = 0) -> str | None:
    """Why the weights (``batch=None``) or a cache of ``batch x (context + 1)`` do not fit."""
    from tokenmath.dtypes import bytes_per_element

    c, free = s.config, _free_bytes(s.device)
    bpe = bytes_per_element(s.dtype)
    if batch is None:
        if c.param_count() * bpe * 1.1 <= free:
            return None
        msg = (f"{c.name} needs {c.param_count() * bpe / 1e9:.1f} GB of weights in {s.dtype}, "
               f"but only {free / 1e9:.1f} GB is free on {s.device}: skipped")
        return msg + ("; on a CPU try --model small or --model tiny" if s.device.type == "cpu" else "")
    cache = batch * c.kv_cache_bytes(context + 1, s.dtype)
    scratch = 4 * batch * c.vocab_size * 4 + 8 * batch * (c.d_ff + c.d_model) * bpe
    if cache + scratch <= 0.9 * free:
        return None
    return f"KV cache of {cache / 1e9:.2f} GB does not fit in the {free / 1e9:.2f} GB free on {s.device}"


def _time_step(model, s: _Setup, batch: int, context: int, mode: str, args):
    """``(Timing, split_kv)`` of one decode step at position ``context`` of a static cache of
    ``context + 1`` positions filled with random keys and values."""
    import torch

    from tokenmath.rungs import DecodeStep
    from tokenmath.timing import bench

    step = None
    try:
        if mode == "compiled":
            torch.compiler.reset()  # one static-shape compile per configuration
        cache = model.setup_caches(batch, context + 1)
        for layer in cache.layers:
            layer.k.normal_()
            layer.v.normal_()
        step = DecodeStep(model, mode, kv_len=context + 1, split_kv=s.split_kv)
        tokens = torch.randint(s.config.vocab_size, (batch,), device=s.device)
        t = bench(lambda: step(tokens, context), warmup=args.warmup, reps=args.steps, device=s.device)
        return t, step.split_kv
    finally:
        model.use_cache(None)
        step = None
        if s.device.type == "cuda":
            torch.cuda.empty_cache()


def _estimate(config, hw, batch: int, context: int, dtype: str):
    """Roofline estimate, or ``None`` when ``hw`` is missing or lacks ``dtype``."""
    if hw is None:
        return None
    from tokenmath import roofline

    try:
        return roofline.decode_step(config, hw, batch, context, weight_dtype=dtype)
    except ValueError:
        return None


def _row(model, s: _Setup, cal, batch: int, context: int, t) -> dict[str, Any]:
    """The measured fields of one step, its bytes, MBU and the two roofline predictions."""
    w_bytes = model.weight_bytes_read(batch)
    kv_bytes = batch * s.config.kv_cache_bytes(context + 1, s.dtype)
    achieved = (w_bytes + kv_bytes) / t.median_s
    ds = _estimate(s.config, s.datasheet, batch, context, s.dtype)
    ca = _estimate(s.config, cal.accelerator if cal else None, batch, context, s.dtype)
    return dict(
        step_time_s=t.median_s,
        p20_s=t.p20_s,
        p80_s=t.p80_s,
        min_s=t.min_s,
        n_runs=t.n_runs,
        timer=t.backend,
        tokens_per_s=batch / t.median_s,
        weight_bytes=w_bytes,
        kv_bytes=kv_bytes,
        bytes_read=w_bytes + kv_bytes,
        achieved_bandwidth=achieved,
        mbu_datasheet=achieved / s.datasheet.hbm_bandwidth if s.datasheet else None,
        mbu_measured=achieved / cal.copy_bandwidth if cal else None,
        roofline_datasheet_s=ds.time_s if ds else None,
        roofline_datasheet_bound=ds.bound if ds else None,
        roofline_calibrated_s=ca.time_s if ca else None,
        roofline_calibrated_bound=ca.bound if ca else None,
        measured_over_predicted_datasheet=t.median_s / ds.time_s if ds else None,
        measured_over_predicted_calibrated=t.median_s / ca.time_s if ca else None,
        skipped=None,
    )


def _run(args: argparse.Namespace) -> int:
    import torch
    from tqdm.auto import tqdm

    from tokenmath.calibrate import TORCH_DTYPES
    from tokenmath.decoder import Decoder
    from tokenmath.measurements import fit_overhead

    s = _setup(args)
    print(
        f"tokenmath bench: {s.config.name} ({s.dtype}) on {s.info.get('name')} [{s.device}], "
        f"modes {','.join(s.modes)}, datasheet {s.datasheet.name if s.datasheet else 'n/a'}"
    )
    cal = _calibrate(s, args.calibrate)
    report = _report(s, cal)
    grid = getattr(args, "points", None) or list(itertools.product(args.batch, args.context))
    points = [(b, c, m) for b, c in grid for m in s.modes]

    why = _no_room(s)
    if why:
        print(why)
        report["results"] = [{"batch": b, "context": c, "mode": m, "skipped": why} for b, c, m in points]
        _write_json(args.json, report)
        return 1

    model = Decoder(s.config, device=s.device, dtype=TORCH_DTYPES[s.dtype], seed=args.seed)
    for batch, context, mode in tqdm(points, desc="bench", unit="cfg", file=sys.stderr,
                                     disable=args.no_progress):
        row: dict[str, Any] = {"batch": batch, "context": context, "mode": mode,
                               "kv_len": context + 1}
        why = _no_room(s, batch, context)
        if why is None:
            try:
                t, row["split_kv"] = _time_step(model, s, batch, context, mode, args)
                row.update(_row(model, s, cal, batch, context, t))
            except torch.cuda.OutOfMemoryError as exc:  # estimated to fit, but did not
                why = f"out of memory: {str(exc).splitlines()[0]}"
        if why:
            row["skipped"] = why
            tqdm.write(f"batch {batch}, context {context}: {why}", file=sys.stderr)
        report["results"].append(row)

    measured = sum(not r["skipped"] for r in report["results"])
    if measured:
        report = fit_overhead(report)
    _print_table(report["results"])
    for mode, fit in report.get("overhead_fit", {}).items():
        if "overhead_s" in fit:
            pts = ", ".join(f"B={b} S={c}" for b, c in fit["points"])
            print(f"t0 ({mode}): {fit['overhead_s'] * 1e3:.3f} ms per step, fitted on {pts}")
        else:
            print(f"t0 ({mode}): not fitted: {fit['error']}")
    _write_json(args.json, report)
    return 0 if measured else 1


# ----------------------------------------------------------------------------- output


def _fmt(x: Any, scale: float = 1.0, spec: str = ".2f") -> str:
    if x is None or (isinstance(x, float) and not math.isfinite(x)):
        return "n/a"
    return format(x * scale, spec)


def _print_table(rows: list[dict[str, Any]]) -> None:
    head = ["batch", "context", "mode", "step ms", "GB read", "GB/s", "MBU ds", "MBU meas",
            "roof ds ms", "roof cal ms", "meas/ds", "meas/cal", "meas/(cal+t0)"]
    lines = []
    for r in rows:
        first = [str(r["batch"]), str(r["context"]), r["mode"]]
        if r.get("skipped"):
            lines.append(first + ["skipped"] + [""] * 9)
            continue
        t0 = "fit" if r.get("overhead_fit_point") else _fmt(r.get("measured_over_predicted_calibrated_t0"))
        lines.append(first + [
            _fmt(r["step_time_s"], 1e3, ".3f"),
            _fmt(r["bytes_read"], 1e-9, ".3f"),
            _fmt(r["achieved_bandwidth"], 1e-9, ".1f"),
            _fmt(r["mbu_datasheet"], 100, ".1f"),
            _fmt(r["mbu_measured"], 100, ".1f"),
            _fmt(r["roofline_datasheet_s"], 1e3, ".3f"),
            _fmt(r["roofline_calibrated_s"], 1e3, ".3f"),
            _fmt(r["measured_over_predicted_datasheet"]),
            _fmt(r["measured_over_predicted_calibrated"]),
            t0,
        ])
    widths = [max([len(h)] + [len(x[i]) for x in lines]) for i, h in enumerate(head)]
    print("  ".join(h.rjust(w) for h, w in zip(head, widths)))
    for x in lines:
        print("  ".join(c.rjust(w) for c, w in zip(x, widths)).rstrip())
    print(
        "MBU in %; ds = datasheet, meas/cal = measured copy bandwidth; roof = roofline step time; "
        "t0 = fixed cost per step fitted on the rows marked 'fit'"
    )


def _write_json(path: str | None, report: dict[str, Any]) -> None:
    if not path:
        return
    with open(path, "w", encoding="utf-8") as fh:
        json.dump(report, fh, indent=2, default=str)
        fh.write("\n")
