"""``grader assignments``: the assignments this installation can grade (id, version, title, folder)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from grader.assignment import available, load_assignment
from grader.assignment.locate import default_assignment, search_roots
from grader.errors import AssignmentError

EXIT_OK = 0


def add_parsers(sub: Any) -> None:
    """Register ``grader assignments``."""
    a = sub.add_parser("assignments", help="list the assignments that --assignment can name (id, version, title, "
                                           "folder; * = the default)")
    a.set_defaults(func=_list)


def rows() -> list[tuple[str, str, str, Path]]:
    """(id, version, title, folder) of every assignment found; an invalid one has version ``?`` and the problem."""
    out = []
    for aid, folder in sorted(available().items()):
        try:
            a = load_assignment(folder)
            title = a.title["ko"] if a.default_lang == "ko" else a.title["en"]
            out.append((aid, a.version, title, folder))
        except AssignmentError as exc:
            out.append((aid, "?", f"✘ invalid: {exc}", folder))
    return out


def _default() -> Path | None:
    try:
        return default_assignment()
    except AssignmentError:
        return None


def _list(args: argparse.Namespace) -> int:
    found = rows()
    if not found:
        roots = ", ".join(str(r) for r in search_roots()) or "none exist"
        print(f"no assignments found (searched: $GRADER_ASSIGNMENTS, ./assignments, the checkout, the installed "
              f"grader_assignments; folders: {roots})", file=sys.stderr)
        return EXIT_OK
    default = _default()
    width = max(len(r[0]) for r in found) + 2
    for aid, version, title, folder in found:
        mark = "*" if folder == default else " "
        print(f"{mark} {aid:<{width}} {version:<8} {title}\n    {folder}")
    return EXIT_OK
