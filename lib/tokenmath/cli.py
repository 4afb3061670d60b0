"""The ``tokenmath`` command line: the calculator for step time, tokens/s and $ per token.

    tokenmath hardware                     # the accelerator catalog
    tokenmath models                       # the model presets
    tokenmath estimate --model llama-3-8b --hw h100 --batch 1,8,64,256 --context 1024,8192
    tokenmath bench ...                    # measurement (imports torch, only when it runs)
    tokenmath grade submissions/*.ipynb    # run and grade students' exercise notebooks

Every failure, bad input or a missing device alike, prints one line, ``tokenmath: error: ...``,
on stderr and exits with status 2.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import traceback
from collections.abc import Sequence

from tokenmath import __version__, cost, hardware, models, roofline
from tokenmath.dtypes import DTYPES

__all__ = ["main", "build_parser"]


class UsageError(Exception):
    """Bad command-line input: reported as one line, exit status 2."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        raise UsageError(message)


def _int_list(text: str) -> list[int]:
    out = []
    for part in text.split(","):
        part = part.strip()
        try:
            value = int(part)
        except ValueError:
            raise argparse.ArgumentTypeError(
                f"expected comma-separated integers, got {text!r}"
            ) from None
        out.append(value)
    if not out:
        raise argparse.ArgumentTypeError("expected at least one integer")
    return out


def _price(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number of dollars, got {text!r}") from None
    if not math.isfinite(value) or value < 0:
        raise argparse.ArgumentTypeError(f"must be a finite number >= 0, got {text!r}")
    return value


# ----------------------------------------------------------------------------- subcommands


def _cmd_hardware(args: argparse.Namespace) -> int:
    rows = []
    for name in hardware.names():
        a = hardware.get(name)
        rows.append(
            {
                "name": a.name,
                "flops": dict(a.flops),
                "hbm_bandwidth": a.hbm_bandwidth,
                "hbm_bytes": a.hbm_bytes,
                "cache_bytes": a.cache_bytes,
                "link_bandwidth": a.link_bandwidth,
                "ridge_bf16": a.ridge("bf16") if "bf16" in a.flops else None,
                "ridge_fp16": a.ridge("fp16") if "fp16" in a.flops else None,
                "price_per_hour": a.price_per_hour,
                "source": a.source,
            }
        )
    if args.json:
        print(json.dumps(rows, indent=2))
        return 0
    head = [
        "name",
        "bf16 TFLOP/s",
        "fp16 TFLOP/s",
        "fp8 TFLOP/s",
        "int8 TOP/s",
        "HBM TB/s",
        "HBM GB",
        "link GB/s",
        "ridge bf16",
        "ridge fp16",
        "$/h",
    ]
    table = []
    for r in rows:
        f = r["flops"]
        table.append(
            [
                r["name"],
                _num(f.get("bf16"), 1e12, "{:.0f}"),
                _num(f.get("fp16"), 1e12, "{:.0f}"),
                _num(f.get("fp8"), 1e12, "{:.0f}"),
                _num(f.get("int8"), 1e12, "{:.0f}"),
                f"{r['hbm_bandwidth'] / 1e12:.2f}",
                f"{r['hbm_bytes'] / 1e9:.0f}",
                _num(r["link_bandwidth"], 1e9, "{:.0f}"),
                "-" if r["ridge_bf16"] is None else f"{r['ridge_bf16']:.0f}",
                "-" if r["ridge_fp16"] is None else f"{r['ridge_fp16']:.0f}",
                "-" if r["price_per_hour"] is None else f"{r['price_per_hour']:.2f}",
            ]
        )
    print(_table(head, table))
    print("Dense peaks (no sparsity); decimal units; link: scale-up bandwidth per direction.")
    print("Sources: `tokenmath hardware --json`.")
    return 0


def _num(x: float | None, scale: float, fmt: str) -> str:
    return "-" if x is None else fmt.format(x / scale)


def _cmd_models(args: argparse.Namespace) -> int:
    rows = []
    for name in models.names():
        m = models.get(name)
        rows.append(
            {
                "name": m.name,
                "params": m.param_count(),
                "active_params": m.active_param_count(),
                "n_layers": m.n_layers,
                "d_model": m.d_model,
                "n_heads": m.n_heads,
                "n_kv_heads": m.n_kv_heads,
                "kv_bytes_per_token_bf16": m.kv_bytes_per_token("bf16"),
                "is_moe": m.is_moe,
                "is_mla": m.is_mla,
                "source": m.source,
            }
        )
    if args.json:
        print(json.dumps(rows, indent=2))
        return 0
    head = [
        "name",
        "params",
        "active",
        "layers",
        "d_model",
        "heads",
        "kv heads",
        "KV kB/token (bf16)",
    ]
    table = [
        [
            r["name"],
            _count(r["params"]),
            _count(r["active_params"]),
            str(r["n_layers"]),
            str(r["d_model"]),
            str(r["n_heads"]),
            str(r["n_kv_heads"]),
            f"{r['kv_bytes_per_token_bf16'] / 1e3:.1f}",
        ]
        for r in rows
    ]
    print(_table(head, table))
    return 0


def _count(n: float) -> str:
    for scale, unit in ((1e9, "B"), (1e6, "M"), (1e3, "k")):
        if n >= scale:
            return f"{n / scale:.2f}{unit}"
    return str(int(n))


def _lookup(kind: str, name: str):
    try:
        return (models.get if kind == "model" else hardware.get)(name)
    except KeyError as e:
        raise UsageError(e.args[0] if e.args else f"unknown {kind} {name!r}") from None


def _cmd_estimate(args: argparse.Namespace) -> int:
    m = _lookup("model", args.model)
    a = _lookup("hardware", args.hw)
    kw = dict(
        weight_dtype=args.weight_dtype,
        kv_dtype=args.kv_dtype,
        compute_dtype=args.compute_dtype,
        n_chips=args.n_chips,
    )
    price, price_note = args.price, "--price"
    if price is None and a.price_per_hour is not None:
        price, price_note = a.price_per_hour, f"catalog price, source: {a.source}"
    rows = []
    for s in args.context:
        limit = (
            roofline.max_batch(
                m,
                a,
                s,
                weight_dtype=args.weight_dtype,
                kv_dtype=args.kv_dtype,
                n_chips=args.n_chips,
            )
            if s > 0
            else None
        )
        for b in args.batch:
            e = roofline.decode_step(m, a, b, s, **kw)
            rows.append(
                {
                    "batch": b,
                    "context": s,
                    "time_s": e.time_s,
                    "tokens_per_s": e.tokens_per_s,
                    "bound": e.bound,
                    "compute_s": e.compute_s,
                    "weight_s": e.weight_s,
                    "kv_s": e.kv_s,
                    "memory_s": e.memory_s,
                    "flops": e.flops,
                    "weight_bytes": e.weight_bytes,
                    "kv_bytes": e.kv_bytes,
                    "fits": limit is None or b <= limit,
                    "usd_per_million_tokens": (
                        None if price is None else cost.per_million_tokens(e, price)
                    ),
                }
            )
    w = args.weight_dtype
    kv = args.kv_dtype or w
    c = args.compute_dtype or w
    if args.plot:
        _plot(args.plot, m, a, args.batch, args.context, price, kw)
    if args.json:
        print(
            json.dumps(
                {
                    "model": m.name,
                    "hardware": a.name,
                    "n_chips": args.n_chips,
                    "weight_dtype": w,
                    "kv_dtype": kv,
                    "compute_dtype": c,
                    "price_per_hour": price,
                    "price_note": price_note if price is not None else "no price: pass --price",
                    "rows": rows,
                },
                indent=2,
            )
        )
        return 0
    chips = f"{args.n_chips} x {a.name}" if args.n_chips > 1 else a.name
    print(f"{m.name} on {chips}: weights {w}, KV cache {kv}, compute {c}")
    head = [
        "batch",
        "context",
        "step ms",
        "tokens/s",
        "bound",
        "compute ms",
        "memory ms",
        "fits",
        "$/Mtok",
    ]
    table = [
        [
            str(r["batch"]),
            str(r["context"]),
            f"{r['time_s'] * 1e3:.3f}",
            f"{r['tokens_per_s']:,.0f}",
            r["bound"],
            f"{r['compute_s'] * 1e3:.3f}",
            f"{r['memory_s'] * 1e3:.3f}",
            "yes" if r["fits"] else "no",
            "-" if r["usd_per_million_tokens"] is None else f"{r['usd_per_million_tokens']:.3f}",
        ]
        for r in rows
    ]
    print(_table(head, table))
    if price is None:
        print(
            f"$/Mtok: - because {a.name} has no cited price in the catalog; pass --price "
            "(dollars per chip-hour)."
        )
    else:
        print(f"$/Mtok at ${price:g} per chip-hour ({price_note}).")
    if not all(r["fits"] for r in rows):
        print(
            "fits = no: weights plus KV cache exceed HBM; the time is what it would be if they fit."
        )
    print("Roofline lower bound: ideal overlap, peak FLOP/s and bandwidth, no communication.")
    return 0


def _plot(path: str, m, a, batches, contexts, price, kw) -> None:
    import matplotlib

    matplotlib.use("Agg")
    from tokenmath import plot

    fig = plot.estimate_figure(m, a, batches, contexts, price_per_hour=price, **kw)
    try:
        fig.savefig(path, dpi=120)
    except OSError as e:
        raise UsageError(f"cannot write --plot {path!r}: {e.strerror or e}") from None


def _table(head: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    widths = [
        max(len(h), *(len(r[i]) for r in rows)) if rows else len(h) for i, h in enumerate(head)
    ]
    lines = ["  ".join(h.rjust(w) for h, w in zip(head, widths))]
    lines.append("  ".join("-" * w for w in widths))
    lines += ["  ".join(c.rjust(w) for c, w in zip(r, widths)) for r in rows]
    return "\n".join(lines)


def _add_bench_arguments(parser: argparse.ArgumentParser) -> None:
    from tokenmath import bench  # here, not at the top: only `tokenmath bench` needs it

    bench.add_arguments(parser)


def _cmd_bench(args: argparse.Namespace) -> int:
    from tokenmath import bench

    return bench.run(args)


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number of seconds, got {text!r}") from None
    if not (math.isfinite(value) and value > 0):
        raise argparse.ArgumentTypeError(f"must be a finite number > 0, got {text!r}")
    return value


def _cmd_grade(args: argparse.Namespace) -> int:
    from pathlib import Path

    from tokenmath import grade  # here, not at the top: only `tokenmath grade` needs it

    if args.exercise is not None:
        grade.exercise_module(args.exercise)  # a bad name is a usage error, before any work
    for flag, out in (("--json", args.json), ("--csv", args.csv)):
        if out is not None and not Path(out).resolve().parent.is_dir():
            raise UsageError(f"cannot write {flag} {out!r}: no such directory")
    grade.require_runtime()
    results = []
    for i, path in enumerate(args.notebooks, 1):
        results.append(
            grade.grade_notebook(
                path, args.exercise, timeout=args.timeout, task_timeout=args.task_timeout
            )
        )
        if sys.stderr.isatty():
            r = results[-1]
            print(f"[{i}/{len(args.notebooks)}] {path}: {r.passed}/{r.total}", file=sys.stderr)
    print(grade.format_table(results))
    if args.json is not None:
        grade.write_json(results, args.json)
    if args.csv is not None:
        grade.write_csv(results, args.csv)
    return 0


# ----------------------------------------------------------------------------- parser


def build_parser(argv: Sequence[str] | None = None) -> argparse.ArgumentParser:
    """The parser. ``tokenmath.bench`` is imported only when ``argv`` selects ``bench``."""
    p = _Parser(prog="tokenmath", description="The arithmetic of LLM inference.")
    p.add_argument("--version", action="version", version=f"tokenmath {__version__}")
    sub = p.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    sub.required = True

    h = sub.add_parser("hardware", help="list the accelerator catalog")
    h.add_argument("--json", action="store_true", help="print JSON")
    h.set_defaults(func=_cmd_hardware)

    mo = sub.add_parser("models", help="list the model presets")
    mo.add_argument("--json", action="store_true", help="print JSON")
    mo.set_defaults(func=_cmd_models)

    e = sub.add_parser(
        "estimate",
        help="roofline decode step time, tokens/s and $ per million tokens",
        description="Roofline estimate of one decode step for each batch x context.",
    )
    e.add_argument("--model", required=True, help="model preset (see `tokenmath models`)")
    e.add_argument("--hw", required=True, help="accelerator (see `tokenmath hardware`)")
    e.add_argument("--batch", type=_int_list, default=[1], help="batches, e.g. 1,8,64")
    e.add_argument(
        "--context",
        type=_int_list,
        default=[1024],
        help="KV-cache lengths (tokens), e.g. 1024,8192",
    )
    e.add_argument("--weight-dtype", default="bf16", choices=DTYPES)
    e.add_argument("--kv-dtype", default=None, choices=DTYPES, help="default: weight dtype")
    e.add_argument(
        "--compute-dtype",
        default=None,
        choices=DTYPES,
        help="default: weight dtype (int8/int4 weights usually compute in bf16)",
    )
    e.add_argument("--n-chips", type=int, default=1, help="ideal chips sharing the work")
    e.add_argument(
        "--price",
        type=_price,
        default=None,
        help="$ per chip-hour (default: the catalog's cited price, if any)",
    )
    e.add_argument("--json", action="store_true", help="print JSON")
    e.add_argument("--plot", metavar="PNG", default=None, help="also write a figure")
    e.set_defaults(func=_cmd_estimate)

    g = sub.add_parser(
        "grade",
        help="run and grade students' exercise notebooks (for instructors)",
        description="Run each notebook headless, then grade every task of its exercise with "
        "tokenmath's own checks (a notebook cannot change its grade). Exit status 0 when "
        "grading completed, whatever the students scored.",
    )
    g.add_argument("notebooks", nargs="+", metavar="NOTEBOOK", help="submitted .ipynb files")
    g.add_argument(
        "--exercise",
        default=None,
        help="e.g. 01_rooflines (default: from each notebook's "
        "`from tokenmath.checks import exNN_...` line)",
    )
    g.add_argument(
        "--timeout", type=_seconds, default=300.0, help="seconds for each notebook's cells"
    )
    g.add_argument(
        "--task-timeout",
        type=_seconds,
        default=30.0,
        help="seconds for the calls one task's check makes",
    )
    g.add_argument("--json", metavar="FILE", default=None, help="write the grades as JSON")
    g.add_argument("--csv", metavar="FILE", default=None, help="write one row per task as CSV")
    g.set_defaults(func=_cmd_grade)

    b = sub.add_parser("bench", help="measure a decode step on this machine (needs torch)")
    b.set_defaults(func=_cmd_bench)
    if argv is not None and len(argv) > 0 and argv[0] == "bench":
        _add_bench_arguments(b)
    return p


# Errors reported as one line: bad input, unknown names, missing devices and files. Anything
# else raised from inside torch (a CPU-only build asked for CUDA) is reported the same way.
_REPORTED = (UsageError, ValueError, RuntimeError, KeyError, OSError, ImportError)


def _from_torch(exc: BaseException) -> bool:
    frames = traceback.extract_tb(exc.__traceback__)
    return bool(frames) and "torch" in frames[-1].filename.replace("\\", "/").split("/")


def _one_line(exc: BaseException) -> str:
    msg = str(exc.args[0]) if isinstance(exc, KeyError) and exc.args else str(exc)
    msg = " ".join(msg.split()) or type(exc).__name__
    if isinstance(exc, ImportError) and not isinstance(exc, UsageError):
        msg = f"a module this command needs is missing: {msg}"
    return msg


def main(argv: list[str] | None = None) -> int:
    """Run the command line; returns the exit status (0 ok, 2 on any error)."""
    argv = list(sys.argv[1:] if argv is None else argv)
    try:
        args = build_parser(argv).parse_args(argv)
        return int(args.func(args) or 0)
    except SystemExit as e:  # --help and --version exit 0 through argparse
        return e.code if isinstance(e.code, int) else 0
    except Exception as e:
        if not isinstance(e, _REPORTED) and not _from_torch(e):
            raise  # a bug in tokenmath: keep its traceback
        print(f"tokenmath: error: {_one_line(e)}", file=sys.stderr)
        return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
