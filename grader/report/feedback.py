"""Feedback release: one folder per student holding only that student's page and a short summary.

Each folder is self-contained and names nobody else: the student page rendered without the reference baseline
(no curves or bands from the instructor's solution, no class statistics), and a ``FEEDBACK.md`` summary in the
course language (score, late penalty, what to look at). ``--into-roster`` copies both into the student's
repository clone (``ROSTER/<student>/feedback/``) ready to commit; a student without a clone is reported.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from grader.assignment import Assignment
from grader.report import i18n
from grader.report.html import _write_atomic, page_name, render_student
from grader.report.view import late_view, localized, total_score

FOLDER_FILES = ("index.html", "FEEDBACK.md")


def _private(result: dict[str, Any]) -> dict[str, Any]:
    """A copy without what only the instructor sees (the submission's path on the grading machine)."""
    sub = {k: v for k, v in (result.get("submission") or {}).items() if k != "path"}
    return {**result, "submission": sub}


def summary(result: dict[str, Any], assignment: Assignment, lang: str) -> str:
    """The short Markdown summary of one student's result in ``lang``."""
    t = i18n.strings(lang)
    total, pending = total_score(result)
    score = result.get("score") or {}
    lines = [f"# {assignment.title.get(lang) or assignment.title['en']} · {result['submission']['id']}", "",
             f"- {t['score']}: {total:g} / {float(score.get('max') or 0):g}"
             + (f" (+{pending:g} {t['manual_pending']})" if pending else "")]
    late = late_view(result, lang)
    if late:
        lines.append(f"- {t['days_late']}: {late['days']} · {t['penalty']}: {late['penalty']:g} · "
                     f"{t['after_penalty']}: {late['total']:g}")
        if late["note"]:
            lines.append(f"- {late['note']}")
    failed = [c for c in result.get("checks") or [] if c.get("status") in ("fail", "partial", "error")]
    lines += [f"- `{c['id']}` {c.get('points', 0):g}/{c.get('max', 0):g}: {localized(c, 'message', lang)}"
              for c in failed]
    return "\n".join(lines) + "\n"


def write_feedback(results: list[dict[str, Any]], out: Path, assignment: Assignment, lang: str,
                   roster: Path | None = None) -> tuple[list[Path], list[str]]:
    """``out/<student>/index.html`` + ``FEEDBACK.md`` per result (and into ``roster/<student>/feedback/``);
    returns the folders written and the students whose clone was not found."""
    folders, missing = [], []
    for r in results:
        student = str(r["submission"]["id"])
        page = render_student(_private(r), None, lang, assignment)
        text = summary(r, assignment, lang)
        targets = [out / page_name(student)[:-5]]
        if roster is not None:
            if (roster / student).is_dir():
                targets.append(roster / student / "feedback")
            else:
                missing.append(student)
        for folder in targets:
            _write_atomic(folder / "index.html", page)
            _write_atomic(folder / "FEEDBACK.md", text)
        folders.append(targets[0])
    return folders, missing
