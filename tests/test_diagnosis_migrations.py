"""Old and odd code, explained (grader/diagnosis/migrations.py, oddities.py), graded in real kernels.

``old_tutorial`` is a notebook in the manner of a PyTorch-0.3 tutorial: ``Variable`` and ``volatile=True``,
``size_average=``, ``.test_data``, ``softmax`` without ``dim``, ``torch.range`` (all still run: info), and cells that
crash on today's libraries: ``loss.data[0]``, ``np.float``, a whole model reloaded under ``weights_only``,
Python 2 ``print``, ``.cuda(async=True)``, and a NameError of a name a later cell
defines (its saved execution counts show the student ran that later cell first). ``modern`` is the same homework
written today, with a tqdm progress bar instead of printed costs and saved execution counts out of order: only the
two plain notes, no finding about old code.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import nbformat
import pytest
from scenarios import DATA, WIDTH, diagnoses, md, notebook, summary

from grader.assignment import load_assignment
from grader.diagnosis.cells import defined_names
from grader.diagnosis.migrations import MIGRATIONS
from grader.diagnosis.oddities import _first_inversion
from grader.pipeline import GradeOptions, grade_file
from grader.report import render_student
from grader.report.i18n import DIAGNOSIS_NAMES
from grader.submission.load import STORED_KEY, load_submission

KERNEL_ENV = {"OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
MODEL = (f"model = torch.nn.Sequential(torch.nn.Linear(784, {WIDTH}), torch.nn.ReLU(),\n"
         f"                            torch.nn.Linear({WIDTH}, 10)).to(device)")
OLD_MODEL = MODEL + "\ntorch.nn.init.xavier_uniform(model[0].weight)"

OLD_TRAIN = """\
from torch.autograd import Variable
criterion = torch.nn.CrossEntropyLoss(size_average=True)
optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
for epoch in range(1):
    avg_cost = 0
    for X, Y in data_loader:
        X = Variable(X.view(-1, 28 * 28))
        Y = Variable(Y)
        optimizer.zero_grad()
        cost = criterion(model(X), Y)
        cost.backward()
        optimizer.step()
        avg_cost += cost.item() / len(data_loader)
    print('Epoch:', epoch + 1, 'cost =', avg_cost)"""
OLD_TEST = """\
import torch.nn.functional as F
X_test = Variable(mnist_test.test_data.view(-1, 28 * 28).float() / 255., volatile=True)
Y_test = Variable(mnist_test.test_labels)
probs = F.softmax(model(X_test))
print('Accuracy:', (probs.argmax(1) == Y_test).float().mean().item())
print(torch.range(1, 3))"""
OLD_CRASHES = [
    "print('last cost', cost.data[0])",
    "import numpy as np\nacc = np.float(0.5)",
    "torch.save(model, 'model.pt')\nmodel2 = torch.load('model.pt')",
    "from tqdm.notebook import tqdm\nfor _ in tqdm(range(3)):\n    pass",
    "print 'Learning finished'",
    "X = torch.zeros(2)\nX = X.cuda(async=True)",
    "print('best epoch:', best_epoch)",
    "best_epoch = 1",
    "print 'Accuracy:', 0.9",
    "dataiter = iter(data_loader)\nimages, labels = dataiter.next()",
    "import matplotlib.pyplot as plt\nplt.style.use('seaborn-whitegrid')",
    "import pandas as pd\nlog = pd.DataFrame()\nlog = log.append({'epoch': 1, 'cost': 0.3}, ignore_index=True)",
    "resize = transforms.Compose([transforms.Scale(28), transforms.ToTensor()])",
    "torch.set_default_tensor_type(torch.FloatTensor)",
]
MODERN_TRAIN = """\
from tqdm.auto import tqdm
criterion = torch.nn.CrossEntropyLoss()
optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
for epoch in range(1):
    bar = tqdm(data_loader, desc=f'epoch {epoch + 1}')
    for X, Y in bar:
        optimizer.zero_grad()
        cost = criterion(model(X.view(-1, 28 * 28).to(device)), Y.to(device))
        cost.backward()
        optimizer.step()
        bar.set_postfix(loss=cost.item())"""
MODERN_TEST = """\
import torch.nn.functional as F
model.eval()
with torch.no_grad():
    X_test = mnist_test.data.view(-1, 28 * 28).float().to(device) / 255.
    probs = F.softmax(model(X_test), dim=1)
    print('Accuracy:', (probs.argmax(1) == mnist_test.targets.to(device)).float().mean().item())
print(torch.arange(1, 4))"""
WIDGET = {"output_type": "display_data", "metadata": {},
          "data": {"application/vnd.jupyter.widget-view+json": {"model_id": "abc", "version_major": 2,
                                                                "version_minor": 0},
                   "text/plain": "  0%|          | 0/60 [00:00<?, ?it/s]"}}


def _write(directory: Path, name: str, cells: list[str], counts: dict[int, int],
           widgets: tuple[int, ...] = ()) -> Path:
    """A notebook with saved execution counts (as the student last ran it) and widget outputs."""
    nb = notebook(cells)
    for i, count in counts.items():
        nb.cells[i].execution_count = count
    for i in widgets:
        nb.cells[i].outputs = [nbformat.from_dict(WIDGET)]
    path = directory / f"{name}.ipynb"
    nbformat.write(nb, str(path))
    return path


def _grade(path: Path) -> dict[str, Any]:
    return grade_file(path, load_assignment(), GradeOptions(env=dict(KERNEL_ENV)))


def _one(result: dict[str, Any], diag_id: str) -> dict[str, Any]:
    found = diagnoses(result, diag_id)
    assert len(found) == 1, f"expected one {diag_id}, got {found}\n{summary(result)}\n{result['diagnoses']}"
    return found[0]


@pytest.fixture(scope="module")
def old_tutorial(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    cells = [md("# DNN 과제"), DATA,                                   # 0-1
             md("## 과제 1: hidden layer"), OLD_MODEL, OLD_TRAIN, OLD_TEST,  # 2-5
             *OLD_CRASHES]                                                  # 6-19
    counts = {1: 1, 3: 2, 4: 3, 5: 4} | {i: i for i in range(6, 20)} | {12: 13, 13: 12}  # 13 ran before 12
    return _grade(_write(tmp_path_factory.mktemp("old"), "old_tutorial", cells, counts))


@pytest.fixture(scope="module")
def modern(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    cells = [md("# DNN 과제"), DATA, md("## 과제 1: hidden layer"), MODEL, MODERN_TRAIN, MODERN_TEST]
    counts = {1: 1, 3: 4, 4: 2, 5: 3}  # the model cell re-run after training: out of order, harmless here
    return _grade(_write(tmp_path_factory.mktemp("modern"), "modern", cells, counts, widgets=(4,)))


@pytest.mark.parametrize(("diag_id", "cell"), [("old_loss_data_index", 6), ("numpy_alias_removed", 7),
                                               ("torch_load_whole_model", 8),
                                               ("dataloader_iter_next", 15), ("matplotlib_seaborn_style", 16),
                                               ("pandas_append_removed", 17), ("torchvision_scale", 18)])
def test_crashing_old_idioms_named_at_their_cell_with_the_fix(old_tutorial: dict[str, Any], diag_id: str,
                                                              cell: int) -> None:
    d = _one(old_tutorial, diag_id)
    assert d["cell_index"] == cell and d["ref"] == f"{diag_id}@cell{cell}"
    assert d["severity"] == "error"
    assert f"cell {cell}" in d["message"]["en"] and f"셀 {cell}" in d["message"]["ko"]
    # the task's own task_cell_error for that cell ties the checks; this finding names the cause and the fix
    assert d["evidence"]["task"] == "t1" and d["task"] is None and d["checks"] == []
    assert diagnoses(old_tutorial, "task_cell_error")
    assert d["todo"]["en"] and d["todo"]["ko"] and "{" not in d["message"]["en"] + d["todo"]["en"]


def test_tqdm_notebook_runs_in_the_grading_environment(old_tutorial: dict[str, Any]) -> None:
    """Colab's ``from tqdm.notebook import tqdm`` needs ipywidgets, which the grading environment has: the cell runs
    (without it, ``tqdm_notebook_widgets`` would explain the ImportError)."""
    assert not diagnoses(old_tutorial, "tqdm_notebook_widgets")
    assert all(e["cell_index"] != 9 for e in old_tutorial["errors"]), old_tutorial["errors"]


def test_crash_fixes_say_what_to_write(old_tutorial: dict[str, Any]) -> None:
    assert "loss.item()" in _one(old_tutorial, "old_loss_data_index")["todo"]["en"]
    numpy = _one(old_tutorial, "numpy_alias_removed")
    assert numpy["evidence"]["alias"] == "float" and "np.float64" in numpy["todo"]["en"]
    load = _one(old_tutorial, "torch_load_whole_model")
    assert "state_dict()" in load["todo"]["en"] and "load_state_dict" in load["todo"]["en"]
    assert "weights_only=False" in load["todo"]["en"]  # ... which the grader never does
    assert "next(iter(data_loader))" in _one(old_tutorial, "dataloader_iter_next")["todo"]["en"]
    assert "'seaborn-v0_8-whitegrid'" in _one(old_tutorial, "matplotlib_seaborn_style")["todo"]["en"]
    assert "pd.concat" in _one(old_tutorial, "pandas_append_removed")["todo"]["en"]
    assert "transforms.Resize" in _one(old_tutorial, "torchvision_scale")["todo"]["en"]


@pytest.mark.parametrize(("diag_id", "cells"), [("variable_wrapper", [4, 5]), ("volatile_removed", [5]),
                                                ("mnist_old_attributes", [5]), ("loss_size_average", [4]),
                                                ("softmax_implicit_dim", [5]), ("torch_range", [5]),
                                                ("init_without_underscore", [3]), ("set_default_tensor_type", [19])])
def test_old_apis_that_still_work_are_info(old_tutorial: dict[str, Any], diag_id: str, cells: list[int]) -> None:
    d = _one(old_tutorial, diag_id)
    assert d["severity"] == "info" and d["cell_index"] == cells[0] and d["evidence"]["cells"] == cells
    assert d["task"] == "t1"  # (an info finding explains no check)
    assert "{" not in d["message"]["en"] + d["todo"]["en"] + d["message"]["ko"] + d["todo"]["ko"]


def test_warnings_read_from_the_cells_stderr(old_tutorial: dict[str, Any]) -> None:
    assert _one(old_tutorial, "volatile_removed")["evidence"]["warned_cells"] == [5]
    assert "reduction='mean'" in _one(old_tutorial, "loss_size_average")["todo"]["en"]
    assert "softmax(x, dim=1)" in _one(old_tutorial, "softmax_implicit_dim")["todo"]["en"]
    assert "nn.init.xavier_uniform_(" in _one(old_tutorial, "init_without_underscore")["todo"]["en"]


def test_cells_that_do_not_parse(old_tutorial: dict[str, Any]) -> None:
    found = {d["cell_index"]: d for d in diagnoses(old_tutorial, "cell_does_not_parse")}
    assert sorted(found) == [10, 11], old_tutorial["diagnoses"]
    assert found[10]["evidence"]["kind"] == "python2_print" and "print(" in found[10]["todo"]["en"]
    assert found[10]["evidence"]["cells"] == [10, 14] and "(the same in cell 14)" in found[10]["message"]["en"]
    assert found[11]["evidence"]["kind"] == "cuda_async" and "non_blocking=True" in found[11]["todo"]["en"]
    assert found[11]["evidence"]["line"] == 2
    assert all("graded the notebook on the cells that did run" in d["message"]["en"] for d in found.values())


def test_name_defined_in_a_later_cell(old_tutorial: dict[str, Any]) -> None:
    d = _one(old_tutorial, "name_defined_later")
    assert d["severity"] == "warning" and d["cell_index"] == 12
    assert d["evidence"] == {"cell_index": 12, "name": "best_epoch", "defined_in": 13, "ran_first_when_saved": True,
                             "task": "t1"}
    assert "top to bottom" in d["message"]["en"] and "cell 13 [12] ran before cell 12 [13]" in d["message"]["en"]
    assert diagnoses(old_tutorial, "cells_run_out_of_order") == []  # folded into the NameError it explains


def test_old_tutorial_still_graded_and_explained_in_message_and_page(old_tutorial: dict[str, Any]) -> None:
    assert old_tutorial["runs"] and old_tutorial["runs"][0]["steps"] > 0, summary(old_tutorial)
    assert "loss.item()" in old_tutorial["message"]
    page = render_student(old_tutorial, None, "en", load_assignment())
    assert "Old PyTorch&#39;s loss.data[0]" in page or "Old PyTorch's loss.data[0]" in page
    assert "id=\"diag-torch_load_whole_model@cell8\"" in page and "np.float64" in page


def test_modern_notebook_has_no_old_code_finding(modern: dict[str, Any]) -> None:
    assert modern["errors"] == [], summary(modern)
    old = {m.id for m in MIGRATIONS} | {"cell_does_not_parse", "name_defined_later"}
    assert [d for d in modern["diagnoses"] if d["id"] in old] == []
    assert [d for d in modern["diagnoses"] if d["severity"] != "info"] == [], modern["diagnoses"]


def test_progress_only_in_a_tqdm_bar(modern: dict[str, Any]) -> None:
    d = _one(modern, "progress_bar_only")
    assert d["severity"] == "info" and d["cell_index"] == 4 and d["evidence"]["runs"] == [0]
    assert d["evidence"]["widget_outputs_saved"] is True and "recorded" in d["message"]["en"]


def test_saved_execution_counts_out_of_order(modern: dict[str, Any]) -> None:
    d = _one(modern, "cells_run_out_of_order")
    assert d["severity"] == "info" and d["cell_index"] == 4 and d["evidence"]["earlier_cell"] == 3
    assert "Restart & Run All" in d["todo"]["en"]


def test_stored_counts_and_widgets_kept_by_the_loader(tmp_path: Path) -> None:
    path = _write(tmp_path, "nb", ["x = 1", "y = 2", "for i in range(3): pass"], {0: 2, 1: 1, 2: 3}, widgets=(2,))
    sub = load_submission(path)
    assert sub.notebook.metadata[STORED_KEY] == {"execution_counts": {"0": 2, "1": 1, "2": 3}, "widget_cells": [2]}
    assert all(c.execution_count is None and c.outputs == [] for c in sub.notebook.cells)  # still dropped
    assert _first_inversion({0: 2, 1: 1, 2: 3}) == (0, 1) and _first_inversion({0: 1, 2: 2, 5: 9}) is None
    v3 = {"nbformat": 3, "nbformat_minor": 0, "metadata": {"name": "old"}, "worksheets": [{"metadata": {}, "cells": [
        {"cell_type": "heading", "level": 1, "metadata": {}, "source": "Old"},
        {"cell_type": "code", "language": "python", "input": "print 'x'", "prompt_number": 7, "metadata": {},
         "outputs": []}]}]}
    (tmp_path / "v3.ipynb").write_text(json.dumps(v3), encoding="utf-8")
    old = load_submission(tmp_path / "v3.ipynb").notebook
    assert old.metadata[STORED_KEY]["execution_counts"] == {"1": 7} and old.cells[1].source == "print 'x'"


def test_every_finding_has_a_name_on_the_pages() -> None:
    ids = {m.id for m in MIGRATIONS} | {"cell_does_not_parse", "name_defined_later", "cells_run_out_of_order",
                                        "progress_bar_only"}
    assert ids <= set(DIAGNOSIS_NAMES), ids - set(DIAGNOSIS_NAMES)


def test_sources_read_without_running_them() -> None:
    variable = next(m for m in MIGRATIONS if m.id == "variable_wrapper").source
    assert variable.search("x = torch.autograd.Variable(x)") and variable.search("X = Variable(X)")
    assert not variable.search("v = MyVariable(3)") and not variable.search("obj.Variable(3)")
    cell = "%matplotlib inline\nimport numpy as np\nfor i, (X, Y) in enumerate(loader):\n    last = i\n" \
           "def f(a):\n    inner = a\nclass Net: pass\nsq = [k * k for k in range(3)]"
    assert defined_names(cell) == {"np", "i", "X", "Y", "last", "f", "Net", "sq"}
    assert defined_names("print 'x'") == set()
