"""The gradebook's append-only event log: every manual grade, override, rubric edit and flag decision.

An event is never updated or deleted. The current state of anything a person decides is the latest event on its
*key*: ``(family, student, assignment, target)`` where the family groups the kinds that decide the same thing
(``override`` and ``manual_grade`` both set a check's points). A save names the event it was based on
(``base``: the latest event id the person saw, 0 for none); when another event on the same key came in between,
the save is refused with :class:`StaleEdit` ("X changed this at T") — two TAs never overwrite each other silently.
"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass
from typing import Any

from grader.errors import UsageError

KINDS = ("override", "manual_grade", "rubric_edit", "flag_decision", "submitted_at", "extension", "late_override",
         "release")
# submitted_at: a submission time from a source the student does not control (store/late.py); extension: days
# granted; late_override: the late penalty set by a person; release: feedback released (student '')
FAMILY = {"override": "grade", "manual_grade": "grade", "rubric_edit": "rubric", "flag_decision": "flag",
          "submitted_at": "time", "extension": "extension", "late_override": "late", "release": "release"}

SCHEMA = """
CREATE TABLE IF NOT EXISTS events (
    id INTEGER PRIMARY KEY,
    time TEXT NOT NULL,
    author TEXT NOT NULL,
    kind TEXT NOT NULL,
    family TEXT NOT NULL,
    student TEXT NOT NULL,
    assignment_id TEXT NOT NULL,
    target TEXT NOT NULL,
    old TEXT,
    new TEXT NOT NULL,
    why TEXT NOT NULL DEFAULT '',
    base INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS events_key ON events(family, student, assignment_id, target, id);
"""


@dataclass(frozen=True)
class Event:
    """One row of the log (``old``/``new`` decoded from JSON)."""

    id: int
    time: str
    author: str
    kind: str
    student: str
    assignment_id: str
    target: str
    old: dict[str, Any] | None
    new: dict[str, Any]
    why: str
    base: int

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready copy (the review app's API)."""
        return {"id": self.id, "time": self.time, "author": self.author, "kind": self.kind,
                "student": self.student, "assignment": self.assignment_id, "target": self.target,
                "old": self.old, "new": self.new, "why": self.why, "base": self.base}


class StaleEdit(UsageError):
    """A save based on an event that is no longer the latest on its key: someone else saved in between."""

    def __init__(self, latest: Event) -> None:
        self.latest = latest
        super().__init__(f"{latest.author} changed this at {latest.time} (event {latest.id}): reload and try again")


def _event(row: sqlite3.Row) -> Event:
    return Event(int(row["id"]), row["time"], row["author"], row["kind"], row["student"], row["assignment_id"],
                 row["target"], json.loads(row["old"]) if row["old"] else None, json.loads(row["new"]),
                 row["why"], int(row["base"]))


def latest_on(db: sqlite3.Connection, kind: str, student: str, assignment_id: str, target: str) -> Event | None:
    """The latest event on the key of (``kind``'s family, student, assignment, target), or None."""
    row = db.execute("SELECT * FROM events WHERE family=? AND student=? AND assignment_id=? AND target=?"
                     " ORDER BY id DESC LIMIT 1", (FAMILY[kind], student, assignment_id, target)).fetchone()
    return _event(row) if row else None


def append(db: sqlite3.Connection, time: str, author: str, kind: str, student: str, assignment_id: str,
           target: str, new: dict[str, Any], why: str = "", base: int | None = None,
           old: dict[str, Any] | None = None) -> Event:
    """Append one event in its own IMMEDIATE transaction (so the staleness check and the insert are atomic
    across processes). ``base`` None = no check (the CLI, which reads and writes in one step); otherwise the
    id of the latest event the saver saw on this key (0 = none) — a different latest raises :class:`StaleEdit`.
    ``old``: what the value was before any event (a rubric item from assignment.toml); else the latest's new."""
    if kind not in FAMILY:
        raise UsageError(f"unknown event kind {kind!r} (kinds: {', '.join(KINDS)})")
    if not author.strip():
        raise UsageError("an event needs an author (--grader NAME)")
    db.commit()
    db.execute("BEGIN IMMEDIATE")
    try:
        latest = latest_on(db, kind, student, assignment_id, target)
        if base is not None and (latest.id if latest else 0) != int(base):
            if latest is None:
                raise UsageError(f"event {base} is not on this item: reload and try again")
            raise StaleEdit(latest)
        cur = db.execute(
            "INSERT INTO events (time, author, kind, family, student, assignment_id, target, old, new, why, base)"
            " VALUES (?,?,?,?,?,?,?,?,?,?,?) RETURNING *",
            (time, author, kind, FAMILY[kind], student, assignment_id, target,
             json.dumps(latest.new if latest else old, ensure_ascii=False) if latest or old else None,
             json.dumps(new, ensure_ascii=False),
             why, latest.id if latest else 0))
        event = _event(cur.fetchone())
        db.commit()
    except BaseException:
        db.rollback()
        raise
    return event


def read(db: sqlite3.Connection, student: str | None = None, assignment_id: str | None = None,
         kinds: tuple[str, ...] = KINDS) -> list[Event]:
    """Events in the order they were saved, only ``student``'s / ``assignment_id``'s / ``kinds`` when given
    (a rubric edit has no student: it is listed with every student's history of that assignment)."""
    marks = ",".join("?" * len(kinds))
    sql, args = f"SELECT * FROM events WHERE kind IN ({marks})", list(kinds)  # noqa: S608
    if student is not None:
        sql += " AND student IN (?, '')"
        args.append(student)
    if assignment_id is not None:
        sql += " AND assignment_id IN (?, '')"
        args.append(assignment_id)
    return [_event(r) for r in db.execute(sql + " ORDER BY id", args)]


def current(db: sqlite3.Connection, family: str) -> dict[tuple[str, str, str], Event]:
    """The latest event per (student, assignment, target) of one family."""
    out: dict[tuple[str, str, str], Event] = {}
    for r in db.execute("SELECT * FROM events WHERE family=? ORDER BY id", (family,)):
        e = _event(r)
        out[(e.student, e.assignment_id, e.target)] = e
    return out


def migrate_overrides(db: sqlite3.Connection) -> int:
    """Schema 2 → 3: every row of the old ``overrides`` table becomes an ``override`` event (same author, time,
    comment; ids in the same order). The old table is kept, no longer written. Returns how many were moved."""
    rows = db.execute("SELECT * FROM overrides ORDER BY id").fetchall()
    previous: dict[tuple[str, str, str], str] = {}
    for r in rows:
        key = (r["student"], r["assignment_id"], r["check_id"])
        new = json.dumps({"points": float(r["points"])})
        db.execute("INSERT INTO events (time, author, kind, family, student, assignment_id, target, old, new, why)"
                   " VALUES (?,?,?,?,?,?,?,?,?,?)", (r["created_at"], r["author"], "override", "grade", key[0],
                                                    key[1], key[2], previous.get(key), new, r["comment"]))
        previous[key] = new
    return len(rows)
