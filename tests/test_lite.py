"""The exercises in the browser, before any build: the tokenmath wheel that JupyterLite loads
(scripts/build_lite.py) holds the standard-library part of the library and imports with nothing
else, and every exercise notebook needs nothing but that wheel and the standard library (Pyodide
has no torch, and no numpy wheel on PyPI). The built site and a run in a real browser are checked
by tests/test_lite_site.py after `make book`."""

from __future__ import annotations

import ast
import importlib.util
import json
import subprocess
import sys
import zipfile

import pytest
from notebook_files import EXERCISES, ROOT

spec = importlib.util.spec_from_file_location("build_lite", ROOT / "scripts" / "build_lite.py")
build_lite = importlib.util.module_from_spec(spec)
spec.loader.exec_module(build_lite)


@pytest.fixture(scope="module")
def wheel(tmp_path_factory):
    return build_lite.tokenmath_wheel(tmp_path_factory.mktemp("wheel"))


def _wheel_modules(wheel) -> set[str]:
    names = zipfile.ZipFile(wheel).namelist()
    mods = {n[:-3].replace("/", ".") for n in names if n.endswith(".py")}
    return {m.removesuffix(".__init__") for m in mods}


def test_wheel_holds_the_math_and_every_grader(wheel):
    mods = _wheel_modules(wheel)
    graders = {f"tokenmath.checks.{p.stem}" for p in (ROOT / "lib/tokenmath/checks").glob("*.py")}
    graders = {g.removesuffix(".__init__") for g in graders}
    assert graders <= mods
    assert {"tokenmath", "tokenmath.roofline", "tokenmath.cost", "tokenmath.models"} <= mods
    assert not mods & {"tokenmath.decoder", "tokenmath.timing", "tokenmath.plot", "tokenmath.bench"}
    record = zipfile.ZipFile(wheel).read(f"tokenmath-{wheel.name.split('-')[1]}.dist-info/RECORD")
    assert len(record.decode().splitlines()) == len(zipfile.ZipFile(wheel).namelist())


def test_wheel_imports_with_the_standard_library_only(wheel):
    # -I -S: no site-packages, no user site, no PYTHONPATH; the wheel alone on the path.
    mods = sorted(_wheel_modules(wheel))
    code = (
        f"import sys; sys.path.insert(0, {str(wheel)!r}); import importlib\n"
        f"for m in {mods!r}: importlib.import_module(m)\n"
        "top = {m.split('.')[0] for m in sys.modules}\n"
        "print(' '.join(sorted(top - set(sys.stdlib_module_names) - {'tokenmath', '__main__'})) or 'none')"
    )
    res = subprocess.run([sys.executable, "-I", "-S", "-c", code], capture_output=True, text=True)
    assert res.returncode == 0, res.stderr
    assert res.stdout.split() == ["none"], f"the wheel imports {res.stdout.strip()}"


def _imports(source: str):
    # IPython magics and shell lines (the Colab install cell) are not Python: read them as `pass`.
    lines = [ln[: len(ln) - len(ln.lstrip())] + "pass" if ln.lstrip().startswith(("%", "!"))
             else ln for ln in source.splitlines()]
    for node in ast.walk(ast.parse("\n".join(lines))):
        if isinstance(node, ast.Import):
            yield from ((a.name, None) for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0:
            yield from ((node.module, a.name) for a in node.names)


@pytest.mark.parametrize("md", EXERCISES, ids=lambda p: p.stem)
def test_exercise_needs_only_the_standard_library_and_the_wheel(md, wheel):
    mods = _wheel_modules(wheel)
    nb = json.loads(md.with_suffix(".ipynb").read_text())
    bad = []
    for cell in nb["cells"]:
        if cell["cell_type"] != "code":
            continue
        for module, name in _imports("".join(cell["source"])):
            top = module.split(".")[0]
            if top in sys.stdlib_module_names:
                continue
            if module in mods or f"{module}.{name}" in mods:
                continue
            bad.append(f"{module} ({name})" if name else module)
    assert not bad, f"{md.name} imports what the browser does not have: {bad}"


def test_the_served_versions_are_pinned_with_hashes():
    pins = build_lite.read_requirements()
    assert {"micropip", "ipython", "jedi", "parso", "comm"} <= set(pins)
    assert all(len(sha) == 64 for _, sha in pins.values())


def test_kernel_settings_keep_the_site_offline():
    assert build_lite.KERNEL_SETTINGS["disablePyPIFallback"] is True
    assert "tokenmath" in build_lite.KERNEL_SETTINGS["loadPyodideOptions"]["packages"]
