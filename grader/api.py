"""The public API for writing an assignment's checks (``assignments/<id>/checks.py``).

A checks module imports only this module::

    from dataclasses import dataclass
    from grader.api import CheckContext, Outcome, check, select, text

    @dataclass(frozen=True)
    class Params:
        run: str
        min_epochs: int = 3

    @check("trained_long_enough", params=Params)
    def trained_long_enough(ctx: CheckContext, p: Params) -> Outcome:
        er, why = select(ctx, p.run)
        if er is None:
            return Outcome(False, why)
        ok = er.run.epochs_completed >= p.min_epochs
        return Outcome(ok, text(f"{er.label}: {er.run.epochs_completed} epochs", f"{er.label}: epoch "
                                                                                 f"{er.run.epochs_completed}개"))

and names itself in assignment.toml (``checks_modules = ["checks.py"]``); a rubric line uses a check with
``check = "trained_long_enough"`` and gives its parameters inline. The reusable checks (``run_trained``,
``loss_decreased``, ``loss_vs_reference``, ``accuracy_vs_reference``, ``optimizer_other_than``,
``loss_falls_by``, ``no_output_activation``, ``written_answer``, ``facts_match``, ``parameter_counts``) need no
Python at all. See docs/authoring.md.
"""

from grader.checks.builtin import (
    accuracy_outcome,
    band_outcome,
    decrease_outcome,
    optimizer_note,
    other_runs,
    output_outcome,
    ratio_outcome,
    reference_key,
)
from grader.checks.context import CheckContext
from grader.checks.facts import FactJudgement, close, judge, plain
from grader.checks.notebook import as_fraction, cells_of_run, printed_numbers, stdout, text_near
from grader.checks.reference import AccuracyGrade, accuracy_grade, loss_band, outside_band
from grader.checks.registry import CheckDef, Outcome, Registry, check
from grader.checks.runs import (
    NO_TRAINING,
    architecture_problems,
    choose_run,
    closest_reason,
    differences,
    epoch_problem,
    progress_span,
    relative_decrease,
    trained_for,
)
from grader.checks.selectors import Selector, run_problems, select
from grader.evaluation.runs import EvaluatedRun
from grader.recording.architecture import ACTIVATION_NAMES, Architecture, Layer
from grader.recording.events import Run
from grader.text import Text, as_text, cat, in_lang, join, text

__all__ = [
    # what a check receives and returns, and how it is registered
    "CheckContext", "EvaluatedRun", "Run", "Architecture", "Layer", "ACTIVATION_NAMES", "Outcome", "check", "CheckDef",
    "Registry",
    # bilingual messages
    "Text", "text", "cat", "join", "as_text", "in_lang",
    # choosing the run a task is about
    "Selector", "select", "run_problems", "choose_run", "architecture_problems", "epoch_problem", "closest_reason",
    "NO_TRAINING", "differences", "other_runs", "optimizer_note",
    # loss trend, reference bands, accuracy against the reference
    "relative_decrease", "trained_for", "progress_span", "loss_band", "outside_band", "band_outcome",
    "reference_key", "AccuracyGrade", "accuracy_grade", "accuracy_outcome", "decrease_outcome", "output_outcome",
    "ratio_outcome",
    # what the student wrote and printed
    "text_near", "cells_of_run", "stdout", "printed_numbers", "as_fraction",
    # facts from the student's kernel
    "FactJudgement", "judge", "close", "plain",
]
