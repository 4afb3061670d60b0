"""What every exercise's check module must satisfy, for every task (found automatically).

Per-exercise files (tests/test_checks_exNN.py) add the wrong answers each task must reject.
"""

from __future__ import annotations

import importlib
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
