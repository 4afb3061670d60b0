"""Grade a class's exercise notebooks: ``tokenmath grade submissions/*.ipynb``.

Each notebook runs headless in a fresh Jupyter kernel (nbclient, in a temporary folder, with a time
limit). Then every task of its exercise (``TASKS`` of ``tokenmath.checks.exNN_...``) is graded by
the public ``check_<task>`` of that module, imported in *this* process, which never runs the
student's code.

Why a notebook cannot grade itself: the check receives a stand-in for the student's function. A
call to the stand-in sends its arguments to the student's kernel, which calls the function the
notebook left under the task's name and sends back only the answer, as JSON (or the name of the
exception it raised). The cases, the expected values, the tolerance and the verdict all stay in
this process, so a notebook that monkeypatches ``checks``, ``run_task``, ``score`` or the reference
functions changes only its own kernel; the most it can do is answer the questions it is asked,
which is the exercise. Nothing from the kernel is unpickled or executed here.

The function graded is the one the notebook defines last under the task's name (the state after
running every cell, continuing past cells that raise). Grading runs the students' code with your
permissions: run it in a container or a throw-away account for a class you do not trust.
"""

from __future__ import annotations

import base64
import contextlib
import csv
import importlib
import importlib.util
import io
import json
import linecache
import logging
import pickle
import pkgutil
import random
import re
import secrets
import subprocess
import tempfile
import time
import warnings
from dataclasses import asdict, dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

import tokenmath.checks

__all__ = [
    "DEFAULT_TIMEOUT",
    "DEFAULT_TASK_TIMEOUT",
    "TaskGrade",
    "NotebookGrade",
    "exercises",
    "exercise_module",
    "require_runtime",
    "grade_notebook",
    "grade_notebooks",
    "format_table",
    "write_json",
    "write_csv",
    "CSV_COLUMNS",
]

DEFAULT_TIMEOUT = 300.0  # seconds for all the cells of one notebook
DEFAULT_TASK_TIMEOUT = 30.0  # seconds for all the calls the check of one task makes
_RUNTIME = ("nbclient", "nbformat", "ipykernel")
_MAX_REPLY = 10_000_000  # characters of kernel output read back per call
_LOG = logging.getLogger("tokenmath.grade.nbclient")  # nbclient's timeout reports: silent
_LOG.addHandler(logging.NullHandler())
_LOG.propagate = False
_IMPORT = re.compile(
    r"^\s*(?:from\s+tokenmath\.checks\s+import\s+(ex\w+)"
    r"|from\s+tokenmath\.checks\.(ex\w+)\s+import"
    r"|import\s+tokenmath\.checks\.(ex\w+))",
    re.M,
)


@dataclass
class TaskGrade:
    """One task of one notebook: ``message`` is what the check says (the hint included)."""

    name: str
    passed: bool
    message: str


@dataclass
class NotebookGrade:
    """One notebook: its tasks, and ``error`` when it did not run cleanly (else None)."""

    path: str
    exercise: str | None
    tasks: list[TaskGrade] = field(default_factory=list)
    error: str | None = None

    @property
    def passed(self) -> int:
        return sum(t.passed for t in self.tasks)

    @property
    def total(self) -> int:
        return len(self.tasks)

    def to_dict(self) -> dict[str, Any]:
        """The JSON record: path, exercise, passed, total, error, tasks."""
        return {
            "path": self.path,
            "exercise": self.exercise,
            "passed": self.passed,
            "total": self.total,
            "error": self.error,
            "tasks": [asdict(t) for t in self.tasks],
        }


# Exercises -----------------------------------------------------------------------------------


def exercises() -> list[str]:
    """The exercises that have checks, e.g. ``["00_warmup", "01_rooflines", ...]``."""
    names = [m.name for m in pkgutil.iter_modules(tokenmath.checks.__path__)]
    return sorted(n[2:] for n in names if n.startswith("ex"))


def exercise_module(name: str) -> ModuleType:
    """The checks module of an exercise: ``01_rooflines``, ``ex01_rooflines`` or a unique prefix
    such as ``01``."""
    known = exercises()
    key = name.strip().removeprefix("ex")
    matches = [e for e in known if e == key] or [e for e in known if key and e.startswith(key)]
    if len(matches) != 1:
        raise ValueError(f"unknown exercise {name!r}; choose one of: {', '.join(known)}")
    return importlib.import_module(f"tokenmath.checks.ex{matches[0]}")


def _detect_exercise(nb: Any, path: Path) -> ModuleType | None:
    """From the notebook's ``from tokenmath.checks import exNN_...`` line, else its file name."""
    known = exercises()
    for cell in nb.cells:
        if cell.get("cell_type") != "code":
            continue
        for match in _IMPORT.finditer(str(cell.get("source", ""))):
            found = next(g for g in match.groups() if g)[2:]
            if found in known:
                return exercise_module(found)
    return _exercise_from_name(path)


def _exercise_from_name(path: Path) -> ModuleType | None:
    in_name = [e for e in exercises() if e in path.name]
    return exercise_module(in_name[0]) if len(in_name) == 1 else None


def require_runtime() -> None:
    """Raise ImportError naming what ``grade`` needs and is missing (nbclient, ipykernel)."""
    missing = [m for m in _RUNTIME if importlib.util.find_spec(m) is None]
    if missing:
        raise ImportError(
            f"{', '.join(missing)} (install with: pip install 'tokenmath[grade]')"
        )


# Grading -------------------------------------------------------------------------------------


def grade_notebooks(
    paths: list[str | Path],
    exercise: str | None = None,
    *,
    timeout: float = DEFAULT_TIMEOUT,
    task_timeout: float = DEFAULT_TASK_TIMEOUT,
) -> list[NotebookGrade]:
    """Grade each notebook in turn (see :func:`grade_notebook`)."""
    return [
        grade_notebook(p, exercise, timeout=timeout, task_timeout=task_timeout) for p in paths
    ]


def grade_notebook(
    path: str | Path,
    exercise: str | None = None,
    *,
    timeout: float = DEFAULT_TIMEOUT,
    task_timeout: float = DEFAULT_TASK_TIMEOUT,
) -> NotebookGrade:
    """Run one notebook and grade every task of its exercise; never raises for a bad notebook.

    ``exercise`` overrides the one the notebook imports. ``timeout`` bounds the notebook's cells
    (all together), ``task_timeout`` the calls of one task's check. A notebook that cannot be read,
    raises in a cell or times out gets ``error``; its tasks are still graded when its kernel runs.
    """
    for label, value in (("timeout", timeout), ("task_timeout", task_timeout)):
        if not value > 0:
            raise ValueError(f"{label} must be > 0 seconds, got {value!r}")
    module = exercise_module(exercise) if exercise is not None else None
    require_runtime()
    for name in exercises():  # every check in memory before any student's code runs
        with contextlib.suppress(Exception):  # a broken one fails the notebooks that need it
            exercise_module(name)
    path = Path(path)
    try:
        nb = _read_notebook(path)
        module = module or _detect_exercise(nb, path)
        if module is None:
            raise _NotGraded(
                "cannot tell which exercise this is: no `from tokenmath.checks import exNN_...` "
                "line; pass --exercise"
            )
        return _run_and_grade(nb, path, module, timeout, task_timeout)
    except _NotGraded as e:
        return _not_graded(path, module or _exercise_from_name(path), str(e))
    except Exception as e:  # one bad notebook must not stop the grading of a class
        reason = f"grading failed: {type(e).__name__}: {e}"
        return _not_graded(path, module or _exercise_from_name(path), reason)


class _NotGraded(Exception):
    """The notebook could not be run at all; the message says why."""


def _one_line(text: str, limit: int = 300) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _not_graded(path: Path, module: ModuleType | None, reason: str) -> NotebookGrade:
    reason = _one_line(reason)
    names = [t.name for t in module.TASKS] if module is not None else []
    tasks = [TaskGrade(n, False, f"✗ {n}: not graded: {reason}") for n in names]
    return NotebookGrade(str(path), getattr(module, "EXERCISE", None), tasks, reason)


def _read_notebook(path: Path) -> Any:
    import nbformat

    if not path.is_file():
        raise _NotGraded(f"{'not a file' if path.exists() else 'no such file'}: {path}")
    try:
        with warnings.catch_warnings():  # a missing cell id is no reason to refuse a notebook
            warnings.simplefilter("ignore")
            nb = nbformat.read(str(path), as_version=4)
        cells = list(nb.cells)
    except Exception as e:
        raise _NotGraded(f"not a readable .ipynb notebook ({type(e).__name__}: {e})") from None
    for cell in cells:
        if cell.get("cell_type") == "code":
            cell["outputs"], cell["execution_count"] = [], None
    return nb


def _run_and_grade(
    nb: Any, path: Path, module: ModuleType, timeout: float, task_timeout: float
) -> NotebookGrade:
    from nbclient import NotebookClient

    limit = {"seconds": timeout}
    with tempfile.TemporaryDirectory(prefix="tokenmath-grade-") as cwd:
        client = NotebookClient(
            nb,
            kernel_name="python3",
            timeout_func=lambda cell: limit["seconds"],
            allow_errors=True,
            interrupt_on_timeout=True,
            error_on_timeout={"ename": "TimeoutError", "evalue": "timed out", "traceback": []},
            resources={"metadata": {"path": cwd}},
            log=_LOG,
        )
        with client.setup_kernel(stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL):
            kernel = _Kernel(client, limit)
            error = kernel.run_notebook(timeout)
            tasks = [_grade_task(kernel, module, task, task_timeout) for task in module.TASKS]
    return NotebookGrade(str(path), module.EXERCISE, tasks, error)


def _describe(cell: Any, index: int) -> str:
    lines = [s.strip() for s in str(cell.source).splitlines()]
    first = next((s for s in lines if s and not s.startswith("#")), "")
    first = first if len(first) <= 40 else first[:37] + "..."
    return f"cell {index + 1} (`{first}`)" if first else f"cell {index + 1}"


class _Kernel:
    """The student's kernel: runs the notebook's cells, then answers the checks' calls."""

    def __init__(self, client: Any, limit: dict[str, float]) -> None:
        self.client, self.limit = client, limit
        self.nonce = secrets.token_hex(16)
        self.broken: str | None = None  # why the kernel can no longer answer

    def _execute(self, cell: Any, index: int, seconds: float, history: bool = False) -> bool:
        """Run one cell; True when it ran out of time (the kernel is then interrupted)."""
        from nbclient.exceptions import DeadKernelError

        self.limit["seconds"] = max(seconds, 0.1)
        start = time.monotonic()
        try:
            self.client.execute_cell(cell, index, store_history=history)
        except DeadKernelError:
            self.broken = "died"
            return False
        return time.monotonic() - start >= self.limit["seconds"]

    def run_notebook(self, timeout: float) -> str | None:
        """Every code cell in order, continuing past errors; the failures as one line, or None."""
        deadline = time.monotonic() + timeout
        errors: list[str] = []
        for index, cell in enumerate(list(self.client.nb.cells)):
            if cell.get("cell_type") != "code":
                continue
            timed_out = self._execute(cell, index, deadline - time.monotonic(), history=True)
            where = _describe(cell, index)
            if self.broken:
                errors.append(f"the kernel died in {where}")
                break
            if timed_out:
                errors.append(f"timed out after {timeout:g} s in {where}")
                self.probe()
                break
            for out in cell.get("outputs", []):
                if out.get("output_type") == "error":
                    errors.append(f"{where} raised {out.get('ename')}: {out.get('evalue')}")
        if not errors:
            return None
        more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
        return _one_line(errors[0]) + more

    def probe(self, seconds: float = 10.0) -> None:
        """After a timeout: does the interrupted kernel answer again?"""
        if not self.broken and self._call_cell("pass", seconds)[1]:
            self.broken = "stopped answering after a timeout"

    def _call_cell(self, source: str, seconds: float) -> tuple[str, bool]:
        import nbformat

        cells = self.client.nb.cells
        cell = nbformat.v4.new_code_cell(source)
        cells.append(cell)
        try:
            timed_out = self._execute(cell, len(cells) - 1, seconds)
        finally:
            cells.pop()
        text = "".join(
            str(o.get("text", ""))
            for o in cell.get("outputs", [])
            if o.get("output_type") == "stream" and o.get("name") == "stdout"
        )
        return text, timed_out

    def ask(self, name: str, calls: list[dict[str, Any]], seconds: float) -> tuple[Any, bool]:
        """Call the notebook's ``name`` on each of ``calls``: (parsed reply or None, timed out)."""
        payload = base64.b64encode(pickle.dumps((name, calls))).decode()
        source = f"{_RUNNER}\n_tokenmath_grade({self.nonce!r}, {payload!r})\n"
        text, timed_out = self._call_cell(source, seconds)
        if timed_out:
            return None, True
        replies = [s for s in text[-_MAX_REPLY:].splitlines() if s.startswith(self.nonce)]
        if not replies:
            return None, False
        try:
            return json.loads(replies[-1][len(self.nonce):]), False
        except ValueError:
            return None, False


# Runs in the student's kernel: looks the task's name up, calls it, prints the answers as JSON.
_RUNNER = '''
def _tokenmath_grade(nonce, payload):
    import base64, json, pickle, traceback
    name, calls = pickle.loads(base64.b64decode(payload))

    def encode(value):
        try:
            text = json.dumps(value)
            if len(text) < 100000:
                return {"value": json.loads(text)}
        except Exception:
            pass
        try:
            number = float(value)
        except Exception:
            number = None
        try:
            shown = repr(value)[:300]
        except Exception:
            shown = "?"
        return {"foreign": shown, "type": type(value).__name__, "float": number}

    def call(fn, kwargs):
        try:
            return encode(fn(**kwargs))
        except KeyboardInterrupt:
            raise
        except BaseException as exc:
            frames = traceback.extract_tb(exc.__traceback__)
            last = frames[-1] if frames else None
            try:
                text = str(exc)[:500]
            except Exception:
                text = ""
            return {"raise": type(exc).__name__, "message": text,
                    "lineno": last.lineno if last else 0, "line": (last.line or "") if last else ""}

    space = globals()
    if name not in space:
        reply = {"kind": "missing"}
    elif not callable(space[name]):
        reply = {"kind": "value", "value": encode(space[name])}
    else:
        fn = space[name]
        reply = {"kind": "function", "module": str(getattr(fn, "__module__", "")),
                 "results": [call(fn, kwargs) for kwargs in calls]}
    print(nonce + json.dumps(reply), flush=True)
'''


def _likely_inputs(task: Any) -> list[dict[str, Any]]:
    """The inputs a check most likely tries (its cases, then its seeded random ones), asked for in
    one round trip; any other input the check tries is asked for when it comes."""
    try:
        inputs = [dict(case.kwargs) for case in task.cases]
        if task.random_cases is not None:
            rng = random.Random(task.seed)
            inputs += [task.random_cases(rng) for _ in range(task.n_random)]
        pickle.dumps(inputs)
        return inputs
    except Exception:
        return []


def _key(kwargs: dict[str, Any]) -> str:
    return repr(sorted(kwargs.items()))


class _Foreign:
    """An answer that is not plain JSON (a NumPy float32, an array): its repr and float value."""

    def __init__(self, shown: str, number: float | None) -> None:
        self._shown, self._number = shown, number

    def __repr__(self) -> str:
        return self._shown

    def __float__(self) -> float:
        if self._number is None:
            raise TypeError(f"{self._shown} is not a number")
        return self._number


_CELL = "<notebook cell>"


def _name(value: Any, default: str) -> str:
    ok = isinstance(value, str) and value.isidentifier() and len(value) <= 60
    return value if ok else default


def _decode(item: Any) -> Any:
    """The student's answer to one call, from its JSON record: a value, or the exception raised
    again with the student's line in its traceback (the check quotes it)."""
    if not isinstance(item, dict):
        raise ValueError("the notebook's answer could not be read")
    if "value" in item:
        return item["value"]
    if "foreign" in item:
        number = item.get("float")
        number = float(number) if isinstance(number, (int, float)) else None
        cls = type(_name(item.get("type"), "object"), (_Foreign,), {})
        return cls(str(item["foreign"])[:300], number)
    if "raise" not in item:
        raise ValueError("the notebook's answer could not be read")
    ename = _name(item.get("raise"), "Exception")
    cls = NotImplementedError if ename == "NotImplementedError" else type(ename, (Exception,), {})
    exc = cls(str(item.get("message", ""))[:500])
    lineno, line = item.get("lineno"), item.get("line")
    known = isinstance(lineno, int) and 0 < lineno < 100_000 and isinstance(line, str) and line
    n = lineno if known else 1
    lines = [""] * (n - 1) + [line[:300] + "\n"] if known else []
    linecache.cache[_CELL] = (0, None, lines, _CELL)
    exec(compile("\n" * (n - 1) + "raise exc", _CELL, "exec"), {"exc": exc})
    raise exc  # not reached: the line above raises it from the student's line


class _Student:
    """Stands in for the student's function: each call is answered by the student's kernel."""

    def __init__(self, kernel: _Kernel, name: str, seconds: float) -> None:
        self.kernel, self.name, self.seconds = kernel, name, seconds
        self.deadline = time.monotonic() + seconds
        self.answers: dict[str, Any] = {}
        self.timed_out = False

    def ask(self, calls: list[dict[str, Any]]) -> dict[str, Any]:
        left = self.deadline - time.monotonic()
        if self.timed_out or self.kernel.broken or left <= 0:
            self.timed_out = True
            raise TimeoutError(f"did not return within {self.seconds:g} s")
        reply, timed_out = self.kernel.ask(self.name, calls, left)
        if self.kernel.broken:
            raise RuntimeError(f"the notebook's kernel {self.kernel.broken}")
        if timed_out:
            self.timed_out = True
            self.kernel.probe()
            raise TimeoutError(f"did not return within {self.seconds:g} s")
        if not isinstance(reply, dict) or reply.get("kind") not in ("missing", "value", "function"):
            raise ValueError("the notebook's answer could not be read")
        results = reply.get("results", [])
        if reply["kind"] == "function" and isinstance(results, list):
            for kwargs, result in zip(calls, results):
                self.answers[_key(kwargs)] = result
        return reply

    def __call__(self, **kwargs: Any) -> Any:
        key = _key(kwargs)
        if key not in self.answers:
            self.ask([kwargs])
        return _decode(self.answers.get(key))


def _grade_task(kernel: _Kernel, module: ModuleType, task: Any, seconds: float) -> TaskGrade:
    name = task.name
    if kernel.broken:
        why = f"the notebook's kernel {kernel.broken}"
        return TaskGrade(name, False, f"✗ {name}: not graded: {why}")
    student = _Student(kernel, name, seconds)
    try:
        reply = student.ask(_likely_inputs(task))
        if reply["kind"] == "missing":
            return TaskGrade(name, False, f"✗ {name}: the notebook defines no `{name}`")
        where = str(reply.get("module", ""))
        if reply["kind"] == "function" and where.split(".")[0] == "tokenmath":
            return TaskGrade(
                name, False, f"✗ {name}: this is tokenmath's reference ({where}), not your code"
            )
        answer = student if reply["kind"] == "function" else _decode(reply.get("value"))
        if answer is None:  # check_<task>(None) would check the reference itself
            return TaskGrade(name, False, f"✗ {name}: expected a function, got NoneType")
        check = getattr(module, f"check_{name}", None)
        with contextlib.redirect_stdout(io.StringIO()):
            if callable(check):
                result = check(answer)
            else:
                result = tokenmath.checks.run_task(module.EXERCISE, task, answer)
    except Exception as e:
        if student.timed_out:
            result = None
        else:
            return TaskGrade(name, False, f"✗ {name}: could not grade: {type(e).__name__}: {e}")
    if student.timed_out:
        return TaskGrade(
            name, False, f"✗ {name}: timed out: your function did not return within {seconds:g} s"
        )
    passed = bool(getattr(result, "passed", result))
    return TaskGrade(name, passed, str(getattr(result, "message", result)))


# Reports -------------------------------------------------------------------------------------


def format_table(grades: list[NotebookGrade]) -> str:
    """The class at a glance: notebook, exercise, passed/total, failing tasks; errors below."""
    head = ["notebook", "exercise", "passed", "failing tasks"]
    rows = [
        [
            g.path,
            g.exercise or "?",
            f"{g.passed}/{g.total}",
            ", ".join(t.name for t in g.tasks if not t.passed) or "-",
        ]
        for g in grades
    ]
    widths = [max([len(h)] + [len(r[i]) for r in rows]) for i, h in enumerate(head)]
    lines = ["  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip() for r in [head] + rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    errors = [f"  {g.path}: {g.error}" for g in grades if g.error]
    if errors:
        lines += ["", "Notebooks that did not run cleanly:", *errors]
    return "\n".join(lines)


def write_json(grades: list[NotebookGrade], path: str | Path) -> None:
    """A list with one record per notebook (:meth:`NotebookGrade.to_dict`)."""
    text = json.dumps([g.to_dict() for g in grades], indent=2, ensure_ascii=False)
    Path(path).write_text(text + "\n", encoding="utf-8")


CSV_COLUMNS = ["path", "exercise", "task", "passed", "message", "error"]


def write_csv(grades: list[NotebookGrade], path: str | Path) -> None:
    """One row per notebook and task (one row with an empty task for a notebook without tasks)."""
    with open(path, "w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(CSV_COLUMNS)
        for g in grades:
            for t in g.tasks or [None]:
                writer.writerow([
                    g.path,
                    g.exercise or "",
                    t.name if t else "",
                    ("true" if t.passed else "false") if t else "",
                    t.message if t else "",
                    g.error or "",
                ])
