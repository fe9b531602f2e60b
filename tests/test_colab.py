"""Notebooks exported from Colab, graded as they are (grader/recording/probe_colab.py, grader/data/colab.py).

Two real kernels: a Colab export in the sandbox (drive, upload, pip lines, magics, the sample_data CSVs read with
pandas and numpy and a tiny model trained on them; the notebook asserts what it sees, so a wrong answer is a cell
error) and a short one without the sandbox (nothing written to ``/``, relative paths only, and a note saying so).
The CSV writer and the pip parser are checked in this process.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import nbformat
import numpy as np
import pytest

from grader.assignment import load_assignment
from grader.data import colab, mnist
from grader.execution import sandbox
from grader.pipeline import GradeOptions, grade_file
from grader.recording import probe_colab

SUPPORT = sandbox.detect()
needs_bwrap = pytest.mark.skipif(SUPPORT.bwrap is None, reason=f"no sandbox here: {SUPPORT.bwrap_problem}")

# the cells of a notebook as Colab exports it; each asserts what Colab would have given it
COLAB_CELLS = [
    "from google.colab import drive\ndrive.mount('/content/drive')\nimport os\n"
    "assert os.path.isdir('/content/drive/MyDrive') and os.listdir('/content/drive/MyDrive') == []",
    "!pip install torchvision\nassert _exit_code == 0\n!pip install -q some-absent-pkg==1.0\nassert _exit_code == 1\n"
    "%pip install -q -U numpy\n!python -m pip install --upgrade torch 2>&1\n"
    "x = !pip3 install numpy\nassert list(x) == []",
    "%matplotlib inline\nimport matplotlib.pyplot as plt\nplt.plot([1, 2, 3]); plt.show()",
    "from google.colab import files\nuploaded = files.upload()\nassert uploaded == {}\n"
    "files.download('model.pth')",
    "import pandas as pd\nimport numpy as np\n"
    "train = pd.read_csv('/content/sample_data/mnist_train_small.csv', header=None)\n"
    "test = np.loadtxt('sample_data/mnist_test.csv', delimiter=',', dtype=np.int64)\n"
    "print(train.shape, test.shape)",
    "import torchvision\nserved = torchvision.datasets.MNIST('data', train=False, download=True)\n"
    "assert test.shape == (len(served), 785), test.shape\n"
    "assert (test[:, 0] == served.targets.numpy()).all()\n"
    "assert (test[:, 1:] == served.data.numpy().reshape(len(served), -1)).all()",
    "listing = !ls sample_data\nassert 'mnist_test.csv' in listing and 'mnist_train_small.csv' in listing, listing\n"
    "!nvidia-smi\n%cd /content\nassert os.getcwd() == '/content'",
    "import torch\nX = torch.tensor(train.values[:, 1:], dtype=torch.float32) / 255\n"
    "y = torch.tensor(train.values[:, 0])\n"
    "model = torch.nn.Sequential(torch.nn.Linear(784, 32), torch.nn.ReLU(), torch.nn.Linear(32, 10))\n"
    "opt = torch.optim.Adam(model.parameters(), lr=1e-3)\n"
    "for epoch in range(2):\n    for i in range(0, len(X), 100):\n        opt.zero_grad()\n"
    "        loss = torch.nn.functional.cross_entropy(model(X[i:i + 100]), y[i:i + 100])\n"
    "        loss.backward()\n        opt.step()\n    print(epoch, loss.item())",
    "from google.colab.patches import cv2_imshow\ncv2_imshow(np.stack([X[0].reshape(28, 28).numpy() * 255] * 3, -1))\n"
    "from google.colab import output\noutput.clear()\ndrive.flush_and_unmount()",
]


def _notebook(path: Path, cells: list[str]) -> Path:
    nbformat.write(nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(c) for c in cells]), path)
    return path


def _grade(path: Path, **opts: Any) -> dict[str, Any]:
    return grade_file(path, load_assignment("dnn2_mnist"),
                      GradeOptions(data="subset", device="cpu", budget_s=240, cell_timeout_s=90, **opts))


def _diagnosis(res: dict[str, Any], ident: str) -> dict[str, Any]:
    found = [d for d in res["diagnoses"] if d["id"] == ident]
    assert len(found) == 1, [d["id"] for d in res["diagnoses"]]
    return found[0]


@needs_bwrap
def test_colab_export_grades_without_errors_and_with_the_right_findings(tmp_path: Path) -> None:
    res = _grade(_notebook(tmp_path / "colab.ipynb", COLAB_CELLS))
    assert res["errors"] == [] and res["status"] == "graded", (res["message"], res["errors"])
    assert res["sandbox"]["enabled"] is True
    assert res["runs"] and res["runs"][0]["steps"] == 120  # 6,000 CSV rows / 100, two epochs
    pip = _diagnosis(res, "pip_missing")
    assert pip["evidence"]["packages"] == ["some-absent-pkg"] and pip["severity"] == "info"  # nothing imported it
    assert "the grading environment has no some-absent-pkg" in pip["message"]["en"]
    assert "some-absent-pkg" in pip["message"]["ko"] and pip["cell_index"] == 1
    note = _diagnosis(res, "colab_environment")
    assert note["severity"] == "info" and note["evidence"]["calls"] == ["drive.mount", "files.upload"]
    assert note["evidence"]["sample_rows"] == {"mnist_train_small.csv": 6000, "mnist_test.csv": 1000}
    assert "no Google Drive" in note["message"]["en"] and "6,000 and 1,000 rows" in note["message"]["en"]
    assert "sandbox_content" not in note["evidence"]  # /content existed in the sandbox


def test_without_the_sandbox_nothing_is_written_to_the_root(tmp_path: Path) -> None:
    host_content = Path(colab.CONTENT).exists()
    cells = ["from google.colab import drive\ndrive.mount('/content/drive')\nimport os\n"
             "assert os.listdir('drive/MyDrive') == []",
             "import numpy as np\nrows = np.loadtxt('sample_data/mnist_train_small.csv', delimiter=',', max_rows=3)\n"
             "assert rows.shape == (3, 785)\nprint(open('/content/sample_data/mnist_test.csv').readline()[:5])"]
    res = _grade(_notebook(tmp_path / "laptop.ipynb", cells), sandbox="off")
    assert Path(colab.CONTENT).exists() == host_content  # nothing made under /
    assert res["sandbox"]["enabled"] is False
    assert [(e["cell_index"], e["ename"]) for e in res["errors"]] == [(1, "FileNotFoundError")]  # the absolute path
    note = _diagnosis(res, "colab_environment")
    assert note["evidence"]["sandbox_content"] is False
    assert "absolute /content/... paths exist only in the grader's sandbox" in note["message"]["en"]


def test_sample_data_csvs_have_colabs_layout_and_are_written_once(tmp_path: Path) -> None:
    root = mnist.prepare("subset")
    folder = tmp_path / "cache"
    folder.mkdir()
    assert colab.write_sample_data(root, folder) == {"mnist_train_small.csv": 6000, "mnist_test.csv": 1000}
    images, labels = mnist.load_split(root, train=True)
    rows = np.loadtxt(folder / "mnist_train_small.csv", delimiter=",", dtype=np.int64)
    assert rows.shape == (6000, 785) and (rows[:, 0] == labels.numpy()).all()
    assert (rows[:, 1:] == images.numpy().reshape(6000, -1)).all()
    first = (folder / "mnist_test.csv").read_text().splitlines()[0]
    assert first.count(",") == 784 and not first.startswith("label")  # no header
    mtime = (folder / "mnist_test.csv").stat().st_mtime_ns
    colab.write_sample_data(root, folder)
    assert (folder / "mnist_test.csv").stat().st_mtime_ns == mtime
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("print('no Colab files here')")])
    work = tmp_path / "work"
    work.mkdir()
    assert colab.provide(nb, root, folder, work, sandboxed=True) is False and not os.listdir(work)
    nb.cells.append(nbformat.v4.new_code_cell("pd.read_csv('sample_data/mnist_test.csv')"))
    assert colab.provide(nb, root, folder, work, sandboxed=True) is True
    assert os.readlink(work / "sample_data") == "/content/sample_data"


@pytest.mark.parametrize(("cmd", "expected"), [
    ("pip install -q -U torch torchvision", (0, 0, None)),
    ("pip3 install 'numpy>=1.0' --upgrade", (0, 0, None)),
    ("'/usr/bin/python3' -m pip install -q torch", (0, 0, None)),  # what %pip runs
    ("python -m pip install some-absent-pkg==2.0 2>&1", (1, 1, None)),
    ("pip install -q git+https://example.org/x.git && echo done", (1, 1, "echo done")),
    ("pip uninstall -y torch", (0, 1, None)),
    ("pip list", None),
    ("ls -la sample_data", None),
])
def test_pip_lines_are_answered_without_the_network(cmd: str, expected: tuple[int, int, str | None] | None) -> None:
    done = probe_colab.answer(cmd)
    assert (done if done is None else (done[0], len(done[1]), done[2])) == expected
