"""Proof of training: the grader re-trains checkpointed segments in its own process.

Honest runs of every model family say "verified" (tests/test_models.py); here: a notebook that swaps one
run's checkpoints for another model's, one whose final weights were not trained as its curve claims,
one that forgets zero_grad() (replayed as it ran: verified), and a custom data pipeline ("not
replay-verified", with the reason, keeping its points).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from scenarios import ADAM, DATA, check, flag, relu6, sigmoid6, summary, train, write_notebook

from grader.assignment import load_assignment
from grader.pipeline import GradeOptions, grade_file

KERNEL_ENV = {"OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}

SWAP = """\
import glob, shutil, sys
_d = sys.modules['_grader_probe'].probe().cfg['export_dir']
for _f in glob.glob(_d + '/proof_run1_seg*.pt'):   # the Sigmoid run's checkpoints pass for the ReLU run's
    shutil.copy(_f, _f.replace('proof_run1', 'proof_run0'))"""

NO_ZERO_GRAD = """\
model = torch.nn.Sequential(torch.nn.Linear(784, 32), torch.nn.ReLU(), torch.nn.Linear(32, 10))
optimizer = torch.optim.SGD(model.parameters(), lr=0.001)
for X, Y in data_loader:          # no optimizer.zero_grad(): the gradients accumulate
    cost = torch.nn.functional.cross_entropy(model(X.view(-1, 784)), Y)
    cost.backward()
    optimizer.step()"""

CUSTOM_PIPELINE = """\
class Flip(torch.utils.data.Dataset):
    def __init__(self, base):
        self.base = base
    def __len__(self):
        return len(self.base)
    def __getitem__(self, i):
        x, y = self.base[i]
        return x.flip(-1), y
flip_loader = torch.utils.data.DataLoader(Flip(mnist_train), batch_size=100, shuffle=True)
model = torch.nn.Sequential(torch.nn.Linear(784, 32), torch.nn.ReLU(), torch.nn.Linear(32, 10))
optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
for X, Y in flip_loader:
    optimizer.zero_grad()
    torch.nn.functional.cross_entropy(model(X.view(-1, 784)), Y).backward()
    optimizer.step()"""


def _grade(directory: Path, name: str, cells: list[str]) -> dict[str, Any]:
    return grade_file(write_notebook(directory, name, cells), load_assignment(), GradeOptions(env=dict(KERNEL_ENV)))


@pytest.fixture(scope="module")
def swapped(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    d = tmp_path_factory.mktemp("proof")
    return _grade(d, "swapped", [DATA, relu6(), train(ADAM, 2), sigmoid6(), train(ADAM, 2), SWAP])


@pytest.fixture(scope="module")
def loops(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    d = tmp_path_factory.mktemp("proof")
    return _grade(d, "loops", [DATA, NO_ZERO_GRAD, CUSTOM_PIPELINE])


def test_swapped_checkpoints_are_caught_and_earn_nothing(swapped: dict[str, Any]) -> None:
    relu, sig = swapped["runs"][0], swapped["runs"][1]
    assert relu["proof"]["status"] == "unverified", relu["proof"]
    assert sig["proof"]["status"] == "verified", sig["proof"]
    f = flag(swapped, "training_unverified")
    assert f is not None and f["evidence"]["run"] == 0 and "sha256 differs" in f["message"], summary(swapped)
    six = check(swapped, "t1.six_hidden")
    assert six["status"] == "fail" and six["points"] == 0 and "training_unverified" in six["message"], summary(swapped)
    assert check(swapped, "t2.sigmoid_model")["status"] == "pass", summary(swapped)


def test_accumulating_gradients_are_replayed_as_they_ran(loops: dict[str, Any]) -> None:
    run = loops["runs"][0]
    assert run["proof"]["status"] == "verified", run["proof"]
    assert {s["mode"] for s in run["proof"]["segments"]} == {"accumulate"}
    assert flag(loops, "training_unverified") is None, summary(loops)


def test_custom_pipeline_is_not_replay_verified_and_keeps_its_run(loops: dict[str, Any]) -> None:
    run = loops["runs"][1]
    assert run["proof"]["status"] == "not_replay_verified", run["proof"]
    assert "custom data pipeline (Flip" in run["proof"]["reason"]
    assert run["steps"] > 0 and run["accuracy"]["source"] == "grader"


FORGE_EPOCHS = """\
import sys
P = sys.modules['_grader_probe'].probe()
n = P.runs[0]['steps']
P.flush_all()
for e in range(3):   # three more 'epochs' of falling losses that never ran
    P.emit('steps', run=0, first=n + 60 * e, losses=[0.3 / (e + 1)] * 60, iters=[1000 + e] * 60)"""


def test_forged_epochs_earn_nothing(tmp_path: Path) -> None:
    r = _grade(tmp_path, "forged_epochs", [DATA, relu6(), train(ADAM, 1), FORGE_EPOCHS])
    ids = {f["id"] for f in r["flags"]}
    assert ids & {"probe_tampered", "step_mismatch", "training_unverified"}, summary(r)
    for cid in ("t1.six_hidden", "t1.loss_decreased"):
        assert check(r, cid)["points"] == 0, summary(r)
