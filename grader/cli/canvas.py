"""``grader export canvas --push``: the options and the printout of a push (grader/integrations/canvas_push.py)."""

from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import Any

from grader.errors import UsageError


def push_options(e: argparse.ArgumentParser) -> None:
    """The push options of ``grader export``."""
    e.add_argument("--push", action="store_true", help="canvas: post the totals through the Canvas API "
                                                      "(token from $CANVAS_TOKEN) instead of writing a CSV")
    e.add_argument("--course", default=None, help="--push: the Canvas course id")
    e.add_argument("--assignment-id", default=None, help="--push: the Canvas assignment id")
    e.add_argument("--url", default=None, help="--push: the Canvas base URL (e.g. https://canvas.example.edu)")
    e.add_argument("--roster", type=Path, default=None,
                   help="--push: CSV mapping student to login_id and/or sis_user_id")
    e.add_argument("--dry-run", action="store_true", help="--push: print what would change, change nothing")


def push_from_args(results: list[dict[str, Any]], args: argparse.Namespace) -> list[str]:
    """Run the push the options ask for; the lines to print."""
    from grader.integrations.canvas_push import push, read_roster

    missing = [n for n, v in (("--course", args.course), ("--assignment-id", args.assignment_id),
                              ("--url", args.url), ("--roster", args.roster)) if not v]
    if missing:
        raise UsageError(f"export canvas --push needs {', '.join(missing)}")
    token = os.environ.get("CANVAS_TOKEN", "")
    if not token:
        raise UsageError("export canvas --push reads the API token from $CANVAS_TOKEN, which is not set")
    roster = read_roster(args.roster, {str(r["submission"]["id"]) for r in results})
    report = push(results, roster, args.url, token, args.course, args.assignment_id, args.dry_run)
    verb = "would change" if args.dry_run else "changed"
    lines = [f"{c.student} (canvas {c.canvas_id}): {'—' if c.current is None else f'{c.current:g}'} → {c.new:g}"
             for c in report["changes"]]
    lines += [f"  ✘ {s}: not among the course's students (check the roster's login/SIS id)"
              for s in report["unmatched"]]
    lines.append(f"{len(report['changes'])} grade(s) {verb}, {report['unchanged']} already right"
                 + ("" if args.dry_run or not report["changes"] else f" (Canvas progress {report['progress']})"))
    return lines
