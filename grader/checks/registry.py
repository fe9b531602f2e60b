"""Checks and where they are registered: the ``@check`` decorator, :class:`Outcome` and :class:`Registry`.

A check is a function ``(ctx, params) -> Outcome`` declared with ``@check("name", params=SomeDataclass)``.
Nothing is registered at import time: the decorator only marks the function, and
:func:`grader.checks.plugins.load_rubric` collects the marked functions of the built-in module and of the
modules an assignment names (``checks_modules``), the way pluggy collects hook implementations.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any, TypeVar

from grader.checks.context import CheckContext
from grader.errors import AssignmentError
from grader.text import Text, as_text

_MARK = "__grader_check__"


@dataclass
class Outcome:
    """A check's verdict. ``passed`` None = pending manual review; ``fraction`` allows partial credit.
    ``message`` and ``warning`` are :class:`~grader.text.Text` (a plain string reads the same in both languages)."""

    passed: bool | None
    message: str | Text
    fraction: float | None = None
    evidence: dict[str, Any] = field(default_factory=dict)
    warning: str | Text | None = None

    @property
    def credit(self) -> float:
        """The share of the points earned (0 while pending)."""
        if self.passed is None:
            return 0.0
        if self.fraction is not None:
            return max(0.0, min(1.0, self.fraction))
        return 1.0 if self.passed else 0.0

    @property
    def text(self) -> Text:
        """The message as a Text."""
        return as_text(self.message)


CheckFn = Callable[[CheckContext, Any], Outcome]
F = TypeVar("F", bound=Callable[..., Outcome])


@dataclass(frozen=True)
class CheckDef:
    """A registered check: its name, function, parameter type (a dataclass, or None for none) and tags.
    Tag ``accuracy`` marks a check that credits a measured accuracy (integrity flags about accuracy void it)."""

    name: str
    fn: CheckFn
    params: type | None = None
    tags: tuple[str, ...] = ()
    source: str = ""

    def run(self, ctx: CheckContext, params: Any) -> Outcome:
        """Call the check."""
        return self.fn(ctx, params)


def check(name: str, params: type | None = None, tags: Iterable[str] = ()) -> Callable[[F], F]:
    """Mark a function as the check ``name``; ``params``: a dataclass its toml parameters are validated against
    (None: the check takes none). The function itself is returned unchanged."""
    def mark(fn: F) -> F:
        setattr(fn, _MARK, CheckDef(name, fn, params, tuple(tags), getattr(fn, "__module__", "")))
        return fn
    return mark


class Registry:
    """Maps check names to :class:`CheckDef`."""

    def __init__(self) -> None:
        self._checks: dict[str, CheckDef] = {}

    def add(self, defn: CheckDef, shadow: bool = False) -> None:
        """Register one check; a name registered twice is an AssignmentError naming both sources, unless
        ``shadow`` (an assignment's own check replacing a built-in one of the same name)."""
        existing = self._checks.get(defn.name)
        if existing is not None and not (shadow and existing.source.startswith("grader.checks.")):
            raise AssignmentError(f"check {defn.name!r} registered twice ({existing.source} and "
                                  f"{defn.source})")
        self._checks[defn.name] = defn

    def add_module(self, module: ModuleType, source: str | None = None, shadows: frozenset[str] = frozenset()) -> int:
        """Register every ``@check`` function of a module; names in ``shadows`` may replace what is registered
        (the built-ins). Returns how many."""
        n = 0
        for value in vars(module).values():
            defn = getattr(value, _MARK, None)
            if isinstance(defn, CheckDef) and defn.fn is value:
                self.add(CheckDef(defn.name, defn.fn, defn.params, defn.tags, source or defn.source),
                         shadow=defn.name in shadows)
                n += 1
        return n

    def register(self, name: str, params: type | None = None,
                 tags: Iterable[str] = ()) -> Callable[[F], F]:
        """Decorator registering directly into this registry (tests, one-off scripts)."""
        def add(fn: F) -> F:
            self.add(CheckDef(name, fn, params, tuple(tags), getattr(fn, "__module__", "")))
            return fn
        return add

    def get(self, name: str) -> CheckDef | None:
        """The check registered as ``name``, if any."""
        return self._checks.get(name)

    def ids(self) -> list[str]:
        """Every registered name, sorted."""
        return sorted(self._checks)
