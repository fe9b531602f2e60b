"""In the kernel: the architecture of whatever produced a loss, read off its autograd graph.

Imports only the standard library and torch. Walking from the loss down the graph's main chain,
``AddmmBackward0``/``MmBackward0`` with a leaf parameter is an affine layer and ``ReluBackward0``,
``SigmoidBackward0``, ... are activations. This sees Sequential, custom Modules, ModuleList loops
and hand-written ``x @ W + b`` alike, because it looks at what was computed, not at how the code
was organised, and it hands back the parameter tensors of each layer for the export.
"""

from __future__ import annotations

from typing import Any

import torch

_ACTIVATIONS = {
    "ReluBackward0": "relu", "SigmoidBackward0": "sigmoid", "TanhBackward0": "tanh",
    "LeakyReluBackward0": "leaky_relu", "EluBackward0": "elu", "GeluBackward0": "gelu",
    "SiluBackward0": "silu", "SoftmaxBackward0": "softmax", "LogSoftmaxBackward0": "log_softmax",
}
_PASSTHROUGH = {
    "ViewBackward0", "ReshapeAliasBackward0", "UnsafeViewBackward0", "CloneBackward0",
    "SqueezeBackward0", "SqueezeBackward1", "UnsqueezeBackward0", "ExpandBackward0",
    "ToCopyBackward0", "NativeDropoutBackward0", "FlattenBackward0",
}
_LOSSES = {
    "NllLossBackward0": "nll", "MseLossBackward0": "mse", "BinaryCrossEntropyBackward0": "bce",
    "BinaryCrossEntropyWithLogitsBackward0": "bce_logits", "L1LossBackward0": "l1",
    "SmoothL1LossBackward0": "smooth_l1", "HuberLossBackward0": "huber",
}
_WEIGHT_VIEWS = {"TBackward0", "TransposeBackward0", "PermuteBackward0"}


def _param_of(fn: Any) -> tuple[torch.Tensor, bool] | None:
    """(leaf parameter, stored-as-(out,in)) if this graph input is a trainable leaf."""
    name = type(fn).__name__
    if name == "AccumulateGrad":
        return fn.variable, False
    if name in _WEIGHT_VIEWS and fn.next_functions:
        inner = fn.next_functions[0][0]
        if inner is not None and type(inner).__name__ == "AccumulateGrad":
            return inner.variable, True
    return None


def _find_loss(root: Any) -> tuple[Any, str | None]:
    """The loss node near the top (a mean or a regulariser may sit above it), or the root itself."""
    frontier: list[Any] = [root] if root is not None else []
    for _ in range(50):
        if not frontier:
            break
        n = frontier.pop(0)
        if type(n).__name__ in _LOSSES:
            return n, _LOSSES[type(n).__name__]
        frontier.extend(f for f, _ in n.next_functions if f is not None)
    return root, None


def _inputs(node: Any) -> tuple[list[tuple[torch.Tensor, bool]], list[Any]]:
    """A node's inputs split into trainable leaf parameters and the data path(s)."""
    params, data = [], []
    for f, _ in node.next_functions:
        if f is not None:
            p = _param_of(f)
            if p:
                params.append(p)
            else:
                data.append(f)
    return params, data


class _Walk:
    """What the walk down the main chain has seen so far (output side first)."""

    def __init__(self) -> None:
        self.layers: list[dict[str, Any]] = []
        self.weights: list[tuple[torch.Tensor, bool]] = []
        self.biases: list[torch.Tensor | None] = []
        self.param_ids: set[int] = set()
        self.pending_bias: torch.Tensor | None = None
        self.batch: int | None = None

    def affine(self, node: Any, name: str, params: list[tuple[torch.Tensor, bool]]) -> None:
        w, stored = next((p, s) for p, s in params if p.dim() == 2)
        b = next((p for p, _ in params if p.dim() == 1), None)
        b, self.pending_bias = (self.pending_bias if b is None else b), None
        out_f, in_f = (w.shape[0], w.shape[1]) if stored else (w.shape[1], w.shape[0])
        self.layers.append({"op": "linear", "in": int(in_f), "out": int(out_f), "bias": b is not None})
        self.weights.append((w, stored))
        self.biases.append(b)
        saved = getattr(node, "_saved_mat1" if name == "AddmmBackward0" else "_saved_self", None)
        if isinstance(saved, torch.Tensor) and saved.dim() == 2:
            self.batch = int(saved.shape[0])

    def visit(self, node: Any) -> Any:
        """Record one node; return the next node down the main chain (None at the input)."""
        name = type(node).__name__
        params, data = _inputs(node)
        self.param_ids.update(id(p) for p, _ in params)
        if name in _ACTIVATIONS:
            op: dict[str, Any] = {"op": _ACTIVATIONS[name]}
            if name == "LeakyReluBackward0":
                op["negative_slope"] = float(getattr(node, "_saved_negative_slope", 0.01))
            self.layers.append(op)
        elif name in ("AddmmBackward0", "MmBackward0") and any(p.dim() == 2 for p, _ in params):
            self.affine(node, name, params)
        elif name == "AddBackward0" and len(params) == 1 and data and params[0][0].numel() > 0:
            self.pending_bias = params[0][0]  # x @ W + b: the bias sits above its matmul
        elif name not in _PASSTHROUGH:
            self.layers.append({"op": "unsupported", "name": name})
        if len(data) > 1:
            self.layers.append({"op": "unsupported", "name": f"branch at {name}"})
        return data[0] if data else None


def trace_graph(loss: torch.Tensor) -> dict[str, Any]:
    """Walk the autograd graph of one loss down its main chain: affine layers and activations.

    Works for any model (Sequential, custom Module, ModuleList, hand-written ``x @ W + b``)
    because it looks at what was computed, not at how the code was organised.
    """
    node, loss_kind = _find_loss(loss.grad_fn)
    if loss_kind is not None:  # step below the loss; CrossEntropy = NLL over a log-softmax
        data = _inputs(node)[1]
        if loss_kind == "nll" and data and type(data[0]).__name__ == "LogSoftmaxBackward0":
            loss_kind, data = "cross_entropy", _inputs(data[0])[1]
        node = data[0] if data else None
    walk = _Walk()
    for _ in range(10000):
        if node is None:
            break
        node = walk.visit(node)
    return {"layers": walk.layers[::-1], "weights": walk.weights[::-1], "biases": walk.biases[::-1],
            "param_ids": walk.param_ids, "loss": loss_kind, "batch": walk.batch}
