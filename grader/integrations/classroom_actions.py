"""GitHub Actions: the student's report as the job summary, ``::error`` annotations, and safe file commands.

Workflow commands (GitHub docs, "Workflow commands for GitHub Actions"): a command is a line starting with
``::``; its message escapes ``%`` → ``%25``, CR → ``%0D``, LF → ``%0A`` and its properties also ``:`` → ``%3A`` and
``,`` → ``%2C``. With every line break escaped no student text can start a line, so none can start a command.

``$GITHUB_STEP_SUMMARY`` / ``$GITHUB_OUTPUT`` are written through :func:`append_file_command`, which refuses a
path that is not absolute, lies inside the student's checkout (``$GITHUB_WORKSPACE`` or the working directory:
the student controls what is there; the runner keeps these files in ``$RUNNER_TEMP``), is a symlink, or is not a
regular file (a directory, a FIFO, a device) — and says why instead of writing. A missing file is created.
"""

from __future__ import annotations

import html
import os
import re
import stat
from pathlib import Path
from typing import Any

from grader.assignment import Assignment
from grader.report import i18n
from grader.report.view import diagnoses_view, flags_view, localized, tasks_view
from grader.text import in_lang, text

SUMMARY_LIMIT = 1024 * 1024 - 4096  # GitHub keeps at most 1 MiB of summary per step
_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]#|~])")  # with < > & " made entities: no link, image, HTML or cell


def escape_data(value: str) -> str:
    """A workflow command's message: ``%``, CR and LF escaped."""
    return value.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def escape_property(value: str) -> str:
    """A workflow command's property value (``title=…``): also ``:`` and ``,``."""
    return escape_data(value).replace(":", "%3A").replace(",", "%2C")


def md(value: Any) -> str:
    """Student or grader text made inert in Markdown: HTML-escaped, the inline-markup characters backslashed,
    one line (so nothing starts a block, ends a table cell, opens a link or an image, or becomes HTML)."""
    one_line = " ".join(str(value).split())
    return html.escape(_MD_SPECIAL.sub(r"\\\1", one_line), quote=True)


def error_annotations(result: dict[str, Any], lang: str, file: str | None = None) -> list[str]:
    """One ``::error`` line per failed (or erroring) auto-graded check, one for an ungradable submission."""
    where = f"file={escape_property(file)}," if file else ""
    lines = []
    for c in result.get("checks") or []:
        if c.get("pending") or c.get("status") not in ("fail", "partial", "error"):
            continue
        title = f"{c['id']} {float(c.get('points') or 0):g}/{float(c.get('max') or 0):g}"
        lines.append(f"::error {where}title={escape_property(title)}::"
                     f"{escape_data(localized(c, 'message', lang))}")
    if result.get("status") in ("invalid", "timeout", "kernel_died"):
        msg = localized(result, "message", lang) or str(result.get("status"))
        lines.append(f"::error {where}title={escape_property('submission')}::{escape_data(msg)}")
    return lines


_TEXT = {
    "title": text("Autograder report", "자동 채점 결과"),
    "score": text("Score", "점수"),
    "points": text("points", "점"),
    "check": text("check", "항목"),
    "pending": text("awaiting instructor review (not in this score)", "교수자 채점 대기 (이 점수에 포함되지 않음)"),
    "todo": text("What to do", "할 일"),
    "doctor": text("What happened in training", "학습에서 일어난 일"),
    "flags": text("Flags", "표시된 문제"),
    "broken": text("The submission could not be graded", "제출물을 채점할 수 없습니다"),
    "integer": text("Classroom 50 records whole points", "Classroom 50에는 정수 점수로 기록됩니다"),
    "cut": text("The run was cut short by the grader's time budget", "채점 시간 제한으로 실행이 중단되었습니다"),
}


def _t(key: str, lang: str) -> str:
    return in_lang(_TEXT[key], lang)


def _check_rows(result: dict[str, Any], lang: str, assignment: Assignment) -> list[str]:
    rows = []
    for task in tasks_view(result, lang, assignment):
        rows += ["", f"### {md(task['title'])}", "",
                 f"| | {md(_t('check', lang))} | {md(_t('points', lang))} | |", "|---|---|---|---|"]
        for c in task["checks"]:
            mark = i18n.STATUS_MARKS.get(str(c.get("status")), "?")
            pts = "?" if c.get("pending") else f"{float(c.get('points') or 0):g}"
            said = md(c.get("message") or "")
            if c.get("pending"):
                said = f"*{md(_t('pending', lang))}* {said}"
            if c.get("hint"):
                said += f"<br>→ **{md(_t('todo', lang))}**: {md(c['hint'])}"
            if c.get("warning"):
                said += f"<br>⚠ {md(c['warning'])}"
            rows.append(f"| {mark} | {md(c['id'])} | {pts}/{float(c.get('max') or 0):g} | {said} |")
    return rows


def summary_markdown(result: dict[str, Any], lang: str, assignment: Assignment,
                     payload: dict[str, Any] | None = None) -> str:
    """The student's report as GitHub-flavoured Markdown in ``lang``: score (and the whole points Classroom 50
    records), each check with its points and what to do, the training-loop doctor's findings, the flags."""
    s = result.get("score") or {}
    lines = [f"## {md(_t('title', lang))}: {md((result.get('submission') or {}).get('id', '?'))}", "",
             f"**{md(_t('score', lang))}: {float(s.get('auto') or 0):g} / {float(s.get('auto_max') or 0):g}**"]
    if payload is not None:
        lines.append(f" ({md(_t('integer', lang))}: {payload['score']} / {payload['max-score']})")
    if s.get("pending_manual"):
        lines.append(f"<br>{float(s['pending_manual']):g} {md(_t('points', lang))} {md(_t('pending', lang))}")
    if result.get("status") in ("invalid", "timeout", "kernel_died"):
        lines += ["", f"> ❗ **{md(_t('broken', lang))}**: {md(localized(result, 'message', lang))}"]
        if payload is not None and (payload.get("grader") or {}).get("cut_short"):
            lines.append(f"> {md(_t('cut', lang))} ({payload['grader'].get('budget_s')} s)")
    lines += _check_rows(result, lang, assignment)
    found = diagnoses_view(result, lang)
    if found:
        lines += ["", f"### {md(_t('doctor', lang))}", ""]
        for d in found:
            lines.append(f"- **{md(d['name'])}**: {md(d['message'])}"
                         + (f"<br>→ {md(d['todo'])}" if d.get("todo") else "")
                         + (f" ({md(d['lecture'])})" if d.get("lecture") else ""))
    flags = flags_view(result, lang)
    if flags:
        lines += ["", f"### {md(_t('flags', lang))}", ""]
        lines += [f"- **{md(f['name'])}**: {md(f['message'])}" for f in flags]
    out = "\n".join(lines) + "\n"
    return out if len(out.encode()) <= SUMMARY_LIMIT else out.encode()[:SUMMARY_LIMIT].decode("utf-8", "ignore")


def _inside(path: Path, root: Path) -> bool:
    try:
        path.relative_to(root)
    except ValueError:
        return False
    return True


def file_command_problem(raw: str, workspace: Path) -> str | None:
    """Why ``raw`` (a ``$GITHUB_STEP_SUMMARY``/``$GITHUB_OUTPUT`` value) must not be written; None when fine."""
    path = Path(raw)
    if not path.is_absolute():
        return "not an absolute path"
    roots = {Path(os.path.realpath(workspace))}
    if os.environ.get("GITHUB_WORKSPACE"):
        roots.add(Path(os.path.realpath(os.environ["GITHUB_WORKSPACE"])))
    real = Path(os.path.realpath(path))
    if any(_inside(real, r) or _inside(Path(os.path.abspath(path)), r) for r in roots):
        return "inside the student's checkout"
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        return None if Path(os.path.realpath(path.parent)).is_dir() else "its folder is missing"
    except OSError as exc:
        return f"cannot read it ({exc.strerror})"
    if stat.S_ISLNK(st.st_mode):
        return "a symbolic link"
    if not stat.S_ISREG(st.st_mode):
        return "not a regular file"
    return None


def append_file_command(raw: str, content: str, workspace: Path) -> str | None:
    """Append ``content`` to the file command ``raw`` (created when missing, as the runner would have); returns why
    it was not written (None when written). Opened with O_NOFOLLOW and O_NONBLOCK, then checked again on the open
    file (a symlink or FIFO swapped in after the check is refused too)."""
    problem = file_command_problem(raw, workspace)
    if problem:
        return problem
    try:
        fd = os.open(raw, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC, 0o600)
    except OSError as exc:
        return f"cannot open it ({exc.strerror})"
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            return "not a regular file"
        os.write(fd, content.encode("utf-8"))
    finally:
        os.close(fd)
    return None
