"""Classroom 50 (foundation50/classroom50): the ``result.json`` an autograder leaves in the student's checkout.

Contract (wiki Advanced-Autograding.md "The result.json contract"; ``validate_result`` in
``cli/gh-teacher/skeleton/dotgithub/scripts/collect_scores.py``): schema ``classroom50/result/v1``; identity
(``classroom``, ``assignment``, ``owner``/``usernames``, ``assignment_type``) from the run's environment;
``submission`` (``submit/…``), ``commit``, ``release``, ``review``, ``datetime`` non-empty strings;
``score``/``max-score`` and every test's ``score``/``max-score`` non-negative integers, a score never above its
maximum; tests ``[{test-name, passed, score, max-score}]``, extra fields on a test kept verbatim.

Points are made integers by largest-remainder rounding (:func:`integer_points`) so that the tests add up to the
total and a perfect homework keeps its full score. Checks awaiting an instructor are listed as passed tests
worth 0/0 with ``"pending": true`` (not failed; their points come later through a teacher override).
"""

from __future__ import annotations

import datetime
import json
import math
import os
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Any

from grader.integrations.why import why_lines
from grader.report.view import localized

SCHEMA = "classroom50/result/v1"
SUBMIT_PREFIX = "submit/"
JOB_LIMIT_S = 15 * 60
ENV_KEYS = ("CLASSROOM", "ASSIGNMENT", "USERNAME", "SUBMISSION_TAG", "COMMIT_URL", "RELEASE_URL", "REVIEW_URL")
_BROKEN = ("invalid", "timeout", "kernel_died")


def run_env(environ: dict[str, str] | os._Environ[str] | None = None) -> dict[str, str] | None:
    """The Classroom 50 variables of this run (None outside an autograde run: CLASSROOM, ASSIGNMENT or
    SUBMISSION_TAG missing). USERNAME falls back to OWNER, REVIEW_URL to COMMIT_URL, as the runner does."""
    env = os.environ if environ is None else environ
    if not all(env.get(k) for k in ("CLASSROOM", "ASSIGNMENT", "SUBMISSION_TAG")):
        return None
    out = {k: str(env.get(k) or "") for k in ENV_KEYS}
    out["USERNAME"] = out["USERNAME"] or str(env.get("OWNER") or env.get("GITHUB_ACTOR") or "")
    out["REVIEW_URL"] = out["REVIEW_URL"] or out["COMMIT_URL"]
    out["ASSIGNMENT_TYPE"] = str(env.get("ASSIGNMENT_TYPE") or "individual")
    return out


def _largest_remainder(values: list[float], total: int, caps: list[int]) -> list[int]:
    """Integers ≤ ``caps`` summing to ``total``: floors first, then +1 by largest fractional part (ties: order)."""
    floors = [min(int(math.floor(v + 1e-9)), c) for v, c in zip(values, caps, strict=True)]
    left = total - sum(floors)
    order = sorted(range(len(values)), key=lambda i: (-(values[i] - math.floor(values[i] + 1e-9)), i))
    while left > 0:
        progressed = False
        for i in order:
            if left > 0 and floors[i] < caps[i]:
                floors[i] += 1
                left -= 1
                progressed = True
        if not progressed:
            break
    return floors


def integer_points(points: list[float], maxima: list[float]) -> tuple[list[int], list[int]]:
    """Integer (scores, maxima) of checks worth fractional points.

    Maxima: largest-remainder rounding against ``round(Σ maxima)`` (half up). Total score: the whole maximum when
    every check earned its maximum, else ``floor(Σ points)`` (never rounded up). Scores: largest remainder against
    that total, each at most its check's integer maximum; a full-marks homework therefore gets exactly its maxima.
    """
    maxima = [max(0.0, float(m)) for m in maxima]
    points = [min(max(0.0, float(p)), m) for p, m in zip(points, maxima, strict=True)]
    max_total = int(math.floor(sum(maxima) + 0.5 + 1e-9))
    int_max = _largest_remainder(maxima, max_total, [max_total] * len(maxima))
    perfect = all(p >= m - 1e-9 for p, m in zip(points, maxima, strict=True))
    total = max_total if perfect else min(int(math.floor(sum(points) + 1e-9)), max_total)
    if perfect:
        return list(int_max), int_max
    return _largest_remainder(points, total, int_max), int_max


def _message(check: dict[str, Any], result: dict[str, Any], lang: str) -> str:
    parts = [localized(check, "message", lang)]
    warning = localized(check, "warning", lang)
    if warning:
        parts.append(f"({warning})")
    return " — ".join([" ".join(p for p in parts if p), *why_lines(check, result)])


def _tests(result: dict[str, Any], lang: str) -> list[dict[str, Any]]:
    checks = result.get("checks") or []
    auto = [c for c in checks if not c.get("pending")]
    scores, maxima = integer_points([float(c.get("points") or 0) for c in auto],
                                    [float(c.get("max") or 0) for c in auto])
    tests = []
    for c, s, m in zip(auto, scores, maxima, strict=True):
        tests.append({"test-name": str(c["id"]), "passed": c.get("status") == "pass", "score": s, "max-score": m,
                      "status": str(c.get("status")), "points": c.get("points", 0), "max": c.get("max", 0),
                      "message": _message(c, result, lang)})
    for c in checks:
        if c.get("pending"):
            tests.append({"test-name": f"{c['id']} (awaiting instructor review, {c.get('max', 0):g} points)",
                          "passed": True, "score": 0, "max-score": 0, "pending": True, "status": "pending",
                          "max": c.get("max", 0), "message": _message(c, result, lang)})
    return tests


def _broken_test(reason: str, budget_s: float | None) -> dict[str, Any]:
    return {"test-name": "submission could not be graded", "passed": False, "score": 0, "max-score": 0,
            "status": "error", "message": reason, **({"budget_s": budget_s} if budget_s else {})}


def submission_instant(checkout: Path) -> str:
    """The graded commit's committer date in UTC (``…Z``), as the contract defines ``datetime``; now when git
    cannot say (no repository, no git)."""
    try:
        proc = subprocess.run(["git", "--no-pager", "-c", "core.fsmonitor=false", "-C", str(checkout), "log", "-1",
                               "--format=%ct"], capture_output=True,
                              text=True, timeout=20, check=False)
        stamp = datetime.datetime.fromtimestamp(int(proc.stdout.strip()), tz=datetime.timezone.utc)
    except (OSError, ValueError, subprocess.SubprocessError):
        stamp = datetime.datetime.now(datetime.timezone.utc)
    return stamp.strftime("%Y-%m-%dT%H:%M:%SZ")


def build_result(result: dict[str, Any] | None, env: dict[str, str], *, auto_max: float, lang: str,
                 when: str, budget_s: float | None = None, failure: str | None = None) -> dict[str, Any]:
    """The ``result.json`` of one grading (``result``), or of a submission that could not be graded (score 0,
    one test naming why). ``failure`` is the grader's own failure (no result). ``auto_max`` is the rubric's
    auto-graded maximum (an ungradable submission still reports it as ``max-score``)."""
    status = str((result or {}).get("status") or "error")
    if result is not None and status not in _BROKEN and failure is None:
        tests = _tests(result, lang)
    else:
        reason = failure or localized(result or {}, "message", lang) or status
        if status == "timeout":
            reason += (f" (the grader's budget was {budget_s:g} s so that the whole job stays inside Classroom 50's "
                       "15-minute limit)" if budget_s else "")
        tests = [_broken_test(reason, budget_s if status == "timeout" else None)]
        tests[0]["max-score"] = int(math.floor(max(0.0, auto_max) + 0.5 + 1e-9))
    score = sum(t["score"] for t in tests)
    max_score = sum(t["max-score"] for t in tests)
    out: dict[str, Any] = {
        "schema": SCHEMA, "classroom": env["CLASSROOM"], "assignment": env["ASSIGNMENT"],
        "assignment_type": env.get("ASSIGNMENT_TYPE") or "individual", "owner": env["USERNAME"],
        "usernames": [env["USERNAME"]], "submission": env["SUBMISSION_TAG"], "commit": env["COMMIT_URL"],
        "release": env["RELEASE_URL"], "review": env["REVIEW_URL"] or env["COMMIT_URL"], "datetime": when,
        "graded_at": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "score": score, "max-score": max_score, "tests": tests,
        "grader": {"status": "error" if failure else status, "budget_s": budget_s,
                   "cut_short": status == "timeout",
                   "pending_manual": float(((result or {}).get("score") or {}).get("pending_manual") or 0)},
    }
    return out


def write_text_atomic(path: Path, content: str) -> Path:
    """Write ``content`` to ``path`` atomically, replacing whatever is there (a student's own file, a symlink they
    planted — the link itself is replaced, never written through —, a directory of that name)."""
    path = Path(os.path.abspath(path))
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}-", suffix=".tmp", dir=str(path.parent))
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(content)
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)  # rename(2) replaces a symlink at ``path``; it does not follow it
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def write_result_json(path: Path, data: dict[str, Any]) -> Path:
    """``data`` as ``result.json`` at ``path`` (strict JSON: no NaN), through :func:`write_text_atomic`."""
    return write_text_atomic(path, json.dumps(data, ensure_ascii=False, indent=2, allow_nan=False) + "\n")
