"""Writes the notebooks of the mnist_cnn homework from one set of cells, so that they stay alike.

    .venv/bin/python reference/mnist_cnn/make_notebooks.py [solution] [starter] [examples]

writes ``reference/mnist_cnn/solution.ipynb`` (the instructor's solution: seeds from ``GRADER_SEED``),
``assignments/mnist_cnn/starter.ipynb`` (and the Classroom template's ``homework.ipynb``, the same notebook) and
the example submissions of ``assignments/mnist_cnn/examples/`` whose verdicts ``assignment.toml`` declares.
Every notebook follows the lecture series' "Lab 10-1 MNIST CNN" code (deeplearningzerotoall/PyTorch), cell by
cell, as students write it.
"""

from __future__ import annotations

import sys
from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

ROOT = Path(__file__).resolve().parents[2]
HW = ROOT / "assignments" / "mnist_cnn"

# ---------------------------------------------------------------------------------------------- shared cells
INTRO = """# MNIST CNN 과제 (homework): 합성곱 신경망 (Convolutional Neural Network)

첫 과제(dnn2_mnist)에서는 MNIST 를 hidden layer 6층의 MLP 로 분류했습니다. 이번에는 같은 MNIST 를 **CNN** 으로
분류하고 (과제 1), 같은 CNN 에 **Dropout 또는 BatchNorm** 을 더해 비교하고 (과제 2), CNN 과 MLP 의 **파라미터 수**를
비교합니다 (과제 3). 아래 강의 코드를 실행한 뒤 과제 1, 2, 3의 `# TODO` 칸을 채우세요.

(The first homework classified MNIST with a six-hidden-layer MLP. This one uses a **CNN** (task 1), adds **Dropout
or BatchNorm** to the same CNN and compares the two (task 2), and compares the **parameter counts** of the CNN and
the MLP (task 3). Run the lecture code below, then fill in the `# TODO` cells.)

- 학습 설정(`learning_rate = 0.001`, `training_epochs = 3`, `batch_size = 100`, seed 777)은 바꾸지 마세요. 강의는
  15 epoch 을 학습하지만, 채점은 GPU 없는 컴퓨터에서 하므로 3 epoch 입니다.
  (Keep the settings; the lecture trains 15 epochs, grading runs on a CPU, hence 3.)
- 과제마다 **새 모델과 새 옵티마이저**를 만드세요 (a fresh model and a fresh optimizer for every task)."""

IMPORTS = """# Lab 10-1 MNIST and Convolutional Neural Network
import torch
import torchvision.datasets as dsets
import torchvision.transforms as transforms
import random

device = 'cuda' if torch.cuda.is_available() else 'cpu'

# for reproducibility
random.seed(777)
torch.manual_seed(777)
if device == 'cuda':
    torch.cuda.manual_seed_all(777)"""

SOLUTION_IMPORTS = """# Lab 10-1 MNIST and Convolutional Neural Network
import os
import torch
import torchvision.datasets as dsets
import torchvision.transforms as transforms
import random

# 채점기는 여러 seed로 다시 실행합니다 (the grader re-runs this notebook with several seeds)
SEED = int(os.environ.get('GRADER_SEED', '777'))

device = 'cuda' if torch.cuda.is_available() else 'cpu'

# for reproducibility
random.seed(SEED)
torch.manual_seed(SEED)
if device == 'cuda':
    torch.cuda.manual_seed_all(SEED)"""


def params(epochs: int = 3) -> str:
    return f"""# parameters
learning_rate = 0.001
training_epochs = {epochs}   # 강의는 15; 채점은 CPU 에서 하므로 3 (the lecture trains 15; grading runs on a CPU)
batch_size = 100"""


DATA = """# MNIST dataset
mnist_train = dsets.MNIST(root='MNIST_data/',
                          train=True,
                          transform=transforms.ToTensor(),
                          download=True)

mnist_test = dsets.MNIST(root='MNIST_data/',
                         train=False,
                         transform=transforms.ToTensor(),
                         download=True)"""

LOADER = """# dataset loader
data_loader = torch.utils.data.DataLoader(dataset=mnist_train,
                                          batch_size=batch_size,
                                          shuffle=True,
                                          drop_last=True)"""

LOSS_OPT = """# define cost/loss & optimizer
criterion = torch.nn.CrossEntropyLoss().to(device)    # Softmax is internally computed.
optimizer = torch.optim.Adam(model.parameters(), lr=learning_rate)"""

TRAIN = """# train my model
total_batch = len(data_loader)
print('Total number of batches : {}'.format(total_batch))

model.train()    # Dropout / BatchNorm: 학습 모드 (training mode)
for epoch in range(training_epochs):
    avg_cost = 0

    for X, Y in data_loader:
        # image is already size of (28x28), no reshape
        # label is not one-hot encoded
        X = X.to(device)
        Y = Y.to(device)

        optimizer.zero_grad()
        hypothesis = model(X)
        cost = criterion(hypothesis, Y)
        cost.backward()
        optimizer.step()

        avg_cost += cost / total_batch

    print('[Epoch: {:>4}] cost = {:>.9}'.format(epoch + 1, avg_cost))

print('Learning Finished!')"""


def test(eval_mode: bool = True) -> str:
    first = ("model.eval()    # Dropout 끄기, BatchNorm 은 학습 때 모은 통계 사용 (evaluation mode)\n"
             if eval_mode else "")
    return f"""# Test model and check accuracy
{first}with torch.no_grad():
    X_test = mnist_test.test_data.view(len(mnist_test), 1, 28, 28).float().to(device) / 255.
    Y_test = mnist_test.test_labels.to(device)

    prediction = model(X_test)
    correct_prediction = torch.argmax(prediction, 1) == Y_test
    accuracy = correct_prediction.float().mean()
    print('Accuracy:', accuracy.item())"""


def block(name: str, c_in: int, c_out: int, bn: bool = False, pool: bool = True) -> str:
    """``self.layerN = Sequential(Conv2d, [BatchNorm2d], ReLU, [MaxPool2d])``."""
    parts = [f"torch.nn.Conv2d({c_in}, {c_out}, kernel_size=3, stride=1, padding=1)"]
    if bn:
        parts.append(f"torch.nn.BatchNorm2d({c_out})")
    parts.append("torch.nn.ReLU()")
    if pool:
        parts.append("torch.nn.MaxPool2d(kernel_size=2, stride=2)")
    inner = ",\n            ".join(parts)
    return f"        self.{name} = torch.nn.Sequential(\n            {inner})"


def cnn(cls: str, channels: tuple[int, ...] = (8, 16), bn: bool = False, dropout: float | None = None,
        pool: bool = True, comment: str = "") -> str:
    """The lecture's CNN class with ``channels`` conv blocks and one Linear (7·7·C → 10)."""
    side = 28 // (2 ** len(channels)) if pool else 28
    shapes, size, prev = [], 28, 1
    blocks = []
    for i, c in enumerate(channels, 1):
        after = size // 2 if pool else size
        shapes.append(f"        # L{i} ImgIn shape=(?, {prev}, {size}, {size}) → Conv (?, {c}, {size}, {size})"
                      + (f" → Pool (?, {c}, {after}, {after})" if pool else ""))
        blocks.append(shapes[-1] + "\n" + block(f"layer{i}", prev, c, bn, pool))
        size, prev = after, c
    drop = f"\n        self.dropout = torch.nn.Dropout(p={dropout})" if dropout is not None else ""
    drop_fwd = "\n        out = self.dropout(out)" if dropout is not None else ""
    fwd = "\n".join(f"        out = self.layer{i}({'x' if i == 1 else 'out'})" for i in range(1, len(channels) + 1))
    body = "\n".join(blocks)
    return f"""{comment}class {cls}(torch.nn.Module):

    def __init__(self):
        super({cls}, self).__init__()
{body}{drop}
        # Final FC {side}x{side}x{prev} inputs -> 10 outputs
        self.fc = torch.nn.Linear({side} * {side} * {prev}, 10, bias=True)
        torch.nn.init.xavier_uniform_(self.fc.weight)

    def forward(self, x):
{fwd}
        out = out.view(out.size(0), -1)   # Flatten them for FC{drop_fwd}
        out = self.fc(out)
        return out


# instantiate CNN model
model = {cls}().to(device)
print(model)"""


MLP = """# 강의의 MLP (the lecture's MLP): 2개의 hidden layer × 256, ReLU
linear1 = torch.nn.Linear(784, 256, bias=True)
linear2 = torch.nn.Linear(256, 256, bias=True)
linear3 = torch.nn.Linear(256, 10, bias=True)
relu = torch.nn.ReLU()

model = torch.nn.Sequential(linear1, relu, linear2, relu, linear3).to(device)"""

MLP_DROPOUT = """# 강의의 MLP + Dropout (lab-09_5): 2개의 hidden layer × 256, ReLU, Dropout(p=0.3)
linear1 = torch.nn.Linear(784, 256, bias=True)
linear2 = torch.nn.Linear(256, 256, bias=True)
linear3 = torch.nn.Linear(256, 10, bias=True)
relu = torch.nn.ReLU()
dropout = torch.nn.Dropout(p=0.3)

model = torch.nn.Sequential(linear1, relu, dropout, linear2, relu, dropout, linear3).to(device)"""

MLP_TRAIN = TRAIN.replace("        X = X.to(device)", "        X = X.view(-1, 28 * 28).to(device)").replace(
    "        # image is already size of (28x28), no reshape\n",
    "        # reshape input image into [batch_size by 784]\n")
MLP_TEST = test().replace("view(len(mnist_test), 1, 28, 28)", "view(-1, 28 * 28)")

COUNT = """# 과제 3: 파라미터 수 세기 (count the parameters)
def count_parameters(m):
    return sum(p.numel() for p in m.parameters())

# dnn2_mnist 과제 1의 MLP: hidden layer 6층 × 256 (784 → 256 ×6 → 10)
mlp = torch.nn.Sequential(
    torch.nn.Linear(784, 256), torch.nn.ReLU(),
    torch.nn.Linear(256, 256), torch.nn.ReLU(),
    torch.nn.Linear(256, 256), torch.nn.ReLU(),
    torch.nn.Linear(256, 256), torch.nn.ReLU(),
    torch.nn.Linear(256, 256), torch.nn.ReLU(),
    torch.nn.Linear(256, 256), torch.nn.ReLU(),
    torch.nn.Linear(256, 10))

print('CNN (과제 1):', count_parameters(cnn_model))
print('CNN + Dropout/BatchNorm (과제 2):', count_parameters(model))
print('MLP, hidden layer 6층 (dnn2_mnist):', count_parameters(mlp))"""

ANSWER = """과제 1의 CNN 은 파라미터가 9,098개로, dnn2_mnist 의 hidden layer 6층 MLP (532,490개) 의 2% 도 되지 않는다.
합성곱 필터(3×3)는 이미지의 모든 위치에서 같은 가중치를 공유하고, pooling 이 크기를 줄여 주기 때문에 파라미터가
적다. 파라미터 대부분(7,850개)은 마지막 Linear 층에 있다.
BatchNorm 은 채널마다 2개씩 파라미터를 더할 뿐이고 Dropout 에는 파라미터가 없다."""

# ---------------------------------------------------------------------------------------------- task texts
T1 = """## 과제 1. CNN 만들기 (task 1: a CNN)

강의(Lab 10-1)의 CNN 처럼 **합성곱 층(`Conv2d`) 2개 이상**으로 모델을 만드세요. 각 `Conv2d` 뒤에는 활성화 함수
(`ReLU` 등)와 **pooling**(`MaxPool2d` 등)을 두고, 마지막에 fully connected 층(`Linear`, 출력 10)을 두세요.
(Build a CNN with **at least two `Conv2d` layers**, each followed by an activation and **pooling**, then fully
connected `Linear` layer(s) with 10 outputs.)

- 채널 수는 자유지만 CPU 에서 빨리 끝나도록 작게 하세요 (예: 8, 16) — channels are up to you; keep them small.
- 마지막 `Linear` 뒤에는 활성화 함수를 두지 마세요 (`CrossEntropyLoss` 가 softmax 를 포함합니다).
- `training_epochs` 만큼 학습하고 테스트 정확도를 출력하세요 (train, then print the test accuracy)."""

T2 = """## 과제 2. Dropout 또는 BatchNorm (task 2: Dropout or BatchNorm)

과제 1과 **같은 CNN**(같은 채널 수, kernel 크기, `Linear` 크기)에 `torch.nn.Dropout` 또는 `torch.nn.BatchNorm2d` 를
더해 새로 학습하고, 과제 1의 결과와 비교하세요. (Add `Dropout` or `BatchNorm2d` to **the same CNN** — same channels,
kernel sizes and `Linear` sizes — train it afresh and compare with task 1.)

- 학습 전에 `model.train()`, 테스트 정확도를 재기 전에 **`model.eval()`** 을 호출하세요: Dropout 과 BatchNorm 은 학습
  때와 평가 때 다르게 동작합니다. (Call `model.train()` before training and **`model.eval()`** before measuring the
  test accuracy: Dropout and BatchNorm behave differently in the two modes.)
- 채점기는 정확도를 직접 eval 모드로 다시 잽니다 (the grader measures the accuracy itself, in eval mode)."""

T3 = """## 과제 3. 파라미터 수 비교 (task 3: compare the parameter counts)

과제 1의 CNN, 과제 2의 CNN, 그리고 dnn2_mnist 과제의 hidden layer 6층 MLP 의 파라미터 수를 세어 보고
(`sum(p.numel() for p in model.parameters())`), 아래 칸에 비교한 결과와 그 이유를 2~3문장으로 쓰세요.
(Count the parameters of both CNNs and of dnn2_mnist's six-hidden-layer MLP, and write 2–3 sentences comparing them,
with the reason, in the cell below.)"""

PLACEHOLDER = "(여기에 답을 쓰세요 / write your answer here)"

STARTER_T1 = ["""# TODO 과제 1: CNN 모델 만들기 (Conv2d + ReLU + MaxPool2d) × 2 이상, 그 다음 Linear
# class CNN(torch.nn.Module):
#     def __init__(self):
#         super(CNN, self).__init__()
#         self.layer1 = torch.nn.Sequential(
#             torch.nn.Conv2d(1, 8, kernel_size=3, stride=1, padding=1),
#             ...)
#         ...
#         self.fc = torch.nn.Linear(..., 10, bias=True)
#
#     def forward(self, x):
#         ...
#
# model = CNN().to(device)
pass""", """# TODO 과제 1: cost/loss & optimizer (새 모델의 파라미터로 / for the new model's parameters)
# criterion = torch.nn.CrossEntropyLoss().to(device)
# optimizer = torch.optim.Adam(model.parameters(), lr=learning_rate)
pass""", """# TODO 과제 1: 학습 (train for training_epochs; print the '[Epoch: ...] cost = ...' lines)
pass""", """# TODO 과제 1: 테스트 정확도 출력 (model.eval(); print('Accuracy:', accuracy.item()))
# 그리고 과제 3에서 쓰도록 과제 1의 모델을 다른 이름으로 남겨 두세요 (keep task 1's model for task 3):
# cnn_model = model
pass"""]

STARTER_T2 = ["""# TODO 과제 2: 과제 1과 같은 CNN + Dropout 또는 BatchNorm2d
# class CNN_BN(torch.nn.Module):
#     ...
# model = CNN_BN().to(device)
pass""", """# TODO 과제 2: cost/loss & optimizer (새 모델의 파라미터로 / for the new model's parameters)
pass""", """# TODO 과제 2: 학습 (model.train() 후 학습 / call model.train(), then train)
pass""", """# TODO 과제 2: 테스트 정확도 출력 (model.eval() 후 측정 / call model.eval() first)
pass"""]

STARTER_T3 = ["""# TODO 과제 3: 파라미터 수 세기 (count the parameters of cnn_model, model and the six-hidden-layer MLP)
# def count_parameters(m):
#     return sum(p.numel() for p in m.parameters())
pass"""]

KEEP = ("# 과제 3에서 쓰기 위해 과제 1의 모델을 다른 이름으로 남겨 두세요 (keep task 1's model for task 3)\n"
        "cnn_model = model")


def md(s: str) -> nbformat.NotebookNode:
    return new_markdown_cell(s)


def code(s: str) -> nbformat.NotebookNode:
    return new_code_cell(s)


def head(imports: str = IMPORTS, epochs: int = 3) -> list[nbformat.NotebookNode]:
    return [md(INTRO), md("## 강의 코드 (lecture code): 데이터 (data)"), code(imports), code(params(epochs)),
            code(DATA), code(LOADER)]


def task1(model: str = "", train: str = TRAIN, test_cell: str = "") -> list[nbformat.NotebookNode]:
    return [md(T1), code(model or cnn("CNN", comment="# 과제 1: CNN (Conv 1→8, Conv 8→16, 3×3, ReLU, MaxPool 2)\n")),
            code(LOSS_OPT), code(train), code(test_cell or test()), code(KEEP)]


def task2(model: str = "", train: str = TRAIN, test_cell: str = "") -> list[nbformat.NotebookNode]:
    default = cnn("CNN_BN", bn=True, dropout=0.25,
                  comment="# 과제 2: 과제 1과 같은 CNN + BatchNorm2d (각 Conv 뒤) + Dropout(p=0.25) (Linear 앞)\n")
    return [md(T2), code(model or default), code(LOSS_OPT), code(train), code(test_cell or test())]


def task3(answer: str = ANSWER) -> list[nbformat.NotebookNode]:
    return [md(T3), code(COUNT), md("### 과제 3 답 (answer for task 3)"), md(answer)]


def notebook(cells: list[nbformat.NotebookNode]) -> nbformat.NotebookNode:
    for i, cell in enumerate(cells):
        cell.id = f"cell-{i:02d}"  # stable ids: regenerating changes nothing that did not change
    nb = new_notebook(cells=cells)
    nb.metadata = {"kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"},
                   "language_info": {"name": "python"}}
    return nb


def write(path: Path, cells: list[nbformat.NotebookNode]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(notebook(cells), str(path))
    print(path.relative_to(ROOT))  # noqa: T201


def solution() -> list[nbformat.NotebookNode]:
    intro = """# 과제 풀이 (instructor's solution): MNIST CNN / Dropout·BatchNorm / 파라미터 수

강사용 풀이입니다. 채점기는 이 노트북을 환경변수 `GRADER_SEED`로 여러 seed로 다시 실행해서 기준값(loss 곡선,
정확도)을 만듭니다 (`reference/mnist_cnn/make_baselines.py`). 두 번의 학습은 모두 새 모델 + 새 옵티마이저
(Adam, lr 0.001), 3 epoch, batch 100 입니다.

| run | model | optimizer |
|---|---|---|
| (a) 과제 1 | Conv 1→8 · ReLU · MaxPool 2 → Conv 8→16 · ReLU · MaxPool 2 → Linear 784→10 | Adam, lr 1e-3 |
| (b) 과제 2 | (a) + BatchNorm2d after each Conv + Dropout(p=0.25) before the Linear | Adam, lr 1e-3 |"""
    cells = head(SOLUTION_IMPORTS)
    cells[0] = md(intro)
    return cells + task1() + task2() + task3()


def starter() -> list[nbformat.NotebookNode]:
    return head() + [md(T1), *map(code, STARTER_T1), md(T2), *map(code, STARTER_T2), md(T3),
                     *map(code, STARTER_T3), md("### 과제 3 답 (answer for task 3)"), md(PLACEHOLDER)]


def examples() -> dict[str, list[nbformat.NotebookNode]]:
    """The example submissions, with the starter's settings (3 epochs, like the solution behind the bands)."""
    one = "# 과제 1: Conv 층 하나 (one conv layer)\n"
    no_pool = "# 과제 1: pooling 없이 Conv 2개 (two convs, no pooling)\n"
    return {
        "right": head() + task1() + task2() + task3(),
        "one_conv": head() + task1(cnn("CNN", channels=(8,), comment=one)) + task2(
            cnn("CNN_BN", channels=(8,), bn=True, comment="# 과제 2: Conv 하나 + BatchNorm2d\n")) + task3(),
        "no_pooling": head() + task1(cnn("CNN", pool=False, comment=no_pool)) + task2(
            cnn("CNN_BN", pool=False, bn=True, comment="# 과제 2: pooling 없는 CNN + BatchNorm2d\n")) + task3(),
        "same_model": head() + task1() + task2(
            cnn("CNN2", comment="# 과제 2: 과제 1과 같은 CNN (Dropout / BatchNorm 없음)\n")) + task3(),
        "no_eval": head() + task1() + task2(train=TRAIN.replace("model.train()    # Dropout / BatchNorm: "
                                                                        "학습 모드 (training mode)\n", ""),
                                                    test_cell=test(eval_mode=False)) + task3(),
        "mlp": head() + task1(MLP, MLP_TRAIN, MLP_TEST) + task2(MLP_DROPOUT, MLP_TRAIN, MLP_TEST) + task3(
            "CNN 이 아니라 강의의 MLP 를 그대로 썼다. MLP 의 파라미터는 269,322개이다."),
    }


def main(parts: list[str]) -> None:
    """Write the named parts (``solution``, ``starter``, ``examples``; default all). Rewriting the solution changes
    its sha256, which the baselines record: rebuild them after changing it."""
    if "solution" in parts:
        write(ROOT / "reference" / "mnist_cnn" / "solution.ipynb", solution())
    if "starter" in parts:
        write(HW / "starter.ipynb", starter())
        write(HW / "classroom" / "homework.ipynb", starter())
    if "examples" in parts:
        for name, cells in examples().items():
            write(HW / "examples" / f"{name}.ipynb", cells)


if __name__ == "__main__":
    main(sys.argv[1:] or ["solution", "starter", "examples"])
