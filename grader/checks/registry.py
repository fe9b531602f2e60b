"""Explicit check registry: checks register by id; the rubric (assignment.toml) looks them up.

Nothing is registered at import time: :func:`default_registry` builds a fresh registry from the
task modules, so tests and instructors can make their own.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from grader.checks.context import CheckContext


@dataclass
class Outcome:
    """A check's verdict. ``passed`` None = pending manual review; ``fraction`` allows partial credit."""

    passed: bool | None
    message: str
    fraction: float | None = None
    evidence: dict[str, Any] = field(default_factory=dict)
    warning: str | None = None

    @property
    def credit(self) -> float:
        if self.passed is None:
            return 0.0
        if self.fraction is not None:
            return max(0.0, min(1.0, self.fraction))
        return 1.0 if self.passed else 0.0


CheckFn = Callable[[CheckContext, dict[str, Any]], Outcome]


class Registry:
    """Maps check ids to functions."""

    def __init__(self) -> None:
        self._checks: dict[str, CheckFn] = {}

    def register(self, check_id: str) -> Callable[[CheckFn], CheckFn]:
        """Decorator: ``@registry.register("t1.six_hidden")``."""
        def add(fn: CheckFn) -> CheckFn:
            if check_id in self._checks:
                raise ValueError(f"check {check_id!r} registered twice")
            self._checks[check_id] = fn
            return fn
        return add

    def get(self, check_id: str) -> CheckFn | None:
        return self._checks.get(check_id)

    def ids(self) -> list[str]:
        return sorted(self._checks)


def default_registry() -> Registry:
    """A registry holding the built-in checks of every task module."""
    from grader.checks import task1, task2, task3

    reg = Registry()
    for module in (task1, task2, task3):
        module.register(reg)
    return reg
