#!/usr/bin/env python3
"""Write the ``dnn2_mnist`` homework's notebooks: the instructor's solution, the starter, the examples.

The homework is the last slide of the lecture "Pytorch로 딥러닝 · 인공신경망 (DNN) 기초 – 두번째 시간":

1. a model with six hidden layers (widths free);
2. ``torch.nn.Sigmoid()`` instead of ReLU: does the train loss really not decrease?
3. an optimizer other than ``torch.optim.Adam()``.

Every notebook is written in the lecture's code style (same imports, seeds 777, ``learning_rate = 0.001``,
``training_epochs = 15``, ``batch_size = 100``, the lecture's training loop and test cell), because real
submissions look like that. Two deliberate departures from the slides, both fixes of slide bugs:
``avg_cost += cost / total_batch`` sits INSIDE the batch loop, and test images are scaled with ``/ 255.``
so the printed accuracy matches how the model was trained. The slides import ``torchvision.datasets as
dsets`` but call ``datasets.MNIST``; the notebooks import both names so the slide code runs as written.

Outputs (relative to the repository root)::

    reference/dnn2_mnist/solution.ipynb            instructor's solution (seed from env GRADER_SEED)
    assignments/dnn2_mnist/starter.ipynb           lecture code + TODO cells for the three tasks
    assignments/dnn2_mnist/examples/perfect.ipynb
    assignments/dnn2_mnist/examples/five_hidden.ipynb
    assignments/dnn2_mnist/examples/adam_only.ipynb

Usage::

    python reference/dnn2_mnist/make_notebooks.py            # (re)write the notebooks
    python reference/dnn2_mnist/make_notebooks.py --check    # exit 1 if any file on disk differs

Deterministic: fixed cell ids, no outputs, no execution counts, no timestamps; running it twice gives
byte-identical files. Every notebook is checked with ``nbformat.validate`` and every code cell is compiled
(lines starting with ``%`` or ``!`` skipped) before anything is written.

Do not execute these notebooks with plain Jupyter: ``download=True`` would try the network. The grader
redirects every ``MNIST(root=...)`` to its own copy of the data.
"""

# ruff: noqa: E501  (notebook text: Korean characters count double towards the line length)
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import nbformat
from nbformat import NotebookNode

from grader.errors import UsageError
from grader.scaffold import check_generated_notebook, render_notebook, sync_generated

REPO_ROOT = Path(__file__).resolve().parents[2]
PLACEHOLDER = "(여기에 결론을 쓰세요 / write your conclusion here)"

METADATA = {
    "kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"},
    "language_info": {"name": "python"},
}


# ----------------------------------------------------------------------------------------- builder
class Nb:
    """A notebook under construction, with explicit (deterministic, unique) cell ids."""

    def __init__(self) -> None:
        self.cells: list[NotebookNode] = []
        self._ids: set[str] = set()

    def _id(self, cid: str) -> str:
        if cid in self._ids:
            raise ValueError(f"duplicate cell id {cid!r}")
        self._ids.add(cid)
        return cid

    def md(self, cid: str, text: str) -> None:
        self.cells.append(nbformat.v4.new_markdown_cell(text.strip("\n"), id=self._id(cid)))

    def code(self, cid: str, text: str) -> None:
        self.cells.append(nbformat.v4.new_code_cell(text.strip("\n"), id=self._id(cid)))

    def build(self) -> NotebookNode:
        nb = nbformat.v4.new_notebook(metadata=METADATA)
        nb.nbformat, nb.nbformat_minor = 4, 5
        nb.cells = self.cells
        return nb


# ----------------------------------------------------------------------------------- code pieces
def imports_cell(seed: str = "777", with_os: bool = False, with_plt: bool = True) -> str:
    """The lecture's first cell; ``seed`` is the literal or name used for every seed."""
    lines = ["# Lab 10 MNIST and softmax"]
    if with_os:
        lines.append("import os")
    lines += [
        "import torch",
        "import torchvision.datasets as dsets",
        "from torchvision import datasets  # 슬라이드 코드는 datasets.MNIST 를 씁니다 (the slides call datasets.MNIST)",
        "import torchvision.transforms as transforms",
        "import random",
    ]
    if with_plt:
        lines.append("import matplotlib.pyplot as plt")
    lines.append("")
    if with_os:
        lines += [
            "# 채점기는 여러 seed로 다시 실행합니다 (the grader re-runs this notebook with several seeds)",
            "SEED = int(os.environ.get('GRADER_SEED', '777'))",
            "",
        ]
    lines += [
        "device = 'cuda' if torch.cuda.is_available() else 'cpu'",
        "",
        "# for reproducibility",
        f"random.seed({seed})",
        f"torch.manual_seed({seed})",
        "if device == 'cuda':",
        f"    torch.cuda.manual_seed_all({seed})",
    ]
    return "\n".join(lines)


PARAMS = """
# parameters
learning_rate = 0.001
training_epochs = 15
batch_size = 100
"""

DATA = """
# MNIST dataset
mnist_train = datasets.MNIST(root='MNIST_data/',
                             train=True,
                             transform=transforms.ToTensor(),
                             download=True)

mnist_test = datasets.MNIST(root='MNIST_data/',
                            train=False,
                            transform=transforms.ToTensor(),
                            download=True)
"""

LOADER = """
# dataset loader
data_loader = torch.utils.data.DataLoader(dataset=mnist_train,
                                          batch_size=batch_size,
                                          shuffle=True,
                                          drop_last=True)
"""

TRAIN = """
total_batch = len(data_loader)
for epoch in range(training_epochs):
    avg_cost = 0

    for X, Y in data_loader:
        # reshape input image into [batch_size by 784]
        # label is not one-hot encoded
        X = X.view(-1, 28 * 28).to(device)
        Y = Y.to(device)

        optimizer.zero_grad()
        hypothesis = model(X)
        cost = criterion(hypothesis, Y)
        cost.backward()
        optimizer.step()

        avg_cost += cost / total_batch    # 배치들마다 계산된 cost를 평균내어 한 epoch 당 cost로 계산

    print('Epoch:', '%04d' % (epoch + 1), 'cost =', '{:.9f}'.format(avg_cost))

print('Learning finished')
"""

TEST = """
# Test the model using test sets
with torch.no_grad():
    X_test = mnist_test.test_data.view(-1, 28 * 28).float().to(device) / 255.
    Y_test = mnist_test.test_labels.to(device)

    prediction = model(X_test)
    correct_prediction = torch.argmax(prediction, 1) == Y_test
    accuracy = correct_prediction.float().mean()
    print('Accuracy:', accuracy.item())
"""

PREDICT_ONE = """
# Get one and predict
r = random.randint(0, len(mnist_test) - 1)
X_single_data = mnist_test.test_data[r:r + 1].view(-1, 28 * 28).float().to(device) / 255.
Y_single_data = mnist_test.test_labels[r:r + 1].to(device)

print('Label: ', Y_single_data.item())
single_prediction = model(X_single_data)
print('Prediction: ', torch.argmax(single_prediction, 1).item())
"""


def optimizer_cell(opt: str, comment: str = "# define cost/loss & optimizer") -> str:
    return (
        f"{comment}\n"
        "criterion = torch.nn.CrossEntropyLoss().to(device)    # Softmax is internally computed.\n"
        f"{opt}"
    )


ADAM = "optimizer = torch.optim.Adam(model.parameters(), lr=learning_rate)"


def sequential_model(widths: list[int], act: str, comment: str) -> str:
    """Reference style: one nn.Sequential of Linear/activation modules."""
    dims = [784, *widths]
    lines = [comment, "model = torch.nn.Sequential("]
    for a, b in zip(dims, dims[1:], strict=False):
        lines.append(f"    torch.nn.Linear({a}, {b}, bias=True), torch.nn.{act}(),")
    lines.append(f"    torch.nn.Linear({dims[-1]}, 10, bias=True),")
    lines.append(").to(device)")
    lines.append("print(model)")
    return "\n".join(lines)


def lecture_model(widths: list[int], act_var: str, act_cls: str, comment: str = "") -> str:
    """Student style (as on the slides): linear1..linearN variables, one shared activation module."""
    dims = [784, *widths, 10]
    n = len(dims) - 1
    lines = [comment] if comment else []
    lines.append("# nn layers")
    for i in range(n):
        lines.append(f"linear{i + 1} = torch.nn.Linear({dims[i]}, {dims[i + 1]}, bias=True)")
    lines.append(f"{act_var} = torch.nn.{act_cls}()")
    lines.append("")
    lines.append("# model")
    parts = []
    for i in range(n):
        parts.append(f"linear{i + 1}")
        if i < n - 1:
            parts.append(act_var)
    # wrap the Sequential(...) arguments like a person would
    head = "model = torch.nn.Sequential("
    cont = " " * len(head)
    rows, row = [], ""
    for p in parts:
        piece = p + ", "
        if row and len(head) + len(row) + len(piece) > 96:
            rows.append(row.rstrip())
            row = ""
        row += piece
    rows.append(row.rstrip().rstrip(","))
    lines.append(head + rows[0])
    for r in rows[1:]:
        lines.append(cont + r)
    lines[-1] += ").to(device)"
    return "\n".join(lines)


# --------------------------------------------------------------------------- shared student part
def lecture_part(nb: Nb, *, intro: str) -> None:
    """The starter's first half: the lecture's MNIST code (2 hidden layers × 256, ReLU, Adam)."""
    nb.md("title", intro)
    nb.md("lecture-md", """
## 강의 코드 (lecture code): 2개의 hidden layer × 256, ReLU, Adam

슬라이드의 MNIST 코드입니다. 먼저 그대로 실행해서 결과를 확인하세요 (run the slides' code first).
""")
    nb.code("imports", imports_cell())
    nb.code("params", PARAMS)
    nb.code("data", DATA)
    nb.code("loader", LOADER)
    nb.md("eda-md", "### EDA: mnist에는 데이터가 어떤식으로 들어가 있나 보기 (what is inside MNIST)")
    nb.code("eda-sample", "# mnist에는 데이터가 어떤식으로 들어가 있나 보기\nmnist_train[0][0].shape, mnist_train[0][1]")
    nb.code("eda-plot", """
# 데이터 시각화
plt.imshow(mnist_train[0][0].reshape(28, 28), cmap='gray')
print("이 그림의 라벨은 다음과 같습니다 : ", mnist_train[0][1])
""")
    nb.md("lecture-model-md", "### 모델 생성 (model): 2개의 hidden layer, 1개의 출력층")
    nb.code("lecture-model", """
# nn layers
linear1 = torch.nn.Linear(784, 256, bias=True)
linear2 = torch.nn.Linear(256, 256, bias=True)
linear3 = torch.nn.Linear(256, 10, bias=True)
relu = torch.nn.ReLU()

# model
model = torch.nn.Sequential(linear1, relu, linear2, relu, linear3).to(device)
""")
    nb.code("lecture-optimizer", optimizer_cell(ADAM))
    nb.md("lecture-train-md", "### 모델 훈련 (training)")
    nb.code("lecture-train", TRAIN)
    nb.md("lecture-test-md", "### 모델 테스트 (test)")
    nb.code("lecture-test", TEST.rstrip("\n") + "\n" + PREDICT_ONE)


TASK1_MD = """
## 과제 1. hidden layer 6층 모델 (task 1: six hidden layers)

hidden layer의 개수를 6층으로 모델을 만들 것. 각 층별 hidden node의 수는 자유롭게 정하세요.
(Build a model with **six hidden layers**; the width of each layer is up to you.)

- hidden layer 6개 = `Linear` 7개 (입력층 → 6개의 hidden → 출력층) — six hidden layers need seven `Linear` layers.
- 새 모델과 새 옵티마이저(`torch.optim.Adam`, `lr=learning_rate`)를 만들고 15 epoch 학습한 뒤 테스트 정확도를
  출력하세요 (fresh model and optimizer, 15 epochs, print the test accuracy).
"""

TASK2_MD = """
## 과제 2. Sigmoid (task 2: Sigmoid instead of ReLU)

활성화 함수를 `torch.nn.ReLU()` 말고 `torch.nn.Sigmoid()`를 썼을 때 정말 train loss가 줄어들지 않는지 알아 볼 것.
(Use `torch.nn.Sigmoid()` instead of ReLU and find out whether the training loss really does not decrease.)

- 과제 1과 **활성화 함수만** 바꾸세요: 같은 hidden layer 수와 node 수, 같은 옵티마이저와 learning rate, 같은 epoch 수
  (change only the activation; keep widths, optimizer, learning rate and epochs as in task 1).
- 출력된 `cost` 값을 과제 1과 비교하고 아래에 결론을 쓰세요 (compare the printed costs with task 1 and write
  your conclusion below).
"""

TASK2_CONCLUSION_MD = """
### 과제 2 결론 (conclusion for task 2)

Sigmoid 모델의 train loss는 줄어들었나요? 왜 그런가요? 아래 칸에 직접 실험한 결과를 바탕으로 2~3문장으로 쓰세요.
(Did the Sigmoid model's training loss decrease? Why? Answer in 2–3 sentences in the cell below, based on your own run.)
"""

TASK3_MD = """
## 과제 3. 다른 옵티마이저 (task 3: an optimizer other than Adam)

코드에서 사용한 `torch.optim.Adam()` 말고 다른 옵티마이저를 사용할 것 (예: `torch.optim.SGD`, `RMSprop`, `Adagrad`).
(Train a model with an optimizer other than `torch.optim.Adam()`, e.g. SGD, RMSprop, Adagrad.)

- 새 옵티마이저로 학습 루프의 `zero_grad()`와 `step()`을 호출해야 합니다 (the training loop must call `zero_grad()`
  and `step()` on the new optimizer).
- 15 epoch 학습하고 테스트 정확도를 출력하세요 (15 epochs, print the test accuracy).
"""


def todo_cells(nb: Nb, task: int, what: str) -> None:
    """Four TODO cells (model, optimizer, training, test) that run as-is."""
    nb.code(f"task{task}-model", f"""
# TODO 과제 {task}: 모델 만들기 ({what})
# nn layers
# linear1 = torch.nn.Linear(784, ..., bias=True)
# ...
# model = torch.nn.Sequential(...).to(device)
pass
""")
    opt_hint = ("# optimizer = torch.optim.????(model.parameters(), lr=...)   # Adam 말고 다른 것 (not Adam)"
                if task == 3 else "# optimizer = torch.optim.Adam(model.parameters(), lr=learning_rate)")
    nb.code(f"task{task}-optimizer", f"""
# TODO 과제 {task}: cost/loss & optimizer (새 모델의 파라미터로 / for the new model's parameters)
# criterion = torch.nn.CrossEntropyLoss().to(device)
{opt_hint}
pass
""")
    nb.code(f"task{task}-train", f"""
# TODO 과제 {task}: 학습 (train for training_epochs = 15 epochs; print the 'Epoch: ... cost = ...' lines)
pass
""")
    nb.code(f"task{task}-test", f"""
# TODO 과제 {task}: 테스트 정확도 출력 (print('Accuracy:', accuracy.item()))
pass
""")


def task_cells(nb: Nb, prefix: str, model: str, optimizer: str, train: str = TRAIN, test: str = TEST) -> None:
    """One run written out as the lecture does: model, optimizer, training loop, test."""
    nb.code(f"{prefix}-model", model)
    nb.code(f"{prefix}-optimizer", optimizer)
    nb.code(f"{prefix}-train", train)
    nb.code(f"{prefix}-test", test)


STUDENT_INTRO = """
# MNIST 분류 과제 (homework): Pytorch로 딥러닝 · 인공신경망 (DNN) 기초 – 두번째 시간

강의 코드를 실행한 뒤 아래의 과제 1, 2, 3의 `# TODO` 칸을 채우세요. 각 과제마다 **새 모델과 새 옵티마이저**를 만들고
15 epoch 학습합니다. 학습 설정(`learning_rate`, `training_epochs = 15`, `batch_size = 100`, seed 777)은 바꾸지 마세요.

(Run the lecture code, then fill in the `# TODO` cells of tasks 1–3. Each task trains a **fresh model with a fresh
optimizer** for 15 epochs. Keep the lecture's settings.)
"""


# ------------------------------------------------------------------------------------ notebooks
def solution() -> NotebookNode:
    nb = Nb()
    w = [256] * 6
    nb.md("title", """
# 과제 풀이 (instructor's solution): MNIST, hidden layer 6층 / Sigmoid / 다른 옵티마이저

강사용 풀이입니다. 채점기는 이 노트북을 환경변수 `GRADER_SEED`로 여러 seed로 다시 실행해서 기준값(loss 곡선,
정확도)을 만듭니다. 네 번의 학습은 모두 새 모델 + 새 옵티마이저, 15 epoch, batch 100이고, 학생 코드처럼 강의 형식
그대로(모델 칸, 옵티마이저 칸, 학습 칸, 테스트 칸) 씁니다.

(The instructor's solution. The grader re-runs it with several seeds via the environment variable `GRADER_SEED` to
build its reference loss curves and accuracies. Four runs, each a fresh model and optimizer, 15 epochs, batch 100,
written out cell by cell as the lecture does.)

| run | model | optimizer |
|---|---|---|
| (a) 과제 1 | 6 hidden × 256, ReLU | Adam, lr 1e-3 |
| (b) 과제 2 | 6 hidden × 256, Sigmoid | Adam, lr 1e-3 |
| (c) 과제 2 대조 (contrast) | 6 hidden × 256, Sigmoid | SGD, lr 0.1 |
| (d) 과제 3 | 6 hidden × 256, ReLU | SGD, lr 0.1 |
""")
    nb.code("imports", imports_cell(seed="SEED", with_os=True, with_plt=False))
    nb.code("params", PARAMS)
    nb.code("data", DATA)
    nb.code("loader", LOADER)

    nb.md("a-md", """
## (a) 과제 1: hidden layer 6층 × 256, ReLU, Adam (six hidden layers)

hidden layer 6개이므로 `Linear`는 7개입니다 (784 → 256 ×6 → 10). (Six hidden layers = seven Linear layers.)
""")
    task_cells(nb, "a", sequential_model(w, "ReLU", "# (a) 6 hidden layers x 256, ReLU"),
               optimizer_cell(ADAM))
    nb.md("b-md", """
## (b) 과제 2: 같은 모델, Sigmoid, Adam (Sigmoid instead of ReLU, everything else the same)
""")
    task_cells(nb, "b", sequential_model(w, "Sigmoid", "# (b) 6 hidden layers x 256, Sigmoid"),
               optimizer_cell(ADAM))
    nb.md("c-md", """
## (c) 과제 2 대조 실험: Sigmoid + SGD (contrast: the same Sigmoid model with plain SGD, lr 0.1)
""")
    task_cells(nb, "c", sequential_model(w, "Sigmoid", "# (c) 6 hidden layers x 256, Sigmoid"),
               optimizer_cell("optimizer = torch.optim.SGD(model.parameters(), lr=0.1)"))
    nb.md("conclusion-md", """
### 과제 2 결론 (conclusion for task 2)

- **Adam (b)**: Sigmoid 모델도 train loss가 **줄어듭니다**. 다만 처음에는 ln 10 ≈ 2.303 (10개 클래스를 균등하게
  찍는 수준) 근처에서 한동안 머물다가 늦게 내려가기 시작해서, 첫 epoch의 cost가 ReLU(a)보다 훨씬 큽니다.
  (With Adam the Sigmoid network does learn, after a slow start on a plateau near ln 10 ≈ 2.303.)
- **SGD (c)**: 같은 Sigmoid 모델을 plain SGD로 학습하면 cost가 15 epoch 내내 ≈ 2.30에 머물러 줄어들지 않습니다.
  (With plain SGD it stays stuck at ≈ 2.30 for all 15 epochs.)
- 이유는 **그래디언트 소실 (vanishing gradient)** 입니다. Sigmoid의 미분값은 최대 0.25라서 6개의 hidden layer를
  거꾸로 지나며 곱해질수록 아래층(입력 쪽)의 그래디언트가 거의 0이 됩니다 (첫 스텝에서 첫 `Linear`의 그래디언트는
  마지막 `Linear`의 10⁻⁵ 정도). SGD는 이 작은 그래디언트를 그대로 쓰므로 움직이지 못하고, Adam은 파라미터마다
  그래디언트 크기로 나눠 스텝 크기를 맞추므로 결국 학습됩니다.
  (Sigmoid's derivative is at most 0.25, so the gradient shrinks layer by layer on the way back; plain SGD takes
  steps proportional to that tiny gradient, while Adam rescales each parameter's step and gets going.)
- 따라서 "Sigmoid를 쓰면 train loss가 줄지 않는다"는 옵티마이저에 따라 맞기도 틀리기도 합니다.
  (So whether "the loss does not decrease" holds depends on the optimizer.)
""")
    nb.md("d-md", """
## (d) 과제 3: ReLU 6층 × 256, SGD (an optimizer other than Adam: `torch.optim.SGD`, lr 0.1)

SGD는 Adam보다 느리게 출발하므로 learning rate를 0.1로 크게 잡습니다 (plain SGD needs a larger learning rate).
""")
    task_cells(nb, "d", sequential_model(w, "ReLU", "# (d) 6 hidden layers x 256, ReLU"),
               optimizer_cell("optimizer = torch.optim.SGD(model.parameters(), lr=0.1)"))
    return nb.build()


def starter() -> NotebookNode:
    nb = Nb()
    lecture_part(nb, intro=STUDENT_INTRO)
    nb.md("task1-md", TASK1_MD)
    todo_cells(nb, 1, "hidden layer 6층 / six hidden layers")
    nb.md("task2-md", TASK2_MD)
    todo_cells(nb, 2, "Sigmoid 모델 / the Sigmoid model")
    nb.md("task2-conclusion-md", TASK2_CONCLUSION_MD)
    nb.md("task2-conclusion", PLACEHOLDER)
    nb.md("task3-md", TASK3_MD)
    todo_cells(nb, 3, "다른 옵티마이저 / another optimizer")
    return nb.build()


PERFECT_W = [512, 256, 256, 128, 128, 64]
FIVE_W = [512, 256, 128, 64, 32]
ADAM_ONLY_W = [256, 256, 128, 128, 64, 64]


def perfect() -> NotebookNode:
    nb = Nb()
    lecture_part(nb, intro=STUDENT_INTRO)
    nb.md("task1-md", TASK1_MD)
    task_cells(nb, "task1",
               lecture_model(PERFECT_W, "relu", "ReLU", "# 과제 1: hidden layer 6층 (512-256-256-128-128-64)"),
               optimizer_cell(ADAM),
               test=TEST.rstrip("\n") + "\n" + PREDICT_ONE)
    nb.md("task2-md", TASK2_MD)
    task_cells(nb, "task2",
               lecture_model(PERFECT_W, "sigmoid", "Sigmoid",
                             "# 과제 2: 과제 1과 같은 구조, 활성화 함수만 Sigmoid로"),
               optimizer_cell(ADAM))
    nb.md("task2-conclusion-md", TASK2_CONCLUSION_MD)
    nb.md("task2-conclusion", """
Sigmoid로 바꿔도 Adam으로 학습하니 train loss는 결국 줄어들었다. 하지만 ReLU 모델과 달리 처음에는 cost가
2.3 근처(ln 10, 아무렇게나 찍는 수준)에서 한동안 거의 줄지 않아서 첫 epoch의 cost가 훨씬 컸고, 정확도도 더 낮았다.
Sigmoid의 미분값은 최대 0.25라서 6개의 층을 거꾸로 지나며 곱해질수록 아래층의 그래디언트가 아주 작아지는
그래디언트 소실(vanishing gradient) 때문에 학습이 느리게 시작된 것 같고, Adam은 파라미터마다 스텝 크기를 조절해
주기 때문에 그래도 학습이 된 것 같다.
""")
    nb.md("task3-md", TASK3_MD)
    task_cells(nb, "task3",
               lecture_model(PERFECT_W, "relu", "ReLU", "# 과제 3: 과제 1과 같은 ReLU 모델을 새로 만들기"),
               optimizer_cell("optimizer = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)",
                              "# define cost/loss & optimizer: Adam 대신 SGD (momentum 0.9)"))
    return nb.build()


def five_hidden() -> NotebookNode:
    nb = Nb()
    lecture_part(nb, intro=STUDENT_INTRO)
    nb.md("task1-md", TASK1_MD)
    # the classic off-by-one: six Linear layers counted as "six layers" = five hidden layers
    task_cells(nb, "task1",
               lecture_model(FIVE_W, "relu", "ReLU", "# 과제 1: 6층 모델 (linear1 ~ linear6)"),
               optimizer_cell(ADAM))
    nb.md("task2-md", TASK2_MD)
    task_cells(nb, "task2",
               lecture_model(FIVE_W, "sigmoid", "Sigmoid", "# 과제 2: 6층 모델, Sigmoid"),
               optimizer_cell(ADAM))
    nb.md("task2-conclusion-md", TASK2_CONCLUSION_MD)
    nb.md("task2-conclusion", PLACEHOLDER)
    nb.md("task3-md", TASK3_MD)
    task_cells(nb, "task3",
               lecture_model(FIVE_W, "relu", "ReLU", "# 과제 3: 6층 ReLU 모델 + RMSprop"),
               optimizer_cell("optimizer = torch.optim.RMSprop(model.parameters(), lr=learning_rate)"))
    return nb.build()


def adam_only() -> NotebookNode:
    nb = Nb()
    lecture_part(nb, intro=STUDENT_INTRO)
    nb.md("task1-md", TASK1_MD)
    nb.code("task1-model", lecture_model(ADAM_ONLY_W, "relu", "ReLU", "# 과제 1: hidden layer 6층"))
    # a typo in the middle: NameError, later cells still run
    nb.code("task1-print", "# 모델 구조 확인\nprint(modle)")
    nb.code("task1-optimizer", optimizer_cell(ADAM))
    nb.code("task1-train", TRAIN)
    nb.code("task1-test", TEST)
    nb.md("task2-md", TASK2_MD)
    task_cells(nb, "task2",
               lecture_model(ADAM_ONLY_W, "sigmoid", "Sigmoid", "# 과제 2: ReLU -> Sigmoid"),
               optimizer_cell(ADAM))
    nb.md("task2-conclusion-md", TASK2_CONCLUSION_MD)
    nb.md("task2-conclusion", """
Sigmoid를 써도 loss가 안 줄어드는 건 아니었고 Adam으로는 줄어들었다. 그런데 처음 epoch의 cost가 ReLU보다 훨씬 컸고
천천히 줄었다. 시그모이드는 층이 깊어지면 기울기가 점점 작아지는 그래디언트 소실 문제가 있어서 그런 것 같다.
""")
    nb.md("task3-md", TASK3_MD)
    # the mistake: SGD is created under a new name, but the copied loop still calls the old Adam `optimizer`
    task_cells(nb, "task3",
               lecture_model(ADAM_ONLY_W, "relu", "ReLU", "# 과제 3: ReLU 모델 다시 만들기"),
               optimizer_cell("optimizer_sgd = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)",
                              "# define cost/loss & optimizer: 이번에는 SGD"))
    return nb.build()


NOTEBOOKS = {
    "reference/dnn2_mnist/solution.ipynb": solution,
    "assignments/dnn2_mnist/starter.ipynb": starter,
    "assignments/dnn2_mnist/examples/perfect.ipynb": perfect,
    "assignments/dnn2_mnist/examples/five_hidden.ipynb": five_hidden,
    "assignments/dnn2_mnist/examples/adam_only.ipynb": adam_only,
}


# ------------------------------------------------------------------------------------- checking
def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--check", action="store_true",
                    help="only compare with the files on disk; exit 1 on a difference")
    ap.add_argument("--root", type=Path, default=REPO_ROOT, help="repository root (default: this checkout)")
    args = ap.parse_args(argv)

    rendered = {}
    for rel, make in NOTEBOOKS.items():
        nb = make()
        try:
            check_generated_notebook(rel, nb)
        except UsageError as exc:
            raise SystemExit(str(exc)) from None
        rendered[rel] = render_notebook(nb)

    stale = sync_generated(rendered, args.root, args.check)
    if args.check:
        for rel in stale:
            print(f"out of date: {rel}", file=sys.stderr)
        return 1 if stale else 0
    for rel in rendered:
        print(("wrote " if rel in stale else "up to date ") + rel)
    return 0


if __name__ == "__main__":
    sys.exit(main())
