"""The course page: one row per student, one column per assignment, totals, links to every page.

Written at the top of a reports folder whose assignments each have their own folder (``<id>/index.html``,
``<id>/students/<student>.html``); self-contained like the other pages.
"""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from grader.report import i18n
from grader.report.html import _env, _write_atomic, page_name
from grader.store.course import CourseRow, assignment_maxima, course_rows


def render_course(results: list[dict[str, Any]], titles: dict[str, str], lang: str, course_title: str = "",
                  order: list[str] | None = None) -> str:
    """The course page's HTML for the latest results of every assignment (``titles``: assignment id -> title)."""
    t = i18n.strings(lang)
    maxima = assignment_maxima(results)
    ids = [a for a in (order or []) if a in maxima] + sorted(a for a in maxima if a not in (order or []))
    rows: list[CourseRow] = course_rows(results)
    total_max = sum(maxima[a] for a in ids)
    return _env().get_template("course.html.j2").render(
        t=t, lang=lang, course_title=course_title, rows=rows, ids=ids, titles=titles, maxima=maxima,
        total_max=total_max, page_name=page_name,
        generated_at=datetime.now(timezone.utc).isoformat(timespec="minutes"),
        status_label=lambda s: i18n.status_label(s, lang))


def write_course(results: list[dict[str, Any]], out_dir: Path, titles: dict[str, str], lang: str,
                 course_title: str = "", order: list[str] | None = None) -> Path:
    """Write ``out_dir/index.html`` (the course page) and return its path."""
    path = Path(out_dir) / "index.html"
    _write_atomic(path, render_course(results, titles, lang, course_title, order))
    return path
