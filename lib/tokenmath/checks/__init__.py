"""Graded-exercise checks: one module per exercise notebook (``ex00_warmup`` for
``exercises/00_warmup``).

Each module has the reference solutions, a ``check_<task>(fn=None)`` per task (it defaults to
the reference, prints what it found and returns a truthy/falsy :class:`CheckResult`, never
raising), ``TASKS``, ``score()`` for the notebook's last cell, and ``check_example(fn)``, the
page's worked example of a wrong answer (printed, never counted in the score). A task's answer
is a number (graded to a stated relative precision), an exact whole number, or a label such as
``"memory"`` (case-insensitive).
"""

from tokenmath.checks._grading import (
    Case,
    CheckResult,
    Mistake,
    Task,
    matching_hint,
    precision_text,
    run_example,
    run_task,
)

__all__ = ["Case", "CheckResult", "Mistake", "Task", "matching_hint", "precision_text",
           "run_example", "run_task"]
