#!/usr/bin/env python3
"""Write the ``dnn2_gd_dataloader`` homework's notebooks and the .py example.

The homework covers sections 5 ("Optimizer: GD") and 6 ("데이터로더 / Dataset, DataLoader") of the lecture
"Pytorch로 딥러닝 · 인공신경망 (DNN) 기초 – 두번째 시간":

1. gradient descent on f(x) = x⁴ by hand (``gradient_descent(x0, lr, steps)``);
2. the slide's ``CustomDataset`` and ``DataLoader(dataset, batch_size=2, shuffle=True)``;
3. the slide's training: ``nn.Linear(3, 1)``, ``SGD(lr=1e-5)``, ``F.mse_loss``, ``range(nb_epochs + 1)``.

Every notebook is written in the slides' code style (the code of lab-04_2_load_data), because real submissions
look like that. Outputs (relative to the repository root)::

    reference/dnn2_gd_dataloader/solution.ipynb             instructor's solution (seed from env GRADER_SEED)
    assignments/dnn2_gd_dataloader/starter.ipynb            statement + TODO cells
    assignments/dnn2_gd_dataloader/classroom/homework.ipynb the starter, for the Classroom template
    assignments/dnn2_gd_dataloader/examples/*.ipynb, right.py  example submissions ([[examples]])

Usage::

    python reference/dnn2_gd_dataloader/make_notebooks.py            # (re)write the files
    python reference/dnn2_gd_dataloader/make_notebooks.py --check    # exit 1 if any file on disk differs

Deterministic: fixed cell ids, no outputs, no execution counts; every code cell is compiled before anything
is written.
"""

# ruff: noqa: E501, T201  (notebook text: Korean characters count double; a script: it prints what it wrote)
from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path

import nbformat
from nbformat import NotebookNode

from grader.errors import UsageError
from grader.scaffold import check_generated_notebook, render_notebook, sync_generated

REPO_ROOT = Path(__file__).resolve().parents[2]
HW = "assignments/dnn2_gd_dataloader"
METADATA = {
    "kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"},
    "language_info": {"name": "python"},
}


class Nb:
    """A notebook under construction, with explicit (deterministic, unique) cell ids."""

    def __init__(self) -> None:
        self.cells: list[NotebookNode] = []

    def md(self, cid: str, text: str) -> Nb:
        self.cells.append(nbformat.v4.new_markdown_cell(text.strip("\n"), id=cid))
        return self

    def code(self, cid: str, text: str) -> Nb:
        self.cells.append(nbformat.v4.new_code_cell(text.strip("\n"), id=cid))
        return self

    def build(self) -> NotebookNode:
        ids = [c.id for c in self.cells]
        if len(ids) != len(set(ids)):
            raise ValueError(f"duplicate cell ids in {ids}")
        nb = nbformat.v4.new_notebook(metadata=METADATA)
        nb.nbformat, nb.nbformat_minor = 4, 5
        nb.cells = self.cells
        return nb


# ------------------------------------------------------------------------------------------ statement
TITLE = """
# 과제: Optimizer (GD) 와 데이터로더 (Dataset, DataLoader)

강의 "Pytorch로 딥러닝 · 인공신경망 (DNN) 기초 – 두번째 시간"의 **5. Optimizer : GD** 와 **6. 데이터로더** 내용입니다.
아래 과제 1–3 의 `# TODO` 칸을 채우세요. 함수와 변수 이름(`gradient_descent`, `CustomDataset`, `dataset`,
`dataloader`, `model`, `optimizer`, `nb_epochs`)은 바꾸지 마세요: 채점기가 이 이름으로 여러분의 코드를 직접 불러 봅니다.

(Sections 5 "Optimizer: GD" and 6 "DataLoader" of the lecture. Fill in the `# TODO` cells of tasks 1–3 and keep the
names: the grader calls your code by these names.)
"""

SETUP = """
import torch
import torch.nn as nn
import torch.nn.functional as F

# for reproducibility
torch.manual_seed(1)
"""

SETUP_SOLUTION = """
import os
import torch
import torch.nn as nn
import torch.nn.functional as F

# 채점기는 여러 seed로 다시 실행합니다 (the grader re-runs this notebook with several seeds)
SEED = int(os.environ.get('GRADER_SEED', '1'))
torch.manual_seed(SEED)
"""

TASK1_MD = r"""
## 과제 1. 경사 하강법 직접 구현하기 (task 1: gradient descent by hand)

$f(x) = x^4$ 의 최솟값을 경사 하강법(GD)으로 찾습니다. 도함수는 $f'(x) = 4x^3$ 이고, 학습률 $\lambda$ 로

$$x_{k+1} = x_k - \lambda f'(x_k)$$

를 반복합니다. `torch.optim` 을 쓰지 말고 함수 `gradient_descent(x0, lr, steps)` 를 완성하세요.
`x0` 에서 시작해 **`steps` 번 업데이트한 값 $x_1, x_2, \dots, x_{steps}$ 를 리스트로** 반환합니다 ($x_0$ 은 넣지 않습니다).
파이썬 float 으로 계산해도 되고, `requires_grad=True` 텐서와 `backward()` 로 기울기를 구한 뒤 `torch.no_grad()` 안에서
직접 업데이트해도 됩니다.

슬라이드의 예: $x_0 = 2.0$, $\lambda = 0.01$ 이면 1.6800, 1.4903, 1.3579, 1.2578, 1.1782, 1.1128, 1.0576, 1.0103, 0.9691.
채점기는 다른 `x0`, `lr`, `steps` 로도 함수를 불러 봅니다: 숫자를 출력만 하거나 슬라이드의 리스트를 그대로 반환하면 점수가 없습니다.

(Complete `gradient_descent(x0, lr, steps)` for $f(x) = x^4$, $f'(x) = 4x^3$, without `torch.optim`: return the list
of the iterates $x_1 \dots x_{steps}$ (not $x_0$). The grader also calls it with other inputs.)
"""

TASK1_TODO = """
# TODO 과제 1: f(x) = x**4 의 경사 하강법 (torch.optim 없이 / without torch.optim)
def gradient_descent(x0, lr, steps):
    \"\"\"x0 에서 시작해 steps 번 업데이트한 x_1, ..., x_steps 를 리스트로 반환합니다.\"\"\"
    xs = []
    # TODO: x = x - lr * f'(x) 를 steps 번 반복하며 xs 에 추가 (f'(x) = 4 * x ** 3)
    return xs


for i, x in enumerate(gradient_descent(2.0, 0.01, 9), start=1):
    print('x_{} = {:.4f}'.format(i, float(x)))
"""

TASK2_MD = """
## 과제 2. Dataset 과 DataLoader (task 2: Dataset and DataLoader)

슬라이드의 표(입력 3개 → 점수 1개)로 `torch.utils.data.Dataset` 을 상속받는 `CustomDataset` 을 만드세요.

- `__len__(self)`: 이 데이터셋의 총 데이터 수 (5개)
- `__getitem__(self, idx)`: idx 번째 입력과 출력을 `torch.FloatTensor` 로 반환 — `x` 의 shape 은 `(3,)`, `y` 는 `(1,)`

그리고 `dataloader = DataLoader(dataset, batch_size=2, shuffle=True)` 를 만드세요. 데이터가 5개이므로 한 epoch 은
3번의 iteration (minibatch 크기 2, 2, 1) 이고, `shuffle=True` 이므로 epoch 마다 순서가 바뀝니다.

(Subclass `Dataset` over the slide's table: `__len__` gives 5, `__getitem__` returns FloatTensors of shapes `(3,)` and
`(1,)`. Then `dataloader = DataLoader(dataset, batch_size=2, shuffle=True)`: 3 iterations per epoch (2, 2, 1), the
order changing every epoch.)
"""

TASK2_DATASET_TODO = """
from torch.utils.data import Dataset
from torch.utils.data import DataLoader


class CustomDataset(Dataset):
    def __init__(self):
        self.x_data = [[73, 80, 75],
                       [93, 88, 93],
                       [89, 91, 90],
                       [96, 98, 100],
                       [73, 66, 70]]
        self.y_data = [[152], [185], [180], [196], [142]]

    # TODO 과제 2: 총 데이터 수를 반환하는 __len__ (the number of samples)

    # TODO 과제 2: idx 번째 (x, y) 를 FloatTensor 로 반환하는 __getitem__ (x: shape (3,), y: shape (1,))


# 모델 데이터 셋 생성
dataset = CustomDataset()

# TODO 과제 2: dataloader = DataLoader(...)   (batch_size = 2, shuffle = True)
"""

TASK2_LOOK_TODO = """
# 확인: 한 epoch 의 minibatch 들 (look at the minibatches of one epoch)
# for batch_idx, samples in enumerate(dataloader):
#     x_train, y_train = samples
#     print(batch_idx + 1, x_train.shape, y_train.shape)
"""

TASK3_MD = """
## 과제 3. DataLoader 로 선형 회귀 학습 (task 3: the slide's training)

슬라이드의 Full code 대로 학습하세요: 모델 `nn.Linear(3, 1)` (또는 그것을 감싼 `nn.Module`),
`optimizer = torch.optim.SGD(model.parameters(), lr=1e-5)`, cost 는 `F.mse_loss`, `nb_epochs = 20` 과
`for epoch in range(nb_epochs + 1)` (즉 21 epoch), 한 epoch 안에서는 과제 2의 `dataloader` 로 minibatch 마다
`optimizer.zero_grad()` → `cost.backward()` → `optimizer.step()`. 매 batch 의 cost 를 출력하세요.

채점기는 실제로 일어난 학습을 기록합니다: 21 epoch × 3 iteration 을 했는지, loss 가 MSE 인지, epoch 별 cost 가 강사 풀이의
범위 안에서 줄어드는지(수만에서 수십 이하로). 입력 값이 크기 때문에(70–100) 학습률이 크면 (예: `lr=1e-3`) cost 가 발산합니다.

(Train as the slide's full code does: `nn.Linear(3, 1)`, `SGD(lr=1e-5)`, `F.mse_loss`, 21 epochs through the task 2
`dataloader`, printing each batch's cost. A larger learning rate such as `1e-3` makes the cost diverge.)
"""

TASK3_TODO = """
# TODO 과제 3: 모델과 옵티마이저 (model: nn.Linear(3, 1), optimizer: SGD, lr = 1e-5)
# model = ...
# optimizer = torch.optim.SGD(model.parameters(), lr = 1e-5)

nb_epochs = 20
# TODO 과제 3: 슬라이드의 학습 루프 (for epoch in range(nb_epochs + 1): for batch_idx, samples in enumerate(dataloader): ...)
#     print('Epoch {:4d}/{} Batch {}/{} Cost: {:.6f}'.format(
#         epoch, nb_epochs, batch_idx + 1, len(dataloader), cost.item()))
"""


# ------------------------------------------------------------------------------------------ answers
def gd_float(derivative: str = "4 * x ** 3", start: str = "xs = []") -> str:
    return f"""
# 과제 1: f(x) = x**4 의 경사 하강법
def f_prime(x):
    return {derivative}


def gradient_descent(x0, lr, steps):
    x = x0
    {start}
    for _ in range(steps):
        x = x - lr * f_prime(x)
        xs.append(x)
    return xs


for i, x in enumerate(gradient_descent(2.0, 0.01, 9), start=1):
    print('x_{{}} = {{:.4f}}'.format(i, float(x)))
"""


GD_HARDCODED = """
# 과제 1: 슬라이드의 값
def gradient_descent(x0, lr, steps):
    return [1.6800, 1.4903, 1.3579, 1.2578, 1.1782, 1.1128, 1.0576, 1.0103, 0.9691]


print('x_1 = 1.6800')
print('x_2 = 1.4903')
print('x_3 = 1.3579')
print('x_4 = 1.2578')
print('x_5 = 1.1782')
print('x_6 = 1.1128')
print('x_7 = 1.0576')
print('x_8 = 1.0103')
print('x_9 = 0.9691')
"""


def dataset_code(length: str = "len(self.x_data)", batch_size: str = "2") -> str:
    return f"""
from torch.utils.data import Dataset
from torch.utils.data import DataLoader


class CustomDataset(Dataset):
    def __init__(self):
        self.x_data = [[73, 80, 75],
                       [93, 88, 93],
                       [89, 91, 90],
                       [96, 98, 100],
                       [73, 66, 70]]
        self.y_data = [[152], [185], [180], [196], [142]]

    # 총 데이터의 개수를 리턴
    def __len__(self):
        return {length}

    # 인덱스를 입력받아 그에 맵핑되는 입출력 데이터를 파이토치의 Tensor 형태로 리턴
    def __getitem__(self, idx):
        x = torch.FloatTensor(self.x_data[idx])
        y = torch.FloatTensor(self.y_data[idx])
        return x, y


# 모델 데이터 셋 생성
dataset = CustomDataset()

dataloader = DataLoader(
    dataset,
    batch_size = {batch_size},
    shuffle = True
)
"""


LOOK = """
# 확인: 한 epoch 의 minibatch 들
print(len(dataset), dataset[0])
for batch_idx, samples in enumerate(dataloader):
    x_train, y_train = samples
    print(batch_idx + 1, x_train.shape, y_train.shape)
"""


def train_code(lr: str = "1e-5") -> str:
    return f"""
class MultivariateLinearRegressionModel(nn.Module):
    def __init__(self):
        super().__init__()
        self.linear = nn.Linear(3, 1)

    def forward(self, x):
        return self.linear(x)


model = MultivariateLinearRegressionModel()
optimizer = torch.optim.SGD(model.parameters(), lr = {lr})

nb_epochs = 20
for epoch in range(nb_epochs + 1):
    for batch_idx, samples in enumerate(dataloader):
        x_train, y_train = samples

        # H(x) 계산
        prediction = model(x_train)

        # cost 계산
        cost = F.mse_loss(prediction, y_train)

        # cost로 H(x) 개선
        optimizer.zero_grad()
        cost.backward()
        optimizer.step()

        print('Epoch {{:4d}}/{{}} Batch {{}}/{{}} Cost: {{:.6f}}'.format(
            epoch, nb_epochs, batch_idx + 1, len(dataloader),
            cost.item()
        ))
"""


def submission(gd: str = gd_float(), data: str = dataset_code(), train: str = train_code(),
               setup: str = SETUP) -> NotebookNode:
    """A filled-in starter: the statement cells with the TODO cells answered."""
    return (Nb().md("title", TITLE).code("setup", setup)
            .md("task1-md", TASK1_MD).code("task1-gd", gd)
            .md("task2-md", TASK2_MD).code("task2-dataset", data).code("task2-look", LOOK)
            .md("task3-md", TASK3_MD).code("task3-train", train).build())


def starter() -> NotebookNode:
    return (Nb().md("title", TITLE).code("setup", SETUP)
            .md("task1-md", TASK1_MD).code("task1-gd", TASK1_TODO)
            .md("task2-md", TASK2_MD).code("task2-dataset", TASK2_DATASET_TODO).code("task2-look", TASK2_LOOK_TODO)
            .md("task3-md", TASK3_MD).code("task3-train", TASK3_TODO).build())


SOLUTION_MD = """
# 과제 풀이 (instructor's solution): Optimizer (GD) 와 데이터로더

강사용 풀이입니다 (슬라이드 5, 6 의 코드). 채점기는 이 노트북을 환경변수 `GRADER_SEED` 로 여러 seed 로 다시 실행해서
과제 3의 기준 loss 곡선(`baselines/baseline-none.json`, 키 `none_sgd`)을 만듭니다.

(The instructor's solution: the slides' code of sections 5 and 6. The grader re-runs it with several seeds via
`GRADER_SEED` to build the reference loss curve of task 3.)
"""


def solution() -> NotebookNode:
    return (Nb().md("title", SOLUTION_MD).code("setup", SETUP_SOLUTION)
            .md("task1-md", "## 과제 1. 경사 하강법 (gradient descent by hand)").code("task1-gd", gd_float())
            .md("task2-md", "## 과제 2. Dataset 과 DataLoader").code("task2-dataset", dataset_code())
            .code("task2-look", LOOK)
            .md("task3-md", "## 과제 3. DataLoader 로 선형 회귀 학습").code("task3-train", train_code()).build())


def right_py() -> str:
    """The right answer as one Python module (the grader runs a .py file as one cell)."""
    parts = ["# 과제: Optimizer (GD) 와 데이터로더 — .py 로 제출 (submitted as a module)", SETUP,
             gd_float(), dataset_code(), LOOK, train_code()]
    return "\n\n".join(p.strip("\n") for p in parts) + "\n"


NOTEBOOKS: dict[str, Callable[[], NotebookNode]] = {
    "reference/dnn2_gd_dataloader/solution.ipynb": solution,
    f"{HW}/starter.ipynb": starter,
    f"{HW}/classroom/homework.ipynb": starter,
    f"{HW}/examples/right.ipynb": submission,
    f"{HW}/examples/wrong_derivative.ipynb": lambda: submission(gd=gd_float("3 * x ** 2")),
    f"{HW}/examples/hardcoded.ipynb": lambda: submission(gd=GD_HARDCODED),
    f"{HW}/examples/len_constant.ipynb": lambda: submission(data=dataset_code(length="3")),
    f"{HW}/examples/batch_size_5.ipynb": lambda: submission(data=dataset_code(batch_size="5")),
    f"{HW}/examples/lr_too_high.ipynb": lambda: submission(train=train_code(lr="1e-3")),
}
MODULES: dict[str, Callable[[], str]] = {f"{HW}/examples/right.py": right_py}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--check", action="store_true", help="only compare with the files on disk; exit 1 on a difference")
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
    for rel, make_py in MODULES.items():
        src = make_py()
        compile(src, rel, "exec")
        rendered[rel] = src
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
