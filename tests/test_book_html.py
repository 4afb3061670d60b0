"""Reads the built HTML (_build/html): pages, images, internal links, Colab links, line widths
and figure captions.

`make test` builds the book first and sets TOKENMATH_REQUIRE_BOOK=1, so a missing build fails;
run alone without a build, the tests skip. TOKENMATH_BOOK_HTML points the tests at another build
(`jupyter-book build . --path-output DIR` writes DIR/_build/html).
"""

from __future__ import annotations

import importlib
import os
import re
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
