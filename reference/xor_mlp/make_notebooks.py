#!/usr/bin/env python3
"""Write the ``xor_mlp`` homework's notebooks and the .py example.

The homework is the lecture series' lab-08 (XOR with a multi-layer perceptron):

1. a model with a hidden layer and one sigmoid output, trained full-batch with ``BCELoss`` and SGD on XOR's four
   points until the grader measures 100 %;
2. a single-layer perceptron (``Linear(2, 1)`` + sigmoid) trained the same way (the grader measures ≤ 75 %),
   and a written explanation of why;
3. ``predict(x)``: 0/1 predictions of the task 1 model for a float tensor ``(N, 2)``.

Outputs (relative to the repository root)::

    reference/xor_mlp/solution.ipynb             instructor's solution
    assignments/xor_mlp/starter.ipynb            statement + TODO cells
    assignments/xor_mlp/classroom/homework.ipynb the starter, for the Classroom template
    assignments/xor_mlp/examples/*.ipynb, right.py  example submissions ([[examples]])

Usage::

    python reference/xor_mlp/make_notebooks.py            # (re)write the files
    python reference/xor_mlp/make_notebooks.py --check    # exit 1 if any file on disk differs
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
HW = "assignments/xor_mlp"
METADATA = {
    "kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"},
    "language_info": {"name": "python"},
}

TITLE = """
# 과제: XOR 문제와 다층 퍼셉트론 (lab-08)

단층 퍼셉트론은 XOR 을 풀 수 없지만, 은닉층이 하나 있는 다층 퍼셉트론(MLP)은 풀 수 있습니다. 아래 과제 1–3 의 `# TODO` 칸을
채우세요. 데이터 `X`, `Y` 와 함수 이름 `predict` 는 바꾸지 마세요: 채점기가 이 이름으로 여러분의 코드를 불러 봅니다.

(A single-layer perceptron cannot solve XOR; an MLP with one hidden layer can. Fill in the `# TODO` cells of tasks
1–3; keep `X`, `Y` and the name `predict`.)
"""

SETUP = """
import torch

torch.manual_seed(777)

X = torch.FloatTensor([[0, 0], [0, 1], [1, 0], [1, 1]])
Y = torch.FloatTensor([[0], [1], [1], [0]])
"""

TASK1_MD = """
## 과제 1. XOR 을 푸는 다층 퍼셉트론 (task 1: an MLP that solves XOR)

은닉층이 하나 이상 있고 출력이 sigmoid 하나인 모델을 만들어, 네 점 전체(full batch)로 `torch.nn.BCELoss` 와
`torch.optim.SGD` 로 학습하세요. 채점기는 학습된 모델을 직접 다시 만들어 네 점에서 정확도를 잽니다: **100 %** 여야 하고,
loss 가 줄어야 합니다. (강의 코드: `Linear(2, 2)` → `Sigmoid` → `Linear(2, 1)` → `Sigmoid`, `lr=1`, 10001 step.)

(A model with at least one hidden layer and one sigmoid output, trained full-batch with `BCELoss` and SGD. The
grader rebuilds it and measures it on the four points: 100 % is needed, and the loss must fall.)
"""

TASK1_TODO = """
# TODO 과제 1: 모델, criterion (BCELoss), optimizer (SGD) 를 만들고 X, Y 전체로 학습하세요
model = None

# for step in range(...):
#     optimizer.zero_grad()
#     hypothesis = model(X)
#     cost = criterion(hypothesis, Y)
#     cost.backward()
#     optimizer.step()
"""

TASK2_MD = """
## 과제 2. 단층 퍼셉트론으로는 안 되는 이유 (task 2: why a single layer cannot)

은닉층 없이 `Linear(2, 1)` + `Sigmoid` 만으로 된 단층 퍼셉트론을 과제 1 과 같은 방법으로 학습하세요. 채점기가 잰 정확도는
75 % 를 넘을 수 없습니다. 그 이유를 아래 마크다운 셀에 쓰세요 (자기 실행의 loss 와 정확도를 근거로).

(Train `Linear(2, 1)` + `Sigmoid` the same way; the grader measures at most 75 %. Explain why in the markdown cell
below, with your run's numbers.)
"""

TASK2_TODO = """
# TODO 과제 2: 단층 퍼셉트론 slp 를 만들고 과제 1 과 같은 방법으로 학습하세요
slp = None
"""

TASK2_ANSWER = """
**답 (answer):** 여기에 쓰세요.
"""

TASK3_MD = """
## 과제 3. predict(x) (task 3)

`predict(x)` 는 0/1 쌍이 담긴 float 텐서 `x` (shape `(N, 2)`) 를 받아, 과제 1 모델의 예측 N 개(0 또는 1)를 텐서나 정수
리스트로 반환합니다. 확률이 아니라 0/1 입니다. 채점기는 여러 크기와 순서의 입력으로 불러 봅니다.

(`predict(x)` takes a float tensor `(N, 2)` of 0/1 pairs and returns N predictions 0/1 of the task 1 model, a tensor
or a list of ints — not probabilities. The grader calls it on inputs of several sizes and orders.)
"""

TASK3_TODO = """
# TODO 과제 3
def predict(x):
    pass
"""

SEQUENTIAL = """
model = torch.nn.Sequential(
    torch.nn.Linear(2, {hidden}), torch.nn.Sigmoid(),
    torch.nn.Linear({hidden}, 1), torch.nn.Sigmoid())
"""

NO_HIDDEN = """
model = torch.nn.Sequential(torch.nn.Linear(2, 1), torch.nn.Sigmoid())
"""

MODULE = """
class XorNet(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.hidden = torch.nn.Linear(2, 8)
        self.out = torch.nn.Linear(8, 1)

    def forward(self, x):
        h = torch.sigmoid(self.hidden(x))
        return torch.sigmoid(self.out(h))


model = XorNet()
"""

TRAIN = """
criterion = torch.nn.BCELoss()
optimizer = torch.optim.SGD({params}.parameters(), lr={lr})

for step in range({steps}):
    optimizer.zero_grad()
    hypothesis = {params}(X)
    cost = criterion(hypothesis, Y)
    cost.backward()
    optimizer.step()
    if step % 500 == 0:
        print(step, cost.item())

with torch.no_grad():
    predicted = ({params}(X) > 0.5).float()
    print('Accuracy:', (predicted == Y).float().mean().item())
"""

SLP = """
slp = torch.nn.Sequential(torch.nn.Linear(2, 1), torch.nn.Sigmoid())
""" + TRAIN.format(params="slp", lr="1", steps="1001")

ANSWER = """
**답 (answer):** 단층 퍼셉트론은 입력 공간에 직선 하나(선형 결정 경계)만 그을 수 있습니다. XOR 의 (0,1), (1,0) 과 (0,0),
(1,1) 은 직선 하나로 나눌 수 없어서 loss 가 ln 2 ≈ 0.69 근처에 머물고 정확도는 50–75 % 를 넘지 못했습니다.
"""

PREDICT = """
def predict(x):
    with torch.no_grad():
        return (model(x) > 0.5).long().view(-1)
"""

PREDICT_PROBS = """
def predict(x):
    with torch.no_grad():
        return model(x).view(-1)
"""


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
        nb = nbformat.v4.new_notebook(metadata=METADATA)
        nb.nbformat, nb.nbformat_minor = 4, 5
        nb.cells = self.cells
        return nb


def model_train(model: str = SEQUENTIAL.format(hidden=10), lr: str = "1", steps: str = "2001") -> str:
    return model.strip("\n") + "\n\n" + TRAIN.format(params="model", lr=lr, steps=steps).strip("\n")


def submission(task1: str = model_train(), predict: str = PREDICT, answer: str = ANSWER,
               task2: str = SLP) -> NotebookNode:
    """A complete submission in the starter's layout."""
    return (Nb().md("title", TITLE).code("setup", SETUP).md("t1-md", TASK1_MD).code("t1-code", task1)
            .md("t2-md", TASK2_MD).code("t2-code", task2).md("t2-answer", answer)
            .md("t3-md", TASK3_MD).code("t3-code", predict).build())


def starter() -> NotebookNode:
    return (Nb().md("title", TITLE).code("setup", SETUP).md("t1-md", TASK1_MD).code("t1-code", TASK1_TODO)
            .md("t2-md", TASK2_MD).code("t2-code", TASK2_TODO).md("t2-answer", TASK2_ANSWER)
            .md("t3-md", TASK3_MD).code("t3-code", TASK3_TODO).build())


def right_py() -> str:
    """The right answer as one Python module (the grader runs a .py file as one cell)."""
    answer = "\n".join("# " + line for line in ANSWER.strip("\n").splitlines())
    parts = ["# 과제: XOR 문제와 다층 퍼셉트론 — .py 로 제출 (submitted as a module)", SETUP, model_train(), SLP,
             answer, PREDICT]
    return "\n\n".join(p.strip("\n") for p in parts) + "\n"


NOTEBOOKS: dict[str, Callable[[], NotebookNode]] = {
    "reference/xor_mlp/solution.ipynb": submission,
    f"{HW}/starter.ipynb": starter,
    f"{HW}/classroom/homework.ipynb": starter,
    f"{HW}/examples/right_sequential.ipynb": submission,
    f"{HW}/examples/right_module.ipynb": lambda: submission(task1=model_train(MODULE)),
    f"{HW}/examples/no_hidden_layer.ipynb": lambda: submission(task1=model_train(NO_HIDDEN)),
    f"{HW}/examples/predict_probabilities.ipynb": lambda: submission(predict=PREDICT_PROBS),
    f"{HW}/examples/lr_too_small.ipynb": lambda: submission(task1=model_train(lr="0.001")),
    f"{HW}/examples/no_answer.ipynb": lambda: submission(answer=TASK2_ANSWER),
    f"{HW}/examples/task2_left_empty.ipynb": lambda: submission(task1=model_train(NO_HIDDEN), task2=TASK2_TODO,
                                                                answer=TASK2_ANSWER),
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
