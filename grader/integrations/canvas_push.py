"""Grades into Canvas through ``canvasapi`` (optional extra ``canvas``): bulk, idempotent, mapped by login/SIS id.

The roster file maps the grader's student ids to Canvas: a CSV with a ``student`` column and ``login_id`` and/or
``sis_user_id``. The course's students are read (``GET courses/:id/search_users``) to find each one's Canvas user
id, the assignment's current grades are read (``GET .../submissions``), and only the grades that differ are posted
in one ``submissions_bulk_update`` (``POST .../submissions/update_grades``) with a comment naming the total and
the late penalty — a re-push with nothing changed posts nothing. ``dry_run`` reads but never writes.
The grade posted is the total after the late penalty (``score.after_penalty``, else ``score.auto``).
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from grader.errors import UsageError


@dataclass(frozen=True)
class Change:
    """One student's grade as Canvas has it and as the gradebook says it should be."""

    student: str
    canvas_id: int
    current: float | None
    new: float
    comment: str


def read_roster(path: Path, students: set[str]) -> dict[str, dict[str, str]]:
    """student → {"login_id", "sis_user_id"} (either may be empty); UsageError naming each bad line."""
    try:
        rows = list(csv.reader(path.read_text(encoding="utf-8-sig").splitlines()))
    except OSError as exc:
        raise UsageError(f"{path}: cannot read the roster: {exc.strerror or exc}") from None
    header = [h.strip().lower() for h in rows[0]] if rows else []
    if "student" not in header or not {"login_id", "sis_user_id"} & set(header):
        raise UsageError(f"{path}:1: the header must name student and login_id and/or sis_user_id (found {header})")
    out: dict[str, dict[str, str]] = {}
    problems = []
    for n, row in enumerate(rows[1:], start=2):
        cells = dict(zip(header, (c.strip() for c in row), strict=False))
        s = cells.get("student", "")
        if not s:
            continue
        if s in out:
            problems.append(f"{path}:{n}: student {s!r} listed again")
        ids = {k: cells.get(k, "") for k in ("login_id", "sis_user_id")}
        if not any(ids.values()):
            problems.append(f"{path}:{n}: {s!r} has neither a login_id nor a sis_user_id")
        out[s] = ids
    absent = sorted(students - set(out))
    if absent:
        problems.append(f"{path}: no row for graded student(s) {', '.join(absent)}")
    if problems:
        raise UsageError("the roster has problems (nothing was pushed):\n  " + "\n  ".join(problems))
    return out


def _grade(result: dict[str, Any]) -> float:
    score = result.get("score") or {}
    return round(float(score.get("after_penalty", score.get("auto") or 0.0)), 2)


def _comment(result: dict[str, Any]) -> str:
    score, late = result.get("score") or {}, result.get("late") or {}
    text = f"grader: {_grade(result):g} / {float(score.get('max') or 0):g}"
    if late.get("penalty"):
        text += f" (late {late.get('days_late')} day(s): −{float(late['penalty']):g})"
    return text


def plan(results: list[dict[str, Any]], roster: dict[str, dict[str, str]], users: list[Any],
         current: dict[int, float | None]) -> tuple[list[Change], list[str]]:
    """The changes (grade differs from Canvas's) and the students not found among the course's users."""
    by_login = {str(getattr(u, "login_id", "") or ""): u.id for u in users}
    by_sis = {str(getattr(u, "sis_user_id", "") or ""): u.id for u in users}
    changes, unmatched = [], []
    for r in results:
        student = str(r["submission"]["id"])
        ids = roster.get(student, {})
        uid = by_login.get(ids.get("login_id") or "\0") or by_sis.get(ids.get("sis_user_id") or "\0")
        if uid is None:
            unmatched.append(student)
            continue
        now, new = current.get(uid), _grade(r)
        if now is None or abs(float(now) - new) > 1e-6:
            changes.append(Change(student, int(uid), now, new, _comment(r)))
    return changes, unmatched


def push(results: list[dict[str, Any]], roster: dict[str, dict[str, str]], url: str, token: str,
         course_id: str, assignment_id: str, dry_run: bool = False) -> dict[str, Any]:
    """Read the course's students and current grades, post the changed ones in bulk (unless ``dry_run``)."""
    try:
        from canvasapi import Canvas
    except ImportError:
        raise UsageError("pushing to Canvas needs canvasapi: pip install 'grader[canvas]'") from None
    canvas = Canvas(url.rstrip("/"), token)
    course = canvas.get_course(course_id)
    assignment = course.get_assignment(assignment_id)
    users = list(course.get_users(enrollment_type=["student"]))
    current = {int(s.user_id): getattr(s, "score", None) for s in assignment.get_submissions()}
    changes, unmatched = plan(results, roster, users, current)
    progress = None
    if changes and not dry_run:
        grade_data = {str(c.canvas_id): {"posted_grade": f"{c.new:g}", "text_comment": c.comment} for c in changes}
        progress = assignment.submissions_bulk_update(grade_data=grade_data)
    return {"changes": changes, "unchanged": len(results) - len(changes) - len(unmatched), "unmatched": unmatched,
            "progress": getattr(progress, "id", None), "dry_run": dry_run}
