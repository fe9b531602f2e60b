"""Tamper resistance: each trick a student can pull inside the kernel ends in a flag and no points for
what it tried to fake. Real notebooks, real kernels, the embedded MNIST subset; tiny models, 1-2 epochs.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
from scenarios import ADAM, DATA, SGD, TEST_ACCURACY, check, flag, flag_ids, relu6, summary, train, write_notebook

from grader.assignment import load_assignment
from grader.pipeline import GradeOptions, grade_file

KERNEL_ENV = {"OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
TAMPER_FLAGS = {"probe_tampered", "step_mismatch", "no_training_evidence", "weights_mismatch", "accuracy_at_chance"}
PROBE = "sys.modules['_grader_probe'].probe()"


def _grade(directory: Path, name: str, cells: list[str], **opts: Any) -> dict[str, Any]:
    path = write_notebook(directory, name, cells)
    return grade_file(path, load_assignment(), GradeOptions(env=dict(KERNEL_ENV), **opts))


def _zero(result: dict[str, Any], *check_ids: str, by: str | None = None) -> None:
    for cid in check_ids:
        c = check(result, cid)
        assert c["points"] == 0, f"{cid} kept points\n{summary(result)}"
        if by is not None:
            assert by in c.get("voided_by", []), f"{cid} not voided by {by}\n{summary(result)}"
            head = c["message"].split(" — ")[0]
            assert head.startswith("0 points: integrity flag") and by in head, c["message"]


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("tamper")


def test_honest_submission_has_no_tamper_flags(workdir: Path) -> None:
    r = _grade(workdir, "honest", [DATA, relu6(), train(ADAM, 2), TEST_ACCURACY, relu6(), train(SGD, 2)])
    assert not flag_ids(r) & TAMPER_FLAGS, summary(r)
    assert check(r, "t1.six_hidden")["status"] == "pass", summary(r)
    assert check(r, "t3.other_optimizer")["status"] == "pass", summary(r)
    assert not any(c.get("voided_by") for c in r["checks"]), summary(r)


def test_removed_hooks(workdir: Path) -> None:
    """Training was recorded, then the forward hooks are cleared and Optimizer.__init__ is restored."""
    tamper = ("import sys\n"
              "torch.nn.modules.module._global_forward_hooks.clear()\n"
              "torch.nn.modules.module._global_forward_pre_hooks.clear()\n"
              f"torch.optim.Optimizer.__init__ = {PROBE}.originals['optimizer_init']")
    r = _grade(workdir, "removed_hooks", [DATA, relu6(), train(ADAM, 2), tamper])
    f = flag(r, "probe_tampered")
    assert f is not None, summary(r)
    assert {"forward_hooks", "optimizer_init"} <= set(f["evidence"]["broken"]), f
    assert f["evidence"]["first_seen_cell_index"]["forward_hooks"] == 3, f
    _zero(r, "t1.six_hidden", "t1.structure", "t1.loss_decreased", "t1.accuracy", by="probe_tampered")
    assert r["score"]["auto"] == 0, summary(r)


def test_restored_backward(workdir: Path) -> None:
    """torch.autograd.backward put back to torch's own, and Tensor.backward replaced, before more training."""
    tamper = ("import sys\n"
              f"torch.autograd.backward = {PROBE}.originals['backward']\n"
              "_bw = torch.Tensor.backward\n"
              "def _quiet_backward(self, *a, **k):\n"
              "    return _bw(self, *a, **k)\n"
              "torch.Tensor.backward = _quiet_backward")
    r = _grade(workdir, "restored_backward", [DATA, relu6(), train(ADAM, 2), tamper, relu6(), train(SGD, 2)])
    f = flag(r, "probe_tampered")
    assert f is not None, summary(r)
    assert {"backward_wrapper", "tensor_backward"} <= set(f["evidence"]["broken"]), f
    assert "torch.autograd.backward" in f["message"], f["message"]
    _zero(r, "t1.six_hidden", "t3.other_optimizer", "t3.trained", by="probe_tampered")


FAKE_STEP = """\
class FastSGD(torch.optim.SGD):
    def step(self, closure=None):
        return None  # counted as an SGD step; the real update happens below, outside the optimizer

criterion = torch.nn.CrossEntropyLoss()
optimizer = FastSGD(model.parameters(), lr=0.1)
for epoch in range(2):
    for X, Y in data_loader:
        optimizer.zero_grad()
        cost = criterion(model(X.view(-1, 28 * 28)), Y)
        cost.backward()
        optimizer.step()
        with torch.no_grad():
            for p in model.parameters():
                p -= 0.1 * p.grad"""


def test_fake_steps(workdir: Path) -> None:
    r = _grade(workdir, "fake_steps", [DATA, relu6(), FAKE_STEP])
    assert [x["optimizer"]["torch_class"] for x in r["runs"]] == ["SGD"], summary(r)
    f = flag(r, "step_mismatch")
    assert f is not None, summary(r)
    assert f["evidence"]["run"] == 0 and f["evidence"]["guard"]["idle"] == 120, f
    assert "changed no parameter" in f["message"], f["message"]
    # the only run is untrusted: no task can use it
    _zero(r, "t1.six_hidden", "t3.other_optimizer", by="step_mismatch")
    _zero(r, "t3.trained")
    assert "probe_tampered" not in flag_ids(r), summary(r)


def test_printed_accuracy_untrained_model(workdir: Path) -> None:
    cells = [DATA, relu6(), train("torch.optim.SGD(model.parameters(), lr=0.0)", 1), "print('Accuracy:', 0.99)"]
    r = _grade(workdir, "printed_accuracy", cells)
    f = flag(r, "accuracy_at_chance")
    assert f is not None, summary(r)
    assert max(f["evidence"]["measured"]) <= 0.15 and f["evidence"]["printed"] == [0.99], f
    assert "printed_numbers" in flag_ids(r), summary(r)
    _zero(r, "t1.accuracy", by="accuracy_at_chance")


SWAP_WEIGHTS = """\
# grader cannot rebuild a model whose weights do not fit its trace: let it fall back to the kernel's
# own accuracy, and make the kernel's forward pass return the answers
import torch.nn.functional as F
model[0].weight.data = torch.randn(128, 784)
model.forward = lambda x: F.one_hot(mnist_test.targets[:x.shape[0]], 10).float().to(x.device)"""


def test_export_shapes_contradict_trace(workdir: Path) -> None:
    r = _grade(workdir, "swap_weights", [DATA, relu6(), train(ADAM, 1), SWAP_WEIGHTS])
    f = flag(r, "weights_mismatch")
    assert f is not None, summary(r)
    assert any("(128, 784)" in c and "(64, 784)" in c for c in f["evidence"]["conflicts"]), f
    assert r["runs"][0]["accuracy"]["kernel"] == 1.0, summary(r)  # what the student faked
    # the kernel's number is never credited (the rebuild failed), and the check names the flag
    _zero(r, "t1.accuracy")
    assert "weights_mismatch" in check(r, "t1.accuracy")["message"], summary(r)
    assert check(r, "t1.six_hidden")["status"] == "pass", summary(r)  # the architecture is not in doubt


WIPE_EVENTS = """\
import glob, os, sys
cfg = sys.modules['_grader_probe'].probe().cfg
assert 'events_path' not in cfg, cfg
root = os.path.dirname(os.getcwd())  # the grader's temporary folder around this submission
paths = glob.glob(os.path.join(root, '**', '*.jsonl'), recursive=True)
for p in paths:
    with open(p, 'w') as fh:
        fh.write('{"ev": "hello"}\\n')  # history rewritten
try:
    os.ftruncate(cfg['events_fd'], 0)
    raise SystemError('the event stream could be truncated')
except OSError:
    pass
try:
    os.lseek(cfg['events_fd'], 0, os.SEEK_SET)
    raise SystemError('the event stream could be rewound')
except OSError:
    pass
print('rewrote', paths)"""


def _assert_history_kept(r: dict[str, Any]) -> None:
    assert "notebook_errors" not in flag_ids(r), summary(r)
    assert len(r["runs"]) == 1 and r["runs"][0]["steps"] == 120, summary(r)
    assert r["runs"][0]["epochs_completed"] == 2, summary(r)
    assert check(r, "t1.six_hidden")["status"] == "pass", summary(r)
    assert not flag_ids(r) & TAMPER_FLAGS, summary(r)


def test_rewritten_event_file_does_not_change_the_recording(workdir: Path) -> None:
    _assert_history_kept(_grade(workdir, "wipe_events", [DATA, relu6(), train(ADAM, 2), WIPE_EVENTS]))


def _bwrap_works() -> bool:
    if shutil.which("bwrap") is None:
        return False
    return subprocess.run(["bwrap", "--dev-bind", "/", "/", "--", "true"], capture_output=True).returncode == 0


@pytest.mark.skipif(not _bwrap_works(), reason="bubblewrap not usable here")
def test_event_pipe_through_bwrap_wrapper(workdir: Path) -> None:
    """The kernel started through bubblewrap still inherits the pipe's write end."""
    r = _grade(workdir, "wipe_events_bwrap", [DATA, relu6(), train(ADAM, 2), WIPE_EVENTS],
               wrapper=["bwrap", "--dev-bind", "/", "/", "--die-with-parent", "--"])
    _assert_history_kept(r)
