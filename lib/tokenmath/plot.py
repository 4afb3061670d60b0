"""Figures the chapters reuse. Every function takes an optional ``ax``, returns it, never shows.

Without ``ax`` a new pyplot figure is made (it renders inline in notebooks; close it with
``plt.close(ax.figure)`` in loops). Nothing here calls ``plt.show()``, so the Agg backend works.
Times are plotted in milliseconds, rates in TFLOP/s, cost in dollars per million tokens.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence

from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter

from tokenmath import cost, hardware, models
from tokenmath.roofline import DecodeAt, HardwareLike, ModelLike

__all__ = [
    "geometric_batches",
    "roofline_chart",
    "step_time_vs_batch",
    "step_time_vs_context",
    "cost_vs_batch",
    "cost_vs_context",
    "estimate_figure",
    "measured_vs_roofline",
]


def _axes(ax: Axes | None, figsize: tuple[float, float] = (6.0, 4.0)) -> Axes:
    """The given axes, or new ones on a pyplot figure (so notebooks display it inline)."""
    if ax is not None:
        return ax
    import matplotlib.pyplot as plt  # headless sessions fall back to Agg automatically

    _, ax = plt.subplots(figsize=figsize, layout="constrained")
    return ax


def geometric_batches(max_b: int, per_octave: int = 4) -> list[int]:
    """Integers from 1 to ``max_b``, about ``per_octave`` per doubling (deduplicated, sorted)."""
    if max_b < 1:
        raise ValueError(f"max_b must be >= 1, got {max_b!r}")
    n = int(math.log2(max_b) * per_octave) + 1 if max_b > 1 else 1
    vals = {round(2 ** (i / per_octave)) for i in range(n)} | {1, max_b}
    return sorted(v for v in vals if 1 <= v <= max_b)


def _price(hw, price_per_hour: float | None) -> float:
    if price_per_hour is None:
        price_per_hour = hw.price_per_hour
    if price_per_hour is None:
        raise ValueError(
            f"price_per_hour is required: {hw.name} has no cited price_per_hour in the catalog"
        )
    return price_per_hour


def roofline_chart(
    hw: HardwareLike,
    *,
    dtype: str = "bf16",
    points: Iterable[tuple[float, float, str]] = (),
    intensity_range: tuple[float, float] = (0.1, 1e4),
    ax: Axes | None = None,
) -> Axes:
    """Attainable FLOP/s ``min(F, I W)`` against intensity ``I`` (log-log), with the ridge ``F/W``.

    ``points`` are measured ``(intensity FLOP/byte, achieved FLOP/s, label)``. Lines drawn: the roof
    and the ridge marker (2 lines); one scatter per point.
    """
    a = hardware.get(hw)
    peak, bw = a.peak_flops(dtype), a.hbm_bandwidth
    ridge = peak / bw
    lo, hi = intensity_range
    xs = sorted({lo, ridge, hi} | {lo * (hi / lo) ** (i / 64) for i in range(65)})
    ax = _axes(ax)
    ax.loglog(xs, [min(peak, x * bw) / 1e12 for x in xs], color="k", label=f"{a.name} {dtype} roof")
    ax.axvline(ridge, color="0.5", linestyle=":", label=f"ridge {ridge:.0f} FLOP/B")
    for x, y, label in points:
        ax.scatter([x], [y / 1e12], zorder=3, label=label)
    ax.set_xlabel("arithmetic intensity (FLOP/byte)")
    ax.set_ylabel("attainable TFLOP/s")
    ax.set_title(f"Roofline: {a.name}")
    ax.legend(fontsize="small")
    return ax


def step_time_vs_batch(
    model: ModelLike,
    hw: HardwareLike,
    context: int,
    batches: Sequence[int] | None = None,
    *,
    stacked: bool = False,
    weight_dtype: str = "bf16",
    kv_dtype: str | None = None,
    compute_dtype: str | None = None,
    n_chips: int = 1,
    ax: Axes | None = None,
) -> Axes:
    """Decode step time against batch with its terms: compute, weights, KV, and the max.

    Overlaid (default): four lines ``compute_s``, ``weight_s``, ``kv_s``, ``time_s``.
    ``stacked=True``: weights and KV stacked as the memory time (two filled areas), plus the
    compute and step-time lines.
    """
    m, a = models.get(model), hardware.get(hw)
    bs = list(batches) if batches is not None else geometric_batches(1024)
    at = DecodeAt(m, a, context, weight_dtype, kv_dtype, compute_dtype, n_chips)
    est = [at.step(b) for b in bs]
    ms = 1e3
    ax = _axes(ax)
    if stacked:
        ax.stackplot(
            bs,
            [e.weight_s * ms for e in est],
            [e.kv_s * ms for e in est],
            labels=["weights", "KV cache"],
            alpha=0.5,
        )
    else:
        ax.plot(bs, [e.weight_s * ms for e in est], label="weights")
        ax.plot(bs, [e.kv_s * ms for e in est], label="KV cache")
    ax.plot(bs, [e.compute_s * ms for e in est], label="compute")
    ax.plot(
        bs,
        [e.time_s * ms for e in est],
        color="k",
        linewidth=2,
        label="step time = max(compute, weights + KV)",
    )
    ax.set_xscale("log", base=2)
    ax.set_xlabel("batch B (sequences)")
    ax.set_ylabel("time per decode step (ms)")
    ax.set_title(f"{m.name} on {n_chips} x {a.name}, context {context}")
    ax.legend(fontsize="small")
    return ax


def step_time_vs_context(
    model: ModelLike,
    hw: HardwareLike,
    batches: int | Sequence[int],
    contexts: Sequence[int] | None = None,
    *,
    fits_only: bool = False,
    weight_dtype: str = "bf16",
    kv_dtype: str | None = None,
    compute_dtype: str | None = None,
    n_chips: int = 1,
    ax: Axes | None = None,
) -> Axes:
    """Decode step time against context at fixed batches: the KV slope.

    One solid line per batch, ``time_s`` in ms (``max(compute, weights + B S k_B / W)``: a
    straight line of slope ``B k_B / (n W)`` once memory-bound), and a dotted line of the same
    colour for its ``compute_s``. Linear axes, context in thousands of tokens. Default contexts:
    33 points from 0 to 131,072. ``fits_only=True`` ends each line at the longest context whose
    KV cache of ``B`` sequences still fits next to the weights (``max_batch >= B``).
    """
    m, a = models.get(model), hardware.get(hw)
    bs = [batches] if isinstance(batches, int) else list(batches)
    ss = list(contexts) if contexts is not None else [4096 * i for i in range(33)]
    ax = _axes(ax)
    for i, b in enumerate(bs):
        pts = []
        for s in ss:
            at = DecodeAt(m, a, s, weight_dtype, kv_dtype, compute_dtype, n_chips)
            if fits_only and s > 0 and at.max_batch() < b:
                break
            pts.append((s, at.step(b)))
        if not pts:
            continue
        xs = [s / 1e3 for s, _ in pts]
        ax.plot(xs, [e.time_s * 1e3 for _, e in pts], color=f"C{i}", label=f"batch {b}")
        ax.plot(xs, [e.compute_s * 1e3 for _, e in pts], color=f"C{i}", linestyle=":")
    ax.plot([], [], color="0.4", linestyle=":", label="compute alone")
    ax.set_xlabel("context S (thousands of tokens)")
    ax.set_ylabel("time per decode step (ms)")
    ax.set_title(f"{m.name} on {n_chips} x {a.name}")
    ax.legend(fontsize="small")
    return ax


def cost_vs_batch(
    model: ModelLike,
    hw: HardwareLike,
    contexts: int | Sequence[int],
    batches: Sequence[int] | None = None,
    *,
    price_per_hour: float | None = None,
    weight_dtype: str = "bf16",
    kv_dtype: str | None = None,
    compute_dtype: str | None = None,
    n_chips: int = 1,
    memory_fraction: float = 1.0,
    ax: Axes | None = None,
) -> Axes:
    """``$/Mtok`` of decode against batch, one line per context, stopping at ``max_batch``.

    ``price_per_hour`` (per chip) defaults to the hardware's cited price. Batches whose KV cache
    does not fit are left out of each line.
    """
    m, a = models.get(model), hardware.get(hw)
    price = _price(a, price_per_hour)
    ctxs = [contexts] if isinstance(contexts, int) else list(contexts)
    kw = dict(
        weight_dtype=weight_dtype, kv_dtype=kv_dtype, compute_dtype=compute_dtype, n_chips=n_chips
    )
    ax = _axes(ax)
    for s in ctxs:
        limit = DecodeAt(m, a, s, weight_dtype, kv_dtype, compute_dtype, n_chips).max_batch(
            memory_fraction
        )
        bs = [b for b in (batches or geometric_batches(max(limit, 1))) if b <= limit]
        ys = cost.cost_vs_batch(m, a, s, bs, price, **kw)
        ax.plot(bs, ys, marker=".", label=f"context {s}")
    ax.set_xscale("log", base=2)
    ax.set_yscale("log")
    ax.set_xlabel("batch B (sequences)")
    ax.set_ylabel(f"$ per million output tokens (${price:g}/chip-hour)")
    ax.set_title(f"{m.name} on {n_chips} x {a.name}")
    ax.legend(fontsize="small")
    return ax


def cost_vs_context(
    model: ModelLike,
    hw: HardwareLike,
    batches: int | Sequence[int],
    contexts: Sequence[int] | None = None,
    *,
    price_per_hour: float | None = None,
    weight_dtype: str = "bf16",
    kv_dtype: str | None = None,
    compute_dtype: str | None = None,
    n_chips: int = 1,
    ax: Axes | None = None,
) -> Axes:
    """``$/Mtok`` of decode against context, one line per batch (capacity is not checked)."""
    m, a = models.get(model), hardware.get(hw)
    price = _price(a, price_per_hour)
    bs = [batches] if isinstance(batches, int) else list(batches)
    ss = list(contexts) if contexts is not None else [2**i for i in range(7, 18)]
    kw = dict(
        weight_dtype=weight_dtype, kv_dtype=kv_dtype, compute_dtype=compute_dtype, n_chips=n_chips
    )
    ax = _axes(ax)
    for b in bs:
        ax.plot(ss, cost.cost_vs_context(m, a, b, ss, price, **kw), marker=".", label=f"batch {b}")
    ax.set_xscale("log", base=2)
    ax.set_yscale("log")
    ax.set_xlabel("context S (tokens)")
    ax.set_ylabel(f"$ per million output tokens (${price:g}/chip-hour)")
    ax.set_title(f"{m.name} on {n_chips} x {a.name}")
    ax.legend(fontsize="small")
    return ax


def estimate_figure(
    model: ModelLike,
    hw: HardwareLike,
    batches: Sequence[int],
    contexts: Sequence[int],
    *,
    price_per_hour: float | None = None,
    weight_dtype: str = "bf16",
    kv_dtype: str | None = None,
    compute_dtype: str | None = None,
    n_chips: int = 1,
) -> Figure:
    """The ``tokenmath estimate --plot`` figure: step time and $/Mtok (or tokens/s) against batch.

    Left: ``time_s`` per context over ``1..max(batches)``, requested batches marked. Right: ``$/Mtok``
    when a price is known, else tokens/s. Capacity is not checked (the table flags it).
    """
    m, a = models.get(model), hardware.get(hw)
    if price_per_hour is None:
        price_per_hour = a.price_per_hour
    kw = dict(
        weight_dtype=weight_dtype, kv_dtype=kv_dtype, compute_dtype=compute_dtype, n_chips=n_chips
    )
    grid = sorted(set(geometric_batches(max(batches))) | set(batches))
    fig = Figure(figsize=(11.0, 4.0), layout="constrained")
    left, right = fig.subplots(1, 2)
    for s in contexts:
        at = DecodeAt(m, a, s, **kw)
        est = [at.step(b) for b in grid]
        marks = [grid.index(b) for b in batches]
        left.plot(
            grid, [e.time_s * 1e3 for e in est], marker="o", markevery=marks, label=f"context {s}"
        )
        if price_per_hour is not None:
            ys = [cost.per_million_tokens(e, price_per_hour) for e in est]
        else:
            ys = [e.tokens_per_s for e in est]
        right.plot(grid, ys, marker="o", markevery=marks, label=f"context {s}")
    left.set_ylabel("time per decode step (ms)")
    right.set_ylabel(
        f"$ per million tokens (${price_per_hour:g}/chip-hour)"
        if price_per_hour is not None
        else "tokens/s"
    )
    for ax in (left, right):
        ax.set_xscale("log", base=2)
        ax.set_yscale("log")
        ax.set_xlabel("batch B (sequences)")
        ax.legend(fontsize="small")
    fig.suptitle(f"{m.name} on {n_chips} x {a.name}, weights {weight_dtype}")
    return fig


def measured_vs_roofline(
    report: dict,
    *,
    mode: str = "graph",
    contexts: Iterable[int] | None = None,
    calibrated: bool = True,
    overhead: bool = False,
    datasheet: bool = True,
    ax: Axes | None = None,
) -> Axes:
    """Measured decode step time against batch, one colour per context, over its roofline.

    ``report`` is a ``tokenmath bench`` report (``tokenmath.measurements.load(...)``). Markers:
    the measured median step time; dashed: the datasheet roofline ``max(compute, memory)``;
    dotted: the same roofline with the bandwidth and FLOP/s measured in that run;
    ``overhead=True`` adds, dash-dotted, that roofline plus the fixed cost per step ``t0`` fitted
    by :func:`tokenmath.measurements.fit_overhead` (fitted here if the report does not have it yet).
    ``datasheet=False`` leaves the datasheet lines out.
    """
    from tokenmath import measurements

    if overhead:
        if mode not in report.get("overhead_fit", {}):
            report = measurements.fit_overhead(report)
        fit = report["overhead_fit"].get(mode, {})
        if "overhead_s" not in fit:
            raise ValueError(f"no fixed cost per step in mode {mode!r}: {fit.get('error', '?')}")
    data = measurements.rows(report, mode=mode)
    if not data:
        raise ValueError(f"report has no measured rows in mode {mode!r}")
    wanted = sorted({r["context"] for r in data}) if contexts is None else list(contexts)
    ax = _axes(ax)
    ms = 1e3
    for i, s in enumerate(wanted):
        pts = sorted((r for r in data if r["context"] == s), key=lambda r: r["batch"])
        if not pts:
            raise ValueError(f"report has no measured rows at context {s} in mode {mode!r}")
        color = f"C{i}"
        bs = [r["batch"] for r in pts]
        ax.plot(bs, [r["step_time_s"] * ms for r in pts], "o-", color=color, label=f"S = {s}")
        if datasheet and pts[0].get("roofline_datasheet_s") is not None:
            ax.plot(bs, [r["roofline_datasheet_s"] * ms for r in pts], "--", color=color)
        if calibrated and pts[0].get("roofline_calibrated_s") is not None:
            ax.plot(bs, [r["roofline_calibrated_s"] * ms for r in pts], ":", color=color)
        if overhead:
            ax.plot(bs, [r["roofline_calibrated_t0_s"] * ms for r in pts], "-.", color=color)
    if datasheet:
        ax.plot([], [], "k--", label="roofline, datasheet")
    if calibrated:
        ax.plot([], [], "k:", label="roofline, measured W and F")
    if overhead:
        t0_ms = fit["overhead_s"] * ms
        ax.plot([], [], "k-.", label=f"measured W and F, + t0 = {t0_ms:.2f} ms")
    ax.set_xscale("log", base=2)
    ax.set_yscale("log")
    plain = FuncFormatter(lambda v, _: f"{v:g}")
    ax.yaxis.set_major_formatter(plain)
    ax.yaxis.set_minor_formatter(plain)
    ax.set_xlabel("batch B (sequences)")
    ax.set_ylabel("time per decode step (ms)")
    name = report.get("device_info", {}).get("name", "?")
    ax.set_title(f"{report.get('model', '?')} ({report.get('dtype', '?')}), {mode}, on {name}")
    ax.legend(fontsize="small")
    return ax
