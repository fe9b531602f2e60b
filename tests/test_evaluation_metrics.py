"""What fits the model, measured in the grader's process: argmax, thresholded binary accuracy (a sigmoid output
with BCELoss, a logit with BCEWithLogitsLoss), MSE / MAE / R² for a regression; [data.evaluation] rows."""

from __future__ import annotations

import pytest
import torch

from grader.assignment.config import _evaluation_data
from grader.errors import AssignmentError
from grader.evaluation.metrics import as_tensors, score

XOR = {"inputs": [[0, 0], [0, 1], [1, 0], [1, 1]], "targets": [[0], [1], [1], [0]]}


def test_one_sigmoid_output_is_thresholded_and_a_logit_goes_through_sigmoid() -> None:
    _, y = as_tensors(XOR)
    probs = torch.tensor([[0.1], [0.9], [0.6], [0.7]])
    assert score(probs, y, "bce") == {"kind": "binary", "accuracy": 0.75, "mse": None, "mae": None, "r2": None}
    logits = torch.tensor([[-3.0], [2.0], [0.5], [-0.1]])
    assert score(logits, y, "bce_logits")["accuracy"] == 1.0
    assert score(torch.tensor([0.2, 0.8, 0.8, 0.2]), y, None)["kind"] == "binary"  # (N,) outputs, 0/1 targets


def test_several_outputs_are_argmax_and_other_outputs_a_regression() -> None:
    logits = torch.tensor([[2.0, 0.0, 0.0], [0.0, 3.0, 0.0], [0.0, 0.0, 1.0]])
    assert score(logits, torch.tensor([0, 1, 0]), "cross_entropy")["accuracy"] == pytest.approx(2 / 3)
    reg = score(torch.tensor([[1.0], [2.0], [4.0]]), torch.tensor([[1.0], [3.0], [5.0]]), "mse")
    assert reg["kind"] == "regression" and reg["accuracy"] is None
    assert reg["mse"] == pytest.approx(2 / 3) and reg["mae"] == pytest.approx(2 / 3)
    assert reg["r2"] == pytest.approx(1 - 2.0 / ((1 - 3) ** 2 + 0 + (5 - 3) ** 2))
    with pytest.raises(ValueError, match="outputs for targets"):
        score(torch.zeros(3, 2), torch.zeros(3, 1), "mse")


def test_evaluation_rows_in_the_toml_are_validated() -> None:
    assert _evaluation_data(None) == {} and _evaluation_data(XOR) == XOR
    with pytest.raises(AssignmentError, match="exactly `inputs` and `targets`"):
        _evaluation_data({"inputs": [[0, 0]]})
    with pytest.raises(AssignmentError, match="equally many rows"):
        _evaluation_data({"inputs": [[0, 0]], "targets": [[0], [1]]})
