"""tokenmath.explorer: the kernel-free HTML (controls, data, no external script, a controller
that Node runs on the embedded data), the standalone file, the matplotlib figure and the
ipywidgets explorer (updates redraw without a kernel, headless)."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys

import pytest
from bs4 import BeautifulSoup
from tokenmath import cost, explore, explorer, roofline

NODE = shutil.which("node")
needs_node = pytest.mark.skipif(NODE is None, reason="Node.js is not installed")


@pytest.fixture(scope="module")
def page():
    return explorer.html()


@pytest.fixture(scope="module")
def soup(page):
    return BeautifulSoup(page, "html.parser")


@pytest.fixture(scope="module")
def data(soup):
    return json.loads(soup.select_one("script[data-grid]").string)


def test_import_is_light():
    code = ("import sys, tokenmath.explorer; "
            "print([m for m in ('matplotlib', 'plotly', 'ipywidgets', 'torch', 'numpy') "
            "if m in sys.modules])")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


# ----------------------------------------------------------------------------- the HTML


def test_html_has_every_control_with_its_options(soup):
    root = soup.select_one("div[data-tokenmath-explorer]")
    selects = {s["data-control"]: s for s in root.select("select[data-control]")}
    assert set(selects) == {"model", "hw", "chips", "precision"}
    options = {k: [o["value"] for o in s.select("option")] for k, s in selects.items()}
    assert options == {"model": list(explore.MODELS), "hw": list(explore.ACCELERATORS),
                       "chips": ["1", "2", "4", "8"], "precision": list(explore.PRECISIONS)}
    chosen = {k: s.select_one("option[selected]")["value"] for k, s in selects.items()}
    assert chosen == {"model": "llama-3-8b", "hw": "H100-SXM", "chips": "1", "precision": "bf16"}
    ranges = {r["data-control"]: r for r in root.select("input[type=range]")}
    assert set(ranges) == {"batch", "context", "price"}
    assert explore.BATCHES[int(ranges["batch"]["value"])] == 64
    assert int(ranges["batch"]["max"]) == len(explore.BATCHES) - 1
    assert explore.CONTEXTS[int(ranges["context"]["value"])] == 4096
    assert float(ranges["price"]["value"]) == 2.0
    assert root.select_one("[data-plot]") and root.select_one("[data-readout]")


def test_html_embeds_the_grid_and_the_controller(page, soup, data):
    assert data == json.loads(json.dumps(explorer.page_data()))
    assert len(soup.select_one("script[data-grid]").string) < 400_000
    scripts = [s.string or "" for s in soup.select("script:not([type])")]
    assert any("tokenmathExplorer.start(\"tokenmath-explorer\")" in s for s in scripts)
    assert explorer.CONTROLLER_JS in page


def test_html_loads_nothing_from_the_network(page, soup):
    assert not soup.select("script[src]"), "plotly_js='page': the page itself loads Plotly"
    assert not re.search(r"""(src|href)=["']?(https?:)?//""", page)
    assert "cdn" not in page.lower()


def test_page_data_equals_the_library(data):
    for model, hw, prec, b, s, n in [("llama-3-8b", "H100-SXM", "bf16", 64, 4096, 1),
                                     ("deepseek-v3", "H200", "fp8", 1, 131072, 8),
                                     ("llama-3.2-1b", "T4", "bf16", 4096, 256, 2)]:
        cell = data["cells"][f"{model}|{hw}|{prec}"]
        i, j = data["contexts"].index(s), data["batches"].index(b)
        w, kv, c = explore.dtypes(prec, hw)
        est = roofline.decode_step(model, hw, b, s, weight_dtype=w, kv_dtype=kv,
                                   compute_dtype=c)
        assert cell["t"][i][j] * 1e-6 == pytest.approx(est.time_s, rel=6e-4)  # 4 digits
        assert cell["b"][i][j] == est.bound[0]
        assert cell["fit"][i][data["chips"].index(n)] == roofline.max_batch(
            model, hw, s, weight_dtype=w, kv_dtype=kv, n_chips=n)
        assert cell["d"] == [w, kv, c]
    assert data["cells"]["llama-3-8b|T4|fp8"] == {
        "off": "T4 has no fp8 FLOP/s (it has fp32, fp16, int8, int4)"}


def test_html_options():
    tiny = explore.grid(["llama-3-8b"], ["H100-SXM", "T4"], ["bf16", "fp8"], [1, 2], [512], [1])
    text = explorer.html(batch=2, context=512, grid=tiny, plotly_js="../js/plotly.min.js",
                         element_id="x-1", price_per_hour=0.5)
    soup = BeautifulSoup(text, "html.parser")
    assert soup.select_one("script[src]")["src"] == "../js/plotly.min.js"
    assert soup.select_one("#x-1") and 'tokenmathExplorer.start("x-1")' in text
    assert "$0.50 per chip-hour" in soup.select_one("[data-readout]").get_text()
    off = BeautifulSoup(explorer.html("llama-3-8b", "T4", "fp8", batch=1, context=512,
                                      grid=tiny), "html.parser")
    assert off.select_one("[data-readout]").get_text().startswith(
        "T4 cannot run this precision: T4 has no fp8 FLOP/s")


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(batch=3), "batch=3 is not on the grid"),
        (dict(context=1000), "context=1000 is not on the grid"),
        (dict(n_chips=3), "n_chips=3 is not on the grid"),
        (dict(precision="fp4"), "precision='fp4' is not on the grid"),
        (dict(model="gpt-5"), "model='gpt-5' is not a preset"),
        (dict(price_per_hour=50), "price_per_hour must be in [0.1, 10.0]"),
        (dict(plotly_js=""), "plotly_js must be 'page', 'inline' or the path"),
        (dict(element_id="a b"), "element_id must be letters, digits and '-'"),
    ],
)
def test_bad_html_input_raises_value_error(kwargs, match):
    tiny = explore.grid(["llama-3-8b"], ["H100-SXM"], ["bf16"], [1, 2], [512], [1])
    kwargs = {"batch": 1, "context": 512, **kwargs}
    with pytest.raises(ValueError, match=re.escape(match)):
        explorer.html(grid=tiny, **kwargs)


def test_write_html_is_a_standalone_offline_page(tmp_path):
    pytest.importorskip("plotly")
    path = explorer.write_html(tmp_path / "explorer.html")
    text = path.read_text(encoding="utf-8")
    assert text.startswith("<!DOCTYPE html>") and "data-tokenmath-explorer" in text
    assert "plotly.js v" in text and len(text) > 1_000_000  # Plotly inlined
    assert not re.search(r"""<script[^>]*src=""", text)


# ----------------------------------------------------------------------------- Node


def _node(tmp_path, script: str, data: dict, payload: object) -> object:
    (tmp_path / "controller.js").write_text(explorer.CONTROLLER_JS)
    (tmp_path / "data.json").write_text(json.dumps(data))
    (tmp_path / "payload.json").write_text(json.dumps(payload))
    (tmp_path / "run.js").write_text(
        "const E = require('./controller.js');\n"
        "const data = require('./data.json');\n"
        "const payload = require('./payload.json');\n" + script)
    out = subprocess.run([NODE, "run.js"], cwd=tmp_path, capture_output=True, text=True,
                         timeout=60)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)


SELECTIONS = [
    dict(model="llama-3-8b", hw="H100-SXM", precision="bf16", chips=1, batch=64,
         context=4096, price=2.0),
    dict(model="deepseek-v3", hw="H200", precision="fp8", chips=8, batch=1024,
         context=4096, price=3.5),
    dict(model="llama-3-70b", hw="H100-SXM", precision="bf16", chips=2, batch=16,
         context=4096, price=0.1),
    dict(model="mistral-7b", hw="T4", precision="int4-weights", chips=4, batch=1,
         context=131072, price=10.0),
    dict(model="llama-3-8b", hw="A100-80GB", precision="fp8", chips=1, batch=1,
         context=256, price=2.0),
]


@needs_node
def test_controller_in_node_reproduces_the_library(tmp_path, data):
    script = ("const out = payload.map(sel => { const s = E.series(data, sel);\n"
              "  return {readout: E.readout(data, s), s: s, traces: E.traces(s).length}; });\n"
              "console.log(JSON.stringify(out));\n")
    results = _node(tmp_path, script, data, SELECTIONS)
    for sel, res in zip(SELECTIONS, results):
        s = res["s"]
        args = (sel["model"], sel["hw"], sel["precision"])
        try:
            explore.dtypes(sel["precision"], sel["hw"])
        except ValueError as e:
            assert not s["ok"] and res["traces"] == 0
            assert res["readout"] == f"{sel['hw']} cannot run this precision: " + str(e).split(
                ": ", 1)[1]
            continue
        pts = explore.curve(*args, sel["context"], explore.BATCHES, n_chips=sel["chips"])
        assert s["step_s"] == pytest.approx([p.step_s for p in pts], rel=6e-4)
        assert s["tokens_per_s"] == pytest.approx([p.tokens_per_s for p in pts], rel=6e-4)
        assert s["usd_per_mtok"] == pytest.approx(
            [p.usd_per_mtok(sel["price"]) for p in pts], rel=6e-4)
        assert s["bound"] == [p.bound for p in pts]
        assert s["fits"] == [p.fits for p in pts] and s["max_batch"] == pts[0].max_batch
        by_ctx = [explore.point(*args, sel["batch"], c, n_chips=sel["chips"])
                  for c in explore.CONTEXTS]
        assert s["usd_per_mtok_ctx"] == pytest.approx(
            [p.usd_per_mtok(sel["price"]) for p in by_ctx], rel=6e-4)
        assert s["fits_ctx"] == [p.fits for p in by_ctx]
        # The sentence the script writes is the one the page starts with.
        first = explorer.html(*args, sel["chips"], sel["batch"], sel["context"], sel["price"])
        static = BeautifulSoup(first, "html.parser").select_one("[data-readout]").get_text()
        assert res["readout"] == static
        assert res["traces"] == 14


FAKE_DOM = """
function el(value) {
  return {value: value, textContent: "", listeners: {},
          addEventListener(t, f) { (this.listeners[t] = this.listeners[t] || []).push(f); }};
}
const ctl = {model: el("llama-3-8b"), hw: el("H100-SXM"), precision: el("bf16"), chips: el("1"),
             batch: el("6"), context: el("4"), price: el("2")};
const labels = {batch: el(), context: el(), price: el()};
const plot = el(), text = el();
const root = {
  querySelector(q) {
    let m = q.match(/data-control="(\\w+)"/); if (m) return ctl[m[1]];
    m = q.match(/data-label="(\\w+)"/); if (m) return labels[m[1]];
    if (q === "[data-plot]") return plot;
    if (q === "[data-readout]") return text;
    throw new Error("unexpected selector " + q);
  },
  querySelectorAll(q) { return Object.values(ctl); }
};
const calls = [];
const Plotly = {react(div, traces, layout, config) { calls.push({div, traces, layout}); }};
const out = [];
E.mount(root, data, Plotly);
out.push({readout: text.textContent, labels: [labels.batch.textContent,
          labels.context.textContent, labels.price.textContent], calls: calls.length});
for (const [name, value] of payload) {
  ctl[name].value = value;
  ctl[name].listeners.input.forEach(f => f());
}
const last = calls[calls.length - 1];
out.push({readout: text.textContent, labels: [labels.batch.textContent,
          labels.context.textContent, labels.price.textContent], calls: calls.length,
          div: last.div === plot, y: last.traces[0].y, x: last.traces[0].x,
          axes: Object.keys(last.layout).filter(k => /^[xy]axis/.test(k)).length});
console.log(JSON.stringify(out));
"""


@needs_node
def test_controller_redraws_when_a_control_moves(tmp_path, data, soup):
    moves = [["model", "llama-3-70b"], ["chips", "8"], ["batch", "8"], ["price", "3.5"]]
    first, after = _node(tmp_path, FAKE_DOM, data, moves)
    assert first["calls"] == 1 and first["labels"] == ["64", "4,096", "$2.00"]
    assert first["readout"] == soup.select_one("[data-readout]").get_text()
    assert after["calls"] == 1 + len(moves) and after["div"] and after["axes"] == 8
    assert after["labels"] == ["256", "4,096", "$3.50"]
    assert after["readout"].startswith("Llama-3-70B on 8 \u00d7 H100-SXM")
    pts = explore.curve("llama-3-70b", "H100-SXM", "bf16", 4096, explore.BATCHES, n_chips=8)
    want = [p.step_s * 1e3 if p.fits else None for p in pts]
    assert after["x"] == list(explore.BATCHES)
    assert [y is None for y in after["y"]] == [w is None for w in want]
    assert [y for y in after["y"] if y] == pytest.approx([w for w in want if w], rel=6e-4)


# ----------------------------------------------------------------------------- matplotlib


@pytest.fixture
def plt():
    mpl = pytest.importorskip("matplotlib")
    mpl.use("Agg")
    import matplotlib.pyplot as plt

    yield plt
    plt.close("all")


def _line_points(ax):
    xs, ys = ax.lines[0].get_data()  # the solid line: points that fit
    return [(x, y) for x, y in zip(xs, ys) if y == y]


def test_figure_draws_the_librarys_numbers(plt):
    fig = explorer.figure("llama-3-8b", "H100-SXM", "bf16", 1, 64, 4096, 2.0)
    axes = fig.axes
    assert [ax.get_ylabel() for ax in axes] == [
        "step time (ms)", "tokens/s", "$ per million tokens", "$ per million tokens"]
    step = dict(_line_points(axes[0]))
    for b in (1, 16, 64, 119):
        est = roofline.decode_step("llama-3-8b", "H100-SXM", b, 4096)
        assert step[b] == pytest.approx(est.time_s * 1e3, rel=1e-12)
    assert max(step) == 119  # the solid line stops at the largest batch that fits
    usd = dict(_line_points(axes[2]))
    assert usd[64] == pytest.approx(cost.per_million_tokens(
        roofline.decode_step("llama-3-8b", "H100-SXM", 64, 4096), 2.0), rel=1e-12)
    assert max(dict(_line_points(axes[3]))) == 4096  # at batch 64, 8,192 tokens do not fit


def test_figure_of_an_unsupported_recipe_says_why(plt):
    fig = explorer.figure("llama-3-8b", "T4", "fp8")
    assert any("T4 has no fp8 FLOP/s" in t.get_text() for t in fig.texts)


# ----------------------------------------------------------------------------- the widget


@pytest.fixture
def ui(plt):
    pytest.importorskip("ipywidgets")
    return explorer.widget()


def test_widget_draws_on_creation(ui):
    assert ui.values() == dict(model="llama-3-8b", hw="H100-SXM", precision="bf16", n_chips=1,
                               batch=64, context=4096, price_per_hour=2.0)
    assert ui.text == explorer.readout()
    assert ui.figure is not None and len(ui.figure.axes) == 4
    assert "14.7 ms" in ui.readout.value
    assert bytes(ui.image.value).startswith(b"\x89PNG") and ui.image in ui.ui.children


def test_widget_update_redraws(ui):
    before, png = ui.figure, ui.image.value
    ui.update(model="llama-3-70b", n_chips=8, batch=256, price_per_hour=3.5)
    assert ui.figure is not before and bytes(ui.image.value) != bytes(png)
    assert ui.text == explorer.readout("llama-3-70b", "H100-SXM", "bf16", 8, 256, 4096, 3.5)
    step = dict(_line_points(ui.figure.axes[0]))
    est = roofline.decode_step("llama-3-70b", "H100-SXM", 256, 4096, n_chips=8)
    assert step[256] == pytest.approx(est.time_s * 1e3, rel=1e-12)


def test_moving_one_control_redraws(ui):
    ui.controls["context"].value = 32768
    assert ui.text.startswith("Llama-3-8B on 1 \u00d7 H100-SXM") and "context 32,768" in ui.text
    assert "This batch does not fit in HBM: the largest that does is 14." in ui.text
    ui.controls["precision"].value = "fp8"
    ui.controls["hw"].value = "T4"
    assert ui.text.startswith("T4 cannot run this precision")


def test_widget_rejects_bad_values_and_keeps_its_state(ui):
    before = ui.values()
    with pytest.raises(ValueError, match="batch=3 is not allowed"):
        ui.update(model="llama-3-70b", batch=3)
    with pytest.raises(ValueError, match="price_per_hour=20 is not allowed"):
        ui.update(price_per_hour=20)
    with pytest.raises(ValueError, match="unknown controls"):
        ui.update(gpu="H100-SXM")
    assert ui.values() == before
    with pytest.raises(ValueError, match="unknown controls"):
        explorer.widget(gpu="H100-SXM")


def test_missing_packages_say_how_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "ipywidgets", None)
    monkeypatch.setitem(sys.modules, "plotly.offline", None)
    with pytest.raises(ImportError, match=re.escape("pip install ipywidgets")):
        explorer.widget()
    with pytest.raises(ImportError, match=re.escape("pip install plotly`")):
        explorer.html(plotly_js="inline")
