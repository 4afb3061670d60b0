"""``tokenmath bench``: time decode steps of a random-weight decoder and compare with the roofline.

For every ``batch x context`` the step runs at position ``S`` of a static cache of ``S + 1``
positions (``S`` cached tokens plus the new one) and reads, per step,

* weight bytes: every parameter tensor of the model, except that of an untied input embedding
  only the ``B`` looked-up rows are read (``B d b``); with tied embeddings the table is read once
  as the LM head;
* KV bytes: ``k_B * B * (S + 1)``, the whole static cache the attention reads.

``achieved = bytes / t`` and ``MBU = achieved / W`` against the datasheet bandwidth (catalog entry
matched from the device name, or ``--hardware``) and against the copy bandwidth measured by
:mod:`tokenmath.calibrate`. The roofline prediction ``tokenmath.roofline.decode_step`` is computed
for the datasheet and the calibrated accelerator; ``measured / predicted`` should be >= 1 for the
datasheet (a lower bound) and close to 1 for the calibrated one.

A step also pays a fixed cost ``t0`` (kernel launches, ramp-up and tails) that no byte count sees.
:func:`fit_overhead` fits it per mode on the ``n_fit`` (default 3) steps with the smallest
calibrated roofline and adds ``roofline_calibrated_t0_s = roofline_calibrated_s + t0`` and its
``measured / predicted`` to every row; the fit points are marked, since they agree by construction.

torch is imported inside :func:`run`, so that ``tokenmath --help`` stays instant.
"""

from __future__ import annotations

import argparse
import itertools
import json
import math
import re
import sys
from typing import Any

__all__ = ["add_arguments", "run", "match_hardware", "weight_bytes_read", "fit_overhead"]

MODES = ("eager", "graph", "compiled")


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


def _mode_list(text: str) -> list[str]:
    modes = [m.strip() for m in str(text).split(",") if m.strip()]
    bad = [m for m in modes if m not in MODES]
    if not modes or bad:
        raise argparse.ArgumentTypeError(f"modes must be among {', '.join(MODES)}, got {text!r}")
    return modes


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Register the ``tokenmath bench`` options on ``parser``."""
    parser.add_argument(
        "--model", default=None, help="model preset (default: llama-3-8b on CUDA, small on CPU)"
    )
    parser.add_argument("--batch", type=_int_list, default=[1], help="batches, e.g. 1,16,64")
    parser.add_argument(
        "--context",
        type=_int_list,
        default=[512],
        help="cached tokens per sequence, e.g. 512,2048,32768",
    )
    parser.add_argument(
        "--mode",
        type=_mode_list,
        default=None,
        help="eager, graph, compiled, or a list (default: graph on CUDA, eager on CPU)",
    )
    parser.add_argument(
        "--dtype",
        choices=("fp32", "bf16", "fp16"),
        default=None,
        help="weights and KV (default: bf16 on CUDA, fp16 without bf16, fp32 on CPU)",
    )
    parser.add_argument(
        "--device", default=None, help="cpu, cuda, cuda:1 (default: cuda if visible)"
    )
    parser.add_argument(
        "--steps", type=int, default=20, help="timed decode steps per configuration"
    )
    parser.add_argument("--warmup", type=int, default=5, help="untimed steps first")
    parser.add_argument(
        "--hardware",
        default=None,
        help="datasheet entry to compare with (default: matched from the device name)",
    )
    parser.add_argument(
        "--calibrate",
        choices=("quick", "full", "none"),
        default="quick",
        help="measure copy bandwidth and matmul FLOP/s first (default: quick)",
    )
    parser.add_argument(
        "--threads", type=int, default=None, help="CPU threads for torch (default: torch's choice)"
    )
    parser.add_argument("--seed", type=int, default=0, help="seed of the random weights")
    parser.add_argument(
        "--json", metavar="PATH", default=None, help="also write the results as JSON"
    )
    parser.add_argument("--no-progress", action="store_true", help="hide the progress bar")


# ----------------------------------------------------------------------------- helpers


def _tokens(name: str) -> list[str]:
    return [t for t in re.split(r"[^a-z0-9]+", name.lower()) if t]


def match_hardware(device_name: str, memory_bytes: float | None = None):
    """The catalog Accelerator a device name refers to, or ``None``.

    An entry matches when its model token (the first with a digit: ``h100``, ``a100``, ``t4``,
    ``4090``) is a word of the device name. Ties go to the entry sharing more words (``pcie``,
    ``80gb``), then the closest memory size, then the entry the bare model token aliases to.
    """
    from tokenmath import hardware

    words = set(_tokens(device_name))
    best, best_key = None, None
    for name in hardware.names():
        toks = _tokens(name)
        model = next((t for t in toks if any(ch.isdigit() for ch in t)), None)
        if model is None or model not in words:
            continue
        acc = hardware.get(name)
        overlap = sum(t in words for t in toks)
        mem = -abs(math.log(acc.hbm_bytes / memory_bytes)) if memory_bytes else 0.0
        try:
            default = hardware.get(model).name == acc.name
        except (KeyError, ValueError):
            default = False
        key = (overlap, round(mem, 2), default)
        if best_key is None or key > best_key:
            best, best_key = acc, key
    return best


def weight_bytes_read(model, batch: int) -> int:
    """Bytes of weights one decode step of ``batch`` sequences reads, counted from the tensors.

    All parameters; of an untied input embedding only ``batch`` rows (``B d b``).
    """
    total = sum(p.numel() * p.element_size() for p in model.parameters())
    if model.lm_head is not None:  # untied: the table is a lookup, not a matmul
        emb = model.embed.weight
        total += -emb.numel() * emb.element_size() + batch * emb.shape[1] * emb.element_size()
    return total


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


def _fmt(x: Any, scale: float = 1.0, spec: str = ".2f") -> str:
    if x is None or (isinstance(x, float) and not math.isfinite(x)):
        return "n/a"
    return format(x * scale, spec)


def _estimate(config, hw, batch: int, context: int, dtype: str):
    """Roofline estimate, or ``None`` when ``hw`` is missing or lacks ``dtype``."""
    if hw is None:
        return None
    from tokenmath import roofline

    try:
        return roofline.decode_step(config, hw, batch, context, weight_dtype=dtype)
    except ValueError:
        return None


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
    if not isinstance(report, dict) or not isinstance(report.get("results"), list):
        raise ValueError("report must be a tokenmath bench report (a dict with 'results')")
    out = dict(report)
    out["results"] = [dict(r) for r in report["results"]]
    fits: dict[str, Any] = {}
    measured = [r for r in out["results"] if not r.get("skipped")]
    for mode in dict.fromkeys(r["mode"] for r in measured):
        rows = [r for r in measured if r["mode"] == mode]
        if any(r.get("roofline_calibrated_s") is None for r in rows):
            fits[mode] = {"error": "no calibrated roofline (run with --calibrate quick or full)"}
            continue
        fit = sorted(rows, key=lambda r: (r["roofline_calibrated_s"], r["batch"], r["context"]))
        fit = fit[:n_fit]
        try:
            t0 = roofline.fit_overhead(
                [r["roofline_calibrated_s"] for r in fit], [r["step_time_s"] for r in fit]
            )
        except ValueError as exc:
            fits[mode] = {"error": str(exc)}
            continue
        fits[mode] = {
            "overhead_s": t0,
            "n_fit": len(fit),
            "points": [[r["batch"], r["context"]] for r in fit],
        }
        for r in rows:
            predicted = r["roofline_calibrated_s"] + t0
            r["roofline_calibrated_t0_s"] = predicted
            r["measured_over_predicted_calibrated_t0"] = r["step_time_s"] / predicted
            r["overhead_fit_point"] = any(r is f for f in fit)
    out["overhead_fit"] = fits
    return out


# ----------------------------------------------------------------------------- run


def run(args: argparse.Namespace) -> int:
    """Run the sweep; print a table (and write ``--json``). 0 if something was measured, else 1."""
    import torch

    threads_before = torch.get_num_threads()
    try:
        return _run(args)
    finally:
        torch.set_num_threads(threads_before)  # --threads must not leak into the caller


def _run(args: argparse.Namespace) -> int:
    import torch
    from tqdm.auto import tqdm

    from tokenmath import calibrate, hardware, models
    from tokenmath.decoder import Decoder, FastDecode
    from tokenmath.dtypes import bytes_per_element
    from tokenmath.kvcache import StaticKVCache
    from tokenmath.timing import bench, device_info, resolve_device

    dev = resolve_device(args.device)
    cuda = dev.type == "cuda"
    name = args.model or ("llama-3-8b" if cuda else "small")
    config = models.get(name)
    dtype = args.dtype or calibrate.matmul_dtype(dev)
    torch_dtype = calibrate.TORCH_DTYPES[dtype]
    modes = args.mode or (["graph"] if cuda else ["eager"])
    if "graph" in modes and not cuda:
        raise ValueError("--mode graph captures a CUDA graph and needs a CUDA device; use eager")
    for flag in ("steps", "warmup"):
        value = getattr(args, flag)
        if not isinstance(value, int) or value < (1 if flag == "steps" else 0):
            raise ValueError(
                f"--{flag} must be a {'positive' if flag == 'steps' else 'non-negative'} integer, got {value!r}"
            )
    batches, contexts = list(args.batch), list(args.context)
    threads = getattr(args, "threads", None)
    if threads is not None:
        if isinstance(threads, bool) or not isinstance(threads, int) or threads < 1:
            raise ValueError(f"--threads must be a positive integer, got {threads!r}")
        torch.set_num_threads(threads)
    say = print

    info = device_info(dev)
    datasheet = (
        hardware.get(args.hardware)
        if args.hardware
        else match_hardware(info.get("name", ""), info.get("total_memory_bytes"))
    )
    say(
        f"tokenmath bench: {config.name} ({dtype}) on {info.get('name')} [{dev}], "
        f"modes {','.join(modes)}, datasheet {datasheet.name if datasheet else 'n/a'}"
    )

    cal = None
    if args.calibrate != "none":
        cal = calibrate.measure_all(dev, quick=args.calibrate == "quick")
        say(
            f"calibrated: copy {cal.copy_bandwidth / 1e9:.1f} GB/s, read "
            f"{cal.read_bandwidth / 1e9:.1f} GB/s, matmul "
            + ", ".join(f"{k} {v / 1e12:.2f} TFLOP/s" for k, v in cal.flops.items())
        )
        if cuda:
            torch.cuda.empty_cache()

    report: dict[str, Any] = {
        "model": config.name,
        "dtype": dtype,
        "modes": modes,
        "device_info": info,
        "datasheet": None
        if datasheet is None
        else {
            "name": datasheet.name,
            "hbm_bandwidth": datasheet.hbm_bandwidth,
            "flops": dict(datasheet.flops),
            "source": datasheet.source,
        },
        "calibration": None
        if cal is None
        else {k: v for k, v in cal.to_dict().items() if k != "device_info"},
        "results": [],
    }

    bpe = bytes_per_element(dtype)
    param_bytes = config.param_count() * bpe
    free = _free_bytes(dev)
    if param_bytes * 1.1 > free:
        msg = (
            f"{config.name} needs {param_bytes / 1e9:.1f} GB of weights in {dtype}, "
            f"but only {free / 1e9:.1f} GB is free on {dev}: skipped"
        )
        if not cuda:
            msg += "; on a CPU try --model small or --model tiny"
        say(msg)
        report["results"] = [
            {"batch": b, "context": s, "mode": m, "skipped": msg}
            for b, s, m in itertools.product(batches, contexts, modes)
        ]
        _write_json(args.json, report)
        return 1

    model = Decoder(config, device=dev, dtype=torch_dtype, seed=args.seed)
    kv_per_token = config.kv_bytes_per_token(dtype)
    configs = list(itertools.product(batches, contexts, modes))
    bar = tqdm(configs, desc="bench", unit="cfg", file=sys.stderr, disable=args.no_progress)
    measured = 0
    for batch, context, mode in bar:
        kv_len = context + 1
        row: dict[str, Any] = {"batch": batch, "context": context, "mode": mode, "kv_len": kv_len}
        cache_bytes = kv_per_token * batch * kv_len
        scratch = (
            4 * batch * config.vocab_size * 4 + 8 * batch * (config.d_ff + config.d_model) * bpe
        )
        free = _free_bytes(dev)
        if cache_bytes + scratch > 0.9 * free:
            row["skipped"] = (
                f"KV cache of {cache_bytes / 1e9:.2f} GB does not fit in the "
                f"{free / 1e9:.2f} GB free on {dev}"
            )
            tqdm.write(f"batch {batch}, context {context}: {row['skipped']}", file=sys.stderr)
            report["results"].append(row)
            continue
        try:
            if mode == "compiled":
                import torch._dynamo

                torch._dynamo.reset()  # one static-shape compile per configuration
            cache = StaticKVCache(
                config, batch=batch, max_len=kv_len, device=dev, dtype=torch_dtype
            )
            for layer in cache.layers:
                layer.k.normal_()
                layer.v.normal_()
            cache.length = context
            step = FastDecode(model, cache, mode, kv_len=kv_len)
            tokens = torch.randint(config.vocab_size, (batch,), device=dev)
            t = bench(
                lambda s=step, x=tokens, p=context: s.step(x, p),
                warmup=args.warmup,
                reps=args.steps,
                device=dev,
            )
        except torch.cuda.OutOfMemoryError as exc:  # estimated to fit, but did not
            row["skipped"] = f"out of memory: {str(exc).splitlines()[0]}"
            tqdm.write(f"batch {batch}, context {context}: {row['skipped']}", file=sys.stderr)
            report["results"].append(row)
            continue
        finally:
            cache = step = None
            if cuda:
                torch.cuda.empty_cache()
        measured += 1
        w_bytes = weight_bytes_read(model, batch)
        kv_bytes = cache_bytes
        total = w_bytes + kv_bytes
        achieved = total / t.median_s
        ds = _estimate(config, datasheet, batch, context, dtype)
        ca = _estimate(config, cal.accelerator if cal else None, batch, context, dtype)
        row.update(
            step_time_s=t.median_s,
            p20_s=t.p20_s,
            p80_s=t.p80_s,
            min_s=t.min_s,
            n_runs=t.n_runs,
            timer=t.backend,
            tokens_per_s=batch / t.median_s,
            weight_bytes=w_bytes,
            kv_bytes=kv_bytes,
            bytes_read=total,
            achieved_bandwidth=achieved,
            mbu_datasheet=achieved / datasheet.hbm_bandwidth if datasheet else None,
            mbu_measured=achieved / cal.copy_bandwidth if cal else None,
            roofline_datasheet_s=ds.time_s if ds else None,
            roofline_datasheet_bound=ds.bound if ds else None,
            roofline_calibrated_s=ca.time_s if ca else None,
            roofline_calibrated_bound=ca.bound if ca else None,
            measured_over_predicted_datasheet=t.median_s / ds.time_s if ds else None,
            measured_over_predicted_calibrated=t.median_s / ca.time_s if ca else None,
            skipped=None,
        )
        report["results"].append(row)
    bar.close()

    if measured:
        report = fit_overhead(report)
    _print_table(report["results"], say)
    for mode, fit in report.get("overhead_fit", {}).items():
        if "overhead_s" in fit:
            pts = ", ".join(f"B={b} S={s}" for b, s in fit["points"])
            say(f"t0 ({mode}): {fit['overhead_s'] * 1e3:.3f} ms per step, fitted on {pts}")
        else:
            say(f"t0 ({mode}): not fitted: {fit['error']}")
    _write_json(args.json, report)
    return 0 if measured else 1


def _print_table(rows: list[dict[str, Any]], say) -> None:
    head = [
        "batch",
        "context",
        "mode",
        "step ms",
        "GB read",
        "GB/s",
        "MBU ds",
        "MBU meas",
        "roof ds ms",
        "roof cal ms",
        "meas/ds",
        "meas/cal",
        "meas/(cal+t0)",
    ]
    lines = []
    for r in rows:
        if r.get("skipped"):
            lines.append([str(r["batch"]), str(r["context"]), r["mode"], "skipped"] + [""] * 9)
            continue
        lines.append(
            [
                str(r["batch"]),
                str(r["context"]),
                r["mode"],
                _fmt(r["step_time_s"], 1e3, ".3f"),
                _fmt(r["bytes_read"], 1e-9, ".3f"),
                _fmt(r["achieved_bandwidth"], 1e-9, ".1f"),
                _fmt(r["mbu_datasheet"], 100, ".1f"),
                _fmt(r["mbu_measured"], 100, ".1f"),
                _fmt(r["roofline_datasheet_s"], 1e3, ".3f"),
                _fmt(r["roofline_calibrated_s"], 1e3, ".3f"),
                _fmt(r["measured_over_predicted_datasheet"]),
                _fmt(r["measured_over_predicted_calibrated"]),
                "fit"
                if r.get("overhead_fit_point")
                else _fmt(r.get("measured_over_predicted_calibrated_t0")),
            ]
        )
    widths = [
        max(len(h), *(len(x[i]) for x in lines)) if lines else len(h) for i, h in enumerate(head)
    ]
    say("  ".join(h.rjust(w) for h, w in zip(head, widths)))
    for x in lines:
        say("  ".join(c.rjust(w) for c, w in zip(x, widths)).rstrip())
    say(
        "MBU in %; ds = datasheet, meas/cal = measured copy bandwidth; roof = roofline step time; "
        "t0 = fixed cost per step fitted on the rows marked 'fit'"
    )


def _write_json(path: str | None, report: dict[str, Any]) -> None:
    if not path:
        return
    with open(path, "w", encoding="utf-8") as fh:
        json.dump(report, fh, indent=2, default=str)
        fh.write("\n")
