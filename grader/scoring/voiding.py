"""Flags that take points away: the rule that connects integrity flags to the score.

A flag may carry
* ``voids``: check-id patterns (``fnmatch``; ``"*"`` = every automatic check; ``"tag:accuracy"`` = every check
  registered with that tag) that get 0 points;
* ``untrusted``: ``{"runs": [i, ...]}`` runs no check may use, ``{"accuracy": [i, ...]}`` runs whose
  accuracy is not credited.

Untrusted parts are handled by grading once more without them: a check that loses points that way
depended on the faked thing. Every check that loses its points to a flag says so: its message starts
with "0 points: integrity flag ..." and ``voided_by`` lists the flag ids. Manual checks are left to the
instructor.
"""

from __future__ import annotations

import dataclasses
from fnmatch import fnmatch

from grader.checks.context import CheckContext
from grader.checks.flag import Flag
from grader.checks.plugins import Rubric
from grader.scoring.score import CheckResult, run_checks
from grader.text import as_text, text

_UNTRUSTED_ACCURACY = "its exported weights contradict the training record (flag weights_mismatch)"


def trusted_context(ctx: CheckContext, flags: list[Flag]) -> CheckContext | None:
    """``ctx`` without what the flags mark untrusted; None when nothing is."""
    runs_out = {int(k) for f in flags for k in (f.get("untrusted") or {}).get("runs", [])}
    acc_out = {int(k) for f in flags for k in (f.get("untrusted") or {}).get("accuracy", [])}
    if not runs_out and not acc_out:
        return None
    runs = []
    for er in ctx.runs:
        if er.run.index in runs_out:
            continue
        if er.run.index in acc_out:
            er = dataclasses.replace(er, accuracy=None, accuracy_source=None, unverified_reason=_UNTRUSTED_ACCURACY)
        runs.append(er)
    return dataclasses.replace(ctx, runs=runs, memo={})


def _void(check: CheckResult, flag_ids: list[str], original: float) -> CheckResult:
    names = ", ".join(dict.fromkeys(flag_ids))
    before = as_text(check.get("messages") or check["message"])
    messages = text(f"0 points: integrity flag {names} — {before['en']}", f"0점: 무결성 경고 {names} — {before['ko']}")
    return {**check, "points": 0.0, "passed": False, "status": "fail", "voided_by": list(dict.fromkeys(flag_ids)),
            "voided_points": float(original), "message": messages["en"], "messages": messages}


def _voided(check_id: str, patterns: list[str], rubric: Rubric) -> bool:
    for p in patterns:
        if p.startswith("tag:"):
            if check_id in rubric.tagged(p[4:]):
                return True
        elif fnmatch(check_id, p):
            return True
    return False


def score_checks(rubric: Rubric, ctx: CheckContext, flags: list[Flag]) -> list[CheckResult]:
    """The rubric's check results with every flag's ``voids`` and ``untrusted`` applied."""
    checks = run_checks(rubric, ctx)
    voided: list[list[str]] = [[] for _ in checks]
    original = [float(c["points"]) for c in checks]  # what a dismissed flag gives back (grader/store/decisions.py)
    trusted = trusted_context(ctx, flags)
    if trusted is not None:
        by_untrusted = [f["id"] for f in flags if f.get("untrusted")]
        kept = run_checks(rubric, trusted)
        for why, full, without in zip(voided, checks, kept, strict=True):
            if without["points"] < full["points"]:
                why.extend(by_untrusted)
        checks = kept
    for why, c in zip(voided, checks, strict=True):
        why.extend(f["id"] for f in flags
                   if not c["manual"] and _voided(c["id"], list(f.get("voids") or []), rubric))
    return [_void(c, why, o) if why else c for c, why, o in zip(checks, voided, original, strict=True)]
