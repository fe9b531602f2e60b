"""``grader report``, ``override`` and ``export``: commands that work on the gradebook, never re-grading."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from grader.assignment import Assignment, available, load_assignment
from grader.cli.options import assignment_option
from grader.cli.output import format_table, write_pages
from grader.errors import UsageError

EXIT_OK = 0


def add_parsers(sub: Any) -> None:
    """Register this module's sub-commands."""
    rp = sub.add_parser("report", help="re-render every page from the stored results (no re-grading)")
    rp.add_argument("--out", type=Path, default=Path("reports"), help="folder with gradebook.sqlite (default reports/)")
    rp.add_argument("--lang", choices=["ko", "en"], default=None, help="language of the pages")
    rp.add_argument("--data", choices=["subset", "full"], default=None, help="baseline to show (default: assignment)")
    assignment_option(rp)
    rp.set_defaults(func=_report)
    o = sub.add_parser("override", help="set an instructor's points for one check of one student")
    o.add_argument("student")
    o.add_argument("check_id")
    o.add_argument("points", type=float)
    o.add_argument("--comment", required=True, help="why (shown to the student)")
    o.add_argument("--author", default=None, help="who (default: $USER)")
    o.add_argument("--out", type=Path, default=Path("reports"), help="folder with gradebook.sqlite (default reports/)")
    assignment_option(o)
    o.set_defaults(func=_override)
    e = sub.add_parser("export", help="export the gradebook (latest result per student, overrides applied)")
    e.add_argument("format", choices=["csv", "canvas"])
    e.add_argument("--out", type=Path, default=None, help="CSV file to write (default: next to the gradebook)")
    e.add_argument("--gradebook", type=Path, default=Path("reports/gradebook.sqlite"))
    assignment_option(e)
    e.add_argument("--canvas-id", default=None, help="Canvas assignment id for the column title")
    e.set_defaults(func=_export)


def _graded_with(results: list[dict[str, Any]]) -> set[str]:
    """The assignment ids the stored results were graded with."""
    return {str((r.get("versions") or {}).get("assignment")) for r in results
            if (r.get("versions") or {}).get("assignment")}


def _chosen(args: argparse.Namespace) -> Assignment | None:
    """``--assignment`` loaded (before the gradebook is opened: a wrong id is the first error), else None."""
    return load_assignment(args.assignment) if args.assignment is not None else None


def _assignment_for(results: list[dict[str, Any]], chosen: Assignment | None) -> Assignment:
    """The ``--assignment`` given when every result was graded with it (UsageError otherwise); without it, the
    one assignment the results were graded with when it can be found, else the default assignment."""
    if chosen is not None:
        other = sorted(_graded_with(results) - {chosen.id})
        if other:
            raise UsageError(f"the gradebook holds results of assignment(s) {', '.join(other)}, "
                             f"not only of {chosen.id} (--assignment)")
        return chosen
    ids = _graded_with(results)
    if len(ids) == 1 and next(iter(ids)) in available():
        return load_assignment(next(iter(ids)))
    return load_assignment(None)


def _report(args: argparse.Namespace) -> int:
    from grader.result.build import write_result
    from grader.store.gradebook import Gradebook

    chosen = _chosen(args)
    with Gradebook(args.out / "gradebook.sqlite", create=False) as gb:
        results = gb.latest_results()
    assignment = _assignment_for(results, chosen)
    for r in results:
        write_result(r, args.out)
    mode = args.data or (results[0]["data"]["mode"] if results else assignment.default_data)
    if not mode:
        raise UsageError(f"pass --data: the gradebook is empty and {assignment.id} has no default data mode")
    print(format_table(results))
    print(write_pages(results, args.out, assignment, mode, args.lang or assignment.default_lang), file=sys.stderr)
    return EXIT_OK


def _override(args: argparse.Namespace) -> int:
    import getpass

    from grader.store.gradebook import Gradebook

    author = args.author or getpass.getuser()
    chosen = _chosen(args)
    with Gradebook(args.out / "gradebook.sqlite", create=False) as gb:
        if chosen is not None:  # the override must be for a result of that assignment
            _assignment_for([r for r in gb.latest_results() if r["submission"]["id"] == args.student], chosen)
        gb.add_override(args.student, args.check_id, args.points, args.comment, author)
        result = next(r for r in gb.latest_results() if r["submission"]["id"] == args.student)
    print(f"{args.student} {args.check_id} = {args.points:g} (by {author}); "
          f"score now {result['score']['auto']:g}/{result['score']['auto_max']:g}")
    print("run `grader report` to re-render the pages", file=sys.stderr)
    return EXIT_OK


def _export(args: argparse.Namespace) -> int:
    from grader.store.gradebook import Gradebook, export_canvas, export_csv

    chosen = _chosen(args)
    with Gradebook(args.gradebook, create=False) as gb:
        results = gb.latest_results()
    assignment = _assignment_for(results, chosen) if args.format == "canvas" or chosen else None
    default = args.gradebook.parent / ("grades.csv" if args.format == "csv" else "canvas.csv")
    out = args.out or default
    if args.format == "csv":
        export_csv(results, out)
    else:
        assert assignment is not None
        export_canvas(results, out, assignment.title["en"], args.canvas_id)
    print(f"{len(results)} student(s) exported to {out}")
    return EXIT_OK
