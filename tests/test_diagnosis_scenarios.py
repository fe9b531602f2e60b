"""The training-loop doctor end to end: two notebooks of broken training loops, graded once each in real kernels.

``doctor_loop`` has a section per task (headings as in the starter): task 1 never zeroes the gradients and
tests with the slide's ``test_data.float()`` (no ``/ 255``); task 2's model cell raises ``NameError: name
'sigmod' is not defined``; task 3 builds a new model and SGD but its copy-pasted loop steps the previous Adam.
``doctor_lr`` has one run per learning-rate / data mistake. The correct notebooks (perfect, styles, module)
are checked in test_scenarios.py: they get no warning or error.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from scenarios import (
    ADAM,
    AVG_COST_OUTSIDE,
    DATA,
    DROPOUT_MODEL,
    LECTURE_TEST_ACCURACY,
    NEW_MODEL_IDLE_SGD,
    NO_DATALOADER_TRAIN,
    NO_ZERO_GRAD,
    RAW_PIXELS_TRAIN,
    RELU_AFTER_OUTPUT,
    SIGMOD_TYPO,
    STALE_OPTIMIZER_LOOP,
    TEST_ACCURACY,
    check,
    diagnoses,
    md,
    relu6,
    summary,
    train,
    write_notebook,
)

from grader.assignment import load_assignment
from grader.integrations.classroom import classroom_payload
from grader.integrations.gradescope import results_json
from grader.pipeline import GradeOptions, grade_file
from grader.report import render_student
from grader.report.selfcheck import summary_text

KERNEL_ENV = {"OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}


def _grade(path: Path) -> dict[str, Any]:
    return grade_file(path, load_assignment(), GradeOptions(env=dict(KERNEL_ENV)))


def _one(result: dict[str, Any], diag_id: str, run: int | None = None) -> dict[str, Any]:
    found = diagnoses(result, diag_id, run)
    assert len(found) == 1, f"expected one {diag_id} (run {run}), got {found}\n{summary(result)}\n{result['diagnoses']}"
    return found[0]


@pytest.fixture(scope="module")
def doctor_loop(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    cells = [md("# DNN 과제"), DATA,                                                        # 0-1
             md("## 과제 1: hidden layer 6개"), relu6(), NO_ZERO_GRAD, LECTURE_TEST_ACCURACY,  # 2-5
             md("## 과제 2: Sigmoid"), SIGMOD_TYPO, train(ADAM, 1),                           # 6-8
             md("## 과제 3: SGD"), NEW_MODEL_IDLE_SGD, STALE_OPTIMIZER_LOOP]                  # 9-11
    return _grade(write_notebook(tmp_path_factory.mktemp("doctor"), "doctor_loop", cells))


@pytest.fixture(scope="module")
def doctor_lr(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    cells = [DATA,                                                                          # 0
             relu6(), train("torch.optim.SGD(model.parameters(), lr=10.0)", 1),              # 1-2: run 1
             relu6(), train("torch.optim.Adam(model.parameters(), lr=0.1)", 1),              # 3-4: run 2
             relu6(), train("torch.optim.SGD(model.parameters(), lr=1e-3)", 2),              # 5-6: run 3
             DROPOUT_MODEL, AVG_COST_OUTSIDE, TEST_ACCURACY,                                # 7-9: run 4
             relu6(), RAW_PIXELS_TRAIN,                                                     # 10-11: run 5
             RELU_AFTER_OUTPUT, train(ADAM, 1)]                                              # 12-13: run 6
    return _grade(write_notebook(tmp_path_factory.mktemp("doctor"), "doctor_lr", cells))


# ============================================================================ doctor_loop
def test_every_result_has_typed_bilingual_diagnoses(doctor_loop: dict[str, Any]) -> None:
    assert doctor_loop["diagnoses"], summary(doctor_loop)
    for d in doctor_loop["diagnoses"]:
        assert d["severity"] in ("info", "warning", "error")
        assert d["message"]["ko"] and d["message"]["en"] and d["todo"]["ko"] and d["todo"]["en"]
        assert isinstance(d["evidence"], dict) and d["ref"]


def test_gradients_never_zeroed(doctor_loop: dict[str, Any]) -> None:
    d = _one(doctor_loop, "grad_not_zeroed", 0)
    assert d["severity"] == "error" and d["task"] == "t1"
    assert "zero_grad()" in d["message"]["en"] and "zero_grad()" in d["message"]["ko"]
    assert all(c["carried"] > 0 for c in d["evidence"]["checks"]), d["evidence"]
    assert d["lecture"].startswith("6. 데이터로더")
    assert "t1.loss_decreased" in d["checks"]
    assert d["ref"] in check(doctor_loop, "t1.loss_decreased")["diagnoses"]


def test_lecture_test_cell_without_255(doctor_loop: dict[str, Any]) -> None:
    d = _one(doctor_loop, "test_preprocessing_differs", 0)
    assert d["severity"] == "warning" and d["cell_index"] == 5
    assert d["evidence"]["test_max"] == 255 and d["evidence"]["train_max"] <= 1
    assert "/ 255" in d["message"]["en"] and "printed accuracy" in d["message"]["en"]
    assert d["checks"] == []  # about a printed number: it explains no verdict


def test_task_cell_error_named_instead_of_closest_run(doctor_loop: dict[str, Any]) -> None:
    d = _one(doctor_loop, "task_cell_error")
    assert d["task"] == "t2" and d["cell_index"] == 7 and d["severity"] == "error"
    assert d["evidence"]["ename"] == "NameError" and "sigmod" in d["evidence"]["evalue"]
    for cid in ("t2.sigmoid_model", "t2.controlled"):
        c = check(doctor_loop, cid)
        assert c["status"] == "fail", summary(doctor_loop)
        assert "task 2's cell index 7 raised NameError: name 'sigmod' is not defined" in c["message"], c["message"]
        assert "closest is" not in c["message"]
        assert c["diagnoses"][0] == d["ref"]
    ko = summary_text(doctor_loop, "ko", load_assignment())
    assert "과제 2의 셀 7에서 NameError: name 'sigmod' is not defined 오류가 나서" in ko


def test_loop_stepping_another_models_optimizer(doctor_loop: dict[str, Any]) -> None:
    d = _one(doctor_loop, "chance_plateau")
    ev = d["evidence"]
    assert d["severity"] == "error" and d["task"] == "t3" and d["cell_index"] == 11
    assert ev["cause"] == "wrong_optimizer" and ev["optimizer"] == "Adam" and ev["idle_steps"] == 60
    assert ev["never_stepped"] == [{"optimizer": "SGD", "cell_index": 10}]
    assert ev["chance_loss"] == pytest.approx(2.302585, abs=1e-5)
    assert "t3.other_optimizer" in d["checks"]
    assert "ln(10) = 2.3026" in d["message"]["en"]


def test_doctor_loop_points_unchanged_by_diagnoses(doctor_loop: dict[str, Any]) -> None:
    """Diagnoses never change points: the checks score as they would without the doctor."""
    assert check(doctor_loop, "t1.six_hidden")["points"] == 10
    assert check(doctor_loop, "t1.loss_decreased")["status"] == "fail"
    assert doctor_loop["score"]["auto"] == sum(c["points"] for c in doctor_loop["checks"] if not c["pending"])


def test_shown_in_selfcheck_page_classroom_and_gradescope(doctor_loop: dict[str, Any]) -> None:
    ko, en = summary_text(doctor_loop, "ko", load_assignment()), summary_text(doctor_loop, "en", load_assignment())
    assert "학습에서 일어난 일" in ko and "What happened in training" in en
    assert "원인: 기울기를 0 으로 초기화하지 않음" in ko and "zero_grad" in en
    page = render_student(doctor_loop, None, "ko", load_assignment())
    assert 'id="diagnoses"' in page and "학습에서 일어난 일" in page and "6. 데이터로더" in page
    assert 'href="#diag-grad_not_zeroed@run1"' in page
    tests = {t["name"].split(" ")[0]: t for t in classroom_payload(doctor_loop)["tests"]}
    assert "Why:" in tests["t1.loss_decreased"]["message"] and "zero_grad" in tests["t1.loss_decreased"]["message"]
    gs = {t["name"].split(" ")[0]: t for t in results_json(doctor_loop, load_assignment())["tests"]}
    assert "zero_grad" in gs["t1.loss_decreased"]["output"] and "이유:" in gs["t1.loss_decreased"]["output"]
    assert "sigmod" in gs["t2.sigmoid_model"]["output"]


# ============================================================================ doctor_lr
def test_learning_rate_too_high(doctor_lr: dict[str, Any]) -> None:
    d = _one(doctor_lr, "lr_too_high", 1)
    assert d["severity"] in ("warning", "error")
    assert d["evidence"]["lr"] == 0.1 and "lr 0.1" in d["message"]["en"]
    assert d["evidence"]["peak"] > 5 * 2.3026


def test_dead_relu_units(doctor_lr: dict[str, Any]) -> None:
    d = _one(doctor_lr, "dead_relu", 1)
    assert d["severity"] == "warning" and d["evidence"]["share"] >= 0.5
    assert d["evidence"]["units"] == 6 * 64 and len(d["evidence"]["per_layer"]) == 6
    assert "dying ReLU" in d["message"]["en"] and d["lecture"].startswith("4. 다양한 Activation Function : Relu")


def test_huge_sgd_step_kills_the_network(doctor_lr: dict[str, Any]) -> None:
    d = _one(doctor_lr, "chance_plateau", 0)
    assert d["severity"] == "warning" and d["evidence"]["stuck"], d
    assert d["evidence"]["cause"] in ("dead_relu", "lr_too_high") and "10" in d["message"]["en"]


def test_learning_rate_too_small_plateau(doctor_lr: dict[str, Any]) -> None:
    d = _one(doctor_lr, "chance_plateau", 2)
    ev = d["evidence"]
    assert d["severity"] == "warning" and ev["cause"] == "lr_too_small" and ev["lr"] == 0.001
    assert ev["stuck"] and ev["epochs"] >= 1.0 and ev["chance_loss"] == pytest.approx(2.302585, abs=1e-5)
    assert "ln(10) = 2.3026" in d["message"]["en"] and "0.001" in d["message"]["en"]
    assert "t3.trained" in d["checks"]  # the SGD run is task 3's: its failing check cites the cause


def test_accuracy_measured_in_training_mode(doctor_lr: dict[str, Any]) -> None:
    d = _one(doctor_lr, "train_mode_eval", 3)
    ev = d["evidence"]
    assert d["severity"] == "warning" and ev["cell_index"] == 9 and ev["dropout"] == [0.5, 0.5]
    assert ev["printed_accuracy"] is not None and ev["grader_accuracy"] is not None
    assert "model.eval()" in d["message"]["en"] and "model.eval()" in d["todo"]["ko"]


def test_avg_cost_outside_the_inner_loop(doctor_lr: dict[str, Any]) -> None:
    d = _one(doctor_lr, "avg_cost_outside_loop", 3)
    ev = d["evidence"]
    assert len(ev["printed"]) == 2 and ev["printed"][0] == pytest.approx(ev["last_over_total"][0], rel=1e-3)
    assert ev["printed"][0] < ev["epoch_means"][0] / 10
    assert "avg_cost += cost / total_batch" in d["message"]["en"]


def test_inputs_not_scaled(doctor_lr: dict[str, Any]) -> None:
    d = _one(doctor_lr, "inputs_not_scaled", 4)
    assert d["severity"] == "warning" and d["evidence"]["train_max"] == 255
    assert "0–255" in d["message"]["en"] and "255" in d["todo"]["en"]


def test_activation_after_the_output_layer(doctor_lr: dict[str, Any]) -> None:
    d = _one(doctor_lr, "activation_after_output", 5)
    assert d["severity"] == "error" and d["evidence"]["output_ops"] == ["relu"]
    assert d["lecture"] and "CrossEntropyLoss" in d["message"]["en"]


def test_runs_without_a_problem_get_no_finding(doctor_lr: dict[str, Any]) -> None:
    about = {(d["id"], d["run"]) for d in doctor_lr["diagnoses"]}
    assert not any(run == 5 and diag != "activation_after_output" for diag, run in about), about


# ============================================================================ doctor_more
ZERO_AFTER_BACKWARD = train("torch.optim.SGD(model.parameters(), lr=0.1)", 1).replace(
    "        optimizer.zero_grad()\n", "").replace("        cost.backward()\n",
                                                    "        cost.backward()\n        optimizer.zero_grad()\n")
TEST_WITH_GRAD_TRAIN_MODE = TEST_ACCURACY.replace("with torch.no_grad():\n", "if True:\n")
FUNCTIONAL_DROPOUT = """\
import torch.nn.functional as F
class FDrop(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.a, self.b = torch.nn.Linear(784, 64), torch.nn.Linear(64, 10)
    def forward(self, x):
        return self.b(F.dropout(F.relu(self.a(x)), 0.5))  # no training=self.training: on in eval mode too
model = FDrop().to(device)"""


# the slide's test tensors, sliced into shuffled mini-batches: no DataLoader says which split this is
TEST_TENSORS_TRAIN = NO_DATALOADER_TRAIN.format(epochs=2).replace(
    "mnist_train.data.float().view(-1, 28 * 28) / 255.",
    "mnist_test.test_data.view(-1, 28 * 28).float() / 255.").replace("mnist_train.targets", "mnist_test.test_labels")


@pytest.fixture(scope="module")
def doctor_more(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    cells = [DATA,                                                                           # 0
             relu6(), train(ADAM, 3).replace("        optimizer.zero_grad()\n", ""),           # 1-2: run 1
             relu6(), ZERO_AFTER_BACKWARD,                                                    # 3-4: no run
             relu6(), ZERO_AFTER_BACKWARD.replace("zero_grad()", "zero_grad(set_to_none=False)"),  # 5-6: run 2
             relu6(), train("torch.optim.SGD(model.parameters(), lr=10.0, momentum=0.9)", 2),  # 7-8: run 3
             DROPOUT_MODEL, train(ADAM, 1), TEST_WITH_GRAD_TRAIN_MODE,                        # 9-11: run 4
             FUNCTIONAL_DROPOUT, train(ADAM, 1),                                              # 12-13: run 5
             relu6(), TEST_TENSORS_TRAIN,                                                     # 14-15: run 6
             relu6(), NO_DATALOADER_TRAIN.format(epochs=1)]                                   # 16-17: run 7
    return _grade(write_notebook(tmp_path_factory.mktemp("doctor"), "doctor_more", cells))


def test_no_zero_grad_for_epochs_is_replayed_not_flagged(doctor_more: dict[str, Any]) -> None:
    """Three epochs without zero_grad(): the doctor says why; the proof replays the accumulation (no flag)."""
    d = _one(doctor_more, "grad_not_zeroed", 0)
    assert d["severity"] == "error"
    run = doctor_more["runs"][0]
    assert run["epochs_completed"] == 3 and run["proof"]["status"] == "verified", run["proof"]
    assert {s["mode"] for s in run["proof"]["segments"]} == {"accumulate"} and len(run["proof"]["segments"]) == 2
    assert not any(f["id"] == "training_unverified" and f["evidence"]["run"] == 0 for f in doctor_more["flags"])


def test_zero_grad_between_backward_and_step(doctor_more: dict[str, Any]) -> None:
    idle = [d for d in diagnoses(doctor_more, "grad_zeroed_before_step") if d["run"] is None]
    assert len(idle) == 1 and idle[0]["cell_index"] == 4 and idle[0]["severity"] == "error", idle
    assert "between backward() and step()" in idle[0]["message"]["en"] and "zero_grad" in idle[0]["todo"]["ko"]
    zeros = _one(doctor_more, "grad_zeroed_before_step", 1)  # set_to_none=False: a run whose gradients are all 0
    assert zeros["evidence"]["grad_norm"] == 0.0 and len(zeros["evidence"]["sampled_steps"]) >= 2
    assert not diagnoses(doctor_more, "chance_plateau", 1) and not diagnoses(doctor_more, "dead_relu", 1)
    # nothing moved: the run trained nothing, so its claims earn nothing (the finding above says why)
    assert "never changed" in doctor_more["runs"][1]["proof"]["reason"]


def test_learning_rate_named_as_the_student_wrote_it(doctor_more: dict[str, Any]) -> None:
    """SGD(lr=10, momentum=0.9) kills the network: the finding names lr 10, not the settled step lr/(1-momentum)."""
    d = _one(doctor_more, "dead_relu", 2)
    assert "(SGD, lr 10)" in d["message"]["en"] and "lr 100" not in d["message"]["en"], d["message"]


def test_training_mode_test_cell_without_no_grad(doctor_more: dict[str, Any]) -> None:
    d = _one(doctor_more, "train_mode_eval", 3)
    assert d["evidence"]["cell_index"] == 11 and d["evidence"]["dropout"] == [0.5, 0.5]
    assert "random units dropped" in d["message"]["en"] and "batch statistics" not in d["message"]["en"]


def test_functional_dropout_that_ignores_eval(doctor_more: dict[str, Any]) -> None:
    d = _one(doctor_more, "dropout_ignores_eval", 4)
    assert d["severity"] == "warning" and "training=self.training" in d["todo"]["en"]
    assert doctor_more["runs"][4]["accuracy"]["source"] == "grader"
    assert not any(diagnoses(doctor_more, "dropout_ignores_eval", r) for r in (0, 1, 2, 3))


def test_training_on_test_tensors_without_a_dataloader(doctor_more: dict[str, Any]) -> None:
    """Shuffled slices of mnist_test.test_data: the images are recognised as the test split's."""
    d = _one(doctor_more, "trained_on_test", 5)
    assert d["evidence"]["epochs_on_test"] == [1, 2] and d["evidence"]["accuracy_unseen"] is not None
    flag = next(f for f in doctor_more["flags"] if f["id"] == "trained_on_test")
    assert 6 in flag["evidence"]["runs"] and 7 not in flag["evidence"]["runs"], flag  # mnist_train: not flagged
    assert not diagnoses(doctor_more, "trained_on_test", 6)
