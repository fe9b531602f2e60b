"""What a diagnosis is, what it is computed from, and the thresholds an assignment can tune.

A :class:`Diagnosis` is one finding about one run (or one task, or one cell): a typed severity, the numbers it
rests on (``evidence``), what happened and what to do in Korean and English, and where the lecture covers it.
Diagnoses never change points by themselves; checks may read them to explain a verdict.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from grader.assignment.settings import TaskSpec
from grader.text import Text

if TYPE_CHECKING:  # annotations only: the diagnosis stage never imports a later stage at run time
    from grader.evaluation.runs import EvaluatedRun
    from grader.execution.runner import ExecutionReport
    from grader.recording.events import Recording

Severity = Literal["info", "warning", "error"]
SEVERITIES: tuple[Severity, ...] = ("error", "warning", "info")


@dataclass
class Diagnosis:
    """One finding of the training-loop doctor."""

    id: str
    severity: Severity
    message: Text
    todo: Text
    evidence: dict[str, Any]
    run: int | None = None          # 0-based run index (result ``runs[i].index``); None: not about one run
    task: str | None = None         # the task whose cells it concerns, when known
    cell_index: int | None = None   # notebook cell index it points at, when one
    lecture: str | None = None      # where the lecture covers it (the assignment's ``[diagnoses.lecture]``)
    checks: list[str] = field(default_factory=list)  # the checks it explains (filled after the checks ran)

    @property
    def ref(self) -> str:
        """A key unique within one result, e.g. ``grad_not_zeroed@run1`` or ``task_cell_error@cell22``."""
        where = f"run{self.run + 1}" if self.run is not None else f"cell{self.cell_index}" \
            if self.cell_index is not None else (self.task or "submission")
        return f"{self.id}@{where}"

    def to_dict(self) -> dict[str, Any]:
        """The result JSON's view (``docs/result-schema.md``, ``diagnoses[]``)."""
        return {"id": self.id, "ref": self.ref, "severity": self.severity, "run": self.run, "task": self.task,
                "cell_index": self.cell_index, "evidence": _json_safe(self.evidence), "message": dict(self.message),
                "todo": dict(self.todo), "lecture": self.lecture, "checks": list(self.checks)}


def _json_safe(value: Any) -> Any:
    """Evidence as strict JSON: NaN/inf become the strings ``"nan"``/``"inf"``, tuples lists."""
    if isinstance(value, float) and not math.isfinite(value):
        return "nan" if math.isnan(value) else ("inf" if value > 0 else "-inf")
    if isinstance(value, dict):
        return {str(k): _json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_safe(v) for v in value]
    return value


@dataclass
class DiagnosisInput:
    """Everything the doctor reads: the evaluated runs and the recording, the execution report, the notebook."""

    runs: list[EvaluatedRun]
    recording: Recording
    execution: ExecutionReport | None
    notebook: Any
    tasks: list[TaskSpec] = field(default_factory=list)
    memo: dict[str, Any] = field(default_factory=dict)

    def cell_index(self, probe_cell: int) -> int:
        """Notebook cell index of a probe cell ordinal."""
        return self.recording.notebook_cell(probe_cell)

    def stdout(self, cell_index: int) -> str:
        """What a notebook cell printed ('' when unknown)."""
        if self.execution is None:
            return ""
        return next((c.stdout for c in self.execution.cells if c.index == cell_index), "")

    def doctor_events(self, kind: str) -> list[dict[str, Any]]:
        """The kernel's ``doctor`` events of one kind, without those of the grader's own export cell."""
        last = len(self.recording.code_cells)
        return [e for e in self.recording.doctor if e.get("kind") == kind
                and (not last or int(e.get("cell", 0)) <= last)]

    def run_by_index(self, index: int) -> EvaluatedRun | None:
        """The evaluated run with this 0-based index."""
        return next((er for er in self.runs if er.run.index == index), None)
