"""The review app's pages (Jinja2, autoescaped): the queues, one answer with its evidence, the flags queue.

Student text reaches a page only through :func:`grader.review.markdown.render` (escaped first) or Jinja's
autoescape; the one ``|safe`` value besides it is the grader's own SVG chart. No inline script: the pages load
``/static/review.js`` and read their data from ``data-*`` attributes (the CSP forbids anything else).
"""

from __future__ import annotations

import re
from functools import lru_cache
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, select_autoescape

from grader.report import plots
from grader.review import markdown
from grader.review.queue import Answer, Queue, epoch_losses, evidence_runs, loss_claim_hint
from grader.text import in_lang

_HERE = Path(__file__).parent
_STYLE = re.compile(r"<style[^>]*>.*?</style>", re.S)

LABELS: dict[str, dict[str, str]] = {
    "title": {"en": "Review", "ko": "검토"},
    "questions": {"en": "Written answers by question", "ko": "문항별 서술형 답안"},
    "flags": {"en": "Integrity flags and unverified runs", "ko": "무결성 경고와 검증되지 않은 학습"},
    "left": {"en": "left", "ko": "남음"},
    "total_left": {"en": "answers left in total", "ko": "전체 남은 답안"},
    "answer": {"en": "Answer", "ko": "답안"},
    "no_answer": {"en": "(no written answer found)", "ko": "(작성한 답을 찾지 못함)"},
    "evidence": {"en": "What the grader recorded", "ko": "채점기가 기록한 것"},
    "rubric": {"en": "Rubric", "ko": "채점 기준"},
    "comment": {"en": "Comment to the student", "ko": "학생에게 남길 말"},
    "bank": {"en": "Saved comments", "ko": "저장된 코멘트"},
    "save": {"en": "Save", "ko": "저장"},
    "shortcuts": {"en": "Keys: 1–9 rubric items · n/p next/previous · u next ungraded · c comment · h names",
             "ko": "키: 1–9 채점 항목 · n/p 다음/이전 · u 다음 미채점 · c 코멘트 · h 이름"},
    "graded": {"en": "graded", "ko": "채점됨"},
    "ungraded": {"en": "not graded yet", "ko": "아직 채점 안 됨"},
    "names": {"en": "Show names", "ko": "이름 보기"},
    "hint": {"en": "Hint (not a grade)", "ko": "힌트 (점수 아님)"},
    "run": {"en": "run", "ko": "실행"}, "first": {"en": "first epoch loss", "ko": "첫 epoch loss"},
    "last": {"en": "last epoch loss", "ko": "마지막 epoch loss"},
    "ratio": {"en": "gradient ratio first/last layer at init", "ko": "초기 첫 층/마지막 층 기울기 비"},
    "proof": {"en": "proof of training", "ko": "학습 증명"},
    "add_item": {"en": "Add or edit an item", "ko": "항목 추가/수정"},
    "uphold": {"en": "Uphold", "ko": "유지"}, "dismiss": {"en": "Dismiss (give the points back)",
                                                        "ko": "기각 (점수 되돌림)"},
    "reason": {"en": "Reason (required)", "ko": "이유 (필수)"}, "decision": {"en": "decision", "ko": "결정"},
    "voided": {"en": "points taken by flags", "ko": "경고로 빠진 점수"},
    "back": {"en": "All queues", "ko": "전체 목록"},
    "adjust": {"en": "Points added to the items (may be negative)", "ko": "항목 점수에 더할 점수 (음수 가능)"},
}


@lru_cache(maxsize=1)
def _env() -> Environment:
    env = Environment(loader=FileSystemLoader(str(_HERE / "templates")), autoescape=select_autoescape(["j2"]),
                      trim_blocks=True, lstrip_blocks=True)
    env.filters["md"] = markdown.render
    return env


def _t(lang: str) -> dict[str, str]:
    return {k: v.get(lang, v["en"]) for k, v in LABELS.items()}


def page(name: str, lang: str, csrf: str, **values: Any) -> str:
    """One template rendered with the labels of ``lang`` and the session's CSRF token."""
    return _env().get_template(name).render(t=_t(lang), lang=lang, csrf=csrf, in_lang=in_lang, **values)


def index(queues: list[Queue], flagged: list[dict[str, Any]], lang: str, csrf: str) -> str:
    """The start page: every queue with its counter, the total left, the flags queue."""
    return page("index.html.j2", lang, csrf, queues=queues, total_left=sum(q.left for q in queues),
                flagged=flagged)


def loss_chart(runs: list[dict[str, Any]]) -> str:
    """The runs' mean loss per epoch in one chart (the grader's SVG, text left to the browser's fonts)."""
    series = [plots.Series(f"run {r.get('index')}", list(range(1, len(ls) + 1)), ls, plots.PALETTE[i % 8],
                           markers=True, marker=plots.MARKERS[i % 8])
              for i, r in enumerate(runs) if (ls := epoch_losses(r))]
    if not series:
        return ""
    svg = plots.line_chart(series, x_label="epoch", y_label="loss", width=520, height=280)
    return _STYLE.sub("", svg)  # matplotlib's one <style> rule is in review.css (the CSP allows no inline <style>)


def run_rows(runs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One line of numbers per run: optimizer, first/last epoch loss, gradient ratio, proof status."""
    rows = []
    for r in runs:
        ls = epoch_losses(r)
        ratio = (r.get("gradient_flow") or {}).get("init_ratio")
        rows.append({"index": r.get("index"), "optimizer": (r.get("optimizer") or {}).get("class", "?"),
                     "first": f"{ls[0]:.4f}" if ls else "—", "last": f"{ls[-1]:.4f}" if ls else "—",
                     "ratio": f"{float(ratio):.3g}" if isinstance(ratio, (int, float)) else "—",
                     "proof": (r.get("proof") or {}).get("status", "—"), "epochs": len(ls)})
    return rows


def answer_page(q: Queue, pos: int, items: list[dict[str, Any]], bank: list[str], prompt: str, lang: str,
                csrf: str, total_left: int, groups: tuple[tuple[str, ...], ...] = ()) -> str:
    """One answer of a queue: prompt, the answer (safe Markdown), the evidence, rubric keys, comment box
    (``groups``: checks whose runs belong together, the assignment's figures)."""
    a: Answer = q.answers[pos]
    runs = evidence_runs(a.result, a.check, groups)
    override = a.check.get("override") or {}
    applied = {i["id"] for i in override.get("rubric_items") or []}
    return page("answer.html.j2", lang, csrf, q=q, a=a, pos=pos, n=len(q.answers), prompt=prompt,
                chart=loss_chart(runs), rows=run_rows(runs), hint=loss_claim_hint(a.text, runs),
                items=items, applied=applied, override=override, bank=bank, total_left=total_left)


def flags_page(results: list[dict[str, Any]], lang: str, csrf: str) -> str:
    """The flags queue: each flagged submission with its flags, their evidence and the decision form."""
    entries = []
    for r in results:
        voided = sum(float(c.get("voided_points") or 0) for c in r.get("checks", []) if c.get("voided_by"))
        entries.append({"student": r["submission"]["id"],
                        "assignment": (r.get("versions") or {}).get("assignment", ""),
                        "flags": r.get("flags") or [], "dismissed": r.get("dismissed_flags") or [],
                        "voided": voided, "score": r.get("score") or {}, "rows": run_rows(r.get("runs") or [])})
    return page("flags.html.j2", lang, csrf, entries=entries)
