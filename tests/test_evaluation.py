"""Replaying traced student models and measuring them ourselves, with real torch and real MNIST.

Every graph here is traced the way the probe traces it: a real torch model, a loss on a real
batch, :func:`trace_graph` over its autograd graph; the tensors it references are saved with
``torch.save`` and the grader replays the graph from that file alone.
"""

from __future__ import annotations

import copy
import gzip
import struct
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from grader.errors import GraderError
from grader.evaluation.gradflow import gradient_flow, vanishing_ratio
from grader.evaluation.rebuild import (
    UnverifiableModel,
    evaluate_export,
    load_weights,
    measure_accuracy,
    rebuild,
)
from grader.recording.graph import OPS, GraphError, parse_graph
from grader.recording.probe_graph import trace_graph

MNIST_DIR = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "mnist"
N = 2000
MEAN, STD = 0.1307, 0.3081


def _read_idx(path: Path, count: int) -> torch.Tensor:
    """First ``count`` items of a gzipped idx file as a uint8 tensor."""
    with gzip.open(path, "rb") as f:
        magic = struct.unpack(">I", f.read(4))[0]
        assert magic >> 8 == 0x08, f"{path.name}: not an unsigned-byte idx file"
        ndim = magic & 0xFF
        dims = struct.unpack(">" + "I" * ndim, f.read(4 * ndim))
        count = min(count, dims[0])
        per_item = 1
        for d in dims[1:]:
            per_item *= d
        data = f.read(count * per_item)
    return torch.frombuffer(bytearray(data), dtype=torch.uint8).reshape(count, *dims[1:])


def _load(split: str) -> tuple[torch.Tensor, torch.Tensor]:
    images = MNIST_DIR / f"{split}-images-idx3-ubyte.gz"
    labels = MNIST_DIR / f"{split}-labels-idx1-ubyte.gz"
    if not (images.is_file() and labels.is_file()):
        pytest.skip(f"MNIST not found under {MNIST_DIR}")
    return _read_idx(images, N), _read_idx(labels, N).long()


@pytest.fixture(scope="module")
def mnist_train() -> tuple[torch.Tensor, torch.Tensor]:
    return _load("train")


@pytest.fixture(scope="module")
def mnist_test() -> tuple[torch.Tensor, torch.Tensor]:
    return _load("t10k")


# ---------------------------------------------------------------------------- tracing helpers

Trace = dict[str, Any]


def _trace(loss: torch.Tensor, modules: list[nn.Module] | None = None) -> Trace:
    """The probe's trace of ``loss``; fails the test if the graph itself is not valid."""
    trace = trace_graph(loss, modules)
    parse_graph(trace["graph"])  # raises GraphError on anything the grader would refuse to read
    return trace


def _trace_model(model: nn.Module, x: torch.Tensor, y: torch.Tensor | None = None,
                 loss_fn: Callable[..., torch.Tensor] = F.cross_entropy) -> Trace:
    """Trace one training-mode forward + loss of ``model`` on ``x`` (as the probe does at the first backward)."""
    model.train()
    if y is None:
        y = torch.randint(0, 10, (x.shape[0],), generator=torch.Generator().manual_seed(0))
    return _trace(loss_fn(model(x), y), list(model.modules()))


def _saved(trace: Trace) -> dict[str, torch.Tensor]:
    """The tensors the graph references, as ``probe_export`` writes them (float32 CPU copies)."""
    return {k: t.detach().float().cpu().contiguous().clone() for k, t in trace["tensors"].items()}


def _save(trace: Trace, path: Path) -> Path:
    torch.save(_saved(trace), path)
    return path


def _key(trace: Trace, tensor: torch.Tensor) -> str:
    """The trace's key for a given live tensor (parameter or buffer)."""
    keys = [k for k, t in trace["tensors"].items() if t is tensor]
    assert len(keys) == 1, f"tensor traced {len(keys)} times"
    return keys[0]


def _ops(trace: Trace) -> list[str]:
    return [n["op"] for n in trace["graph"]["nodes"]]


def _replay_matches(model: nn.Module, x: torch.Tensor, trace: Trace | None = None, atol: float = 1e-6) -> Trace:
    """Assert the eval-mode replay of ``model``'s trace equals ``model.eval()(x)``; return the trace."""
    trace = trace or _trace_model(model, x)
    assert "unsupported" not in _ops(trace), trace["graph"]["nodes"]
    forward = rebuild(trace["graph"], _saved(trace))
    with torch.no_grad():
        expected = model.eval()(x)
        got = forward(x)
    assert got.shape == expected.shape
    assert torch.allclose(got, expected, atol=atol), f"max diff {(got - expected).abs().max().item():.3e}"
    return trace


def _float(images: torch.Tensor, normalize: tuple[float, float] | None = None) -> torch.Tensor:
    x = images.float().reshape(images.shape[0], -1) / 255.0
    return (x - normalize[0]) / normalize[1] if normalize else x


def _train(params: list[torch.Tensor], forward: Callable[[torch.Tensor], torch.Tensor], x: torch.Tensor,
           y: torch.Tensor, modules: list[nn.Module] | None = None, steps: int = 200,
           loss_fn: Callable[..., torch.Tensor] = F.cross_entropy) -> Trace:
    """Train with Adam; the graph is traced at the first backward, as the probe does. Returns that trace."""
    opt = torch.optim.Adam(params, lr=1e-3)
    gen = torch.Generator().manual_seed(0)
    trace: Trace | None = None
    for _ in range(steps):
        idx = torch.randint(0, x.shape[0], (64,), generator=gen)
        loss = loss_fn(forward(x[idx]), y[idx])
        if trace is None:
            trace = _trace(loss, modules)
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert trace is not None
    return trace


def _direct_accuracy(forward: Callable[[torch.Tensor], torch.Tensor], x: torch.Tensor, y: torch.Tensor) -> float:
    with torch.no_grad():
        return (forward(x).argmax(1) == y).float().mean().item()


def _mlp() -> nn.Sequential:
    return nn.Sequential(nn.Flatten(), nn.Linear(784, 64), nn.ReLU(), nn.Linear(64, 10))


def _trained_sequential(mnist_train, normalize=None) -> tuple[nn.Sequential, Trace]:
    torch.manual_seed(0)
    model = _mlp()
    trace = _train(list(model.parameters()), model, _float(mnist_train[0], normalize), mnist_train[1],
                   list(model.modules()))
    return model.eval(), trace


@pytest.fixture()
def mlp_trace() -> tuple[nn.Sequential, Trace]:
    """An untrained 784→64→10 MLP and its trace (for the refusal tests: values do not matter)."""
    torch.manual_seed(0)
    model = _mlp()
    return model, _trace_model(model, torch.rand(4, 1, 28, 28))


# ---------------------------------------------------------------------------- accuracy on MNIST

def test_rebuilt_sequential_matches_original(mnist_train, mnist_test, tmp_path: Path) -> None:
    model, trace = _trained_sequential(mnist_train)
    assert _ops(trace) == ["input", "linear", "relu", "linear"]
    _save(trace, tmp_path / "run0.pt")  # the live tensors, saved after training: the trained weights
    direct = _direct_accuracy(model, _float(mnist_test[0]), mnist_test[1])

    record = {"key": "run0", "graph": trace["graph"], "weights_file": "run0.pt", "normalize": None}
    result = evaluate_export(record, tmp_path, mnist_test[0], mnist_test[1])

    assert result["verified"] is True and result["reason"] is None
    assert result["accuracy"] == pytest.approx(direct, abs=1e-6)
    assert result["accuracy"] > 0.8


def test_accuracy_comes_from_the_weights_file(mnist_train, mnist_test, tmp_path: Path) -> None:
    """The measured accuracy comes from the weights file, not from anything else the graph carries."""
    model, trace = _trained_sequential(mnist_train)
    fresh = {k: torch.zeros_like(t) for k, t in _saved(trace).items()}
    torch.save(fresh, tmp_path / "zeros.pt")
    record = {"key": "run0", "graph": trace["graph"], "weights_file": "zeros.pt", "normalize": None}
    result = evaluate_export(record, tmp_path, mnist_test[0], mnist_test[1])
    assert result["verified"] is True
    # all-zero weights give constant logits: argmax is class 0 for every image
    assert result["accuracy"] == int((mnist_test[1] == 0).sum()) / len(mnist_test[1])


def test_rebuilt_handwritten_matmul_model_matches(mnist_train, mnist_test, tmp_path: Path) -> None:
    gen = torch.Generator().manual_seed(1)
    w1 = (torch.randn(784, 32, generator=gen) * 0.05).requires_grad_()
    b1 = torch.zeros(32, requires_grad=True)
    w2 = (torch.randn(32, 10, generator=gen) * 0.05).requires_grad_()
    b2 = torch.zeros(10, requires_grad=True)

    def forward(x: torch.Tensor) -> torch.Tensor:
        return torch.log_softmax(torch.tanh(x @ w1 + b1) @ w2 + b2, dim=1)

    trace = _train([w1, b1, w2, b2], forward, _float(mnist_train[0]), mnist_train[1], loss_fn=F.nll_loss)
    graph = trace["graph"]
    assert graph["loss"] == "cross_entropy"  # NLL over a log-softmax
    linears = [n for n in graph["nodes"] if n["op"] == "linear"]
    assert [n["layout"] for n in linears] == ["in_out", "in_out"]  # x @ W: W is (in, out)
    assert [n["bias"] for n in linears] == [_key(trace, b1), _key(trace, b2)]  # "+ b" folded into the layer
    assert [graph["tensors"][n["weight"]] for n in linears] == [[784, 32], [32, 10]]
    assert "tanh" in _ops(trace)

    direct = _direct_accuracy(forward, _float(mnist_test[0]), mnist_test[1])
    _save(trace, tmp_path / "hand.pt")
    rebuilt = rebuild(graph, load_weights(tmp_path / "hand.pt"))
    accuracy = measure_accuracy(rebuilt, mnist_test[0], mnist_test[1], None, batch_size=300)

    assert accuracy == pytest.approx(direct, abs=1e-6)
    assert accuracy > 0.8


def test_normalize_changes_accuracy_as_expected(mnist_train, mnist_test, tmp_path: Path) -> None:
    norm = (MEAN, STD)
    model, trace = _trained_sequential(mnist_train, normalize=norm)
    _save(trace, tmp_path / "run0.pt")
    direct = _direct_accuracy(model, _float(mnist_test[0], norm), mnist_test[1])
    record = {"key": "run0", "graph": trace["graph"], "weights_file": "run0.pt", "normalize": list(norm)}

    with_norm = evaluate_export(record, tmp_path, mnist_test[0], mnist_test[1])
    without_norm = evaluate_export({**record, "normalize": None}, tmp_path, mnist_test[0], mnist_test[1])

    assert with_norm["verified"] and without_norm["verified"]
    assert with_norm["accuracy"] == pytest.approx(direct, abs=1e-6)
    assert with_norm["accuracy"] > 0.8
    # Without the student's Normalize the inputs are off-distribution: the measured accuracy
    # equals the module's accuracy on un-normalized input, and is clearly worse.
    raw = _direct_accuracy(model, _float(mnist_test[0]), mnist_test[1])
    assert without_norm["accuracy"] == pytest.approx(raw, abs=1e-6)
    assert without_norm["accuracy"] < with_norm["accuracy"] - 0.02


# ---------------------------------------------------------------------------- refusals

def test_shape_mismatch_is_unverifiable(mlp_trace) -> None:
    model, trace = mlp_trace
    w2 = _key(trace, model[3].weight)
    weights = _saved(trace)
    weights[w2] = torch.zeros(10, 128)
    with pytest.raises(UnverifiableModel, match=rf"tensor '{w2}' has shape \(10, 128\) but the trace says \(10, 64\)"):
        rebuild(trace["graph"], weights)

    # a graph whose own tensor table no longer chains (64 out, then a 10×128 layer) and weights that
    # match it: nothing is executed until the forward, which then fails instead of guessing
    graph = copy.deepcopy(trace["graph"])
    graph["tensors"][w2] = [10, 128]
    forward = rebuild(graph, weights)
    with pytest.raises(RuntimeError):
        forward(torch.zeros(2, 784))


def test_shape_mismatch_in_export_is_reported(mlp_trace, tmp_path: Path) -> None:
    model, trace = mlp_trace
    w1 = _key(trace, model[1].weight)
    weights = _saved(trace)
    weights[w1] = torch.zeros(64, 100)
    torch.save(weights, tmp_path / "w.pt")
    images, labels = torch.zeros(3, 28, 28, dtype=torch.uint8), torch.zeros(3, dtype=torch.long)
    result = evaluate_export({"key": "r", "graph": trace["graph"], "weights_file": "w.pt", "normalize": None},
                             tmp_path, images, labels)
    assert result["verified"] is False and result["accuracy"] is None
    assert result["reason"] == f"tensor '{w1}' has shape (64, 100) but the trace says (64, 784)"

    graph = copy.deepcopy(trace["graph"])
    graph["tensors"][w1] = [64, 100]  # weights and trace agree, but the model takes 100 inputs, not 784
    torch.save({**weights}, tmp_path / "w100.pt")
    result = evaluate_export({"key": "r", "graph": graph, "weights_file": "w100.pt", "normalize": None},
                             tmp_path, images, labels)
    assert result["verified"] is False and result["accuracy"] is None
    assert result["reason"].startswith("forward pass failed: RuntimeError")


def test_missing_key_is_unverifiable(mlp_trace) -> None:
    model, trace = mlp_trace
    b1 = _key(trace, model[1].bias)
    weights = _saved(trace)
    del weights[b1]
    with pytest.raises(UnverifiableModel, match=rf"tensor '{b1}' is missing from the weights file"):
        rebuild(trace["graph"], weights)


def test_bad_tensor_values_are_unverifiable(mlp_trace) -> None:
    model, trace = mlp_trace
    w1 = _key(trace, model[1].weight)
    weights = _saved(trace)
    weights[w1] = weights[w1].clone()
    weights[w1][0, 0] = float("nan")
    with pytest.raises(UnverifiableModel, match=rf"tensor '{w1}' contains NaN or infinite values"):
        rebuild(trace["graph"], weights)
    weights[w1] = torch.zeros(64, 784, dtype=torch.long)
    with pytest.raises(UnverifiableModel, match=rf"tensor '{w1}' has non-float dtype"):
        rebuild(trace["graph"], weights)


def test_unsupported_op_is_unverifiable() -> None:
    class Abs(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.a, self.b = nn.Linear(784, 16), nn.Linear(16, 10)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return self.b(torch.abs(self.a(x)))

    trace = _trace_model(Abs(), torch.rand(4, 784))
    nodes = trace["graph"]["nodes"]
    bad = next(n for n in nodes if n["op"] == "unsupported")
    assert bad["name"] == "AbsBackward0"
    assert [n["op"] for n in nodes].count("linear") == 2, "the layers around it are still traced"
    reason = f"the model uses an operation outside the grader's allow-list: AbsBackward0 (node {bad['id']})"
    with pytest.raises(UnverifiableModel) as info:
        rebuild(trace["graph"], _saved(trace))
    assert info.value.reason == reason
    with pytest.raises(UnverifiableModel, match="outside the grader's allow-list: AbsBackward0"):
        gradient_flow(trace["graph"], torch.zeros(4, 28, 28, dtype=torch.uint8), torch.zeros(4, dtype=torch.long))

    relu_only = {"nodes": [{"id": 0, "op": "input", "in": [], "shape": [784]},
                           {"id": 1, "op": "relu", "in": [0], "shape": [784]}],
                 "output": 1, "loss": "cross_entropy", "batch": 4, "tensors": {}}
    with pytest.raises(UnverifiableModel, match=r"the graph has no affine \(Linear/Conv\) layer"):
        rebuild(relu_only, {})


@pytest.mark.parametrize("expr", ["h + 1", "h - 0.1", "1 - h", "h * 0.5", "h / 2", "2 * h",
                                  "h * torch.arange(16.0)", "torch.arange(16.0) - h"])
def test_scalar_and_constant_operands_are_replayed_exactly_or_refused(expr: str) -> None:
    """Never a wrong answer: an op whose operand the graph cannot record must be refused, not dropped."""
    class Scaled(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.a, self.b = nn.Linear(784, 16), nn.Linear(16, 10)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            h = self.a(x)
            return self.b(eval(expr, {"torch": torch, "h": h}))

    torch.manual_seed(12)
    model = Scaled()
    x = torch.randn(4, 784)
    trace = _trace_model(model, x)
    try:
        forward = rebuild(trace["graph"], _saved(trace))
    except UnverifiableModel as exc:
        assert "outside the grader's allow-list" in exc.reason
        return
    with torch.no_grad():
        assert torch.allclose(forward(x), model.eval()(x), atol=1e-5)


def test_unknown_op_in_graph_dict_is_refused(mlp_trace, tmp_path: Path) -> None:
    _, trace = mlp_trace
    assert "conv2d" not in OPS
    graph = copy.deepcopy(trace["graph"])
    graph["nodes"][2]["op"] = "conv2d"  # the relu, renamed to something outside the table
    with pytest.raises(GraphError, match="node 2 has an unknown op 'conv2d'"):
        parse_graph(graph)
    with pytest.raises(UnverifiableModel, match="node 2 has an unknown op 'conv2d'"):
        rebuild(graph, _saved(trace))
    _save(trace, tmp_path / "w.pt")
    result = evaluate_export({"key": "r", "graph": graph, "weights_file": "w.pt", "normalize": None},
                             tmp_path, torch.zeros(2, 28, 28, dtype=torch.uint8), torch.zeros(2, dtype=torch.long))
    assert result == {"accuracy": None, "verified": False, "reason": "node 2 has an unknown op 'conv2d'"}


def test_malformed_graph_dicts_are_refused(mlp_trace) -> None:
    model, trace = mlp_trace
    weights = _saved(trace)

    graph = copy.deepcopy(trace["graph"])
    graph["nodes"][2] = {"id": 2, "op": "leaky_relu", "in": [1], "shape": [64], "negative_slope": "x"}
    with pytest.raises(UnverifiableModel, match=r"node 2 \(leaky_relu\): attribute 'negative_slope' has an invalid"):
        rebuild(graph, weights)

    graph = copy.deepcopy(trace["graph"])
    graph["nodes"][1]["weight"] = "zz"
    with pytest.raises(UnverifiableModel, match=r"node 1 \(linear\): tensor 'zz' is not declared"):
        rebuild(graph, weights)

    graph = copy.deepcopy(trace["graph"])
    graph["nodes"][3]["in"] = [5]  # a forward reference: not topological
    with pytest.raises(UnverifiableModel, match=r"node 3 \(linear\) has invalid inputs \[5\]"):
        rebuild(graph, weights)

    with pytest.raises(UnverifiableModel, match="no nodes were traced"):
        rebuild({"nodes": [], "output": 0, "tensors": {}}, weights)
    with pytest.raises(UnverifiableModel, match="no nodes were traced"):
        rebuild(None, weights)  # type: ignore[arg-type]

    # the input size is checked against the trace, not left to a matmul error
    forward = rebuild(trace["graph"], weights)
    with pytest.raises(UnverifiableModel, match="input has 100 values per sample but the model takes 784"):
        forward(torch.zeros(2, 100))


def _side_effect(path: str) -> None:
    Path(path).write_text("unpickled!")


class _Evil:
    def __init__(self, path: str) -> None:
        self.path = path

    def __reduce__(self):
        return (_side_effect, (self.path,))


def test_pickle_with_object_is_refused_without_executing_it(mlp_trace, tmp_path: Path) -> None:
    _, trace = mlp_trace
    sentinel = tmp_path / "sentinel.txt"
    bad = tmp_path / "evil.pt"
    torch.save({**_saved(trace), "payload": _Evil(str(sentinel))}, bad)
    assert not sentinel.exists()
    _Evil(str(sentinel)).__reduce__()[0](str(tmp_path / "probe.txt"))  # the payload does work when run
    assert (tmp_path / "probe.txt").read_text() == "unpickled!"

    with pytest.raises(UnverifiableModel, match="evil.pt") as info:
        load_weights(bad)
    assert "could not be loaded safely" in str(info.value)
    assert isinstance(info.value, GraderError)
    assert not sentinel.exists(), "the object was unpickled"

    record = {"key": "r", "graph": trace["graph"], "weights_file": "evil.pt", "normalize": None}
    result = evaluate_export(record, tmp_path, torch.zeros(1, 28, 28, dtype=torch.uint8), torch.zeros(1))
    assert result == {"accuracy": None, "verified": False, "reason": result["reason"]}
    assert "evil.pt" in result["reason"]
    assert not sentinel.exists()


def test_non_tensor_value_and_non_dict_are_refused(tmp_path: Path) -> None:
    torch.save({"w": torch.zeros(2), "lr": 0.1}, tmp_path / "mixed.pt")
    with pytest.raises(UnverifiableModel, match=r"mixed\.pt: value under 'lr' is a float, not a tensor"):
        load_weights(tmp_path / "mixed.pt")
    torch.save([torch.zeros(2)], tmp_path / "list.pt")
    with pytest.raises(UnverifiableModel, match=r"list\.pt holds a list"):
        load_weights(tmp_path / "list.pt")
    with pytest.raises(UnverifiableModel, match=r"missing\.pt"):
        load_weights(tmp_path / "missing.pt")


def test_evaluate_export_reports_missing_file(mlp_trace, tmp_path: Path) -> None:
    _, trace = mlp_trace
    images, labels = torch.zeros(3, 28, 28, dtype=torch.uint8), torch.zeros(3, dtype=torch.long)
    record = {"key": "r", "graph": trace["graph"], "weights_file": "nope.pt", "normalize": None}
    result = evaluate_export(record, tmp_path, images, labels)
    assert result["verified"] is False and result["accuracy"] is None
    assert "nope.pt does not exist" in result["reason"]

    outside = tmp_path.parent / f"{tmp_path.name}-outside.pt"
    _save(trace, outside)
    result = evaluate_export({**record, "weights_file": f"../{outside.name}"}, tmp_path, images, labels)
    assert result["verified"] is False and "lies outside the export folder" in result["reason"]


# ---------------------------------------------------------------------------- gradient flow

def _deep(act: type[nn.Module], hidden: int = 6, width: int = 256, last: nn.Module | None = None) -> nn.Sequential:
    mods: list[nn.Module] = [nn.Flatten()]
    prev = 784
    for _ in range(hidden):
        mods += [nn.Linear(prev, width), act()]
        prev = width
    mods.append(nn.Linear(prev, 10))
    if last is not None:
        mods.append(last)
    return nn.Sequential(*mods)


def _deep_graph(act: type[nn.Module], hidden: int = 6, last: nn.Module | None = None) -> dict[str, Any]:
    torch.manual_seed(5)
    return _trace_model(_deep(act, hidden, last=last), torch.rand(8, 1, 28, 28))["graph"]


def test_gradient_flow_sigmoid_vanishes_relu_does_not(mnist_train) -> None:
    images, labels = mnist_train
    sig_graph, relu_graph = _deep_graph(nn.Sigmoid), _deep_graph(nn.ReLU)
    assert [n["op"] for n in sig_graph["nodes"]].count("sigmoid") == 6
    sig = gradient_flow(sig_graph, images, labels)
    relu = gradient_flow(relu_graph, images, labels)
    assert len(sig) == len(relu) == 7
    r_sig, r_relu = vanishing_ratio(sig), vanishing_ratio(relu)
    print(f"vanishing_ratio sigmoid={r_sig:.3e} relu={r_relu:.3e}")
    assert r_sig is not None and r_sig < 1e-3
    assert r_relu is not None and r_relu > 1e-2
    # Deterministic for a given seed, different for another.
    assert gradient_flow(sig_graph, images, labels) == sig
    assert gradient_flow(sig_graph, images, labels, seed=1) != sig


def test_gradient_flow_matches_a_fresh_torch_model(mnist_train) -> None:
    """The fresh copy is PyTorch's default init: the same seed gives the same gradients as nn.Linear."""
    images, labels = mnist_train
    graph = _deep_graph(nn.ReLU, hidden=2)
    norms = gradient_flow(graph, images, labels, seed=3, batch_size=50)

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(3)
        fresh = _deep(nn.ReLU, hidden=2)
    fresh.train()
    x = images[:50].float() / 255.0
    F.cross_entropy(fresh(x), labels[:50]).backward()
    expected = [float(m.weight.grad.norm()) for m in fresh if isinstance(m, nn.Linear)]
    assert norms == pytest.approx(expected, rel=1e-5)


def test_gradient_flow_leaves_global_rng_untouched(mnist_train) -> None:
    graph = _deep_graph(nn.ReLU, hidden=2)
    torch.manual_seed(1234)
    before = torch.random.get_rng_state().clone()
    expected_next = torch.rand(3)
    torch.random.set_rng_state(before)

    gradient_flow(graph, *mnist_train, seed=7)

    assert torch.equal(torch.random.get_rng_state(), before)
    assert torch.equal(torch.rand(3), expected_next)


def test_gradient_flow_softmax_outputs_and_vanishing_ratio_edges(mnist_train) -> None:
    logits = gradient_flow(_deep_graph(nn.ReLU, hidden=1), *mnist_train, batch_size=10)
    assert len(logits) == 2 and all(n > 0 for n in logits)
    for last, op in ((nn.Softmax(dim=1), "softmax"), (nn.LogSoftmax(dim=1), "log_softmax")):
        graph = _deep_graph(nn.ReLU, hidden=1, last=last)  # trained with cross_entropy on top of it
        assert graph["nodes"][graph["output"]]["op"] == op
        norms = gradient_flow(graph, *mnist_train, batch_size=10)
        assert len(norms) == 2 and all(n > 0 for n in norms)
        # the grader's loss undoes the squash: the gradients are those of cross-entropy on the logits
        assert norms == pytest.approx(logits, rel=1e-4)
    assert vanishing_ratio([1.0]) is None
    assert vanishing_ratio([1.0, 0.0]) is None
    assert vanishing_ratio([1.0, 4.0]) == 0.25


# ---------------------------------------------------------------------------- replay == torch

ACTIVATIONS: list[tuple[str, Callable[[], nn.Module]]] = [
    ("relu", nn.ReLU), ("sigmoid", nn.Sigmoid), ("tanh", nn.Tanh), ("leaky_relu", lambda: nn.LeakyReLU(0.2)),
    ("elu", lambda: nn.ELU(0.5)), ("selu", nn.SELU), ("gelu", nn.GELU), ("gelu", lambda: nn.GELU(approximate="tanh")),
    ("silu", nn.SiLU), ("softplus", nn.Softplus), ("hardtanh", nn.Hardtanh), ("relu6", nn.ReLU6),
    ("prelu", nn.PReLU), ("mish", nn.Mish), ("hardswish", nn.Hardswish), ("hardsigmoid", nn.Hardsigmoid),
    ("dropout", lambda: nn.Dropout(0.5)), ("batch_norm", lambda: nn.BatchNorm1d(16)),
    ("layer_norm", lambda: nn.LayerNorm(16)),
]
ACT_IDS = [f"{op}-{i}" for i, (op, _) in enumerate(ACTIVATIONS)]


def _wide_input(n: int = 6) -> torch.Tensor:
    """Inputs spread wide enough to reach every activation's saturated and negative regions."""
    return torch.randn(n, 1, 28, 28, generator=torch.Generator().manual_seed(11)) * 4


def _warm(model: nn.Module, x: torch.Tensor, steps: int = 3) -> None:
    """A few real SGD steps: BatchNorm running stats, PReLU slopes and biases move off their defaults."""
    opt = torch.optim.SGD(model.parameters(), lr=0.05)
    y = torch.randint(0, 10, (x.shape[0],), generator=torch.Generator().manual_seed(2))
    model.train()
    for _ in range(steps):
        opt.zero_grad()
        F.cross_entropy(model(x), y).backward()
        opt.step()


class _EveryActivation(nn.Module):
    """One branch per activation, each on its own Linear of the input, concatenated, then Linear + Softmax.

    Branches rather than a chain: through a chain of 19 squashing layers the output no longer depends
    on the input, and a wrong activation would go unseen.
    """

    def __init__(self) -> None:
        super().__init__()
        self.branches = nn.ModuleList(nn.Sequential(nn.Linear(784, 16, bias=i % 2 == 0), make())
                                      for i, (_, make) in enumerate(ACTIVATIONS))
        self.head = nn.Sequential(nn.Linear(16 * len(ACTIVATIONS), 10), nn.Softmax(dim=1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x.flatten(1)
        return self.head(torch.cat([branch(x) for branch in self.branches], dim=1))


def test_every_activation_matches_torch_modules() -> None:
    torch.manual_seed(3)
    model = _EveryActivation()
    x = _wide_input()
    _warm(model, x)
    trace = _trace_model(model, x)
    ops = _ops(trace)
    assert {op for op, _ in ACTIVATIONS} | {"softmax", "cat"} <= set(ops), ops
    gelus = [n["approximate"] for n in trace["graph"]["nodes"] if n["op"] == "gelu"]
    assert sorted(gelus) == ["none", "tanh"]
    with torch.no_grad():
        out = model.eval()(x)
    assert out.std(dim=0).min() > 1e-3, "the output must depend on the input, or the comparison proves nothing"
    _replay_matches(model, x, trace)


@pytest.mark.parametrize("op, make", ACTIVATIONS, ids=ACT_IDS)
def test_each_activation_replays_alone(op: str, make: Callable[[], nn.Module]) -> None:
    """One activation between two layers: names the op when the all-in-one model above disagrees."""
    torch.manual_seed(4)
    model = nn.Sequential(nn.Flatten(), nn.Linear(784, 16), make(), nn.Linear(16, 10))
    x = _wide_input()
    _warm(model, x)
    trace = _trace_model(model, x)
    assert _ops(trace) == ["input", "linear", op, "linear"]
    _replay_matches(model, x, trace)


def test_conv_pool_batchnorm_model_matches() -> None:
    torch.manual_seed(5)
    model = nn.Sequential(
        nn.Conv2d(1, 4, 3, padding=1), nn.BatchNorm2d(4), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(4, 8, 3, stride=2, bias=False), nn.AvgPool2d(2, ceil_mode=True), nn.ReLU(),
        nn.AdaptiveAvgPool2d((2, 2)), nn.Flatten(), nn.Linear(32, 10))
    x = torch.rand(6, 1, 28, 28)
    _warm(model, x)
    trace = _trace_model(model, x)
    assert _ops(trace) == ["input", "conv", "batch_norm", "relu", "max_pool", "conv", "avg_pool", "relu",
                           "adaptive_avg_pool", "reshape", "linear"]
    _replay_matches(model, x, trace)
    # the replay takes MNIST-shaped batches however they come (N×28×28, N×784)
    forward = rebuild(trace["graph"], _saved(trace))
    with torch.no_grad():
        expected = model.eval()(x)
        assert torch.allclose(forward(x.reshape(6, 28, 28)), expected, atol=1e-6)
        assert torch.allclose(forward(x.reshape(6, 784)), expected, atol=1e-6)
    # train=True: BatchNorm on batch statistics, as torch does in training mode (no Dropout here)
    train_forward = rebuild(trace["graph"], _saved(trace), train=True)
    with torch.no_grad():
        assert torch.allclose(train_forward(x), model.train()(x), atol=1e-5)
        assert not torch.allclose(train_forward(x), forward(x), atol=1e-3)


def test_conv1d_model_matches() -> None:
    class Conv1dNet(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.conv = nn.Conv1d(1, 4, 5, stride=2, padding=1)
            self.pool = nn.MaxPool1d(2)
            self.fc = nn.Linear(4 * 195, 10)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return self.fc(self.pool(torch.relu(self.conv(x.view(-1, 1, 784)))).flatten(1))

    torch.manual_seed(6)
    model = Conv1dNet()
    trace = _replay_matches(model, torch.rand(5, 784))
    assert _ops(trace)[:3] == ["input", "conv", "relu"]
    assert trace["graph"]["tensors"][_key(trace, model.conv.weight)] == [4, 1, 5]


def test_residual_mlp_matches() -> None:
    class Residual(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.inp = nn.Linear(784, 32)
            self.blocks = nn.ModuleList(nn.Linear(32, 32) for _ in range(3))
            self.out = nn.Linear(32, 10)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            h = torch.relu(self.inp(x.flatten(1)))
            for block in self.blocks:
                h = h + F.gelu(block(h)) * 0.5
            return self.out(h)

    torch.manual_seed(7)
    model = Residual()
    trace = _replay_matches(model, torch.randn(5, 784))
    ops = _ops(trace)
    assert ops.count("linear") == 5 and ops.count("add") >= 3


def test_maxout_models_match() -> None:
    class PairMaxout(nn.Module):  # torch.max of two Linear maps
        def __init__(self) -> None:
            super().__init__()
            self.a, self.b, self.out = nn.Linear(784, 32), nn.Linear(784, 32), nn.Linear(32, 10)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            x = x.flatten(1)
            return self.out(torch.max(self.a(x), self.b(x)))

    class ViewMaxout(nn.Module):  # one Linear, max over groups of 2
        def __init__(self) -> None:
            super().__init__()
            self.a, self.out = nn.Linear(784, 64), nn.Linear(32, 10)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return self.out(self.a(x.flatten(1)).view(-1, 32, 2).max(dim=2).values)

    torch.manual_seed(8)
    x = torch.randn(5, 1, 28, 28)
    pair = _replay_matches(PairMaxout(), x)
    assert "maximum" in _ops(pair)
    view = _replay_matches(ViewMaxout(), x)
    assert "max_dim" in _ops(view)


def test_concat_model_matches() -> None:
    class Concat(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.a, self.b, self.out = nn.Linear(784, 16), nn.Linear(784, 8), nn.Linear(24, 10)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            x = x.flatten(1)
            return self.out(torch.cat([torch.relu(self.a(x)), torch.tanh(self.b(x))], dim=1))

    torch.manual_seed(9)
    trace = _replay_matches(Concat(), torch.randn(5, 784))
    assert "cat" in _ops(trace)


def test_handwritten_matmul_matches_without_training() -> None:
    gen = torch.Generator().manual_seed(10)
    w1 = torch.randn(784, 24, generator=gen).requires_grad_()
    b1 = torch.randn(24, generator=gen).requires_grad_()
    square = torch.randn(24, 24, generator=gen).requires_grad_()  # (in, out) and (out, in) look alike
    w2 = torch.randn(24, 10, generator=gen).requires_grad_()
    b2 = torch.randn(10, generator=gen).requires_grad_()

    def forward(x: torch.Tensor) -> torch.Tensor:
        h = F.leaky_relu(x.view(-1, 784) @ w1 + b1, 0.1)
        return torch.relu(h @ square) @ w2 + b2

    x = torch.rand(5, 28, 28)
    trace = _trace(F.cross_entropy(forward(x), torch.zeros(5, dtype=torch.long)))
    linears = [n for n in trace["graph"]["nodes"] if n["op"] == "linear"]
    assert [n["layout"] for n in linears] == ["in_out"] * 3
    assert [n["bias"] is not None for n in linears] == [True, False, True]
    assert "leaky_relu" in _ops(trace)
    with torch.no_grad():
        assert torch.allclose(rebuild(trace["graph"], _saved(trace))(x), forward(x), atol=1e-4)


def test_shape_and_reduction_ops_match() -> None:
    """AdaptiveMaxPool, transpose, permute, stack, mean, sum and a difference of two branches."""
    class Odd(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.conv = nn.Conv2d(1, 4, 3)
            self.pool = nn.AdaptiveMaxPool2d((4, 4))
            self.a, self.b, self.out = nn.Linear(64, 16), nn.Linear(64, 16), nn.Linear(16, 10)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            h = self.pool(self.conv(x.view(-1, 1, 28, 28)))
            h = h.transpose(2, 3).permute(0, 2, 3, 1).flatten(1)
            a, b = self.a(h), torch.sigmoid(self.b(h))
            s = torch.stack([a, b], dim=1)
            return self.out(s.mean(dim=1) + s.sum(dim=1) + (a - b))

    torch.manual_seed(13)
    trace = _replay_matches(Odd(), torch.randn(5, 784))
    assert {"adaptive_max_pool", "transpose", "permute", "stack", "mean", "sum", "sub"} <= set(_ops(trace))
