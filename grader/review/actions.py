"""What the review app's POST requests do: each validates its JSON body and appends one event to the gradebook
(``manual_grade``, ``rubric_edit``, ``flag_decision``), naming the event it was based on."""

from __future__ import annotations

from functools import lru_cache
from typing import TYPE_CHECKING, Any

from grader.errors import UsageError
from grader.store.gradebook import Gradebook
from grader.text import in_lang

if TYPE_CHECKING:
    from grader.review.app import ReviewConfig


def _str(body: dict[str, Any], key: str) -> str:
    value = body.get(key)
    if not isinstance(value, str) or not value.strip():
        raise UsageError(f"{key}: a non-empty string is required")
    return value


def _latest_checks(gb: Gradebook, aid: str, check_id: str) -> dict[str, Any]:
    """student → the check's row (status, max) in the student's latest attempt of ``aid`` (no result JSON read)."""
    latest: dict[str, int] = {}
    for r in gb.db.execute("SELECT student, id FROM attempts WHERE assignment_id=? ORDER BY student,"
                           " (status IN ('failed')) DESC, finished_at, id", (aid,)):
        latest[r["student"]] = int(r["id"])
    by_attempt = {int(r["attempt"]): r for r in gb.db.execute(
        "SELECT attempt, status, max FROM check_results WHERE check_id=?", (check_id,))}
    return {s: by_attempt[a] for s, a in latest.items() if a in by_attempt}


def left(gb: Gradebook, aid: str, check_id: str) -> int:
    """Answers of ``check_id`` still waiting for a grade (pending and no grade event)."""
    graded = {e.student for e in gb.history(None, aid, ("override", "manual_grade")) if e.target == check_id}
    return sum(1 for s, row in _latest_checks(gb, aid, check_id).items()
               if row["status"] == "pending" and s not in graded)


def grade(gb: Gradebook, body: dict[str, Any], author: str, config: ReviewConfig) -> dict[str, Any]:
    """Apply rubric items (+ an optional ``adjust``) and a comment to one student's manual check."""
    aid, cid, student = _str(body, "assignment"), _str(body, "check"), _str(body, "student")
    row = _latest_checks(gb, aid, cid).get(student)
    if row is None:
        raise UsageError(f"{student} has no check {cid} in {aid}")
    items = body.get("items") or []
    rubric = gb.rubric(aid).get(cid, [])
    known = {i["id"] for i in rubric}
    if not isinstance(items, list) or not set(items) <= known:
        raise UsageError(f"unknown rubric item(s): {sorted(set(map(str, items)) - known)}")
    comment = str(body.get("comment") or "")
    new: dict[str, Any] = {"items": list(dict.fromkeys(items)), "adjust": float(body.get("adjust") or 0.0),
                           "comment": comment}
    by_id = {i["id"]: i for i in rubric}
    points = max(0.0, min(float(row["max"]), sum(float(by_id[i]["points"]) for i in new["items"]) + new["adjust"]))
    new["points_at_save"] = points  # for the history only: the grade follows later edits of the items' points
    event = gb.add_event("manual_grade", author, student, aid, cid, new, why=comment, base=int(body.get("base", 0)))
    return {"event": event.id, "points": points, "left": left(gb, aid, cid),
            "label": f"{points:g} / {float(row['max']):g} ({author})"}


def edit_rubric(gb: Gradebook, body: dict[str, Any], author: str, config: ReviewConfig) -> dict[str, Any]:
    """Add or change a rubric item (its points apply to every grade that used it), or delete it."""
    aid, cid, item = _str(body, "assignment"), _str(body, "check"), _str(body, "item")
    if "/" in item:
        raise UsageError("an item id cannot contain '/'")
    if body.get("deleted"):
        new: dict[str, Any] = {"deleted": True}
    else:
        new = {"points": float(body["points"]), "en": _str(body, "en"), "ko": str(body.get("ko") or body["en"])}
    base = body.get("base")
    before = next((i for i in gb.rubric(aid).get(cid, []) if i["id"] == item), None)
    event = gb.add_event("rubric_edit", author, "", aid, f"{cid}/{item}", new, why=str(body.get("why") or ""),
                         base=None if base is None else int(base),
                         old={k: v for k, v in before.items() if k != "id"} if before else None)
    return {"event": event.id, "rubric": gb.rubric(aid).get(cid, [])}


def decide_flag(gb: Gradebook, body: dict[str, Any], author: str, config: ReviewConfig) -> dict[str, Any]:
    """Uphold or dismiss one integrity flag of a submission, with a reason (dismissing gives the points back)."""
    aid, student, flag = _str(body, "assignment"), _str(body, "student"), _str(body, "flag")
    decision = _str(body, "decision")
    if decision not in ("uphold", "dismiss"):
        raise UsageError("decision must be uphold or dismiss")
    why = _str(body, "why") if decision == "dismiss" else str(body.get("why") or "")
    results = [r for r in gb.latest_results(aid) if r["submission"]["id"] == student]
    flags = {f["id"] for r in results for f in (r.get("flags") or []) + (r.get("dismissed_flags") or [])}
    if flag not in flags:
        raise UsageError(f"{student} has no flag {flag} in {aid}")
    event = gb.add_event("flag_decision", author, student, aid, flag, {"decision": decision}, why=why,
                         base=int(body.get("base", 0)))
    (result,) = [r for r in gb.latest_results(aid) if r["submission"]["id"] == student]
    return {"event": event.id, "score": result["score"]}


def comment_bank(gb: Gradebook, aid: str, cid: str, limit: int = 30) -> list[str]:
    """Comments already given on this check, most used first (reusable with one choice)."""
    counts: dict[str, int] = {}
    for e in gb.history(None, aid, ("manual_grade", "override")):
        c = str(e.new.get("comment") or e.why).strip()
        if e.target == cid and c:
            counts[c] = counts.get(c, 0) + 1
    return sorted(counts, key=lambda c: -counts[c])[:limit]


def prompt(aid: str, check: dict[str, Any], lang: str) -> str:
    """What the question asked: the task's title and the check's hint from the assignment (when it is here)."""
    a = _assignment(aid)
    if a is not None:
        spec = next((c for c in a.checks if c.id == check["id"]), None)
        task = a.task_info.get(str(check.get("task")))
        parts = [in_lang(task.title, lang) if task else "", in_lang(spec.hint, lang) if spec and spec.hint else ""]
        return " — ".join(p for p in parts if p)
    return in_lang(check.get("messages") or check.get("message"), lang)


def run_groups(aid: str) -> tuple[tuple[str, ...], ...]:
    """Checks whose runs belong together on one screen: the assignment's figures (dnn2: ReLU beside Sigmoid)."""
    a = _assignment(aid)
    return tuple(tuple(f.checks) for f in a.figures) if a is not None else ()


@lru_cache(maxsize=8)
def _assignment(aid: str) -> Any:
    from grader.assignment import available, load_assignment

    return load_assignment(aid) if aid in available() else None
