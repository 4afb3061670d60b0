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
