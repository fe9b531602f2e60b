"""The in-kernel probe, exercised in a fresh Python process with real torch training on real MNIST."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from grader.data.mnist import load_split, prepare
from grader.recording.architecture import analyse
from grader.recording.events import load_recording
from grader.recording.graph import parse_graph

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


def _affine(graph: dict) -> list[dict]:
    return [n for n in graph["nodes"] if n["op"] in ("linear", "conv")]


def _weight_shapes(graph: dict) -> list[list[int]]:
    return [graph["tensors"][n["weight"]] for n in _affine(graph)]


def test_graph_trace_sees_handwritten_model(probed: tuple[Path, dict]) -> None:
    rec = load_recording(probed[0] / "events.jsonl")
    hand = rec.runs[1]
    assert hand.graph is not None
    graph = parse_graph(hand.graph)
    assert [n.op for n in graph.nodes if n.op != "identity"] == ["input", "linear", "sigmoid", "linear"]
    first, second = (n for n in graph.nodes if n.op == "linear")
    # x @ W1 + b1: W1 is (in, out), the "+ b1" is folded into the layer; the second layer has no bias
    assert (graph.tensor_shapes[first.attrs["weight"]], first.attrs["layout"]) == ((784, 16), "in_out")
    assert first.attrs["bias"] is not None and graph.tensor_shapes[first.attrs["bias"]] == (16,)
    assert (graph.tensor_shapes[second.attrs["weight"]], second.attrs["bias"]) == ((16, 10), None)
    arch = analyse(hand.graph)
    assert arch is not None and arch.affine == ((784, 16), (16, 10)) and arch.hidden_acts == ("sigmoid",)
    assert arch.n_params == 784 * 16 + 16 + 16 * 10
    assert hand.loss_kind == "cross_entropy" and hand.batch == 100 and graph.batch == 100
    assert len(hand.gradnorms) == 3 and len(hand.gradnorms[0]) == 2

    seq = analyse(rec.runs[0].graph)
    assert seq is not None and seq.affine == ((784, 32), (32, 10)) and seq.hidden_acts == ("relu",)


def test_test_split_training_visible(probed: tuple[Path, dict]) -> None:
    rec = load_recording(probed[0] / "events.jsonl")
    assert {e.split for e in rec.runs[0].epochs} == {"train"}
    assert {e.split for e in rec.runs[2].epochs} == {"test"}


def test_export_weights_and_forward_trace(probed: tuple[Path, dict]) -> None:
    import torch

    out, models = probed
    by_run = {m["run"]: m for m in models["models"]}
    seq = by_run[0]
    assert seq["normalize"] == pytest.approx([0.1307, 0.3081])
    last = by_run[3]  # the same module, trained last: its forward pass is traced and measured in the kernel
    assert last["fn_affine"] == [{"op": "linear", "weight_shape": [32, 784]},
                                 {"op": "linear", "weight_shape": [10, 32]}]
    assert _weight_shapes(last["graph"]) == [[32, 784], [10, 32]]
    assert 0.0 <= last["kernel_accuracy"] <= 1.0

    # the weights file holds exactly the graph's tensors, by key, of the traced shapes
    for rec in models["models"]:
        weights = torch.load(out / rec["weights_file"], weights_only=True)
        assert {k: list(v.shape) for k, v in weights.items()} == rec["graph"]["tensors"], rec["key"]
        assert all(v.dtype == torch.float32 for v in weights.values())
    hand = by_run[1]
    hand_weights = torch.load(out / hand["weights_file"], weights_only=True)
    w1 = _affine(hand["graph"])[0]
    assert hand_weights[w1["weight"]].shape == (784, 16) and w1["layout"] == "in_out", \
        "x @ W weights are exported as written, with their layout in the graph"


def test_exported_models_replay_to_the_kernel_accuracy(probed: tuple[Path, dict]) -> None:
    from grader.evaluation.rebuild import evaluate_export

    out, models = probed
    images, labels = load_split(prepare("subset"), train=False)  # the split the kernel measured on
    for rec in models["models"]:
        result = evaluate_export(rec, out, images, labels)
        assert result["verified"], (rec["key"], result["reason"])
        if "kernel_accuracy" in rec:  # measured in the kernel with the student's own module
            assert result["accuracy"] == pytest.approx(rec["kernel_accuracy"], abs=1e-3), rec["key"]


def test_retrained_model_keeps_earlier_weights(probed: tuple[Path, dict]) -> None:
    import torch

    out, models = probed
    by_run = {m["run"]: m for m in models["models"]}
    key = _affine(by_run[0]["graph"])[0]["weight"]
    assert _affine(by_run[3]["graph"])[0]["weight"] == key  # same module, same trace
    first = torch.load(out / by_run[0]["weights_file"], weights_only=True)
    later = torch.load(out / by_run[3]["weights_file"], weights_only=True)
    assert not torch.equal(first[key], later[key])
    assert any("re-trained" in e for e in by_run[0]["errors"])
    assert "kernel_accuracy" not in by_run[0] and "fn_affine" not in by_run[0]


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
