"""Gradescope: ``results.json`` from a result dict, the ``run_autograder`` entry point, the autograder zip.

At run time Gradescope provides ``/autograder/source`` (the zip's contents), ``/autograder/submission``
(the student's files) and reads ``/autograder/results/results.json``: ``score`` (overrides the sum of
the tests), ``execution_time`` (s), ``output``/``output_format``, ``visibility``, ``stdout_visibility``,
``extra_data``, ``tests[]`` (score, max_score, status passed|failed, name, number, output, visibility)
and ``leaderboard[]`` (name, value, order). One test per check; pending-manual checks are listed with
score 0 and max_score 0 (Σ max_score = the auto-gradable maximum), their points graded by hand. The texts are
English (check messages from the result, task titles from the assignment); the leaderboard entry is the
assignment's ``[leaderboard]``.
"""

from __future__ import annotations

import json
import os
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from grader import __version__
from grader.assignment import Assignment, load_assignment
from grader.integrations.gradescope_zip import build_autograder_zip
from grader.integrations.why import finding_lines, why_lines
from grader.report.view import accuracy_of, localized

__all__ = ["AutograderRun", "autograder_root", "build_autograder_zip", "find_submission", "invalid_result",
           "leaderboard_value", "results_json", "run_autograder", "write_results"]

DEFAULT_ROOT = Path("/autograder")
ROOT_ENV = "GRADER_AUTOGRADER_ROOT"
VISIBILITIES = ("hidden", "after_due_date", "after_published", "visible")
_STATUS = {"pass": "passed", "partial": "failed", "fail": "failed", "error": "failed", "pending": "passed"}
_BROKEN = ("invalid", "timeout", "kernel_died")
_SKIP_PARTS = {"__MACOSX", ".ipynb_checkpoints", "__pycache__"}


def autograder_root(root: Path | None = None) -> Path:
    """``root``, else ``$GRADER_AUTOGRADER_ROOT``, else ``/autograder``."""
    if root is not None:
        return Path(root)
    env = os.environ.get(ROOT_ENV)
    return Path(env) if env else DEFAULT_ROOT


def _numbers(assignment: Assignment) -> dict[str, tuple[str, str]]:
    """check id → (Gradescope number "task.check", the task's English title), in rubric order."""
    task_no = {task: i + 1 for i, task in enumerate(assignment.task_info)}
    seen: dict[str, int] = {}
    out = {}
    for spec in assignment.checks:
        seen[spec.task] = seen.get(spec.task, 0) + 1
        out[spec.id] = (f"{task_no.get(spec.task, 0)}.{seen[spec.task]}", assignment.task_title(spec.task, "en"))
    return out


def _test(check: dict[str, Any], numbers: dict[str, tuple[str, str]], visibility: str,
          result: dict[str, Any] | None = None) -> dict[str, Any]:
    """One Gradescope test for one check (with the training-loop findings that explain it)."""
    number, title = numbers.get(check["id"], ("", check.get("task", "")))
    pending = bool(check.get("pending"))
    output = localized(check, "message", "en")
    if pending:
        output = (f"Pending instructor review: these {check.get('max', 0):g} points are graded by hand and are "
                  f"not in the autograder score. {output}")
    elif check.get("status") == "partial":
        output = f"Partial credit ({check.get('points', 0):g}/{check.get('max', 0):g}): {output}"
    warning = localized(check, "warning", "en")
    if warning:
        output += f"\nWarning: {warning}"
    for line in why_lines(check, result or {}):
        output += f"\n{line}"
    name = f"{check['id']} ({title})" + (" - pending instructor review" if pending else "")
    return {"name": name, "number": number, "score": 0.0 if pending else float(check.get("points") or 0),
            "max_score": 0.0 if pending else float(check.get("max") or 0),
            "status": _STATUS.get(str(check.get("status")), "failed"), "output": output,
            "output_format": "text", "visibility": visibility,
            "tags": [check.get("task", "")] + (["manual"] if check.get("manual") else [])}


def _failed_tests(message: str, assignment: Assignment, visibility: str) -> list[dict[str, Any]]:
    """Every rubric check as a failed 0-point test carrying ``message`` (ungradable submission)."""
    numbers = _numbers(assignment)
    checks = [{"id": s.id, "task": s.task, "points": 0.0, "max": s.points, "manual": s.manual, "pending": False,
               "status": "fail", "message": message} for s in assignment.checks]
    tests = [_test(c, numbers, visibility) for c in checks]
    for check, test in zip(checks, tests, strict=True):
        if check["manual"]:  # still graded by hand; keep Σ max_score = the auto-gradable maximum
            test["max_score"] = 0.0
    return tests


def leaderboard_value(result: dict[str, Any], assignment: Assignment) -> float | None:
    """The submission's leaderboard metric: ``evidence[key]`` of the ``[leaderboard]`` check; None without a
    leaderboard, without that number, or when the check's run trained on the test split (not a test score)."""
    spec = assignment.leaderboard
    check = next((c for c in result.get("checks") or [] if spec and c.get("id") == spec.check), None)
    evidence = (check or {}).get("evidence") or {}
    value = evidence.get(spec.key) if spec else None
    if evidence.get("trained_on_test") or isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value)


def _leaderboard(result: dict[str, Any], assignment: Assignment) -> list[dict[str, Any]]:
    """Gradescope's ``leaderboard`` entries: the ``[leaderboard]`` metric (none when the assignment has none).
    A submission without a value ranks last: 0 on a "desc" board, no entry on an "asc" one."""
    spec = assignment.leaderboard
    if spec is None:
        return []
    value = leaderboard_value(result, assignment)
    if value is None and spec.order == "asc":
        return []
    return [{"name": spec.name, "value": round(value if value is not None else 0.0, 4), "order": spec.order}]


def _data_line(result: dict[str, Any]) -> str:
    """Which data and device the submission was graded on (worded for MNIST when that was the provider)."""
    data = result.get("data") or {}
    mode, device = data.get("mode"), result.get("device") or "cpu"
    if data.get("provider") == "mnist":
        return (f"Graded on the {mode} MNIST data ({data.get('train_images', '?')} training / "
                f"{data.get('test_images', '?')} test images) on {device}; a run on the full data or a GPU can "
                "give other numbers.")
    counts = (f" ({data['train_images']} training / {data.get('test_images', '?')} test items)"
              if data.get("train_images") else "")
    return f"Graded on the {mode} data{counts} on {device}; a run on other data or a GPU can give other numbers."


def _summary(result: dict[str, Any], assignment: Assignment, note: str | None) -> str:
    """The top-level ``output`` (Markdown)."""
    s = result.get("score", {})
    if result.get("status") == "invalid":
        lines = [f"**Your submission could not be graded:** {result.get('message')}", "",
                 "Submit your homework notebook (`.ipynb`, the starter notebook with your work) and try again."]
        return "\n".join(lines + ([f"\n{note}"] if note else []))
    lines = [f"**Autograder score: {s.get('auto', 0):g} / {s.get('auto_max', 0):g}** "
             f"for `{result['submission']['id']}`"]
    pending = [c["id"] for c in result.get("checks", []) if c.get("pending")]
    if s.get("pending_manual"):
        lines.append(f"\n{s['pending_manual']:g} more point(s) ({', '.join(pending)}) are **pending instructor "
                     f"review** and are not in this score (whole assignment: {s.get('max', 0):g} points).")
    if result.get("status") in _BROKEN:  # timeout / kernel_died: scored from what ran before
        lines.append(f"\n**Grading stopped early ({result['status']}):** {result.get('message') or ''}")
    errors = [f"- cell {e['cell_index']}: {e['ename']}: {str(e['evalue'])[:200]}" for e in result.get("errors", [])]
    if errors:
        lines += ["\nCells that raised an error (later cells still ran):", *errors[:5]]
    flags = [f"- `{f['id']}`: {localized(f, 'message', 'en')}" for f in result.get("flags", [])]
    if flags:
        lines += ["\nIntegrity flags (0 points, shown to your instructor):", *flags]
    found = [d for d in result.get("diagnoses", []) if d.get("severity") in ("error", "warning")]
    if found:
        lines.append("\nWhat happened in training (학습에서 일어난 일):")
        lines += [f"- **{d.get('severity')}** `{d.get('id')}`: " + "<br>".join(finding_lines(d)) for d in found]
    acc = accuracy_of(result, assignment)
    if acc is not None:
        lines.append(f"\nTest accuracy of your model (measured by the grader): {acc:.4f}")
    lines.append(f"\n{_data_line(result)}")
    if note:
        lines.append(f"\n{note}")
    return "\n".join(lines)


def results_json(result: dict[str, Any], assignment: Assignment, execution_time: float | None = None,
                 visibility: str = "visible", note: str | None = None) -> dict[str, Any]:
    """Gradescope's ``results.json`` for one result dict (``docs/result-schema.md``).

    ``execution_time`` defaults to the result's ``timings.total_s``; ``visibility`` applies to the whole
    result and each test; ``note`` (e.g. which of several notebooks was graded) is added to ``output``.
    """
    if visibility not in VISIBILITIES:
        raise ValueError(f"visibility must be one of {', '.join(VISIBILITIES)}, not {visibility!r}")
    if result.get("status") == "invalid":
        tests = _failed_tests(f"not graded: {result.get('message')}", assignment, visibility)
        score = 0.0
    else:
        numbers = _numbers(assignment)
        tests = [_test(c, numbers, visibility, result) for c in result.get("checks", [])]
        score = round(sum(t["score"] for t in tests), 2)
    if execution_time is None:
        execution_time = float((result.get("timings") or {}).get("total_s") or 0.0)
    s = result.get("score", {})
    acc = accuracy_of(result, assignment)
    board = _leaderboard(result, assignment)
    return {
        "score": score, "execution_time": int(round(execution_time)),
        "output": _summary(result, assignment, note), "output_format": "md",
        "visibility": visibility, "stdout_visibility": "hidden", "tests": tests,
        **({"leaderboard": board} if assignment.leaderboard else {}),
        "extra_data": {
            "schema_version": result.get("schema_version"), "data_mode": result.get("data", {}).get("mode"),
            "status": result.get("status"), "submission": (result.get("submission") or {}).get("path"),
            "sha256": (result.get("submission") or {}).get("sha256"), "auto_max": s.get("auto_max"),
            "pending_manual": s.get("pending_manual"), "flags": [f["id"] for f in result.get("flags", [])],
            "grader_version": __version__, "assignment": assignment.id,
            "assignment_version": assignment.version, "test_accuracy": acc,
            "leaderboard_value": leaderboard_value(result, assignment),
        },
    }


def invalid_result(message: str, assignment: Assignment, mode: str | None, path: Path | None = None) -> dict[str, Any]:
    """A minimal ``invalid`` result dict (no gradable file was found; the grader itself failed)."""
    from grader.result.build import SCHEMA_VERSION

    return {"schema_version": SCHEMA_VERSION,
            "submission": {"id": path.stem if path else "submission", "path": str(path) if path else None,
                           "sha256": None, "kind": None},
            "data": {"mode": mode, "provider": assignment.data_provider}, "status": "invalid", "message": message,
            "score": {"auto": 0.0, "auto_max": 0.0, "pending_manual": 0.0, "max": 0.0},
            "checks": [], "runs": [], "flags": [], "diagnoses": [], "errors": [],
            "versions": {"grader": __version__, "assignment": assignment.id,
                         "assignment_version": assignment.version}}


@dataclass
class Found:
    """The file to grade in a submission folder (``path``), a note about the choice, or the problem."""

    path: Path | None
    note: str | None = None
    problem: str | None = None


def find_submission(folder: Path) -> Found:
    """The notebook to grade in ``folder`` (recursively): a ``.ipynb`` if any, else a ``.py``.

    Several candidates: the shallowest, then the first by name (case-insensitive), with a note naming it.
    """
    if not folder.is_dir():
        return Found(None, problem=f"the submission folder {folder} does not exist")
    files = [p for p in sorted(folder.rglob("*")) if p.is_file()
             and not any(part in _SKIP_PARTS or part.startswith(".") for part in p.relative_to(folder).parts)]
    for suffix in (".ipynb", ".py"):
        found = sorted((p for p in files if p.suffix.lower() == suffix),
                       key=lambda p: (len(p.relative_to(folder).parts), p.relative_to(folder).as_posix().casefold(),
                                      p.relative_to(folder).as_posix()))
        if found:
            rel = [p.relative_to(folder).as_posix() for p in found]
            note = None if len(found) == 1 else (
                f"Note: {len(found)} {suffix} files were submitted ({', '.join(rel[:10])}); graded `{rel[0]}` "
                "(the first by folder depth, then name). Submit only the one notebook you want graded.")
            return Found(found[0], note=note)
    if not files:
        return Found(None, problem="the submission is empty: no notebook (.ipynb) was submitted")
    names = ", ".join(p.relative_to(folder).as_posix() for p in files[:5]) + (", ..." if len(files) > 5 else "")
    return Found(None, problem=f"no notebook (.ipynb) or Python file (.py) was submitted (found: {names})")


def write_results(payload: dict[str, Any], path: Path) -> None:
    """Write ``payload`` as JSON to ``path`` in one go (a temporary file beside it, then ``os.replace``)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".results-", suffix=".json", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(payload, fh, indent=1, ensure_ascii=False)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


@dataclass
class AutograderRun:
    """What :func:`run_autograder` did: the results.json payload, the result dict, where it was written."""

    payload: dict[str, Any]
    result: dict[str, Any]
    path: Path


def run_autograder(root: Path | None = None, assignment: Assignment | None = None, opts: Any = None,
                   visibility: str = "visible") -> AutograderRun:
    """Grade the submission in ``<root>/submission/`` and write ``<root>/results/results.json``.

    ``root`` defaults to ``$GRADER_AUTOGRADER_ROOT`` or ``/autograder``; ``opts`` (GradeOptions) to
    the assignment's default data (the subset) on the CPU. If the grader itself fails, results.json
    still says so (score 0) and the error is raised again.
    """
    from grader.pipeline import GradeOptions, grade_file, resolve_mode

    started = time.monotonic()
    root = autograder_root(root)
    assignment = assignment or load_assignment()
    opts = opts or GradeOptions(device="cpu")
    out = root / "results" / "results.json"
    found = find_submission(root / "submission")
    try:
        mode = resolve_mode(assignment, opts)
        if found.path is None:
            result = invalid_result(str(found.problem), assignment, mode)
        else:
            result = grade_file(found.path, assignment, opts)
    except Exception as exc:  # the grader failed, not the student: still leave a results.json that says so
        msg = (f"the autograder itself failed ({type(exc).__name__}: {exc}); this is not a problem with your "
               "submission: please tell your instructor")
        result = invalid_result(msg, assignment, opts.data or assignment.default_data, found.path)
        write_results(results_json(result, assignment, time.monotonic() - started, visibility, found.note), out)
        raise
    payload = results_json(result, assignment, time.monotonic() - started, visibility, found.note)
    write_results(payload, out)
    return AutograderRun(payload, result, out)
