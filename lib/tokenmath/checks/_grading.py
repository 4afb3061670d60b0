"""The grading engine every exercise check uses.

A task is a reference function, a list of cases (published ones with their source, and randomized
ones compared against the reference), and a list of known mistakes. ``run_task`` calls the reader's
function on every case and never raises: it returns a :class:`CheckResult` whose message names the
failing input, the expected and actual answer, how far off it is against the precision the task
grades at, and a hint when the wrong answer matches a known mistake (sparse FLOP/s, a missing
factor 2, GiB against GB, ...).

Answers come in three kinds (``Task.kind``):

- ``"number"``: within ``rtol`` (relative) or ``atol`` (absolute) of the expected value;
- ``"integer"``: exactly the expected whole number (``318`` or ``318.0``);
- ``"label"``: a string, compared without case or surrounding spaces (``"Memory"`` is
  ``"memory"``); ``Task.labels`` lists the allowed answers.

A known mistake's hint is given when the reader agrees with the mistake on every failing case
(cases where the mistake happens to give the right answer say nothing against it; of several
such mistakes, the one closest to the reader on the other cases wins), or else when the reader's
answer equals the mistake's on the failing case that the message reports.
"""

from __future__ import annotations

import math
import random
import textwrap
import traceback
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

#: Results of the checks run in this Python session, by exercise then task (for ``score``).
_RESULTS: dict[str, dict[str, bool]] = {}

#: Longest printed line: messages are wrapped to this width so they read well online.
WIDTH = 88

KINDS = ("number", "integer", "label")


@dataclass(frozen=True)
class Case:
    """One input to a task. ``expected`` is a published value (else the reference decides).

    A case is graded at its own ``rtol``/``atol`` or the task's, whichever is looser.
    """

    kwargs: dict[str, Any]
    expected: Any = None
    rtol: float = 1e-6
    source: str = ""  # where a published case comes from
    atol: float = 0.0


@dataclass(frozen=True)
class Mistake:
    """A plausible wrong answer: ``fn`` computes it from the same inputs, ``hint`` explains it."""

    fn: Callable[..., Any]
    hint: str


@dataclass(frozen=True)
class Task:
    """A graded task: the reader writes a function named ``name`` that matches ``reference``.

    ``kind`` is ``"number"`` (graded to ``rtol``/``atol``), ``"integer"`` (exact) or ``"label"``
    (one of ``labels``, case-insensitive). ``precision`` describes the grading in words for the
    messages; by default it is made from ``kind`` and ``rtol``.
    """

    name: str
    reference: Callable[..., Any]
    cases: Sequence[Case]
    mistakes: Sequence[Mistake] = ()
    random_cases: Callable[[random.Random], dict[str, Any]] | None = None
    n_random: int = 20
    rtol: float = 1e-6
    seed: int = 0
    kind: str = "number"
    labels: Sequence[str] = ()
    atol: float = 0.0
    precision: str = ""

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"kind must be one of {KINDS}, not {self.kind!r}")


@dataclass
class CheckResult:
    """What a check found. Truthy when the task passed."""

    exercise: str
    task: str
    passed: bool
    n_cases: int
    message: str
    hint: str | None = None
    details: dict[str, Any] = field(default_factory=dict)

    def __bool__(self) -> bool:
        return self.passed

    def __str__(self) -> str:
        return self.message


# Formatting ----------------------------------------------------------------------------------


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.6g}"
    return repr(value)


def _call_repr(name: str, kwargs: dict[str, Any]) -> str:
    args = ", ".join(f"{k}={_fmt(v)}" for k, v in kwargs.items())
    return f"{name}({args})"


def _percent(rtol: float) -> str:
    return f"{rtol * 100:.2g} %"


def precision_text(task: Task) -> str:
    """How ``task`` is graded, in words: "graded to 1 %", "an exact whole number", ..."""
    if task.precision:
        return task.precision
    if task.kind == "label":
        return "a label: " + " or ".join(repr(label) for label in task.labels)
    if task.kind == "integer":
        return "an exact whole number"
    if task.rtol >= 1e-4:
        return f"graded to {_percent(task.rtol)}"
    return "graded to about 6 significant figures"


def wrap(text: str, width: int = WIDTH) -> str:
    """Wrap every line of ``text`` to ``width`` characters, continuing indented lines."""
    out = []
    for line in text.splitlines():
        if len(line) <= width:
            out.append(line)
            continue
        indent = " " * (len(line) - len(line.lstrip()))
        out.append(textwrap.fill(line.strip(), width, initial_indent=indent,
                                 subsequent_indent=indent + "  ", break_long_words=False,
                                 break_on_hyphens=False))
    return "\n".join(out)


# Comparing answers ---------------------------------------------------------------------------


def _close(actual: float, expected: float, rtol: float, atol: float = 0.0) -> bool:
    return math.isclose(actual, expected, rel_tol=rtol, abs_tol=atol) or actual == expected


def _rel_err(actual: float, expected: float) -> float:
    if expected == 0:
        return math.inf if actual != 0 else 0.0
    return abs(actual - expected) / abs(expected)


def _label(value: Any) -> str | None:
    return value.strip().lower() if isinstance(value, str) else None


def _number(value: Any) -> float | None:
    if isinstance(value, (str, bytes)) or value is None:
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def _is_number(value: Any) -> bool:
    if isinstance(value, (str, bytes)) or value is None:
        return False
    try:
        float(value)
    except (TypeError, ValueError):
        return False
    return True


def _tolerances(task: Task, case: Case) -> tuple[float, float]:
    return max(case.rtol, task.rtol), max(case.atol, task.atol)


def _passes(task: Task, case: Case, actual: Any, expected: Any) -> bool:
    """Whether ``actual`` is right for ``expected`` at the precision of the task and case."""
    if task.kind == "label":
        return _label(actual) is not None and _label(actual) == _label(expected)
    a, e = _number(actual), _number(expected)
    if a is None or e is None:
        return False
    if task.kind == "integer":
        return a == e
    rtol, atol = _tolerances(task, case)
    return _close(a, e, rtol, atol)


def _agrees(task: Task, case: Case, actual: Any, wrong: Any) -> bool:
    """Whether the reader's answer is the mistake's (a little looser than grading)."""
    if task.kind == "label":
        return _label(actual) is not None and _label(actual) == _label(wrong)
    a, w = _number(actual), _number(wrong)
    if a is None or w is None:
        return False
    if task.kind == "integer":
        return _close(a, w, 1e-9)
    rtol, atol = _tolerances(task, case)
    return _close(a, w, max(rtol, 1e-3), atol)


# Hints ---------------------------------------------------------------------------------------


def _safe(fn: Callable[..., Any], kwargs: dict[str, Any]) -> Any:
    try:
        value = fn(**kwargs)
    except Exception:  # only used to recognise mistakes: an error here says nothing
        return None
    if isinstance(value, str):
        return value
    return _number(value)


def matching_hint(
    task: Task, cases: Sequence[Case], outputs: Sequence[Any], expected: Sequence[Any],
    reported: int | None = None,
) -> str | None:
    """The hint of the known mistake that best explains the reader's answers, or None.

    ``outputs[i]`` and ``expected[i]`` are the reader's and the right answer on ``cases[i]``
    (None where the reader's function raised). A mistake matches when the reader agrees with it
    on every failing case and it explains at least one of them (cases where the mistake gives
    the right answer say nothing against it); of several, the one that disagrees with the
    reader on the fewest passing cases wins. Failing that, the first mistake that explains the
    ``reported`` failing case wins.
    """
    answered = [i for i, out in enumerate(outputs) if out is not None]
    failing = [i for i in answered if not _passes(task, cases[i], outputs[i], expected[i])]
    if not failing:
        return None
    table = [[_safe(m.fn, cases[i].kwargs) if outputs[i] is not None else None
              for i in range(len(cases))] for m in task.mistakes]
    best: tuple[int, int] | None = None  # (disagreements on passing cases, mistake index)
    for index, wrong in enumerate(table):
        explained, contradicted, off = False, False, 0
        for i in answered:
            if wrong[i] is None:
                continue
            agrees = _agrees(task, cases[i], outputs[i], wrong[i])
            if i in failing:
                if not agrees:
                    contradicted = True
                    break
                explained = explained or not _passes(task, cases[i], wrong[i], expected[i])
            elif not agrees:
                off += 1  # the reader is right where the mistake is wrong: weaker evidence
        if explained and not contradicted and (best is None or off < best[0]):
            best = (off, index)
    if best is not None:
        return task.mistakes[best[1]].hint
    first = failing[0] if reported is None else reported
    for mistake, wrong in zip(task.mistakes, table):
        if (wrong[first] is not None and _agrees(task, cases[first], outputs[first], wrong[first])
                and not _passes(task, cases[first], wrong[first], expected[first])):
            return mistake.hint
    return None


# Running a task ------------------------------------------------------------------------------


def log_uniform(rng: random.Random, lo: float, hi: float) -> float:
    """A random number spread evenly in log space over ``[lo, hi]`` (for randomized cases)."""
    return math.exp(rng.uniform(math.log(lo), math.log(hi)))


def all_cases(task: Task) -> list[Case]:
    """The published cases followed by ``n_random`` seeded random cases."""
    cases = list(task.cases)
    if task.random_cases is not None:
        rng = random.Random(task.seed)
        cases += [Case(kwargs=task.random_cases(rng), rtol=task.rtol, atol=task.atol)
                  for _ in range(task.n_random)]
    return cases


def expected_answer(task: Task, case: Case) -> Any:
    """The published answer of ``case``, else the reference's."""
    return case.expected if case.expected is not None else task.reference(**case.kwargs)


def run_task(
    exercise: str, task: Task, fn: Callable[..., Any] | None = None, *, record: bool = True
) -> CheckResult:
    """Check ``fn`` (the reference when None) on every case of ``task``; never raises.

    ``record=False`` leaves the session's score alone (for worked examples).
    """
    fn = task.reference if fn is None else fn
    cases = all_cases(task)
    result = _check(exercise, task, fn, cases)
    if record:
        _RESULTS.setdefault(exercise, {})[task.name] = result.passed
    return result


def _reader_outputs(fn: Callable[..., Any], cases: Sequence[Case]) -> list[Any]:
    outputs = []
    for case in cases:
        try:
            outputs.append(fn(**case.kwargs))
        except Exception:  # only used to recognise mistakes: an error here says nothing
            outputs.append(None)
    return outputs


def _wrong_answer_message(task: Task, case: Case, actual: Any, expected: Any) -> str:
    call = _call_repr(task.name, case.kwargs)
    source = f" [published: {case.source}]" if case.source else ""
    head = f"wrong answer on input {call}{source}\n"
    if task.kind == "label":
        allowed = ""
        if task.labels and _label(actual) not in {_label(x) for x in task.labels}:
            allowed = f" (return one of {', '.join(repr(x) for x in task.labels)})"
        return head + f"  expected {expected!r}, got {actual!r}{allowed}"
    a, e = float(actual), float(expected)
    if task.kind == "integer":
        whole = "" if a == int(a) else "; the answer is a whole number"
        return head + f"  expected {_fmt(e)}, got {_fmt(a)} (graded: exact{whole})"
    rtol, atol = _tolerances(task, case)
    allowed = f"allowed {_percent(rtol)}" if rtol >= 1e-4 else f"allowed {rtol:.1g}"
    if atol:
        allowed += f" or {atol:.3g} absolute"
    return head + (f"  expected {_fmt(e)}, got {_fmt(a)} "
                   f"(relative error {_rel_err(a, e):.3g}, {allowed})")


def _check(exercise: str, task: Task, fn: Callable[..., Any], cases: list[Case]) -> CheckResult:
    def fail(message: str, hint: str | None = None, **details: Any) -> CheckResult:
        text = f"✗ {task.name}: {message}"
        if hint:
            text += f"\n  Hint: {hint}"
        return CheckResult(exercise, task.name, False, len(cases), wrap(text), hint, details)

    if not callable(fn):
        return fail(f"expected a function, got {type(fn).__name__}")
    for index, case in enumerate(cases):
        call = _call_repr(task.name, case.kwargs)
        try:
            actual = fn(**case.kwargs)
        except NotImplementedError:
            return fail("not implemented yet. Replace `raise NotImplementedError` with your code.",
                        call=call)
        except Exception as exc:  # the reader's bug, reported without the grader's traceback
            frame = traceback.extract_tb(exc.__traceback__)[-1]
            where = f" (line {frame.lineno}: {frame.line})" if frame.line else ""
            return fail(
                f"your function raised {type(exc).__name__}: {exc}{where}\n  on input {call}",
                call=call,
            )
        expected = expected_answer(task, case)
        if task.kind == "label" and not isinstance(actual, str):
            return fail(f"on input {call} it returned {actual!r} ({type(actual).__name__}); "
                        "return a string: " + " or ".join(repr(x) for x in task.labels) + ".",
                        call=call)
        if task.kind != "label" and not _is_number(actual):
            return fail(f"on input {call} it returned {actual!r} ({type(actual).__name__}); "
                        "return a number.", call=call)
        if not _passes(task, case, actual, expected):
            outputs = _reader_outputs(fn, cases)
            expecteds = [expected_answer(task, c) for c in cases]
            hint = matching_hint(task, cases, outputs, expecteds, reported=index)
            message = _wrong_answer_message(task, case, actual, expected)
            return fail(message, hint, call=call, expected=expected, actual=actual)
    return CheckResult(
        exercise, task.name, True, len(cases), f"✓ {task.name}: passed all {len(cases)} cases"
    )


def report(result: CheckResult) -> CheckResult:
    """Print a result (the notebook view) and hand it back."""
    print(result.message)
    return result


def run_example(exercise: str, task: Task, fn: Callable[..., Any]) -> CheckResult:
    """Check ``fn`` as a worked example: print the reply, leave the score alone."""
    print("Worked example (not counted in your score). The check replies:")
    return report(run_task(exercise, task, fn, record=False))


def score(exercise: str, tasks: Sequence[Task]) -> tuple[int, int]:
    """Print and return (tasks passed, tasks) for the checks run so far in this session."""
    results = _RESULTS.get(exercise, {})
    passed = sum(bool(results.get(t.name)) for t in tasks)
    lines = [f"Score for {exercise}: {passed}/{len(tasks)} tasks passed"]
    for t in tasks:
        mark = "✓" if results.get(t.name) else ("✗" if t.name in results else "·")
        lines.append(f"  {mark} {t.name}" + ("" if t.name in results else " (not checked yet)"))
    print("\n".join(lines))
    return passed, len(tasks)
