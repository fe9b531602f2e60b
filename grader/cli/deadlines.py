"""``grader extend`` and ``grader penalty``: extensions and late-penalty overrides, as gradebook events."""

from __future__ import annotations

import argparse
import getpass
from pathlib import Path
from typing import Any

from grader.cli.options import assignment_option

EXIT_OK = 0


def add_parsers(sub: Any) -> None:
    """Register this module's sub-commands."""
    x = sub.add_parser("extend", help="grant a student an extension (days in total; the due time and late_until "
                                      "move by them)")
    x.add_argument("student")
    x.add_argument("--days", type=float, required=True, help="days granted in total (a later extend replaces it)")
    x.add_argument("--why", default="", help="why (kept in the history)")
    _common(x)
    x.set_defaults(func=_extend)
    p = sub.add_parser("penalty", help="override a student's late penalty (points taken)")
    p.add_argument("student")
    p.add_argument("points", type=float, help="points taken for lateness (0 = none)")
    p.add_argument("--why", required=True, help="why (kept in the history)")
    _common(p)
    p.set_defaults(func=_penalty)


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--grader", "--author", dest="author", default=None, help="who (default: $USER)")
    p.add_argument("--out", type=Path, default=Path("reports"), help="folder with gradebook.sqlite (default reports/)")
    p.add_argument("--gradebook", type=Path, default=None, help="the gradebook (default: OUT/gradebook.sqlite)")
    assignment_option(p)


def _aid(args: argparse.Namespace, gb: Any) -> str | None:
    """``--assignment``'s id (its ``[deadline]`` given to the gradebook), else None."""
    from grader.assignment import load_assignment

    if args.assignment is None:
        return None
    assignment = load_assignment(args.assignment)
    gb.deadlines[assignment.id] = assignment.deadline
    return assignment.id


def _late_line(gb: Any, student: str, assignment_id: str) -> str:
    result = next(r for r in gb.latest_results(assignment_id) if r["submission"]["id"] == student)
    late, score = result.get("late"), result["score"]
    if not late:
        return f"{assignment_id} has no [deadline]: no penalty"
    days = "unknown" if late["days_late"] is None else f"{late['days_late']}"
    return (f"days late {days}, penalty {late['penalty']:g}, total after penalty "
            f"{score.get('after_penalty', score['auto']):g}")


def _extend(args: argparse.Namespace) -> int:
    from grader.store.gradebook import Gradebook
    from grader.store.late import extend

    with Gradebook(args.gradebook or args.out / "gradebook.sqlite", create=False) as gb:
        event = extend(gb, args.student, args.days, args.author or getpass.getuser(), args.why, _aid(args, gb))
        line = _late_line(gb, args.student, event.assignment_id)
    print(f"{args.student}: extension of {args.days:g} day(s) in {event.assignment_id} (event {event.id}); {line}")
    return EXIT_OK


def _penalty(args: argparse.Namespace) -> int:
    from grader.store.gradebook import Gradebook
    from grader.store.late import set_penalty

    with Gradebook(args.gradebook or args.out / "gradebook.sqlite", create=False) as gb:
        event = set_penalty(gb, args.student, args.points, args.author or getpass.getuser(), args.why,
                            _aid(args, gb))
        line = _late_line(gb, args.student, event.assignment_id)
    print(f"{args.student}: penalty set by hand in {event.assignment_id} (event {event.id}); {line}")
    return EXIT_OK
