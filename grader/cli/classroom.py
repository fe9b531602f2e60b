"""``grader classroom`` (grade inside GitHub Classroom's workflow) and ``grader classroom-template``."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Any

from grader.assignment import load_assignment
from grader.cli.options import assignment_option, common_options, grade_options, run_limits
from grader.cli.output import maybe_junit
from grader.errors import UsageError

EXIT_OK = 0


def add_parsers(sub: Any) -> None:
    """Register ``classroom`` and ``classroom-template``."""
    c = sub.add_parser("classroom", help="grade for GitHub Classroom: write the reporter payload to $GITHUB_OUTPUT")
    c.add_argument("submission", type=Path, help="the student's notebook (.ipynb) or module (.py)")
    common_options(c)
    c.add_argument("--out", type=Path, default=Path("reports"), help="folder for the result JSON (default reports/)")
    c.add_argument("--output-name", default="result", help="step output name (default: result)")
    run_limits(c, "also write JUnit XML")
    c.set_defaults(func=_classroom)
    t = sub.add_parser("classroom-template",
                       help="write the GitHub Classroom template repository (workflow, homework, README)")
    t.add_argument("dest", type=Path, help="empty or new folder to write the template into")
    t.add_argument("--grader-spec", required=True,
                   help="what the workflow pip-installs, e.g. git+https://github.com/ORG/grader@v0.1.0")
    assignment_option(t)
    t.set_defaults(func=_template)


def _classroom(args: argparse.Namespace) -> int:
    """Grade one submission, append ``result=<base64 JSON>`` to $GITHUB_OUTPUT, print a summary; exit 0."""
    if not args.submission.exists():
        raise UsageError(f"no such file: {args.submission}")
    assignment = load_assignment(args.assignment)

    from grader.integrations.classroom import append_github_output, classroom_payload, summary_text
    from grader.pipeline import grade_file
    from grader.result.build import write_result

    opts = grade_options(args)
    print(f"grading {args.submission} ...", file=sys.stderr, flush=True)
    res = grade_file(args.submission, assignment, opts)
    write_result(res, args.out)
    payload = classroom_payload(res, auto_max=sum(c.points for c in assignment.checks if not c.manual))
    target = os.environ.get("GITHUB_OUTPUT")
    if target:
        append_github_output(Path(target), payload, args.output_name)
    print(summary_text(res, payload), flush=True)
    if not target:
        print("GITHUB_OUTPUT is not set: the reporter payload was not written", file=sys.stderr)
    maybe_junit([res], args.junit)
    return EXIT_OK



def _template(args: argparse.Namespace) -> int:
    from grader.integrations.classroom import write_template

    assignment = load_assignment(args.assignment)
    files = write_template(assignment, args.dest, args.grader_spec)
    print(f"{len(files)} file(s) written to {args.dest}/: push it as a template repository and pick it when "
          "creating the Classroom assignment")
    return EXIT_OK
