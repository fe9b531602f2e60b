"""``grader report``, ``override`` and ``export``: commands that work on the gradebook, never re-grading."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from grader.assignment import load_assignment
from grader.cli.output import format_table, write_pages

EXIT_OK = 0


def add_parsers(sub: Any) -> None:
    """Register this module's sub-commands."""
    rp = sub.add_parser("report", help="re-render every page from the stored results (no re-grading)")
    rp.add_argument("--out", type=Path, default=Path("reports"), help="folder with gradebook.sqlite (default reports/)")
    rp.add_argument("--lang", choices=["ko", "en"], default=None, help="language of the pages")
    rp.add_argument("--data", choices=["subset", "full"], default=None, help="baseline to show (default: assignment)")
    rp.add_argument("--assignment", type=Path, default=None, help="assignment folder (default: dnn2_mnist)")
    rp.set_defaults(func=_report)
    o = sub.add_parser("override", help="set an instructor's points for one check of one student")
    o.add_argument("student")
    o.add_argument("check_id")
    o.add_argument("points", type=float)
    o.add_argument("--comment", required=True, help="why (shown to the student)")
    o.add_argument("--author", default=None, help="who (default: $USER)")
    o.add_argument("--out", type=Path, default=Path("reports"), help="folder with gradebook.sqlite (default reports/)")
    o.set_defaults(func=_override)
    e = sub.add_parser("export", help="export the gradebook (latest result per student, overrides applied)")
    e.add_argument("format", choices=["csv", "canvas"])
    e.add_argument("--out", type=Path, default=None, help="CSV file to write (default: next to the gradebook)")
    e.add_argument("--gradebook", type=Path, default=Path("reports/gradebook.sqlite"))
    e.add_argument("--assignment", type=Path, default=None, help="assignment folder (default: dnn2_mnist)")
    e.add_argument("--canvas-id", default=None, help="Canvas assignment id for the column title")
    e.set_defaults(func=_export)


def _report(args: argparse.Namespace) -> int:
    from grader.result.build import write_result
    from grader.store.gradebook import Gradebook

    assignment = load_assignment(args.assignment)
    with Gradebook(args.out / "gradebook.sqlite", create=False) as gb:
        results = gb.latest_results()
    for r in results:
        write_result(r, args.out)
    mode = args.data or (results[0]["data"]["mode"] if results else assignment.default_data)
    print(format_table(results))
    print(write_pages(results, args.out, assignment, mode, args.lang or assignment.default_lang), file=sys.stderr)
    return EXIT_OK


def _override(args: argparse.Namespace) -> int:
    import getpass

    from grader.store.gradebook import Gradebook

    author = args.author or getpass.getuser()
    with Gradebook(args.out / "gradebook.sqlite", create=False) as gb:
        gb.add_override(args.student, args.check_id, args.points, args.comment, author)
        result = next(r for r in gb.latest_results() if r["submission"]["id"] == args.student)
    print(f"{args.student} {args.check_id} = {args.points:g} (by {author}); "
          f"score now {result['score']['auto']:g}/{result['score']['auto_max']:g}")
    print("run `grader report` to re-render the pages", file=sys.stderr)
    return EXIT_OK


def _export(args: argparse.Namespace) -> int:
    from grader.store.gradebook import Gradebook, export_canvas, export_csv

    with Gradebook(args.gradebook, create=False) as gb:
        results = gb.latest_results()
    default = args.gradebook.parent / ("grades.csv" if args.format == "csv" else "canvas.csv")
    out = args.out or default
    if args.format == "csv":
        export_csv(results, out)
    else:
        assignment = load_assignment(args.assignment)
        export_canvas(results, out, assignment.title, args.canvas_id)
    print(f"{len(results)} student(s) exported to {out}")
    return EXIT_OK
