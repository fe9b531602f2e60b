"""Run the rubric's checks against a context and total the points.

A check that crashes becomes its own failed result; it never crashes the grade.
"""

from __future__ import annotations

import traceback
from typing import Any

from grader.assignment import Assignment
from grader.checks.context import CheckContext
from grader.checks.registry import Outcome, Registry


def run_checks(assignment: Assignment, ctx: CheckContext, registry: Registry) -> list[dict[str, Any]]:
    """One result dict per rubric line, in rubric order."""
    results = []
    for spec in assignment.checks:
        fn = registry.get(spec.id)
        status = "ok"
        if fn is None:
            outcome, status = Outcome(False, f"no check named {spec.id!r} is registered"), "error"
        else:
            try:
                outcome = fn(ctx, spec.params)
            except Exception as exc:  # a bug in one check must not lose the others
                tb = traceback.format_exception_only(type(exc), exc)[-1].strip()
                outcome, status = Outcome(False, f"check crashed: {tb}"), "error"
        pending = spec.manual or outcome.passed is None
        points = 0.0 if pending else round(spec.points * outcome.credit, 2)
        results.append({
            "id": spec.id, "task": spec.task, "points": points, "max": spec.points,
            "manual": spec.manual, "pending": pending,
            "passed": None if pending else bool(outcome.passed),
            "status": status if status == "error" else ("pending" if pending else
                                                       "pass" if points >= spec.points else
                                                       "partial" if points > 0 else "fail"),
            "message": outcome.message, "warning": outcome.warning, "evidence": outcome.evidence,
        })
    return results


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
