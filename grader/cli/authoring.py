"""``grader new`` and ``grader validate``: the instructor's authoring tools."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from grader.cli.options import assignment_option, grade_options

EXIT_OK, EXIT_FAILED = 0, 1


def add_parsers(sub: Any) -> None:
    """Register this module's sub-commands."""
    n = sub.add_parser("new", help="scaffold assignments/ID/ (toml, checks.py, starter, README) and "
                                   "reference/ID/solution.ipynb, valid from the start")
    n.add_argument("id", help="the new assignment's id (lower-case letters, digits, _)")
    n.add_argument("--title", default=None, help="its title (default: the id)")
    n.add_argument("--provider", default="mnist", metavar="none|mnist|FILE.py:NAME",
                   help="the data the notebooks are served: none (they make their own), mnist (default) or a provider "
                        "object NAME in FILE.py (copied into the new folder)")
    n.add_argument("--root", type=Path, default=Path("."),
                   help="folder holding assignments/ and reference/ (default: the current directory)")
    n.set_defaults(func=_new)
    v = sub.add_parser("validate", help="check an assignment: its checks load, its reference solution earns every "
                                        "automatic point, every example gets its declared verdict (exit 1 if not)")
    v.add_argument("target", nargs="?", default=None, metavar="ID|PATH",
                   help="the assignment (default: --assignment, else every assignment found)")
    assignment_option(v)
    v.add_argument("--data", default=None, metavar="MODE", help="data mode to grade in (default: the assignment's)")
    v.add_argument("--no-solution", action="store_true", help="do not grade the reference solution")
    v.set_defaults(func=_validate, device="cpu", data_dir=None, sandbox="auto")
    v.set_defaults(cell_timeout=None, budget=None, max_size=None)


def _new(args: argparse.Namespace) -> int:
    from grader.scaffold import new_assignment

    files = new_assignment(args.id, args.root, args.title, args.provider)
    for f in files:
        print(f"  + {f}")
    print(f"registered {args.id} in {files[-1]}; next: edit {files[0]} (docs/authoring.md), then "
          f"`grader validate {files[0].parent}`", file=sys.stderr)
    return EXIT_OK


def _validate(args: argparse.Namespace) -> int:
    from grader.assignment import available, load_assignment
    from grader.validate import validate

    spec = args.target or args.assignment
    targets = [load_assignment(spec)] if spec else [load_assignment(p) for p in available().values()]
    ok = True
    for assignment in targets:
        print(f"{assignment.id} {assignment.version} ({assignment.root})", flush=True)
        report = validate(assignment, grade_options(args), solution=not args.no_solution)
        if report.rubric_error:
            print(f"  ✘ checks: {report.rubric_error}")
        else:
            print("  ✔ checks load and their parameters are valid")
        for v in ([report.solution] if report.solution else []) + report.examples:
            mark = "✔" if v.ok else "✘"
            print(f"  {mark} {Path(v.file).name}: {v.score if v.score is not None else '–'}/{v.expected_score:g}")
            for m in v.mismatches:
                print(f"      {m}")
        ok = ok and report.ok
    print("valid" if ok else "NOT valid: see ✘ above", file=sys.stderr)
    return EXIT_OK if ok else EXIT_FAILED
