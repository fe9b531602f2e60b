"""The training-loop doctor's findings as plain lines for the messages of Classroom and Gradescope tests."""

from __future__ import annotations

from typing import Any


def explaining(check: dict[str, Any], result: dict[str, Any]) -> list[dict[str, Any]]:
    """The result's findings that explain a check (the check lists their refs under ``diagnoses``)."""
    refs = set(check.get("diagnoses") or [])
    return [d for d in result.get("diagnoses") or [] if d.get("ref") in refs]


def finding_lines(d: dict[str, Any]) -> list[str]:
    """One finding in English, then in Korean: what happened, what to do, the lecture pointer."""
    message, todo = d.get("message") or {}, d.get("todo") or {}
    lecture = f" (lecture: {d['lecture']})" if d.get("lecture") else ""
    return [f"Why: {message.get('en', '')}. To do: {todo.get('en', '')}{lecture}",
            f"이유: {message.get('ko', '')}. 할 일: {todo.get('ko', '')}"]


def why_lines(check: dict[str, Any], result: dict[str, Any]) -> list[str]:
    """The lines of every finding that explains ``check`` (none when it explains nothing)."""
    return [line for d in explaining(check, result) for line in finding_lines(d)]
