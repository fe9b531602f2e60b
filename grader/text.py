"""Bilingual text: every message a student or instructor reads exists in Korean and English.

A :class:`Text` is a plain dict ``{"en": ..., "ko": ...}`` (it crosses stages as JSON). Checks, flags and
diagnoses build their messages from Texts, so each page can show each message in its own language; nothing is
machine-translated afterwards.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import TypedDict

LANGS = ("ko", "en")


class Text(TypedDict):
    """One sentence (or a few) in both languages of the reports."""

    ko: str
    en: str


_RUN_KO = re.compile(r"\brun (\d+) \(")


def text(en: str, ko: str | None = None) -> Text:
    """A :class:`Text` (English first, as the code reads); without ``ko`` both languages read ``en``.
    A run label "run N (" reads "실행 N (" in Korean."""
    return {"en": en, "ko": _RUN_KO.sub(r"실행 \1 (", en if ko is None else ko)}


def as_text(value: str | Text | None) -> Text:
    """``value`` as a Text (a plain string reads the same in both languages)."""
    if value is None:
        return text("")
    if isinstance(value, str):
        return text(value)
    en = str(value.get("en", ""))
    return {"en": en, "ko": str(value["ko"]) if "ko" in value else en}  # an empty ko stays empty (cat's parts)


def cat(*parts: str | Text) -> Text:
    """The parts one after the other (a string part is the same in both languages)."""
    texts = [as_text(p) for p in parts]
    return {"en": "".join(t["en"] for t in texts), "ko": "".join(t["ko"] for t in texts)}


def join(sep: str | Text, parts: Iterable[str | Text]) -> Text:
    """``sep.join(parts)`` in each language."""
    s = as_text(sep)
    texts = [as_text(p) for p in parts]
    return {"en": s["en"].join(t["en"] for t in texts), "ko": s["ko"].join(t["ko"] for t in texts)}


def in_lang(value: str | Text | dict[str, str] | None, lang: str) -> str:
    """The ``lang`` version of a text (English when that language is missing, '' for None)."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    return str(value.get(lang) or value.get("en") or "")
