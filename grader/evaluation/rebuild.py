"""Rebuild a student's MLP from its recorded layer trace and measure its accuracy ourselves.

The probe inside the student's kernel exports two things per trained model:

* ``layers`` -- a JSON-able list of layer specs in forward order (see :func:`rebuild`);
* a weights file -- a plain ``dict[str, Tensor]`` written with ``torch.save``.

The grader never unpickles student objects: weights are loaded with ``weights_only=True``
and the forward pass is rebuilt here from pure tensor operations.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor

from grader.errors import GraderError

Forward = Callable[[Tensor], Tensor]


class UnverifiableModel(GraderError):
    """The exported model cannot be rebuilt or loaded, so its accuracy cannot be verified."""

    def __init__(self, reason: str) -> None:
        super().__init__(f"model cannot be verified: {reason}")
        self.reason = reason


def _identity(x: Tensor) -> Tensor:
    return x


#: Parameter-free activation ops ("identity" stands for dropout and the like at eval time).
_SIMPLE: dict[str, Forward] = {
    "relu": F.relu,
    "sigmoid": torch.sigmoid,
    "tanh": torch.tanh,
    "gelu": F.gelu,
    "silu": F.silu,
    "softmax": partial(F.softmax, dim=1),
    "log_softmax": partial(F.log_softmax, dim=1),
    "identity": _identity,
}
#: Activation ops with one float parameter: op -> (spec field, default).
_PARAMETRIC: dict[str, tuple[str, float]] = {"leaky_relu": ("negative_slope", 0.01), "elu": ("alpha", 1.0)}

SUPPORTED_OPS: frozenset[str] = frozenset({"linear", *_SIMPLE, *_PARAMETRIC})


def activation(spec: dict[str, Any]) -> Forward:
    """The function for a non-linear (activation or identity) layer spec."""
    op = spec["op"]
    if op in _SIMPLE:
        return _SIMPLE[op]
    if op not in _PARAMETRIC:
        raise UnverifiableModel(f"unknown op {op!r}")
    field, default = _PARAMETRIC[op]
    value = spec.get(field, default)
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise UnverifiableModel(f"{op} has an invalid {field!r}: {value!r}")
    if op == "leaky_relu":
        return partial(F.leaky_relu, negative_slope=float(value))
    return partial(F.elu, alpha=float(value))


def load_weights(path: Path) -> dict[str, Tensor]:
    """Load a ``dict[str, Tensor]`` saved with ``torch.save`` without unpickling arbitrary objects.

    Uses ``torch.load(..., weights_only=True, map_location="cpu")``, so a file that contains
    anything but tensors and plain containers is refused before any object is constructed.
    Raises :class:`UnverifiableModel` naming the file on any failure.
    """
    path = Path(path)
    try:
        obj = torch.load(path, weights_only=True, map_location="cpu")
    except Exception as exc:  # noqa: BLE001 - any failure means the file is unusable
        first_line = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise UnverifiableModel(
            f"weights file {path.name} could not be loaded safely ({type(exc).__name__}: {first_line})"
        ) from exc
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


def _shape(t: Tensor) -> str:
    return "(" + ", ".join(str(d) for d in t.shape) + ")"


def _tensor(weights: dict[str, Tensor], key: Any, what: str, index: int) -> Tensor:
    if not isinstance(key, str):
        raise UnverifiableModel(f"layer {index}: {what} key {key!r} is not a string")
    if key not in weights:
        raise UnverifiableModel(f"layer {index}: {what} {key!r} is missing from the weights file")
    t = weights[key]
    if not t.is_floating_point():
        raise UnverifiableModel(f"{what} {key!r} has non-float dtype {t.dtype}")
    if not torch.isfinite(t).all():
        raise UnverifiableModel(f"{what} {key!r} contains NaN or infinite values")
    return t.detach().to(device="cpu", dtype=torch.float32)


def _int(spec: dict[str, Any], field: str, index: int) -> int:
    value = spec.get(field)
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise UnverifiableModel(f"layer {index} (linear) has an invalid {field!r}: {value!r}")
    return value


def validate_layers(layers: list[dict[str, Any]]) -> None:
    """Check that every op in ``layers`` is supported and that linear ``in``/``out`` chain up.

    Checks only the trace itself (no tensors); raises :class:`UnverifiableModel` otherwise.
    """
    if not isinstance(layers, list) or not layers:
        raise UnverifiableModel("the trace has no layers")
    previous_out: int | None = None
    for i, spec in enumerate(layers):
        if not isinstance(spec, dict) or "op" not in spec:
            raise UnverifiableModel(f"layer {i} is not a layer spec: {spec!r}")
        op = spec["op"]
        if op == "unsupported":
            raise UnverifiableModel(f"layer {i} is unsupported ({spec.get('name', 'unknown')})")
        if op not in SUPPORTED_OPS:
            raise UnverifiableModel(f"layer {i} has unknown op {op!r}")
        if op != "linear":
            try:
                activation(spec)
            except UnverifiableModel as exc:
                raise UnverifiableModel(f"layer {i}: {exc.reason}") from None
            continue
        n_in, n_out = _int(spec, "in", i), _int(spec, "out", i)
        if previous_out is not None and n_in != previous_out:
            raise UnverifiableModel(
                f"layer {i} (linear) takes {n_in} inputs but the previous linear layer gives {previous_out}"
            )
        previous_out = n_out
    if previous_out is None:
        raise UnverifiableModel("the trace has no linear layer")


def rebuild(layers: list[dict[str, Any]], weights: dict[str, Tensor]) -> Forward:
    """Rebuild the forward function of an MLP from its layer trace and weights.

    ``layers`` holds, in forward order, ``{"op": "linear", "weight": key, "bias": key | None,
    "in": int, "out": int}`` specs (weight shape ``(out, in)``, bias ``(out,)``) and activation
    specs (``relu``, ``sigmoid``, ``tanh``, ``leaky_relu``, ``elu``, ``gelu``, ``silu``,
    ``softmax``, ``log_softmax``, ``identity``). Returns a function that flattens its input to
    ``(N, in_features)`` and applies the ops in float32. Raises :class:`UnverifiableModel` with a
    specific reason if the trace is unsupported or does not agree with the tensors.
    """
    validate_layers(layers)
    ops: list[Forward] = []
    in_features: int | None = None
    for i, spec in enumerate(layers):
        op = spec["op"]
        if op != "linear":
            ops.append(activation(spec))
            continue
        n_in, n_out = spec["in"], spec["out"]
        if in_features is None:
            in_features = n_in
        w = _tensor(weights, spec.get("weight"), "weight", i)
        if tuple(w.shape) != (n_out, n_in):
            raise UnverifiableModel(
                f"weight {spec['weight']!r} has shape {_shape(w)} but the trace says ({n_out}, {n_in})"
            )
        b: Tensor | None = None
        if spec.get("bias") is not None:
            b = _tensor(weights, spec["bias"], "bias", i)
            if tuple(b.shape) != (n_out,):
                raise UnverifiableModel(
                    f"bias {spec['bias']!r} has shape {_shape(b)} but the trace says ({n_out},)"
                )
        ops.append(partial(F.linear, weight=w, bias=b))
    assert in_features is not None  # validate_layers guarantees a linear layer
    n_features = in_features

    def forward(x: Tensor) -> Tensor:
        x = x.reshape(x.shape[0], -1).to(torch.float32)
        if x.shape[1] != n_features:
            raise UnverifiableModel(
                f"input has {x.shape[1]} features per sample but the first linear layer takes {n_features}"
            )
        for fn in ops:
            x = fn(x)
        return x

    return forward


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


def evaluate_export(
    record: dict[str, Any], export_dir: Path, images: Tensor, labels: Tensor
) -> dict[str, Any]:
    """Rebuild one exported model record and measure its accuracy.

    ``record`` is ``{"key", "layers", "weights_file", "normalize"}``; the weights file is looked up
    in ``export_dir``. Returns ``{"accuracy": float | None, "verified": bool, "reason": str | None}``;
    a model that cannot be rebuilt gives ``accuracy=None``, ``verified=False`` and the reason.
    """
    try:
        name = record.get("weights_file")
        if not isinstance(name, str) or not name:
            raise UnverifiableModel("the export record names no weights file")
        path = (Path(export_dir) / name).resolve()
        if Path(export_dir).resolve() not in path.parents:
            raise UnverifiableModel(f"weights file {name!r} lies outside the export folder")
        if not path.is_file():
            raise UnverifiableModel(f"weights file {name} does not exist")
        normalize = record.get("normalize")
        norm: tuple[float, float] | None = None
        if normalize is not None:
            if not isinstance(normalize, (list, tuple)) or len(normalize) != 2:
                raise UnverifiableModel(f"normalize must be [mean, std] or null, got {normalize!r}")
            norm = (float(normalize[0]), float(normalize[1]))
        forward = rebuild(record.get("layers"), load_weights(path))  # type: ignore[arg-type]
        accuracy = measure_accuracy(forward, images, labels, norm)
    except UnverifiableModel as exc:
        return {"accuracy": None, "verified": False, "reason": exc.reason}
    except (RuntimeError, ValueError, TypeError) as exc:
        return {"accuracy": None, "verified": False, "reason": f"forward pass failed: {exc}"}
    return {"accuracy": accuracy, "verified": True, "reason": None}
