"""People's decisions (events) applied to a stored result: manual grades from rubric items, overrides, dismissed
integrity flags. Points of a manual grade are derived from the *current* rubric (the assignment's items overlaid
with the rubric edits), so editing an item's points changes every grade that applied it.
"""

from __future__ import annotations

from typing import Any

from grader.store.events import Event

Item = dict[str, Any]  # {"id", "points", "en", "ko"}


def current_rubric(base: dict[str, list[Item]], edits: list[Event]) -> dict[str, list[Item]]:
    """Rubric items per check id: ``base`` (from assignment.toml) with every ``rubric_edit`` event applied in
    order (target ``check_id/item_id``; ``new`` = the item's fields, or ``{"deleted": true}``)."""
    out: dict[str, dict[str, Item]] = {cid: {i["id"]: dict(i) for i in items} for cid, items in base.items()}
    for e in edits:
        cid, _, iid = e.target.partition("/")
        items = out.setdefault(cid, {})
        if e.new.get("deleted"):
            items.pop(iid, None)
        else:
            items[iid] = {**items.get(iid, {}), **{k: e.new[k] for k in ("points", "en", "ko") if k in e.new},
                          "id": iid}
    return {cid: list(items.values()) for cid, items in out.items()}


def grade_points(event: Event, items: list[Item], maximum: float) -> float:
    """The points an override or manual grade gives: the override's number, or the sum of the applied items'
    current points plus ``adjust``, within [0, maximum]. An item deleted since counts 0."""
    if event.kind == "override":
        return min(max(float(event.new.get("points", 0.0)), 0.0), maximum)
    by_id = {i["id"]: i for i in items}
    total = sum(float(by_id[i]["points"]) for i in event.new.get("items", []) if i in by_id)
    return round(min(max(total + float(event.new.get("adjust", 0.0)), 0.0), maximum), 4)


def as_override(event: Event, items: list[Item], maximum: float) -> dict[str, Any]:
    """The ``check["override"]`` record the pages and exports read (author, comment, time; items applied)."""
    by_id = {i["id"]: i for i in items}
    record: dict[str, Any] = {"points": grade_points(event, items, maximum), "author": event.author,
                              "comment": str(event.new.get("comment") or event.why), "time": event.time,
                              "event": event.id, "kind": event.kind}
    if event.kind == "manual_grade":
        record["rubric_items"] = [by_id[i] for i in event.new.get("items", []) if i in by_id]
        record["adjust"] = float(event.new.get("adjust", 0.0))
    return record


def apply_flag_decisions(result: dict[str, Any], decisions: dict[str, Event]) -> dict[str, Any]:
    """Dismissed flags move to ``dismissed_flags`` (with the decision) and every check they alone voided gets
    its points back (``voided_points``); upheld flags stay, with the decision on them."""
    if not decisions or not result.get("flags"):
        return result
    kept: list[dict[str, Any]] = []
    dismissed: list[dict[str, Any]] = []
    for f in result["flags"]:
        e = decisions.get(f["id"])
        if e is not None:
            f = {**f, "decision": {"decision": e.new.get("decision"), "author": e.author, "why": e.why,
                                   "time": e.time, "event": e.id}}
        (dismissed if e is not None and e.new.get("decision") == "dismiss" else kept).append(f)
    result["flags"], result["dismissed_flags"] = kept, dismissed
    gone = {f["id"] for f in dismissed}
    for c in result.get("checks", []):
        voiders = c.get("voided_by") or []
        if voiders and set(voiders) <= gone and "voided_points" in c:
            c["restored_from_flags"] = list(voiders)
            c["points"] = float(c["voided_points"])
            c["passed"] = c["points"] >= float(c["max"])
            c["status"] = "pass" if c["passed"] else ("partial" if c["points"] > 0 else "fail")
            c.pop("voided_by", None)
    return result


def apply_overrides(result: dict[str, Any], overrides: dict[str, dict[str, Any]],
                    force: bool = False) -> dict[str, Any]:
    """Put each override on its check (``check["override"]``, ``points`` replaced) and recompute ``score``
    (``force``: recompute it even without overrides, after a dismissed flag gave points back)."""
    from grader.scoring.score import totals

    if not result.get("checks") or not (overrides or force):
        return result
    for c in result["checks"]:
        o = overrides.get(c["id"])
        if o is None:
            continue
        c["override"] = dict(o, original_points=c["points"], original_status=c["status"])
        c["points"] = min(float(o["points"]), float(c["max"]))
        c["pending"] = False
        c["passed"] = c["points"] >= c["max"]
        c["status"] = "pass" if c["passed"] else ("partial" if c["points"] > 0 else "fail")
    result["score"] = totals(result["checks"])
    return result
