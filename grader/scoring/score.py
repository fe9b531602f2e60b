"""Run the rubric's checks against a context and total the points.

A check that crashes becomes its own failed result; it never crashes the grade.
"""

from __future__ import annotations

import traceback
from typing import Any

from grader.checks.context import CheckContext
from grader.checks.plugins import BoundCheck, Rubric
from grader.checks.registry import Outcome
from grader.text import as_text, text


def _outcome(bound: BoundCheck, ctx: CheckContext) -> tuple[Outcome, str]:
    try:
        return bound.defn.run(ctx, bound.params), "ok"
    except Exception as exc:  # a bug in one check must not lose the others
        tb = traceback.format_exception_only(type(exc), exc)[-1].strip()
        return Outcome(False, text(f"check crashed: {tb}", f"검사 코드 오류: {tb}")), "error"


def check_result(bound: BoundCheck, outcome: Outcome, status: str) -> dict[str, Any]:
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
        "status": status if status == "error" else ("pending" if pending else
                                                   "pass" if points >= spec.points else
                                                   "partial" if points > 0 else "fail"),
        "message": message["en"], "messages": message, "warning": warning["en"] if warning else None,
        "warnings": warning, "evidence": outcome.evidence,
    }


def run_checks(rubric: Rubric, ctx: CheckContext) -> list[dict[str, Any]]:
    """One result dict per rubric line, in rubric order."""
    return [check_result(b, *_outcome(b, ctx)) for b in rubric.checks]


def totals(checks: list[dict[str, Any]]) -> dict[str, float]:
    """Auto points, the auto maximum, and manual points pending review."""
    auto = [c for c in checks if not c["pending"]]
    pending = [c for c in checks if c["pending"]]
    return {
        "auto": round(sum(c["points"] for c in auto), 2),
        "auto_max": sum(c["max"] for c in auto),
        "pending_manual": sum(c["max"] for c in pending),
        "max": sum(c["max"] for c in checks),
    }
