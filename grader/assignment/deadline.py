"""The ``[deadline]`` table of ``assignment.toml`` and the late policy it sets.

```toml
[deadline]
due = "2026-03-10T23:59:00+09:00"   # ISO 8601 with an offset (a time without one is refused)
penalty_per_day = 0.1               # fraction of the earned points taken per started day late
max_penalty = 0.5                   # the most that is ever taken (fraction of the earned points)
grace_minutes = 15                  # late by at most this much = on time
late_until = "2026-03-17T23:59:00+09:00"  # optional: submitted after this (plus any extension) earns 0
```

:func:`late_policy` turns a submission time (and an extension in days) into days late and the fraction taken; it
never looks at check results: the penalty is applied to the total afterwards, as its own column.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from grader.errors import AssignmentError

_KEYS = {"due", "penalty_per_day", "max_penalty", "grace_minutes", "late_until"}


@dataclass(frozen=True)
class Deadline:
    """A parsed ``[deadline]``: ``due`` and ``late_until`` are timezone-aware."""

    due: datetime
    penalty_per_day: float = 0.0
    max_penalty: float = 1.0
    grace_minutes: float = 0.0
    late_until: datetime | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready (times as ISO 8601 strings)."""
        return {"due": self.due.isoformat(), "penalty_per_day": self.penalty_per_day,
                "max_penalty": self.max_penalty, "grace_minutes": self.grace_minutes,
                "late_until": self.late_until.isoformat() if self.late_until else None}


def parse_time(value: Any, where: str) -> datetime:
    """An ISO 8601 time with an offset (``Z`` accepted); ValueError naming ``where`` otherwise."""
    if isinstance(value, datetime):
        parsed = value
    else:
        text = str(value).strip()
        try:
            parsed = datetime.fromisoformat(text[:-1] + "+00:00" if text.endswith(("Z", "z")) else text)
        except ValueError:
            raise ValueError(f"{where}: {text!r} is not an ISO 8601 time (e.g. 2026-03-10T23:59:00+09:00)") from None
    if parsed.tzinfo is None or parsed.utcoffset() is None:
        raise ValueError(f"{where}: {value!s} has no UTC offset; write it with one (e.g. +09:00 or Z)")
    return parsed


def parse_deadline(table: dict[str, Any] | None) -> Deadline | None:
    """``[deadline]`` → :class:`Deadline` (None when absent); AssignmentError naming the key otherwise."""
    if not table:
        return None
    unknown = sorted(set(table) - _KEYS)
    if unknown:
        raise AssignmentError(f"[deadline]: unknown key(s) {', '.join(unknown)} (known: {', '.join(sorted(_KEYS))})")
    if "due" not in table:
        raise AssignmentError("[deadline]: `due` is required (ISO 8601 with an offset)")
    try:
        due = parse_time(table["due"], "[deadline] due")
        late_until = parse_time(table["late_until"], "[deadline] late_until") if "late_until" in table else None
        numbers = {k: float(table.get(k, d)) for k, d in
                   (("penalty_per_day", 0.0), ("max_penalty", 1.0), ("grace_minutes", 0.0))}
    except (TypeError, ValueError) as exc:
        raise AssignmentError(str(exc)) from None
    for k in ("penalty_per_day", "max_penalty"):
        if not 0 <= numbers[k] <= 1:
            raise AssignmentError(f"[deadline] {k} must be a fraction between 0 and 1, not {numbers[k]:g}")
    if numbers["grace_minutes"] < 0:
        raise AssignmentError("[deadline] grace_minutes must not be negative")
    if late_until is not None and late_until < due:
        raise AssignmentError("[deadline] late_until is before due")
    return Deadline(due, numbers["penalty_per_day"], numbers["max_penalty"], numbers["grace_minutes"], late_until)


def late_policy(deadline: Deadline, submitted: datetime, extension_days: float = 0.0) -> dict[str, Any]:
    """Days late (started days after the due time plus the extension, the grace minutes forgiven) and the
    fraction of the earned points taken: ``min(days × penalty_per_day, max_penalty)``, or all of it after
    ``late_until`` (moved by the extension too)."""
    shift = timedelta(days=extension_days)
    due = deadline.due + shift
    late_by = submitted - due
    if late_by <= timedelta(minutes=deadline.grace_minutes):
        return {"days_late": 0, "fraction": 0.0, "due": due.isoformat(), "zero": False}
    days = math.ceil(late_by / timedelta(days=1))
    if deadline.late_until is not None and submitted > deadline.late_until + shift:
        return {"days_late": days, "fraction": 1.0, "due": due.isoformat(), "zero": True}
    fraction = min(days * deadline.penalty_per_day, deadline.max_penalty)
    return {"days_late": days, "fraction": round(fraction, 6), "due": due.isoformat(), "zero": False}
