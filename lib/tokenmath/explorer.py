"""The cost-of-a-token explorer: a notebook widget, and a web page that needs no kernel.

Seven controls (model, accelerator, chips, precision, batch, context, price per chip-hour) redraw
four panels: decode step time, tokens per second and dollars per million tokens against the
batch at the chosen context, and dollars per million tokens against the context at the chosen
batch. The numbers are :mod:`tokenmath.explore`'s (the roofline lower bound of
:func:`tokenmath.roofline.decode_step`).

* :func:`widget` (Jupyter, Colab): ipywidgets controls redrawing a matplotlib figure, computed
  on demand. :func:`figure` draws one state of it without widgets.
* :func:`html` (a web page): the grid of :func:`tokenmath.explore.grid` as JSON, HTML controls,
  and a small script that redraws a Plotly figure in the browser, with no kernel and no server.
  The book's Sphinx extension ``_ext/explorer_figure.py`` puts it on a page and serves Plotly's
  JavaScript from the book's own ``_static/`` folder; :func:`write_html` writes a standalone
  file with Plotly inlined (about 5 MB) that works offline.

ipywidgets and plotly are imported only where needed: ``pip install ipywidgets`` for the widget,
``pip install plotly`` for a standalone page (both ship with Colab).
"""

from __future__ import annotations

import html as _html
import json
import math
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tokenmath import explore, hardware
from tokenmath.validate import finite, positive_int

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = [
    "PRICE_RANGE",
    "readout",
    "page_data",
    "html",
    "write_html",
    "figure",
    "Explorer",
    "widget",
    "CONTROLLER_JS",
]

PRICE_RANGE = (0.1, 10.0, 0.05)  # $ per chip-hour: min, max, step of the price control
_DEFAULTS = dict(
    model="llama-3-8b",
    hw="H100-SXM",
    precision="bf16",
    n_chips=1,
    batch=64,
    context=4096,
    price_per_hour=explore.DEFAULT_PRICE_PER_HOUR,
)
_MEMORY, _COMPUTE, _NOFIT, _LINE = "#1f77b4", "#ff7f0e", "#9a9a9a", "#30506e"
_BATCH_TICKS = (1, 4, 16, 64, 256, 1024, 4096)


def _need(module: str, package: str | None = None):
    """Import ``module`` or raise a one-line ImportError that says how to install it."""
    import importlib

    package = package or module
    try:
        return importlib.import_module(module)
    except ImportError:
        raise ImportError(
            f"the explorer needs {package}: run `pip install {package}` "
            f"(or `pip install 'tokenmath[explore]'`)"
        ) from None


# ----------------------------------------------------------------------------- the readout
# The same sentence as the page's script writes (readout() in CONTROLLER_JS): the same rounding.


def _round_half_up(x: float) -> int:
    return math.floor(x + 0.5)


def _sig3(x: float) -> str:
    """Three significant digits; from 100 up, a whole number with thousands separators."""
    if x >= 100:
        return f"{_round_half_up(x):,}"
    decimals = min(max(2 - math.floor(math.log10(x)), 0), 8)
    return f"{x:.{decimals}f}"


def readout(
    model: str = _DEFAULTS["model"],
    hw: str = _DEFAULTS["hw"],
    precision: str = _DEFAULTS["precision"],
    n_chips: int = 1,
    batch: int = 64,
    context: int = 4096,
    price_per_hour: float = explore.DEFAULT_PRICE_PER_HOUR,
) -> str:
    """One sentence stating the chosen point: step time, bound, tokens/s, $/Mtok, what fits."""
    price = finite(price_per_hour, "price_per_hour")
    try:
        w, kv, c = explore.dtypes(precision, hw)
    except ValueError as e:
        return f"{hardware.get(hw).name} cannot run this precision: " + str(e).split(": ", 1)[1]
    p = explore.point(model, hw, precision, batch, context, n_chips=n_chips)
    return _sentence(explore.model_label(p.model), p.hw, (w, kv, c), p.n_chips, p.batch,
                     p.context, p.step_s, p.bound, p.max_batch, price)


def _sentence(label, hw, dts, n, batch, context, step_s, bound, max_batch, price) -> str:
    w, kv, c = dts
    cost = 1e6 * price / 3600.0 * n * step_s / batch
    text = (f"{label} on {n} \u00d7 {hw} (weights {w}, KV cache {kv}, compute {c}), "
            f"batch {batch:,}, context {context:,}: a decode step takes {_sig3(step_s * 1e3)} ms "
            f"({bound}-bound), {_round_half_up(batch / step_s):,} tokens/s, "
            f"${_sig3(cost)} per million tokens at ${price:.2f} per chip-hour.")
    if max_batch == 0:
        return text + " The weights alone do not fit in HBM: add chips or use fewer bits."
    if batch > max_batch:
        return text + f" This batch does not fit in HBM: the largest that does is {max_batch:,}."
    return text + f" The largest batch that fits in HBM is {max_batch:,}."


# ----------------------------------------------------------------------------- the web page


def _us(x: float) -> float | int:
    """Seconds as microseconds with 4 significant digits (an int when whole): compact JSON."""
    v = float(f"{x * 1e6:.4g}")
    return int(v) if v.is_integer() else v


def page_data(g: explore.Grid | None = None) -> dict[str, Any]:
    """The grid as the page's JSON: step times of one chip in microseconds (4 significant digits).

    ``cells["model|hw|precision"]`` holds ``t`` (``[context][batch]`` step time, microseconds),
    ``b`` (``"m"``/``"c"`` per batch, one string per context), ``fit`` (``[context][chips]``
    largest batch that fits) and ``d`` (weight, KV and compute dtypes); or ``off``, the reason
    the part cannot run the recipe.
    """
    g = explore.grid() if g is None else g
    cells: dict[str, Any] = {}
    for (m, a, p), cell in g.cells.items():
        key = f"{m}|{a}|{p}"
        if cell.unsupported:
            cells[key] = {"off": cell.unsupported}
            continue
        cells[key] = {
            "t": [[_us(t) for t in row] for row in cell.step_s],
            "b": list(cell.bound),
            "fit": [list(row) for row in cell.max_batch],
            "d": list(explore.dtypes(p, a)),
        }
    hw_rows = []
    for a in g.accelerators:
        acc = hardware.get(a)
        hw_rows.append([a, f"{a} ({acc.hbm_bytes / 1e9:,.0f} GB)"])
    return {
        "version": 1,
        "models": [[m, explore.model_label(m)] for m in g.models],
        "hardware": hw_rows,
        "precisions": [[p, explore.PRECISIONS[p].label] for p in g.precisions],
        "batches": list(g.batches),
        "contexts": list(g.contexts),
        "chips": list(g.chips),
        "cells": cells,
    }


def _options(rows: Sequence[Sequence[object]], selected: object) -> str:
    out = []
    for value, label in rows:
        sel = " selected" if value == selected else ""
        out.append(f'<option value="{_html.escape(str(value))}"{sel}>'
                   f"{_html.escape(str(label))}</option>")
    return "".join(out)


def _json_for_script(data: object) -> str:
    """JSON that cannot close its <script> element."""
    text = json.dumps(data, separators=(",", ":"), ensure_ascii=True)
    return text.replace("</", "<\\/").replace("<!--", "<\\!--")


def _plotly_tag(plotly_js: str) -> str:
    if plotly_js == "page":
        return ""
    if plotly_js == "inline":
        offline = _need("plotly.offline", "plotly")
        return f"<script>{offline.get_plotlyjs()}</script>"
    if not isinstance(plotly_js, str) or not plotly_js.strip():
        raise ValueError(
            f"plotly_js must be 'page', 'inline' or the path of plotly.min.js, got {plotly_js!r}"
        )
    return f'<script src="{_html.escape(plotly_js)}"></script>'


_STYLE = """
.tme{font-size:.9rem;margin:1rem 0;text-align:left}
.tme form{display:grid;grid-template-columns:repeat(auto-fill,minmax(14rem,1fr));gap:.4rem 1rem}
.tme label{display:flex;flex-direction:column;gap:.15rem}
.tme select,.tme input{width:100%}
.tme output{font-weight:600}
.tme .tme-readout{margin:.6rem 0;min-height:3em}
.tme .tme-plot{width:100%;height:640px;background:#fff;border-radius:4px}
"""


def html(
    model: str = _DEFAULTS["model"],
    hw: str = _DEFAULTS["hw"],
    precision: str = _DEFAULTS["precision"],
    n_chips: int = 1,
    batch: int = 64,
    context: int = 4096,
    price_per_hour: float = explore.DEFAULT_PRICE_PER_HOUR,
    *,
    grid: explore.Grid | None = None,
    plotly_js: str = "page",
    element_id: str = "tokenmath-explorer",
) -> str:
    """The kernel-free explorer as an HTML fragment, starting at the given selection.

    It holds the controls (``select`` and ``input type=range`` elements, each with a
    ``data-control`` attribute), a readout sentence, the plot's ``div``, the grid as JSON
    (``script type=application/json``, see :func:`page_data`) and the controller script
    (:data:`CONTROLLER_JS`), which draws with ``Plotly.react``. ``plotly_js``: ``"page"`` (the
    page loads Plotly itself, as the book does), ``"inline"`` (Plotly's whole bundle, about
    5 MB, in the fragment) or the URL or path of ``plotly.min.js``. The initial batch and context
    must be on the grid (default: batches 1 to 4,096 and contexts 256 to 131,072, powers of 2).
    """
    g = explore.grid() if grid is None else grid
    model, hw = explore.model_key(model), explore.hw_key(hw)
    lo, hi, step = PRICE_RANGE
    price = finite(price_per_hour, "price_per_hour")
    if not lo <= price <= hi:
        raise ValueError(f"price_per_hour must be in [{lo}, {hi}], got {price_per_hour!r}")
    choices = {"model": (model, g.models), "hw": (hw, g.accelerators),
               "precision": (precision, g.precisions), "n_chips": (n_chips, g.chips),
               "batch": (batch, g.batches), "context": (context, g.contexts)}
    for name, (value, axis) in choices.items():
        if value not in axis:
            raise ValueError(f"{name}={value!r} is not on the grid; use one of {list(axis)}")
    if not isinstance(element_id, str) or not element_id.replace("-", "").isalnum():
        raise ValueError(f"element_id must be letters, digits and '-', got {element_id!r}")
    data = page_data(g)
    bi, si = g.batches.index(batch), g.contexts.index(context)
    sentence = _page_readout(g, model, hw, precision, n_chips, bi, si, price)
    alt = ("Four log-scale charts: decode step time, tokens per second and dollars per million "
           "tokens against the batch, and dollars per million tokens against the context.")
    parts = [
        f'<div class="tme" id="{element_id}" data-tokenmath-explorer="1">',
        f"<style>{_STYLE}</style>",
        '<form class="tme-controls" onsubmit="return false">',
        f'<label>Model<select data-control="model">{_options(data["models"], model)}</select>'
        "</label>",
        f'<label>Accelerator<select data-control="hw">{_options(data["hardware"], hw)}</select>'
        "</label>",
        '<label>Chips<select data-control="chips">'
        f'{_options([(n, n) for n in g.chips], n_chips)}</select></label>',
        '<label>Precision<select data-control="precision">'
        f'{_options(data["precisions"], precision)}</select></label>',
        f'<label>Batch <output data-label="batch">{batch:,}</output>'
        f'<input type="range" data-control="batch" min="0" max="{len(g.batches) - 1}" '
        f'step="1" value="{bi}" aria-label="batch"></label>',
        f'<label>Context <output data-label="context">{context:,}</output>'
        f'<input type="range" data-control="context" min="0" max="{len(g.contexts) - 1}" '
        f'step="1" value="{si}" aria-label="context"></label>',
        f'<label>Price per chip-hour <output data-label="price">${price:.2f}</output>'
        f'<input type="range" data-control="price" min="{lo}" max="{hi}" step="{step}" '
        f'value="{price}" aria-label="price per chip-hour"></label>',
        "</form>",
        f'<p class="tme-readout" data-readout aria-live="polite">{_html.escape(sentence)}</p>',
        f'<div class="tme-plot" data-plot role="img" aria-label="{alt}">'
        "<noscript>The explorer needs JavaScript.</noscript></div>",
        f'<script type="application/json" data-grid>{_json_for_script(data)}</script>',
        _plotly_tag(plotly_js),
        f"<script>{CONTROLLER_JS}\n"
        f'tokenmathExplorer.start("{element_id}");</script>',
        "</div>",
    ]
    return "\n".join(p for p in parts if p)


def _page_readout(g, model, hw, precision, n_chips, bi, si, price) -> str:
    """The readout the page's script writes first, from the same rounded grid values."""
    cell = g.cells[(model, hw, precision)]
    if cell.unsupported:
        return f"{hw} cannot run this precision: {cell.unsupported}"
    k = g.chips.index(n_chips)
    step_s = _us(cell.step_s[si][bi]) * 1e-6 / n_chips
    bound = "compute" if cell.bound[si][bi] == "c" else "memory"
    return _sentence(explore.model_label(model), hw, explore.dtypes(precision, hw), n_chips,
                     g.batches[bi], g.contexts[si], step_s, bound, cell.max_batch[si][k], price)


def write_html(path: str | Path, **kwargs: Any) -> Path:
    """A standalone page with the explorer and Plotly inlined (about 5 MB; works offline)."""
    kwargs.setdefault("plotly_js", "inline")
    body = html(**kwargs)
    page = ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
            "<title>The cost of a token: explorer</title></head>"
            f"<body style=\"max-width:60rem;margin:auto;font-family:sans-serif\">{body}"
            "</body></html>\n")
    path = Path(path)
    path.write_text(page, encoding="utf-8")
    return path


# The controller: pure functions (series, readout, traces) that Node can run on the page's data,
# and mount/start, which wire the controls to Plotly.react.
CONTROLLER_JS = r"""
var tokenmathExplorer = (function () {
  "use strict";
  var MEMORY = "#1f77b4", COMPUTE = "#ff7f0e", NOFIT = "#9a9a9a", LINE = "#30506e";

  function roundHalfUp(x) { return Math.floor(x + 0.5); }
  function commas(n) { return n.toLocaleString("en-US"); }
  function sig3(x) {
    if (x >= 100) return commas(roundHalfUp(x));
    var d = Math.min(Math.max(2 - Math.floor(Math.log10(x)), 0), 8);
    return x.toFixed(d);
  }

  // Everything the page shows for one selection, from the grid alone.
  function series(data, sel) {
    var cell = data.cells[sel.model + "|" + sel.hw + "|" + sel.precision];
    if (!cell) throw new Error("no grid cell for " + JSON.stringify(sel));
    var out = {sel: sel, batches: data.batches, contexts: data.contexts};
    if (cell.off) { out.ok = false; out.reason = cell.off; return out; }
    var n = sel.chips, k = data.chips.indexOf(n);
    var i = data.contexts.indexOf(sel.context), j = data.batches.indexOf(sel.batch);
    if (k < 0 || i < 0 || j < 0) throw new Error("selection off the grid");
    function step(ci, bi) { return cell.t[ci][bi] * 1e-6 / n; }  // seconds on n chips
    function cost(s, b) { return 1e6 * sel.price / 3600 * n * s / b; }  // $ per Mtok
    out.ok = true;
    out.dtypes = cell.d;
    out.max_batch = cell.fit[i][k];
    out.step_s = data.batches.map(function (b, bi) { return step(i, bi); });
    out.tokens_per_s = data.batches.map(function (b, bi) { return b / step(i, bi); });
    out.usd_per_mtok = data.batches.map(function (b, bi) { return cost(step(i, bi), b); });
    out.bound = cell.b[i].split("").map(function (c) { return c === "c" ? "compute" : "memory"; });
    out.fits = data.batches.map(function (b) { return b <= out.max_batch; });
    out.usd_per_mtok_ctx = data.contexts.map(function (s, ci) {
      return cost(step(ci, j), sel.batch);
    });
    out.bound_ctx = data.contexts.map(function (s, ci) {
      return cell.b[ci][j] === "c" ? "compute" : "memory";
    });
    out.fits_ctx = data.contexts.map(function (s, ci) { return sel.batch <= cell.fit[ci][k]; });
    out.point = {batch: sel.batch, context: sel.context, step_s: out.step_s[j],
                 tokens_per_s: out.tokens_per_s[j], usd_per_mtok: out.usd_per_mtok[j],
                 bound: out.bound[j], fits: out.fits[j]};
    return out;
  }

  function label(rows, key) {
    for (var r = 0; r < rows.length; r++) if (rows[r][0] === key) return rows[r][1];
    return key;
  }

  function readout(data, s) {
    var sel = s.sel;
    if (!s.ok) return sel.hw + " cannot run this precision: " + s.reason;
    var p = s.point, d = s.dtypes;
    var text = label(data.models, sel.model) + " on " + sel.chips + " \u00d7 " + sel.hw +
      " (weights " + d[0] + ", KV cache " + d[1] + ", compute " + d[2] + "), batch " +
      commas(p.batch) + ", context " + commas(p.context) + ": a decode step takes " +
      sig3(p.step_s * 1e3) + " ms (" + p.bound + "-bound), " +
      commas(roundHalfUp(p.batch / p.step_s)) + " tokens/s, $" + sig3(p.usd_per_mtok) +
      " per million tokens at $" + sel.price.toFixed(2) + " per chip-hour.";
    if (s.max_batch === 0)
      return text + " The weights alone do not fit in HBM: add chips or use fewer bits.";
    if (p.batch > s.max_batch)
      return text + " This batch does not fit in HBM: the largest that does is " +
        commas(s.max_batch) + ".";
    return text + " The largest batch that fits in HBM is " + commas(s.max_batch) + ".";
  }

  // Two lines per panel: solid where the batch fits in HBM, dashed grey where it does not
  // (the dashed line starts at the last point that fits, so the two join).
  function lines(x, y, fits, bound, xa, ya, unit, first) {
    var n = x.length, yes = [], no = [];
    for (var q = 0; q < n; q++) {
      yes.push(fits[q] ? y[q] : null);
      var edge = (q > 0 && !fits[q - 1]) || (q + 1 < n && !fits[q + 1]);
      no.push(!fits[q] || edge ? y[q] : null);
    }
    var colors = bound.map(function (b) { return b === "compute" ? COMPUTE : MEMORY; });
    var hover = "%{x:,}: %{y:,.3~r} " + unit + " (%{text}-bound)<extra></extra>";
    return [
      {x: x, y: yes, text: bound, xaxis: xa, yaxis: ya, mode: "lines+markers",
       line: {color: LINE, width: 2}, marker: {color: colors, size: 7},
       name: "fits in HBM", legendgroup: "fit", showlegend: first, hovertemplate: hover},
      {x: x, y: no, text: bound, xaxis: xa, yaxis: ya, mode: "lines+markers",
       line: {color: NOFIT, width: 2, dash: "dash"}, marker: {color: colors, size: 5},
       name: "does not fit in HBM", legendgroup: "nofit", showlegend: first,
       hovertemplate: hover}
    ];
  }

  function chosen(x, y, xa, ya, first) {
    return {x: [x], y: [y], xaxis: xa, yaxis: ya, mode: "markers", hoverinfo: "skip",
            marker: {symbol: "circle-open", size: 16, color: "#000", line: {width: 2}},
            name: "your choice", legendgroup: "choice", showlegend: first};
  }

  function traces(s) {
    if (!s.ok) return [];
    var b = s.batches, p = s.point, ms = s.step_s.map(function (t) { return t * 1e3; });
    var out = [].concat(
      lines(b, ms, s.fits, s.bound, "x", "y", "ms", true),
      lines(b, s.tokens_per_s, s.fits, s.bound, "x2", "y2", "tokens/s", false),
      lines(b, s.usd_per_mtok, s.fits, s.bound, "x3", "y3", "$/Mtok", false),
      lines(s.contexts, s.usd_per_mtok_ctx, s.fits_ctx, s.bound_ctx, "x4", "y4", "$/Mtok",
            false),
      [chosen(p.batch, p.step_s * 1e3, "x", "y", true),
       chosen(p.batch, p.tokens_per_s, "x2", "y2", false),
       chosen(p.batch, p.usd_per_mtok, "x3", "y3", false),
       chosen(p.context, p.usd_per_mtok, "x4", "y4", false)]);
    out.push({x: [null], y: [null], mode: "markers", marker: {color: MEMORY, size: 7},
              name: "memory-bound step", hoverinfo: "skip"});
    out.push({x: [null], y: [null], mode: "markers", marker: {color: COMPUTE, size: 7},
              name: "compute-bound step", hoverinfo: "skip"});
    return out;
  }

  function layout(data, s) {
    function bAxis(dom, anchor) {
      return {type: "log", domain: dom, anchor: anchor, title: {text: "batch (sequences)"},
              tickvals: [1, 4, 16, 64, 256, 1024, 4096],
              ticktext: ["1", "4", "16", "64", "256", "1,024", "4,096"]};
    }
    function yAxis(dom, anchor, title) {
      return {type: "log", domain: dom, anchor: anchor, title: {text: title},
              exponentformat: "none"};
    }
    var top = [0.6, 1], bottom = [0, 0.4], left = [0, 0.43], right = [0.57, 1];
    var lay = {
      height: 640, margin: {l: 64, r: 16, t: 24, b: 110}, paper_bgcolor: "#fff",
      plot_bgcolor: "#fff", font: {size: 12},
      legend: {orientation: "h", x: 0, y: -0.14, xanchor: "left", yanchor: "top",
               font: {size: 11}},
      xaxis: bAxis(left, "y"), yaxis: yAxis(top, "x", "step time (ms)"),
      xaxis2: bAxis(right, "y2"), yaxis2: yAxis(top, "x2", "tokens/s"),
      xaxis3: bAxis(left, "y3"), yaxis3: yAxis(bottom, "x3", "$ per million tokens"),
      xaxis4: {type: "log", domain: right, anchor: "y4", title: {text: "context (tokens)"},
               tickvals: [256, 1024, 4096, 16384, 65536],
               ticktext: ["256", "1K", "4K", "16K", "64K"]},
      yaxis4: yAxis(bottom, "x4", "$ per million tokens"),
      annotations: []
    };
    if (!s.ok) {
      lay.annotations.push({text: s.sel.hw + " cannot run this precision", showarrow: false,
                            xref: "paper", yref: "paper", x: 0.5, y: 0.5,
                            font: {size: 16}});
    }
    return lay;
  }

  function readControls(root, data) {
    function v(name) { return root.querySelector('[data-control="' + name + '"]').value; }
    return {model: v("model"), hw: v("hw"), precision: v("precision"),
            chips: Number(v("chips")), batch: data.batches[Number(v("batch"))],
            context: data.contexts[Number(v("context"))], price: Number(v("price"))};
  }

  function mount(root, data, Plotly) {
    var plot = root.querySelector("[data-plot]");
    var text = root.querySelector("[data-readout]");
    function redraw() {
      var sel = readControls(root, data), s = series(data, sel);
      root.querySelector('[data-label="batch"]').textContent = commas(sel.batch);
      root.querySelector('[data-label="context"]').textContent = commas(sel.context);
      root.querySelector('[data-label="price"]').textContent = "$" + sel.price.toFixed(2);
      text.textContent = readout(data, s);
      Plotly.react(plot, traces(s), layout(data, s), {responsive: true, displaylogo: false});
      return s;
    }
    var controls = root.querySelectorAll("[data-control]");
    for (var c = 0; c < controls.length; c++) {
      controls[c].addEventListener("input", redraw);
      controls[c].addEventListener("change", redraw);
    }
    return redraw();
  }

  function start(id) {
    function go() {
      var root = document.getElementById(id);
      var data = JSON.parse(root.querySelector("script[data-grid]").textContent);
      if (typeof window.Plotly === "undefined") {
        root.querySelector("[data-plot]").textContent =
          "Plotly's JavaScript did not load, so the figure cannot be drawn.";
        return;
      }
      mount(root, data, window.Plotly);
    }
    if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", go);
    else go();
  }

  return {series: series, readout: readout, traces: traces, layout: layout, mount: mount,
          start: start, sig3: sig3};
})();
if (typeof module === "object" && module.exports) module.exports = tokenmathExplorer;
"""


# ----------------------------------------------------------------------------- matplotlib


def _batches_for_plot(batch: int, limit: int, top: int = 4096, per_octave: int = 4) -> list[int]:
    vals = {round(2 ** (i / per_octave)) for i in range(int(math.log2(top) * per_octave) + 1)}
    return sorted(vals | {batch, top} | ({limit} if 1 <= limit <= top else set()))


def _plain(v: float, pos: object = None) -> str:
    return f"{v:,.0f}" if v >= 1000 else f"{v:g}"


def _split(ax, x, y, fits, bound) -> None:
    """A solid line where the batch fits, dashed grey where it does not, dots coloured by bound.

    The dashed line starts at the last point that fits, so the two join.
    """
    n = len(x)
    edge = [not fits[i] or (i > 0 and not fits[i - 1]) or (i + 1 < n and not fits[i + 1])
            for i in range(n)]
    for keep, style in ((fits, dict(color=_LINE, lw=2)),
                        (edge, dict(color=_NOFIT, lw=2, ls="--"))):
        ax.plot(x, [y[i] if keep[i] else math.nan for i in range(n)], **style)
    for want, alpha in ((True, 1.0), (False, 0.4)):  # a dot per power of 2
        idx = [i for i in range(n) if fits[i] == want and x[i] & (x[i] - 1) == 0]
        colors = [_COMPUTE if bound[i] == "compute" else _MEMORY for i in idx]
        ax.scatter([x[i] for i in idx], [y[i] for i in idx], c=colors, s=18, alpha=alpha,
                   zorder=3, linewidths=0)


def figure(
    model: str = _DEFAULTS["model"],
    hw: str = _DEFAULTS["hw"],
    precision: str = _DEFAULTS["precision"],
    n_chips: int = 1,
    batch: int = 64,
    context: int = 4096,
    price_per_hour: float = explore.DEFAULT_PRICE_PER_HOUR,
    *,
    contexts: Sequence[int] = explore.CONTEXTS,
) -> Figure:
    """The explorer's four panels for one selection, as a matplotlib figure (computed directly).

    Step time, tokens/s and $/Mtok against the batch (1 to 4,096, ``batch`` and the largest
    batch that fits) at ``context``;
    $/Mtok against ``contexts`` at ``batch``. Solid where weights plus KV cache fit in HBM,
    dashed grey where they do not; dots blue where the step is memory-bound, orange where it is
    compute-bound; the open circle is the chosen point.
    """
    import matplotlib.pyplot as plt

    price = finite(price_per_hour, "price_per_hour")
    batch, context = positive_int(batch, "batch"), positive_int(context, "context")
    fig, axes = plt.subplots(2, 2, figsize=(9.5, 6.6), layout="constrained")
    (a_t, a_tok), (a_cost, a_ctx) = axes
    fig.suptitle(f"{explore.model_label(model)}, {precision}, {n_chips} x "
                 f"{hardware.get(hw).name}, context {context:,}, ${price:.2f} per chip-hour",
                 fontsize="medium")
    try:
        explore.dtypes(precision, hw)
    except ValueError as e:
        for ax in axes.flat:
            ax.set_axis_off()
        fig.text(0.5, 0.5, str(e).split(": ", 1)[1], ha="center", va="center")
        return fig
    limit = explore.point(model, hw, precision, 1, context, n_chips=n_chips).max_batch
    bs = _batches_for_plot(batch, limit)  # the solid line ends at the largest batch that fits
    pts = explore.curve(model, hw, precision, context, bs, n_chips=n_chips)
    fits = [p.fits for p in pts]
    bound = [p.bound for p in pts]
    chosen = next(p for p in pts if p.batch == batch)
    panels = [
        (a_t, [p.step_s * 1e3 for p in pts], chosen.step_s * 1e3, "step time (ms)"),
        (a_tok, [p.tokens_per_s for p in pts], chosen.tokens_per_s, "tokens/s"),
        (a_cost, [p.usd_per_mtok(price) for p in pts], chosen.usd_per_mtok(price),
         "$ per million tokens"),
    ]
    for ax, ys, y0, ylabel in panels:
        _split(ax, bs, ys, fits, bound)
        ax.plot([batch], [y0], "o", mfc="none", mec="k", ms=11, mew=1.5)
        ax.set(xscale="log", yscale="log", xlabel="batch (sequences)", ylabel=ylabel)
        ax.set_xticks(_BATCH_TICKS, [f"{b:,}" for b in _BATCH_TICKS])
    ss = list(contexts)
    by_ctx = [explore.point(model, hw, precision, batch, s, n_chips=n_chips) for s in ss]
    _split(a_ctx, ss, [p.usd_per_mtok(price) for p in by_ctx], [p.fits for p in by_ctx],
           [p.bound for p in by_ctx])
    a_ctx.plot([context], [chosen.usd_per_mtok(price)], "o", mfc="none", mec="k", ms=11, mew=1.5)
    a_ctx.set(xscale="log", yscale="log", xlabel=f"context (tokens), batch {batch:,}",
              ylabel="$ per million tokens")
    ticks = [s for s in (256, 1024, 4096, 16384, 65536) if ss[0] <= s <= ss[-1]]
    a_ctx.set_xticks(ticks, [f"{s // 1024}K" if s >= 1024 else str(s) for s in ticks])
    from matplotlib.ticker import FuncFormatter, LogFormatter

    for ax in axes.flat:
        ax.grid(True, which="major", alpha=0.3)
        ax.yaxis.set_major_formatter(FuncFormatter(_plain))  # 0.01, 100, 4,000; not 10^-2
        ax.yaxis.set_minor_formatter(LogFormatter(labelOnlyBase=False))
    handles = [
        plt.Line2D([], [], color=_LINE, lw=2, label="fits in HBM"),
        plt.Line2D([], [], color=_NOFIT, lw=2, ls="--", label="does not fit"),
        plt.Line2D([], [], ls="", marker="o", color=_MEMORY, label="memory-bound"),
        plt.Line2D([], [], ls="", marker="o", color=_COMPUTE, label="compute-bound"),
        plt.Line2D([], [], ls="", marker="o", mfc="none", mec="k", label="your choice"),
    ]
    fig.legend(handles=handles, loc="outside lower center", ncols=5, fontsize="small")
    return fig


# ----------------------------------------------------------------------------- the widget


class Explorer:
    """ipywidgets controls that redraw :func:`figure` and :func:`readout` on every change.

    ``controls`` maps ``model``, ``hw``, ``precision``, ``n_chips``, ``batch``, ``context`` and
    ``price_per_hour`` to their widgets; ``ui`` is the box to display (displaying the
    ``Explorer`` shows it): the controls, ``readout`` (an HTML widget) and ``image`` (the figure
    as a PNG). ``figure`` and ``text`` are the last ones drawn. :meth:`update` sets several
    controls and redraws once.
    """

    def __init__(self, **values: Any) -> None:
        w = _need("ipywidgets")
        v = {**_DEFAULTS, **values}
        unknown = set(values) - set(_DEFAULTS)
        if unknown:
            raise ValueError(f"unknown controls {sorted(unknown)}; use {sorted(_DEFAULTS)}")
        lo, hi, step = PRICE_RANGE
        self._allowed: dict[str, Any] = {
            "model": list(explore.MODELS), "hw": list(explore.ACCELERATORS),
            "n_chips": list(explore.CHIPS), "precision": list(explore.PRECISIONS),
            "batch": list(explore.BATCHES), "context": list(explore.CONTEXTS),
            "price_per_hour": (lo, hi),
        }
        self._check(v)
        style = {"description_width": "8rem"}
        wide = w.Layout(width="24rem")
        self.controls = {
            "model": w.Dropdown(options=[(explore.model_label(m), m) for m in explore.MODELS],
                                value=v["model"], description="Model", style=style,
                                layout=wide),
            "hw": w.Dropdown(options=list(explore.ACCELERATORS), value=v["hw"],
                             description="Accelerator", style=style, layout=wide),
            "n_chips": w.Dropdown(options=list(explore.CHIPS), value=v["n_chips"],
                                  description="Chips", style=style, layout=wide),
            "precision": w.Dropdown(
                options=[(p.label, p.key) for p in explore.PRECISIONS.values()],
                value=v["precision"], description="Precision", style=style, layout=wide),
            "batch": w.SelectionSlider(options=list(explore.BATCHES), value=v["batch"],
                                       description="Batch", style=style, layout=wide),
            "context": w.SelectionSlider(options=list(explore.CONTEXTS), value=v["context"],
                                         description="Context", style=style, layout=wide),
            "price_per_hour": w.FloatSlider(value=v["price_per_hour"], min=lo, max=hi, step=step,
                                            description="$ per chip-hour", style=style,
                                            layout=wide, readout_format=".2f"),
        }
        # The figure is a PNG in an Image widget, not a plot in an Output widget: an Output
        # widget captures outputs through the front end, which a headless run (the book build,
        # nbclient) only mimics, and can stall on (https://github.com/jupyter/nbclient/issues/312).
        self.image = w.Image(format="png", layout=w.Layout(max_width="960px"))
        self.readout = w.HTML()
        names = list(self.controls)
        self.ui = w.VBox([
            w.HBox([w.VBox([self.controls[n] for n in names[:4]]),
                    w.VBox([self.controls[n] for n in names[4:]])]),
            self.readout,
            self.image,
        ])
        self.figure: Figure | None = None
        self.text = ""
        self._holding = False
        for c in self.controls.values():
            c.observe(self._changed, names="value")
        self.redraw()

    def values(self) -> dict[str, Any]:
        """The controls' current values, as :func:`figure` and :func:`readout` take them."""
        return {name: c.value for name, c in self.controls.items()}

    def update(self, **values: Any) -> Explorer:
        """Set some controls (``ValueError`` for unknown names or values) and redraw once."""
        unknown = set(values) - set(self.controls)
        if unknown:
            raise ValueError(f"unknown controls {sorted(unknown)}; use {sorted(self.controls)}")
        self._check(values)
        self._holding = True
        try:
            for name, value in values.items():
                self.controls[name].value = value
        finally:
            self._holding = False
        self.redraw()
        return self

    def _check(self, values: dict[str, Any]) -> None:
        for name, value in values.items():
            allowed = self._allowed[name]
            if name == "price_per_hour":
                ok = isinstance(value, (int, float)) and allowed[0] <= value <= allowed[1]
            else:
                ok = value in allowed
            if not ok:
                raise ValueError(f"{name}={value!r} is not allowed; use {allowed}")

    def _changed(self, change: Any) -> None:
        if not self._holding:
            self.redraw()

    def redraw(self) -> None:
        """Draw the figure and the readout for the current values."""
        import io

        import matplotlib.pyplot as plt

        v = self.values()
        self.text = readout(**v)
        self.readout.value = f"<p>{_html.escape(self.text)}</p>"
        fig = figure(**v)
        png = io.BytesIO()
        fig.savefig(png, format="png", dpi=96)
        plt.close(fig)  # drawn once, into the image; not again by the notebook's inline backend
        self.image.value = png.getvalue()
        self.figure = fig

    def _ipython_display_(self) -> None:
        from IPython.display import display

        display(self.ui)


def widget(**values: Any) -> Explorer:
    """The notebook explorer, starting at ``values`` (any of :func:`figure`'s arguments)."""
    return Explorer(**values)
