"""Options every grading command shares, and turning them into ``GradeOptions``."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

ASSIGNMENT_HELP = ("assignment id (see `grader assignments`) or folder with assignment.toml (default: the course's "
                   "default_assignment in course.toml, else the only one present)")


def assignment_option(p: argparse.ArgumentParser) -> None:
    """``--assignment ID|PATH`` (a string: resolved by :func:`grader.assignment.load_assignment`)."""
    p.add_argument("--assignment", type=str, default=None, metavar="ID|PATH", help=ASSIGNMENT_HELP)


def common_options(p: argparse.ArgumentParser) -> None:
    """Options every grading command shares: the assignment, data, device and sandbox."""
    assignment_option(p)
    p.add_argument("--data", default=None, metavar="MODE",
                   help="data mode of the assignment's provider: subset (the embedded 6k/1k MNIST) or full "
                        "(60k/10k) for MNIST homework, none for homework without a dataset (default: the "
                        "assignment's [data] default)")
    p.add_argument("--data-dir", type=Path, default=None,
                   help="folder with the full MNIST raw files (.gz or not); default $GRADER_MNIST_DIR")
    p.add_argument("--device", choices=["auto", "cpu", "cuda"], default="auto",
                   help="auto: the student's code decides; cpu: hide GPUs; cuda: require a GPU")
    box = p.add_mutually_exclusive_group()
    box.add_argument("--require-sandbox", dest="sandbox", action="store_const", const="require", default="auto",
                     help="refuse to grade unless student code runs sandboxed (bubblewrap); default: sandbox "
                          "where possible, else grade with `sandbox: off` in the result (`grader batch`: "
                          "required unless --no-sandbox or GRADER_SANDBOX=off|auto)")
    box.add_argument("--no-sandbox", dest="sandbox", action="store_const", const="off",
                     help="run student code without the sandbox and its limits (trusted code only)")


def run_limits(p: argparse.ArgumentParser, junit_help: str) -> None:
    """Options shared by every command that grades: time limits and the JUnit file."""
    p.add_argument("--cell-timeout", type=float, default=None, help="seconds per cell (default: assignment.toml)")
    p.add_argument("--budget", type=float, default=None, help="seconds per submission (default: assignment.toml)")
    p.add_argument("--max-size", type=float, default=None, metavar="MB",
                   help="refuse submission files larger than this many MiB (default 64; stored outputs are "
                        "stripped before running, so this only stops absurd files)")
    p.add_argument("--junit", type=Path, default=None, help=junit_help)


def grade_options(args: argparse.Namespace, **extra: Any) -> Any:
    """``GradeOptions`` from the shared options (``extra`` adds or overrides fields; a command without
    :func:`run_limits`, like ``reference``, gets the assignment's limits)."""
    from grader.pipeline import GradeOptions

    fields = dict(data=args.data, data_dir=args.data_dir, device=args.device,
                  cell_timeout_s=getattr(args, "cell_timeout", None), budget_s=getattr(args, "budget", None),
                  sandbox=getattr(args, "sandbox", "auto"),
                  max_submission_mb=getattr(args, "max_size", None))
    fields.update(extra)
    return GradeOptions(**fields)
