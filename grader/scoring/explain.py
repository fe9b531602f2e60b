"""Connect the training-loop doctor's findings to the checks they explain.

A warning or error about a run explains the failing checks of that run's task (by the task's cells, or by the
checks' own ``evidence.run``); each such check lists the finding's ``ref`` under ``diagnoses`` and the finding
lists the check under ``checks``, so the student's page, ``grader check``, Classroom and Gradescope show the
reason beside the verdict. A task whose own cell raised an error gets more: its failing checks name that
cell and its error instead of describing the closest other run. No points change here.
"""

from __future__ import annotations

from grader.diagnosis.model import Diagnosis
from grader.scoring.score import CheckResult
from grader.text import as_text, text

_FAILING = ("fail", "partial")
_CLOSEST, _CLOSEST_KO = "closest is ", "가장 가까운 것은 "
# findings about what the notebook printed (not about what the grader measured): they explain no verdict
_ABOUT_PRINTED = frozenset({"test_preprocessing_differs", "train_mode_eval", "avg_cost_outside_loop"})


def _runs_named(check: CheckResult) -> set[int]:
    ev = check.get("evidence") or {}
    runs = set(int(r) for r in ev.get("runs") or [] if isinstance(r, int))
    if isinstance(ev.get("run"), int):
        runs.add(int(ev["run"]))
    return runs


def _tasks_of_run(checks: list[CheckResult], run: int) -> set[str]:
    return {str(c.get("task")) for c in checks if run in _runs_named(c)}


def _explains(d: Diagnosis, check: CheckResult, tasks: set[str]) -> bool:
    """Does finding ``d`` explain this (failing or warned) check?"""
    if d.severity == "info" or d.id in _ABOUT_PRINTED or check.get("pending") or str(check.get("task")) not in tasks:
        return False
    if check.get("status") not in _FAILING and not check.get("warning"):
        return False
    named = _runs_named(check)
    if d.id == "task_cell_error" and named & set(d.evidence.get("runs_before") or []):
        return False  # the check judged a run the task trained before that cell failed: the error changed nothing
    if d.run is not None and not named:  # a check that found no run: its task's own failing cell explains it
        return not any(ref.startswith("task_cell_error@") for ref in check.get("diagnoses", []))
    return d.run is None or d.run in named


def explain_checks(checks: list[CheckResult], diagnoses: list[Diagnosis]) -> list[CheckResult]:
    """The check results with ``diagnoses`` (refs) added where a finding explains them; fills ``Diagnosis.checks``."""
    out = [c.copy() for c in checks]
    for d in sorted(diagnoses, key=lambda d: d.id != "task_cell_error"):
        tasks = {d.task} if d.task else set()
        if d.run is not None:
            tasks |= _tasks_of_run(out, d.run)
        for check in out:
            if not _explains(d, check, tasks):
                continue
            first_cell_error = not any(r.startswith("task_cell_error@") for r in check.get("diagnoses", []))
            check["diagnoses"] = [*check.get("diagnoses", []), d.ref]
            d.checks.append(str(check["id"]))
            if d.id == "task_cell_error" and first_cell_error and check.get("status") in _FAILING:
                _name_the_cell(check, d)  # the task's first failing cell is named; later ones are listed
    return out


def _renamed(message: str, clause: str, closest: str, voided_prefix: str) -> tuple[str, str | None]:
    """``message`` with "closest is run N ..., but ..." replaced by ``clause`` (or ``clause`` put first), and
    the replaced part (None when nothing was replaced)."""
    if not clause or clause in message:
        return message, None
    at = message.find(closest)
    if at >= 0:
        return message[:at] + clause, message[at:]
    if "(see " in message or "참고)" in message:  # a pointer to the task's first check: that one names the cell
        return message, None
    voided, sep, rest = message.partition(" — ") if message.startswith(voided_prefix) else ("", "", message)
    return f"{voided}{sep}{clause}; {rest}", None


def _name_the_cell(check: CheckResult, d: Diagnosis) -> None:
    """Replace "closest is run N ..., but ..." (or prefix the message) with the task's own cell error, in
    both languages."""
    clause = as_text(d.evidence.get("clause"))
    messages = as_text(check.get("messages") or check.get("message"))
    en, replaced = _renamed(messages["en"], clause["en"], _CLOSEST, "0 points: integrity flag")
    ko, _ = _renamed(messages["ko"], clause["ko"], _CLOSEST_KO, "0점: 무결성")
    if replaced is not None:
        check["evidence"] = {**(check.get("evidence") or {}), "closest_other": replaced}
    check["message"], check["messages"] = en, text(en, ko)
