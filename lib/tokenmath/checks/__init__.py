"""Graded-exercise checks: one module per exercise notebook (``ex00_warmup`` for
``exercises/00_warmup``).

Each module has the reference solutions, a ``check_<task>(fn=None)`` per task (it defaults to
the reference, prints what it found and returns a truthy/falsy :class:`CheckResult`, never
raising), ``TASKS``, and ``score()`` for the notebook's last cell.
"""

from tokenmath.checks._grading import Case, CheckResult, Mistake, Task, run_task

__all__ = ["Case", "CheckResult", "Mistake", "Task", "run_task"]
