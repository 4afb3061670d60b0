"""The grading engine every exercise check uses.

A task is a reference function, a list of cases (published ones with their source, and randomized
ones compared against the reference), and a list of known mistakes. ``run_task`` calls the reader's
function on every case and never raises: it returns a :class:`CheckResult` whose message names the
failing input, the expected and actual value, the relative error, and a hint when the wrong answer
matches a known mistake (sparse FLOP/s, a missing factor 2, GiB against GB, ...).
"""

from __future__ import annotations

import math
import random
import traceback
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

#: Results of the checks run in this Python session, by exercise then task (for ``score``).
_RESULTS: dict[str, dict[str, bool]] = {}


@dataclass(frozen=True)
class Case:
    """One input to a task. ``expected`` is a published value (else the reference decides)."""

    kwargs: dict[str, Any]
    expected: float | None = None
    rtol: float = 1e-6
    source: str = ""  # where a published case comes from


@dataclass(frozen=True)
class Mistake:
    """A plausible wrong answer: ``fn`` computes it from the same inputs, ``hint`` explains it."""

    fn: Callable[..., float]
    hint: str


@dataclass(frozen=True)
class Task:
    """A graded task: the reader writes a function named ``name`` that matches ``reference``."""

    name: str
    reference: Callable[..., float]
    cases: Sequence[Case]
    mistakes: Sequence[Mistake] = ()
    random_cases: Callable[[random.Random], dict[str, Any]] | None = None
    n_random: int = 20
    rtol: float = 1e-6
    seed: int = 0


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


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.6g}"
    return repr(value)


def _call_repr(name: str, kwargs: dict[str, Any]) -> str:
    args = ", ".join(f"{k}={_fmt(v)}" for k, v in kwargs.items())
    return f"{name}({args})"


def _close(actual: float, expected: float, rtol: float) -> bool:
    return math.isclose(actual, expected, rel_tol=rtol, abs_tol=0.0) or actual == expected


def _rel_err(actual: float, expected: float) -> float:
    if expected == 0:
        return math.inf if actual != 0 else 0.0
    return abs(actual - expected) / abs(expected)


def _reader_outputs(fn: Callable[..., Any], cases: list[Case]) -> list[float | None]:
    outputs: list[float | None] = []
    for case in cases:
        try:
            outputs.append(float(fn(**case.kwargs)))
        except Exception:  # only used to recognise mistakes: an error here says nothing
            outputs.append(None)
    return outputs


def _matching_hint(task: Task, cases: list[Case], outputs: list[float | None]) -> str | None:
    """The hint of the first known mistake that reproduces the reader's answers on every case."""
    for mistake in task.mistakes:
        matched = 0
        for case, actual in zip(cases, outputs):
            if actual is None:
                continue
            try:
                wrong = float(mistake.fn(**case.kwargs))
            except Exception:  # a mistake that cannot be evaluated on this input says nothing
                continue
            if not (math.isfinite(wrong) and _close(actual, wrong, 1e-3)):
                break
            matched += 1
        else:
            if matched:
                return mistake.hint
    return None


def log_uniform(rng: random.Random, lo: float, hi: float) -> float:
    """A random number spread evenly in log space over ``[lo, hi]`` (for randomized cases)."""
    return math.exp(rng.uniform(math.log(lo), math.log(hi)))


def all_cases(task: Task) -> list[Case]:
    """The published cases followed by ``n_random`` seeded random cases."""
    cases = list(task.cases)
    if task.random_cases is not None:
        rng = random.Random(task.seed)
        cases += [Case(kwargs=task.random_cases(rng), rtol=task.rtol) for _ in range(task.n_random)]
    return cases


def run_task(exercise: str, task: Task, fn: Callable[..., Any] | None = None) -> CheckResult:
    """Check ``fn`` (the reference when None) on every case of ``task``; never raises."""
    fn = task.reference if fn is None else fn
    cases = all_cases(task)
    result = _check(exercise, task, fn, cases)
    _RESULTS.setdefault(exercise, {})[task.name] = result.passed
    return result


def _check(exercise: str, task: Task, fn: Callable[..., Any], cases: list[Case]) -> CheckResult:
    def fail(message: str, hint: str | None = None, **details: Any) -> CheckResult:
        text = f"✗ {task.name}: {message}"
        if hint:
            text += f"\n  Hint: {hint}"
        return CheckResult(exercise, task.name, False, len(cases), text, hint, details)

    if not callable(fn):
        return fail(f"expected a function, got {type(fn).__name__}")
    for case in cases:
        call = _call_repr(task.name, case.kwargs)
        try:
            actual = fn(**case.kwargs)
        except NotImplementedError:
            return fail(
                "not implemented yet. Replace `raise NotImplementedError` with your code.",
                call=call,
            )
        except Exception as exc:  # the reader's bug, reported without the grader's traceback
            frame = traceback.extract_tb(exc.__traceback__)[-1]
            where = f" (line {frame.lineno}: {frame.line})" if frame.line else ""
            return fail(
                f"your function raised {type(exc).__name__}: {exc}{where}\n  on input {call}",
                call=call,
            )
        expected = case.expected if case.expected is not None else task.reference(**case.kwargs)
        try:
            actual_f = float(actual)
        except (TypeError, ValueError):
            return fail(
                f"on input {call} it returned {actual!r} ({type(actual).__name__}); "
                "return a number.",
                call=call,
            )
        rtol = case.rtol if case.expected is not None else max(case.rtol, task.rtol)
        if not math.isfinite(actual_f) or not _close(actual_f, float(expected), rtol):
            hint = _matching_hint(task, cases, _reader_outputs(fn, cases))
            source = f" [published: {case.source}]" if case.source else ""
            message = (
                f"wrong value on input {call}{source}\n"
                f"  expected {_fmt(float(expected))}, got {_fmt(actual_f)} "
                f"(relative error {_rel_err(actual_f, float(expected)):.3g}, "
                f"allowed {rtol:.1g})"
            )
            return fail(message, hint, call=call, expected=expected, actual=actual_f)
    return CheckResult(
        exercise, task.name, True, len(cases), f"✓ {task.name}: passed all {len(cases)} cases"
    )


def report(result: CheckResult) -> CheckResult:
    """Print a result (the notebook view) and hand it back."""
    print(result.message)
    return result


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
