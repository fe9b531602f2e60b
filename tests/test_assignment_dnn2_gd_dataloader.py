"""dnn2_gd_dataloader beyond its shipped examples (tests/test_examples.py grades those): the hidden inputs catch
a function that returns the slide's list whatever it is given, a tensor-based gradient descent is right, a
Dataset with int64 items or wrong shapes fails naming the dtype or the shape, and every task 1 hint fires for its
mistake. Three small .py submissions are graded at once (about 15 s); the hints are tested without a kernel."""

from __future__ import annotations

import json
import textwrap
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from grader.assignment import load_assignment
from grader.checks.plugins import load_module
from grader.pipeline import GradeOptions, grade_file, resolve_mode

KERNEL_ENV = {"OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
ASSIGNMENT = load_assignment("dnn2_gd_dataloader")

TABLE = """
class CustomDataset(Dataset):
    def __init__(self):
        self.x_data = [[73, 80, 75], [93, 88, 93], [89, 91, 90], [96, 98, 100], [73, 66, 70]]
        self.y_data = [[152], [185], [180], [196], [142]]

    def __len__(self):
        return len(self.x_data)

    def __getitem__(self, idx):
        return {item}


dataset = CustomDataset()
dataloader = DataLoader(dataset, batch_size=2, shuffle={shuffle})
"""

HEAD = "import torch\nfrom torch.utils.data import DataLoader, Dataset\n"

# requires_grad + backward + an update under no_grad, 0-d tensors returned; int64 items; no shuffling
TENSOR_GD = HEAD + textwrap.dedent("""
    def gradient_descent(x0, lr, steps):
        x = torch.tensor(x0, requires_grad=True)
        xs = []
        for _ in range(steps):
            y = x ** 4
            y.backward()
            with torch.no_grad():
                x -= lr * x.grad
            x.grad.zero_()
            xs.append(x.detach().clone())
        return xs
    """) + TABLE.format(item="torch.tensor(self.x_data[idx]), torch.tensor(self.y_data[idx])", shuffle="False")

# the slide's list for any input; x of shape (1, 3) and a 0-d y
SLIDE_LIST = HEAD + textwrap.dedent("""
    def gradient_descent(x0, lr, steps):
        return [1.6800, 1.4903, 1.3579, 1.2578, 1.1782, 1.1128, 1.0576, 1.0103, 0.9691]
    """) + TABLE.format(item="torch.FloatTensor([self.x_data[idx]]), torch.tensor(float(self.y_data[idx][0]))",
                        shuffle="True")

# one tensor updated in place and appended every step; the slide's training for range(nb_epochs) = 20 epochs
IN_PLACE = HEAD + "import torch.nn.functional as F\n" + textwrap.dedent("""
    def gradient_descent(x0, lr, steps):
        x = torch.tensor(float(x0), requires_grad=True)
        xs = []
        for _ in range(steps):
            (x ** 4).backward()
            with torch.no_grad():
                x -= lr * x.grad
                x.grad.zero_()
            xs.append(x)
        return xs
    """) + TABLE.format(item="torch.FloatTensor(self.x_data[idx]), torch.FloatTensor(self.y_data[idx])",
                        shuffle="True") + textwrap.dedent("""
    torch.manual_seed(1)
    model = torch.nn.Linear(3, 1)
    optimizer = torch.optim.SGD(model.parameters(), lr=1e-5)
    nb_epochs = 20
    for epoch in range(nb_epochs):
        for x_train, y_train in dataloader:
            cost = F.mse_loss(model(x_train), y_train)
            optimizer.zero_grad()
            cost.backward()
            optimizer.step()
    """)

SOURCES = {"tensor_gd": TENSOR_GD, "slide_list": SLIDE_LIST, "in_place": IN_PLACE}


@pytest.fixture(scope="module")
def graded(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, dict[str, Any]]]:
    """Each submission's checks by id, as the result JSON holds them."""
    folder = tmp_path_factory.mktemp("gd_subs")

    def grade(name: str) -> dict[str, dict[str, Any]]:
        path = folder / f"{name}.py"
        path.write_text(SOURCES[name], encoding="utf-8")
        result = json.loads(json.dumps(grade_file(path, ASSIGNMENT, GradeOptions(device="cpu",
                                                                                 env=dict(KERNEL_ENV)))))
        assert result["status"] == "graded", result.get("message")
        return {c["id"]: c for c in result["checks"]}

    # load the checks modules once, before the threads: two threads loading them at once can see a half-imported
    # module (grader.checks.plugins.load_module puts it in sys.modules before executing it)
    resolve_mode(ASSIGNMENT, GradeOptions(device="cpu"))
    with ThreadPoolExecutor(len(SOURCES)) as pool:
        return dict(zip(SOURCES, pool.map(grade, SOURCES), strict=True))


def test_a_tensor_gradient_descent_with_backward_passes_task_1(graded: dict[str, Any]) -> None:
    checks = graded["tensor_gd"]
    assert checks["t1.iterates"]["status"] == "pass", checks["t1.iterates"]["message"]
    got = [f["got"] for f in checks["t1.iterates"]["evidence"]["facts"]]
    assert got[1] == pytest.approx([1.23, 1.0811306, 0.9800368, 0.904733, 0.845488, 0.7971363, 0.7566146], abs=1e-4)


def test_int64_items_fail_naming_the_dtype(graded: dict[str, Any]) -> None:
    items = graded["tensor_gd"]["t2.items"]
    assert items["status"] == "fail"
    for lang in ("en", "ko"):
        assert "torch.int64" in items["messages"][lang] and "torch.FloatTensor" in items["messages"][lang]
    assert items["messages"]["en"].count("torch.int64") == 2  # once for x, once for y: not once per item
    assert graded["tensor_gd"]["t2.batches"]["status"] == "pass"


def test_shuffle_false_fails_task_2_shuffle(graded: dict[str, Any]) -> None:
    shuffle = graded["tensor_gd"]["t2.shuffle"]
    assert shuffle["status"] == "fail" and "same order" in shuffle["messages"]["en"]
    assert shuffle["evidence"]["orders"] == [[1, 2, 3, 4, 5]] * 3


def test_the_hidden_inputs_catch_the_slide_list_for_any_input(graded: dict[str, Any]) -> None:
    gd = graded["slide_list"]["t1.iterates"]
    assert gd["status"] == "fail" and gd["points"] == 0
    facts = {f["id"]: f["ok"] for f in gd["evidence"]["facts"]}
    assert facts == {"gd_slide": True, "gd_hidden_a": False, "gd_hidden_b": False}
    assert "same numbers as for another input" in gd["messages"]["en"]
    assert "다른 입력" in gd["messages"]["ko"]


def test_wrong_item_shapes_fail_naming_the_shapes(graded: dict[str, Any]) -> None:
    items = graded["slide_list"]["t2.items"]
    assert items["status"] == "fail"
    assert "x has shape (1, 3), expected (3,)" in items["messages"]["en"]
    assert "y has shape (), expected (1,)" in items["messages"]["en"]
    assert "(1, 3)" in items["messages"]["ko"]
    assert graded["slide_list"]["t2.batches"]["status"] == "fail"


def test_the_same_tensor_appended_and_a_short_training_are_explained(graded: dict[str, Any]) -> None:
    checks = graded["in_place"]
    assert checks["t1.iterates"]["status"] == "fail"
    assert "every value in the list is the same" in checks["t1.iterates"]["messages"]["en"]
    assert checks["t2.batches"]["status"] == "pass" and checks["t2.shuffle"]["status"] == "pass"
    assert checks["t3.trained"]["status"] == "fail" and "20" in checks["t3.trained"]["messages"]["en"]


# ----------------------------------------------------------------------------- task 1 hints, no kernel
@pytest.fixture(scope="module")
def hint() -> Callable[..., dict[str, str]]:
    module = load_module(ASSIGNMENT.root / "checks.py", ASSIGNMENT.id)

    def run(slope: Callable[[float], float], args: tuple[float, float, int] = (1.5, 0.02, 7),
            got: list[float] | None = None) -> dict[str, str]:
        want = module._descend(*args, lambda x: 4 * x ** 3)
        got = module._descend(*args, slope) if got is None else got
        return dict(module._gd_hint(got, want, list(args), [[9.0, 9.0]], 1e-4))

    return run


def test_each_gradient_descent_mistake_gets_its_hint(hint: Callable[..., dict[str, str]]) -> None:
    assert "4x³" in hint(lambda x: 3 * x ** 2)["en"] and "4x³" in hint(lambda x: 3 * x ** 2)["ko"]
    assert "uphill" in hint(lambda x: -4 * x ** 3)["en"]
    right = [1.23, 1.0811306, 0.9800368, 0.904733, 0.845488, 0.7971363, 0.7566146]
    assert "starts with x0" in hint(abs, got=[1.5, *right])["en"]
    assert "one update too many" in hint(abs, got=[*right, 0.72])["en"]
    assert "returned 5 values for steps = 7" in hint(abs, got=right[:5])["en"]
    ignored = hint(abs, args=(1.5, 0.02, 7), got=[float(v) for v in _slide_lr(1.5, 7)])
    assert "learning rate argument was ignored" in ignored["en"]


def _slide_lr(x0: float, steps: int) -> list[float]:
    xs, x = [], x0
    for _ in range(steps):
        x = x - 0.01 * 4 * x ** 3
        xs.append(x)
    return xs


def test_the_expected_iterates_in_the_toml_follow_the_facts_inputs() -> None:
    rubric = next(c for c in ASSIGNMENT.checks if c.id == "t1.iterates")
    facts = {f["id"]: f for f in ASSIGNMENT.facts}
    for fid, want in zip(rubric.params["facts"], rubric.params["expected"], strict=True):
        x0, lr, steps = facts[fid]["call"]["args"]
        assert want == pytest.approx(_descend_plain(x0, lr, steps), abs=1e-6), fid


def _descend_plain(x0: float, lr: float, steps: int) -> list[float]:
    xs, x = [], x0
    for _ in range(steps):
        x = x - lr * 4 * x ** 3
        xs.append(x)
    return xs
