"""Each exercise notebook, executed with the reference solutions filled in: every check passes.

A stub cell is tagged ``stub`` and defines one function named like its task; the check module is
``tokenmath.checks.ex<notebook stem>``. The reader's version (the stubs as they are) runs once in
``make test``, in the strict book build; tests/test_book_html.py then checks that each built
exercise page scores 0 with one "not implemented yet" per task. A cell tagged ``worked-example``
checks a deliberately wrong function: its reply shows a ✗ and a hint, and counts nowhere.
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


EXAMPLE_TAG = "worked-example"
WIDTH = 88


def _tags(cell) -> list[str]:
    return cell.metadata.get("tags", [])


def _execute(nb, md) -> None:
    NotebookClient(nb, timeout=600, kernel_name="python3",
                   resources={"metadata": {"path": str(md.parent)}}).execute()


def _text(cells) -> str:
    return "".join(o.get("text", "") for cell in cells for o in cell.get("outputs", []))


def _run(nb, md) -> str:
    """Execute ``nb``; the printed output of every cell but the worked example."""
    _execute(nb, md)
    return _text(c for c in nb.cells if EXAMPLE_TAG not in _tags(c))


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


def _require_worked_example(md) -> None:
    """Every exercise page shows one wrong answer and what its check says."""
    assert EXAMPLE_TAG in md.read_text(encoding="utf-8"), f"{md.stem} has no worked example"


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


@pytest.mark.parametrize("md", EXERCISES, ids=IDS)
def test_reader_version_scores_zero_and_the_worked_example_counts_nowhere(md):
    """The page as a reader first sees it (what the book build shows)."""
    _require_worked_example(md)
    n = len(_check_module(md).TASKS)
    nb = jupytext.read(md)
    _execute(nb, md)
    out = _text(nb.cells)
    assert f"0/{n} tasks passed" in out, out
    assert out.count("not implemented yet") == n, out
    examples = [c for c in nb.cells if EXAMPLE_TAG in _tags(c)]
    assert len(examples) == 1, "one worked example of a wrong answer"
    reply = _text(examples)
    assert "✗" in reply and "Hint:" in reply and "not implemented" not in reply, reply
    long = [line for line in out.splitlines() if len(line) > WIDTH]
    assert not long, f"printed lines over {WIDTH} characters: {long}"


@pytest.mark.parametrize("md", EXERCISES, ids=IDS)
def test_pages_read_well_online(md):
    """A note for online readers, no code line over 88 characters, a precision per task."""
    _require_worked_example(md)
    nb = jupytext.read(md)
    shown = [c for c in nb.cells if c.cell_type == "code" and "remove-cell" not in _tags(c)]
    long = [line for c in shown for line in c.source.splitlines() if len(line) > WIDTH]
    assert not long, f"code lines over {WIDTH} characters: {long}"
    text = md.read_text(encoding="utf-8")
    assert "How this page works" in text and "Colab" in text
    assert "not implemented yet" not in text, "the prose would add to the page's count"
    n = len(_check_module(md).TASKS)
    assert text.count("*Graded ") >= n, "every task states the precision it grades at"
