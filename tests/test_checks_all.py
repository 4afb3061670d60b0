"""What every exercise's check module must satisfy, for every task (found automatically).

Per-exercise files (tests/test_checks_exNN.py) add the wrong answers each task must reject.
"""

from __future__ import annotations

import importlib
import math
import pkgutil

import pytest
import tokenmath.checks
from grading_helpers import assert_not_implemented, assert_passes

MODULES = [
    importlib.import_module(f"tokenmath.checks.{m.name}")
    for m in pkgutil.iter_modules(tokenmath.checks.__path__)
    if m.name.startswith("ex")
]
TASKS = [(module, task) for module in MODULES for task in module.TASKS]
IDS = [f"{module.EXERCISE}:{task.name}" for module, task in TASKS]


def test_every_exercise_module_is_found():
    assert len(MODULES) >= 5


@pytest.mark.parametrize(("module", "task"), TASKS, ids=IDS)
def test_reference_passes_and_stub_is_not_implemented(module, task):
    check = getattr(module, f"check_{task.name}")
    assert_passes(check)
    assert_passes(check, module.SOLUTIONS[task.name])
    assert_not_implemented(check)


@pytest.mark.parametrize(("module", "task"), TASKS, ids=IDS)
def test_task_has_fixed_cases_random_cases_and_known_mistakes(module, task):
    assert task.cases, "fixed cases (published ones where a source gives the number)"
    assert task.random_cases is not None and task.n_random > 0, "randomized cases"
    assert len(task.mistakes) >= 2, "at least two known mistakes with hints"


@pytest.mark.parametrize("module", MODULES, ids=[m.EXERCISE for m in MODULES])
def test_solutions_published_cases_and_score(module, capsys):
    published = [c for t in module.TASKS for c in t.cases if c.expected is not None and c.source]
    assert published, "each exercise checks at least one published number, with its source"
    assert set(module.SOLUTIONS) == {t.name for t in module.TASKS}
    assert len(module.TASKS) >= 2
    passed, total = module.score()
    assert total == len(module.TASKS)
    assert f"/{total} tasks passed" in capsys.readouterr().out


# The grading engine itself ------------------------------------------------------------------

from tokenmath.checks import _grading as grading  # noqa: E402


def _floor_task(mistakes, **kw):
    return grading.Task(
        name="whole_part", reference=lambda x: math.floor(x), kind="integer",
        cases=[grading.Case({"x": x}) for x in (2.5, 7.0, -3.5, 0.25, -0.75)],
        mistakes=mistakes, random_cases=lambda rng: {"x": rng.uniform(-100, 100)}, **kw)


INT_HINT = "int() rounds toward zero"


def test_hint_fires_where_the_mistake_differs_from_the_reference_only():
    # int() equals floor() on every positive input: the mistake coincides with the reference
    # on most cases and differs only on negative ones; the hint must still fire.
    task = _floor_task([grading.Mistake(lambda x: 10 * x, "ten times"),
                        grading.Mistake(lambda x: int(x), INT_HINT)])
    result = grading.run_task("test", task, lambda x: int(x), record=False)
    assert not result.passed and result.hint == INT_HINT


def test_hint_fires_when_the_reader_matches_the_mistake_on_failing_cases_only():
    # The reader truncates only below -1: right where int() is right, and also right on
    # (-1, 0) where int() is wrong. It agrees with int() on every case it fails.
    task = _floor_task([grading.Mistake(lambda x: int(x), INT_HINT)])
    result = grading.run_task(
        "test", task, lambda x: int(x) if x < -1 else math.floor(x), record=False)
    assert not result.passed and result.hint == INT_HINT


def test_no_hint_for_an_unrelated_wrong_answer():
    task = _floor_task([grading.Mistake(lambda x: int(x), INT_HINT)])
    result = grading.run_task("test", task, lambda x: math.floor(x) + 1, record=False)
    assert not result.passed and result.hint is None


def test_the_mistake_closest_to_the_reader_wins():
    # Labels: any wrong binary answer equals "swapped" on the failing cases. The mistake that
    # also agrees on the passing cases is the better explanation.
    task = grading.Task(
        name="sign", reference=lambda x: "positive" if x > 0 else "negative", kind="label",
        labels=("positive", "negative"),
        cases=[grading.Case({"x": x}) for x in (-2.0, -0.5, 0.5, 3.0)],
        mistakes=[grading.Mistake(lambda x: "negative" if x > 0 else "positive", "swapped"),
                  grading.Mistake(lambda x: "positive" if x > -1 else "negative", "off by 1")],
        random_cases=lambda rng: {"x": rng.uniform(-5, 5)})
    result = grading.run_task("test", task, lambda x: "Positive" if x > -1 else "NEGATIVE",
                              record=False)
    assert result.hint == "off by 1", result.message
    assert "expected 'negative', got 'Positive'" in result.message


def test_hint_on_the_reported_case_when_two_mistakes_mix():
    # Two slips in different ranges: no mistake explains every failure, the first failing
    # case (the one the message shows) gets its hint.
    task = _floor_task([grading.Mistake(lambda x: int(x), INT_HINT),
                        grading.Mistake(lambda x: math.floor(x) + 2, "off by two")])
    reader = lambda x: math.floor(x) + 2 if x > 0 else int(x)  # noqa: E731
    result = grading.run_task("test", task, reader, record=False)
    assert "x=2.5" in result.message and result.hint == "off by two"


def test_tolerances_published_and_random_cases_use_the_task_precision():
    task = grading.Task(name="double", reference=lambda x: 2 * x, rtol=0.01,
                        cases=[grading.Case({"x": 375.0}, expected=750.0, source="book")],
                        random_cases=lambda rng: {"x": rng.uniform(1, 10)})
    assert grading.run_task("test", task, lambda x: 2 * x * 1.0001).passed  # 750.1 vs 750
    assert grading.run_task("test", task, lambda x: 2 * x * 1.009).passed
    result = grading.run_task("test", task, lambda x: 2 * x * 1.02)
    assert not result.passed and "allowed 1 %" in result.message
    assert grading.precision_text(task) == "graded to 1 %"


def test_record_false_leaves_the_score_alone(capsys):
    task = _floor_task([])
    grading.run_task("test-record", task, lambda x: 0, record=False)
    assert grading.score("test-record", [task]) == (0, 1)
    assert "not checked yet" in capsys.readouterr().out


def test_messages_are_wrapped_to_88_characters():
    task = grading.Task(name="a_long_task_name", reference=lambda **kw: 1.0,
                        cases=[grading.Case({f"argument_{i}": 1e12 * i for i in range(12)})],
                        mistakes=[grading.Mistake(lambda **kw: 2.0, "word " * 40)])
    result = grading.run_task("test", task, lambda **kw: 2.0, record=False)
    assert max(len(line) for line in result.message.splitlines()) <= grading.WIDTH
