"""The library's layers: the math and the graders stay standard-library only, and no module
reaches into another's private names.

The math (catalogs, roofline, cost) and ``tokenmath.checks`` must import neither torch, numpy nor
matplotlib: they load instantly and run anywhere, Pyodide included.
"""

from __future__ import annotations

import ast
import importlib
import pkgutil
import subprocess
import sys
from pathlib import Path

import pytest

LIB = Path(__file__).resolve().parents[1] / "lib" / "tokenmath"
HEAVY = ("torch", "numpy", "matplotlib")


def _checks_modules() -> list[str]:
    names = [p.stem for p in (LIB / "checks").glob("ex*.py")]
    return [f"tokenmath.checks.{n}" for n in sorted(names)]


LIGHT = [
    "tokenmath",
    "tokenmath.dtypes",
    "tokenmath.validate",
    "tokenmath.hardware",
    "tokenmath.models",
    "tokenmath.roofline",
    "tokenmath.cost",
    "tokenmath.explore",
    "tokenmath.serving",
    "tokenmath.tables",
    "tokenmath.tiers",
    "tokenmath.cli",
    "tokenmath.checks",
    *_checks_modules(),
] + (["tokenmath.paging"] if (LIB / "paging.py").exists() else [])


def test_every_exercise_has_a_checks_module():
    assert len(_checks_modules()) >= 5


@pytest.mark.parametrize("module", LIGHT)
def test_light_modules_import_no_heavy_dependency(module):
    code = (
        f"import sys, {module}; "
        f"print(' '.join(m for m in {HEAVY!r} if m in sys.modules) or 'none')"
    )
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert res.returncode == 0, res.stderr
    assert res.stdout.split() == ["none"], f"{module} imports {res.stdout.strip()}"


def _sources() -> list[Path]:
    return sorted(LIB.rglob("*.py"))


def _package(path: Path, root: Path) -> str:
    rel = path.relative_to(root.parent).with_suffix("")
    parts = list(rel.parts)
    return ".".join(parts[:-1])


def _private(name: str) -> bool:
    return name.startswith("_") and not (name.startswith("__") and name.endswith("__"))


def private_uses(path: Path, root: Path = LIB) -> list[str]:
    """``from tokenmath.x import _y``, ``tokenmath.x._y`` and ``x._y`` (``x`` a tokenmath module
    bound by an import) in one file. A private *module* of the file's own package is allowed
    (``tokenmath.checks.ex01`` may use ``tokenmath.checks._grading``'s public names)."""
    tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
    own = _package(path, root)
    found, modules = [], set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("tokenmath"):
            mod = node.module or ""
            parent, _, last = mod.rpartition(".")
            if _private(last) and parent != own:
                found.append(f"line {node.lineno}: from {mod} import ...")
            for alias in node.names:
                if _private(alias.name):
                    found.append(f"line {node.lineno}: from {mod} import {alias.name}")
                else:
                    modules.add(alias.asname or alias.name)
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.startswith("tokenmath"):
                    modules.add(alias.asname or alias.name.split(".")[0])
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and _private(node.attr):
            base = ast.unparse(node.value)
            if base.split(".")[0] in modules and base not in ("self", "cls"):
                found.append(f"line {node.lineno}: {base}.{node.attr}")
    return found


@pytest.mark.parametrize("path", _sources(), ids=lambda p: str(p.relative_to(LIB)))
def test_no_module_imports_another_modules_private_names(path):
    assert private_uses(path) == []


def test_private_use_detector_finds_each_form(tmp_path):
    root = tmp_path / "tokenmath"
    (root / "checks").mkdir(parents=True)
    probe = root / "probe.py"
    probe.write_text(
        "from tokenmath.roofline import _finite, decode_step\n"
        "from tokenmath import hardware\n"
        "import tokenmath.cost\n"
        "from tokenmath.checks._grading import score\n"
        "x = hardware._LOOKUP\n"
        "y = tokenmath.cost._chips\n"
        "z = decode_step.__doc__\n"
    )
    assert private_uses(probe, root) == [
        "line 1: from tokenmath.roofline import _finite",
        "line 4: from tokenmath.checks._grading import ...",
        "line 5: hardware._LOOKUP",
        "line 6: tokenmath.cost._chips",
    ]
    inside = root / "checks" / "ex99.py"
    inside.write_text("from tokenmath.checks._grading import score as _score\n")
    assert private_uses(inside, root) == []


def _public_modules() -> list[str]:
    import tokenmath

    names = ["tokenmath"]
    for info in pkgutil.walk_packages(tokenmath.__path__, "tokenmath."):
        if not any(_private(part) for part in info.name.split(".")):
            names.append(info.name)
    return sorted(names)


@pytest.mark.parametrize("module", [m for m in _public_modules() if m != "tokenmath.__main__"])
def test_all_names_exist(module):
    mod = importlib.import_module(module)
    exported = getattr(mod, "__all__", [])
    assert [n for n in exported if not hasattr(mod, n)] == []
    assert len(set(exported)) == len(exported)
