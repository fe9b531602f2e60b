"""Gradient flow through a freshly initialised copy of a student's architecture.

Used to show, e.g., that a deep Sigmoid MLP's first layer receives vanishingly small gradients at
initialisation while a ReLU MLP of the same shape does not. Nothing here touches the student's
trained weights, and the global torch RNG state is left as it was.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from grader.evaluation.rebuild import UnverifiableModel, activation, validate_layers


def gradient_flow(
    layers: list[dict[str, Any]],
    images_uint8: Tensor,
    labels: Tensor,
    seed: int = 0,
    batch_size: int = 100,
) -> list[float]:
    """L2 norm of each linear layer's weight gradient, in forward order, for one fresh batch.

    Builds a fresh model with the architecture in ``layers`` (real :class:`torch.nn.Linear`
    modules with PyTorch's default initialisation, seeded by ``seed`` inside
    :func:`torch.random.fork_rng` so the global RNG is untouched), feeds it the first
    ``batch_size`` images scaled to ``[0, 1]``, takes the cross-entropy of the model's output
    (``nll_loss`` if it ends in ``log_softmax``, ``nll_loss(log(p))`` if it ends in ``softmax``)
    and back-propagates once. Raises :class:`UnverifiableModel` for unsupported architectures.
    """
    validate_layers(layers)
    if batch_size <= 0 or images_uint8.shape[0] == 0:
        raise ValueError("gradient_flow needs at least one image")
    linears, ops = _fresh_model(layers, seed)
    x = images_uint8[:batch_size].to("cpu", torch.float32) / 255.0
    x = x.reshape(x.shape[0], -1)
    if x.shape[1] != linears[0].in_features:
        raise UnverifiableModel(
            f"input has {x.shape[1]} features per sample but the first linear layer takes "
            f"{linears[0].in_features}"
        )
    y = labels[:batch_size].to("cpu", torch.long)
    with torch.enable_grad():
        out = x
        for fn in ops:
            out = fn(out)
        _loss(out, y, layers).backward()
    return [float(layer.weight.grad.norm()) if layer.weight.grad is not None else 0.0 for layer in linears]


def _fresh_model(layers: list[dict[str, Any]], seed: int) -> tuple[list[nn.Linear], list[Any]]:
    """Real nn.Linear layers with PyTorch's default init, seeded without touching the global RNG."""
    linears: list[nn.Linear] = []
    ops: list[Any] = []
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        for spec in layers:
            if spec["op"] == "linear":
                # "bias" is a weights key (export) or a flag (training trace): truthy means present
                layer = nn.Linear(spec["in"], spec["out"], bias=bool(spec.get("bias")))
                linears.append(layer)
                ops.append(layer)
            else:
                ops.append(activation(spec))
    return linears, ops


def _loss(out: Tensor, y: Tensor, layers: list[dict[str, Any]]) -> Tensor:
    """Cross-entropy of the model's output, whatever its last op (logits, softmax or log-softmax)."""
    last = next((s["op"] for s in reversed(layers) if s["op"] != "identity"), "linear")
    if last == "log_softmax":
        return F.nll_loss(out, y)
    if last == "softmax":
        return F.nll_loss(torch.log(out + 1e-12), y)
    return F.cross_entropy(out, y)


def vanishing_ratio(norms: list[float]) -> float | None:
    """First layer's gradient norm divided by the last layer's; ``None`` if undefined.

    Undefined means fewer than two layers or a last-layer norm of zero.
    """
    if len(norms) < 2 or norms[-1] == 0:
        return None
    return norms[0] / norms[-1]
