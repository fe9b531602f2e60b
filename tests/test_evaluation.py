"""Rebuilding exported student models and measuring them ourselves, with real torch and real MNIST."""

from __future__ import annotations

import gzip
import struct
from pathlib import Path

import pytest
import torch
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


def _float(images: torch.Tensor, normalize: tuple[float, float] | None = None) -> torch.Tensor:
    x = images.float().reshape(images.shape[0], -1) / 255.0
    return (x - normalize[0]) / normalize[1] if normalize else x


def _train(params: list[torch.Tensor], forward, x: torch.Tensor, y: torch.Tensor, steps: int = 200) -> None:
    opt = torch.optim.Adam(params, lr=1e-3)
    gen = torch.Generator().manual_seed(0)
    for _ in range(steps):
        idx = torch.randint(0, x.shape[0], (64,), generator=gen)
        loss = nn.functional.cross_entropy(forward(x[idx]), y[idx])
        opt.zero_grad()
        loss.backward()
        opt.step()


def _direct_accuracy(forward, x: torch.Tensor, y: torch.Tensor) -> float:
    with torch.no_grad():
        return (forward(x).argmax(1) == y).float().mean().item()


def _mlp_layers() -> list[dict]:
    return [
        {"op": "linear", "weight": "0.weight", "bias": "0.bias", "in": 784, "out": 64},
        {"op": "relu"},
        {"op": "linear", "weight": "2.weight", "bias": "2.bias", "in": 64, "out": 10},
    ]


def _trained_sequential(mnist_train, normalize=None) -> nn.Sequential:
    torch.manual_seed(0)
    model = nn.Sequential(nn.Flatten(), nn.Linear(784, 64), nn.ReLU(), nn.Linear(64, 10))
    _train(list(model.parameters()), model, _float(mnist_train[0], normalize), mnist_train[1])
    return model.eval()


def _export_sequential(model: nn.Sequential, tmp_path: Path) -> Path:
    # nn.Flatten shifts indices by one; export under the names the trace uses.
    weights = {
        "0.weight": model[1].weight.detach().clone(),
        "0.bias": model[1].bias.detach().clone(),
        "2.weight": model[3].weight.detach().clone(),
        "2.bias": model[3].bias.detach().clone(),
    }
    path = tmp_path / "run0.pt"
    torch.save(weights, path)
    return path


def test_rebuilt_sequential_matches_original(mnist_train, mnist_test, tmp_path: Path) -> None:
    model = _trained_sequential(mnist_train)
    _export_sequential(model, tmp_path)
    direct = _direct_accuracy(model, _float(mnist_test[0]), mnist_test[1])

    record = {"key": "run0", "layers": _mlp_layers(), "weights_file": "run0.pt", "normalize": None}
    result = evaluate_export(record, tmp_path, mnist_test[0], mnist_test[1])

    assert result["verified"] is True and result["reason"] is None
    assert result["accuracy"] == pytest.approx(direct, abs=1e-6)
    assert result["accuracy"] > 0.8


def test_rebuilt_handwritten_matmul_model_matches(mnist_train, mnist_test, tmp_path: Path) -> None:
    gen = torch.Generator().manual_seed(1)
    w1 = (torch.randn(784, 32, generator=gen) * 0.05).requires_grad_()
    b1 = torch.zeros(32, requires_grad=True)
    w2 = (torch.randn(32, 10, generator=gen) * 0.05).requires_grad_()
    b2 = torch.zeros(10, requires_grad=True)

    def forward(x: torch.Tensor) -> torch.Tensor:
        return torch.tanh(x @ w1 + b1) @ w2 + b2

    _train([w1, b1, w2, b2], forward, _float(mnist_train[0]), mnist_train[1])
    direct = _direct_accuracy(forward, _float(mnist_test[0]), mnist_test[1])
    exported = {  # nn.Linear convention: (out, in)
        "W1": w1.detach().T.contiguous(),
        "b1": b1.detach(),
        "W2": w2.detach().T.contiguous(),
        "b2": b2.detach(),
    }
    torch.save(exported, tmp_path / "hand.pt")
    layers = [
        {"op": "linear", "weight": "W1", "bias": "b1", "in": 784, "out": 32},
        {"op": "tanh"},
        {"op": "identity"},
        {"op": "linear", "weight": "W2", "bias": "b2", "in": 32, "out": 10},
        {"op": "log_softmax"},
    ]
    rebuilt = rebuild(layers, load_weights(tmp_path / "hand.pt"))
    accuracy = measure_accuracy(rebuilt, mnist_test[0], mnist_test[1], None, batch_size=300)

    assert accuracy == pytest.approx(direct, abs=1e-6)
    assert accuracy > 0.8


def _weights() -> dict[str, torch.Tensor]:
    return {
        "0.weight": torch.zeros(64, 784),
        "0.bias": torch.zeros(64),
        "2.weight": torch.zeros(10, 64),
        "2.bias": torch.zeros(10),
    }


def test_shape_mismatch_is_unverifiable() -> None:
    weights = _weights()
    weights["2.weight"] = torch.zeros(10, 128)
    layers = _mlp_layers()
    expected = r"'2\.weight' has shape \(10, 128\) but the trace says \(10, 64\)"
    with pytest.raises(UnverifiableModel, match=expected):
        rebuild(layers, weights)

    layers[2]["in"] = 128  # trace itself no longer chains: 64 out, 128 in
    with pytest.raises(UnverifiableModel, match="takes 128 inputs but the previous linear layer gives 64"):
        rebuild(layers, weights)


def test_missing_key_is_unverifiable() -> None:
    weights = _weights()
    del weights["0.bias"]
    with pytest.raises(UnverifiableModel, match=r"bias '0\.bias' is missing"):
        rebuild(_mlp_layers(), weights)


def test_unsupported_op_is_unverifiable() -> None:
    layers = _mlp_layers()
    layers.insert(1, {"op": "unsupported", "name": "ConvolutionBackward0"})
    with pytest.raises(UnverifiableModel, match=r"layer 1 is unsupported \(ConvolutionBackward0\)"):
        rebuild(layers, _weights())
    with pytest.raises(UnverifiableModel, match="unsupported"):
        gradient_flow(layers, torch.zeros(4, 28, 28, dtype=torch.uint8), torch.zeros(4, dtype=torch.long))
    with pytest.raises(UnverifiableModel, match="no linear layer"):
        rebuild([{"op": "relu"}], {})


def _side_effect(path: str) -> None:
    Path(path).write_text("unpickled!")


class _Evil:
    def __init__(self, path: str) -> None:
        self.path = path

    def __reduce__(self):
        return (_side_effect, (self.path,))


def test_pickle_with_object_is_refused_without_executing_it(tmp_path: Path) -> None:
    sentinel = tmp_path / "sentinel.txt"
    bad = tmp_path / "evil.pt"
    torch.save({"0.weight": torch.zeros(2, 2), "payload": _Evil(str(sentinel))}, bad)
    assert not sentinel.exists()

    with pytest.raises(UnverifiableModel, match="evil.pt") as info:
        load_weights(bad)
    assert "could not be loaded safely" in str(info.value)
    assert isinstance(info.value, GraderError)
    assert not sentinel.exists(), "the object was unpickled"

    record = {"key": "r", "layers": _mlp_layers(), "weights_file": "evil.pt", "normalize": None}
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


def test_evaluate_export_reports_missing_file_and_shape_problem(tmp_path: Path) -> None:
    images, labels = torch.zeros(3, 28, 28, dtype=torch.uint8), torch.zeros(3, dtype=torch.long)
    record = {"key": "r", "layers": _mlp_layers(), "weights_file": "nope.pt", "normalize": None}
    result = evaluate_export(record, tmp_path, images, labels)
    assert result["verified"] is False and result["accuracy"] is None
    assert "nope.pt does not exist" in result["reason"]

    weights = _weights()
    weights["0.weight"] = torch.zeros(64, 100)
    torch.save(weights, tmp_path / "w.pt")
    result = evaluate_export({**record, "weights_file": "w.pt"}, tmp_path, images, labels)
    assert result["verified"] is False
    assert "'0.weight' has shape (64, 100) but the trace says (64, 784)" in result["reason"]


def test_normalize_changes_accuracy_as_expected(mnist_train, mnist_test, tmp_path: Path) -> None:
    norm = (MEAN, STD)
    model = _trained_sequential(mnist_train, normalize=norm)
    _export_sequential(model, tmp_path)
    direct = _direct_accuracy(model, _float(mnist_test[0], norm), mnist_test[1])
    record = {"key": "run0", "layers": _mlp_layers(), "weights_file": "run0.pt", "normalize": list(norm)}

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


def _deep(act: str, hidden: int = 6, width: int = 256) -> list[dict]:
    layers: list[dict] = []
    prev = 784
    for i in range(hidden):
        layers.append({"op": "linear", "weight": f"{i}.w", "bias": f"{i}.b", "in": prev, "out": width})
        layers.append({"op": act})
        prev = width
    layers.append({"op": "linear", "weight": "out.w", "bias": "out.b", "in": prev, "out": 10})
    return layers


def test_gradient_flow_sigmoid_vanishes_relu_does_not(mnist_train) -> None:
    images, labels = mnist_train
    sig = gradient_flow(_deep("sigmoid"), images, labels)
    relu = gradient_flow(_deep("relu"), images, labels)
    assert len(sig) == len(relu) == 7
    r_sig, r_relu = vanishing_ratio(sig), vanishing_ratio(relu)
    print(f"vanishing_ratio sigmoid={r_sig:.3e} relu={r_relu:.3e}")
    assert r_sig is not None and r_sig < 1e-3
    assert r_relu is not None and r_relu > 1e-2
    # Deterministic for a given seed.
    assert gradient_flow(_deep("sigmoid"), images, labels) == sig


def test_gradient_flow_leaves_global_rng_untouched(mnist_train) -> None:
    torch.manual_seed(1234)
    before = torch.random.get_rng_state().clone()
    expected_next = torch.rand(3)
    torch.random.set_rng_state(before)

    gradient_flow(_deep("relu", hidden=2), *mnist_train, seed=7)

    assert torch.equal(torch.random.get_rng_state(), before)
    assert torch.equal(torch.rand(3), expected_next)


def test_gradient_flow_softmax_outputs_and_vanishing_ratio_edges(mnist_train) -> None:
    for last in ("softmax", "log_softmax"):
        norms = gradient_flow(_deep("relu", hidden=1) + [{"op": last}], *mnist_train, batch_size=10)
        assert len(norms) == 2 and all(n > 0 for n in norms)
    assert vanishing_ratio([1.0]) is None
    assert vanishing_ratio([1.0, 0.0]) is None
    assert vanishing_ratio([1.0, 4.0]) == 0.25


def test_every_activation_matches_torch_modules() -> None:
    torch.manual_seed(3)
    acts = [
        ("relu", {}, nn.ReLU()),
        ("sigmoid", {}, nn.Sigmoid()),
        ("tanh", {}, nn.Tanh()),
        ("leaky_relu", {"negative_slope": 0.2}, nn.LeakyReLU(0.2)),
        ("elu", {"alpha": 0.5}, nn.ELU(0.5)),
        ("gelu", {}, nn.GELU()),
        ("silu", {}, nn.SiLU()),
        ("identity", {}, nn.Dropout(0.5)),
    ]
    modules: list[nn.Module] = [nn.Flatten()]
    layers: list[dict] = []
    weights: dict[str, torch.Tensor] = {}
    width = 784
    for i, (op, params, module) in enumerate(acts):
        linear = nn.Linear(width, 16, bias=i % 2 == 0)
        weights[f"w{i}"] = linear.weight.detach().clone()
        if linear.bias is not None:
            weights[f"b{i}"] = linear.bias.detach().clone()
        bias_key = f"b{i}" if linear.bias is not None else None
        layers += [{"op": "linear", "weight": f"w{i}", "bias": bias_key, "in": width, "out": 16}]
        layers += [{"op": op, **params}]
        modules += [linear, module]
        width = 16
    layers.append({"op": "softmax"})
    model = nn.Sequential(*modules, nn.Softmax(dim=1)).eval()
    x = torch.rand(5, 28, 28)
    with torch.no_grad():
        assert torch.allclose(rebuild(layers, weights)(x), model(x), atol=1e-6)

    with pytest.raises(UnverifiableModel, match=r"layer 1: leaky_relu has an invalid 'negative_slope'"):
        rebuild([layers[0], {"op": "leaky_relu", "negative_slope": "x"}], weights)
    with pytest.raises(UnverifiableModel, match="layer 0 has unknown op 'conv2d'"):
        rebuild([{"op": "conv2d"}], weights)
