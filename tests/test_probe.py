"""The in-kernel probe, exercised in a fresh Python process with real torch training on real MNIST."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from grader.data.mnist import prepare
from grader.recording.events import load_recording

SCRIPT = textwrap.dedent("""
    import sys, json
    from grader.execution.instrument import load_in_process
    probe = load_in_process()
    probe.install(json.loads(sys.argv[1]))
    import torch, torch.nn.functional as F
    import torchvision.datasets as dsets, torchvision.transforms as T
    tf = T.Compose([T.ToTensor(), T.Normalize((0.1307,), (0.3081,))])
    tr = dsets.MNIST(root="/content/drive/MyDrive/nowhere", train=True, transform=tf, download=True)
    te = dsets.MNIST("MNIST_data/", False, T.ToTensor(), None, True)
    assert te.test_data.shape[0] == len(te) and te.test_labels.shape[0] == len(te)
    dl = torch.utils.data.DataLoader(torch.utils.data.Subset(tr, range(1000)), batch_size=100, shuffle=True)
    # run 0: Sequential, AdamW (a subclass of Adam)
    model = torch.nn.Sequential(torch.nn.Linear(784, 32), torch.nn.ReLU(), torch.nn.Linear(32, 10))
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3)
    for _ in range(2):
        for X, Y in dl:
            opt.zero_grad(); F.cross_entropy(model(X.view(-1, 784)), Y).backward(); opt.step()
    # run 1: hand-written matmul with a student SGD subclass calling super().step()
    class MySGD(torch.optim.SGD):
        def step(self, closure=None):
            return super().step(closure)
    W1 = torch.randn(784, 16, requires_grad=True); b1 = torch.zeros(16, requires_grad=True)
    W2 = torch.randn(16, 10, requires_grad=True)
    sgd = MySGD([W1, b1, W2], lr=0.01)
    for X, Y in dl:
        out = torch.sigmoid(X.view(-1, 784) @ W1 + b1) @ W2
        sgd.zero_grad(); torch.autograd.backward(F.cross_entropy(out, Y)); sgd.step()
    # an optimizer that steps parameters without gradients trains nothing
    idle = torch.optim.RMSprop(torch.nn.Linear(3, 3).parameters())
    for _ in range(5):
        idle.step()
    # run 2: trained on the test split
    tdl = torch.utils.data.DataLoader(te, batch_size=100)
    m2 = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(784, 10))
    o2 = torch.optim.SGD(m2.parameters(), lr=0.1)
    for X, Y in tdl:
        o2.zero_grad(); F.cross_entropy(m2(X), Y).backward(); o2.step()
    # run 3: the run-0 model re-trained by a new optimizer: run 0's weights must be kept as they were
    o3 = torch.optim.SGD(model.parameters(), lr=0.5)
    for X, Y in dl:
        o3.zero_grad(); F.cross_entropy(model(X.view(-1, 784)), Y).backward(); o3.step()
    load_in_process(export=True).run_export()
""")


@pytest.fixture(scope="module")
def probed(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict]:
    out = tmp_path_factory.mktemp("probe")
    cfg = {"events_path": str(out / "events.jsonl"), "export_dir": str(out),
           "mnist_root": str(prepare("subset")), "seed": 0}
    proc = subprocess.run([sys.executable, "-c", SCRIPT, json.dumps(cfg)],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert proc.stdout == "", "the probe must never print"
    return out, json.loads((out / "models.json").read_text())


def test_mnist_redirected_whatever_root(probed: tuple[Path, dict]) -> None:
    rec = load_recording(probed[0] / "events.jsonl")
    roots = [d["requested_root"] for d in rec.datasets]
    assert roots == ["/content/drive/MyDrive/nowhere", "MNIST_data/"]
    assert [d["n_items"] for d in rec.datasets] == [6000, 1000]
    assert rec.datasets[0]["normalize"] == pytest.approx([0.1307, 0.3081])


def test_runs_classified(probed: tuple[Path, dict]) -> None:
    rec = load_recording(probed[0] / "events.jsonl")
    assert [r.torch_class for r in rec.runs] == ["AdamW", "SGD", "SGD", "SGD"]
    assert rec.runs[0].optimizer_family == "adam"
    assert rec.runs[1].optimizer["cls"] == "MySGD"
    # super().step() inside a subclass counts once: 10 batches per pass
    assert [r.steps for r in rec.runs] == [20, 10, 10, 10]
    assert [r.epochs_completed for r in rec.runs] == [2, 1, 1, 1]
    assert "RMSprop" in {o["torch_cls"] for o in rec.optimizers.values()}
    assert rec.end is not None and all(rec.end["hooks_intact"].values())


def test_graph_trace_sees_handwritten_model(probed: tuple[Path, dict]) -> None:
    rec = load_recording(probed[0] / "events.jsonl")
    hand = rec.runs[1]
    assert [x["op"] for x in hand.layers] == ["linear", "sigmoid", "linear"]
    assert (hand.layers[0]["in"], hand.layers[0]["out"], hand.layers[0]["bias"]) == (784, 16, True)
    assert (hand.layers[2]["in"], hand.layers[2]["out"], hand.layers[2]["bias"]) == (16, 10, False)
    assert hand.loss_kind == "cross_entropy" and hand.batch == 100
    assert len(hand.gradnorms) == 3 and len(hand.gradnorms[0]) == 2


def test_test_split_training_visible(probed: tuple[Path, dict]) -> None:
    rec = load_recording(probed[0] / "events.jsonl")
    assert {e.split for e in rec.runs[0].epochs} == {"train"}
    assert {e.split for e in rec.runs[2].epochs} == {"test"}


def test_export_weights_and_forward_trace(probed: tuple[Path, dict]) -> None:
    out, models = probed
    by_run = {m["run"]: m for m in models["models"]}
    seq = by_run[0]
    assert seq["normalize"] == pytest.approx([0.1307, 0.3081])
    last = by_run[3]  # the same module, trained last: its forward pass is traced and measured in the kernel
    assert [x["op"] for x in last["fn_layers"]] == ["linear", "relu", "linear"]
    assert 0.0 <= last["kernel_accuracy"] <= 1.0
    import torch

    weights = torch.load(out / seq["weights_file"], weights_only=True)
    assert weights["L0.weight"].shape == (32, 784) and weights["L1.bias"].shape == (10,)
    hand = torch.load(out / by_run[1]["weights_file"], weights_only=True)
    assert hand["L0.weight"].shape == (16, 784), "x @ W weights are exported as (out, in)"


def test_retrained_model_keeps_earlier_weights(probed: tuple[Path, dict]) -> None:
    import torch

    out, models = probed
    by_run = {m["run"]: m for m in models["models"]}
    first = torch.load(out / by_run[0]["weights_file"], weights_only=True)
    later = torch.load(out / by_run[3]["weights_file"], weights_only=True)
    assert not torch.equal(first["L0.weight"], later["L0.weight"])
    assert any("re-trained" in e for e in by_run[0]["errors"])


FLUSH = textwrap.dedent("""
    import sys, json
    import torch
    from grader.execution.instrument import load_in_process
    probe = load_in_process()
    sub = lambda: (torch.tensor([1e-39]) * 1.0).item()  # a subnormal float32 times one
    before = sub()
    probe.install(json.loads(sys.argv[1]))
    during = sub()
    probe.uninstall()
    print(json.dumps([before, during, sub()]))
""")


@pytest.mark.parametrize("flush", [True, False])
def test_probe_flushes_subnormals_on_cpu_and_restores(tmp_path: Path, flush: bool) -> None:
    """Subnormal optimizer state made RMSprop steps up to 8× slower on CPU (benchmarks/cpu_denormals.py)."""
    cfg = {"events_path": str(tmp_path / "ev.jsonl"), "export_dir": str(tmp_path), "mnist_root": str(tmp_path),
           "seed": 0, "flush_denormal": flush}
    out = subprocess.run([sys.executable, "-c", FLUSH, json.dumps(cfg)], capture_output=True, text=True,
                         timeout=120, check=True)
    before, during, after = json.loads(out.stdout.strip().splitlines()[-1])
    assert before > 0 and after > 0
    assert (during == 0.0) is flush
