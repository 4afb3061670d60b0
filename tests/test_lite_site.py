"""The exercises in the browser, on the built book (`make book` builds `_build/html/lite` with
scripts/build_lite.py): every exercise page links to its notebook in JupyterLite and says where
the work is kept; the Lite site serves everything it needs itself; and in headless Chromium, with
every host but 127.0.0.1 blocked, an exercise opened from its page's button runs blank (0 of N),
takes a right answer to one task, passes it, and still holds the answer after a reload.

Like tests/test_book_html.py these skip when the book is not built, unless TOKENMATH_REQUIRE_BOOK
is set (`make test` sets it). The browser test needs Debian's `chromium` (`make browser` installs
it when missing); without one it skips, except under CI, where it fails.

Why Playwright (from PyPI) drives the browser: its locators wait for JupyterLab's asynchronous UI
by themselves (no sleeps, no polling loops of our own), it can watch and refuse every request the
page and its web workers make (the Pyodide kernel runs in a worker), and it talks to any recent
Chromium over the DevTools protocol, so it drives Debian's `chromium` as it is, with no browser
download and no driver binary whose version must match the browser's (Selenium needs
chromedriver).
"""

from __future__ import annotations

import functools
import hashlib
import http.server
import json
import os
import re
import shutil
import threading
from pathlib import Path
from urllib.parse import urlparse

import pytest
from notebook_files import EXERCISES, ROOT

HTML = Path(os.environ.get("TOKENMATH_BOOK_HTML") or ROOT / "_build" / "html")
LITE = HTML / "lite"
#: The site as built; a reader's first visit loads only part of it (about 25 MB).
MAX_SITE_MB = 45

if not (LITE / "jupyter-lite.json").exists():
    if os.environ.get("TOKENMATH_REQUIRE_BOOK"):
        raise RuntimeError("the JupyterLite site is not built: run `make book` first")
    pytest.skip("the JupyterLite site is not built (run `make book`)", allow_module_level=True)


def _config() -> dict:
    return json.loads((LITE / "jupyter-lite.json").read_text())["jupyter-config-data"]


def test_kernel_is_served_by_the_site_with_no_pypi_fallback():
    kernel = _config()["litePluginSettings"]["@jupyterlite/pyodide-kernel-extension:kernel"]
    assert kernel["pyodideUrl"] == "./static/pyodide/pyodide.mjs"
    assert kernel["disablePyPIFallback"] is True
    assert "tokenmath" in kernel["loadPyodideOptions"]["packages"]
    assert all(u.startswith("./") for u in kernel["pipliteUrls"])
    tracker = _config()["settingsOverrides"]["@jupyterlab/notebook-extension:tracker"]
    assert tracker["autoStartDefaultKernel"] is True


def test_lock_names_the_files_served_with_their_checksums():
    pyodide = LITE / "static" / "pyodide"
    lock = json.loads((pyodide / "pyodide-lock.json").read_text())
    assert {"micropip", "ipython", "jedi", "parso", "tokenmath"} <= set(lock["packages"])
    for name, pkg in lock["packages"].items():
        path = pyodide / pkg["file_name"]
        assert path.exists(), f"{name}: {pkg['file_name']} is not served"
        assert hashlib.sha256(path.read_bytes()).hexdigest() == pkg["sha256"], name
        served = {re.sub(r"[-_.]+", "-", n).lower() for n in lock["packages"]}
        for dep in pkg["depends"]:
            assert re.sub(r"[-_.]+", "-", dep).lower() in served, f"{name} needs {dep}"


def test_site_serves_the_paired_notebooks_and_is_small():
    for md in EXERCISES:
        served = LITE / "files" / "exercises" / md.with_suffix(".ipynb").name
        assert served.read_bytes() == md.with_suffix(".ipynb").read_bytes(), served
    files = [p for p in LITE.rglob("*") if p.is_file()]
    assert not [p for p in files if p.suffix == ".map"], "source maps in the Lite site"
    size = sum(p.stat().st_size for p in files) / 1e6
    assert size < MAX_SITE_MB, f"the Lite site is {size:.0f} MB"


def _lite_links(md: Path) -> list[str]:
    from bs4 import BeautifulSoup

    page = HTML / "exercises" / f"{md.stem}.html"
    soup = BeautifulSoup(page.read_text(encoding="utf-8"), "html.parser")
    return [a["href"] for a in soup.select("a.btn-launch-jupyterlite")], soup.get_text(" ")


@pytest.mark.parametrize("md", EXERCISES, ids=lambda p: p.stem)
def test_exercise_page_opens_its_notebook_in_lite(md):
    links, text = _lite_links(md)
    assert links == [f"../lite/notebooks/index.html?path=exercises/{md.stem}.ipynb"]
    assert (HTML / "exercises" / links[0].split("?")[0]).resolve().exists()
    assert "kept in this browser's storage" in re.sub(r"\s+", " ", text)


# ---------------------------------------------------------------------------- the browser test

CHROMIUM = os.environ.get("CHROMIUM") or shutil.which("chromium")
FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    # no name resolves but 127.0.0.1: the page, its workers and Chromium itself stay offline
    "--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE 127.0.0.1",
]
EXERCISE = "00_warmup"
TASK = "ridge_point"
ANSWER = "def ridge_point(peak_flops, bandwidth): return peak_flops / bandwidth"
TIMEOUT_MS = int(os.environ.get("LITE_TIMEOUT_MS", 180_000))  # a first start on a loaded 2-core machine; it usually takes 10-30 s


class _Handler(http.server.SimpleHTTPRequestHandler):
    extensions_map = {
        **http.server.SimpleHTTPRequestHandler.extensions_map,
        ".mjs": "text/javascript",
        ".wasm": "application/wasm",
    }
    missing: list[str] = []

    def log_message(self, *args):  # quiet; 4xx answers are kept for the test
        pass

    def send_error(self, code, *args, **kwargs):
        if self.path.startswith("/lite/"):  # (the book itself has no /favicon.ico)
            self.missing.append(f"{code} {self.path}")
        super().send_error(code, *args, **kwargs)


@pytest.fixture
def site():
    _Handler.missing = []
    server = http.server.ThreadingHTTPServer(
        ("127.0.0.1", 0), functools.partial(_Handler, directory=str(HTML)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    server.server_close()


def _stubs(stem: str) -> int:
    nb = json.loads((ROOT / "exercises" / f"{stem}.ipynb").read_text())
    return sum("stub" in c["metadata"].get("tags", []) for c in nb["cells"])


def _run_all(lite, tries: int = 3) -> None:
    """Run -> Run All Cells, until the cells show they are queued or run ([*] or a count).

    A click that lands while the app is still settling its menus can be lost; it is retried."""
    started = lite.locator(".jp-InputPrompt", has_text=re.compile(r"\[(\*|\d+)\]"))
    for attempt in range(tries):
        lite.keyboard.press("Escape")
        lite.get_by_role("menuitem", name="Run", exact=True).click()
        lite.locator('[data-command="runmenu:run-all"]:not(.lm-mod-disabled)').click()
        try:
            started.first.wait_for(timeout=20_000)
            return
        except Exception:
            if attempt == tries - 1:
                raise


def test_exercise_runs_and_grades_in_the_browser(site, tmp_path):
    if not CHROMIUM:
        if os.environ.get("CI"):
            pytest.fail("no chromium: `make browser` installs Debian's")
        pytest.skip("no chromium (`make browser` installs Debian's)")
    sync_api = pytest.importorskip("playwright.sync_api")
    refused = []

    def only_localhost(route):
        if urlparse(route.request.url).hostname == "127.0.0.1":
            route.continue_()
        else:
            refused.append(route.request.url)
            route.abort()

    with sync_api.sync_playwright() as pw:
        ctx = pw.chromium.launch_persistent_context(
            str(tmp_path / "profile"), executable_path=CHROMIUM, headless=True, args=FLAGS,
            viewport={"width": 1280, "height": 900})
        ctx.set_default_timeout(TIMEOUT_MS)
        ctx.route("**/*", only_localhost)
        console = []
        ctx.on("console", lambda m: console.append(f"{m.type}: {m.text[:300]}"))
        try:
            page = ctx.new_page()
            page.goto(f"{site}/exercises/{EXERCISE}.html")
            page.locator(".dropdown-launch-buttons .dropdown-toggle").click()
            with ctx.expect_page() as opened:
                page.locator("a.btn-launch-jupyterlite").click()
            lite = opened.value
            refused.clear()  # the book's own page loads MathJax from its CDN; Lite must not

            # Run All on the notebook as the reader gets it: every task fails, the score is 0.
            lite.locator(".jp-Notebook .jp-CodeCell").first.wait_for()
            lite.locator(".jp-Notebook-ExecutionIndicator[data-status='idle']").wait_for()
            _run_all(lite)
            n = _stubs(EXERCISE)
            lite.locator(".jp-OutputArea-output", has_text=f"0/{n} tasks passed").wait_for()
            check = lite.locator(".jp-OutputArea-output", has_text=f"{TASK}: not implemented")
            assert check.count() == 1

            # A right answer to one task, run with its check: the check passes.
            lite.locator(".jp-CodeCell", has_text=f"def {TASK}(").locator(".cm-content").click()
            lite.keyboard.press("Control+A")
            lite.keyboard.type(ANSWER)
            lite.keyboard.press("Shift+Enter")
            lite.keyboard.press("Shift+Enter")
            lite.locator(".jp-OutputArea-output", has_text=f"✓ {TASK}: passed").wait_for()

            # Saved in the browser's storage: a reload shows the answer again.
            lite.keyboard.press("Control+S")
            lite.locator(".jp-mod-dirty").wait_for(state="detached")
            lite.reload()
            lite.locator(".jp-CodeCell", has_text=ANSWER.split(": ")[1]).wait_for()
        except Exception:
            for p in ctx.pages:  # what the reader would have seen, for the failure report
                p.screenshot(path=str(tmp_path / f"page{ctx.pages.index(p)}.png"))
            print("screenshots:", tmp_path, "console:", *console[-20:], sep="\n")
            raise
        finally:
            ctx.close()
    assert not refused, f"requests to other hosts: {refused[:5]}"
    assert not _Handler.missing, f"files the site lacks: {_Handler.missing[:5]}"
