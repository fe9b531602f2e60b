"""Small readings of the recorded evidence shared by the diagnoses: run names, learning rates, chance level,
smoothed losses, numbers a cell printed."""

from __future__ import annotations

import math
import re
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from grader.evaluation.runs import EvaluatedRun

ADAPTIVE = {"Adam", "AdamW", "NAdam", "RAdam", "Adamax", "RMSprop", "Adagrad", "Adadelta", "SparseAdam"}


def name(er: EvaluatedRun) -> str:
    """``run 2 (SGD, lr 0.1)``: the run as the diagnoses name it."""
    lr = lr_of(er)
    return f"run {er.run.index + 1} ({er.run.torch_class}{f', lr {lr:g}' if lr is not None else ''})"


def lr_of(er: EvaluatedRun) -> float | None:
    """The optimizer's learning rate, if recorded as a number."""
    lr = (er.run.optimizer.get("hparams") or {}).get("lr")
    return float(lr) if isinstance(lr, (int, float)) and not isinstance(lr, bool) else None


def effective_lr(er: EvaluatedRun) -> float | None:
    """lr, and for momentum SGD lr / (1 − momentum) (the step size it settles to)."""
    lr = lr_of(er)
    if lr is None:
        return None
    momentum = (er.run.optimizer.get("hparams") or {}).get("momentum") or 0.0
    if er.run.torch_class not in ADAPTIVE and isinstance(momentum, (int, float)) and 0 <= momentum < 1:
        return lr / (1.0 - float(momentum))
    return lr


def lr_evidence(er: EvaluatedRun) -> dict[str, Any]:
    """The optimizer's own ``lr`` (what the student typed) and, with momentum, the step size it settles to."""
    lr, eff = lr_of(er), effective_lr(er)
    return {"lr": lr, **({"effective_lr": eff} if eff is not None and lr is not None and eff != lr else {})}


def lr_words(ev: dict[str, Any]) -> tuple[str, str]:
    """``lr 10`` / ``lr 10 (with momentum: effective step 100)`` in English and Korean."""
    lr, eff = ev.get("lr"), ev.get("effective_lr")
    if lr is None:
        return "?", "?"
    if eff is None:
        return f"{lr:g}", f"{lr:g}"
    return f"{lr:g} (with momentum an effective step of {eff:g})", f"{lr:g} (momentum 포함 실제 step 크기 {eff:g})"


def classes(er: EvaluatedRun) -> int | None:
    """Number of classes C (the output width) of a classifier run, when traced."""
    out = er.arch.out_features if er.arch else None
    return out if out and out >= 2 else None


def chance_loss(er: EvaluatedRun) -> float | None:
    """ln C: the cross-entropy of a model that guesses uniformly."""
    c = classes(er)
    return math.log(c) if c else None


def smoothed(losses: list[float | None], window: int) -> list[float | None]:
    """Trailing moving average over ``window`` steps; None where a step's loss was not finite."""
    out: list[float | None] = []
    acc: list[float] = []
    for v in losses:
        if v is None or not math.isfinite(v):
            out.append(None)
            acc = []
            continue
        acc.append(v)
        if len(acc) > window:
            acc.pop(0)
        out.append(sum(acc) / len(acc))
    return out


def steps_per_epoch(er: EvaluatedRun) -> int | None:
    """Steps of one complete epoch (the first complete one), if any."""
    return next((e.steps for e in er.run.epochs if e.complete and e.steps), None)


def printed_costs(stdout: str, pattern: re.Pattern[str]) -> list[float]:
    """Every per-epoch cost a cell printed (``pattern``: the assignment's ``[printed] cost``)."""
    return [float(m) for m in pattern.findall(stdout)]


def printed_accuracy(stdout: str, pattern: re.Pattern[str]) -> float | None:
    """The last accuracy a cell printed (``[printed] accuracy``), as a fraction (``97.8`` → 0.978)."""
    found = [float(m) for m in pattern.findall(stdout)]
    if not found:
        return None
    return found[-1] / 100 if found[-1] > 1 else found[-1]


def fmt(value: Any, digits: int = 4) -> str:
    """A number for a message (``None`` → "not measured")."""
    if value is None:
        return "not measured"
    if isinstance(value, float):
        return f"{value:.{digits}f}" if abs(value) < 1e4 else f"{value:.3g}"
    return str(value)
