"""The kernel-free explorer in the book, with Plotly's JavaScript served from the book itself.

1. The ``tokenmath-explorer`` directive puts :func:`tokenmath.explorer.html` on a page as a
   numbered figure: the grid of :func:`tokenmath.explore.grid` as JSON, the controls, and the
   script that redraws the figure in the browser. Its content is the caption; the options
   ``name``, ``model``, ``hw``, ``precision``, ``chips``, ``batch``, ``context`` and ``price`` set
   the label and the first selection. The page is rebuilt when the library's math changes.

   ```{tokenmath-explorer}
   :name: fig-explorer
   :batch: 64

   The caption.
   ```

2. Plotly's JavaScript without a CDN. Pages with an explorer load ``_static/plotly.min.js``,
   copied at the end of the build from the installed ``plotly`` package (no other page loads
   it), so the built book works offline and from ``file://``.

3. No widget loader on pages that show no widget. MyST-NB adds RequireJS and the ipywidgets
   embedder (from CDNs) and the widgets' saved state to every page whose notebook created a
   widget while it ran, even when the cell's output is removed (``remove-output``), as the
   explorer notebook's is. Where the page holds no widget view, those scripts are dropped.
"""

from __future__ import annotations

import importlib.util
import shutil
from importlib import resources
from pathlib import Path

from docutils import nodes
from docutils.parsers.rst import directives
from sphinx.errors import ExtensionError
from sphinx.util.docutils import SphinxDirective

WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"
WIDGET_STATE = "application/vnd.jupyter.widget-state+json"
PLOTLY_JS = "plotly.min.js"


def _docs(env) -> set[str]:
    if not hasattr(env, "tokenmath_explorer_docs"):
        env.tokenmath_explorer_docs = set()
    return env.tokenmath_explorer_docs


class ExplorerDirective(SphinxDirective):
    has_content = True
    option_spec = {
        "name": directives.unchanged,
        "model": directives.unchanged_required,
        "hw": directives.unchanged_required,
        "precision": directives.unchanged_required,
        "chips": directives.positive_int,
        "batch": directives.positive_int,
        "context": directives.positive_int,
        "price": float,
    }

    def run(self) -> list[nodes.Node]:
        from tokenmath import cost, dtypes, explore, explorer, hardware, models, roofline

        if importlib.util.find_spec("plotly") is None:
            raise self.error("tokenmath-explorer: the page needs plotly: pip install plotly")
        names = {"chips": "n_chips", "price": "price_per_hour"}
        kwargs = {names.get(k, k): v for k, v in self.options.items() if k != "name"}
        serial = self.env.new_serialno("tokenmath-explorer")
        try:
            html = explorer.html(**kwargs, element_id=f"tokenmath-explorer-{serial}")
        except (ValueError, ImportError) as e:
            raise self.error(f"tokenmath-explorer: {e}") from None
        for module in (explore, explorer, roofline, cost, models, hardware, dtypes):
            self.env.note_dependency(str(Path(module.__file__).resolve()))
        _docs(self.env).add(self.env.docname)

        figure = nodes.figure(classes=["tokenmath-explorer-figure"])
        figure += nodes.raw("", html, format="html")
        if self.content:
            parsed = nodes.Element()
            self.state.nested_parse(self.content, self.content_offset, parsed)
            first = parsed[0] if len(parsed) else None
            if not isinstance(first, nodes.paragraph):
                raise self.error("tokenmath-explorer: the content must start with a caption")
            caption = nodes.caption(first.rawsource, "", *first.children)
            caption.source, caption.line = first.source, first.line
            figure += caption
            if len(parsed) > 1:
                figure += nodes.legend("", *parsed[1:])
        self.add_name(figure)
        return [figure]


def _purge(app, env, docname) -> None:
    _docs(env).discard(docname)


def _merge(app, env, docnames, other) -> None:
    _docs(env).update(_docs(other) & set(docnames))


def _page(app, pagename, templatename, context, doctree) -> None:
    if pagename in _docs(app.env):
        app.add_js_file(PLOTLY_JS)
    if WIDGET_VIEW in context.get("body", ""):
        return
    loaders = set(getattr(app.config, "nb_ipywidgets_js", {}) or {})
    scripts = context.get("script_files", [])
    context["script_files"] = [
        js for js in scripts
        if getattr(js, "filename", js) not in loaders
        and getattr(js, "attributes", {}).get("type") != WIDGET_STATE
    ]


def _copy_plotly(app, exception) -> None:
    if exception is not None or app.builder.format != "html" or not _docs(app.env):
        return
    source = resources.files("plotly") / "package_data" / PLOTLY_JS
    if not source.is_file():
        raise ExtensionError(f"plotly's JavaScript is not where it was: {source}")
    target = Path(app.outdir) / "_static" / PLOTLY_JS
    target.parent.mkdir(parents=True, exist_ok=True)
    with resources.as_file(source) as path:
        shutil.copyfile(path, target)


def setup(app):
    app.add_directive("tokenmath-explorer", ExplorerDirective)
    app.connect("env-purge-doc", _purge)
    app.connect("env-merge-info", _merge)
    app.connect("html-page-context", _page, priority=800)
    app.connect("build-finished", _copy_plotly)
    return {"parallel_read_safe": True, "parallel_write_safe": True, "env_version": 1}
