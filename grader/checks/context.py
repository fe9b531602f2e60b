"""What a check sees: the evaluated runs, the recording, the execution report, the reference, the kernel facts."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from nbformat import NotebookNode

from grader.assignment.config import Assignment, PrintedSpec
from grader.diagnosis.model import Diagnosis
from grader.evaluation.runs import EvaluatedRun
from grader.execution.runner import ExecutionReport
from grader.recording.events import Recording


@dataclass
class CheckContext:
    """Inputs shared by every check of one submission."""

    runs: list[EvaluatedRun]
    recording: Recording
    execution: ExecutionReport | None
    notebook: NotebookNode
    baseline: dict[str, Any] | None
    mode: str
    template_texts: frozenset[str] = frozenset()  # markdown/comments of the starter: not the student's words
    memo: dict[str, Any] = field(default_factory=dict)
    diagnoses: list[Diagnosis] = field(default_factory=list)  # the training-loop doctor's findings (grader.diagnosis)
    facts: dict[str, Any] = field(default_factory=dict)  # fact id -> FactResult (the assignment's [[facts]])
    selectors: dict[str, Any] = field(default_factory=dict)  # selector name -> Selector ([runs.<name>])
    printed: PrintedSpec = field(default_factory=PrintedSpec)  # how the notebook prints cost and accuracy
    assignment: Assignment | None = None

    def notebook_cell(self, probe_cell: int) -> int:
        """Notebook cell index of a probe cell ordinal."""
        return self.recording.notebook_cell(probe_cell)

    def reference_run(self, key: str) -> dict[str, Any] | None:
        """The baseline's reference run ``key`` (e.g. ``relu_adam``), None without one."""
        if not self.baseline:
            return None
        return self.baseline.get("runs", {}).get(key)  # type: ignore[no-any-return]

    def fact(self, fact_id: str) -> Any:
        """The kernel fact ``fact_id`` (a FactResult), None when the assignment declares no such fact."""
        return self.facts.get(fact_id)

    def fact_spec(self, fact_id: str) -> dict[str, Any] | None:
        """How the fact ``fact_id`` was declared in ``[[facts]]`` (target, call arguments, ops), if it was."""
        facts = self.assignment.facts if self.assignment else ()
        return next((dict(f) for f in facts if f.get("id") == fact_id), None)
