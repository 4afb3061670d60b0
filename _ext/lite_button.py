"""Exercises in the browser: a JupyterLite button and a note on every exercise page.

``scripts/build_lite.py`` (run by ``make book`` after the book) builds a JupyterLite site into
``_build/html/lite``: the exercise notebooks with a Pyodide kernel and ``tokenmath``'s
standard-library part preinstalled, all served from the book itself. This extension points each
exercise page at it:

1. the rocket (launch) menu gets a **JupyterLite** entry, first, opening
   ``lite/notebooks/index.html?path=exercises/NAME.ipynb`` (a path relative to the page, so the
   book works from any folder of any static host);
2. a note after the page's "How this page works" note says how it works and that the work is
   kept in the browser's storage.

Only pages under ``exercises/`` that have a paired ``.ipynb`` get them: the labs need torch, which
has no Pyodide build.
"""

from __future__ import annotations

from pathlib import Path

from docutils import nodes

LITE_APP = "lite/notebooks/index.html"
ICON = "_static/images/logo_jupyterlite.svg"  # shipped by sphinx-book-theme

NOTE = (
    ("strong", "Or do it right here, in your browser."),
    ("text", " The rocket button at the top → "),
    ("strong", "JupyterLite"),
    ("text", " opens this page as a notebook in a new tab, with Python running inside your "
             "browser and "),
    ("literal", "tokenmath"),
    ("text", " already installed: no account, nothing to install. Its menu Run → Run All "
             "Cells grades the page; write a function, run its cell and the check under it. "
             "Your work is kept in this browser's storage for this site (saved every 10 s and "
             "on Ctrl+S): it is still there when you come back, but not in another browser or "
             "a private window, and clearing the site's data erases it (File → Download saves "
             "a copy). The first start loads about 25 MB."),
)


def _is_exercise(app, docname: str) -> bool:
    if not docname.startswith("exercises/"):
        return False
    return (Path(app.srcdir) / docname).with_suffix(".ipynb").exists()


def lite_url(pathto, docname: str) -> str:
    """The JupyterLite link of an exercise page, relative to the page."""
    return f"{pathto(LITE_APP, 1)}?path={docname}.ipynb"


def add_button(app, pagename, templatename, context, doctree) -> None:
    if not _is_exercise(app, pagename):
        return
    button = {
        "type": "link",
        "text": "JupyterLite",
        "tooltip": "Run in your browser (JupyterLite)",
        "icon": ICON,
        "url": lite_url(context["pathto"], pagename),
        "label": "launch-jupyterlite",
    }
    for group in context.get("header_buttons", []):
        if group.get("label") == "launch-buttons":
            group["buttons"].insert(0, button)
            return
    context.setdefault("header_buttons", []).append({
        "type": "group",
        "tooltip": "Launch interactive content",
        "icon": "fas fa-rocket",
        "buttons": [button],
        "label": "launch-buttons",
    })


def add_note(app, doctree, docname) -> None:
    if not _is_exercise(app, docname):
        return
    para = nodes.paragraph()
    for kind, text in NOTE:
        node = {"strong": nodes.strong, "literal": nodes.literal}.get(kind)
        para += node(text, text) if node else nodes.Text(text)
    note = nodes.tip("", para, classes=["tokenmath-lite-note"])
    first = next(iter(doctree.findall(nodes.note)), None)
    if first is not None:
        first.parent.insert(first.parent.index(first) + 1, note)
    else:  # pragma: no cover  (every exercise page has its "How this page works" note)
        section = next(iter(doctree.findall(nodes.section)))
        section.insert(1, note)


def setup(app):
    app.connect("doctree-resolved", add_note)
    app.connect("html-page-context", add_button, priority=502)  # after the theme's launch menu
    return {"parallel_read_safe": True, "parallel_write_safe": True}
