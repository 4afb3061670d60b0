"""Checks for arguments at the public API: each returns the clean value or raises ``ValueError``.

Every message is one line that names the parameter (``name``) and shows the bad value. Standard
library only, so the math modules that use it still run anywhere (Pyodide included).
"""

from __future__ import annotations

import math
from numbers import Integral, Real

__all__ = ["positive_int", "nonneg_int", "finite", "positive", "nonneg", "fraction"]


def positive_int(value: object, name: str) -> int:
    """``value`` as an ``int`` >= 1 (``bool`` is rejected)."""
    if isinstance(value, bool) or not isinstance(value, Integral) or value < 1:
        raise ValueError(f"{name} must be a positive integer, got {value!r}")
    return int(value)


def nonneg_int(value: object, name: str) -> int:
    """``value`` as an ``int`` >= 0 (``bool`` is rejected)."""
    if isinstance(value, bool) or not isinstance(value, Integral) or value < 0:
        raise ValueError(f"{name} must be a non-negative integer, got {value!r}")
    return int(value)


def finite(value: object, name: str) -> float:
    """``value`` as a finite ``float`` (``bool``, NaN and infinities are rejected)."""
    if isinstance(value, bool) or not isinstance(value, Real) or not math.isfinite(float(value)):
        raise ValueError(f"{name} must be a finite number, got {value!r}")
    return float(value)


def positive(value: object, name: str) -> float:
    """``value`` as a finite ``float`` > 0."""
    x = finite(value, name)
    if x <= 0:
        raise ValueError(f"{name} must be > 0, got {value!r}")
    return x


def nonneg(value: object, name: str) -> float:
    """``value`` as a finite ``float`` >= 0."""
    x = finite(value, name)
    if x < 0:
        raise ValueError(f"{name} must be >= 0, got {value!r}")
    return x


def fraction(value: object, name: str) -> float:
    """``value`` as a ``float`` in ``(0, 1]`` (a utilization or a share of memory)."""
    x = finite(value, name)
    if not 0.0 < x <= 1.0:
        raise ValueError(f"{name} must be in (0, 1], got {value!r}")
    return x
