"""What the TA works through: one queue per manual check (the answers in a stable pseudo-random order) and the
queue of submissions with integrity flags or runs whose training could not be verified.

Built from the gradebook's latest results with the people's decisions applied, so a queue always shows the
current grade and the id of the latest event (the ``base`` a save must name).
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from typing import Any

from grader.store.gradebook import Gradebook

# claims about the loss in a written answer (English and Korean); a hint only, never a grade
_NOT_DECREASED = re.compile(r"(did ?n[o']t|does ?n[o']t|not|never|no longer)\s+(decrease|go down|drop|fall)|"
                            r"줄어들지\s*않|줄지\s*않|감소하지\s*않|떨어지지\s*않|그대로", re.I)
_DECREASED = re.compile(r"\b(decreased|went down|dropped|fell)\b|줄었|줄어들었|감소했|떨어졌", re.I)


@dataclass
class Answer:
    """One student's answer to one manual check, with what the TA needs beside it."""

    student: str
    assignment: str
    check: dict[str, Any]
    result: dict[str, Any]
    order_key: str
    event: int = 0                   # the latest grade event on it (0: none): the base of the next save
    graded: bool = False

    @property
    def text(self) -> str:
        return str((self.check.get("evidence") or {}).get("text") or "")


@dataclass
class Queue:
    """A manual check's answers in their stable pseudo-random order."""

    assignment: str
    check_id: str
    task: str
    max: float
    answers: list[Answer] = field(default_factory=list)

    @property
    def left(self) -> int:
        return sum(1 for a in self.answers if not a.graded)


def order_key(seed: str, assignment: str, check_id: str, student: str) -> str:
    """Stable pseudo-random position: the same for every TA and every start (PrairieLearn's answer to the bias
    of grading in submission or name order); ``seed`` changes it."""
    return hashlib.sha256(f"{seed}\0{assignment}\0{check_id}\0{student}".encode()).hexdigest()


def build_queues(gb: Gradebook, assignment: str | None = None, seed: str = "",
                 results: list[dict[str, Any]] | None = None) -> list[Queue]:
    """One queue per manual check of every assignment in the gradebook (or only ``assignment``'s); ``results``:
    the gradebook's latest results when the caller has them already."""
    latest = {(e.student, e.assignment_id, e.target): e.id for e in gb.history(kinds=("override", "manual_grade"))}
    queues: dict[tuple[str, str], Queue] = {}
    for r in gb.latest_results(assignment) if results is None else results:
        aid = str((r.get("versions") or {}).get("assignment") or assignment or "")
        student = str(r["submission"]["id"])
        for c in r.get("checks", []):
            if not c.get("manual"):
                continue
            q = queues.setdefault((aid, c["id"]), Queue(aid, c["id"], str(c.get("task") or ""), float(c["max"])))
            event = latest.get((student, aid, c["id"])) or latest.get((student, "", c["id"])) or 0
            q.answers.append(Answer(student, aid, c, r, order_key(seed, aid, c["id"], student), event,
                                    graded=not c.get("pending")))
    for q in queues.values():
        q.answers.sort(key=lambda a: a.order_key)
    return [queues[k] for k in sorted(queues)]


def next_ungraded(q: Queue, after: int) -> int | None:
    """The position of the first ungraded answer after ``after`` (wrapping around), or None when all are."""
    n = len(q.answers)
    for step in range(1, n + 1):
        pos = (after + step) % n
        if not q.answers[pos].graded:
            return pos
    return None


def evidence_runs(result: dict[str, Any], check: dict[str, Any],
                  groups: tuple[tuple[str, ...], ...] = ()) -> list[dict[str, Any]]:
    """The recorded runs the check's task is about, in index order: every run another check of the same task
    names in its evidence (``run``/``runs``), and the runs of every check grouped with one of those (``groups``:
    the assignment's figures, e.g. dnn2's ReLU/Sigmoid pair); all trained runs when none is named."""
    task = {c["id"] for c in result.get("checks", []) if c.get("task") == check.get("task") and c["id"] != check["id"]}
    names = task | {cid for g in groups if task & set(g) for cid in g}
    indices: set[int] = set()
    for c in result.get("checks", []):
        if c["id"] in names:
            ev = c.get("evidence") or {}
            if isinstance(ev.get("run"), int):
                indices.add(ev["run"])
            indices.update(i for i in ev.get("runs") or [] if isinstance(i, int))
    runs = result.get("runs") or []
    chosen = [r for r in runs if r.get("index") in indices] if indices else [r for r in runs if r.get("epochs")]
    return sorted(chosen, key=lambda r: int(r.get("index", 0)))


def epoch_losses(run: dict[str, Any]) -> list[float]:
    """A run's mean training loss per epoch."""
    return [float(e["mean_loss"]) for e in run.get("epochs") or [] if e.get("mean_loss") is not None]


def loss_claim_hint(answer: str, runs: list[dict[str, Any]]) -> dict[str, str] | None:
    """``{"en", "ko"}`` when the answer claims the loss did not decrease but every shown run's loss fell by a
    tenth or more (or claims it decreased while none did); None otherwise. Never a grade."""
    curves = [(r, epoch_losses(r)) for r in runs]
    curves = [(r, ls) for r, ls in curves if len(ls) >= 2]
    if not curves or not answer.strip():
        return None
    fell = [(r, ls) for r, ls in curves if ls[-1] <= 0.9 * ls[0]]
    says_not, says_did = bool(_NOT_DECREASED.search(answer)), bool(_DECREASED.search(answer))
    numbers = ", ".join(f"run {r.get('index')}: {ls[0]:.3f} → {ls[-1]:.3f}" for r, ls in curves)
    if says_not and not says_did and len(fell) == len(curves):
        return {"en": f"The answer says the loss did not decrease, but in every recorded run it did ({numbers}).",
                "ko": f"답에는 loss 가 줄지 않았다고 되어 있지만, 기록된 모든 실험에서 loss 가 줄었습니다 ({numbers})."}
    if says_did and not says_not and not fell:
        return {"en": f"The answer says the loss decreased, but in no recorded run did it fall ({numbers}).",
                "ko": f"답에는 loss 가 줄었다고 되어 있지만, 기록된 어떤 실험에서도 loss 가 줄지 않았습니다 "
                      f"({numbers})."}
    return None


def needs_decision(result: dict[str, Any]) -> bool:
    """A submission for the flags queue: an integrity flag, or a run whose training was not replay-verified."""
    return bool(result.get("flags")) or any(
        (r.get("proof") or {}).get("status") == "unverified" for r in result.get("runs") or [])


def flag_queue(results: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Every result that has integrity flags (decided or not) or unverified runs, by student."""
    return [r for r in results if needs_decision(r) or r.get("dismissed_flags")]


class ResultsCache:
    """The gradebook's stored results parsed once per version of its attempts (several TAs' servers may share
    the file: the version is read on every request); the decisions are applied fresh every time."""

    def __init__(self) -> None:
        self._key: tuple[str, str | None] | None = None
        self._stored: list[tuple[str, str, dict[str, Any]]] = []

    def results(self, gb: Gradebook, assignment: str | None) -> list[dict[str, Any]]:
        """``gb.latest_results(assignment)``, without re-reading unchanged attempts."""
        key = (gb.attempts_version(), assignment)
        if key != self._key:
            self._stored, self._key = gb.stored_results(assignment), key
        return gb.decide(self._stored)
