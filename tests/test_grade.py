"""tokenmath.grade and `tokenmath grade`: run submitted notebooks, grade them honestly.

The notebooks are made here from the real exercise 00 (its .md, through jupytext): as handed out,
with the reference solutions' source in the task cells, with wrong answers, with cells that tamper
with the checks, and with cells that raise or hang. Each one starts a kernel (about a second).
"""

from __future__ import annotations

import ast
import csv
import inspect
import json

import jupytext
import nbformat
import pytest
import tokenmath.checks._grading as grading
from notebook_files import ROOT
from tokenmath import cli, grade
from tokenmath.checks import ex00_warmup as ex00

MD = ROOT / "exercises" / "00_warmup.md"
N = len(ex00.TASKS)
NAMES = [t.name for t in ex00.TASKS]


def _stub_name(cell) -> str | None:
    if cell.cell_type != "code" or "stub" not in cell.metadata.get("tags", []):
        return None
    defs = [n.name for n in ast.parse(cell.source).body if isinstance(n, ast.FunctionDef)]
    return defs[0] if defs else None


def make_notebook(tmp_path, name, replace=None, extra=(), before_score=()):
    """Exercise 00 as handed out, with task cells replaced by ``replace[task]`` and code cells
    ``extra`` appended at the end (``before_score`` just before the score cell)."""
    nb = jupytext.read(MD)
    for cell in nb.cells:
        task = _stub_name(cell)
        if task in (replace or {}):
            cell.source = replace[task]
    last = len(nb.cells) - 1
    nb.cells[last:last] = [nbformat.v4.new_code_cell(s) for s in before_score]
    nb.cells += [nbformat.v4.new_code_cell(s) for s in extra]
    path = tmp_path / f"{name}.ipynb"
    nbformat.write(nb, str(path))
    return path


def reference_source(task) -> str:
    return "import math\n\n" + inspect.getsource(task.reference)


def by_name(result) -> dict[str, grade.TaskGrade]:
    return {t.name: t for t in result.tasks}


def flat(text: str) -> str:
    """A message on one line (the checks wrap long messages)."""
    return " ".join(text.split())


# The notebook as handed out, and with the reference solutions ---------------------------------


def test_blank_notebook_scores_zero_and_says_not_implemented(tmp_path):
    result = grade.grade_notebook(make_notebook(tmp_path, "blank"))
    assert result.exercise == "00_warmup" and result.error is None
    assert (result.passed, result.total) == (0, N)
    assert [t.name for t in result.tasks] == NAMES
    for t in result.tasks:
        assert not t.passed and "not implemented yet" in flat(t.message), t.message


def test_reference_solutions_pass_every_task(tmp_path):
    path = make_notebook(
        tmp_path, "ref", replace={t.name: reference_source(t) for t in ex00.TASKS}
    )
    result = grade.grade_notebook(path)
    assert result.error is None
    assert (result.passed, result.total) == (N, N), [t.message for t in result.tasks]
    assert all(t.message.startswith(f"✓ {t.name}: passed") for t in result.tasks)


# Wrong answers: the same message (hint included) as the check gives in the notebook ----------


def test_wrong_answers_fail_with_the_checks_message_and_hint(tmp_path):
    hidden = ex00.HIDDEN_FLOPS.mistakes[0]  # upside down: M W / F
    replace = {
        # uses a helper from a later cell: the function sees the whole notebook's state
        "ridge_point": "def ridge_point(peak_flops, bandwidth):\n    return _ratio(peak_flops, "
        "bandwidth)",
        "time_lower_bound": "def time_lower_bound(flops, bytes_moved, peak_flops, bandwidth):\n"
        "    return flops / 0  # oops\n\ndef _ratio(a, b):\n    return a / b",
        "limiting_resource": "def limiting_resource(flops, bytes_moved, peak_flops, bandwidth):\n"
        "    return 'compute' if flops >= bytes_moved else 'memory'",
        "hidden_flops": "def hidden_flops(bytes_moved, peak_flops, bandwidth):\n"
        "    return bytes_moved * bandwidth / peak_flops",
    }
    result = by_name(grade.grade_notebook(make_notebook(tmp_path, "wrong", replace)))
    assert result["ridge_point"].passed
    raised = result["time_lower_bound"]
    assert not raised.passed
    assert "raised ZeroDivisionError: float division by zero" in flat(raised.message)
    assert "(line 2: return flops / 0 # oops)" in flat(raised.message)  # the student's line
    label = result["limiting_resource"]
    assert not label.passed and "comparing FLOPs with bytes" in flat(label.message)
    expected = ex00.check_hidden_flops(hidden.fn)  # what the notebook itself would print
    assert result["hidden_flops"].message == expected.message
    assert "Hint: upside down" in flat(result["hidden_flops"].message)


# Tampering: the notebook's kernel is not where the grade is decided ------------------------

TAMPER = """
import builtins
import tokenmath.checks
import tokenmath.checks._grading as g
from tokenmath.checks import CheckResult

def forged(*args, **kwargs):
    return CheckResult("00_warmup", "any", True, 1, "✓ forged")

g.run_task = tokenmath.checks.run_task = checks.run_task = forged
g._passes = g._close = lambda *a, **k: True
checks.score = lambda: (99, 99)
for t in checks.TASKS:
    setattr(checks, "check_" + t.name, forged)
    setattr(checks, t.name, globals()[t.name])  # the "reference" is now the student's stub
    object.__setattr__(t, "cases", [])
    object.__setattr__(t, "random_cases", None)
print("Score for 00_warmup: 4/4 tasks passed")
"""

CHEAT = """
from tokenmath.checks.ex00_warmup import SOLUTIONS
hidden_flops = SOLUTIONS["hidden_flops"]
limiting_resource = None  # check_limiting_resource(None) checks the reference
"""


def test_tampering_with_the_checks_does_not_change_the_grade(tmp_path):
    path = make_notebook(tmp_path, "tamper", before_score=[TAMPER], extra=[TAMPER, CHEAT])
    result = grade.grade_notebook(path)
    assert result.error is None
    assert result.passed == 0
    tasks = by_name(result)
    for name in ("ridge_point", "time_lower_bound"):
        assert "not implemented yet" in flat(tasks[name].message)
    assert tasks["limiting_resource"].message.endswith("expected a function, got NoneType")
    assert "tokenmath's reference" in tasks["hidden_flops"].message
    assert grading.run_task.__module__ == "tokenmath.checks._grading"  # this process untouched


def test_a_notebook_that_breaks_print_gets_no_credit(tmp_path):
    silence = "import builtins\nbuiltins.print = lambda *a, **k: None"
    result = grade.grade_notebook(make_notebook(tmp_path, "silent", extra=[silence]))
    assert result.passed == 0 and result.total == N
    assert all("could not be read" in t.message for t in result.tasks)


# Notebooks that fail to run -----------------------------------------------------------------


def test_cells_that_raise_are_reported_and_tasks_still_graded(tmp_path):
    path = make_notebook(
        tmp_path,
        "raises",
        replace={"ridge_point": reference_source(ex00.RIDGE_POINT)},
        before_score=["x = 1 / 0", "def oops(:\n    pass"],
    )
    result = grade.grade_notebook(path)
    assert result.error is not None
    assert "(`x = 1 / 0`) raised ZeroDivisionError: division by zero (and 1 more)" in result.error
    assert (result.passed, result.total) == (1, N)
    assert by_name(result)["ridge_point"].passed


def test_timeouts_of_a_cell_and_of_a_task(tmp_path):
    loop = "import time\n\ndef ridge_point(peak_flops, bandwidth):\n    while True:\n        pass"
    ref = reference_source(ex00.TIME_LOWER_BOUND)
    path = make_notebook(
        tmp_path,
        "slow",
        replace={"time_lower_bound": ref},
        extra=[loop, "time.sleep(600)", "ridge_point = None  # never runs"],
    )
    result = grade.grade_notebook(path, timeout=4, task_timeout=2)
    assert result.error is not None and result.error.startswith("timed out after 4 s in cell ")
    assert "time.sleep(600)" in result.error
    tasks = by_name(result)
    assert tasks["ridge_point"].message == (
        "✗ ridge_point: timed out: your function did not return within 2 s"
    )
    assert tasks["time_lower_bound"].passed  # the kernel was interrupted and answers again
    assert "not implemented yet" in flat(tasks["hidden_flops"].message)


def test_files_that_are_not_notebooks(tmp_path):
    text = tmp_path / "00_warmup_essay.ipynb"
    text.write_text("my answers are in my head")
    missing = grade.grade_notebook(tmp_path / "nobody.ipynb")
    assert missing.error == f"no such file: {tmp_path / 'nobody.ipynb'}"
    assert (missing.exercise, missing.tasks) == (None, [])
    bad = grade.grade_notebook(text)  # the exercise comes from the file name
    assert bad.exercise == "00_warmup" and bad.total == N and bad.passed == 0
    assert bad.error.startswith("not a readable .ipynb notebook")
    assert all("not graded: not a readable" in t.message for t in bad.tasks)


def test_unknown_exercise(tmp_path):
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("x = 1")])
    nbformat.write(nb, str(tmp_path / "homework.ipynb"))
    result = grade.grade_notebook(tmp_path / "homework.ipynb")
    assert result.error.startswith("cannot tell which exercise this is")
    with pytest.raises(ValueError, match="unknown exercise 'nope'; choose one of: 00_warmup"):
        grade.grade_notebook(tmp_path / "homework.ipynb", exercise="nope")
    with pytest.raises(ValueError, match="timeout must be > 0"):
        grade.grade_notebook(tmp_path / "homework.ipynb", timeout=0)


def test_exercise_names_and_detection_of_every_exercise():
    assert grade.exercise_module("01").EXERCISE == "01_rooflines"
    assert grade.exercise_module("ex00_warmup") is ex00
    assert grade.exercises()[:2] == ["00_warmup", "01_rooflines"]
    for ipynb in sorted((ROOT / "exercises").glob("*.ipynb")):
        nb = nbformat.read(str(ipynb), as_version=4)
        assert grade._detect_exercise(nb, ipynb.with_name("x.ipynb")).EXERCISE == ipynb.stem


# The command line ---------------------------------------------------------------------------


def test_cli_table_json_and_csv(tmp_path, capsys):
    blank = make_notebook(tmp_path, "ana")
    missing = tmp_path / "ben.ipynb"
    out_json, out_csv = tmp_path / "grades.json", tmp_path / "grades.csv"
    argv = ["grade", str(blank), str(missing), "--exercise", "00_warmup", "--json",
            str(out_json), "--csv", str(out_csv)]
    assert cli.main(argv) == 0
    out, err = capsys.readouterr()
    assert err == ""
    lines = out.splitlines()
    assert lines[0].split() == ["notebook", "exercise", "passed", "failing", "tasks"]
    assert lines[2].split()[:3] == [str(blank), "00_warmup", f"0/{N}"]
    assert ", ".join(NAMES) in lines[2]
    assert f"{missing}: no such file" in out

    data = json.loads(out_json.read_text(encoding="utf-8"))
    assert [d["path"] for d in data] == [str(blank), str(missing)]
    first = data[0]
    assert set(first) == {"path", "exercise", "passed", "total", "error", "tasks"}
    assert (first["passed"], first["total"], first["error"]) == (0, N, None)
    assert set(first["tasks"][0]) == {"name", "passed", "message"}
    assert [t["name"] for t in first["tasks"]] == NAMES
    assert data[1]["error"].startswith("no such file") and data[1]["total"] == N

    with open(out_csv, newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    assert list(rows[0]) == grade.CSV_COLUMNS
    assert len(rows) == 2 * N
    assert [r["task"] for r in rows[:N]] == NAMES
    assert {r["passed"] for r in rows} == {"false"}
    assert "not implemented yet" in flat(rows[0]["message"])
    assert rows[N]["error"].startswith("no such file")


@pytest.mark.parametrize(
    "argv, message",
    [
        (["grade"], "the following arguments are required: NOTEBOOK"),
        (["grade", "a.ipynb", "--exercise", "nope"], "unknown exercise 'nope'"),
        (["grade", "a.ipynb", "--timeout", "0"], "must be a finite number > 0"),
        (["grade", "a.ipynb", "--json", "/no/such/dir/g.json"], "cannot write --json"),
    ],
)
def test_cli_usage_errors_exit_2(capsys, argv, message):
    assert cli.main(argv) == 2
    out, err = capsys.readouterr()
    assert out == "" and err.startswith("tokenmath: error: ") and message in err
    assert len(err.strip().splitlines()) == 1
