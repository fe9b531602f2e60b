"""The ``grader`` command line (see :mod:`grader.cli.main`)."""

from grader.cli.main import build_parser, main

__all__ = ["build_parser", "main"]
