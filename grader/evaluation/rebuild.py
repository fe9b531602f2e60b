"""Replay a student's model from its traced op graph and measure its accuracy ourselves.

The probe inside the student's kernel exports two things per trained model:

* ``graph`` -- the JSON op graph traced from the run's autograd graph (``grader.recording.graph``);
* a weights file -- a plain ``dict[str, Tensor]`` written with ``torch.save``.

The grader never unpickles student objects and never runs student Python: tensors are loaded with
``weights_only=True`` and the forward pass is replayed node by node through :data:`REPLAY`, an
allow-list of tensor operations keyed by the op names of :data:`grader.recording.graph.OPS`.
In eval mode (the default) Dropout is the identity and BatchNorm uses its running statistics.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor

from grader.errors import GraderError
from grader.recording.graph import Graph, GraphError, Node, parse_graph

Forward = Callable[[Tensor], Tensor]


class UnverifiableModel(GraderError):
    """The exported model cannot be rebuilt or loaded, so its accuracy cannot be verified."""

    def __init__(self, reason: str) -> None:
        super().__init__(f"model cannot be verified: {reason}")
        self.reason = reason


def error_line(exc: BaseException) -> str:
    """``Type: first line of the message`` (torch appends C++ stack frames that nobody should read)."""
    text = str(exc).strip()
    return f"{type(exc).__name__}: {text.splitlines()[0]}" if text else type(exc).__name__


def safe_load(path: Path, data: bytes | None = None) -> Any:
    """``torch.load(..., weights_only=True, map_location="cpu")`` of ``path`` (or of its bytes, already read).

    Only tensors and plain containers/numbers are constructed; anything else is refused before any
    object is built. Raises :class:`UnverifiableModel` naming the file on any failure.
    """
    try:
        return torch.load(io.BytesIO(data) if data is not None else path, weights_only=True, map_location="cpu")
    except Exception as exc:  # noqa: BLE001 - any failure means the file is unusable
        raise UnverifiableModel(f"weights file {path.name} could not be loaded safely ({error_line(exc)})") from exc


def load_weights(path: Path) -> dict[str, Tensor]:
    """Load a ``dict[str, Tensor]`` saved with ``torch.save`` without unpickling arbitrary objects.

    Uses ``torch.load(..., weights_only=True, map_location="cpu")``, so a file that contains
    anything but tensors and plain containers is refused before any object is constructed.
    Raises :class:`UnverifiableModel` naming the file on any failure.
    """
    path = Path(path)
    obj = safe_load(path)
    if not isinstance(obj, dict):
        raise UnverifiableModel(
            f"weights file {path.name} holds a {type(obj).__name__}, not a dict of tensors"
        )
    weights: dict[str, Tensor] = {}
    for key, value in obj.items():
        if not isinstance(key, str):
            raise UnverifiableModel(f"weights file {path.name} has a non-string key {key!r}")
        if not isinstance(value, Tensor):
            raise UnverifiableModel(
                f"weights file {path.name}: value under {key!r} is a {type(value).__name__}, not a tensor"
            )
        weights[key] = value
    return weights


Op = Callable[[list[Tensor], Node, dict[str, Tensor], bool], Tensor]


def _t(tensors: dict[str, Tensor], node: Node, attr: str) -> Tensor | None:
    key = node.tensor(attr)
    return tensors[key] if key is not None else None


def _linear(xs: list[Tensor], n: Node, ts: dict[str, Tensor], train: bool) -> Tensor:
    w = _t(ts, n, "weight")
    assert w is not None
    return F.linear(xs[0], w.t() if n.attrs["layout"] == "in_out" else w, _t(ts, n, "bias"))


def _conv(xs: list[Tensor], n: Node, ts: dict[str, Tensor], train: bool) -> Tensor:
    w, a = _t(ts, n, "weight"), n.attrs
    assert w is not None
    fn = {3: F.conv1d, 4: F.conv2d, 5: F.conv3d}.get(w.dim())
    if fn is None:
        raise UnverifiableModel(f"a conv weight of {w.dim()} dimensions")
    return fn(xs[0], w, _t(ts, n, "bias"), a["stride"], a["padding"], a["dilation"], a["groups"])  # type: ignore[operator]


def _batch_norm(xs: list[Tensor], n: Node, ts: dict[str, Tensor], train: bool) -> Tensor:
    rm, rv = _t(ts, n, "running_mean"), _t(ts, n, "running_var")
    batch_stats = train or rm is None or rv is None  # torch's rule: no running statistics -> batch statistics
    return F.batch_norm(xs[0], None if batch_stats else rm, None if batch_stats else rv, _t(ts, n, "weight"),
                        _t(ts, n, "bias"), training=batch_stats, eps=float(n.attrs["eps"]))


def _layer_norm(xs: list[Tensor], n: Node, ts: dict[str, Tensor], train: bool) -> Tensor:
    return F.layer_norm(xs[0], n.attrs["normalized_shape"], _t(ts, n, "weight"), _t(ts, n, "bias"),
                        float(n.attrs["eps"]))


def _pool(xs: list[Tensor], n: Node, ts: dict[str, Tensor], train: bool) -> Tensor:
    a, dims = n.attrs, xs[0].dim() - 2
    if n.op == "max_pool":
        fn = {1: F.max_pool1d, 2: F.max_pool2d, 3: F.max_pool3d}[dims]
        return fn(xs[0], a["kernel_size"], a["stride"], a["padding"], a["dilation"], ceil_mode=a["ceil_mode"])  # type: ignore[operator]
    if n.op == "avg_pool":
        return F.avg_pool2d(xs[0], a["kernel_size"], a["stride"], a["padding"], a["ceil_mode"],
                            a["count_include_pad"], a["divisor_override"])
    size = tuple(n.shape[1:]) if n.shape else None
    if not size:
        raise UnverifiableModel(f"{n.op} without an output size")
    fn2 = F.adaptive_avg_pool2d if n.op == "adaptive_avg_pool" else F.adaptive_max_pool2d
    return fn2(xs[0], size)  # type: ignore[arg-type,no-any-return]


def _reshape(xs: list[Tensor], n: Node, ts: dict[str, Tensor], train: bool) -> Tensor:
    if n.shape is None:
        raise UnverifiableModel("a reshape without a target shape")
    return xs[0].reshape(xs[0].shape[0], *n.shape)


def _merge(xs: list[Tensor], n: Node, ts: dict[str, Tensor], train: bool) -> Tensor:
    other = _t(ts, n, "other")
    a, b = (xs[0], xs[1]) if other is None else ((other, xs[0]) if n.attrs["other_first"] else (xs[0], other))
    alpha = n.attrs["alpha"]
    if n.op == "add":
        return torch.add(a, b, alpha=alpha)
    if n.op == "sub":
        return torch.sub(a, b, alpha=alpha)
    if n.op == "mul":
        return torch.mul(a, b)
    if n.op == "div":
        return torch.div(a, b)
    return torch.maximum(a, b)


def _act(fn: Callable[..., Tensor], *attrs: str) -> Op:
    def apply(xs: list[Tensor], n: Node, ts: dict[str, Tensor], train: bool) -> Tensor:
        return fn(xs[0], *(n.attrs[a] for a in attrs))
    return apply


def _elu(xs: list[Tensor], n: Node, ts: dict[str, Tensor], train: bool) -> Tensor:
    a = n.attrs
    return torch.ops.aten.elu(xs[0], a["alpha"], a["scale"], a["input_scale"])  # type: ignore[no-any-return]


def _prelu(xs: list[Tensor], n: Node, ts: dict[str, Tensor], train: bool) -> Tensor:
    w = _t(ts, n, "weight")
    assert w is not None
    return F.prelu(xs[0], w)


def _reduce(fn: Callable[..., Tensor]) -> Op:
    def apply(xs: list[Tensor], n: Node, ts: dict[str, Tensor], train: bool) -> Tensor:
        return fn(xs[0], dim=n.attrs["dim"], keepdim=n.attrs["keepdim"])
    return apply


def _first(xs: list[Tensor], n: Node, ts: dict[str, Tensor], train: bool) -> Tensor:
    return xs[0]


#: The allow-list: every op the grader will execute, by the op names of ``grader.recording.graph.OPS``.
REPLAY: dict[str, Op] = {
    "linear": _linear, "conv": _conv, "batch_norm": _batch_norm, "layer_norm": _layer_norm,
    "dropout": _first, "identity": _first, "reshape": _reshape,
    "relu": _act(F.relu), "sigmoid": _act(torch.sigmoid), "tanh": _act(torch.tanh),
    "leaky_relu": _act(F.leaky_relu, "negative_slope"), "elu": _elu, "selu": _act(F.selu),
    "gelu": lambda xs, n, ts, train: F.gelu(xs[0], approximate=n.attrs["approximate"]), "silu": _act(F.silu),
    "softplus": _act(F.softplus, "beta", "threshold"),
    "hardtanh": _act(F.hardtanh, "min_val", "max_val"), "relu6": _act(F.relu6), "prelu": _prelu,
    "mish": _act(F.mish), "hardswish": _act(F.hardswish), "hardsigmoid": _act(F.hardsigmoid),
    "softmax": _act(F.softmax, "dim"), "log_softmax": _act(F.log_softmax, "dim"), "log": _act(torch.log),
    "max_pool": _pool, "avg_pool": _pool, "adaptive_avg_pool": _pool, "adaptive_max_pool": _pool,
    "transpose": _act(torch.transpose, "dim0", "dim1"), "permute": _act(torch.permute, "dims"),
    "add": _merge, "sub": _merge, "mul": _merge, "div": _merge, "maximum": _merge,
    "cat": lambda xs, n, ts, train: torch.cat(xs, n.attrs["dim"]),
    "stack": lambda xs, n, ts, train: torch.stack(xs, n.attrs["dim"]),
    "max_dim": lambda xs, n, ts, train: torch.amax(xs[0], n.attrs["dim"], n.attrs["keepdim"]),
    "mean": _reduce(torch.mean), "sum": _reduce(torch.sum),
}


def _dropout_on(xs: list[Tensor], n: Node, ts: dict[str, Tensor], train: bool) -> Tensor:
    if n.attrs.get("feature"):  # Dropout2d/1d: one draw per channel, as F.dropout2d draws it
        return torch.feature_dropout(xs[0], float(n.attrs["p"]), True)
    return F.dropout(xs[0], float(n.attrs["p"]), training=True)  # CPU: the kernel's own mask draw, same RNG


def _batch_norm_update(xs: list[Tensor], n: Node, ts: dict[str, Tensor], train: bool) -> Tensor:
    """Training-mode BatchNorm that updates the running statistics in place, as the student's step did."""
    momentum = n.attrs.get("momentum")
    if momentum is None and n.tensor("running_mean") is not None:
        raise UnverifiableModel("a BatchNorm with a cumulative moving average (momentum=None)")
    return F.batch_norm(xs[0], _t(ts, n, "running_mean"), _t(ts, n, "running_var"), _t(ts, n, "weight"),
                        _t(ts, n, "bias"), training=True, momentum=float(momentum or 0.1), eps=float(n.attrs["eps"]))


#: Replacements for re-executing training steps (proof of training): Dropout draws masks, BatchNorm updates.
STOCHASTIC: dict[str, Op] = {"dropout": _dropout_on, "batch_norm": _batch_norm_update}


def _shape(t: Tensor) -> str:
    return "(" + ", ".join(str(d) for d in t.shape) + ")"


def _check_tensors(graph: Graph, weights: dict[str, Tensor]) -> dict[str, Tensor]:
    """The graph's tensors from the weights file: present, float, finite, of the traced shapes."""
    out = {}
    for key, shape in graph.tensor_shapes.items():
        if key not in weights:
            raise UnverifiableModel(f"tensor {key!r} is missing from the weights file")
        t = weights[key]
        if not t.is_floating_point():
            raise UnverifiableModel(f"tensor {key!r} has non-float dtype {t.dtype}")
        if tuple(t.shape) != shape:
            raise UnverifiableModel(f"tensor {key!r} has shape {_shape(t)} but the trace says {shape}")
        if not torch.isfinite(t).all():
            raise UnverifiableModel(f"tensor {key!r} contains NaN or infinite values")
        out[key] = t.to(device="cpu", dtype=torch.float32)  # keeps autograd (gradient flow)
    return out


def check_replayable(graph: Graph) -> None:
    """Raise :class:`UnverifiableModel` naming the first op the grader does not execute."""
    for n in graph.nodes:
        if n.op == "unsupported":
            raise UnverifiableModel(f"the model uses an operation outside the grader's allow-list: "
                                    f"{n.attrs.get('name')} (node {n.id})")
        if n.op != "input" and n.op not in REPLAY:
            raise UnverifiableModel(f"op {n.op!r} (node {n.id}) is not replayable")
    if not any(n.kind == "affine" for n in graph.nodes):
        raise UnverifiableModel("the graph has no affine (Linear/Conv) layer")


def rebuild(graph: Graph | dict[str, Any], weights: dict[str, Tensor], train: bool = False,
            stochastic: bool = False) -> Forward:
    """The forward function of a traced model, replayed op by op through :data:`REPLAY`.

    ``graph`` is a parsed :class:`Graph` (or the probe's dict); ``weights`` the tensors by key.
    ``train=False`` is eval mode (Dropout off, BatchNorm running statistics); ``train=True`` uses
    batch statistics (Dropout still off: the grader's replay is deterministic); ``stochastic=True``
    re-executes a training step exactly (Dropout masks drawn from the RNG, BatchNorm running
    statistics updated in ``weights``' tensors). The returned
    function takes a batch of images (any shape with the model's input size per sample), reshapes
    it to each input node's shape and returns the output node's value in float32. Raises
    :class:`UnverifiableModel` with a specific reason if the graph is not replayable or its
    tensors do not match it.
    """
    if not isinstance(graph, Graph):
        try:
            graph = parse_graph(graph)
        except GraphError as exc:
            raise UnverifiableModel(exc.reason) from None
    check_replayable(graph)
    tensors = _check_tensors(graph, weights)
    g = graph
    ops = {**REPLAY, **STOCHASTIC} if stochastic else REPLAY
    train = train or stochastic

    def forward(x: Tensor) -> Tensor:
        x = x.to(torch.float32)
        values: dict[int, Tensor] = {}
        for n in g.nodes:
            if n.op == "input":
                shape = n.shape or ()
                if x[0].numel() != _numel(shape):
                    raise UnverifiableModel(f"input has {x[0].numel()} values per sample but the model takes "
                                            f"{_numel(shape)} ({'×'.join(map(str, shape))})")
                values[n.id] = x.reshape(x.shape[0], *shape)
                continue
            values[n.id] = ops[n.op]([values[i] for i in n.inputs], n, tensors, train)
        return values[g.output]

    return forward


def _numel(shape: tuple[int, ...]) -> int:
    size = 1
    for d in shape:
        size *= d
    return size

def measure_accuracy(
    forward: Forward,
    images_uint8: Tensor,
    labels: Tensor,
    normalize: tuple[float, float] | None,
    batch_size: int = 2000,
) -> float:
    """Top-1 accuracy of ``forward`` on uint8 images ``(N, 28, 28)``, preprocessed like torchvision.

    Images are scaled to ``[0, 1]`` as ``ToTensor`` does (``x / 255``), then ``Normalize(mean, std)``
    is applied when ``normalize`` is given. Runs on CPU under ``torch.no_grad()``.
    """
    n = int(images_uint8.shape[0])
    if n == 0 or n != int(labels.shape[0]):
        raise ValueError(f"need equally many images and labels, got {n} and {int(labels.shape[0])}")
    mean, std = (float(normalize[0]), float(normalize[1])) if normalize is not None else (0.0, 1.0)
    if std == 0.0:
        raise UnverifiableModel("Normalize std is 0")
    labels = labels.to("cpu", torch.long)
    correct = 0
    with torch.no_grad():
        for start in range(0, n, batch_size):
            x = images_uint8[start : start + batch_size].to("cpu", torch.float32) / 255.0
            if normalize is not None:
                x = (x - mean) / std
            out = forward(x)
            correct += int((out.argmax(dim=1) == labels[start : start + batch_size]).sum())
    return correct / n


def weights_path(record: dict[str, Any], export_dir: Path) -> Path:
    """The export record's weights file inside ``export_dir``; :class:`UnverifiableModel` otherwise."""
    name = record.get("weights_file")
    if not isinstance(name, str) or not name:
        raise UnverifiableModel("the export record names no weights file")
    path = (Path(export_dir) / name).resolve()
    if Path(export_dir).resolve() not in path.parents:
        raise UnverifiableModel(f"weights file {name!r} lies outside the export folder")
    if not path.is_file():
        raise UnverifiableModel(f"weights file {name} does not exist")
    return path


def _normalize(record: dict[str, Any]) -> tuple[float, float] | None:
    normalize = record.get("normalize")
    if normalize is None:
        return None
    if not isinstance(normalize, (list, tuple)) or len(normalize) != 2:
        raise UnverifiableModel(f"normalize must be [mean, std] or null, got {normalize!r}")
    return float(normalize[0]), float(normalize[1])


def evaluate_export(
    record: dict[str, Any], export_dir: Path, images: Tensor, labels: Tensor
) -> dict[str, Any]:
    """Replay one exported model record in eval mode and measure its accuracy.

    ``record`` is ``{"key", "graph", "weights_file", "normalize"}``; the weights file is looked up
    in ``export_dir``. Returns ``{"accuracy": float | None, "verified": bool, "reason": str | None}``;
    a model that cannot be replayed gives ``accuracy=None``, ``verified=False`` and the reason.
    """
    try:
        path = weights_path(record, export_dir)
        norm = _normalize(record)
        forward = rebuild(record.get("graph"), load_weights(path))  # type: ignore[arg-type]
        accuracy = measure_accuracy(forward, images, labels, norm)
    except UnverifiableModel as exc:
        return {"accuracy": None, "verified": False, "reason": exc.reason}
    except (RuntimeError, ValueError, TypeError, IndexError, KeyError) as exc:
        return {"accuracy": None, "verified": False, "reason": f"forward pass failed: {error_line(exc)}"}
    return {"accuracy": accuracy, "verified": True, "reason": None}
