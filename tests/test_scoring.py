"""Scoring: every rubric line gets a result, a crashing check never crashes the grade, flags void points."""

from __future__ import annotations

from dataclasses import replace

import nbformat

from grader.assignment import load_assignment
from grader.checks.context import CheckContext
from grader.checks.plugins import load_rubric
from grader.checks.registry import CheckDef, Outcome
from grader.recording.events import Recording
from grader.scoring.score import run_checks, totals
from grader.scoring.voiding import score_checks


def _ctx() -> CheckContext:
    return CheckContext([], Recording(), None, nbformat.v4.new_notebook(), None, "subset")


def test_rubric_totals_100() -> None:
    assignment = load_assignment("dnn2_mnist")
    assert sum(c.points for c in assignment.checks) == 100
    assert [b.spec.id for b in load_rubric(assignment).checks] == [c.id for c in assignment.checks]


def test_crashing_check_becomes_its_own_failed_result() -> None:
    rubric = load_rubric(load_assignment("dnn2_mnist"))

    def boom(ctx: CheckContext, p: object) -> Outcome:
        raise ZeroDivisionError("oops")

    checks = tuple(replace(b, defn=CheckDef(b.defn.name, boom)) if b.spec.id == "t1.structure" else b
                   for b in rubric.checks)
    results = run_checks(replace(rubric, checks=checks), _ctx())
    crashed = next(r for r in results if r["id"] == "t1.structure")
    assert crashed["status"] == "error" and "ZeroDivisionError" in crashed["message"]
    assert "ZeroDivisionError" in crashed["messages"]["ko"] and crashed["messages"]["ko"] != crashed["message"]
    assert len(results) == 10
    # with no training recorded, every auto check fails with a reason; the manual one is pending
    assert all(r["points"] == 0 for r in results)
    assert [r["id"] for r in results if r["pending"]] == ["t2.conclusion"]
    assert totals(results) == {"auto": 0.0, "auto_max": 90.0, "pending_manual": 10.0, "max": 100.0}


def test_flag_voids_by_pattern_and_by_tag() -> None:
    rubric = load_rubric(load_assignment("dnn2_mnist"))
    flags = [{"id": "accuracy_at_chance", "message": "m", "voids": ["tag:accuracy"]},
             {"id": "probe_tampered", "message": "m", "voids": ["t3.*"]}]
    results = {r["id"]: r for r in score_checks(rubric, _ctx(), flags)}
    assert results["t1.accuracy"]["voided_by"] == ["accuracy_at_chance"]
    assert results["t1.accuracy"]["messages"]["ko"].startswith("0점: 무결성 경고 accuracy_at_chance — ")
    assert results["t1.accuracy"]["message"].startswith("0 points: integrity flag accuracy_at_chance — ")
    assert results["t3.trained"]["voided_by"] == ["probe_tampered"]
    assert "voided_by" not in results["t1.structure"] and "voided_by" not in results["t2.conclusion"]
