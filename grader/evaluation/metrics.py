"""What fits the model, measured in the grader's own process on a rebuilt model: argmax accuracy for a
classifier with several outputs, thresholded accuracy for one sigmoid output (``BCELoss``) or one logit
(``BCEWithLogitsLoss``), MSE / MAE / R² for a regression.

The data is either the provider's test split (images, handled by :func:`grader.evaluation.rebuild.measure_accuracy`)
or the rows an assignment gives in ``[data.evaluation]`` (``inputs``, ``targets``): small data such as XOR's four
points, which the notebook never sees.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from torch import Tensor

from grader.evaluation.rebuild import UnverifiableModel, error_line, load_weights, rebuild, weights_path

BINARY_LOSSES = {"bce", "bce_logits"}
CLASS_LOSSES = {"cross_entropy", "nll"}


def as_tensors(table: dict[str, Any]) -> tuple[Tensor, Tensor]:
    """``[data.evaluation]`` rows as float tensors ``(N, ...)``."""
    return (torch.tensor(table["inputs"], dtype=torch.float32),
            torch.tensor(table["targets"], dtype=torch.float32))


def kind_of(out: Tensor, loss_kind: str | None, targets: Tensor) -> str:
    """"class" (argmax), "binary" (one output thresholded) or "regression", from the output and the loss."""
    width = out.shape[1] if out.dim() > 1 else 1
    if loss_kind in CLASS_LOSSES or (width >= 2 and loss_kind not in BINARY_LOSSES and targets.dim() == 1):
        return "class"
    binary_targets = bool(((targets == 0) | (targets == 1)).all())
    if width == 1 and (loss_kind in BINARY_LOSSES or (loss_kind is None and binary_targets)):
        return "binary"
    return "regression"


def score(out: Tensor, targets: Tensor, loss_kind: str | None) -> dict[str, Any]:
    """The metrics of outputs ``out`` against ``targets``: ``{"kind", "accuracy", "mse", "mae", "r2"}``
    (what does not apply is None)."""
    out = out.detach().to("cpu", torch.float32)
    kind = kind_of(out, loss_kind, targets)
    res: dict[str, Any] = {"kind": kind, "accuracy": None, "mse": None, "mae": None, "r2": None}
    if kind == "class":
        res["accuracy"] = float((out.argmax(dim=1) == targets.reshape(-1).long()).float().mean())
        return res
    flat, want = out.reshape(-1), targets.reshape(-1).float()
    if flat.shape != want.shape:
        raise ValueError(f"the model gives {tuple(out.shape)} outputs for targets of shape {tuple(targets.shape)}")
    if kind == "binary":
        prob = torch.sigmoid(flat) if loss_kind == "bce_logits" else flat
        res["accuracy"] = float(((prob > 0.5).float() == want).float().mean())
        return res
    err = flat - want
    res["mse"], res["mae"] = float((err ** 2).mean()), float(err.abs().mean())
    total = float(((want - want.mean()) ** 2).sum())
    res["r2"] = 1.0 - float((err ** 2).sum()) / total if total > 0 else None
    return res


def evaluate_rows(record: dict[str, Any], export_dir: Path, inputs: Tensor, targets: Tensor,
                  loss_kind: str | None) -> dict[str, Any]:
    """Replay one exported model in eval mode on the assignment's rows; ``{"metrics", "reason"}`` (metrics None
    with the reason when the model cannot be rebuilt or run)."""
    try:
        forward = rebuild(record.get("graph"), load_weights(weights_path(record, export_dir)))  # type: ignore[arg-type]
        with torch.no_grad():
            return {"metrics": score(forward(inputs), targets, loss_kind), "reason": None}
    except UnverifiableModel as exc:
        return {"metrics": None, "reason": exc.reason}
    except (RuntimeError, ValueError, TypeError, IndexError, KeyError) as exc:
        return {"metrics": None, "reason": f"forward pass failed: {error_line(exc)}"}
