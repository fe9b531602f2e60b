"""What a diagnosis is, what it is computed from, and the thresholds an assignment can tune.

A :class:`Diagnosis` is one finding about one run (or one task, or one cell): a typed severity, the numbers it
rests on (``evidence``), what happened and what to do in Korean and English, and where the lecture covers it.
Diagnoses never change points by themselves; checks may read them to explain a verdict.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field, fields
from typing import TYPE_CHECKING, Any, Literal, TypedDict

if TYPE_CHECKING:  # annotations only: the diagnosis stage never imports a later stage at run time
    from grader.checks.context import EvaluatedRun
    from grader.execution.runner import ExecutionReport
    from grader.recording.events import Recording

Severity = Literal["info", "warning", "error"]
SEVERITIES: tuple[Severity, ...] = ("error", "warning", "info")


class Text(TypedDict):
    """One sentence (or a few) in both languages of the reports."""

    ko: str
    en: str


_RUN_KO = re.compile(r"\brun (\d+) \(")


def text(en: str, ko: str) -> Text:
    """A :class:`Text` (English first, as the code reads); "run N (" reads "실행 N (" in Korean."""
    return {"en": en, "ko": _RUN_KO.sub(r"실행 \1 (", ko)}


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


@dataclass(frozen=True)
class TaskSpec:
    """A task of the assignment and how to find its cells: a markdown heading matching ``heading``."""

    id: str
    number: int          # 1-based position in the rubric
    title: str
    heading: str | None  # regex (case-insensitive) for its heading lines; None: the title or "task N"/"과제 N"

    def pattern(self) -> re.Pattern[str]:
        """The heading regex; by default the title or ``task N`` / ``과제 N``."""
        if self.heading:
            return re.compile(self.heading, re.I)
        return re.compile(rf"{re.escape(self.title)}|\b(?:task|과제)\s*{self.number}(?!\d)", re.I)


@dataclass(frozen=True)
class DiagnosisConfig:
    """Thresholds of every diagnosis (``[diagnoses]`` in assignment.toml overrides any of them)."""

    plateau_tolerance: float = 0.1      # |smoothed loss − ln C| at most this counts as "at the chance plateau"
    plateau_window: int = 10            # steps of the moving average the plateau is judged on
    plateau_epochs: float = 1.0         # stuck at least this many epochs (and still there at the end): a finding
    slow_start_epochs: float = 0.1      # a vanishing-gradient plateau this long at the start: an info finding
    vanishing_ratio: float = 0.01       # first-layer / last-layer gradient norm below this: vanishing gradients
    small_lr_sgd: float = 0.01          # SGD-like: lr / (1 − momentum) at most this is "too small"
    small_lr_adaptive: float = 1e-5     # Adam, RMSprop, Adagrad, ...: lr at most this is "too small"
    spike_factor: float = 5.0           # a loss above this × max(ln C, first loss): the loss blew up
    growth_ratio: float = 1.5           # last epoch mean ≥ this × best epoch mean: the loss grew back ...
    growth_share: float = 0.25          # ... and gave back at least this share of what it had fallen
    explode_ratio: float = 1000.0       # gradient norm grew this many times over its first sample: exploding
    dead_relu_fraction: float = 0.5     # share of hidden ReLU units with no activation on a sampled batch
    unscaled_max: float = 10.0          # inputs above this are raw pixel values (0–255), not scaled
    range_ratio: float = 5.0            # test-time input range this many times off the training range
    carry_ratio: float = 0.01           # carried-over .grad norm above this × the new gradient's: not zeroed
    cost_tolerance: float = 0.05        # printed "cost =" matching a value within this relative tolerance
    disabled: tuple[str, ...] = ()      # diagnosis ids the assignment turns off
    lecture: dict[str, str] = field(default_factory=dict)  # diagnosis id (or id.cause) -> lecture pointer

    @classmethod
    def from_table(cls, table: dict[str, Any] | None) -> DiagnosisConfig:
        """Defaults overridden by an assignment's ``[diagnoses]`` table; ValueError names a bad key."""
        table = dict(table or {})
        known = {f.name: f for f in fields(cls)}
        unknown = sorted(set(table) - set(known))
        if unknown:
            raise ValueError(f"[diagnoses]: unknown setting(s) {', '.join(unknown)}")
        kw: dict[str, Any] = {}
        for key, value in table.items():
            if key == "disabled":
                kw[key] = tuple(str(v) for v in value)
            elif key == "lecture":
                kw[key] = {str(k): str(v) for k, v in dict(value).items()}
            elif key == "plateau_window":
                kw[key] = int(value)
            else:
                kw[key] = float(value)
        return cls(**kw)

    def lecture_for(self, diag_id: str, cause: str | None = None) -> str | None:
        """The lecture pointer for a diagnosis (``id.cause`` first, then ``id``), if the assignment gives one."""
        return (self.lecture.get(f"{diag_id}.{cause}") if cause else None) or self.lecture.get(diag_id)


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
