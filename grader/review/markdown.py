"""Student Markdown rendered safely: everything escaped first, then a tiny subset turned back on.

Allowed: paragraphs, line breaks, ``*emphasis*`` / ``**strong**``, ``inline code``, fenced code blocks, ``-``/``*``/
``1.`` lists, ``#`` headings (shown as bold lines). Nothing else: no HTML of the student's (it is shown as text),
no links or images (a ``[text](url)`` stays literal text, so no ``javascript:``/``data:`` scheme can ever be
active), no iframes. The output only ever contains the tags this module writes itself.
"""

from __future__ import annotations

import re
from html import escape

_CODE = re.compile(r"`([^`\n]+)`")
_STRONG = re.compile(r"\*\*(?=\S)(.+?)(?<=\S)\*\*")
_EM = re.compile(r"(?<![\w*])\*(?=\S)([^*\n]+?)(?<=\S)\*(?![\w*])")
_BULLET = re.compile(r"^\s{0,3}[-*+]\s+(.*)$")
_NUMBER = re.compile(r"^\s{0,3}\d{1,3}[.)]\s+(.*)$")
_HEADING = re.compile(r"^\s{0,3}#{1,6}\s+(.*)$")


def inline(raw: str) -> str:
    """One line of text: escaped, then code spans, strong and emphasis (never inside code)."""
    out, last = [], 0
    for m in _CODE.finditer(raw):
        out.append(_emphasis(escape(raw[last:m.start()])))
        out.append(f"<code>{escape(m.group(1))}</code>")
        last = m.end()
    out.append(_emphasis(escape(raw[last:])))
    return "".join(out)


def _emphasis(escaped: str) -> str:
    return _EM.sub(r"<em>\1</em>", _STRONG.sub(r"<strong>\1</strong>", escaped))


def render(source: str) -> str:
    """The answer as HTML built only from ``p, br, em, strong, code, pre, ul, ol, li``."""
    html: list[str] = []
    lines = source.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    i = 0
    while i < len(lines):
        line = lines[i]
        if line.strip().startswith("```"):
            j = i + 1
            while j < len(lines) and not lines[j].strip().startswith("```"):
                j += 1
            html.append(f"<pre><code>{escape(chr(10).join(lines[i + 1:j]))}</code></pre>")
            i = j + 1
        elif _BULLET.match(line) or _NUMBER.match(line):
            pattern, tag = (_BULLET, "ul") if _BULLET.match(line) else (_NUMBER, "ol")
            items = []
            while i < len(lines) and (m := pattern.match(lines[i])):
                items.append(f"<li>{inline(m.group(1))}</li>")
                i += 1
            html.append(f"<{tag}>{''.join(items)}</{tag}>")
        elif not line.strip():
            i += 1
        else:
            para = []
            while i < len(lines) and lines[i].strip() and not lines[i].strip().startswith("```") \
                    and not _BULLET.match(lines[i]) and not _NUMBER.match(lines[i]):
                h = _HEADING.match(lines[i])
                para.append(f"<strong>{inline(h.group(1))}</strong>" if h else inline(lines[i]))
                i += 1
            html.append(f"<p>{'<br>'.join(para)}</p>")
    return "\n".join(html)
