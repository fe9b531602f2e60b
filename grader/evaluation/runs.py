"""What the evaluation stage hands on: each recorded run plus what the grader measured about it."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from grader.recording.architecture import Architecture
from grader.recording.events import Run

NO_DATA = "the assignment's data provider has no dataset the grader can evaluate on"


@dataclass
class EvaluatedRun:
    """A recorded run plus what the grader measured about it in its own process."""

    run: Run
    arch: Architecture | None
    accuracy: float | None = None
    accuracy_source: str | None = None      # "grader" | "kernel (unverified)"
    unverified_reason: str | None = None
    kernel_accuracy: float | None = None
    gradient_flow: list[float] | None = None
    notes: list[str] = field(default_factory=list)
    weight_conflicts: list[str] = field(default_factory=list)  # exported weights vs the training trace
    # grader-measured accuracy on the train split, for a run that trained on the test split (else None)
    accuracy_unseen: float | None = None
    # proof of training (grader.evaluation.replay.ProofResult.to_dict()): status verified / not_replay_verified /
    # unverified, reason, segments re-trained with their deviations; None for a run that never stepped
    proof: dict[str, Any] | None = None
    # the kernel's model gave two different outputs for one batch in eval mode (a dropout that ignores eval())
    random_in_eval: bool = False
    # what the grader measured on [data.evaluation] rows (grader.evaluation.metrics.score): kind, accuracy, mse,
    # mae, r2; None when the assignment gives no rows or the model could not be rebuilt
    metrics: dict[str, Any] | None = None

    @property
    def label(self) -> str:
        """Human name, e.g. ``run 2 (SGD, 784→256→…→10)``."""
        arch = self.arch.describe() if self.arch else "architecture unknown"
        return f"run {self.run.index + 1} ({self.run.torch_class}, {arch})"

    @property
    def trained_on_test(self) -> bool:
        """True when an epoch of this run iterated over the test split (its test accuracy is not one)."""
        return any(e.split == "test" for e in self.run.epochs)
