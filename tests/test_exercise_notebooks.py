"""Each exercise notebook, executed with the reference solutions filled in: every check passes.

A stub cell is tagged ``stub`` and defines one function named like its task; the check module is
``tokenmath.checks.ex<notebook stem>``. The reader's version (the stubs as they are) runs once in
``make test``, in the strict book build; tests/test_book_html.py then checks that each built
exercise page scores 0 with one "not implemented yet" per task.
"""

from __future__ import annotations

import ast
import importlib
import re

import jupytext
import nbformat
import pytest
from nbclient import NotebookClient
from notebook_files import EXERCISES, ROOT


def _check_module(md):
    return importlib.import_module(f"tokenmath.checks.ex{md.stem}")


def _run(nb, md) -> str:
    NotebookClient(nb, timeout=600, kernel_name="python3",
                   resources={"metadata": {"path": str(md.parent)}}).execute()
    out = []
    for cell in nb.cells:
        for output in cell.get("outputs", []):
            out.append(output.get("text", ""))
    return "".join(out)


def _with_solutions(md) -> nbformat.NotebookNode:
    module = _check_module(md)
    nb = jupytext.read(md)
    stubs = 0
    for cell in nb.cells:
        if "stub" in cell.metadata.get("tags", []):
            names = [n.name for n in ast.parse(cell.source).body if isinstance(n, ast.FunctionDef)]
            assert len(names) == 1, f"a stub cell must define one function, found {names}"
            cell.source = (f"from {module.__name__} import SOLUTIONS\n"
                           f"{names[0]} = SOLUTIONS[{names[0]!r}]")
            stubs += 1
    assert stubs == len(module.TASKS), "one stub cell per task"
    return nb


IDS = [p.stem for p in EXERCISES]


@pytest.mark.parametrize("md", EXERCISES, ids=IDS)
def test_reference_solutions_pass_every_check(md):
    n = len(_check_module(md).TASKS)
    out = _run(_with_solutions(md), md)
    assert f"{n}/{n} tasks passed" in out, out
    assert "✗" not in out


@pytest.mark.parametrize("md", EXERCISES, ids=IDS)
def test_one_check_call_per_task_and_score_last(md):
    module = _check_module(md)
    code = [c.source for c in jupytext.read(md).cells if c.cell_type == "code"]
    for task in module.TASKS:
        calls = [s for s in code if re.search(rf"\bcheck_{task.name}\(", s)]
        assert len(calls) == 1, f"exactly one check call for task {task.name}"
    assert "score()" in code[-1], "the last cell prints the score"


def test_every_exercise_has_a_check_module():
    for md in EXERCISES:
        assert (ROOT / "lib" / "tokenmath" / "checks" / f"ex{md.stem}.py").exists()
