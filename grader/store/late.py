"""Submission times, extensions and the late penalty, kept in the gradebook's event log.

Times come only from sources the student does not control: a times file (``grader batch --times``, e.g. the LMS
export: ``student,submitted_at``) or the LMS download's own naming (Canvas puts ``LATE`` in a late file's name,
without a time). A commit's committer date or a file's mtime is never used: without a trusted time the result says
"time unknown", takes nothing and says why. An extension (``grader extend``) moves the due time (and
``late_until``) by its days; the latest extension event of a student wins (it is the total granted, not an
increment). A ``late_override`` event sets the points taken by hand. The penalty is the fraction of the *earned*
points (``score.auto``) the policy takes; it is written next to the score (``late`` + ``score.penalty`` +
``score.after_penalty``) and never changes a check result.
"""

from __future__ import annotations

import csv
import re
import sqlite3
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from grader.assignment.deadline import Deadline, late_policy, parse_time
from grader.errors import UsageError
from grader.store import events as ev
from grader.text import text

if TYPE_CHECKING:
    from grader.store.gradebook import Gradebook

CANVAS_LATE = re.compile(r"(^|[_\-\s])LATE([_\-\s]|$)")
TIMES_AUTHOR = "grader batch --times"


def read_times(path: Path, known: set[str]) -> dict[str, dict[str, Any]]:
    """``student,submitted_at`` rows → {student: {"time", "source"}}; one UsageError listing every bad line
    (unknown student, a time that does not parse or has no offset, a student listed twice) by its line number."""
    try:
        lines = path.read_text(encoding="utf-8-sig").splitlines()
    except OSError as exc:
        raise UsageError(f"{path}: cannot read the times file: {exc.strerror or exc}") from None
    rows = list(csv.reader(lines))
    header = [h.strip().lower() for h in rows[0]] if rows else []
    if "student" not in header or "submitted_at" not in header:
        raise UsageError(f"{path}:1: the header must name the columns student,submitted_at (found {header})")
    si, ti = header.index("student"), header.index("submitted_at")
    out: dict[str, dict[str, Any]] = {}
    seen: dict[str, int] = {}
    problems: list[str] = []
    for n, row in enumerate(rows[1:], start=2):
        if not any(cell.strip() for cell in row):
            continue
        if len(row) <= max(si, ti):
            problems.append(f"{path}:{n}: expected student,submitted_at, found {','.join(row)!r}")
            continue
        student, raw = row[si].strip(), row[ti].strip()
        if student not in known:
            problems.append(f"{path}:{n}: unknown student {student!r} (not among the submissions)")
            continue
        if student in seen:
            problems.append(f"{path}:{n}: student {student!r} listed again (first on line {seen[student]})")
            continue
        try:
            when = parse_time(raw, f"{path}:{n}")
        except ValueError as exc:
            problems.append(str(exc))
            continue
        seen[student] = n
        out[student] = {"time": when.isoformat(), "source": f"{path.name}:{n}"}
    if problems:
        raise UsageError("the times file has problems (nothing was graded or changed):\n  " + "\n  ".join(problems))
    return out


def canvas_marks(sources: dict[str, str]) -> dict[str, dict[str, Any]]:
    """Students whose Canvas download name carries ``LATE`` (student → source name): late, time unknown."""
    return {s: {"time": None, "source": f"Canvas file name {Path(src).name}", "late_marker": True}
            for s, src in sources.items() if CANVAS_LATE.search(Path(src).name)}


def record_times(db: sqlite3.Connection, now: str, assignment_id: str, times: dict[str, dict[str, Any]],
                 author: str = TIMES_AUTHOR) -> int:
    """One ``submitted_at`` event per student whose time changed (re-running with the same file adds nothing);
    a time from a file is never replaced by a Canvas marker. Returns how many were added."""
    added = 0
    for student, new in sorted(times.items()):
        latest = ev.latest_on(db, "submitted_at", student, assignment_id, "")
        if latest is not None and (latest.new == new or (new.get("late_marker") and latest.new.get("time"))):
            continue
        ev.append(db, now, author, "submitted_at", student, assignment_id, "", new, why=str(new.get("source", "")))
        added += 1
    return added


class LateBook:
    """The time/extension/late-override events of a gradebook, read once, applied to results."""

    def __init__(self, db: sqlite3.Connection, deadlines: dict[str, Deadline | None]) -> None:
        self.deadlines = deadlines
        self.times = ev.current(db, "time")
        self.extensions = ev.current(db, "extension")
        self.overrides = ev.current(db, "late")
        self.released = ev.current(db, "release")

    def deadline(self, assignment_id: str) -> Deadline | None:
        """The assignment's ``[deadline]`` (None when it has none or is not installed here)."""
        if assignment_id not in self.deadlines:
            from grader.assignment import available, load_assignment

            self.deadlines[assignment_id] = (load_assignment(assignment_id).deadline
                                             if assignment_id in available() else None)
        return self.deadlines[assignment_id]

    def apply(self, student: str, assignment_id: str, result: dict[str, Any]) -> dict[str, Any]:
        """``result`` with ``late`` and ``score.penalty``/``after_penalty`` (nothing without a deadline)."""
        release = self.released.get(("", assignment_id, ""))
        if release is not None and release.new.get("released"):
            result["released"] = {"time": release.time, "author": release.author}
        deadline = self.deadline(assignment_id)
        if deadline is None or not result.get("score"):
            return result
        key = (student, assignment_id, "")
        time, ext, over = self.times.get(key), self.extensions.get(key), self.overrides.get(key)
        late = late_record(deadline, time.new if time else None, float(ext.new["days"]) if ext else 0.0,
                           float(result["score"].get("auto", 0.0)))
        if ext is not None:
            late["extension"] = {"days": float(ext.new["days"]), "author": ext.author, "why": ext.why,
                                 "time": ext.time, "event": ext.id}
        if over is not None:
            earned = float(result["score"].get("auto", 0.0))
            late["override"] = {"policy_penalty": late["penalty"], "author": over.author, "why": over.why,
                                "time": over.time, "event": over.id}
            late["penalty"] = round(min(max(float(over.new["penalty"]), 0.0), earned), 4)
        result["late"] = late
        result["score"] = {**result["score"], "penalty": late["penalty"],
                           "after_penalty": round(float(result["score"].get("auto", 0.0)) - late["penalty"], 4)}
        return result


def late_record(deadline: Deadline, time: dict[str, Any] | None, extension_days: float,
                earned: float) -> dict[str, Any]:
    """What the pages and exports show: submitted time + source, days late, points taken, a note when the time
    is unknown (no trusted source) or known only as "late" (a Canvas marker)."""
    base: dict[str, Any] = {"due": deadline.due.isoformat(), "submitted_at": None, "source": None,
                            "days_late": None, "fraction": 0.0, "penalty": 0.0}
    if time is None or not time.get("time"):
        marker = bool(time and time.get("late_marker"))
        base["source"] = time.get("source") if time else None
        base["note"] = text(
            "marked LATE by the LMS download but without a time: no penalty until a times file "
            "(grader batch --times) gives one" if marker else
            "submission time unknown (no times file or LMS time; commit dates and file times are not trusted): "
            "no penalty",
            "LMS 다운로드에 LATE 표시는 있으나 시각이 없어 감점하지 않음 (grader batch --times로 시각을 주세요)"
            if marker else
            "제출 시각을 알 수 없음 (시각 파일·LMS 시각 없음; 커밋 날짜와 파일 시각은 믿지 않음): 감점 없음")
        base["time"] = "unknown"
        return base
    policy = late_policy(deadline, datetime.fromisoformat(time["time"]), extension_days)
    penalty = round(earned * policy["fraction"], 4)
    return {**base, "submitted_at": time["time"], "source": time.get("source"), "due": policy["due"],
            "days_late": policy["days_late"], "fraction": policy["fraction"], "penalty": penalty,
            "zero": policy["zero"]}


def late_columns(r: dict[str, Any]) -> dict[str, Any]:
    """The export columns: ``days_late`` (None: no deadline or time unknown), ``penalty``, ``total`` (earned −
    penalty)."""
    s, late = r.get("score") or {}, r.get("late") or {}
    return {"days_late": late.get("days_late"), "penalty": float(s.get("penalty", 0.0)),
            "total": float(s.get("after_penalty", s.get("auto", 0.0)))}


def extend(gb: Gradebook, student: str, days: float, author: str, why: str = "",
           assignment_id: str | None = None) -> ev.Event:
    """Grant ``student`` an extension of ``days`` in total (an ``extension`` event; the latest one counts);
    UsageError for a student without a result in the gradebook or a negative number of days."""
    if days < 0:
        raise UsageError(f"--days must not be negative, not {days:g}")
    target = gb._override_target(student, assignment_id)  # names the known students when this one is not
    return gb.add_event("extension", author, student, target["assignment_id"], "", {"days": float(days)}, why)


def set_penalty(gb: Gradebook, student: str, points: float, author: str, why: str,
                assignment_id: str | None = None) -> ev.Event:
    """Override the late penalty of ``student`` (points taken, ≥ 0; a ``late_override`` event needing a why)."""
    if points < 0:
        raise UsageError(f"a penalty is points taken and must not be negative, not {points:g}")
    if not why.strip():
        raise UsageError("a penalty override needs --why")
    target = gb._override_target(student, assignment_id)
    return gb.add_event("late_override", author, student, target["assignment_id"], "", {"penalty": float(points)}, why)
