"""Command line entry point: builds the parser from each command module and maps errors to exit codes.

The CLI is the only place that prints, and this module the only place that maps errors to exit codes:
0 = every submission graded (whatever the score), 1 = grading itself failed, 2 = usage error (an unknown or
invalid assignment included: nothing was graded), 130 = interrupted.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from grader import __version__
from grader.errors import AssignmentError, GraderError, UsageError

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130


def build_parser() -> argparse.ArgumentParser:
    """The argument parser (exposed for tests and docs); each command module adds its sub-commands."""
    from grader.cli import (
        assignments,
        authoring,
        check,
        classroom,
        deadlines,
        feedback,
        gradebook,
        gradescope,
        grading,
        review,
    )

    parser = argparse.ArgumentParser(prog="grader", description="Grade PyTorch homework notebooks.")
    parser.add_argument("--version", action="version", version=f"grader {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)
    for module in (grading, check, classroom, gradebook, deadlines, feedback, gradescope, review, assignments,
                   authoring):
        module.add_parsers(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``grader`` console script and ``python -m grader``."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args))
    except (UsageError, AssignmentError) as exc:
        print(f"grader: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except GraderError as exc:
        print(f"grader: {exc}", file=sys.stderr)
        return EXIT_FAILED
    except KeyboardInterrupt:
        print("grader: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
