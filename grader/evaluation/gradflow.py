"""Gradient flow through a freshly initialised copy of a student's architecture.

Used to show, e.g., that a deep Sigmoid MLP's first layer receives vanishingly small gradients at
initialisation while a ReLU MLP of the same shape does not. The copy is the run's traced graph
replayed with fresh tensors (PyTorch's default initialisation for Linear/Conv, ones/zeros for
norms); nothing here touches the student's trained weights, and the global torch RNG state is
left as it was.
"""

from __future__ import annotations

import math
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from grader.evaluation.rebuild import UnverifiableModel, rebuild
from grader.recording.graph import Graph, GraphError, parse_graph


def _fresh(graph: Graph, consts: dict[str, Tensor] | None) -> tuple[dict[str, Tensor], list[str]]:
    """New tensors for every key of the graph; the affine weights' keys in forward order."""
    fresh: dict[str, Tensor] = {}
    weights: list[str] = []
    for n in graph.nodes:
        w, b = n.tensor("weight"), n.tensor("bias")
        if n.kind == "affine" and w is not None:
            shape = graph.tensor_shapes[w]
            t = torch.empty(shape)
            nn.init.kaiming_uniform_(t if n.attrs.get("layout") != "in_out" else t.t(), a=math.sqrt(5))
            fresh[w] = t
            weights.append(w)
            if b is not None:
                fan_in = t[0].numel() if n.attrs.get("layout") != "in_out" else shape[0]
                bound = 1 / math.sqrt(fan_in) if fan_in > 0 else 0.0
                fresh[b] = torch.empty(graph.tensor_shapes[b]).uniform_(-bound, bound)
        elif n.op == "prelu" and w is not None:
            fresh[w] = torch.full(graph.tensor_shapes[w], 0.25)
        elif n.kind == "norm":
            for key, value in ((w, 1.0), (b, 0.0), (n.tensor("running_mean"), 0.0), (n.tensor("running_var"), 1.0)):
                if key is not None:
                    fresh[key] = torch.full(graph.tensor_shapes[key], value)
    for key in graph.tensor_shapes:
        if key not in fresh:
            if consts is None or key not in consts:
                raise UnverifiableModel(f"tensor {key!r} has no fresh initialisation")
            fresh[key] = consts[key].detach().clone()
    return fresh, weights


def gradient_flow(
    graph: dict[str, Any] | Graph,
    images_uint8: Tensor,
    labels: Tensor,
    seed: int = 0,
    batch_size: int = 100,
    consts: dict[str, Tensor] | None = None,
) -> list[float]:
    """L2 norm of each affine layer's weight gradient, in forward order, for one fresh batch.

    Replays ``graph`` with fresh tensors (seeded by ``seed`` inside :func:`torch.random.fork_rng`
    so the global RNG is untouched; BatchNorm with batch statistics, Dropout off), feeds it the
    first ``batch_size`` images scaled to ``[0, 1]``, takes the cross-entropy of the output
    (``nll_loss`` if it ends in ``log_softmax``, ``nll_loss(log(p))`` if in ``softmax``) and
    back-propagates once. ``consts`` supplies tensors that are not parameters (e.g. exported
    constants). Raises :class:`UnverifiableModel` for graphs the grader cannot replay.
    """
    if not isinstance(graph, Graph):
        try:
            graph = parse_graph(graph)
        except GraphError as exc:
            raise UnverifiableModel(exc.reason) from None
    if batch_size <= 0 or images_uint8.shape[0] == 0:
        raise ValueError("gradient_flow needs at least one image")
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        tensors, weights = _fresh(graph, consts)
    for key in weights:
        tensors[key].requires_grad_(True)
    forward = rebuild(graph, tensors, train=True)
    x = images_uint8[:batch_size].to("cpu", torch.float32) / 255.0
    y = labels[:batch_size].to("cpu", torch.long)
    with torch.enable_grad():
        out = forward(x)
        _loss(out, y, graph).backward()
    grads = [tensors[k].grad for k in weights]
    return [float(g.norm()) if g is not None else 0.0 for g in grads]


def _loss(out: Tensor, y: Tensor, graph: Graph) -> Tensor:
    """Cross-entropy of the model's output, whatever its last op (logits, softmax or log-softmax)."""
    last = graph.nodes[graph.output].op
    if out.dim() != 2:
        out = out.reshape(out.shape[0], -1)
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
