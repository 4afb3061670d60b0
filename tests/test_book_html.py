"""Reads the built HTML (_build/html): pages, images, internal links, Colab links, line widths
and figure captions.

`make test` builds the book first and sets TOKENMATH_REQUIRE_BOOK=1, so a missing build fails;
run alone without a build, the tests skip. TOKENMATH_BOOK_HTML points the tests at another build
(`jupyter-book build . --path-output DIR` writes DIR/_build/html).
"""

from __future__ import annotations

import importlib
import json
import os
import re
import shutil
import subprocess
from pathlib import Path
from urllib.parse import unquote, urlparse

import pytest
from bs4 import BeautifulSoup
from notebook_files import EXERCISES, PAIRED, ROOT, config, toc_files

HTML = Path(os.environ.get("TOKENMATH_BOOK_HTML") or ROOT / "_build" / "html")
# The text column of the theme is about 785 px at desktop width: 88 monospace characters.
MAX_LINE = 88

if not (HTML / "index.html").exists():
    if os.environ.get("TOKENMATH_REQUIRE_BOOK"):
        raise RuntimeError("the book is not built: run `make book` first")
    pytest.skip("the book is not built (run `make book`)", allow_module_level=True)


def _page(file: str) -> Path:
    return HTML / f"{file}.html"


def _soup(path: Path) -> BeautifulSoup:
    return BeautifulSoup(path.read_text(encoding="utf-8"), "html.parser")


PAGES = toc_files()


@pytest.mark.parametrize("file", PAGES)
def test_every_toc_page_is_built(file):
    assert _page(file).exists(), f"{file} is in _toc.yml but {_page(file)} was not built"


def _local_targets(page: Path, soup: BeautifulSoup):
    for tag, attr in (("img", "src"), ("a", "href"), ("link", "href"), ("script", "src")):
        for node in soup.find_all(tag):
            url = node.get(attr)
            if not url:
                continue
            parsed = urlparse(url)
            if parsed.scheme or parsed.netloc or url.startswith(("#", "mailto:", "data:")):
                continue
            yield tag, url, (page.parent / unquote(parsed.path)).resolve()


@pytest.mark.parametrize("file", PAGES)
def test_images_and_internal_links_resolve(file):
    page = _page(file)
    soup = _soup(page)
    broken = [f"<{tag}> {url}" for tag, url, target in _local_targets(page, soup)
              if not target.exists()]
    assert not broken, f"{file}: broken local references: {broken}"


@pytest.mark.parametrize("file", PAGES)
def test_pages_have_no_execution_errors(file):
    text = _soup(_page(file)).get_text()
    assert "Traceback (most recent call last)" not in text


@pytest.mark.parametrize("md", PAIRED, ids=[p.stem for p in PAIRED])
def test_colab_link_targets_the_paired_ipynb(md):
    rel = md.relative_to(ROOT).with_suffix("")
    repo = config()["repository"]
    owner_repo = urlparse(repo["url"]).path.strip("/")
    expected = (f"https://colab.research.google.com/github/{owner_repo}/blob/{repo['branch']}/"
                f"{rel}.ipynb")
    links = [a.get("href") for a in _soup(_page(str(rel))).find_all("a")
             if "colab.research.google.com" in (a.get("href") or "")]
    assert expected in links, f"{rel}: Colab links {links}, expected {expected}"


@pytest.mark.parametrize("md", EXERCISES, ids=[p.stem for p in EXERCISES])
def test_exercise_pages_run_as_the_reader_gets_them(md):
    """The book build is the one run of each exercise's reader version (the stubs as they are):
    every check reports "not implemented yet" and the score is 0 (tests/test_exercise_notebooks.py
    runs the same notebooks with the reference solutions)."""
    n = len(importlib.import_module(f"tokenmath.checks.ex{md.stem}").TASKS)
    text = _soup(_page(str(md.relative_to(ROOT).with_suffix("")))).get_text()
    assert f"0/{n} tasks passed" in text
    assert text.count("not implemented yet") == n


def test_figures_are_rendered():
    page = _page("notebooks/00_your_machine")
    imgs = [img["src"] for img in _soup(page).find_all("img") if "_images/" in img["src"]]
    assert imgs, "the lab's roofline figure is missing from the built page"


def _cell_pre_lines(soup: BeautifulSoup):
    """(where, line) for every line of every `pre` in a code cell's input or output."""
    for cell in soup.select("div.cell"):
        for part in ("cell_input", "cell_output"):
            for box in cell.select(f"div.{part}"):
                for pre in box.find_all("pre"):
                    for line in pre.get_text().splitlines():
                        yield part.removeprefix("cell_"), line


@pytest.mark.parametrize("file", PAGES)
def test_code_and_output_lines_fit_the_text_column(file):
    """A longer line scrolls sideways, and the number at its end is off-screen."""
    long = [f"{where} ({len(line)} chars): {line.strip()[:100]}"
            for where, line in _cell_pre_lines(_soup(_page(file)))
            if len(line.rstrip()) > MAX_LINE]
    assert not long, (f"{file}: {len(long)} code/output lines over {MAX_LINE} characters:\n"
                      + "\n".join(long))


_FILE_NAME = re.compile(r"(_images/|\.(png|svg|jpe?g|gif|pdf)$)", re.IGNORECASE)


def _is_description(alt: str) -> bool:
    """A few words of prose, not a file path or name (MyST-NB's default alt is the path)."""
    return len(alt.split()) >= 4 and not _FILE_NAME.search(alt)


@pytest.mark.parametrize("file", PAGES)
def test_figures_have_captions_and_alt_text(file):
    """Every image a cell outputs is a numbered figure with a caption and a real description
    (MyST-NB cell metadata `mystnb: figure: {caption, name}` and `image: {alt}`)."""
    problems = []
    for img in _soup(_page(file)).select("div.cell_output img"):
        src = img.get("src", "")
        alt = (img.get("alt") or "").strip()
        if not _is_description(alt):
            problems.append(f"{src}: alt text {alt!r} is not a description")
        figure = img.find_parent("figure")
        caption = figure.find("figcaption") if figure else None
        if caption is None or not caption.get_text(strip=True):
            problems.append(f"{src}: no caption")
        elif not caption.select_one("span.caption-number"):
            problems.append(f"{src}: caption is not numbered (give the figure a name)")
    assert not problems, f"{file}:\n" + "\n".join(problems)


# ----------------------------------------------------------------------------- the explorer
# book/explorer.md: the kernel-free explorer (_ext/explorer_figure.py). Its figure must work from
# the built files alone: Plotly's JavaScript from the book's _static/, the grid and the controller
# in the page. notebooks/explorer.md creates widgets while it runs; its page must not load the
# widget manager from a CDN.

EXPLORER = "book/explorer"


def _explorer_page() -> tuple[Path, BeautifulSoup]:
    if EXPLORER not in PAGES:
        pytest.skip(f"{EXPLORER} is not in _toc.yml")
    page = _page(EXPLORER)
    return page, _soup(page)


# A prose "$2 per hour ... $0.08" pairs two dollar signs into inline math: write \$ for money.
PROSE_IN_MATH = re.compile(r"[A-Za-z]{3,} [A-Za-z]{3,} [A-Za-z]{3,}")


@pytest.mark.parametrize("file", PAGES)
def test_no_prose_was_typeset_as_math(file):
    spans = _soup(_page(file)).select("span.math")
    bad = [s.get_text()[:60] for s in spans
           if "\\text" not in s.get_text() and PROSE_IN_MATH.search(s.get_text())]
    assert not bad, (f"{file}: prose rendered as math (a dollar amount? write \\$): {bad}")


def test_explorer_page_loads_plotly_from_the_book_itself():
    page, soup = _explorer_page()
    srcs = [s["src"] for s in soup.find_all("script", src=True)]
    plotly = [s for s in srcs if s.split("?")[0].endswith("_static/plotly.min.js")]
    assert plotly, f"{EXPLORER}: no <script src=.../_static/plotly.min.js> (scripts: {srcs})"
    bundle = (page.parent / unquote(urlparse(plotly[0]).path)).resolve()
    assert bundle.is_file() and bundle.stat().st_size > 1_000_000, f"{bundle} is missing"
    assert bundle.read_text(encoding="utf-8", errors="replace")[:200].find("plotly.js v") >= 0
    external = [s for s in srcs if urlparse(s).netloc and "mathjax" not in s.lower()]
    assert not external, f"{EXPLORER}: scripts from the network: {external}"
    others = [f for f in PAGES if f != EXPLORER and "plotly.min.js" in _page(f).read_text()]
    assert not others, f"only the explorer page should load Plotly: {others}"


def test_explorer_page_holds_the_controls_grid_and_controller():
    _, soup = _explorer_page()
    roots = soup.select("div[data-tokenmath-explorer]")
    assert len(roots) == 1, "the explorer figure is missing"
    root = roots[0]
    controls = {c["data-control"] for c in root.select("[data-control]")}
    assert controls == {"model", "hw", "chips", "precision", "batch", "context", "price"}
    assert root.select_one("[data-plot]") and root.select_one("[data-readout]").get_text()
    start = f'tokenmathExplorer.start("{root["id"]}")'
    assert any(start in (s.string or "") for s in root.find_all("script")), "no controller"
    figure = root.find_parent("figure")
    caption = figure.find("figcaption") if figure else None
    assert caption and caption.select_one("span.caption-number"), "no numbered caption"


def test_explorer_grid_in_the_page_equals_the_library():
    from tokenmath import explore, explorer, roofline

    _, soup = _explorer_page()
    data = json.loads(soup.select_one("div[data-tokenmath-explorer] script[data-grid]").string)
    for model, hw, prec, b, s, n in [("llama-3-8b", "H100-SXM", "bf16", 64, 4096, 1),
                                     ("llama-3-70b", "H200", "fp8", 256, 8192, 8),
                                     ("mixtral-8x7b", "L4", "int4-weights", 1, 131072, 4)]:
        cell = data["cells"][f"{model}|{hw}|{prec}"]
        i, j, k = data["contexts"].index(s), data["batches"].index(b), data["chips"].index(n)
        w, kv, c = explore.dtypes(prec, hw)
        est = roofline.decode_step(model, hw, b, s, weight_dtype=w, kv_dtype=kv,
                                   compute_dtype=c, n_chips=n)
        assert cell["t"][i][j] * 1e-6 / n == pytest.approx(est.time_s, rel=6e-4)
        assert cell["b"][i][j] == est.bound[0]
        assert cell["fit"][i][k] == roofline.max_batch(model, hw, s, weight_dtype=w,
                                                       kv_dtype=kv, n_chips=n)
    assert data == json.loads(json.dumps(explorer.page_data()))


@pytest.mark.skipif(shutil.which("node") is None, reason="Node.js is not installed")
def test_explorer_controller_runs_on_the_page_data(tmp_path):
    """Node runs the page's own controller on the page's own grid and writes the sentence the
    page shows first (no browser: Plotly itself is not run)."""
    _, soup = _explorer_page()
    root = soup.select_one("div[data-tokenmath-explorer]")
    code = next(s.string for s in root.find_all("script") if "tokenmathExplorer" in
                (s.string or ""))
    (tmp_path / "controller.js").write_text(code.split("tokenmathExplorer.start(")[0])
    (tmp_path / "data.json").write_text(root.select_one("script[data-grid]").string)
    sel = {c["data-control"]: c for c in root.select("[data-control]")}

    def value(name):
        node = sel[name]
        chosen = node.select_one("option[selected]") if node.name == "select" else None
        return (chosen or node)["value"]

    selection = {"model": value("model"), "hw": value("hw"), "precision": value("precision"),
                 "chips": int(value("chips")), "price": float(value("price"))}
    (tmp_path / "run.js").write_text(
        "const E = require('./controller.js'); const data = require('./data.json');\n"
        f"const sel = {json.dumps(selection)};\n"
        f"sel.batch = data.batches[{int(value('batch'))}];\n"
        f"sel.context = data.contexts[{int(value('context'))}];\n"
        "const s = E.series(data, sel);\n"
        "console.log(JSON.stringify({readout: E.readout(data, s), n: E.traces(s).length}));\n")
    out = subprocess.run(["node", "run.js"], cwd=tmp_path, capture_output=True, text=True,
                         timeout=60)
    assert out.returncode == 0, out.stderr
    result = json.loads(out.stdout)
    assert result["readout"] == root.select_one("[data-readout]").get_text()
    assert result["n"] == 14


def test_explorer_notebook_page_loads_no_widget_manager():
    file = "notebooks/explorer"
    if file not in PAGES:
        pytest.skip(f"{file} is not in _toc.yml")
    text = _page(file).read_text(encoding="utf-8")
    assert "application/vnd.jupyter.widget-state+json" not in text
    assert "embed-amd.js" not in text and "require.min.js" not in text
    assert _soup(_page(file)).select("div.cell_output img"), "the static figure is missing"
