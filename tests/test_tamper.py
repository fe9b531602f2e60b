"""Tamper resistance: each trick a student can pull inside the kernel ends in a flag and no points for
what it tried to fake. Real notebooks, real kernels, the embedded MNIST subset; tiny models, 1-2 epochs.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
from scenarios import (
    ADAM,
    DATA,
    NO_DATALOADER_TRAIN,
    SGD,
    TEST_ACCURACY,
    check,
    flag,
    flag_ids,
    relu6,
    summary,
    train,
    write_notebook,
)

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


# ----------------------------------------------------------------------------- weights written back after training
SAVE = "torch.save(model.state_dict(), 'mlp.pth')"
ROUND_TRIP = "model.load_state_dict(torch.load('mlp.pth'))"
# each epoch's weights kept in the training cell itself; epoch 2 of 3 restored right after the loop
TRAIN_KEEP_EPOCHS = "import copy\nhistory = []\n" + train(ADAM, 3).replace(
    "print('Learning finished')",
    "    history.append(copy.deepcopy(model.state_dict()))\n"
    "model.load_state_dict(history[1])  # the epoch with the best validation accuracy\n"
    "print('Learning finished')")
FRESH_MODEL = relu6(name="model2") + """
model2.load_state_dict(torch.load('mlp.pth', map_location=device, weights_only=True))
model2.eval()
with torch.no_grad():
    X_test = mnist_test.data.view(-1, 28 * 28).float().to(device) / 255.
    fresh_accuracy = (torch.argmax(model2(X_test), 1) == mnist_test.targets.to(device)).float().mean().item()
print('Accuracy:', fresh_accuracy)
open(r'{out}', 'w').write(repr(fresh_accuracy))"""


@pytest.fixture(scope="module")
def written_back(workdir: Path) -> dict[str, Any]:
    cells = [DATA, relu6(), TRAIN_KEEP_EPOCHS, TEST_ACCURACY,                       # run 1: best epoch restored
             relu6(), train(SGD, 2), SAVE, FRESH_MODEL.format(out=workdir / "fresh_accuracy.txt"),
             ROUND_TRIP,                                                             # run 2: fresh model, round trip
             relu6(), NO_DATALOADER_TRAIN.format(epochs=1), SAVE, ROUND_TRIP]      # run 3: no DataLoader
    return _grade(workdir, "written_back", cells, sandbox="off")  # the fresh model's accuracy lands in workdir


def _final_weights(result: dict[str, Any], run: int) -> dict[str, Any]:
    return (result["runs"][run]["proof"] or {}).get("final_weights") or {}


def test_best_epoch_restore_is_honest_and_named(written_back: dict[str, Any]) -> None:
    r = written_back
    assert not flag_ids(r) & TAMPER_FLAGS, summary(r)
    fw = _final_weights(r, 0)
    assert fw.get("recorded") and fw["epoch"] == 1 and fw["step"] == 120 and not fw["last"], fw
    assert fw["text"]["en"] == "restored the weights of epoch 2 (of 3)", fw
    assert "2 에폭의 가중치를 복원했습니다" in fw["text"]["ko"], fw
    run = r["runs"][0]
    assert run["accuracy"]["source"] == "grader" and run["proof"]["status"] == "verified", run["proof"]
    # the final weights' loss is compared with the restored epoch's, not the last one's
    assert run["proof"]["final_recorded"] == run["epochs"][1]["mean_loss"], run["proof"]
    acc = check(r, "t1.accuracy")  # measured and judged (3 tiny epochs earn no band credit), not voided
    assert not acc.get("voided_by") and acc["message"].startswith("test accuracy 0."), summary(r)


def test_round_trip_and_fresh_model_keep_the_run(written_back: dict[str, Any], workdir: Path) -> None:
    r = written_back
    fw = _final_weights(r, 1)
    assert fw.get("recorded") and fw["last"] and fw["step"] == 120, fw
    assert fw["text"]["en"].startswith("final weights"), fw
    # the run is evaluated with the weights the fresh model was loaded with: the grader measures its accuracy
    fresh = float((workdir / "fresh_accuracy.txt").read_text())
    assert r["runs"][1]["accuracy"]["value"] == pytest.approx(fresh, abs=1e-6), (fresh, summary(r))
    assert check(r, "t3.other_optimizer")["status"] == "pass", summary(r)
    # without a DataLoader the state left by the training cell is the recorded one
    fw3 = _final_weights(r, 2)
    assert fw3.get("recorded") and fw3["last"], (fw3, r["runs"][2]["proof"])


PERTURB = "model.load_state_dict({k: v + 1e-3 * torch.randn_like(v) for k, v in torch.load('a.pth').items()})"
COPY_OTHER_RUN = "model.load_state_dict(torch.load('a.pth'))  # the first run's weights, never this run's"
OVERWRITE_IN_LAST_STEP = """\
criterion = torch.nn.CrossEntropyLoss()
optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
for i, (X, Y) in enumerate(data_loader):
    optimizer.zero_grad()
    criterion(model(X.view(-1, 784)), Y).backward()
    optimizer.step()
    if i == len(data_loader) - 1:  # after the last step, before the pass ends
        with torch.no_grad():
            for p in model.parameters():
                p.add_(1e-3 * torch.randn_like(p))"""

# perturbed weights claimed as the state of the last step, in a guard event written by the notebook
FORGE_STATE = """\
import sys
g = sys.modules['_grader_probe_guard'].guard()
with torch.no_grad():
    for p in model.parameters():
        p.add_(1e-3 * torch.randn_like(p))
k = len(g.p.runs) - 1
g._emit(kind='weights', run=k, step=g.p.runs[k]['steps'], fp=sys.modules['_grader_probe_guard'].state_fp(
    g.p.runs[k]['weights']), at='cell_end')"""


def test_weights_no_recorded_state_had_still_flag(workdir: Path) -> None:
    """Perturbed weights, another run's weights, weights overwritten after the last step inside the last pass, and
    perturbed weights with a forged fingerprint event."""
    cells = [DATA, relu6(), train(ADAM, 1), "torch.save(model.state_dict(), 'a.pth')", PERTURB,
             relu6(), train(SGD, 1), COPY_OTHER_RUN, relu6(), OVERWRITE_IN_LAST_STEP,
             relu6(), train(ADAM, 1), FORGE_STATE]
    r = _grade(workdir, "forged_weights", cells)
    flagged = {f["evidence"]["run"]: f for f in r["flags"] if f["id"] == "weights_mismatch"}
    assert set(flagged) == {0, 1, 2, 3}, summary(r)
    assert all("equal to none the run had" in f["message"] for f in flagged.values()), flagged
    assert all("final_weights" not in (run["proof"] or {}) for run in r["runs"]), summary(r)
    _zero(r, "t1.accuracy")
    assert "weights_mismatch" in check(r, "t1.accuracy")["message"], summary(r)


# a full-batch loop keeping the best step's weights and reloading a file saved in the same cell: no epoch edge or
# cell end separates the saved states from the load, state_dict() itself records them
FULL_BATCH_BEST = """\
import copy
X_all = mnist_train.data[:2000].float().view(-1, 784) / 255.
Y_all = mnist_train.targets[:2000]
criterion = torch.nn.CrossEntropyLoss()
optimizer = torch.optim.SGD(model.parameters(), lr=0.5)
best_loss, best_state = float('inf'), None
for step in range(30):
    optimizer.zero_grad()
    cost = criterion(model(X_all), Y_all)
    cost.backward()
    optimizer.step()
    if step in (10, 20) and cost.item() < best_loss:
        best_loss, best_state = cost.item(), copy.deepcopy(model.state_dict())
torch.save(model.state_dict(), 'full.pth')
model.load_state_dict(torch.load('full.pth'))
model.load_state_dict(best_state)"""


def test_full_batch_states_saved_in_the_training_cell_are_recorded(workdir: Path) -> None:
    r = _grade(workdir, "full_batch_best", [DATA, relu6(), FULL_BATCH_BEST])
    assert not flag_ids(r) & TAMPER_FLAGS, summary(r)
    fw = _final_weights(r, 0)
    assert fw.get("recorded") and fw["step"] == 21 and not fw["last"], (fw, r["runs"][0]["proof"])
    assert fw["text"]["en"].startswith("restored the weights"), fw
