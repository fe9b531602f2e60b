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


def trace_graph(loss: torch.Tensor) -> dict[str, Any]:
    """Walk the autograd graph of one loss down its main chain: affine layers and activations.

    Works for any model (Sequential, custom Module, ModuleList, hand-written ``x @ W + b``)
    because it looks at what was computed, not at how the code was organised.
    """
    node, loss_kind, top = loss.grad_fn, None, []
    # find the loss node near the top (a mean / regulariser may sit above it)
    frontier: list[Any] = [node] if node is not None else []
    seen = 0
    while frontier and seen < 50:
        n = frontier.pop(0)
        seen += 1
        if type(n).__name__ in _LOSSES:
            node, loss_kind = n, _LOSSES[type(n).__name__]
            break
        frontier.extend(f for f, _ in n.next_functions if f is not None)
    layers: list[dict[str, Any]] = []
    weights: list[tuple[torch.Tensor, bool]] = []
    biases: list[torch.Tensor | None] = []
    param_ids: set[int] = set()
    pending_bias, batch, first = None, None, True
    for _ in range(10000):
        if node is None:
            break
        name = type(node).__name__
        params: list[Any] = []
        data: list[Any] = []
        for f, _ in node.next_functions:
            if f is None:
                continue
            p = _param_of(f)
            (params if p else data).append(p or f)
        for p, _ in params:
            param_ids.add(id(p))
        if first and loss_kind is not None:
            first = False
            top.append(name)
            if loss_kind == "nll" and data and type(data[0]).__name__ == "LogSoftmaxBackward0":
                loss_kind, node = "cross_entropy", data[0]
                data = [f for f, _ in node.next_functions if f is not None]
            node = data[0] if data else None
            continue
        if name in _ACTIVATIONS:
            op: dict[str, Any] = {"op": _ACTIVATIONS[name]}
            if name == "LeakyReluBackward0":
                op["negative_slope"] = float(getattr(node, "_saved_negative_slope", 0.01))
            layers.append(op)
        elif name in ("AddmmBackward0", "MmBackward0") and any(p.dim() == 2 for p, _ in params):
            w, stored = next((p, s) for p, s in params if p.dim() == 2)
            b = next((p for p, _ in params if p.dim() == 1), None)
            b = pending_bias if b is None else b
            pending_bias = None
            out_f, in_f = (w.shape[0], w.shape[1]) if stored else (w.shape[1], w.shape[0])
            layers.append({"op": "linear", "in": int(in_f), "out": int(out_f), "bias": b is not None})
            weights.append((w, stored))
            biases.append(b)
            saved = getattr(node, "_saved_mat1", None) if name == "AddmmBackward0" else \
                getattr(node, "_saved_self", None)
            if isinstance(saved, torch.Tensor) and saved.dim() == 2:
                batch = int(saved.shape[0])
        elif name == "AddBackward0" and len(params) == 1 and data and params[0][0].numel() > 0:
            pending_bias = params[0][0]
        elif name not in _PASSTHROUGH:
            layers.append({"op": "unsupported", "name": name})
        if len(data) > 1:
            layers.append({"op": "unsupported", "name": f"branch at {name}"})
        node = data[0] if data else None
    layers.reverse()
    weights.reverse()
    biases.reverse()
    return {"layers": layers, "weights": weights, "biases": biases, "param_ids": param_ids,
            "loss": loss_kind, "batch": batch}


