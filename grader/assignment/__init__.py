"""The assignment: one homework's configuration (``assignments/<id>/assignment.toml``) and where to find it."""

from grader.assignment.config import (
    SCHEMA_VERSION,
    Assignment,
    CheckSpec,
    ExampleSpec,
    FigureSpec,
    LeaderboardSpec,
    PrintedSpec,
    ReportSpec,
    TaskInfo,
    load_assignment,
)
from grader.assignment.locate import available, find_assignment

__all__ = ["SCHEMA_VERSION", "Assignment", "CheckSpec", "ExampleSpec", "FigureSpec", "LeaderboardSpec", "PrintedSpec",
           "ReportSpec", "TaskInfo", "available", "find_assignment", "load_assignment"]
