"""HTML reports: a self-contained page per student and a class overview (see ``grader.report.html``)."""

from grader.report.html import render_class, render_student, write_reports

__all__ = ["render_class", "render_student", "write_reports"]
