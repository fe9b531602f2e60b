"""Settings types of an assignment that later stages read: sandbox limits, the doctor's thresholds, tasks.

They live here, with the assignment, because the assignment is read first and every stage may read it;
no module of this package imports a grading stage.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field, fields
from typing import Any


@dataclass(frozen=True)
class SandboxLimits:
    """Per-kernel limits (``[sandbox]`` in assignment.toml)."""

    memory_mb: int = 3072
    cpu_time_s: int = 7200
    pids: int = 256
    file_size_mb: int = 200
    output_kb: int = 1024

    @classmethod
    def from_table(cls, table: dict[str, Any]) -> SandboxLimits:
        """Parse the TOML table; ValueError names an unknown key or a value that is not a positive integer."""
        known = set(asdict(cls()))
        unknown = set(table) - known
        if unknown:
            raise ValueError(f"[sandbox]: unknown key(s) {', '.join(sorted(unknown))}")
        values = {}
        for key, value in table.items():
            if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
                raise ValueError(f"[sandbox].{key} must be a positive integer, not {value!r}")
            values[key] = value
        return cls(**values)


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
class PrintedSpec:
    """Regexes (one number group each) for numbers the notebook prints: per-epoch cost and test accuracy.
    The integrity flags and the doctor compare them with what was recorded and measured."""

    cost: re.Pattern[str] = re.compile(r"(?:cost|loss)\s*[=:]\s*(?:tensor\()?\s*([-+]?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?)",
                                       re.I)
    accuracy: re.Pattern[str] = re.compile(r"accuracy\s*[=:]?\s*(?:tensor\()?\s*([-+]?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?)",
                                           re.I)


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
    printed: PrintedSpec = field(default_factory=PrintedSpec)  # how cost/accuracy are printed ([printed])

    @classmethod
    def from_table(cls, table: dict[str, Any] | None) -> DiagnosisConfig:
        """Defaults overridden by an assignment's ``[diagnoses]`` table; ValueError names a bad key."""
        table = dict(table or {})
        known = {f.name: f for f in fields(cls) if f.name != "printed"}
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
