"""Proof of training against the loops students and cheats write, one real notebook, one run per cell.

Honest loops the replay cannot re-execute as backward → step must say "not replay-verified" with the reason
(never a flag): normalising inside the loop, gradient clipping, gradient accumulation, a BatchNorm model run in
training mode between steps. A OneCycleLR schedule (momentum/betas cycled) is replayed. Cheats earn nothing and
are flagged: "training" copied weights with lr=0, an optimizer whose step() changes nothing, deleting a
checkpoint, switching the checkpoints off.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from scenarios import DATA, summary, write_notebook

from grader.assignment import load_assignment
from grader.pipeline import GradeOptions, grade_file

KERNEL_ENV = {"OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
MLP = "torch.nn.Sequential(torch.nn.Linear(784, 32), torch.nn.ReLU(), torch.nn.Linear(32, 10))"


def loop(optimizer: str, step: str = "optimizer.step()", before: str = "", epochs: int = 2, model: str = MLP) -> str:
    """A two-epoch loop; ``before`` runs between backward() and the step line."""
    return f"""\
model = {model}
optimizer = {optimizer}
for epoch in range({epochs}):
    for i, (X, Y) in enumerate(data_loader):
        X = X.view(-1, 784)
        optimizer.zero_grad()
        cost = torch.nn.functional.cross_entropy(model(X), Y)
        cost.backward()
        {before or 'pass'}
        {step}"""


ADAM = "torch.optim.Adam(model.parameters(), lr=1e-3)"
CELLS = {
    "normalise_in_loop": loop(ADAM).replace("X = X.view(-1, 784)", "X = (X.view(-1, 784) - 0.1307) / 0.3081"),
    "clip_value": loop("torch.optim.SGD(model.parameters(), lr=0.1)",
                       before="torch.nn.utils.clip_grad_value_(model.parameters(), 0.01)"),
    "accumulate": loop(ADAM, step="optimizer.step() if i % 2 else None").replace(
        "        optimizer.zero_grad()\n", "").replace("if i % 2 else None", "if i % 2 else None\n"
                                                    "        optimizer.zero_grad() if i % 2 else None"),
    "bn_train_validation": loop(ADAM, model="torch.nn.Sequential(torch.nn.Linear(784, 32), torch.nn.BatchNorm1d(32), "
                                            "torch.nn.ReLU(), torch.nn.Linear(32, 10))",
                                step="optimizer.step(); val = model(X[:50])  # train mode: BatchNorm updates"),
    "one_cycle": loop(ADAM + "\nsched = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=1e-2, total_steps=200)",
                      step="optimizer.step(); sched.step()"),
    "copied_lr0": "trained = model\n" + loop("torch.optim.SGD(model.parameters(), lr=0.0)").replace(
        f"model = {MLP}", f"model = {MLP}\nmodel.load_state_dict(trained.state_dict())"),
    "noop_step": """\
class Adam2(torch.optim.Adam):
    def step(self, closure=None):
        with torch.no_grad():
            for g in self.param_groups:
                for p in g['params']:
                    p.mul_(1.0)   # bumps the version counters, changes nothing
""" + loop("Adam2(model.parameters(), lr=1e-3)"),
    "deleted_checkpoint": loop(ADAM) + """
import glob, os, sys
for _f in glob.glob(sys.modules['_grader_probe'].probe().cfg['export_dir'] + f'/proof_run{RUN}_seg*.pt'):
    os.remove(_f)""",
    "proof_off": "import sys\nsys.modules['_grader_probe'].probe().proof = None\n" + loop(ADAM),
}
NAMES = list(CELLS)


@pytest.fixture(scope="module")
def result(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    cells = [DATA] + [CELLS[n].replace("{RUN}", str(i)) for i, n in enumerate(NAMES)]
    path = write_notebook(Path(tmp_path_factory.mktemp("proof_loops")), "proof_loops", cells)
    return grade_file(path, load_assignment(), GradeOptions(env=dict(KERNEL_ENV)))


def _proof(result: dict[str, Any], name: str) -> dict[str, Any]:
    run = next((r for r in result["runs"] if r["cell_index"] == 1 + NAMES.index(name)), None)
    assert run is not None, f"{name}: no run\n{summary(result)}"
    return run["proof"]  # type: ignore[no-any-return]


def _flagged(result: dict[str, Any]) -> set[int]:
    return {int(f["evidence"]["run"]) for f in result["flags"] if f["id"] == "training_unverified"}


@pytest.mark.parametrize(("name", "why"), [
    ("normalise_in_loop", "fed something other"), ("clip_value", "changed between backward() and step()"),
    ("accumulate", "gradient accumulation (2 batches"), ("bn_train_validation", "training-mode forward pass"),
])
def test_honest_loops_the_replay_cannot_follow_are_named_not_flagged(result: dict[str, Any], name: str,
                                                                     why: str) -> None:
    proof = _proof(result, name)
    assert proof["status"] == "not_replay_verified" and why in proof["reason"], proof
    assert NAMES.index(name) not in _flagged(result), result["flags"]


def test_one_cycle_schedule_is_replayed(result: dict[str, Any]) -> None:
    proof = _proof(result, "one_cycle")
    assert proof["status"] == "verified" and proof["max_weight_dev"] <= 1e-6, proof


@pytest.mark.parametrize(("name", "why"), [
    ("copied_lr0", "never changed"), ("noop_step", "never changed"), ("deleted_checkpoint", "is gone"),
    ("proof_off", "switched the grader's checkpoints off"),
])
def test_cheats_are_unverified_and_flagged(result: dict[str, Any], name: str, why: str) -> None:
    proof = _proof(result, name)
    assert proof["status"] == "unverified" and why in proof["reason"], proof
    assert NAMES.index(name) in _flagged(result), result["flags"]
