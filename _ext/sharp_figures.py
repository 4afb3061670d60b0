"""Build fixes for the course's Jupyter Book (jupyter-book 1.0.4, Sphinx 7.4, MyST-NB 1.4).

1. Sharp figures on every executed page. MyST-NB runs each chapter, lab and exercise in an
   IPython kernel, which inherits this process's environment. Before any page executes, this
   extension points the kernels at a throwaway IPython directory whose kernel config sets
   ``InlineBackend.figure_formats = {"svg"}`` (and turns the history database off). Every
   ``plt.show()`` then gives an ``image/svg+xml`` output, which MyST-NB prefers over PNG:
   figures are vector graphics, sharp on any screen, and no page has to configure anything.
   Colab and a local Jupyter keep their usual PNG figures. Outputs in the execution cache are
   reused as they are, so after turning this on run ``make clean`` once.

2. Each inline script once. Sphinx 7.4 registers an inline script (``add_js_file(None,
   body=...)``) added after the builder starts both as filename ``None`` and as ``""``, so
   sphinx-thebe's and sphinx-togglebutton's configuration scripts appear twice on every page.
   Duplicates are dropped from each page's ``script_files``.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

KERNEL_CONFIG = """\
c.InlineBackend.figure_formats = {"svg"}
c.HistoryManager.enabled = False
"""


def _ipython_dir() -> str:
    root = tempfile.mkdtemp(prefix="course-ipython-")
    profile = Path(root) / "profile_default"
    profile.mkdir()
    (profile / "ipython_kernel_config.py").write_text(KERNEL_CONFIG)
    return root


def _unique_scripts(app, pagename, templatename, context, doctree):
    seen, unique = set(), []
    for js in context.get("script_files", []):
        key = (js.filename or "", js.priority, tuple(sorted(js.attributes.items())))
        if key not in seen:
            seen.add(key)
            unique.append(js)
    context["script_files"] = unique


def setup(app):
    root = _ipython_dir()
    os.environ["IPYTHONDIR"] = root
    app.connect("build-finished", lambda app, exc: shutil.rmtree(root, ignore_errors=True))
    app.connect("html-page-context", _unique_scripts, priority=900)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
