"""The grader's exception hierarchy: one root, a few meaningful subclasses.

The CLI maps these to exit codes in one place (``grader.cli``); the library never prints.
"""

from __future__ import annotations


class GraderError(Exception):
    """Root of every error the grader raises on purpose."""


class UsageError(GraderError):
    """The user asked for something impossible (bad option, missing file, no GPU for --device cuda)."""


class SubmissionError(GraderError):
    """A submission cannot be read or is not a notebook/module. Names the submission."""

    def __init__(self, submission: str, problem: str) -> None:
        super().__init__(f"{submission}: {problem}")
        self.submission = submission
        self.problem = problem


class DataError(GraderError):
    """MNIST could not be found, read or prepared."""


class AssignmentError(GraderError):
    """The assignment definition (assignment.toml) or its baseline is invalid."""


class ExecutionError(GraderError):
    """The grader could not run a kernel at all (not: the student's code failed)."""
