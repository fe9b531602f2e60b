"""Builders for scenario submissions (nbformat notebooks and ``.py`` modules) used by test_scenarios.py.

Every snippet is written the way a student of the lecture writes it: torchvision MNIST with ToTensor,
a DataLoader of batch 100, the ``avg_cost`` loop printing ``Epoch: 0001 cost = ...`` and an accuracy
cell on ``mnist_test.test_data / 255``. Models stay small (width 64) so a notebook grades in seconds
on the embedded MNIST subset (6000 training images: 60 steps per epoch).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import nbformat
from nbformat import NotebookNode

WIDTH = 64

DATA = """\
import torch
import random
import torchvision.datasets as dsets
import torchvision.transforms as transforms

device = 'cuda' if torch.cuda.is_available() else 'cpu'
random.seed(777)
torch.manual_seed(777)

mnist_train = dsets.MNIST(root='MNIST_data/', train=True, transform=transforms.ToTensor(), download=True)
mnist_test = dsets.MNIST(root='MNIST_data/', train=False, transform=transforms.ToTensor(), download=True)
data_loader = torch.utils.data.DataLoader(dataset=mnist_train, batch_size=100,
                                          shuffle=True, drop_last=True)"""


class Md(str):
    """Marks a cell source as markdown."""


def md(text: str) -> Md:
    return Md(text)


def sequential(acts: list[str], width: int = WIDTH, out_act: str | None = None, name: str = "model") -> str:
    """``torch.nn.Sequential`` with one hidden layer per entry of ``acts`` (torch.nn class names)."""
    lines = [f"{name} = torch.nn.Sequential("]
    n_in = 784
    for act in acts:
        lines.append(f"    torch.nn.Linear({n_in}, {width}), torch.nn.{act}(),")
        n_in = width
    lines.append(f"    torch.nn.Linear({n_in}, 10),")
    if out_act:
        lines.append(f"    torch.nn.{out_act}(dim=1),")
    lines.append(").to(device)")
    return "\n".join(lines)


def relu6(name: str = "model") -> str:
    return sequential(["ReLU"] * 6, name=name)


def sigmoid6(name: str = "model") -> str:
    return sequential(["Sigmoid"] * 6, name=name)


CUSTOM_MODULE_F_RELU = f"""\
import torch.nn.functional as F

class Net(torch.nn.Module):
    def __init__(self, w={WIDTH}):
        super().__init__()
        self.fc1 = torch.nn.Linear(784, w)
        self.fc2 = torch.nn.Linear(w, w)
        self.fc3 = torch.nn.Linear(w, w)
        self.fc4 = torch.nn.Linear(w, w)
        self.fc5 = torch.nn.Linear(w, w)
        self.fc6 = torch.nn.Linear(w, w)
        self.fc7 = torch.nn.Linear(w, 10)

    def forward(self, x):
        x = F.relu(self.fc1(x))
        x = F.relu(self.fc2(x))
        x = F.relu(self.fc3(x))
        x = F.relu(self.fc4(x))
        x = F.relu(self.fc5(x))
        x = F.relu(self.fc6(x))
        return self.fc7(x)

model = Net().to(device)"""


def module_list(act_fn: str = "torch.sigmoid", hidden: int = 6) -> str:
    """A custom Module whose layers live in an ``nn.ModuleList`` applied in a loop."""
    return f"""\
class MLP(torch.nn.Module):
    def __init__(self, sizes, act):
        super().__init__()
        self.layers = torch.nn.ModuleList([torch.nn.Linear(a, b) for a, b in zip(sizes[:-1], sizes[1:])])
        self.act = act

    def forward(self, x):
        for layer in self.layers[:-1]:
            x = self.act(layer(x))
        return self.layers[-1](x)

model = MLP([784] + [{WIDTH}] * {hidden} + [10], {act_fn}).to(device)"""


def matmul_model(width: int = WIDTH) -> str:
    """Hand-written ``x @ W + b`` model over raw tensors; ``params`` is the list for the optimizer."""
    sizes = [784] + [width] * 6 + [10]
    lines = []
    for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:], strict=True), start=1):
        lines.append(f"W{i} = torch.randn({a}, {b}, requires_grad=True)")
        lines.append(f"b{i} = torch.zeros({b}, requires_grad=True)")
    lines.append("with torch.no_grad():  # He initialisation")
    for i, a in enumerate(sizes[:-1], start=1):
        lines.append(f"    W{i} *= ({a} / 2) ** -0.5")
    lines.append("params = [" + ", ".join(f"W{i}, b{i}" for i in range(1, 8)) + "]")
    lines.append("")
    lines.append("def model(x):")
    for i in range(1, 7):
        src = "x" if i == 1 else "h"
        lines.append(f"    h = torch.relu({src} @ W{i} + b{i})")
    lines.append("    return h @ W7 + b7")
    return "\n".join(lines)


def train(optimizer: str, epochs: int = 3, loader: str = "data_loader") -> str:
    """The lecture's training loop; ``optimizer`` is the expression assigned to ``optimizer``."""
    return f"""\
criterion = torch.nn.CrossEntropyLoss().to(device)
optimizer = {optimizer}
total_batch = len({loader})
for epoch in range({epochs}):
    avg_cost = 0
    for X, Y in {loader}:
        X = X.view(-1, 28 * 28).to(device)
        Y = Y.to(device)
        optimizer.zero_grad()
        hypothesis = model(X)
        cost = criterion(hypothesis, Y)
        cost.backward()
        optimizer.step()
        avg_cost += cost / total_batch
    print('Epoch:', '%04d' % (epoch + 1), 'cost =', '{{:.9f}}'.format(avg_cost))
print('Learning finished')"""


ADAM = "torch.optim.Adam(model.parameters(), lr=1e-3)"
ADAMW = "torch.optim.AdamW(model.parameters(), lr=1e-3)"
SGD = "torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)"

TEST_ACCURACY = """\
with torch.no_grad():
    X_test = mnist_test.test_data.view(-1, 28 * 28).float().to(device) / 255.
    Y_test = mnist_test.test_labels.to(device)
    prediction = model(X_test)
    correct_prediction = torch.argmax(prediction, 1) == Y_test
    accuracy = correct_prediction.float().mean()
    print('Accuracy:', accuracy.item())"""

TEST_LOADER_ACCURACY = """\
test_loader = torch.utils.data.DataLoader(dataset=mnist_test, batch_size=100, shuffle=False)
correct = 0
with torch.no_grad():
    for X, Y in test_loader:
        correct += (torch.argmax(model(X.view(-1, 28 * 28).to(device)), 1) == Y.to(device)).sum().item()
print('Accuracy:', correct / len(mnist_test))
X_sample, Y_sample = next(iter(test_loader))  # a peek at one batch: leaves a test-loader pass unfinished
print('label:', Y_sample[0].item(),
      'prediction:', torch.argmax(model(X_sample[:1].view(-1, 784).to(device)), 1).item())"""

NO_DATALOADER_TRAIN = """\
# no DataLoader: shuffle the index myself and slice the tensors
X_all = mnist_train.data.float().view(-1, 28 * 28) / 255.
Y_all = mnist_train.targets
batch_size = 100
criterion = torch.nn.CrossEntropyLoss()
optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
total_batch = X_all.size(0) // batch_size
for epoch in range({epochs}):
    perm = torch.randperm(X_all.size(0))
    avg_cost = 0
    for i in range(total_batch):
        idx = perm[i * batch_size:(i + 1) * batch_size]
        X, Y = X_all[idx].to(device), Y_all[idx].to(device)
        optimizer.zero_grad()
        cost = criterion(model(X), Y)
        cost.backward()
        optimizer.step()
        avg_cost += cost / total_batch
    print('Epoch:', '%04d' % (epoch + 1), 'cost =', '{{:.9f}}'.format(avg_cost))"""

CONCLUSION = ("결론: Sigmoid 를 쓰면 vanishing gradient 때문에 처음에는 loss 가 잘 줄지 않는다. "
              "Adam 을 쓰면 결국 줄어들기는 하지만 ReLU 보다 훨씬 느리다.")

# no keyword the conclusion check searches for: found only by its position after the Sigmoid run
PLAIN_CONCLUSION = "처음 몇 epoch 동안은 loss 가 거의 그대로였고, 나중에야 천천히 줄었다. 학습이 훨씬 느리다."

FAKE_PRINTS = """\
# (results copied from a friend)
for epoch, c in enumerate([0.123456789, 0.061234567, 0.041234567]):
    print('Epoch:', '%04d' % (epoch + 1), 'cost =', '{:.9f}'.format(c))
print('Learning finished')
print('Accuracy:', 0.98)"""


def notebook(cells: list[str]) -> NotebookNode:
    """A notebook of code cells (plain strings) and markdown cells (:class:`Md`)."""
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb.cells = [nbformat.v4.new_markdown_cell(c) if isinstance(c, Md) else nbformat.v4.new_code_cell(c)
                for c in cells]
    return nb


def write_notebook(directory: Path, name: str, cells: list[str]) -> Path:
    path = directory / f"{name}.ipynb"
    nbformat.write(notebook(cells), str(path))
    return path


def write_module(directory: Path, name: str, parts: list[str]) -> Path:
    path = directory / f"{name}.py"
    path.write_text("\n\n".join(parts) + "\n", encoding="utf-8")
    return path


# ----------------------------------------------------------------------------- result helpers
def check(result: dict[str, Any], check_id: str) -> dict[str, Any]:
    matches = [c for c in result["checks"] if c["id"] == check_id]
    assert matches, f"no check {check_id!r} in result (have {[c['id'] for c in result['checks']]})"
    return matches[0]


def flag(result: dict[str, Any], flag_id: str) -> dict[str, Any] | None:
    return next((f for f in result["flags"] if f["id"] == flag_id), None)


def flag_ids(result: dict[str, Any]) -> set[str]:
    return {f["id"] for f in result["flags"]}


def summary(result: dict[str, Any]) -> str:
    """Compact text of a result, for assertion messages."""
    lines = [f"status={result['status']} message={result.get('message')!r} score={result['score']}"]
    for c in result["checks"]:
        warning = f" [warning: {c['warning']}]" if c["warning"] else ""
        lines.append(f"  {c['id']}: {c['status']} — {c['message']}{warning}")
    lines += [f"  flag {f['id']}: {f['message']}" for f in result["flags"]]
    lines += [f"  error cell {e['cell_index']}: {e['ename']}: {e['evalue'][:120]}" for e in result["errors"]]
    for r in result["runs"]:
        lines.append(f"  run {r['index']} cell {r['cell_index']} {r['optimizer']['torch_class']} "
                     f"{r['model'].get('summary')} epochs={r['epochs_completed']} steps={r['steps']} "
                     f"acc={r['accuracy']['value']} ({r['accuracy']['source']})")
    return "\n".join(lines)


# ----------------------------------------------------------------------------- training-loop doctor scenarios
NO_ZERO_GRAD = train(ADAM, 2).replace("        optimizer.zero_grad()\n", "")  # gradients accumulate
# the slide's own test cell: pixels 0-255 (no / 255) fed to a model trained on ToTensor's [0, 1]
LECTURE_TEST_ACCURACY = TEST_ACCURACY.replace(".float().to(device) / 255.", ".float().to(device)")
SIGMOD_TYPO = ("sigmoid = torch.nn.Sigmoid()\n"
               "model = torch.nn.Sequential(torch.nn.Linear(784, 64), sigmod, torch.nn.Linear(64, 10)).to(device)")
NEW_MODEL_IDLE_SGD = relu6() + "\noptimizer_sgd = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)"
# a copy-pasted loop that still steps `optimizer` (the previous model's Adam) instead of optimizer_sgd
STALE_OPTIMIZER_LOOP = """\
for epoch in range(1):
    avg_cost = 0
    for X, Y in data_loader:
        X = X.view(-1, 28 * 28).to(device)
        Y = Y.to(device)
        optimizer.zero_grad()
        cost = criterion(model(X), Y)
        cost.backward()
        optimizer.step()
        avg_cost += cost / total_batch
    print('Epoch:', '%04d' % (epoch + 1), 'cost =', '{:.9f}'.format(avg_cost))"""
DROPOUT_MODEL = f"""\
model = torch.nn.Sequential(torch.nn.Linear(784, {WIDTH}), torch.nn.ReLU(), torch.nn.Dropout(0.5),
                            torch.nn.Linear({WIDTH}, {WIDTH}), torch.nn.ReLU(), torch.nn.Dropout(0.5),
                            torch.nn.Linear({WIDTH}, 10)).to(device)"""
# the slide's indentation: avg_cost summed once per epoch, after the inner loop
AVG_COST_OUTSIDE = train(ADAM, 2).replace("        avg_cost += cost / total_batch\n",
                                          "    avg_cost += cost / total_batch\n")
RAW_PIXELS_TRAIN = NO_DATALOADER_TRAIN.format(epochs=1).replace("view(-1, 28 * 28) / 255.", "view(-1, 28 * 28)")
RELU_AFTER_OUTPUT = (f"model = torch.nn.Sequential(torch.nn.Linear(784, {WIDTH}), torch.nn.ReLU(), "
                     f"torch.nn.Linear({WIDTH}, 10), torch.nn.ReLU()).to(device)")


def diagnoses(result: dict[str, Any], diag_id: str, run: int | None = None) -> list[dict[str, Any]]:
    """The result's findings with this id (and about this 0-based run, when given)."""
    return [d for d in result.get("diagnoses", []) if d["id"] == diag_id and (run is None or d["run"] == run)]


def severe(result: dict[str, Any]) -> list[dict[str, Any]]:
    """The result's warning and error findings."""
    return [d for d in result.get("diagnoses", []) if d["severity"] in ("warning", "error")]
