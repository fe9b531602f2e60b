"""In the kernel: whatever produced a loss, read off its autograd graph as a replayable op graph.

Imports only the standard library and torch. Walking from the loss through every backward node
gives the forward computation of the step, however the code was organised (Sequential, custom
Modules, ModuleList loops, ``F.*`` calls, hand-written ``x @ W + b``): one JSON-able node per
forward op, in topological order, with its data inputs, its output shape (batch dimension dropped)
and the parameters, buffers and constants it used (by key). The grader replays these nodes through
its own allow-list of ops; a node the probe does not know is kept as ``unsupported`` with its name,
and the walk goes on through its inputs so the layers around it can still be read.
"""

from __future__ import annotations

from typing import Any

import torch

_LOSSES = {
    "NllLossBackward0": "nll", "MseLossBackward0": "mse", "BinaryCrossEntropyBackward0": "bce",
    "BinaryCrossEntropyWithLogitsBackward0": "bce_logits", "L1LossBackward0": "l1",
    "SmoothL1LossBackward0": "smooth_l1", "HuberLossBackward0": "huber",
}
#: backward node -> (op, {attr: saved field}) for ops on one data input with scalar attributes
_UNARY: dict[str, tuple[str, dict[str, str]]] = {
    "ReluBackward0": ("relu", {}), "ReluBackward1": ("relu", {}), "SigmoidBackward0": ("sigmoid", {}),
    "SigmoidBackward1": ("sigmoid", {}), "TanhBackward0": ("tanh", {}), "TanhBackward1": ("tanh", {}),
    "LeakyReluBackward0": ("leaky_relu", {"negative_slope": "_saved_negative_slope"}),
    "LeakyReluBackward1": ("leaky_relu", {"negative_slope": "_saved_negative_slope"}),
    "EluBackward0": ("elu", {"alpha": "_saved_alpha", "scale": "_saved_scale", "input_scale": "_saved_input_scale"}),
    "EluBackward1": ("elu", {"alpha": "_saved_alpha", "scale": "_saved_scale", "input_scale": "_saved_input_scale"}),
    "GeluBackward0": ("gelu", {"approximate": "_saved_approximate"}), "SiluBackward0": ("silu", {}),
    "SoftplusBackward0": ("softplus", {"beta": "_saved_beta", "threshold": "_saved_threshold"}),
    "HardtanhBackward0": ("hardtanh", {"min_val": "_saved_min_val", "max_val": "_saved_max_val"}),
    "HardtanhBackward1": ("hardtanh", {"min_val": "_saved_min_val", "max_val": "_saved_max_val"}),
    "MishBackward0": ("mish", {}), "HardswishBackward0": ("hardswish", {}),
    "HardsigmoidBackward0": ("hardsigmoid", {}),
    "SoftmaxBackward0": ("softmax", {"dim": "_saved_dim"}), "LogBackward0": ("log", {}),
    "LogSoftmaxBackward0": ("log_softmax", {"dim": "_saved_dim"}),
    "MaxPool2DWithIndicesBackward0": ("max_pool", {"kernel_size": "_saved_kernel_size", "stride": "_saved_stride",
                                                   "padding": "_saved_padding", "dilation": "_saved_dilation",
                                                   "ceil_mode": "_saved_ceil_mode"}),
    "AvgPool2DBackward0": ("avg_pool", {"kernel_size": "_saved_kernel_size", "stride": "_saved_stride",
                                        "padding": "_saved_padding", "ceil_mode": "_saved_ceil_mode",
                                        "count_include_pad": "_saved_count_include_pad",
                                        "divisor_override": "_saved_divisor_override"}),
    "AdaptiveAvgPool2DBackward0": ("adaptive_avg_pool", {}), "AdaptiveMaxPool2DBackward0": ("adaptive_max_pool", {}),
    "MaxBackward0": ("max_dim", {"dim": "_saved_dim", "keepdim": "_saved_keepdim"}),
    "MeanBackward1": ("mean", {"dim": "_saved_dim", "keepdim": "_saved_keepdim"}),
    "SumBackward1": ("sum", {"dim": "_saved_dim", "keepdim": "_saved_keepdim"}),
    "TransposeBackward0": ("transpose", {"dim0": "_saved_dim0", "dim1": "_saved_dim1"}),
    "PermuteBackward0": ("permute", {"dims": "_saved_dims"}),
    "NativeDropoutBackward0": ("dropout", {"scale": "_saved_scale"}),
}
_RESHAPES = {"ViewBackward0", "UnsafeViewBackward0", "ReshapeAliasBackward0", "SqueezeBackward0",
             "SqueezeBackward1", "SqueezeBackward2", "UnsqueezeBackward0", "FlattenBackward0"}
_IDENTITY = {"CloneBackward0", "ToCopyBackward0", "AliasBackward0", "ContiguousBackward0"}
_BATCH_NORMS = {"NativeBatchNormBackward0": "_saved_eps", "CudnnBatchNormBackward0": "_saved_epsilon",
                "MiopenBatchNormBackward0": "_saved_epsilon"}
_MERGES = {"AddBackward0": "add", "SubBackward0": "sub", "MulBackward0": "mul", "DivBackward0": "div",
           "MaximumBackward0": "maximum"}
_WEIGHT_VIEWS = {"TBackward0", "TransposeBackward0", "PermuteBackward0"}
_PARAM_VIEWS = {"ViewBackward0", "ReshapeAliasBackward0", "UnsafeViewBackward0", "ExpandBackward0"}
_CONST_LIMIT = 1 << 16  # a saved constant larger than this is not exported (the node becomes unsupported)


def _plain(v: Any) -> Any:
    """A saved attribute as JSON: ints, floats, bools, strings, lists of them."""
    if isinstance(v, torch.Tensor) and v.numel() == 1:
        return v.item()
    if isinstance(v, (list, tuple)):
        return [_plain(x) for x in v]
    if isinstance(v, torch.SymInt):
        v = int(v)
    if isinstance(v, int) and not isinstance(v, bool) and v >= 1 << 63:
        return v - (1 << 64)  # a negative dim (``max(-1)``) is saved as an unsigned 64-bit int
    return v if isinstance(v, (int, float, bool, str)) or v is None else repr(v)


def _leaf(fn: Any) -> tuple[torch.Tensor, bool] | None:
    """(leaf parameter, transposed) if this graph input is a trainable leaf, maybe seen through views.

    ``F.linear(x, W.t())`` of a plain ``(in, out)`` tensor reaches the leaf through two transposes:
    the parity of the transposes on the way says the layout.
    """
    transposed = False
    for _ in range(4):
        name = type(fn).__name__
        if name == "AccumulateGrad":
            return fn.variable, transposed
        if name not in _WEIGHT_VIEWS | _PARAM_VIEWS or not fn.next_functions or len(fn.next_functions) != 1:
            return None
        transposed ^= name in _WEIGHT_VIEWS
        fn = fn.next_functions[0][0]
        if fn is None:
            return None
    return None


def _plain_nll(node: Any) -> bool:
    """An NLL loss with the defaults (mean reduction, no class weights, ignore_index -100)."""
    try:
        return (int(node._saved_reduction) == 1 and node._saved_weight is None
                and int(node._saved_ignore_index) in (-100, 2**64 - 100))  # saved as an unsigned int
    except Exception:
        return False


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


def _affine_fit(x: torch.Tensor, y: torch.Tensor) -> tuple[float, float] | None:
    """Scalars (a, b) with ``y = a·x + b`` elementwise (float32 rounding allowed), else None."""
    xm, ym = x.mean(), y.mean()
    var = float(((x - xm) ** 2).mean())
    if var == 0.0:
        return None
    a = float(((x - xm) * (y - ym)).mean()) / var
    b = float(ym) - a * float(xm)
    if float((a * x + b - y).abs().max()) > 1e-5 * (float(y.abs().max()) + 1.0):
        return None
    return a, (b if abs(b) > 1e-7 * (abs(float(ym)) + 1.0) else 0.0)


class _Builder:
    """Turns backward nodes into forward op nodes; remembers the tensors they reference."""

    def __init__(self, modules: list[Any], roots: list[torch.Tensor] | None = None) -> None:
        self.nodes: list[dict[str, Any]] = []
        self.ids: dict[Any, int] = {}
        self.tensors: dict[str, torch.Tensor] = {}      # key -> live tensor (params, buffers) or a copy (consts)
        self.keys: dict[int, str] = {}                  # id(tensor) -> key
        self.inputs: dict[tuple[int, ...], int] = {}
        self.batch: int | None = None
        self.owner = {id(p): m for m in modules for p in m.parameters(recurse=False)}
        self.norms = [m for m in modules if isinstance(getattr(m, "running_mean", None), torch.Tensor)]
        self.dropouts = [m for m in modules if isinstance(m, torch.nn.modules.dropout._DropoutNd)]
        self.roots = [r for r in roots or [] if isinstance(r, torch.Tensor) and r.is_floating_point()]
        self.alpha = any(isinstance(m, (torch.nn.AlphaDropout, torch.nn.FeatureAlphaDropout)) for m in modules)

    # ------------------------------------------------------------ tensors and shapes
    def key(self, t: torch.Tensor, kind: str, copy: bool = False) -> str:
        if id(t) not in self.keys:
            k = f"{kind}{sum(1 for x in self.tensors if x[0] == kind)}"
            self.keys[id(t)] = k
            self.tensors[k] = t.detach().clone() if copy else t
        return self.keys[id(t)]

    def shape(self, node: Any) -> list[int] | None:
        try:
            full = [int(d) for d in node._input_metadata[0].shape]
        except Exception:
            return None
        if self.batch is None and full:
            self.batch = full[0]
        return full[1:] if full else []

    def input_node(self, saved: Any) -> int:
        """The model's input (data that needs no gradient), one node per per-sample shape."""
        shape = tuple(int(d) for d in saved.shape[1:]) if isinstance(saved, torch.Tensor) else ()
        if self.batch is None and isinstance(saved, torch.Tensor) and saved.dim():
            self.batch = int(saved.shape[0])
        if shape not in self.inputs:
            node = self.add({"op": "input", "in": [], "shape": list(shape)})
            for spec in self.input_ops(saved) if isinstance(saved, torch.Tensor) else []:
                node = self.add({**spec, "in": [node], "shape": list(shape)})
            self.inputs[shape] = node
        return self.inputs[shape]

    def input_ops(self, saved: torch.Tensor) -> list[dict[str, Any]]:
        """Ops the model applied to its input that autograd cannot see (the input needs no gradient).

        The first layer saw ``saved``; the model was called with one of ``self.roots``. Equal: nothing.
        ``saved = x · mask`` with a 0 / 1/(1−p) mask: an input Dropout. ``saved = a·x + b``: scaling
        inside ``forward`` (``x / 255``, ``(x − m) / s``). Anything else cannot be rebuilt.
        """
        s = saved.detach().reshape(saved.shape[0], -1).double() if saved.dim() else None
        cands = [r.detach().reshape(r.shape[0], -1).double() for r in self.roots
                 if r.dim() and s is not None and r.shape[0] == s.shape[0] and r.numel() == s.numel()]
        if s is None or not cands or any(torch.equal(r, s) for r in cands):
            return []
        for r in cands:
            live = r != 0
            p = self.input_dropout_p(r, s) if bool((s[~live] == 0).all()) and bool(live.any()) else None
            if p is not None:
                return [{"op": "dropout", "p": p}]
            fit = _affine_fit(r, s)
            if fit is not None:
                a, b = fit
                return [{"op": "mul", "other": self.key(torch.tensor(a), "c", copy=True), "other_first": False,
                         "alpha": 1}] * (abs(a - 1.0) > 1e-7) + \
                    [{"op": "add", "other": self.key(torch.tensor(b), "c", copy=True), "other_first": False,
                      "alpha": 1}] * (b != 0.0)
        return [{"op": "unsupported", "name": "the model changes its input before the first layer in a way the "
                 "training graph does not record"}]

    def add(self, node: dict[str, Any]) -> int:
        node["id"] = len(self.nodes)
        self.nodes.append(node)
        return node["id"]

    def param(self, fn: Any) -> tuple[str, bool] | None:
        """(key, seen through a transpose) of a trainable leaf input, else None."""
        leaf = _leaf(fn) if fn is not None else None
        return None if leaf is None else (self.key(leaf[0], "p"), leaf[1])

    # ------------------------------------------------------------ one node
    def data_or_input(self, slot: Any, saved: Any) -> int | None:
        """A data slot's node id; the model input when the slot needs no gradient (None)."""
        if slot[0] == "data":
            return int(slot[1])
        if slot[0] == "none" and isinstance(saved, torch.Tensor):
            return self.input_node(saved)
        return None

    def affine(self, fn: Any, slots: list[Any], x_saved: str, x_at: int, w_at: int, b_at: int | None) -> dict[str, Any]:
        w = slots[w_at]
        x = self.data_or_input(slots[x_at], getattr(fn, x_saved, None))
        if w[0] != "param" or x is None:
            return {"op": "unsupported", "name": f"{type(fn).__name__} (matmul of two activations)"}
        bias = slots[b_at][1] if b_at is not None and slots[b_at][0] == "param" else None
        if b_at is not None and slots[b_at][0] == "data":
            return {"op": "unsupported", "name": f"{type(fn).__name__} (bias computed from data)"}
        return {"op": "linear", "in": [x], "weight": w[1], "layout": "out_in" if w[2] else "in_out", "bias": bias}

    def conv(self, fn: Any, slots: list[Any]) -> dict[str, Any]:
        x = self.data_or_input(slots[0], getattr(fn, "_saved_input", None))
        if slots[1][0] != "param" or x is None or bool(getattr(fn, "_saved_transposed", False)):
            return {"op": "unsupported", "name": "ConvolutionBackward0 (transposed or data-dependent weight)"}
        bias = slots[2][1] if len(slots) > 2 and slots[2][0] == "param" else None
        attrs = {a: _plain(getattr(fn, f"_saved_{a}")) for a in ("stride", "padding", "dilation", "groups")}
        return {"op": "conv", "in": [x], "weight": slots[1][1], "bias": bias, **attrs}

    def batch_norm(self, fn: Any, slots: list[Any], eps_field: str) -> dict[str, Any]:
        x = self.data_or_input(slots[0], getattr(fn, "_saved_input", None))
        w = slots[1][1] if slots[1][0] == "param" else None
        b = slots[2][1] if slots[2][0] == "param" else None
        node: dict[str, Any] = {"op": "batch_norm", "in": [x], "weight": w, "bias": b,
                                "eps": float(getattr(fn, eps_field, 1e-5)),
                                "training": bool(getattr(fn, "_saved_training", True)),
                                "running_mean": None, "running_var": None, "momentum": 0.1}
        saved = getattr(fn, "_saved_running_mean", None)
        if isinstance(saved, torch.Tensor):
            mod = self.owner.get(id(self.tensors[w])) if w else None
            if mod is None or not isinstance(getattr(mod, "running_mean", None), torch.Tensor):
                mod = next((m for m in self.norms if m.running_mean.shape == saved.shape
                            and torch.equal(m.running_mean, saved)), None)
            if mod is not None:  # the live buffers: their values at export are the ones eval mode uses
                node["momentum"] = mod.momentum if isinstance(mod.momentum, float) else None
                node["running_mean"] = self.key(mod.running_mean, "b")
                node["running_var"] = self.key(mod.running_var, "b")
            else:
                node["running_mean"] = self.key(saved, "c", copy=True)
                node["running_var"] = self.key(fn._saved_running_var, "c", copy=True)
        return node

    def layer_norm(self, fn: Any, slots: list[Any]) -> dict[str, Any]:
        x = self.data_or_input(slots[0], getattr(fn, "_saved_input", None))
        w = slots[1][1] if slots[1][0] == "param" else None
        b = slots[2][1] if len(slots) > 2 and slots[2][0] == "param" else None
        mod = self.owner.get(id(self.tensors[w])) if w else None
        return {"op": "layer_norm", "in": [x], "weight": w, "bias": b,
                "normalized_shape": _plain(fn._saved_normalized_shape), "eps": float(getattr(mod, "eps", 1e-5))}

    def dropout_p(self, mask: torch.Tensor) -> float | None:
        """p of a dropout mask (values 0 and 1/(1-p) only), else None; a Dropout module's p when one matches."""
        vals = torch.unique(mask.detach())
        if vals.numel() > 2 or (vals.numel() == 2 and float(vals[0]) != 0.0) or float(vals[-1]) < 1.0:
            return None
        p = 1.0 - 1.0 / float(vals[-1])
        return next((float(m.p) for m in self.dropouts if abs(float(m.p) - p) < 1e-5), round(p, 6))

    def input_dropout_p(self, r: torch.Tensor, s: torch.Tensor) -> float | None:
        """p when ``s = r · mask`` with mask values 0 and one 1/(1−p) (float32 rounding allowed)."""
        live = r != 0
        ratio = s[live] / r[live]
        kept = ratio[ratio.abs() > 1e-6]
        if not kept.numel() or kept.numel() == ratio.numel():
            return None
        v = float(kept.median())
        if v <= 1.0 or float((kept - v).abs().max()) > 1e-6 * v:
            return None
        p = 1.0 - 1.0 / v
        return next((float(m.p) for m in self.dropouts if abs(float(m.p) - p) < 1e-5), round(p, 6))

    def merge(self, fn: Any, name: str, slots: list[Any]) -> dict[str, Any]:
        op = _MERGES[name]
        data = [s[1] for s in slots if s[0] == "data"]
        alpha = _plain(getattr(fn, "_saved_alpha", 1))
        if len(data) == 2:
            return {"op": op, "in": data, "alpha": alpha}
        first = slots[0][0] == "data"
        other = slots[1] if first else slots[0]
        if other[0] == "param":
            return {"op": op, "in": data, "other": other[1], "other_first": not first, "alpha": alpha}
        saved = getattr(fn, "_saved_other" if first else "_saved_self", None)
        if op in ("mul", "div") and isinstance(saved, torch.Tensor) and data:
            if op == "mul" and saved.dim() and int(saved.shape[0]) == self.batch and saved.numel() > 1:
                p = self.dropout_p(saved)
                if p is not None:  # a (N, C, 1, 1) mask drops whole channels: Dropout2d / Dropout1d
                    feature = saved.dim() > 2 and all(int(d) == 1 for d in saved.shape[2:])
                    return {"op": "dropout", "in": data, "p": p, **({"feature": True} if feature else {})}
            elif saved.numel() <= _CONST_LIMIT and (not saved.dim() or int(saved.shape[0]) != self.batch):
                return {"op": op, "in": data, "other": self.key(saved, "c", copy=True), "other_first": not first,
                        "alpha": alpha}
        if self.alpha and op in ("add", "mul"):  # AlphaDropout: x·mask·a + b, its noise is not in the graph
            return {"op": "unsupported", "name": "AlphaDropout (its training noise is not in the graph)", "in": data}
        return {"op": "unsupported", "name": f"{name} (an operand the graph does not record)", "in": data}

    def convert(self, fn: Any, slots: list[Any]) -> dict[str, Any]:
        name = type(fn).__name__
        data = [s[1] for s in slots if s[0] == "data"]
        if name == "AddmmBackward0":
            return self.affine(fn, slots, "_saved_mat1", 1, 2, 0)
        if name == "MmBackward0":
            return self.affine(fn, slots, "_saved_self", 0, 1, None)
        if name == "ConvolutionBackward0":
            return self.conv(fn, slots)
        if name in _BATCH_NORMS:
            return self.batch_norm(fn, slots, _BATCH_NORMS[name])
        if name == "NativeLayerNormBackward0":
            return self.layer_norm(fn, slots)
        if name == "PreluKernelBackward0" and slots[1][0] == "param" and data:
            return {"op": "prelu", "in": data[:1], "weight": slots[1][1]}
        if name in _MERGES:
            return self.merge(fn, name, slots)
        if name in ("CatBackward0", "StackBackward0") and len(data) == len(slots):
            return {"op": "cat" if name == "CatBackward0" else "stack", "in": data, "dim": _plain(fn._saved_dim)}
        if len(data) == 1 and len(slots) == 1 or (name in _UNARY and data):
            return self.unary(fn, name, data[0])
        return {"op": "unsupported", "name": name, "in": data}

    def unary(self, fn: Any, name: str, x: int) -> dict[str, Any]:
        if name in _RESHAPES:
            return {"op": "reshape", "in": [x]}  # target shape: the node's own output shape
        if name in _IDENTITY:
            return {"op": "identity", "in": [x]}
        if name not in _UNARY:
            return {"op": "unsupported", "name": name, "in": [x]}
        op, fields = _UNARY[name]
        node: dict[str, Any] = {"op": op, "in": [x], **{a: _plain(getattr(fn, f, None)) for a, f in fields.items()}}
        if op == "dropout":
            node = {"op": "dropout", "in": [x], "p": round(1.0 - 1.0 / float(node["scale"] or 1.0), 6)}
        elif op == "elu" and abs(float(node["scale"]) - 1.0507009873554805) < 1e-6:
            node = {"op": "selu", "in": [x]}
        elif op == "hardtanh" and (node["min_val"], node["max_val"]) == (0.0, 6.0):
            node = {"op": "relu6", "in": [x]}
        return node

    # ------------------------------------------------------------ the walk
    def slots(self, fn: Any) -> list[Any]:
        out: list[Any] = []
        for f, _ in fn.next_functions:
            if f is None:
                out.append(("none",))
            else:
                p = self.param(f)
                out.append(("param", *p) if p else ("data", self.ids[f]))
        return out

    def visit(self, fn: Any) -> None:
        """Record ``fn``'s node after the nodes of its data inputs (iterative post-order)."""
        stack: list[tuple[Any, bool]] = [(fn, False)]
        while stack:
            node, ready = stack.pop()
            if node in self.ids:
                continue
            children = [f for f, _ in node.next_functions if f is not None and _leaf(f) is None]
            if not ready:
                stack.append((node, True))
                stack.extend((c, False) for c in reversed(children) if c not in self.ids)  # first input first
                continue
            shape = self.shape(node)
            spec = self.convert(node, self.slots(node))
            spec.setdefault("in", [])
            spec["shape"] = shape
            if spec["op"] == "reshape" and shape is None:
                spec = {"op": "unsupported", "name": f"{type(node).__name__} (output shape unknown)",
                        "in": spec["in"], "shape": None}
            self.ids[node] = self.add(spec)

    def fold_biases(self) -> None:
        """``x @ W + b``: the add of a 1-d parameter right after a bias-free linear node is its bias."""
        for node in self.nodes:
            if node["op"] != "add" or "other" not in node or len(node["in"]) != 1:
                continue
            src = self.nodes[node["in"][0]]
            t = self.tensors.get(node["other"])
            if src["op"] == "linear" and src["bias"] is None and t is not None and t.dim() == 1 \
                    and src["shape"] and t.shape[0] == src["shape"][-1]:
                src["bias"] = node["other"]
                nid = node["id"]
                node.clear()
                node.update({"op": "identity", "in": [src["id"]], "shape": src["shape"], "id": nid})


def trace_graph(loss: torch.Tensor, modules: list[Any] | None = None,
                roots: list[torch.Tensor] | None = None) -> dict[str, Any]:
    """The op graph of whatever produced ``loss`` (see the module docstring).

    ``modules`` are the recorded models' modules, used to read what the graph does not keep (a
    LayerNorm's eps, a Dropout's p, BatchNorm running statistics); ``roots`` the tensors the models were
    last called with (what the model did to them before its first layer). Returns the JSON-able ``graph``
    (``nodes``, ``output``, ``loss``, ``batch``, ``tensors``: key -> shape), the referenced
    ``tensors`` by key, the ids of the parameters and the affine layers' weights in forward order (for gradient norms).
    """
    node, loss_kind = _find_loss(loss.grad_fn)
    plain = node is loss.grad_fn and loss_kind == "nll" and _plain_nll(node)  # replayable as F.cross_entropy/nll
    if loss_kind is not None:  # step below the loss; CrossEntropy = NLL over a log-softmax
        data = [f for f, _ in node.next_functions if f is not None]
        if loss_kind == "nll" and data and type(data[0]).__name__ == "LogSoftmaxBackward0":
            loss_kind, data = "cross_entropy", [f for f, _ in data[0].next_functions if f is not None]
        node = data[0] if data and _leaf(data[0]) is None else None
    b = _Builder(list(modules or []), roots)
    if node is not None:
        b.shape(node)  # the batch size, from the model's output
        b.visit(node)
        b.fold_biases()
    graph = {"nodes": b.nodes, "output": b.ids.get(node) if node is not None else None,
             "loss": loss_kind, "batch": b.batch, "plain_loss": bool(plain),
             "tensors": {k: [int(d) for d in t.shape] for k, t in b.tensors.items()}}
    weights = [b.tensors[n["weight"]] for n in b.nodes if n["op"] in ("linear", "conv")]
    params = {id(t) for k, t in b.tensors.items() if k[0] == "p"}
    return {"graph": graph, "tensors": b.tensors, "param_ids": params, "weights": weights,
            "loss": loss_kind, "batch": b.batch}


def fingerprint(tensors: dict[str, torch.Tensor]) -> list[float]:
    """Sum and sum of squares of every parameter (``p`` keys) in float64: whether training moved them."""
    out: list[float] = []
    for key in sorted(tensors):
        if key.startswith("p"):
            t = tensors[key].detach().double()
            out += [float(t.sum()), float((t * t).sum())]
    return out
