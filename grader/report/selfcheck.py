"""The student's self-check in words: what passed, what failed and how to fix it, what is pending.

Same result dict as instructor grading; this module only chooses what a student needs to read, in
Korean or English, and is honest that a self-check is a preview (subset data, maybe another device).
"""

from __future__ import annotations

from typing import Any

from grader.report import i18n
from grader.report.translate import localize

_TEXT: dict[str, dict[str, str]] = {
    "head": {"ko": "자가 점검 결과 (미리보기): {id}", "en": "Self-check (preview): {id}"},
    "score": {"ko": "자동 채점 점수 {auto}/{max}", "en": "Auto-graded score {auto}/{max}"},
    "pending": {"ko": " · 강사 검토 대기 {pts}점 ({ids}) — 이 점수는 강사가 매깁니다",
                "en": " · {pts} points pending instructor review ({ids}) — the instructor scores those"},
    "data_subset": {"ko": "데이터: 채점기에 내장된 MNIST 부분집합 (학습 {train:,}장 / 테스트 {test:,}장)",
                    "en": "Data: the grader's embedded MNIST subset ({train:,} train / {test:,} test images)"},
    "data_full": {"ko": "데이터: 전체 MNIST (학습 {train:,}장 / 테스트 {test:,}장)",
                  "en": "Data: full MNIST ({train:,} train / {test:,} test images)"},
    "where": {"ko": "장치: {device} · 걸린 시간 {secs:.0f} 초", "en": "Device: {device} · took {secs:.0f} s"},
    "preview_subset": {"ko": "※ 미리보기입니다. 강사 채점은 전체 MNIST(학습 60,000 / 테스트 10,000장)로, "
                             "경우에 따라 GPU 에서 다시 실행하므로 loss 와 정확도 수치는 이 결과와 다를 수 "
                             "있습니다. 구조·옵티마이저 같은 항목의 판정은 같습니다.",
                       "en": "Note: this is a preview. The instructor's run uses the full MNIST (60,000 train / "
                             "10,000 test images), maybe on a GPU, so losses and accuracies can differ from these; "
                             "verdicts on structure and optimizer are the same."},
    "preview_full": {"ko": "※ 미리보기입니다. 강사 채점은 다른 장치(GPU)에서 실행될 수 있어 수치가 조금 "
                           "다를 수 있습니다.",
                     "en": "Note: this is a preview. The instructor's run may use another device (a GPU), so the "
                           "numbers can differ slightly."},
    "same_reason": {"ko": "(위와 같은 이유)", "en": "(same reason as above)"},
    "see_below": {"ko": "아래 '학습에서 일어난 일' 참고", "en": "see 'What happened in training' below"},
    "todo": {"ko": "할 일", "en": "To do"},
    "flags": {"ko": "무결성 경고", "en": "Integrity flags"},
    "errors": {"ko": "오류가 난 셀", "en": "Cells that raised errors"},
    "cell": {"ko": "셀", "en": "cell index"},
    "invalid": {"ko": "채점할 수 없는 제출물입니다: {msg}", "en": "This submission cannot be graded: {msg}"},
    "status": {"ko": "실행 상태: {label} — {msg}", "en": "Run status: {label} — {msg}"},
    "all_pass": {"ko": "자동 채점 항목을 모두 통과했습니다. 결론(과제 2)은 강사가 읽고 채점합니다.",
                 "en": "Every auto-graded check passed. Your conclusion (task 2) is read and scored by the "
                       "instructor."},
}


def _t(key: str, lang: str, **kw: Any) -> str:
    return _TEXT[key][lang].format(**kw)


def _pts(v: float) -> str:
    return f"{v:g}"


def preview_notice(result: dict[str, Any], lang: str) -> str:
    """The one-paragraph "this is a preview" notice for the terminal and the HTML page."""
    i18n.check_lang(lang)
    data = result.get("data") or {}
    key = "data_full" if data.get("mode") == "full" else "data_subset"
    line = _t(key, lang, train=int(data.get("train_images") or 0), test=int(data.get("test_images") or 0))
    return f"{line}. " + _t("preview_full" if data.get("mode") == "full" else "preview_subset", lang)


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


def _check_lines(check: dict[str, Any], lang: str, seen: set[str], result: dict[str, Any]) -> list[str]:
    pts = "?" if check.get("pending") else _pts(check.get("points", 0))
    message = localize(check.get("message"), lang)
    shown = _shown(message, check["status"] in ("fail", "partial", "error"), seen, lang)
    mark = i18n.STATUS_MARKS.get(check["status"], "?")
    lines = [f"  {mark} {check['id']:<20} {pts:>3}/{_pts(check['max']):<3} {shown}"]
    if check.get("warning"):
        lines.append(f"      ⚠ {check['warning']}")
    causes = [i18n.diagnosis_name(str(d.get("id")), lang) for d in i18n.explained_by(check, result)]
    if causes:
        lines.append(f"      ↳ {i18n.strings(lang)['cause']}: {' · '.join(dict.fromkeys(causes))} "
                     f"({_t('see_below', lang)})")
    hint = i18n.hint(check["id"], lang)
    if check["status"] in ("fail", "partial", "error") and hint and shown == message:
        lines.append(f"      → {_t('todo', lang)}: {hint}")
    return lines


def _tasks(result: dict[str, Any], lang: str) -> list[str]:
    lines: list[str] = []
    checks = result.get("checks") or []
    for task in dict.fromkeys(c["task"] for c in checks):
        mine = [c for c in checks if c["task"] == task]
        got = sum(c["points"] for c in mine if not c.get("pending"))
        auto_max = sum(c["max"] for c in mine if not c.get("manual"))
        lines += ["", f"{i18n.task_title(task, lang)} — {_pts(got)}/{_pts(auto_max)}"]
        seen: set[str] = set()
        for c in mine:
            lines += _check_lines(c, lang, seen, result)
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
        lines += ["", _t("status", lang, label=i18n.status_label(result["status"], lang), msg=result["message"])]
    if result.get("flags"):
        lines += ["", f"{_t('flags', lang)}:"]
        lines += [f"  ⚑ {i18n.flag_name(f['id'], lang)}: {f['message']}" for f in result["flags"]]
    if result.get("errors"):
        lines += ["", f"{_t('errors', lang)}:"]
        lines += [f"  {_t('cell', lang)} {e['cell_index']}: {e['ename']}: {e['evalue'][:200]}"
                  for e in result["errors"][:5]]
    return lines


def summary_text(result: dict[str, Any], lang: str = "ko") -> str:
    """The whole self-check summary as plain text (one string; the CLI prints it)."""
    i18n.check_lang(lang)
    if result.get("status") == "invalid":
        return "\n".join([_t("head", lang, id=(result.get("submission") or {}).get("id", "?")),
                          _t("invalid", lang, msg=result.get("message") or "?")])
    lines = _header(result, lang) + _tasks(result, lang) + _diagnoses(result, lang) + _problems(result, lang)
    auto = [c for c in result.get("checks", []) if not c.get("manual")]
    if auto and all(c["status"] == "pass" for c in auto):
        lines += ["", _t("all_pass", lang)]
    return "\n".join(lines)
