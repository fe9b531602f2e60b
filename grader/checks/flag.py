"""An integrity flag: what an instructor must look at, and what it takes away from the score.

``voids``: check-id patterns that get 0 points (``*`` every automatic check, ``tag:accuracy`` the checks with that
tag); ``untrusted``: ``{"runs": [...]}`` runs no check may use, ``{"accuracy": [...]}`` runs whose accuracy is not
credited. :mod:`grader.scoring.voiding` applies them.
"""

from __future__ import annotations

from typing import Any, TypedDict

from grader.text import Text, as_text


class _FlagBase(TypedDict):
    id: str
    message: str       # English
    messages: Text     # both languages
    evidence: dict[str, Any]


class Flag(_FlagBase, total=False):
    """One integrity flag of a result (``docs/result-schema.md``, ``flags[]``)."""

    voids: list[str]
    untrusted: dict[str, list[int]]


def make_flag(fid: str, message: str | Text, voids: list[str] | None = None,
              untrusted: dict[str, list[int]] | None = None, **evidence: Any) -> Flag:
    """A flag with its message in both languages; ``voids``/``untrusted`` when it takes points away."""
    msg = as_text(message)
    flag: Flag = {"id": fid, "message": msg["en"], "messages": msg, "evidence": evidence}
    if voids:
        flag["voids"] = voids
    if untrusted:
        flag["untrusted"] = untrusted
    return flag
