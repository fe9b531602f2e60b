"""``grader report``, ``override``, ``history`` and ``export``: commands that work on the gradebook, never re-grading.

One gradebook may hold several assignments (a course): ``report`` then writes the course page at the top of
``--out`` and each assignment's class and student pages under ``--out/<assignment id>/``.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from grader.assignment import Assignment, available, load_assignment
from grader.cli.canvas import push_from_args, push_options
from grader.cli.options import assignment_option
from grader.cli.output import format_table, write_pages
from grader.errors import UsageError

EXIT_OK = 0


def add_parsers(sub: Any) -> None:
    """Register this module's sub-commands."""
    rp = sub.add_parser("report", help="re-render every page from the stored results (no re-grading); with "
                                       "several assignments in the gradebook, the course page too")
    rp.add_argument("--out", type=Path, default=Path("reports"), help="folder of the pages (default reports/)")
    _gradebook_option(rp)
    rp.add_argument("--lang", choices=["ko", "en"], default=None, help="language of the pages")
    rp.add_argument("--data", default=None, metavar="MODE", help="baseline to show (default: the results')")
    assignment_option(rp)
    rp.set_defaults(func=_report)
    o = sub.add_parser("override", help="set an instructor's points for one check of one student")
    o.add_argument("student")
    o.add_argument("check_id")
    o.add_argument("points", type=float)
    o.add_argument("--comment", required=True, help="why (shown to the student)")
    o.add_argument("--grader", "--author", dest="author", default=None,
                   help="who, in the gradebook's history (default: $USER)")
    o.add_argument("--out", type=Path, default=Path("reports"), help="folder with gradebook.sqlite (default reports/)")
    _gradebook_option(o)
    assignment_option(o)
    o.set_defaults(func=_override)
    h = sub.add_parser("history", help="every manual grade, override, rubric edit and flag decision of a student: "
                                       "who, when, old → new, why")
    h.add_argument("student")
    h.add_argument("--out", type=Path, default=Path("reports"), help="folder with gradebook.sqlite (default reports/)")
    _gradebook_option(h)
    assignment_option(h)
    h.set_defaults(func=_history)
    e = sub.add_parser("export", help="export the gradebook (latest result per student, overrides applied): one "
                                      "assignment (csv, canvas) or the whole course (course)")
    e.add_argument("format", choices=["csv", "canvas", "course"])
    e.add_argument("--out", type=Path, default=None, help="CSV file to write (default: next to the gradebook)")
    e.add_argument("--gradebook", type=Path, default=Path("reports/gradebook.sqlite"))
    assignment_option(e)
    e.add_argument("--canvas-id", default=None, help="Canvas assignment id for the column title")
    push_options(e)
    e.set_defaults(func=_export)


def _gradebook_option(p: argparse.ArgumentParser) -> None:
    p.add_argument("--gradebook", type=Path, default=None, help="the gradebook (default: OUT/gradebook.sqlite)")


def _db(args: argparse.Namespace) -> Path:
    return args.gradebook or args.out / "gradebook.sqlite"


def _one_assignment(gb: Any, chosen: Assignment | None) -> Assignment:
    """The assignment a per-assignment command works on: ``--assignment``, else the gradebook's only one (its
    ``[deadline]`` is the one the gradebook's late penalties follow)."""
    assignment = _pick_assignment(gb, chosen)
    gb.deadlines[assignment.id] = assignment.deadline
    return assignment


def _pick_assignment(gb: Any, chosen: Assignment | None) -> Assignment:
    ids = gb.assignment_ids()
    if chosen is not None:
        if ids and chosen.id not in ids:
            raise UsageError(f"the gradebook holds no results of {chosen.id} (it holds {', '.join(ids)})")
        return chosen
    if len(ids) > 1:
        raise UsageError(f"the gradebook holds several assignments ({', '.join(ids)}): pass --assignment ID "
                         "(or `grader export course` for all of them)")
    return load_assignment(ids[0]) if ids and ids[0] in available() else load_assignment(None)


def _chosen(args: argparse.Namespace) -> Assignment | None:
    """``--assignment`` loaded (before the gradebook is opened: a wrong id is the first error), else None."""
    return load_assignment(args.assignment) if args.assignment is not None else None


def _pages(results: list[dict[str, Any]], out: Path, assignment: Assignment, args: argparse.Namespace) -> str:
    """One assignment's result JSONs, class page and student pages under ``out``."""
    from grader.result.build import write_result

    for r in results:
        write_result(r, out)
    mode = args.data or (results[0]["data"]["mode"] if results else assignment.default_data)
    if not mode:
        raise UsageError(f"pass --data: the gradebook is empty and {assignment.id} has no default data mode")
    return write_pages(results, out, assignment, mode, args.lang or assignment.default_lang)


def _report(args: argparse.Namespace) -> int:
    from grader.store.gradebook import Gradebook

    chosen = _chosen(args)
    with Gradebook(_db(args), create=False) as gb:
        ids = gb.assignment_ids()
        if chosen is not None or len(ids) <= 1:
            assignment = _one_assignment(gb, chosen)
            results = gb.latest_results(assignment.id if ids else None)
            print(format_table(results))
            print(_pages(results, args.out, assignment, args), file=sys.stderr)
            return EXIT_OK
        per = {aid: gb.latest_results(aid) for aid in ids}
    return _course_report(per, args)


def _course_report(per: dict[str, list[dict[str, Any]]], args: argparse.Namespace) -> int:
    """Every assignment's pages in ``out/<id>/`` and the course page ``out/index.html``."""
    from grader.assignment.locate import course_table
    from grader.report.course import write_course

    course = course_table()
    titles: dict[str, str] = {}
    lang = args.lang
    for aid, results in per.items():
        if aid not in available():
            print(f"grader: {aid}: assignment not found here; its pages are not rendered", file=sys.stderr)
            continue
        assignment = load_assignment(aid)
        titles[aid] = assignment.title["ko" if (lang or assignment.default_lang) == "ko" else "en"]
        lang = lang or assignment.default_lang
        print(f"{aid}: {_pages(results, args.out / aid, assignment, args)}", file=sys.stderr)
    everything = [r for results in per.values() for r in results]
    page = write_course(everything, args.out, titles, lang or "en", str(course.get("title") or ""),
                        list(course.get("assignments") or []))
    print(format_table(everything))
    print(f"course page: {page}")
    return EXIT_OK


def _override(args: argparse.Namespace) -> int:
    import getpass

    from grader.store.gradebook import Gradebook

    author = args.author or getpass.getuser()
    chosen = _chosen(args)
    with Gradebook(_db(args), create=False) as gb:
        aid = chosen.id if chosen is not None else None
        gb.add_override(args.student, args.check_id, args.points, args.comment, author, assignment_id=aid)
        result = next(r for r in gb.latest_results(aid) if r["submission"]["id"] == args.student)
    print(f"{args.student} {args.check_id} = {args.points:g} (by {author}); "
          f"score now {result['score']['auto']:g}/{result['score']['auto_max']:g}")
    print("run `grader report` to re-render the pages", file=sys.stderr)
    return EXIT_OK


def _history(args: argparse.Namespace) -> int:
    from grader.store.gradebook import Gradebook

    chosen = _chosen(args)
    with Gradebook(_db(args), create=False) as gb:
        events = gb.history(args.student, chosen.id if chosen is not None else None)
    if not events:
        print(f"no decisions recorded for {args.student}", file=sys.stderr)
        return EXIT_OK
    for e in events:
        print(format_event(e.to_dict()))
    return EXIT_OK


def format_event(e: dict[str, Any]) -> str:
    """One line of ``grader history``: time, who, kind, what, old → new, why."""
    def short(v: Any) -> str:
        if not v:
            return "—"
        return ", ".join(f"{k}={v[k]}" for k in v if v[k] not in ("", None, [], 0.0) or k == "points") or "—"
    where = "/".join(x for x in (e["assignment"], e["student"], e["target"]) if x)
    why = f'  "{e["why"]}"' if e["why"] else ""
    return f"{e['time']}  {e['author']:<12} {e['kind']:<13} {where}: {short(e['old'])} → {short(e['new'])}{why}"


def _export(args: argparse.Namespace) -> int:
    from grader.store.course import export_course_csv
    from grader.store.gradebook import Gradebook, export_canvas, export_csv

    chosen = _chosen(args)
    name = {"csv": "grades.csv", "canvas": "canvas.csv", "course": "course.csv"}[args.format]
    out = args.out or args.gradebook.parent / name
    with Gradebook(args.gradebook, create=False) as gb:
        if args.format == "course":
            from grader.assignment.locate import course_table

            results = gb.latest_results()
            export_course_csv(results, out, list(course_table().get("assignments") or []))
            print(f"{len({r['submission']['id'] for r in results})} student(s), "
                  f"{len(gb.assignment_ids())} assignment(s) exported to {out}")
            return EXIT_OK
        assignment = _one_assignment(gb, chosen)
        results = gb.latest_results(assignment.id if gb.assignment_ids() else None)
    if args.push:
        if args.format != "canvas":
            raise UsageError("--push is for `grader export canvas`")
        print("\n".join(push_from_args(results, args)))
        return EXIT_OK
    if args.format == "csv":
        export_csv(results, out)
    else:
        export_canvas(results, out, assignment.title["en"], args.canvas_id)
    print(f"{len(results)} student(s) of {assignment.id} exported to {out}")
    return EXIT_OK
