"""Comparing a run with the instructor's reference runs (``baselines/baseline-<mode>.json``).

Building blocks: a per-epoch loss band (mean ± 3 sd, widened in log space), which epochs fall outside it, and
the credit an accuracy earns against the reference accuracy (full credit within a margin, none far below).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any


def loss_band(ref: dict[str, Any], tolerance: float, sigmas: float = 3.0) -> list[tuple[float, float]]:
    """Per epoch (low, high): mean ± ``sigmas`` sd, widened by ×/÷ (1 + tolerance)."""
    out = []
    for m, s in zip(ref["epoch_loss_mean"], ref["epoch_loss_sd"], strict=True):
        lo, hi = m - sigmas * s, m + sigmas * s
        out.append((lo / (1 + tolerance) if lo > 0 else 0.0, hi * (1 + tolerance)))
    return out


def outside_band(means: list[float], band: list[tuple[float, float]]) -> tuple[int, list[tuple[int, float,
                                                                                            tuple[float, float]]]]:
    """(epochs compared, [(epoch, value, band)] of those outside); only the epochs both curves have count."""
    shared = list(zip(range(1, len(means) + 1), means, band, strict=False))
    return len(shared), [(e, v, b) for e, v, b in shared if not b[0] <= v <= b[1]]


@dataclass(frozen=True)
class AccuracyGrade:
    """How an accuracy compares with the reference: the credit (0–1) and the thresholds used."""

    accuracy: float
    fraction: float
    mean: float
    sd: float
    full_from: float
    zero_at: float


def accuracy_grade(accuracy: float, ref: dict[str, Any], sigmas: float = 3.0, min_margin: float = 0.01,
                   zero_credit_margin: float = 0.10, chance: float | None = None) -> AccuracyGrade:
    """Full credit from mean − max(sigmas·sd, min_margin), none at mean − zero_credit_margin, linear between.

    With ``chance`` (1/classes), full credit never starts below half-way from chance to the mean: a reference
    whose seeds scatter widely (ReLU+SGD on the subset: 0.68 ± 0.22) must not credit a model at chance.
    """
    mean, sd = float(ref["accuracy_mean"]), float(ref["accuracy_sd"])
    full = mean - max(sigmas * sd, min_margin)
    if chance is not None and mean > chance:
        full = max(full, chance + 0.5 * (mean - chance))
    zero = mean - zero_credit_margin
    frac = 1.0 if accuracy >= full else max(0.0, (accuracy - zero) / (full - zero)) if full > zero else 0.0
    return AccuracyGrade(accuracy, 0.0 if math.isnan(frac) else frac, mean, sd, full, zero)
