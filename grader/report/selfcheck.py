"""The student's self-check in words: what passed, what failed and how to fix it, what is pending.

Same result dict as instructor grading; this module only chooses what a student needs to read, in
Korean or English (check and flag messages from the result's ``messages``, task titles and hints from the
assignment), and is honest that a self-check is a preview (maybe a data subset, maybe another device).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from grader.report import i18n
from grader.report.view import localized
from grader.text import in_lang

if TYPE_CHECKING:
    from grader.assignment import Assignment

_TEXT: dict[str, dict[str, str]] = {
    "head": {"ko": "자가 점검 결과 (미리보기): {id}", "en": "Self-check (preview): {id}"},
    "score": {"ko": "자동 채점 점수 {auto}/{max}", "en": "Auto-graded score {auto}/{max}"},
    "pending": {"ko": " · 강사 검토 대기 {pts}점 ({ids}) — 이 점수는 강사가 매깁니다",
                "en": " · {pts} points pending instructor review ({ids}) — the instructor scores those"},
    "data": {"ko": "데이터: {mode}", "en": "Data: {mode}"},
    "data_counts": {"ko": " (학습 {train:,}개 / 테스트 {test:,}개)", "en": " ({train:,} train / {test:,} test items)"},
    "where": {"ko": "장치: {device} · 걸린 시간 {secs:.0f} 초", "en": "Device: {device} · took {secs:.0f} s"},
    "preview": {"ko": "※ 미리보기입니다. 강사 채점은 다른 데이터나 다른 장치(GPU)에서 실행될 수 있어 수치가 이 결과와 "
                      "다를 수 있습니다.",
                "en": "Note: this is a preview. The instructor's run may use other data or another device (a GPU), "
                      "so the numbers can differ from these."},
    "same_reason": {"ko": "(위와 같은 이유)", "en": "(same reason as above)"},
    "see_below": {"ko": "아래 '학습에서 일어난 일' 참고", "en": "see 'What happened in training' below"},
    "todo": {"ko": "할 일", "en": "To do"},
    "flags": {"ko": "무결성 경고", "en": "Integrity flags"},
    "errors": {"ko": "오류가 난 셀", "en": "Cells that raised errors"},
    "cell": {"ko": "셀", "en": "cell index"},
    "invalid": {"ko": "채점할 수 없는 제출물입니다: {msg}", "en": "This submission cannot be graded: {msg}"},
    "status": {"ko": "실행 상태: {label} — {msg}", "en": "Run status: {label} — {msg}"},
    "all_pass": {"ko": "자동 채점 항목을 모두 통과했습니다.", "en": "Every auto-graded check passed."},
    "manual_later": {"ko": " 수동 채점 항목({ids})은 강사가 읽고 채점합니다.",
                     "en": " The manual checks ({ids}) are read and scored by the instructor."},
}

#: the data line and the preview notice of a data provider, per data mode ("*" = any mode)
_PROVIDER_TEXT: dict[str, dict[str, dict[str, dict[str, str]]]] = {
    "mnist": {
        "subset": {
            "data": {"ko": "데이터: 채점기에 내장된 MNIST 부분집합 (학습 {train:,}장 / 테스트 {test:,}장)",
                     "en": "Data: the grader's embedded MNIST subset ({train:,} train / {test:,} test images)"},
            "preview": {"ko": "※ 미리보기입니다. 강사 채점은 전체 MNIST(학습 60,000 / 테스트 10,000장)로, 경우에 "
                              "따라 GPU 에서 다시 실행하므로 loss 와 정확도 수치는 이 결과와 다를 수 있습니다. "
                              "구조·옵티마이저 같은 항목의 판정은 같습니다.",
                        "en": "Note: this is a preview. The instructor's run uses the full MNIST (60,000 train / "
                              "10,000 test images), maybe on a GPU, so losses and accuracies can differ from these; "
                              "verdicts on structure and optimizer are the same."}},
        "full": {
            "data": {"ko": "데이터: 전체 MNIST (학습 {train:,}장 / 테스트 {test:,}장)",
                     "en": "Data: full MNIST ({train:,} train / {test:,} test images)"},
            "preview": {"ko": "※ 미리보기입니다. 강사 채점은 다른 장치(GPU)에서 실행될 수 있어 수치가 조금 다를 수 "
                              "있습니다.",
                        "en": "Note: this is a preview. The instructor's run may use another device (a GPU), so "
                              "the numbers can differ slightly."}},
    },
}


def _t(key: str, lang: str, **kw: Any) -> str:
    return _TEXT[key][lang].format(**kw)


def _pts(v: float) -> str:
    return f"{v:g}"


def _provider_text(data: dict[str, Any]) -> dict[str, dict[str, str]] | None:
    """The data line and preview notice of the result's data provider and mode (None: use the neutral ones)."""
    modes = _PROVIDER_TEXT.get(str(data.get("provider")))
    if not modes:
        return None
    return modes.get(str(data.get("mode"))) or modes.get("subset")


def preview_notice(result: dict[str, Any], lang: str) -> str:
    """The one-paragraph "this is a preview" notice for the terminal and the HTML page: the data it ran on
    (worded for the result's ``data.provider`` when the grader knows it, neutral otherwise) and why the
    instructor's numbers can differ."""
    i18n.check_lang(lang)
    data = result.get("data") or {}
    train, test = int(data.get("train_images") or 0), int(data.get("test_images") or 0)
    own = _provider_text(data)
    if own is not None:
        return own["data"][lang].format(train=train, test=test) + ". " + own["preview"][lang]
    line = _t("data", lang, mode=data.get("mode") or "–")
    if train or test:
        line += _t("data_counts", lang, train=train, test=test)
    return f"{line}. " + _t("preview", lang)


def _header(result: dict[str, Any], lang: str) -> list[str]:
    s = result.get("score") or {}
    lines = [_t("head", lang, id=(result.get("submission") or {}).get("id", "?"))]
    score = _t("score", lang, auto=_pts(s.get("auto", 0)), max=_pts(s.get("auto_max", 0)))
    pending = [c for c in result.get("checks", []) if c.get("pending")]
    if pending:
        score += _t("pending", lang, pts=_pts(sum(c["max"] for c in pending)),
                    ids=", ".join(c["id"] for c in pending))
    lines.append(score)
    secs = float((result.get("timings") or {}).get("total_s") or 0)
    lines.append(_t("where", lang, device=result.get("device") or "cpu", secs=secs))
    lines.append(preview_notice(result, lang))
    fb = (result.get("data") or {}).get("fallback") or {}
    if fb.get("note"):  # re-graded on the whole data set, or why the quick mode failed a cell
        lines.append("ⓘ " + in_lang(fb["note"], lang))
    return lines


def _shown(message: str, failed: bool, seen: set[str], lang: str) -> str:
    """The message, or "same reason as above" when an earlier check of the task already said it."""
    cause, _, detail = message.partition(": ")
    cause = cause.split(" (")[0]
    said_all, said_detail = message in seen or cause in seen, bool(detail) and detail in seen
    seen.update(x for x in (message, cause, detail) if x)
    if not failed:
        return message
    if said_all:
        return _t("same_reason", lang)
    return f"{cause}: {_t('same_reason', lang)}" if said_detail else message


def _check_lines(check: dict[str, Any], lang: str, seen: set[str], result: dict[str, Any],
                 assignment: Assignment) -> list[str]:
    pts = "?" if check.get("pending") else _pts(check.get("points", 0))
    message = localized(check, "message", lang)
    shown = _shown(message, check["status"] in ("fail", "partial", "error"), seen, lang)
    mark = i18n.STATUS_MARKS.get(check["status"], "?")
    lines = [f"  {mark} {check['id']:<20} {pts:>3}/{_pts(check['max']):<3} {shown}"]
    warning = localized(check, "warning", lang)
    if warning:
        lines.append(f"      ⚠ {warning}")
    causes = [i18n.diagnosis_name(str(d.get("id")), lang) for d in i18n.explained_by(check, result)]
    if causes:
        lines.append(f"      ↳ {i18n.strings(lang)['cause']}: {' · '.join(dict.fromkeys(causes))} "
                     f"({_t('see_below', lang)})")
    hint = assignment.hint(check["id"], lang)
    if check["status"] in ("fail", "partial", "error") and hint and shown == message:
        lines.append(f"      → {_t('todo', lang)}: {hint}")
    return lines


def _tasks(result: dict[str, Any], lang: str, assignment: Assignment) -> list[str]:
    lines: list[str] = []
    checks = result.get("checks") or []
    for task in dict.fromkeys(c["task"] for c in checks):
        mine = [c for c in checks if c["task"] == task]
        got = sum(c["points"] for c in mine if not c.get("pending"))
        auto_max = sum(c["max"] for c in mine if not c.get("manual"))
        lines += ["", f"{assignment.task_title(task, lang)} — {_pts(got)}/{_pts(auto_max)}"]
        seen: set[str] = set()
        for c in mine:
            lines += _check_lines(c, lang, seen, result, assignment)
    return lines


def _diagnoses(result: dict[str, Any], lang: str) -> list[str]:
    """The training-loop doctor's findings ("what happened in training"), errors first."""
    found = result.get("diagnoses") or []
    if not found:
        return []
    lines = ["", f"{i18n.strings(lang)['diagnoses']}:"]
    for d in found:
        lines += ["  " + line for line in i18n.diagnosis_lines(d, lang)]
    return lines


def _problems(result: dict[str, Any], lang: str) -> list[str]:
    lines: list[str] = []
    if result.get("status") not in ("graded", "invalid") and result.get("message"):
        lines += ["", _t("status", lang, label=i18n.status_label(result["status"], lang),
                         msg=localized(result, "message", lang))]
    if result.get("flags"):
        lines += ["", f"{_t('flags', lang)}:"]
        lines += [f"  ⚑ {i18n.flag_name(f['id'], lang)}: {localized(f, 'message', lang)}" for f in result["flags"]]
    if result.get("errors"):
        lines += ["", f"{_t('errors', lang)}:"]
        roots = [e for e in result["errors"] if e.get("follow_on_of") is None]  # follow-ons folded under theirs
        lines += [f"  {_t('cell', lang)} {e['cell_index']}: {e['ename']}: {e['evalue'][:200]}"
                  + _follow(result, e, lang) for e in roots[:5]]
    return lines


def _follow(result: dict[str, Any], err: dict[str, Any], lang: str) -> str:
    """" (+ N follow-on errors)" after an error that later errors only follow from."""
    n = sum(1 for e in result.get("errors") or [] if e.get("follow_on_of") == err.get("cell_index"))
    return f" (+ {i18n.strings(lang)['follow_ons'].format(n=n)})" if n else ""


def summary_text(result: dict[str, Any], lang: str, assignment: Assignment) -> str:
    """The whole self-check summary in ``lang`` as plain text (one string; the CLI prints it); task titles and
    hints come from ``assignment``."""
    i18n.check_lang(lang)
    if result.get("status") == "invalid":
        return "\n".join([_t("head", lang, id=(result.get("submission") or {}).get("id", "?")),
                          _t("invalid", lang, msg=localized(result, "message", lang) or "?")])
    lines = (_header(result, lang) + _tasks(result, lang, assignment) + _diagnoses(result, lang)
             + _problems(result, lang))
    checks = result.get("checks") or []
    auto = [c for c in checks if not c.get("manual")]
    if auto and all(c["status"] == "pass" for c in auto):
        manual = [c["id"] for c in checks if c.get("manual") and c.get("pending")]
        lines += ["", _t("all_pass", lang) + (_t("manual_later", lang, ids=", ".join(manual)) if manual else "")]
    return "\n".join(lines)
