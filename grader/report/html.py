"""Self-contained HTML reports from result dicts: one page per student and a class overview.

Pages have no external assets: CSS and the few lines of JS are inline, plots are inline SVG. The library
never prints; ``write_reports`` returns the paths it wrote.
"""

from __future__ import annotations

import os
import re
import tempfile
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

import jinja2

from grader.report import figures, i18n, view
from grader.report.similarity import shown_pairs, write_pair_pages
from grader.store.similarity import read_similarity
from grader.text import in_lang

if TYPE_CHECKING:
    from grader.assignment import Assignment

TEMPLATES = Path(__file__).resolve().parent / "templates"
_SAFE_ID = re.compile(r"[^A-Za-z0-9._-]+")


def _env() -> jinja2.Environment:
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(str(TEMPLATES)),
                             autoescape=jinja2.select_autoescape(["html", "j2"], default=True),
                             undefined=jinja2.ChainableUndefined, trim_blocks=True, lstrip_blocks=True)
    env.filters["pts"] = _points
    env.filters["pct"] = lambda v: "–" if v is None else f"{100 * float(v):.1f} %"
    env.filters["acc"] = lambda v: "–" if v is None else f"{float(v):.4f}"
    env.globals["flag_name"] = i18n.flag_name
    return env


def _points(value: Any) -> str:
    """Points without a useless ``.0``."""
    if value is None:
        return "–"
    v = float(value)
    return f"{v:.0f}" if v == int(v) else f"{v:.1f}"


def page_name(submission_id: str) -> str:
    """File name of a student's page (the submission id, made safe for a file name)."""
    return (_SAFE_ID.sub("_", submission_id).strip("._") or "submission") + ".html"


def _student_context(result: dict[str, Any], baseline: dict[str, Any] | None, lang: str,
                     assignment: Assignment) -> dict[str, Any]:
    t = i18n.strings(lang)
    runs = [r for r in result.get("runs") or [] if isinstance(r, dict)]
    total, pending = view.total_score(result)
    message, message_cut = view.truncate(view.localized(result, "message", lang), view.MAX_TRACEBACK,
                                         keep_end=False)
    return {
        "t": t, "lang": lang, "r": result, "sub": result.get("submission") or {},
        "assignment_title": in_lang(assignment.title, lang),
        "score": result.get("score") or {}, "total": total, "pending": pending,
        "status_label": i18n.status_label(result.get("status", "?"), lang),
        "message": message, "message_cut": message_cut, "tasks": view.tasks_view(result, lang, assignment),
        "diagnoses": view.diagnoses_view(result, lang),
        "flags": view.flags_view(result, lang), "errors": view.errors_view(result),
        "arch": [view.arch_row(r, lang) for r in runs],
        "curves": [c for c in (figures.run_curve(r, baseline, t, color)
                               for r, color in zip(runs, figures.run_colors(runs), strict=False)) if c],
        "pairs": figures.run_pairs(assignment.figures, result, runs, baseline, t, lang),
        "gradflow": figures.gradient_flow(runs, t),
        "versions": result.get("versions") or {}, "data": result.get("data") or {},
        "has_baseline": baseline is not None,
        "steps_only": any(r.get("has_epochs") is False for r in runs), "sandbox": view.sandbox_line(result),
        "fallback_note": view.fallback_note(result, lang), "late": view.late_view(result, lang),
    }


def render_student(result: dict[str, Any], baseline: dict[str, Any] | None, lang: str, assignment: Assignment,
                   preview: str | None = None) -> str:
    """One student's report as a single self-contained HTML page in ``lang`` (task titles, hints and figures
    from ``assignment``; ``preview``: a self-check's notice)."""
    i18n.check_lang(lang)
    return _env().get_template("student.html.j2").render(**_student_context(result, baseline, lang, assignment),
                                                         preview=preview)


def write_student_page(result: dict[str, Any], path: Path, baseline: dict[str, Any] | None, lang: str,
                       assignment: Assignment, preview: str | None = None) -> Path:
    """Write one student's page to ``path`` (atomically) and return it."""
    _write_atomic(path, render_student(result, baseline, lang, assignment, preview))
    return path


def _class_context(results: list[dict[str, Any]], baseline: dict[str, Any] | None, lang: str,
                   assignment: Assignment, meta: dict[str, Any] | None) -> dict[str, Any]:
    t = i18n.strings(lang)
    rows = view.class_rows(results, lang, assignment)
    for row in rows:
        row["href"] = "students/" + page_name(row["id"])
    task_ids = list(dict.fromkeys(tid for row in rows for tid in row["tasks"]))
    meta = dict(meta or {})
    sum_s = sum(float((r.get("timings") or {}).get("total_s") or 0.0) for r in results)
    reference = assignment.report.accuracy_reference
    band = view.accuracy_band(baseline, reference)
    return {
        "t": t, "lang": lang, "rows": rows, "task_ids": task_ids, "task_title": assignment.task_title,
        "assignment_title": in_lang(assignment.title, lang),
        "mean": (sum(r["score"] for r in rows) / len(rows)) if rows else None,
        "hist": figures.score_histogram(rows, t) if rows else "",
        "acc_hist": figures.accuracy_histogram(rows, band, t) if rows else "",
        "acc_band": band, "acc_note": t["acc_note"].format(ref=reference or ""), "rates": view.pass_rates(results),
        "failures": view.common_failures(results, lang), "not_run": view.not_run(results, lang),
        "error_split": view.error_split(results, lang),
        "elapsed_s": meta.get("elapsed_s"), "sum_s": sum_s, "has_late": any(row["late"] for row in rows),
        "released": next((r["released"] for r in results if r.get("released")), None),
        "similarity": shown_pairs(meta.get("similarity")), "has_similarity": bool(meta.get("similarity")),
        "generated_at": meta.get("generated_at") or datetime.now(timezone.utc).isoformat(timespec="seconds"),
    }


def render_class(results: list[dict[str, Any]], baseline: dict[str, Any] | None, lang: str,
                 assignment: Assignment, meta: dict[str, Any] | None = None) -> str:
    """The class overview page (``index.html``) in ``lang``; ``meta`` may hold ``elapsed_s`` and ``generated_at``."""
    i18n.check_lang(lang)
    return _env().get_template("class.html.j2").render(**_class_context(results, baseline, lang, assignment, meta))


def _write_atomic(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_reports(results: list[dict[str, Any]], out_dir: Path, baseline: dict[str, Any] | None, lang: str,
                  assignment: Assignment, meta: dict[str, Any] | None = None) -> list[Path]:
    """Write ``out_dir/index.html`` and ``out_dir/students/<submission id>.html`` in ``lang`` for results of
    ``assignment``; return the paths written."""
    i18n.check_lang(lang)
    out_dir = Path(out_dir)
    written = []
    for result in results:
        sub_id = (result.get("submission") or {}).get("id", "submission")
        path = out_dir / "students" / page_name(sub_id)
        _write_atomic(path, render_student(result, baseline, lang, assignment))
        written.append(path)
    meta = dict(meta or {})
    meta.setdefault("similarity", read_similarity(out_dir))
    if meta["similarity"] and meta["similarity"].get("code"):
        written += write_pair_pages(meta["similarity"], out_dir, lang)
    index = out_dir / "index.html"
    _write_atomic(index, render_class(results, baseline, lang, assignment, meta))
    return [index, *written]
