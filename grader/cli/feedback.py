"""``grader feedback``: release each student's own page and summary, and mark the assignment released."""

from __future__ import annotations

import argparse
import getpass
import sys
from pathlib import Path
from typing import Any

from grader.cli.options import assignment_option
from grader.errors import UsageError

EXIT_OK = 0


def add_parsers(sub: Any) -> None:
    """Register this module's sub-commands."""
    f = sub.add_parser("feedback", help="one folder per student with only their page and a summary; marks the "
                                        "assignment released")
    f.add_argument("--out", type=Path, required=True, help="folder to write the per-student folders into")
    f.add_argument("--gradebook", type=Path, default=Path("reports/gradebook.sqlite"))
    assignment_option(f)
    f.add_argument("--lang", choices=["ko", "en"], default=None, help="language (default: the course's)")
    f.add_argument("--into-roster", type=Path, default=None, metavar="DIR",
                   help="also write DIR/<student>/feedback/ into each student's repository clone")
    f.add_argument("--grader", "--author", dest="author", default=None, help="who released (default: $USER)")
    f.set_defaults(func=_feedback)


def _feedback(args: argparse.Namespace) -> int:
    from grader.assignment import available, load_assignment
    from grader.report.feedback import write_feedback
    from grader.store.gradebook import Gradebook

    if args.into_roster is not None and not args.into_roster.is_dir():
        raise UsageError(f"--into-roster {args.into_roster}: no such folder")
    with Gradebook(args.gradebook, create=False) as gb:
        ids = gb.assignment_ids()
        if args.assignment is not None:
            assignment = load_assignment(args.assignment)
        elif len(ids) == 1 and ids[0] in available():
            assignment = load_assignment(ids[0])
        else:
            raise UsageError(f"pass --assignment (the gradebook holds {', '.join(ids) or 'nothing'})")
        gb.deadlines[assignment.id] = assignment.deadline
        results = gb.latest_results(assignment.id)
        if not results:
            raise UsageError(f"the gradebook holds no results of {assignment.id}")
        folders, missing = write_feedback(results, args.out, assignment, args.lang or assignment.default_lang,
                                          args.into_roster)
        event = gb.add_event("release", args.author or getpass.getuser(), "", assignment.id, "",
                             {"released": True, "students": len(folders)}, f"grader feedback --out {args.out}")
    for student in missing:
        print(f"  ✘ {student}: no clone in {args.into_roster}; only {args.out} has the feedback", file=sys.stderr)
    print(f"{len(folders)} feedback folder(s) of {assignment.id} in {args.out}; released at {event.time} "
          "(run `grader report` to show it on the class page)")
    return EXIT_OK
