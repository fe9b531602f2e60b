"""Similarity in the pages: the class page's section (from ``similarity.json``) and one side-by-side page per
listed pair (``similarity/<a>--<b>.html``): both notebooks' code with the matching stretches marked, escaped."""

from __future__ import annotations

import html
from pathlib import Path
from typing import Any

from grader.report import i18n

SHOWN = 20  # pairs listed on the class page: every flagged one, then the highest scores up to this many


def pair_page_name(a: str, b: str) -> str:
    """``<a>--<b>.html``, both ids made safe for a file name."""
    from grader.report.html import page_name

    return page_name(a)[:-5] + "--" + page_name(b)


def shown_pairs(report: dict[str, Any] | None) -> list[dict[str, Any]]:
    """The pairs the class page lists (flagged first), each with its page's ``href``."""
    pairs = list((report or {}).get("pairs") or [])
    keep = [p for p in pairs if p.get("flagged")]
    keep += [p for p in pairs if not p.get("flagged")][:max(SHOWN - len(keep), 0)]
    return [{**p, "href": "similarity/" + pair_page_name(p["a"], p["b"])} for p in keep]


def _marked(code: str, spans: list[list[int]]) -> str:
    out, at = [], 0
    for start, end in sorted(spans):
        start = max(start, at)
        if end <= start:
            continue
        out += [html.escape(code[at:start]), "<mark>", html.escape(code[start:end]), "</mark>"]
        at = end
    return "".join(out) + html.escape(code[at:])


def render_pair(pair: dict[str, Any], code_a: str, code_b: str, lang: str) -> str:
    """One side-by-side page (self-contained, every student string escaped)."""
    t = i18n.strings(lang)
    a, b = html.escape(pair["a"]), html.escape(pair["b"])
    evidence = "".join(f"<li>{html.escape(str(e.get('kind')))}: {html.escape(str(e.get('runs')))}</li>"
                       for e in pair.get("evidence") or [])
    cols = "".join(f"<div><h2>{name}</h2><pre>{_marked(code, pair['matches'][side])}</pre></div>"
                   for name, code, side in ((a, code_a, "a"), (b, code_b, "b")))
    return (f'<!DOCTYPE html><html lang="{lang}"><head><meta charset="utf-8"><title>{a} · {b}</title><style>'
            "body{font-family:system-ui,sans-serif;margin:16px}.cols{display:grid;grid-template-columns:1fr 1fr;"
            "gap:12px}pre{background:#f6f7f9;padding:8px;overflow:auto;font-size:12px}mark{background:#ffe08a}"
            f"</style></head><body><h1>{a} · {b}</h1><p>{t['similarity_score']}: {pair['score']:.2f} "
            f"(code {pair['code_score']:.2f}, z {pair['z']:.1f}){' · ⚑' if pair['flagged'] else ''}</p>"
            f"<ul>{evidence}</ul><p>{t['similarity_note']}</p><div class=\"cols\">{cols}</div></body></html>")


def write_pair_pages(report: dict[str, Any], out: Path, lang: str) -> list[Path]:
    """The side-by-side pages of the pairs the class page lists (needs the report's ``code`` texts)."""
    from grader.report.html import _write_atomic

    codes = report.get("code") or {}
    written = []
    for p in shown_pairs(report):
        path = out / p["href"]
        _write_atomic(path, render_pair(p, codes.get(p["a"], ""), codes.get(p["b"], ""), lang))
        written.append(path)
    return written
