"""Rubric loading, the check registry, and scoring (a crashing check never crashes the grade)."""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest

from grader.assignment import load_assignment
from grader.checks.context import CheckContext
from grader.checks.registry import Outcome, Registry, default_registry
from grader.errors import AssignmentError
from grader.recording.events import Recording
from grader.scoring.score import run_checks, totals


def _ctx() -> CheckContext:
    return CheckContext([], Recording(), None, nbformat.v4.new_notebook(), None, "subset")


def test_every_rubric_check_is_registered() -> None:
    assignment = load_assignment()
    assert {c.id for c in assignment.checks} <= set(default_registry().ids())
    assert sum(c.points for c in assignment.checks) == 100


def test_crashing_check_becomes_its_own_failed_result() -> None:
    reg = default_registry()
    broken = Registry()
    for cid in reg.ids():
        fn = reg.get(cid)
        assert fn is not None
        broken.register(cid)(fn)

    def boom(ctx: CheckContext, p: dict) -> Outcome:
        raise ZeroDivisionError("oops")

    broken._checks["t1.structure"] = boom
    results = run_checks(load_assignment(), _ctx(), broken)
    crashed = next(r for r in results if r["id"] == "t1.structure")
    assert crashed["status"] == "error" and "ZeroDivisionError" in crashed["message"]
    assert len(results) == 10
    # with no training recorded, every auto check fails with a reason; the manual one is pending
    assert all(r["points"] == 0 for r in results)
    assert [r["id"] for r in results if r["pending"]] == ["t2.conclusion"]
    assert totals(results) == {"auto": 0.0, "auto_max": 90.0, "pending_manual": 10.0, "max": 100.0}


def test_registry_refuses_duplicates() -> None:
    reg = Registry()
    reg.register("a")(lambda c, p: Outcome(True, "ok"))
    with pytest.raises(ValueError):
        reg.register("a")(lambda c, p: Outcome(True, "ok"))


def test_bad_assignment_toml(tmp_path: Path) -> None:
    (tmp_path / "assignment.toml").write_text("schema_version = 1\nid = 'x'\nversion = '1'\n[[checks]]\nid='a'\n")
    with pytest.raises(AssignmentError, match="missing or invalid field"):
        load_assignment(tmp_path)
    with pytest.raises(AssignmentError, match="not found"):
        load_assignment(tmp_path / "nope")
