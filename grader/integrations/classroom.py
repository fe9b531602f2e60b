"""GitHub Classroom: the command-grader payload read by ``autograding-grading-reporter``.

The reporter reads ``<STEP-ID>_RESULTS`` (base64 JSON), adds ``tests[].score`` over runners whose
``max_score`` > 0 and posts ``Points X/Y``. One test per check; pending-manual checks score 0 and
are not part of ``max_score`` (the auto-gradable maximum). Messages are the result's English ones.
"""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

from grader.integrations.why import why_lines
from grader.report.view import localized

PAYLOAD_VERSION = 1
_TEST_STATUS = {"pass": "pass", "partial": "fail", "fail": "fail", "error": "error", "pending": "pass"}
_BROKEN = ("invalid", "timeout", "kernel_died")


def _test(check: dict[str, Any], result: dict[str, Any] | None = None) -> dict[str, Any]:
    """One reporter test for one check (with the training-loop findings that explain it)."""
    pending = bool(check.get("pending"))
    message = localized(check, "message", "en")
    warning = localized(check, "warning", "en")
    if pending:
        message = f"pending instructor review ({check.get('max', 0):g} points, not in this score): {message}"
    elif warning:
        message = f"{message} (warning: {warning})"
    why = why_lines(check, result or {})
    if why:
        message = " — ".join([message, *why])
    name = f"{check['id']} ({check.get('points', 0):g}/{check.get('max', 0):g})" if not pending \
        else f"{check['id']} (?/{check.get('max', 0):g}, pending review)"
    return {"name": name, "status": _TEST_STATUS.get(str(check.get("status")), "error"),
            "score": 0 if pending else check.get("points", 0), "message": message,
            "test_code": "", "filename": "", "line_no": 0, "duration": 0}


def _status(result: dict[str, Any]) -> str:
    """pass when every auto-graded check passed; error when grading could not run; else fail."""
    if result.get("status") in _BROKEN:
        return "error"
    auto = [c for c in result.get("checks", []) if not c.get("pending")]
    if any(c.get("status") == "error" for c in auto):
        return "error"
    return "pass" if auto and all(c.get("status") == "pass" for c in auto) else "fail"


def classroom_payload(result: dict[str, Any], auto_max: float | None = None) -> dict[str, Any]:
    """The command-grader payload (version 1) of one result dict.

    ``auto_max`` (the rubric's auto-gradable maximum) replaces a zero ``score.auto_max``, which an
    ungradable submission has: the reporter ignores runners whose ``max_score`` is 0.
    """
    tests = [_test(c, result) for c in result.get("checks", [])]
    if result.get("status") in _BROKEN:
        tests.append({"name": "submission", "status": "error", "score": 0,
                      "message": str(result.get("message") or result.get("status")), "test_code": "",
                      "filename": "", "line_no": 0, "duration": 0})
    if tests:  # the whole grading time, on the first test (the reporter shows per-test durations)
        tests[0]["duration"] = int(round(1000 * float(result.get("timings", {}).get("total_s") or 0.0)))
    return {"version": PAYLOAD_VERSION, "status": _status(result),
            "max_score": result.get("score", {}).get("auto_max", 0) or auto_max or 0, "tests": tests}


def encode_payload(payload: dict[str, Any]) -> str:
    """base64 of the payload's compact JSON (what goes after ``result=``)."""
    raw = json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    return base64.b64encode(raw).decode("ascii")


def decode_payload(text: str) -> dict[str, Any]:
    """Inverse of :func:`encode_payload`."""
    data: dict[str, Any] = json.loads(base64.b64decode(text).decode("utf-8"))
    return data


def append_github_output(path: Path, payload: dict[str, Any], name: str = "result") -> None:
    """Append ``<name>=<base64 JSON>`` to the ``$GITHUB_OUTPUT`` file."""
    with path.open("a", encoding="utf-8") as fh:
        fh.write(f"{name}={encode_payload(payload)}\n")


def reporter_totals(payloads: list[dict[str, Any]]) -> tuple[float, float]:
    """The reporter's ``Points X/Y``: Σ tests.score and Σ max_score over runners with max_score > 0."""
    counted = [p for p in payloads if p.get("max_score")]
    total = sum(float(t.get("score") or 0) for p in counted for t in p["tests"])
    return total, sum(float(p["max_score"]) for p in counted)


def summary_text(result: dict[str, Any], payload: dict[str, Any]) -> str:
    """A readable summary for the Actions log (pending-manual points are named as not included)."""
    s = result.get("score", {})
    lines = [f"Autograding {result['submission']['id']}: {s.get('auto', 0):g}/{s.get('auto_max', 0):g} "
             f"auto-graded points [{result.get('status')}, data={result.get('data', {}).get('mode')}]"]
    if result.get("message"):
        lines.append(f"  ! {result['message']}")
    for t in payload["tests"]:
        lines.append(f"  {t['status']:<5} {t['name']}: {t['message']}")
    for f in result.get("flags", []):
        lines.append(f"  flag {f['id']}: {localized(f, 'message', 'en')}")
    if s.get("pending_manual"):
        lines.append(f"{s['pending_manual']:g} point(s) await instructor review and are NOT included in this "
                     f"score (full assignment: {s.get('max', 0):g} points).")
    data = result.get("data") or {}
    what = f"{data.get('mode')} MNIST data" if data.get("provider") == "mnist" else f"{data.get('mode')} data"
    lines.append(f"This run used the {what} on {result.get('device') or 'cpu'}; the instructor's run (maybe other "
                 "data or a GPU) can give other numbers.")
    return "\n".join(lines)


SPEC_PLACEHOLDER = "git+https://github.com/YOUR-ORG/grader@v0.1.0"


def write_template(assignment: Any, dest: Path, grader_spec: str) -> list[Path]:
    """Copy the assignment's Classroom template repository to ``dest`` with ``grader_spec`` filled in.

    The template (``<assignment>/classroom/``) holds the workflow in the shape Classroom generates, the
    homework notebook and a student README; the placeholder grader address is replaced everywhere.
    """
    from grader.errors import UsageError

    src = Path(assignment.root) / "classroom"
    if not src.is_dir():
        raise UsageError(f"{assignment.id} has no Classroom template ({src} is missing)")
    if dest.exists() and any(dest.iterdir()):
        raise UsageError(f"{dest} is not empty: choose a new folder for the template")
    written = []
    for path in sorted(p for p in src.rglob("*") if p.is_file()):
        target = dest / path.relative_to(src)
        target.parent.mkdir(parents=True, exist_ok=True)
        if path.suffix in (".yml", ".md"):
            target.write_text(path.read_text(encoding="utf-8").replace(SPEC_PLACEHOLDER, grader_spec),
                              encoding="utf-8")
        else:
            target.write_bytes(path.read_bytes())
        written.append(target)
    return written
