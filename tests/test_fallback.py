"""grader.fallback: a notebook that writes the whole data set's size is re-graded on the full data (or told why),
an ordinary bug never is."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import nbformat
import pytest
import torch

from grader.assignment import load_assignment
from grader.data.mnist import prepare
from grader.data.provider import MnistProvider, get_provider
from grader.execution.runner import CellOutcome, ExecutionReport
from grader.fallback import assumes_full_size
from grader.pipeline import GradeOptions, grade_file
from grader.report import render_student
from grader.report.selfcheck import summary_text

SHARED_MNIST = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "mnist"
SIZES = MnistProvider().split_sizes(prepare("subset"))  # the quick mode's (served, full) per split

DATA = """import torch, torchvision.datasets as dsets, torchvision.transforms as transforms
mnist_train = dsets.MNIST(root='MNIST_data/', train=True, transform=transforms.ToTensor(), download=True)
mnist_test = dsets.MNIST(root='MNIST_data/', train=False, transform=transforms.ToTensor(), download=True)"""
# a lecture-style accuracy cell that writes the test set's size; a tiny model trained on one big batch
SIZED = """model = torch.nn.Linear(784, 10)
opt = torch.optim.SGD(model.parameters(), lr=0.1)
X = mnist_train.data[:1000].view(-1, 784).float() / 255
for _ in range(2):
    opt.zero_grad()
    loss = torch.nn.functional.cross_entropy(model(X), mnist_train.targets[:1000])
    loss.backward()
    opt.step()
X_test = mnist_test.test_data.view(10000, 784).float() / 255
print((model(X_test).argmax(1) == mnist_test.test_labels).float().mean().item())"""


def _nb(tmp_path: Path, *sources: str) -> Path:
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(s) for s in sources]
    path = tmp_path / "student.ipynb"
    nbformat.write(nb, path)
    return path


def _report(code: str, env: dict[str, Any]) -> tuple[ExecutionReport, Any]:
    """Run ``code`` here (torch only, no student file) and record its real error as cell 1 of a notebook."""
    try:
        exec(code, env)  # noqa: S102 - the test's own code
        error = None
    except Exception as exc:  # noqa: BLE001
        error = {"ename": type(exc).__name__, "evalue": str(exc), "traceback": ""}
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell("x = 1"), nbformat.v4.new_code_cell(code)]
    cells = [CellOutcome(0, "ok"), CellOutcome(1, "error" if error else "ok", error=error)]
    return ExecutionReport("completed", cells, True, 0.0, 0.0), nb


@pytest.fixture
def served() -> dict[str, Any]:
    """Tensors of the quick mode's sizes (as the subset serves them)."""
    return {"torch": torch, "train": torch.zeros(6000, 28, 28, dtype=torch.uint8),
            "test": torch.zeros(1000, 28, 28, dtype=torch.uint8)}


def test_mnist_provider_split_sizes() -> None:
    assert SIZES == {"train": (6000, 60000), "test": (1000, 10000), "all": (7000, 70000)}
    assert get_provider("none").modes == ("none",) and not hasattr(get_provider("none"), "split_sizes")


@pytest.mark.parametrize(("code", "split", "reason"), [
    ("test.view(10000, 784)", "test", "shape"),
    ("train.view(60000, -1)", "train", "shape"),
    ("train.reshape(60000, 28 * 28)", "train", "shape"),
    ("test.numpy().reshape(10000, 784)", "test", "shape"),
    ("x = train[36000:42000].float()\nprint(torch.nn.functional.cross_entropy(x.view(len(x), -1)[:, :10], "
     "torch.zeros(len(x), dtype=torch.long)) / 0)", "train", "empty"),
    ("val = train[54000:].view(-1, 784).float()\nprint(val.max(dim=0))", "train", "empty"),
    ("for i in range(0, 10000, 500):\n    test[i]", "test", "index"),
    ("tr, va = torch.utils.data.random_split(train, [55_000, 5_000])", "train", "split"),
    # scikit-learn's fetch_openml: both splits in one array, the test images from 60000 on
    ("X = torch.cat([train, test]).view(-1, 784)\nX_test = X[60000:]\nX_test.max(dim=0)", "all", "empty"),
])
def test_size_assumptions_are_recognised(served: dict[str, Any], code: str, split: str, reason: str) -> None:
    report, nb = _report(code, served)
    found = assumes_full_size(report, nb, SIZES)
    assert found is not None, report.cells[1].error
    assert (found.cell, found.split, found.reason) == (1, split, reason)


@pytest.mark.parametrize("code", [
    "test.view(100, 784)",                          # a wrong shape, nothing to do with the data's size
    "train.view(6000, 785)",
    "torch.zeros(3)[5]",                            # an index bug
    "x = train[100:50]\nx.max(dim=0)",             # an empty slice inside the served data
    "undefined_name",
    "torch.zeros(20000).view(10000, 3)",           # names 10000 but the input is no whole set of served items
    "torch.utils.data.random_split(train, [5000, 500])",   # lengths that fit no data set
])
def test_ordinary_bugs_are_not_size_assumptions(served: dict[str, Any], code: str) -> None:
    report, nb = _report(code, served)
    assert report.cells[1].error is not None
    assert assumes_full_size(report, nb, SIZES) is None


@pytest.mark.skipif(not (SHARED_MNIST / "train-images-idx3-ubyte.gz").is_file(), reason="full MNIST not available")
def test_quick_mode_regrades_on_full_data(tmp_path: Path) -> None:
    res = grade_file(_nb(tmp_path, DATA, SIZED), opts=GradeOptions(data="subset", data_dir=SHARED_MNIST, device="cpu"))
    assert res["status"] == "graded", res["errors"]
    assert res["data"]["mode"] == "full" and res["data"]["train_images"] == 60000
    fb = res["data"]["fallback"]
    assert (fb["from"], fb["to"], fb["cell"], fb["split"], fb["reason"]) == ("subset", "full", 1, "test", "shape")
    assert fb["note"]["en"] == "graded on the full MNIST: cell 1 assumes 10,000 test images"
    assert "10,000" in fb["note"]["ko"] and res["runs"][0]["steps"] == 2
    assert res["timings"]["total_s"] >= fb["first_timings"]["total_s"]
    assignment = load_assignment()
    page = render_student(res, None, "en", assignment)
    assert "ⓘ graded on the full MNIST: cell 1 assumes 10,000 test images" in page
    note_ko = "전체 MNIST로 채점했습니다: 셀 1이(가) 테스트 이미지 10,000개를 가정합니다"
    assert note_ko in summary_text(res, "ko", assignment)


def test_without_full_data_the_result_explains(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("GRADER_MNIST_DIR", raising=False)
    monkeypatch.setenv("GRADER_CACHE_DIR", str(tmp_path / "cache"))  # no earlier download of the full set
    res = grade_file(_nb(tmp_path, DATA, SIZED), opts=GradeOptions(device="cpu"))
    assert res["status"] == "errors" and res["data"]["mode"] == "subset"
    assert res["data"]["fallback"]["to"] is None and res["data"]["fallback"]["cell"] == 1
    assert res["message"].startswith("cell 1 assumes the full MNIST (10,000 test images)")
    assert "serves 1,000 test images" in res["message"] and ".view(-1, 784)" in res["message"]
    first = res["diagnoses"][0]
    assert first["id"] == "full_size_assumed" and first["severity"] == "error" and first["cell_index"] == 1
    assert res["errors"][0]["kind"] == "environment" and res["error_kinds"] == {"environment": 1, "student": 0}
    assert res["messages"]["ko"].startswith("셀 1은(는) 전체 MNIST(테스트 이미지 10,000개)를 가정하지만")
    page = render_student(res, None, "ko", load_assignment())
    assert "빠른 채점 모드 &#39;subset&#39;는 테스트 이미지 1,000개만 제공하므로" in page


def test_an_ordinary_bug_is_not_regraded(tmp_path: Path) -> None:
    bug = SIZED.replace("view(10000, 784)", "view(1000, 748)")
    res = grade_file(_nb(tmp_path, DATA, bug), opts=GradeOptions(data_dir=SHARED_MNIST, device="cpu"))
    assert res["status"] == "errors" and res["data"]["mode"] == "subset"
    assert "fallback" not in res["data"]
    assert all(d["id"] != "full_size_assumed" for d in res["diagnoses"])


# assumptions that raise nothing: batches sliced by hand for 60,000 images (empty past the subset's end, NaN loss),
# and a per-epoch cost averaged over the whole data's 60 batches of 1,000
MANUAL_BATCHES = """model = torch.nn.Sequential(torch.nn.Linear(784, 32), torch.nn.ReLU(), torch.nn.Linear(32, 10))
opt = torch.optim.SGD(model.parameters(), lr=0.1)
batch_size = 1000
for i in range(int(60000 / batch_size)):
    X = mnist_train.data[i * batch_size:(i + 1) * batch_size].view(-1, 784).float() / 255
    Y = mnist_train.targets[i * batch_size:(i + 1) * batch_size]
    opt.zero_grad()
    loss = torch.nn.functional.cross_entropy(model(X), Y)
    loss.backward()
    opt.step()
print('loss', loss.item())"""
AVERAGED_OVER_60 = """model = torch.nn.Sequential(torch.nn.Linear(784, 32), torch.nn.ReLU(), torch.nn.Linear(32, 10))
opt = torch.optim.SGD(model.parameters(), lr=0.1)
loader = torch.utils.data.DataLoader(mnist_train, batch_size=1000, shuffle=True)
for epoch in range(2):
    avg_cost = 0
    for X, Y in loader:
        opt.zero_grad()
        cost = torch.nn.functional.cross_entropy(model(X.view(-1, 784)), Y)
        cost.backward()
        opt.step()
        avg_cost += cost / 60
    print('Epoch:', '%04d' % (epoch + 1), 'cost =', '{:.9f}'.format(avg_cost))"""


@pytest.mark.skipif(not (SHARED_MNIST / "train-images-idx3-ubyte.gz").is_file(), reason="full MNIST not available")
@pytest.mark.parametrize(("code", "reason"), [(MANUAL_BATCHES, "empty"), (AVERAGED_OVER_60, "scale")])
def test_silent_size_assumptions_are_regraded(tmp_path: Path, code: str, reason: str) -> None:
    res = grade_file(_nb(tmp_path, DATA, code), opts=GradeOptions(data="subset", data_dir=SHARED_MNIST, device="cpu"))
    fb = res["data"].get("fallback") or {}
    assert (fb.get("to"), fb.get("reason"), fb.get("cell")) == ("full", reason, 1), (fb, res["diagnoses"])
    assert res["data"]["mode"] == "full"
    ids = {f["id"] for f in res["flags"]} | {d["id"] for d in res["diagnoses"]}
    assert not ids & {"printed_numbers", "empty_batches", "lr_too_high", "dead_relu"}, ids
