"""A course gradebook: one row per student, one column per assignment, totals (one gradebook, several homework).

Built from the latest result of every (student, assignment) in the gradebook (overrides applied); the course
page (:mod:`grader.report.course`) and the whole-course CSV read the same rows.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class CourseCell:
    """One student's standing in one assignment."""

    auto: float
    pending: float
    max: float
    status: str
    submission: str         # the submission id (its page is ``<assignment>/students/<page>``)
    penalty: float = 0.0    # the late penalty (store/late.py), taken from ``auto`` in the total


@dataclass(frozen=True)
class CourseRow:
    """One student across the course; ``total`` counts auto points (overrides included) less late penalties,
    not pending ones."""

    student: str
    cells: dict[str, CourseCell] = field(default_factory=dict)

    def total(self) -> float:
        return round(sum(c.auto - c.penalty for c in self.cells.values()), 2)


def _assignment_of(result: dict[str, Any]) -> str:
    return str((result.get("versions") or {}).get("assignment") or "?")


def course_rows(results: list[dict[str, Any]]) -> list[CourseRow]:
    """Rows for the course page, sorted by student id (results of any assignments, latest per student each)."""
    rows: dict[str, dict[str, CourseCell]] = {}
    for r in results:
        sub = r.get("submission") or {}
        score = r.get("score") or {}
        rows.setdefault(str(sub.get("id")), {})[_assignment_of(r)] = CourseCell(
            float(score.get("auto") or 0.0), float(score.get("pending_manual") or 0.0), float(score.get("max") or 0.0),
            str(r.get("status")), str(sub.get("id")), float(score.get("penalty") or 0.0))
    return [CourseRow(s, cells) for s, cells in sorted(rows.items())]


def assignment_maxima(results: list[dict[str, Any]]) -> dict[str, float]:
    """Each assignment's maximum points (the largest ``score.max`` among its results), in first-seen order."""
    out: dict[str, float] = {}
    for r in results:
        aid = _assignment_of(r)
        out[aid] = max(out.get(aid, 0.0), float((r.get("score") or {}).get("max") or 0.0))
    return out


def export_course_csv(results: list[dict[str, Any]], path: Path, order: list[str] | None = None) -> Path:
    """``student, <assignment> (auto), <assignment> pending, <assignment> penalty, ..., total (after late
    penalties), total_max`` — one row per student;
    an assignment a student did not hand in is blank (0 towards the total)."""
    maxima = assignment_maxima(results)
    ids = [a for a in (order or []) if a in maxima] + sorted(a for a in maxima if a not in (order or []))
    header = ["student", *[f"{a}" for a in ids], *[f"{a} pending" for a in ids], *[f"{a} penalty" for a in ids],
              "total", "total_max"]
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(header)
        for row in course_rows(results):
            cells = [row.cells.get(a) for a in ids]
            w.writerow([row.student, *[f"{c.auto:g}" if c else "" for c in cells],
                        *[f"{c.pending:g}" if c else "" for c in cells],
                        *[f"{c.penalty:g}" if c else "" for c in cells], f"{row.total():g}",
                        f"{sum(maxima[a] for a in ids):g}"])
    return path
