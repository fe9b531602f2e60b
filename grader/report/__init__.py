"""HTML reports: a self-contained page per student and a class overview (see ``grader.report.html``).

The page functions are imported on first use: ``grader.report.html`` brings matplotlib (~0.5 s), which a CLI that
only needs the bilingual texts (``grader.report.i18n``) should not wait for before it starts grading.
"""

from __future__ import annotations

import importlib
from typing import Any

__all__ = ["render_class", "render_student", "write_reports"]


def __getattr__(name: str) -> Any:
    if name in __all__:
        return getattr(importlib.import_module("grader.report.html"), name)
    raise AttributeError(f"module 'grader.report' has no attribute {name!r}")
