"""The SQLite gradebook on its own: unique attempt keys, overrides, exports (no kernels)."""

from __future__ import annotations

import copy
import csv
from pathlib import Path

import pytest

from grader.errors import UsageError
from grader.store.gradebook import AttemptKey, Gradebook, export_canvas, export_csv


def result(student: str, points: dict[str, float], status: str = "graded") -> dict:
    checks = [{"id": cid, "task": cid.split(".")[0], "points": p, "max": 10.0, "manual": cid == "t2.conclusion",
               "pending": cid == "t2.conclusion", "passed": None if cid == "t2.conclusion" else p == 10,
               "status": "pending" if cid == "t2.conclusion" else ("pass" if p == 10 else "fail"),
               "message": "m", "warning": None, "evidence": {}} for cid, p in points.items()]
    auto = [c for c in checks if not c["pending"]]
    return {"schema_version": 1, "submission": {"id": student, "path": f"{student}.ipynb", "sha256": "a" * 64},
            "status": status, "message": None, "data": {"mode": "subset"},
            "score": {"auto": sum(c["points"] for c in auto), "auto_max": sum(c["max"] for c in auto),
                      "pending_manual": 10.0 if "t2.conclusion" in points else 0.0, "max": 10.0 * len(checks)},
            "checks": checks, "flags": [], "runs": [], "errors": []}


def key(student: str, sha: str = "a" * 64, mode: str = "subset") -> AttemptKey:
    return AttemptKey(student, sha, "dnn2_mnist", "1.0.0", "0.1.0", mode)


def test_attempt_key_is_unique_and_rerun_updates_in_place(tmp_path: Path) -> None:
    db = tmp_path / "gb.sqlite"
    with Gradebook(db) as gb:
        gb.record_attempt(key("kim"), result("kim", {"t1.a": 5, "t2.conclusion": 0}), "t0", "t1")
        gb.record_attempt(key("kim"), result("kim", {"t1.a": 10, "t2.conclusion": 0}), "t2", "t3")
        assert gb.counts()["attempts"] == 1 and gb.counts()["check_results"] == 2
        assert gb.is_done(key("kim")) and not gb.is_done(key("kim", mode="full"))
        gb.record_attempt(key("lee"), {**result("lee", {}), "status": "failed"}, "t0", "t1")
        assert not gb.is_done(key("lee"))  # a grader failure is retried on the next run
        assert gb.db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    with Gradebook(db, create=False) as gb:  # persisted
        (kim,) = [r for r in gb.latest_results() if r["submission"]["id"] == "kim"]
        assert kim["score"]["auto"] == 10
    with pytest.raises(UsageError):
        Gradebook(tmp_path / "missing.sqlite", create=False)


def test_latest_submission_wins_and_overrides_apply(tmp_path: Path) -> None:
    with Gradebook(tmp_path / "gb.sqlite") as gb:
        gb.record_attempt(key("kim", "a" * 64), result("kim", {"t1.a": 5, "t2.conclusion": 0}), "t0", "2026-01-01")
        gb.record_attempt(key("kim", "b" * 64), result("kim", {"t1.a": 0, "t2.conclusion": 0}), "t0", "2026-01-02")
        with pytest.raises(UsageError, match="no check"):
            gb.add_override("kim", "t9.x", 1, "c", "prof")
        with pytest.raises(UsageError, match="between 0 and 10"):
            gb.add_override("kim", "t1.a", 11, "c", "prof")
        with pytest.raises(UsageError, match="no graded result"):
            gb.add_override("nobody", "t1.a", 1, "c", "prof")
        gb.add_override("kim", "t2.conclusion", 4, "first look", "ta")
        gb.add_override("kim", "t2.conclusion", 8, "good conclusion", "prof")
        (kim,) = gb.latest_results()
        conclusion = next(c for c in kim["checks"] if c["id"] == "t2.conclusion")
        assert conclusion["points"] == 8 and conclusion["override"]["author"] == "prof"
        assert conclusion["override"]["comment"] == "good conclusion" and not conclusion["pending"]
        assert kim["score"]["auto"] == 8 and kim["score"]["pending_manual"] == 0  # latest sha: t1.a = 0
        assert gb.counts()["overrides"] == 2
        # a re-grade of the same key keeps the override
        gb.record_attempt(key("kim", "b" * 64), result("kim", {"t1.a": 10, "t2.conclusion": 0}), "t0", "2026-01-03")
        assert gb.latest_results()[0]["score"]["auto"] == 18


def test_csv_and_canvas_exports(tmp_path: Path) -> None:
    results = [result("kim", {"t1.a": 10, "t2.conclusion": 0}), result("lee", {"t1.a": 2.5, "t2.conclusion": 0})]
    results[0]["checks"][1] = copy.deepcopy(results[0]["checks"][1])
    export_csv(results, tmp_path / "g.csv")
    rows = list(csv.DictReader((tmp_path / "g.csv").open(encoding="utf-8")))
    assert [r["student"] for r in rows] == ["kim", "lee"]
    assert rows[1]["t1.a"] == "2.5" and rows[0]["t2.conclusion"] == "" and rows[0]["pending_manual"] == "10.0"
    export_canvas(results, tmp_path / "c.csv", "MNIST MLP", "77")
    lines = list(csv.reader((tmp_path / "c.csv").open(encoding="utf-8")))
    assert lines[0] == ["Student", "ID", "SIS User ID", "SIS Login ID", "Section", "MNIST MLP (77)"]
    assert lines[1][0].strip() == "Points Possible" and lines[1][5] == "20"
    assert lines[2] == ["kim", "", "", "kim", "", "10"] and lines[3][5] == "2.5"


def test_schema_2_overrides_become_events(tmp_path: Path) -> None:
    """An old gradebook (overrides table, schema 2) opens as schema 3: each override an event, same grade."""
    db = tmp_path / "old.sqlite"
    with Gradebook(db) as gb:
        gb.record_attempt(key("kim"), result("kim", {"t1.a": 5, "t2.conclusion": 0}), "t0", "t1")
        gb.db.executescript("DROP TABLE events; UPDATE meta SET value='2' WHERE key='schema_version';")
        gb.db.execute("INSERT INTO overrides (student, check_id, assignment_id, points, author, comment, created_at)"
                      " VALUES ('kim', 't2.conclusion', 'dnn2_mnist', 7, 'old_prof', 'fine', '2025-01-01T00:00:00')")
        gb.db.commit()
    with Gradebook(db, create=False) as gb:
        (event,) = gb.history("kim")
        assert (event.kind, event.author, event.why, event.new) == ("override", "old_prof", "fine", {"points": 7.0})
        assert gb.db.execute("SELECT value FROM meta WHERE key='schema_version'").fetchone()[0] == "3"
        (kim,) = gb.latest_results()
        assert kim["score"]["auto"] == 12 and gb.counts()["overrides"] == 1


def test_events_are_append_only_and_stale_saves_refused(tmp_path: Path) -> None:
    from grader.store.events import StaleEdit

    with Gradebook(tmp_path / "gb.sqlite") as gb:
        gb.record_attempt(key("kim"), result("kim", {"t1.a": 5, "t2.conclusion": 0}), "t0", "t1")
        gb.set_rubric_base("dnn2_mnist", {"t2.conclusion": [{"id": "a", "points": 3.0, "en": "A", "ko": "A"},
                                                            {"id": "b", "points": 4.0, "en": "B", "ko": "B"}]})
        first = gb.add_event("manual_grade", "ta1", "kim", "dnn2_mnist", "t2.conclusion", {"items": ["a", "b"]},
                             base=0)
        with pytest.raises(StaleEdit, match="ta1 changed this at"):
            gb.add_event("manual_grade", "ta2", "kim", "dnn2_mnist", "t2.conclusion", {"items": ["a"]}, base=0)
        assert gb.latest_results()[0]["score"]["auto"] == 12
        gb.add_event("rubric_edit", "prof", "", "dnn2_mnist", "t2.conclusion/b", {"points": 1.0, "en": "B"})
        assert gb.latest_results()[0]["score"]["auto"] == 9  # the grade follows the item's new points
        gb.add_event("manual_grade", "ta2", "kim", "dnn2_mnist", "t2.conclusion", {"items": ["a"]}, base=first.id)
        assert gb.latest_results()[0]["score"]["auto"] == 8
        assert [e.author for e in gb.history("kim")] == ["ta1", "prof", "ta2"]
        assert gb.history("kim")[2].old == {"items": ["a", "b"]}
