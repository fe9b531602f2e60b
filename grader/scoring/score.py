"""Run the rubric's checks against a context and total the points.

A check that crashes becomes its own failed result; it never crashes the grade.
"""

from __future__ import annotations

import traceback
from typing import Any, Literal, TypedDict

from grader.checks.context import CheckContext
from grader.checks.plugins import BoundCheck, Rubric
from grader.checks.registry import Outcome
from grader.text import Text, as_text, text

CheckStatus = Literal["pass", "partial", "fail", "pending", "error"]


class _CheckResultBase(TypedDict):
    id: str
    task: str
    points: float
    max: float
    manual: bool
    pending: bool
    passed: bool | None
    status: CheckStatus
    message: str            # English
    messages: Text          # both languages
    warning: str | None
    warnings: Text | None
    evidence: dict[str, Any]


class CheckResult(_CheckResultBase, total=False):
    """One rubric line's result (``docs/result-schema.md``, ``checks[]``)."""

    voided_by: list[str]
    voided_points: float    # the points before the flag took them (given back if a TA dismisses it)
    diagnoses: list[str]    # refs of the doctor's findings that explain it
    override: dict[str, Any]  # an instructor's manual score (gradebook)


def _outcome(bound: BoundCheck, ctx: CheckContext) -> tuple[Outcome, str]:
    try:
        return bound.defn.run(ctx, bound.params), "ok"
    except Exception as exc:  # a bug in one check must not lose the others
        tb = traceback.format_exception_only(type(exc), exc)[-1].strip()
        return Outcome(False, text(f"check crashed: {tb}", f"검사 코드 오류: {tb}")), "error"


def _status(error: bool, pending: bool, points: float, max_points: float) -> CheckStatus:
    if error:
        return "error"
    return "pending" if pending else "pass" if points >= max_points else "partial" if points > 0 else "fail"


def check_result(bound: BoundCheck, outcome: Outcome, status: str) -> CheckResult:
    """The result JSON's entry for one rubric line (``docs/result-schema.md``, ``checks[]``)."""
    spec = bound.spec
    pending = spec.manual or outcome.passed is None
    points = 0.0 if pending else round(spec.points * outcome.credit, 2)
    message = as_text(outcome.message)
    warning = as_text(outcome.warning) if outcome.warning else None
    return {
        "id": spec.id, "task": spec.task, "points": points, "max": spec.points,
        "manual": spec.manual, "pending": pending,
        "passed": None if pending else bool(outcome.passed),
        "status": _status(status == "error", pending, points, spec.points),
        "message": message["en"], "messages": message, "warning": warning["en"] if warning else None,
        "warnings": warning, "evidence": outcome.evidence,
    }


def run_checks(rubric: Rubric, ctx: CheckContext) -> list[CheckResult]:
    """One result dict per rubric line, in rubric order."""
    return [check_result(b, *_outcome(b, ctx)) for b in rubric.checks]


def totals(checks: list[CheckResult] | list[dict[str, Any]]) -> dict[str, float]:
    """Auto points, the auto maximum, and manual points pending review."""
    auto = [c for c in checks if not c["pending"]]
    pending = [c for c in checks if c["pending"]]
    return {
        "auto": round(sum(c["points"] for c in auto), 2),
        "auto_max": sum(c["max"] for c in auto),
        "pending_manual": sum(c["max"] for c in pending),
        "max": sum(c["max"] for c in checks),
    }
