"""The SQLite gradebook: every attempt, its per-check rows, and the people's decisions as an append-only event
log (:mod:`grader.store.events`: manual grades, overrides, rubric edits, flag decisions; who, when, old → new, why).

One writer (the batch parent process), WAL mode so readers (``grader report``/``export``) never block it.
Each finished attempt is committed on its own, so a killed batch loses at most the submissions in flight.
The attempt key (student, submission sha256, assignment id + version, grader version, data mode) is unique:
re-runs update in place instead of duplicating. Events are keyed by student, assignment and check (never by
attempt), so a re-grade of a notebook keeps them; the current grade is derived from them when results are read.
"""

from __future__ import annotations

import csv
import json
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from grader.errors import UsageError
from grader.store import events as ev
from grader.store.decisions import Item, apply_flag_decisions, apply_overrides, as_override, current_rubric
from grader.store.late import LateBook, late_columns

# 2: overrides name their assignment (one gradebook holds a whole course); 3: the event log (overrides moved there)
GRADEBOOK_SCHEMA = 3
DEFAULT_NAME = "gradebook.sqlite"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS students (
    id TEXT PRIMARY KEY,
    first_seen TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS submissions (
    id INTEGER PRIMARY KEY,
    student TEXT NOT NULL REFERENCES students(id),
    sha256 TEXT NOT NULL,
    path TEXT NOT NULL,
    seen_at TEXT NOT NULL,
    UNIQUE (student, sha256)
);
CREATE TABLE IF NOT EXISTS attempts (
    id INTEGER PRIMARY KEY,
    student TEXT NOT NULL REFERENCES students(id),
    sha256 TEXT NOT NULL,
    assignment_id TEXT NOT NULL,
    assignment_version TEXT NOT NULL,
    grader_version TEXT NOT NULL,
    data_mode TEXT NOT NULL,
    status TEXT NOT NULL,
    score REAL NOT NULL,
    score_max REAL NOT NULL,
    pending_manual REAL NOT NULL,
    result_json TEXT NOT NULL,
    started_at TEXT NOT NULL,
    finished_at TEXT NOT NULL,
    UNIQUE (student, sha256, assignment_id, assignment_version, grader_version, data_mode)
);
CREATE TABLE IF NOT EXISTS check_results (
    attempt INTEGER NOT NULL REFERENCES attempts(id) ON DELETE CASCADE,
    check_id TEXT NOT NULL,
    task TEXT,
    points REAL NOT NULL,
    max REAL NOT NULL,
    status TEXT NOT NULL,
    message TEXT,
    PRIMARY KEY (attempt, check_id)
);
CREATE TABLE IF NOT EXISTS overrides (
    id INTEGER PRIMARY KEY,
    student TEXT NOT NULL REFERENCES students(id),
    check_id TEXT NOT NULL,
    assignment_id TEXT NOT NULL DEFAULT '',
    points REAL NOT NULL,
    author TEXT NOT NULL,
    comment TEXT NOT NULL,
    created_at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS attempts_student ON attempts(student, finished_at);
CREATE INDEX IF NOT EXISTS overrides_student ON overrides(student, check_id, id);
"""

# attempts whose status is one of these are not "done": a re-run grades them again
RETRY_STATUSES = ("failed",)


def now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


@dataclass(frozen=True)
class AttemptKey:
    """What makes two gradings the same: re-running with the same key updates, never duplicates."""

    student: str
    sha256: str
    assignment_id: str
    assignment_version: str
    grader_version: str
    data_mode: str


def default_path(out_dir: Path) -> Path:
    return out_dir / DEFAULT_NAME


class Gradebook:
    """A connection to ``gradebook.sqlite``; use as a context manager. Only one process should write."""

    def __init__(self, path: Path, create: bool = True) -> None:
        if not create and not path.exists():
            raise UsageError(f"{path}: no gradebook here (run `grader batch` first)")
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self.db = sqlite3.connect(str(path), timeout=30)
        self.db.row_factory = sqlite3.Row
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA synchronous=NORMAL")
        self.db.execute("PRAGMA foreign_keys=ON")
        self.db.executescript(_SCHEMA + ev.SCHEMA)
        self._migrate(path)
        self._rubric_bases: dict[str, dict[str, list[Item]]] = {}
        self.deadlines: dict[str, Any] = {}  # assignment id → Deadline | None (store/late.py loads them)

    def _migrate(self, path: Path) -> None:
        row = self.db.execute("SELECT value FROM meta WHERE key='schema_version'").fetchone()
        version = GRADEBOOK_SCHEMA if row is None else int(row["value"])
        if version > GRADEBOOK_SCHEMA:
            raise UsageError(f"{path}: gradebook schema {version} is newer than the supported {GRADEBOOK_SCHEMA}")
        if row is not None and version == GRADEBOOK_SCHEMA:
            return
        with self._tx():
            if version == 1:  # schema 1: overrides without an assignment id ('' = any assignment)
                self.db.execute("ALTER TABLE overrides ADD COLUMN assignment_id TEXT NOT NULL DEFAULT ''")
            if version < 3:  # schema 2: overrides in their own table → override events
                ev.migrate_overrides(self.db)
            self.db.execute("INSERT OR REPLACE INTO meta VALUES ('schema_version', ?)", (str(GRADEBOOK_SCHEMA),))

    def close(self) -> None:
        self.db.close()

    def __enter__(self) -> Gradebook:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        try:
            yield self.db
            self.db.commit()
        except BaseException:
            self.db.rollback()
            raise

    # ------------------------------------------------------------------ writing
    def _student(self, student: str) -> None:
        self.db.execute("INSERT OR IGNORE INTO students (id, first_seen) VALUES (?, ?)", (student, now()))

    def record_submission(self, student: str, sha256: str, path: str) -> None:
        with self._tx():
            self._student(student)
            self.db.execute("INSERT OR IGNORE INTO submissions (student, sha256, path, seen_at) VALUES (?,?,?,?)",
                            (student, sha256, path, now()))

    def is_done(self, key: AttemptKey) -> bool:
        """True when an attempt with this key is stored and does not need a retry."""
        row = self.db.execute(
            "SELECT status FROM attempts WHERE student=? AND sha256=? AND assignment_id=? AND assignment_version=?"
            " AND grader_version=? AND data_mode=?", _key_tuple(key)).fetchone()
        return row is not None and row["status"] not in RETRY_STATUSES

    def record_attempt(self, key: AttemptKey, result: dict[str, Any], started_at: str, finished_at: str,
                       path: str = "") -> int:
        """Store one finished attempt and its check rows in one transaction (replacing a same-key attempt)."""
        score = result.get("score") or {}
        with self._tx():
            self._student(key.student)
            self.db.execute("INSERT OR IGNORE INTO submissions (student, sha256, path, seen_at) VALUES (?,?,?,?)",
                            (key.student, key.sha256, path, now()))
            row = self.db.execute(
                "INSERT INTO attempts (student, sha256, assignment_id, assignment_version, grader_version, data_mode,"
                " status, score, score_max, pending_manual, result_json, started_at, finished_at)"
                " VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)"
                " ON CONFLICT (student, sha256, assignment_id, assignment_version, grader_version, data_mode)"
                " DO UPDATE SET status=excluded.status, score=excluded.score, score_max=excluded.score_max,"
                " pending_manual=excluded.pending_manual, result_json=excluded.result_json,"
                " started_at=excluded.started_at, finished_at=excluded.finished_at RETURNING id",
                (*_key_tuple(key), result["status"], float(score.get("auto", 0.0)), float(score.get("max", 0.0)),
                 float(score.get("pending_manual", 0.0)), json.dumps(result, ensure_ascii=False),
                 started_at, finished_at)).fetchone()
            attempt = int(row[0])
            self.db.execute("DELETE FROM check_results WHERE attempt=?", (attempt,))
            self.db.executemany(
                "INSERT INTO check_results (attempt, check_id, task, points, max, status, message)"
                " VALUES (?,?,?,?,?,?,?)",
                [(attempt, c["id"], c.get("task"), float(c["points"]), float(c["max"]), c["status"], c.get("message"))
                 for c in result.get("checks", [])])
        return attempt

    def _override_target(self, student: str, assignment_id: str | None) -> sqlite3.Row:
        """The latest attempt an override of ``student`` applies to (the only assignment, or the one named)."""
        mine = {a: r for (s, a), r in self._latest_rows(assignment_id).items() if s == student}
        if not mine:
            known = ", ".join(sorted({s for s, _ in self._latest_rows()})[:20]) or "none"
            where = f" in {assignment_id}" if assignment_id else ""
            raise UsageError(f"no graded result for student {student!r}{where} (known: {known})")
        if len(mine) > 1:
            raise UsageError(f"{student!r} has results of several assignments ({', '.join(sorted(mine))}): "
                             "pass --assignment")
        return next(iter(mine.values()))

    def add_override(self, student: str, check_id: str, points: float, comment: str, author: str,
                     assignment_id: str | None = None) -> dict[str, Any]:
        """Record an instructor's points for one check of a student's latest result of one assignment (the
        latest override wins); ``assignment_id`` may be omitted when the student has results of only one."""
        if not comment.strip():
            raise UsageError("an override needs a --comment saying why")
        latest = self._override_target(student, assignment_id)
        checks = {c["id"]: c for c in json.loads(latest["result_json"]).get("checks", [])}
        if check_id not in checks:
            raise UsageError(f"{student!r} has no check {check_id!r} (checks: {', '.join(checks) or 'none'})")
        maximum = float(checks[check_id]["max"])
        if not 0 <= points <= maximum:
            raise UsageError(f"points for {check_id} must be between 0 and {maximum:g}, not {points:g}")
        event = ev.append(self.db, now(), author, "override", student, latest["assignment_id"], check_id,
                          {"points": float(points)}, why=comment)
        return {"points": float(points), "author": author, "comment": comment, "time": event.time, "event": event.id}

    def add_event(self, kind: str, author: str, student: str, assignment_id: str, target: str,
                  new: dict[str, Any], why: str = "", base: int | None = None,
                  old: dict[str, Any] | None = None) -> ev.Event:
        """Append one decision to the event log (see :func:`grader.store.events.append`; ``base`` = the event
        id the person saw, a stale one raises :class:`grader.store.events.StaleEdit`)."""
        return ev.append(self.db, now(), author, kind, student, assignment_id, target, new, why, base, old)

    def history(self, student: str | None = None, assignment_id: str | None = None,
                kinds: tuple[str, ...] = ev.KINDS) -> list[ev.Event]:
        """Every event (of ``student``, of ``assignment_id``, of ``kinds``) in the order they were saved."""
        return ev.read(self.db, student, assignment_id, kinds)

    def set_rubric_base(self, assignment_id: str, base: dict[str, list[Item]]) -> None:
        """The rubric items the assignment defines (check id → items), before any edit in the gradebook."""
        self._rubric_bases[assignment_id] = base

    def _rubric_base(self, assignment_id: str) -> dict[str, list[Item]]:
        if assignment_id not in self._rubric_bases:
            from grader.assignment import available, load_assignment

            base: dict[str, list[Item]] = {}
            if assignment_id in available():
                base = {c.id: [i.to_dict() for i in c.rubric] for c in load_assignment(assignment_id).checks
                        if c.rubric}
            self._rubric_bases[assignment_id] = base
        return self._rubric_bases[assignment_id]

    def rubric(self, assignment_id: str) -> dict[str, list[Item]]:
        """The current rubric items per manual check: the assignment's, with the gradebook's edits applied."""
        edits = [e for e in ev.read(self.db, None, assignment_id, ("rubric_edit",)) if e.assignment_id]
        return current_rubric(self._rubric_base(assignment_id), edits)

    # ------------------------------------------------------------------ reading
    def _latest_rows(self, assignment_id: str | None = None) -> dict[tuple[str, str], sqlite3.Row]:
        """The latest attempt per (student, assignment): graded ones first, a failed one only if nothing else
        exists; only ``assignment_id``'s when given."""
        rows = self.db.execute(
            "SELECT * FROM attempts ORDER BY student, assignment_id, (status IN ('failed')) DESC, finished_at, id"
        ).fetchall()
        latest: dict[tuple[str, str], sqlite3.Row] = {}
        for r in rows:  # ordered so the last row per (student, assignment) is the one to keep
            if assignment_id is None or r["assignment_id"] == assignment_id:
                latest[(r["student"], r["assignment_id"])] = r
        return latest

    def assignment_ids(self) -> list[str]:
        """The assignments this gradebook holds results of, sorted."""
        return [r[0] for r in self.db.execute("SELECT DISTINCT assignment_id FROM attempts ORDER BY 1")]

    def latest_results(self, assignment_id: str | None = None) -> list[dict[str, Any]]:
        """The latest result of every student (sorted by student, then assignment) with the people's decisions
        applied (manual grades and overrides, dismissed flags); only ``assignment_id``'s when given."""
        return self.decide(self.stored_results(assignment_id))

    def attempts_version(self) -> str:
        """Changes whenever an attempt is stored (a cache of :meth:`stored_results` is valid while it holds)."""
        row = self.db.execute("SELECT COUNT(*), MAX(id), MAX(finished_at), TOTAL(LENGTH(result_json)) FROM attempts"
                              ).fetchone()
        return "/".join(map(str, tuple(row)))

    def stored_results(self, assignment_id: str | None = None) -> list[tuple[str, str, dict[str, Any]]]:
        """(student, assignment, result as graded) of the latest attempts, sorted; no decision applied."""
        return [(s, a, json.loads(row["result_json"])) for (s, a), row in sorted(self._latest_rows(assignment_id)
                                                                                  .items())]

    def decide(self, stored: list[tuple[str, str, dict[str, Any]]]) -> list[dict[str, Any]]:
        """The people's decisions applied to copies of ``stored`` results (which are left as they are)."""
        grades: dict[str, dict[tuple[str, str], ev.Event]] = {}
        # a schema-1 override (assignment '') applies to any assignment; one naming the assignment wins over it
        for (s, a, t), e in sorted(ev.current(self.db, "grade").items(), key=lambda kv: kv[0][1] != ""):
            grades.setdefault(s, {})[(a, t)] = e
        flags: dict[tuple[str, str], dict[str, ev.Event]] = {}
        for (s, a, t), e in ev.current(self.db, "flag").items():
            flags.setdefault((s, a), {})[t] = e
        rubrics: dict[str, dict[str, list[Item]]] = {}
        late = LateBook(self.db, self.deadlines)
        results = []
        for student, aid, raw in stored:
            result = {**raw, "checks": [dict(c) for c in raw.get("checks") or []]}
            result = apply_flag_decisions(result, flags.get((student, aid), {}))
            mine = {t: e for (a, t), e in grades.get(student, {}).items() if a in ("", aid)}
            if mine and aid not in rubrics:
                rubrics[aid] = self.rubric(aid)
            maxima = {c["id"]: float(c["max"]) for c in result.get("checks", [])}
            records = {t: as_override(e, rubrics[aid].get(t, []), maxima[t]) for t, e in mine.items() if t in maxima}
            result = apply_overrides(result, records, force=bool(result.get("dismissed_flags")))
            results.append(late.apply(student, aid, result))
        return results

    def counts(self) -> dict[str, int]:
        """Rows per table (``overrides``: override events; ``events``: every event)."""
        out = {t: int(self.db.execute(f"SELECT COUNT(*) FROM {t}").fetchone()[0])  # noqa: S608
               for t in ("students", "submissions", "attempts", "check_results", "events")}
        out["overrides"] = int(self.db.execute("SELECT COUNT(*) FROM events WHERE kind='override'").fetchone()[0])
        return out


def _key_tuple(key: AttemptKey) -> tuple[str, ...]:
    return (key.student, key.sha256, key.assignment_id, key.assignment_version, key.grader_version, key.data_mode)


# ---------------------------------------------------------------------- exports
def check_columns(results: list[dict[str, Any]]) -> list[tuple[str, float]]:
    """Every check id seen, in rubric order, with its max points."""
    cols: dict[str, float] = {}
    for r in results:
        for c in r.get("checks", []):
            cols.setdefault(c["id"], float(c["max"]))
    return list(cols.items())


def results_frame(results: list[dict[str, Any]]):  # type: ignore[no-untyped-def]
    """A pandas DataFrame: one row per student, one column per check, totals, status, flags, overrides."""
    import pandas as pd

    cols = check_columns(results)
    rows = []
    for r in results:
        by_id = {c["id"]: c for c in r.get("checks", [])}
        row: dict[str, Any] = {"student": r["submission"]["id"], "status": r["status"]}
        for cid, _ in cols:
            c = by_id.get(cid)
            row[cid] = None if c is None or c.get("pending") else c["points"]
        s = r["score"]
        row.update({"auto": s["auto"], "auto_max": s["auto_max"], "pending_manual": s["pending_manual"],
                    "max": s["max"], "flags": ",".join(f["id"] for f in r.get("flags", [])),
                    "overridden": ",".join(c["id"] for c in r.get("checks", []) if c.get("override")),
                    "sha256": r["submission"].get("sha256"), "message": r.get("message") or ""})
        row.update(late_columns(r))
        rows.append(row)
    columns = ["student", "status", *[cid for cid, _ in cols], "auto", "auto_max", "pending_manual", "max",
               "days_late", "penalty", "total", "flags", "overridden", "sha256", "message"]
    return pd.DataFrame(rows, columns=columns)


def export_csv(results: list[dict[str, Any]], path: Path) -> Path:
    """One row per student, one column per check (points; blank = pending review) and the totals."""
    path.parent.mkdir(parents=True, exist_ok=True)
    results_frame(results).to_csv(path, index=False)
    return path


def export_canvas(results: list[dict[str, Any]], path: Path, title: str, canvas_id: str | None = None,
                  points_possible: float | None = None) -> Path:
    """Canvas gradebook-import CSV: ``Student,ID,SIS User ID,SIS Login ID,Section,<title> (<id>)`` and a
    ``Points Possible`` row. The grader's student id goes to ``SIS Login ID`` (Canvas matches on it); the
    score is the auto score plus overridden manual points less the late penalty (pending manual points are not
    counted)."""
    import pandas as pd

    column = f"{title} ({canvas_id})" if canvas_id else title
    possible = points_possible if points_possible is not None else max(
        (float(r["score"]["max"]) for r in results if r["score"]["max"]), default=0.0)
    rows = [{"Student": "    Points Possible", "ID": "", "SIS User ID": "", "SIS Login ID": "", "Section": "",
             column: _num(possible)}]
    for r in results:
        rows.append({"Student": r["submission"]["id"], "ID": "", "SIS User ID": "",
                     "SIS Login ID": r["submission"]["id"], "Section": "", column: _num(late_columns(r)["total"])})
    path.parent.mkdir(parents=True, exist_ok=True)
    pd.DataFrame(rows, columns=["Student", "ID", "SIS User ID", "SIS Login ID", "Section", column]).to_csv(
        path, index=False, quoting=csv.QUOTE_MINIMAL)
    return path


def _num(x: float) -> str:
    return f"{float(x):g}"
