"""Pipeline-level behaviour: full-data mode, the recorded data mode, usage errors, reference bands."""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest

from grader.assignment import load_assignment
from grader.errors import UsageError
from grader.pipeline import GradeOptions, grade_file
from grader.reference.baseline import run_key, summarise

SHARED_MNIST = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "mnist"

DATA_CELL = """import torchvision.datasets as dsets, torchvision.transforms as transforms
mnist_train = dsets.MNIST(root='MNIST_data/', train=True, transform=transforms.ToTensor(), download=True)
mnist_test = dsets.MNIST(root='/content/drive/MyDrive/x', train=False, transform=transforms.ToTensor(), download=True)
print(len(mnist_train), len(mnist_test), mnist_test.test_data.shape[0])"""


def _nb(tmp_path: Path, *sources: str) -> Path:
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(s) for s in sources]
    path = tmp_path / "student.ipynb"
    nbformat.write(nb, path)
    return path


@pytest.mark.skipif(not SHARED_MNIST.exists(), reason="full MNIST not available")
def test_full_mode_serves_real_mnist_offline(tmp_path: Path) -> None:
    res = grade_file(_nb(tmp_path, DATA_CELL), opts=GradeOptions(data="full", data_dir=SHARED_MNIST, device="cpu"))
    assert res["status"] == "graded", res.get("errors")
    assert res["data"]["mode"] == "full" and res["data"]["train_images"] == 60000
    assert [d["n_items"] for d in res["data"]["datasets"]] == [60000, 10000]
    assert [d["requested_root"] for d in res["data"]["datasets"]] == ["MNIST_data/", "/content/drive/MyDrive/x"]


def test_subset_mode_is_default_and_recorded(tmp_path: Path) -> None:
    res = grade_file(_nb(tmp_path, DATA_CELL))
    assert res["data"]["mode"] == "subset" and [d["n_items"] for d in res["data"]["datasets"]] == [6000, 1000]
    assert res["status"] == "graded" and res["score"]["auto"] == 0
    assert res["versions"]["assignment"] == "dnn2_mnist" and res["schema_version"] == 1


def test_usage_errors() -> None:
    with pytest.raises(UsageError, match="--data"):
        grade_file(Path("x.ipynb"), opts=GradeOptions(data="huge"))


def _fake_result(seed_shift: float) -> dict:
    run = {"model": {"hidden_activations": ["relu"] * 6, "widths": [256] * 6},
           "optimizer": {"family": "adam", "torch_class": "Adam", "hparams": {"lr": 0.001}},
           "epochs_completed": 2, "epochs": [{"mean_loss": 1.0 + seed_shift, "complete": True},
                                             {"mean_loss": 0.5 + seed_shift, "complete": True}],
           "accuracy": {"value": 0.9 + seed_shift}, "gradient_flow": {"init_ratio": 0.1}}
    return {"runs": [run], "device": "cpu", "versions": {"torch": "x"}, "submission": {"sha256": "abc"}}


def test_reference_summary_is_mean_and_sd_over_seeds() -> None:
    base = summarise([_fake_result(0.0), _fake_result(0.02), _fake_result(0.04)], [777, 778, 779], "subset")
    ref = base["runs"]["relu_adam"]
    assert ref["epoch_loss_mean"] == pytest.approx([1.02, 0.52])
    assert ref["epoch_loss_sd"] == pytest.approx([0.02, 0.02])
    assert ref["accuracy_mean"] == pytest.approx(0.92) and ref["n_seeds"] == 3
    assert base["provenance"]["seeds"] == [777, 778, 779]
    assert run_key(_fake_result(0)["runs"][0]) == "relu_adam"


def test_committed_baselines_have_provenance() -> None:
    assignment = load_assignment()
    for mode in ("subset", "full"):
        path = assignment.baseline_path(mode)
        if not path.exists():
            pytest.fail(f"{path} missing: run `grader reference --data {mode}`")
        import json

        base = json.loads(path.read_text())
        assert set(base["runs"]) >= {"relu_adam", "sigmoid_adam", "sigmoid_sgd", "relu_sgd"}
        assert len(base["provenance"]["seeds"]) >= 3 and base["provenance"]["device"]
