"""mnist_cnn's own checks beyond its shipped examples (tests/test_examples.py grades those): which run each task is
about, and what the structure checks name. Small CNNs (4/8 channels), 1 epoch on the subset."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

from grader.assignment import load_assignment
from grader.pipeline import GradeOptions, grade_file

KERNEL_ENV = {"OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}

SETUP = """import torch
import torchvision.datasets as dsets
import torchvision.transforms as transforms
torch.manual_seed(777)
mnist_train = dsets.MNIST(root='MNIST_data/', train=True, transform=transforms.ToTensor(), download=True)
mnist_test = dsets.MNIST(root='MNIST_data/', train=False, transform=transforms.ToTensor(), download=True)
data_loader = torch.utils.data.DataLoader(dataset=mnist_train, batch_size=100, shuffle=True, drop_last=True)"""

TRAIN = """criterion = torch.nn.CrossEntropyLoss()
optimizer = torch.optim.Adam(model.parameters(), lr=0.001)
model.train()
for epoch in range(1):
    for X, Y in data_loader:
        optimizer.zero_grad()
        cost = criterion(model(X), Y)
        cost.backward()
        optimizer.step()
    print('[Epoch: {:>4}] cost = {:>.9}'.format(epoch + 1, cost.item()))"""


def cnn(channels: tuple[int, int], pool2: bool = True, bn: bool = False, dropout: bool = False) -> str:
    """``model = Sequential(...)``: two conv blocks (the second pooled or not), then one Linear to 10."""
    c1, c2 = channels
    norm1, norm2 = (f"torch.nn.BatchNorm2d({c1}), ", f"torch.nn.BatchNorm2d({c2}), ") if bn else ("", "")
    side = 7 if pool2 else 14
    return (f"model = torch.nn.Sequential(\n"
            f"    torch.nn.Conv2d(1, {c1}, 3, padding=1), {norm1}torch.nn.ReLU(), torch.nn.MaxPool2d(2),\n"
            f"    torch.nn.Conv2d({c1}, {c2}, 3, padding=1), {norm2}torch.nn.ReLU(),"
            f"{' torch.nn.MaxPool2d(2),' if pool2 else ''}\n"
            f"    torch.nn.Flatten(),{' torch.nn.Dropout(0.25),' if dropout else ''}\n"
            f"    torch.nn.Linear({c2} * {side} * {side}, 10))")


def grade(tmp_path: Path, name: str, task1: str, task2: str) -> dict[str, Any]:
    cells = [new_code_cell(SETUP), new_markdown_cell("## 과제 1. CNN"), new_code_cell(task1), new_code_cell(TRAIN),
             new_markdown_cell("## 과제 2. Dropout 또는 BatchNorm"), new_code_cell(task2), new_code_cell(TRAIN)]
    path = tmp_path / f"{name}.ipynb"
    nbformat.write(new_notebook(cells=cells), str(path))
    result = grade_file(path, load_assignment("mnist_cnn"), GradeOptions(device="cpu", env=dict(KERNEL_ENV)))
    assert result["status"] == "graded", result.get("message")
    return result


def by_id(result: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {c["id"]: c for c in result["checks"]}


@pytest.fixture(scope="module")
def unpooled(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """Task 1: the second conv has no pooling; task 2: BatchNorm, but 16 channels instead of 8 in the second conv."""
    return grade(tmp_path_factory.mktemp("unpooled"), "unpooled", cnn((4, 8), pool2=False),
                 cnn((4, 16), pool2=False, bn=True))


def test_structure_check_names_the_conv_layer_without_pooling(unpooled: dict[str, Any]) -> None:
    checks = by_id(unpooled)
    blocks = checks["t1.conv_blocks"]
    assert blocks["status"] == "fail"
    assert "layer 2 (Conv 4→8 3×3 · ReLU" in blocks["messages"]["en"]
    assert "has no pooling after it" in blocks["messages"]["en"]
    assert "2번째 층 (Conv 4→8 3×3" in blocks["messages"]["ko"] and "pooling 이 없습니다" in blocks["messages"]["ko"]
    assert "layer 1" not in blocks["messages"]["en"]          # the first conv is pooled
    assert checks["t1.cnn"]["status"] == "pass"                # two convs: still task 1's CNN


def test_same_cnn_names_the_layers_that_differ(unpooled: dict[str, Any]) -> None:
    checks = by_id(unpooled)
    assert checks["t2.regularised"]["status"] == "pass"
    same = checks["t2.same_cnn"]
    assert same["status"] == "fail"
    assert "layer 2: Conv 4→8 3×3 vs Conv 4→16 3×3" in same["messages"]["en"]
    assert "layer 3: Linear 1568→10 vs Linear 3136→10" in same["messages"]["en"]
    assert "2번째 층: Conv 4→8 3×3 대 Conv 4→16 3×3" in same["messages"]["ko"]


def test_task1_takes_the_plain_cnn_even_when_the_dropout_one_came_first(tmp_path: Path) -> None:
    result = grade(tmp_path, "dropout_first", cnn((4, 8), dropout=True), cnn((4, 8)))
    checks = by_id(result)
    dropout_run, plain_run = result["runs"][0]["index"], result["runs"][1]["index"]
    assert "Dropout 0.25" in result["runs"][0]["model"]["decorations"]
    for cid in ("t1.cnn", "t1.conv_blocks", "t1.output", "t1.accuracy"):
        assert checks[cid]["evidence"]["run"] == plain_run, cid
    assert checks["t2.regularised"]["evidence"]["run"] == dropout_run
    assert checks["t2.regularised"]["status"] == "pass"
    assert checks["t2.same_cnn"]["status"] == "pass", checks["t2.same_cnn"]["message"]
    assert "eval mode" in checks["t2.accuracy"]["messages"]["en"]
    assert "eval 모드" in checks["t2.accuracy"]["messages"]["ko"]
