"""``grader new ID``: a new homework's folders, ready to edit and already valid.

Writes ``assignments/<id>/`` (a commented assignment.toml using built-in checks, a checks.py with one example
check, a starter notebook, a README, the starter declared as an example that earns nothing) and
``reference/<id>/solution.ipynb`` (a small MNIST MLP that earns every automatic point), so that
``grader validate <id>`` passes before the instructor changes anything.

Also the pieces the reference notebook generators (``reference/<id>/make_notebooks.py``) share: checking a
generated notebook, rendering it as committed, and writing only what changed (``--check`` writes nothing).
"""

from __future__ import annotations

import re
from pathlib import Path

import nbformat

from grader.errors import UsageError

_ID = re.compile(r"^[a-z][a-z0-9_]{1,40}$")

TOML = '''\
# {id}: {title}
# Everything about this homework lives in this folder; docs/authoring.md explains every table.
schema_version = 2
id = "{id}"
version = "0.1.0"
title = {{ en = "{title}", ko = "{title}" }}
default_lang = "ko"
seed = 0
solution = "reference/{id}/solution.ipynb"   # the instructor's solution: never shipped
checks_modules = ["checks.py"]              # your own checks (grader.api); the built-in ones need no Python

{data}
[[tasks]]
id = "t1"
title = {{ en = "Task 1 · Train a model", ko = "과제 1 · 모델 학습" }}
heading = '과제\\s*1(?!\\d)|task\\s*1(?!\\d)'   # the markdown heading that starts the task's cells

# "the run task 1 is about": the first recorded run meeting every predicate (docs/authoring.md lists them)
{runs}
[[checks]]
id = "t1.trained"
task = "t1"
points = 10
check = "run_trained"
run = "model"
{hint}

[[checks]]
id = "t1.loss"
task = "t1"
points = 10
check = "loss_decreased"
run = "model"
max_last_over_first = 0.9

[[checks]]
id = "t1.batches"
task = "t1"
points = 5
check = "minibatches"       # defined in checks.py
run = "model"
min_batch = 2

[[checks]]
id = "t1.answer"
task = "t1"
points = 5
manual = true
check = "written_answer"
min_chars = 20

# the examples and the verdicts they must get (`grader validate {id}` grades them)
[[examples]]
file = "starter.ipynb"
score = 0
fail = ["t1.trained", "t1.loss", "t1.batches"]
pending = ["t1.answer"]
'''

CHECKS = '''\
"""{id}'s own checks, written with the grader's public API only (docs/authoring.md)."""

from dataclasses import dataclass

from grader.api import CheckContext, Outcome, check, select, text


@dataclass(frozen=True)
class Batches:
    run: str          # a [runs.<name>] selector
    min_batch: int = 2


@check("minibatches", params=Batches)
def minibatches(ctx: CheckContext, p: Batches) -> Outcome:
    """The selected run trained on mini-batches of at least ``min_batch`` samples."""
    er, why = select(ctx, p.run)
    if er is None:
        return Outcome(False, why)
    batch = er.run.batch or 0
    if batch >= p.min_batch:
        return Outcome(True, text(f"{{er.label}}: batches of {{batch}}", f"{{er.label}}: batch 크기 {{batch}}"),
                       evidence={{"run": er.run.index}})
    return Outcome(False, text(f"{{er.label}}: batches of {{batch}}, fewer than {{p.min_batch}}",
                               f"{{er.label}}: batch 크기 {{batch}} 가 {{p.min_batch}} 보다 작습니다"),
                   evidence={{"run": er.run.index}})
'''

README = '''\
# {id}: {title}

과제 설명을 여기에 쓰세요. (Write the homework statement here.)

- 과제 1: 모델을 학습하고, 관찰한 것을 마크다운 셀에 쓰세요.

Grading: `grader check homework.ipynb --assignment {id}`.
'''

_DATA = """\
import torch
import torchvision.datasets as dsets
import torchvision.transforms as transforms

torch.manual_seed(0)
mnist_train = dsets.MNIST(root='MNIST_data/', train=True, transform=transforms.ToTensor(), download=True)
data_loader = torch.utils.data.DataLoader(mnist_train, batch_size=100, shuffle=True, drop_last=True)"""

_TRAIN = """\
model = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(784, 64), torch.nn.ReLU(), torch.nn.Linear(64, 10))
optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
criterion = torch.nn.CrossEntropyLoss()
for epoch in range(2):
    avg_cost = 0
    for X, Y in data_loader:
        optimizer.zero_grad()
        cost = criterion(model(X), Y)
        cost.backward()
        optimizer.step()
        avg_cost += cost / len(data_loader)
    print('Epoch:', '%04d' % (epoch + 1), 'cost =', '{:.9f}'.format(avg_cost))"""


_MNIST = {
    "data": '''[data]
provider = "mnist"    # mnist (modes subset, full) | none (the notebook makes its own data) | FILE.py:NAME
default = "subset"

[budgets.subset]
cell_timeout_s = 180
submission_timeout_s = 600

[budgets.full]
cell_timeout_s = 1800
submission_timeout_s = 5400
''',
    "runs": "[runs.model]\nout_features = 10\nmin_epochs = 2\n",
    "hint": 'hint = { en = "Train a model with 10 outputs for 2 epochs.", '
            'ko = "출력 10개 모델을 2 epoch 이상 학습하세요." }',
}

_OWN_DATA = {
    "data": '''[data]
provider = "{provider}"    # mnist (modes subset, full) | none (the notebook makes its own data) | FILE.py:NAME
{evaluation}
{budgets}''',
    "runs": ("[runs.model]\nout_features = 1\nloss = \"mse\"\n"
             "min_steps = 50     # a full-batch loop has steps, not epochs\n"),
    "hint": 'hint = { en = "Train a model with one output on the MSE loss for at least 50 steps.", '
            'ko = "출력 1개 모델을 MSE loss 로 50 step 이상 학습하세요." }',
}

_EVALUATION = '''# rows the grader measures every trained model on, in its own process (MSE, MAE, R² for a regression);
# the notebook never sees them
[data.evaluation]
inputs = [[0.1, 0.2, 0.3], [0.9, 0.5, 0.1], [0.4, 0.4, 0.8]]
targets = [[1.9], [2.7], [4.1]]
'''

_OWN_DATA_CODE = """\
import torch

torch.manual_seed(0)
x_train = torch.rand(64, 3)
y_train = x_train @ torch.tensor([[1.0], [2.0], [3.0]]) + 0.5"""

_OWN_TRAIN = """\
model = torch.nn.Linear(3, 1)
optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
for step in range(300):
    cost = torch.nn.functional.mse_loss(model(x_train), y_train)
    optimizer.zero_grad()
    cost.backward()
    optimizer.step()
    if step % 100 == 0:
        print(step, cost.item())"""


def _budgets(modes: tuple[str, ...]) -> str:
    return "".join(f"\n[budgets.{m}]\ncell_timeout_s = 60\nsubmission_timeout_s = 180\n" for m in modes)


def _notebook(cells: list[tuple[str, str]]) -> nbformat.NotebookNode:
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_markdown_cell(src) if kind == "md" else nbformat.v4.new_code_cell(src)
                for kind, src in cells]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    return nb


def _starter(title: str, mnist: bool = True) -> nbformat.NotebookNode:
    if not mnist:
        return _notebook([("md", f"# {title}"), ("code", _OWN_DATA_CODE), ("md", "## 과제 1. 모델 학습"),
                          ("code", "# TODO: 출력 1개 모델을 만들고 MSE loss 로 50 step 이상 학습하세요"),
                          ("md", "여기에 관찰한 것을 쓰세요.")])
    return _notebook([("md", f"# {title}"), ("code", _DATA), ("md", "## 과제 1. MNIST 모델 학습"),
                      ("code", "# TODO: 모델을 만들고 2 epoch 이상 학습하세요"),
                      ("md", "여기에 관찰한 것을 쓰세요.")])


def _solution(title: str, mnist: bool = True) -> nbformat.NotebookNode:
    if not mnist:
        return _notebook([("md", f"# {title} (solution)"), ("code", _OWN_DATA_CODE), ("md", "## 과제 1. 모델 학습"),
                          ("code", _OWN_TRAIN),
                          ("md", "300 step 동안 cost 가 처음의 1/10 아래로 줄었습니다: 모델이 학습하고 있습니다.")])
    return _notebook([("md", f"# {title} (solution)"), ("code", _DATA), ("md", "## 과제 1. MNIST 모델 학습"),
                      ("code", _TRAIN),
                      ("md", "두 번째 epoch 에서 cost 가 첫 번째보다 확실히 줄었습니다: 모델이 학습하고 있습니다.")])


def _data_parts(provider: str, folder: Path) -> dict[str, str]:
    """The toml's data block, selector and hint for ``provider``: ``mnist``, ``none`` or ``FILE.py:NAME`` (the file
    copied into the new folder, its modes read from it)."""
    if provider == "mnist":
        return _MNIST
    modes: tuple[str, ...] = ("none",)
    if provider != "none":
        file, _, name = provider.partition(":")
        src = Path(file)
        if not name or not src.is_file() or src.suffix != ".py":
            raise UsageError(f"--provider {provider!r}: use none, mnist or FILE.py:NAME with an existing FILE.py")
        (folder / src.name).write_text(src.read_text(encoding="utf-8"), encoding="utf-8")
        provider = f"{src.name}:{name}"
        from grader.data.provider import get_provider

        modes = tuple(get_provider(provider, folder).modes)
    data = _OWN_DATA["data"].format(provider=provider, evaluation=_EVALUATION, budgets=_budgets(modes))
    return {**_OWN_DATA, "data": data}


def register_in_course(assignment_id: str, root: Path) -> Path:
    """Add the id to ``assignments = [...]`` of ``root/course.toml`` (written, with the id as the default, when
    there is none); returns the file."""
    path = root / "course.toml"
    if not path.is_file():
        path.write_text(f'[course]\ntitle = "{assignment_id}"\ndefault_assignment = "{assignment_id}"\n'
                        f'assignments = ["{assignment_id}"]\n', encoding="utf-8")
        return path
    body = path.read_text(encoding="utf-8")
    found = re.search(r"^(assignments\s*=\s*\[)([^\]]*)\]", body, re.M)
    if found is None:
        body = body.replace("[course]\n", f'[course]\nassignments = ["{assignment_id}"]\n', 1)
    elif f'"{assignment_id}"' not in found.group(2):
        items = found.group(2).rstrip().rstrip(",")
        sep = ", " if items.strip() else ""
        body = body[:found.start()] + f'{found.group(1)}{items}{sep}"{assignment_id}"]' + body[found.end():]
    path.write_text(body, encoding="utf-8")
    return path


def new_assignment(assignment_id: str, root: Path, title: str | None = None, provider: str = "mnist") -> list[Path]:
    """Create ``root/assignments/<id>/`` and ``root/reference/<id>/solution.ipynb`` for data ``provider``
    (``mnist``, ``none`` or ``FILE.py:NAME``) and register the id in ``root/course.toml``; return the files
    written. UsageError for a malformed id, a folder that already exists or an unknown provider."""
    if not _ID.match(assignment_id):
        raise UsageError(f"assignment id {assignment_id!r}: use lower-case letters, digits and _ (2-41 characters, "
                         "starting with a letter)")
    folder, ref = root / "assignments" / assignment_id, root / "reference" / assignment_id
    for d in (folder, ref):
        if d.exists():
            raise UsageError(f"{d} already exists: choose another id or remove it")
    title = title or assignment_id
    if '"' in title or "\\" in title:
        raise UsageError("the title may not contain quotes or backslashes (edit assignment.toml afterwards)")
    folder.mkdir(parents=True)
    ref.mkdir(parents=True)
    parts = _data_parts(provider, folder)
    files = {folder / "assignment.toml": TOML.format(id=assignment_id, title=title, **parts),
             folder / "checks.py": CHECKS.format(id=assignment_id), folder / "README.md": README.format(
                 id=assignment_id, title=title)}
    for path, body in files.items():
        path.write_text(body, encoding="utf-8")
    mnist = provider == "mnist"
    nbformat.write(_starter(title, mnist), folder / "starter.ipynb")
    nbformat.write(_solution(title, mnist), ref / "solution.ipynb")
    course = register_in_course(assignment_id, root)
    return [*files, folder / "starter.ipynb", ref / "solution.ipynb", course]


def check_generated_notebook(name: str, nb: nbformat.NotebookNode) -> None:
    """nbformat validation, no stored outputs, and every code cell compiles (``%``/``!`` lines skipped);
    UsageError naming the notebook and the cell otherwise."""
    nbformat.validate(nb)
    for i, cell in enumerate(nb.cells):
        if cell.cell_type != "code":
            continue
        if cell.outputs or cell.execution_count is not None:
            raise UsageError(f"{name}: cell {i} has outputs")
        src = "\n".join(line for line in cell.source.splitlines() if not line.lstrip().startswith(("%", "!")))
        try:
            compile(src, f"{name}:cell{i}", "exec")
        except SyntaxError as exc:
            raise UsageError(f"{name}: cell {i} ({cell.id}) does not compile: {exc}") from exc


def render_notebook(nb: nbformat.NotebookNode) -> str:
    """A notebook as committed: nbformat 4 JSON ending in a newline."""
    text = nbformat.writes(nb, version=4)
    return text if text.endswith("\n") else text + "\n"


def sync_generated(rendered: dict[str, str], root: Path, check: bool) -> list[str]:
    """The paths (relative to ``root``) whose file differs from ``rendered``; unless ``check``, write them."""
    stale = []
    for rel, text in rendered.items():
        path = root / rel
        if path.is_file() and path.read_text(encoding="utf-8") == text:
            continue
        stale.append(rel)
        if not check:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
    return stale
