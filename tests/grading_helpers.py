"""Assertions shared by the tests of every exercise's checks."""

from __future__ import annotations

from collections.abc import Callable

from tokenmath.checks import CheckResult


def assert_passes(check: Callable[..., CheckResult], fn: Callable | None = None) -> None:
    result = check(fn)
    assert result.passed, result.message


def assert_not_implemented(check: Callable[..., CheckResult]) -> None:
    def stub(*args, **kwargs):
        raise NotImplementedError

    result = check(stub)
    assert not result.passed
    assert "not implemented yet" in result.message


def assert_rejected(check: Callable[..., CheckResult], fn: Callable, hint: str) -> CheckResult:
    """``fn`` must fail, and the message must carry a hint containing ``hint``."""
    result = check(fn)
    assert not result.passed, f"a wrong answer passed: {result.message}"
    assert result.hint is not None, f"no hint for a known mistake: {result.message}"
    assert hint.lower() in result.hint.lower(), result.message
    assert "expected" in result.message and "got" in result.message
    return result


def assert_fails(check: Callable[..., CheckResult], fn: Callable) -> CheckResult:
    """``fn`` must fail (with or without a hint)."""
    result = check(fn)
    assert not result.passed, f"a wrong answer passed: {result.message}"
    return result


def scaled(fn: Callable, factor: float) -> Callable:
    """``fn`` with its answer multiplied by ``factor`` (an answer off by a known amount)."""
    return lambda **kwargs: fn(**kwargs) * factor


def sig_figs(fn: Callable, digits: int) -> Callable:
    """``fn`` with its answer rounded to ``digits`` significant figures."""
    return lambda **kwargs: float(f"{fn(**kwargs):.{digits}g}")


def flipped(fn: Callable, labels: tuple[str, str]) -> Callable:
    """A label task's ``fn`` with the two labels swapped."""
    a, b = labels
    return lambda **kwargs: b if fn(**kwargs) == a else a
