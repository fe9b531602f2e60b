"""Other MNIST loaders: scikit-learn's fetch_openml served from the grader's copy in a real kernel; a library the
grading environment lacks named first, its follow-on errors folded under it and counted as the environment's."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import nbformat
import pytest

from grader.assignment import load_assignment
from grader.pipeline import GradeOptions, grade_file
from grader.report import render_class, render_student
from grader.report.selfcheck import summary_text

needs_sklearn = pytest.mark.skipif(importlib.util.find_spec("sklearn") is None,
                                   reason="scikit-learn not installed (pip install -e '.[test]')")

# a learner's notebook: OpenML's MNIST as arrays, a first look, a tiny model trained on one big batch
OPENML = """from sklearn.datasets import fetch_openml
import numpy as np, torch
mnist = fetch_openml('mnist_784', version=1, as_frame=False)
X, y = mnist["data"], mnist["target"]
assert X.shape == (7000, 784) and X.dtype == np.float64 and X.max() == 255.0, (X.shape, X.dtype)
assert y.dtype == object and sorted(set(y)) == [str(i) for i in range(10)] and isinstance(y[0], str)
assert mnist.feature_names[0] == 'pixel1' and mnist.target_names == ['class']
Xa, ya = fetch_openml(name='mnist_784', return_X_y=True, as_frame=False, parser='auto')
assert (Xa == X).all()"""
FRAME = """frame = fetch_openml('mnist_784', version=1)
assert type(frame.data).__name__ == 'DataFrame' and frame.data.shape == (7000, 784)
assert frame.target.dtype.name == 'category' and frame.target.name == 'class'
assert list(frame.target.cat.categories) == [str(i) for i in range(10)]"""
TRAIN = """X_train = torch.tensor(X[:6000] / 255., dtype=torch.float32)
y_train = torch.tensor(y[:6000].astype(np.int64))
model = torch.nn.Sequential(torch.nn.Linear(784, 32), torch.nn.ReLU(), torch.nn.Linear(32, 10))
opt = torch.optim.Adam(model.parameters(), lr=1e-3)
for _ in range(3):
    opt.zero_grad()
    loss = torch.nn.functional.cross_entropy(model(X_train[:1000]), y_train[:1000])
    loss.backward()
    opt.step()"""

# the Keras way of a public tutorial, in an environment without TensorFlow
KERAS = ["import tensorflow as tf\nfrom tensorflow.keras.datasets import mnist",
         "(x_train, y_train), (x_test, y_test) = mnist.load_data()\nx_train, x_test = x_train / 255.0, x_test / 255.0",
         "print(x_train.shape)",
         "import torch\nX = torch.tensor(x_train).float().view(-1, 784)",
         "print(undefined_in_any_cell)"]


def _nb(tmp_path: Path, *sources: str) -> Path:
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(s) for s in sources]
    path = tmp_path / "student.ipynb"
    nbformat.write(nb, path)
    return path


@needs_sklearn
def test_fetch_openml_serves_the_grader_copy(tmp_path: Path) -> None:
    res = grade_file(_nb(tmp_path, OPENML, FRAME, TRAIN), opts=GradeOptions(device="cpu"))
    assert res["status"] == "graded", res["errors"]
    served = [(d["split"], d["n_items"], d["requested_root"]) for d in res["data"]["datasets"]]
    assert served[:2] == [("train", 6000, "<sklearn>"), ("test", 1000, "<sklearn>")]
    assert res["runs"] and res["runs"][0]["steps"] == 3
    assert res["error_kinds"] == {"environment": 0, "student": 0}


def test_missing_keras_names_the_cause_first(tmp_path: Path) -> None:
    res = grade_file(_nb(tmp_path, *KERAS), opts=GradeOptions(device="cpu"))
    assert res["status"] == "errors"
    assert res["message"].startswith("this notebook loads MNIST with TensorFlow/Keras, which the grading "
                                     "environment does not have; load it with torchvision.datasets.MNIST")
    assert "(cell index 0; 3 later error(s) follow from it)" in res["message"]
    kinds = [(e["cell_index"], e["ename"], e["kind"], e["follow_on_of"]) for e in res["errors"]]
    assert kinds == [(0, "ModuleNotFoundError", "environment", None), (1, "NameError", "environment", 0),
                     (2, "NameError", "environment", 0), (3, "NameError", "environment", 0),
                     (4, "NameError", "student", None)]
    assert res["error_kinds"] == {"environment": 1, "student": 1}
    first = res["diagnoses"][0]
    assert first["id"] == "library_missing" and first["severity"] == "error" and first["cell_index"] == 0
    assert first["evidence"]["follow_on_cells"] == [1, 2, 3]
    assert "Keras" in first["message"]["ko"] and "torchvision.datasets.MNIST" in first["message"]["ko"]

    # the pages: the cause first, the follow-on errors folded under the failed import, the class page apart
    assignment = load_assignment()
    page = render_student(res, None, "en", assignment)
    assert page.index("this notebook loads MNIST with TensorFlow/Keras") < page.index('id="errors"')
    errors = page[page.index('id="errors"'):]
    assert errors.count("<details") == 1 and "3 follow-on error(s)" in errors
    assert errors.index("ModuleNotFoundError") < errors.index("<details") < errors.index("x_train")
    assert "follows from the error of cell 0" in errors and "undefined_in_any_cell" in errors
    ko = render_student(res, None, "ko", assignment)
    assert "이 노트북은 TensorFlow/Keras(으)로 MNIST를 불러오는데" in ko and "이어진 오류 3개" in ko
    assert "(+ 3 follow-on error(s))" in summary_text(res, "en", assignment)
    clean = {**res, "submission": {**res["submission"], "id": "clean"}, "error_kinds": {"environment": 0, "student": 0}}
    own = {**res, "submission": {**res["submission"], "id": "own_bug"}, "error_kinds": {"environment": 0, "student": 2}}
    page = render_class([res, clean, own], None, "en", assignment)
    env = page[page.index('id="errors-environment"'):page.index('id="errors-student"')]
    student = page[page.index('id="errors-student"'):page.index('id="not-run"')]
    assert "student</td>" in env and "own_bug" not in env and "clean" not in env
    assert "own_bug" in student and "student</td>" in student and "clean" not in student
    assert "Could not run in the grading environment" in page
