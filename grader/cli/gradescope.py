"""``grader gradescope build`` (the autograder zip) and ``grader gradescope run`` (inside Gradescope)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from grader.assignment import load_assignment
from grader.cli.options import assignment_option, common_options, grade_options

EXIT_OK = 0


def add_parsers(sub: Any) -> None:
    """Register ``gradescope build`` and ``gradescope run``."""
    gs = sub.add_parser("gradescope", help="Gradescope: build the autograder zip, or grade inside Gradescope")
    gsub = gs.add_subparsers(dest="gradescope_command", required=True)
    b = gsub.add_parser("build", help="write the autograder zip (setup.sh, run_autograder, grader wheel, rubric)")
    b.add_argument("--out", type=Path, default=Path("autograder.zip"), help="zip to write (default autograder.zip)")
    assignment_option(b)
    b.add_argument("--data", default=None, metavar="MODE",
                   help="data mode run_autograder grades with (default: the assignment's [data] default; for "
                        "MNIST homework, full needs the raw MNIST files in $GRADER_MNIST_DIR on the Gradescope "
                        "machine)")
    b.add_argument("--budget", type=float, default=None,
                   help="seconds per submission baked into run_autograder (default: assignment.toml)")
    b.add_argument("--wheel", type=Path, default=None,
                   help="a prebuilt grader wheel (default: built from this checkout)")
    b.set_defaults(func=_build)
    r = gsub.add_parser("run", help="grade <root>/submission/* and write <root>/results/results.json")
    r.add_argument("--root", type=Path, default=None,
                   help="Gradescope's root folder (default $GRADER_AUTOGRADER_ROOT or /autograder)")
    common_options(r)
    r.add_argument("--cell-timeout", type=float, default=None, help="seconds per cell (default: assignment.toml)")
    r.add_argument("--budget", type=float, default=None, help="seconds per submission (default: assignment.toml)")
    r.add_argument("--visibility", choices=["hidden", "after_due_date", "after_published", "visible"],
                   default="visible", help="results.json visibility (default visible)")
    r.set_defaults(func=_run)


def _build(args: argparse.Namespace) -> int:
    from grader.integrations.gradescope import build_autograder_zip

    print("building the grader wheel and the autograder zip ...", file=sys.stderr, flush=True)
    path = build_autograder_zip(args.out, args.assignment, data=args.data, budget_s=args.budget, wheel=args.wheel)
    print(f"autograder zip written to {path}: upload it in Gradescope (Configure Autograder -> Zip file upload); "
          "give it at least 2 GB RAM / 1 CPU and a 20-40 min timeout")
    return EXIT_OK


def _run(args: argparse.Namespace) -> int:
    from grader.cli.output import format_result
    from grader.integrations.gradescope import autograder_root, run_autograder

    root = autograder_root(args.root)
    assignment = load_assignment(args.assignment)
    print(f"grading {root / 'submission'} ...", file=sys.stderr, flush=True)
    done = run_autograder(root, assignment, grade_options(args), visibility=args.visibility)
    print(format_result(done.result), flush=True)
    print(f"\nGradescope score {done.payload['score']:g}; results.json written to {done.path}", file=sys.stderr)
    return EXIT_OK
