"""Every model family of the course (BatchNorm, Dropout, LayerNorm, all activations, residual, conv,
Maxout, concat, hand-written), trained in one real notebook and read and evaluated by the grader.

One notebook, one epoch per model on the embedded subset; each test asserts what the grader read
from the training graph (hidden layers, activations, decorations, parameter count) and that the
accuracy it measured in its own process equals the kernel's eval-mode accuracy.
"""

from __future__ import annotations

from typing import Any

import pytest
import torch
from model_zoo import FIT, ZOO, ZOO_MORE, Zoo
from scenarios import DATA, check, summary, write_notebook

from grader.assignment import load_assignment
from grader.pipeline import GradeOptions, grade_file

KERNEL_ENV = {"OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}


def _grade_zoo(tmp_path_factory: pytest.TempPathFactory, models: list[Zoo]) -> dict[str, Any]:
    cells = [DATA, FIT, *(z.cell() for z in models)]
    path = write_notebook(tmp_path_factory.mktemp("zoo"), "zoo", cells)
    return grade_file(path, load_assignment(), GradeOptions(env=dict(KERNEL_ENV)))


@pytest.fixture(scope="module")
def zoo(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    return _grade_zoo(tmp_path_factory, ZOO)


@pytest.fixture(scope="module")
def zoo_more(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    return _grade_zoo(tmp_path_factory, ZOO_MORE)


def _run(result: dict[str, Any], z: Zoo) -> dict[str, Any]:
    cell = 2 + (ZOO.index(z) if z in ZOO else ZOO_MORE.index(z))
    runs = [r for r in result["runs"] if r["cell_index"] == cell]
    assert len(runs) == 1, f"{z.name}: expected one run in cell {cell}\n{summary(result)}"
    return runs[0]


def _expected_params(z: Zoo) -> int:
    """The parameter count torch itself gives for the same code, built here (trusted test code)."""
    scope: dict[str, Any] = {"torch": torch}
    exec(z.code, scope)  # noqa: S102 - the test's own model definitions
    return int(eval(z.params, scope))  # noqa: S307


@pytest.mark.parametrize("z", ZOO, ids=[z.name for z in ZOO])
def test_model_is_read_and_evaluated(zoo: dict[str, Any], z: Zoo) -> None:
    _assert_read_and_evaluated(zoo, z)


@pytest.mark.parametrize("z", ZOO_MORE, ids=[z.name for z in ZOO_MORE])
def test_more_models_are_read_and_evaluated(zoo_more: dict[str, Any], z: Zoo) -> None:
    _assert_read_and_evaluated(zoo_more, z)


def _assert_read_and_evaluated(zoo: dict[str, Any], z: Zoo) -> None:
    run = _run(zoo, z)
    model, acc = run["model"], run["accuracy"]
    assert model["hidden_layers"] == z.hidden, f"{z.name}: {model['summary']}"
    assert model["hidden_activations"] == z.acts, f"{z.name}: {model['summary']}"
    for d in z.decorations:
        assert d in model["decorations"] or d in model["summary"], f"{z.name}: {d} not in {model['summary']}"
    assert "BatchNorm" not in model["layer_kinds"] and len(model["layer_kinds"]) == z.hidden + 1
    if z.summary:
        assert z.summary in model["summary"], model["summary"]
    assert model["params"] == _expected_params(z), f"{z.name}: {model['summary']}"
    assert not any("disagree" in n for n in run["notes"]), run["notes"]
    if z.verified:
        assert acc["source"] == "grader", f"{z.name}: {acc}"
        assert acc["value"] > 0.2, f"{z.name}: two epochs should learn something: {acc}"
        if "params =" not in z.code:  # a module: the kernel measured it in eval mode too
            assert acc["kernel"] is not None and abs(acc["value"] - acc["kernel"]) <= 1e-6, f"{z.name}: {acc}"
        # proof of training: re-trained in the grader's process (Dropout masks, BatchNorm updates, Maxout, ...)
        assert run["proof"]["status"] == z.proof, f"{z.name}: {run['proof']}"
        if z.proof == "verified":
            assert run["proof"]["segments"] and run["proof"]["max_weight_dev"] <= 1e-2, run["proof"]
    else:
        assert acc["source"] != "grader" and z.unsupported in (acc["unverified_reason"] or ""), acc
        assert z.unsupported in model["unsupported"]
        assert run["proof"]["status"] == "not_replay_verified" and z.unsupported in run["proof"]["reason"]


def test_batchnorm_dropout_models_pass_the_structure_checks(zoo: dict[str, Any]) -> None:
    """A six-hidden BatchNorm+LeakyReLU+Dropout model is task 1's model; Sigmoid+BatchNorm is task 2's."""
    six = check(zoo, "t1.six_hidden")
    assert six["status"] == "pass", summary(zoo)
    assert six["evidence"]["architecture"]["hidden_layers"] == 6
    sig = check(zoo, "t2.sigmoid_model")
    assert sig["status"] == "pass" and "Sigmoid ×6" in sig["message"], summary(zoo)
    assert check(zoo, "t1.accuracy")["evidence"].get("source") == "grader", summary(zoo)


def test_gradient_flow_is_measured_for_decorated_models(zoo: dict[str, Any]) -> None:
    for z in ZOO[:2] + [ZOO[-5]]:  # BatchNorm MLPs and the CNN
        flow = _run(zoo, z)["gradient_flow"]["init_norms"]
        assert flow is not None and len(flow) == z.hidden + 1 and all(v > 0 for v in flow), z.name
