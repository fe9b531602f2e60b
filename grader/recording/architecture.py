"""Structural view of a traced model: its layers, as a TA counts them, and what decorates each.

A layer is one affine op (Linear, Conv, or a Maxout: the max over k affine maps) with everything
that follows it up to the next layer: its activation, BatchNorm/LayerNorm, Dropout, pooling,
reshapes, residual adds. BatchNorm and Dropout never count as layers; hidden layers = layers − 1.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any, Literal

from grader.recording.graph import OPS, Graph, Node, try_parse

LayerKind = Literal["linear", "conv", "maxout"]
ACTIVATION_NAMES = {**{op: spec.label for op, spec in OPS.items() if spec.kind == "activation"}, "maxout": "Maxout"}
OUTPUT_SQUASH = {"softmax", "log_softmax", "log"}
HIDDEN_ACTIVATIONS = {op for op in ACTIVATION_NAMES if op not in OUTPUT_SQUASH}
_THROUGH = {"reshape", "identity", "cat", "stack"}  # between an affine op and the max of a Maxout


@dataclass(frozen=True)
class Layer:
    """One counted layer: kind, in/out features (channels for conv), what decorates it."""

    kind: LayerKind
    n_in: int
    n_out: int
    activation: str | None
    decorations: tuple[str, ...]
    kernel: tuple[int, ...] = ()
    pieces: int = 1
    stride: int = 1
    dilation: int = 1

    def label(self) -> str:
        """``Conv 1→32 3×3`` / ``Linear 784→256`` / ``Maxout 256→128 (k=2)``."""
        if self.kind == "conv":
            extra = "".join(f" {name} {v}" for name, v in (("stride", self.stride), ("dilation", self.dilation))
                            if v != 1)
            return f"Conv {self.n_in}→{self.n_out} {'×'.join(str(k) for k in self.kernel)}{extra}"
        if self.kind == "maxout":
            return f"Maxout {self.n_in}→{self.n_out} (k={self.pieces})"
        return f"Linear {self.n_in}→{self.n_out}"


@dataclass(frozen=True)
class Architecture:
    """What the graph says: ``hidden`` = layers − 1, as the homework counts them."""

    layers: tuple[Layer, ...]
    output_ops: tuple[str, ...]                   # activations after the last layer
    unsupported: tuple[str, ...]
    n_params: int
    input_shape: tuple[int, ...] | None
    input_ops: tuple[str, ...] = ()               # decorations before the first layer (input BatchNorm, Dropout)

    @property
    def affine(self) -> tuple[tuple[int, int], ...]:
        return tuple((layer.n_in, layer.n_out) for layer in self.layers)

    @property
    def hidden_acts(self) -> tuple[str | None, ...]:
        return tuple(layer.activation for layer in self.layers[:-1])

    @property
    def hidden(self) -> int:
        return max(0, len(self.layers) - 1)

    @property
    def widths(self) -> tuple[int, ...]:
        return tuple(layer.n_out for layer in self.layers[:-1])

    @property
    def in_features(self) -> int | None:
        """Features per sample entering the model (784 for MNIST, whether flattened or 1×28×28)."""
        if not self.layers:
            return None
        if self.layers[0].kind == "conv" and self.input_shape:
            size = 1
            for d in self.input_shape:
                size *= d
            return size
        return self.layers[0].n_in

    @property
    def out_features(self) -> int | None:
        return self.layers[-1].n_out if self.layers else None

    @property
    def kinds(self) -> tuple[LayerKind, ...]:
        return tuple(layer.kind for layer in self.layers)

    @property
    def activation_family(self) -> str:
        """'sigmoid' when every hidden layer is Sigmoid, 'relu' when all are ReLU, else 'mixed'/'none'."""
        acts = set(self.hidden_acts)
        if not self.hidden_acts or None in acts:
            return "none" if acts == {None} or not acts else "mixed"
        only = acts.pop() if len(acts) == 1 else None
        return only or "mixed"

    def decorations(self) -> list[str]:
        """Distinct decorations of the input and the hidden layers, in order of first appearance."""
        return list(dict.fromkeys([*(f"input {d}" for d in self.input_ops),
                                   *(d for layer in self.layers[:-1] for d in layer.decorations)]))

    def describe(self) -> str:
        """E.g. ``784→256×6→10 (LeakyReLU ×6 · BatchNorm · Dropout 0.2)``; conv layers spelled out."""
        if not self.layers:
            return "no affine layers traced"
        convs = [layer for layer in self.layers if layer.kind == "conv"]
        dense = [layer for layer in self.layers if layer.kind != "conv"]
        parts = [" · ".join([c.label(), *c.decorations]) for c in convs]  # activations: counted in the ()
        if dense:
            parts.append(_dense_text(dense))
        acts = [ACTIVATION_NAMES.get(a, a) if a else "no activation" for a in self.hidden_acts]
        counts = ", ".join(f"{a} ×{acts.count(a)}" for a in dict.fromkeys(acts))
        inner = " · ".join(x for x in [counts or "no hidden layer", *self._dense_decorations()] if x)
        out = f", then {'+'.join(ACTIVATION_NAMES.get(o, o) for o in self.output_ops)}" if self.output_ops else ""
        return f"{' → '.join(parts)} ({inner}{out})"

    def _dense_decorations(self) -> list[str]:
        return list(dict.fromkeys([*(f"input {d}" for d in self.input_ops if d != "Flatten"),
                                   *(d for layer in self.layers[:-1] if layer.kind != "conv"
                                     for d in layer.decorations if d != "Flatten")]))

    def to_dict(self) -> dict[str, Any]:
        return {"hidden_layers": self.hidden, "widths": list(self.widths), "in": self.in_features,
                "out": self.out_features, "hidden_activations": list(self.hidden_acts),
                "output_ops": list(self.output_ops), "unsupported": list(self.unsupported),
                "decorations": self.decorations(), "params": self.n_params,
                "layer_kinds": list(self.kinds),
                "layers_detail": [{"kind": x.kind, "in": x.n_in, "out": x.n_out, "activation": x.activation,
                                   "decorations": list(x.decorations), "kernel": list(x.kernel),
                                   "pieces": x.pieces} for x in self.layers],
                "summary": self.describe()}


def _dense_text(dense: list[Layer]) -> str:
    """``784→256×6→10``: the widths of the dense layers, equal neighbours collapsed."""
    dims = [dense[0].n_in, *(layer.n_out for layer in dense)]
    text, i = [str(dims[0])], 1
    while i < len(dims):
        j = i
        while j + 1 < len(dims) - 1 and dims[j + 1] == dims[i]:
            j += 1
        run = j - i + 1
        text.append(f"{dims[i]}×{run}" if run > 1 and i < len(dims) - 1 else str(dims[i]))
        i = j + 1
    return "→".join(text)


def _decoration(node: Node, graph: Graph, maxout_nodes: set[int]) -> str | None:
    """How a non-affine op after a layer is shown (None: not worth naming)."""
    a = node.attrs
    if node.op == "dropout":
        return f"Dropout{'2d' if a.get('feature') else ''} {a['p']:g}"
    if node.op in ("batch_norm", "layer_norm"):
        return node.spec.label
    if node.op in ("max_pool", "avg_pool"):
        k = [d for d in a["kernel_size"] if d != 1] or [1]  # a 1-d pool runs as a 1×k 2-d pool
        return f"{node.spec.label} {k[0] if len(set(k)) == 1 else '×'.join(map(str, k))}"
    if node.op in ("adaptive_avg_pool", "adaptive_max_pool", "mean"):
        return node.spec.label if node.op != "mean" else "GlobalAvgPool"
    if node.op in ("add", "sub") and len(node.inputs) == 2:
        return "residual"
    if node.op in ("cat", "stack") and node.id not in maxout_nodes:
        return "concat"
    if node.op == "reshape" and node.shape is not None and len(node.shape) == 1:
        src = graph.nodes[node.inputs[0]].shape if node.inputs else None
        return "Flatten" if src is not None and len(src) > 1 else None
    return None


def _upstream_affine(graph: Graph, start: int) -> set[int]:
    """Affine nodes reachable from ``start`` going up through reshapes/concats only."""
    found, todo = set(), [start]
    while todo:
        n = graph.nodes[todo.pop()]
        if n.kind == "affine":
            found.add(n.id)
        elif n.op in _THROUGH or n.id == start:
            todo.extend(n.inputs)
    return found


def _maxouts(graph: Graph) -> dict[int, tuple[int, set[int]]]:
    """max node id -> (pieces, its affine nodes), for every Maxout in the graph."""
    out = {}
    for n in graph.nodes:
        if n.op not in ("maximum", "max_dim") or (n.op == "maximum" and len(n.inputs) < 2):
            continue
        parts = _upstream_affine(graph, n.id)
        if not parts:
            continue
        if n.op == "maximum":
            pieces = len(n.inputs)
        else:
            src = graph.nodes[n.inputs[0]]
            dim = int(n.attrs["dim"])
            dim += (len(src.shape) + 1) if dim < 0 and src.shape else 0  # ``max(-1)``: the batch dim counts too
            pieces = src.shape[dim - 1] if src.shape and 0 < dim <= len(src.shape) else 1
            pieces *= 1 if len(parts) == 1 or src.op in ("stack", "cat") else len(parts)  # stacked: counted once
        out[n.id] = (max(pieces, len(parts)), parts)
    return out


def _affine_layer(node: Node, graph: Graph) -> tuple[LayerKind, int, int, tuple[int, ...]]:
    shape = graph.tensor_shapes.get(str(node.tensor("weight")), ())
    if node.op == "conv" and len(shape) >= 3:
        return "conv", int(shape[1]) * int(node.attrs["groups"]), int(shape[0]), tuple(int(k) for k in shape[2:])
    if len(shape) == 2:
        out_f, in_f = shape if node.attrs.get("layout") != "in_out" else (shape[1], shape[0])
        return "linear", int(in_f), int(out_f), ()
    return "linear", 0, 0, ()


def _after(graph: Graph, start: int, stops: set[int], consumers: dict[int, list[int]]) -> list[Node]:
    """Ops downstream of ``start`` up to (not including) the next layer's nodes, in graph order."""
    seen, todo = set(), list(consumers[start])
    while todo:
        i = todo.pop()
        if i in seen or i in stops:
            continue
        seen.add(i)
        todo.extend(consumers[i])
    return [graph.nodes[i] for i in sorted(seen)]


def _layers(graph: Graph, maxouts: dict[int, tuple[int, set[int]]]) -> list[tuple[Layer, int]]:
    """(layer without its decorations yet, the node whose output is the layer's output), in order."""
    grouped = {i: m for m, (_, parts) in maxouts.items() for i in parts}
    out: list[tuple[Layer, int]] = []
    done: set[int] = set()
    for node in graph.nodes:
        if node.kind != "affine" or node.id in done:
            continue
        kind, n_in, n_out, kernel = _affine_layer(node, graph)
        end, pieces = node.id, 1
        if node.id in grouped:
            end = grouped[node.id]
            pieces, parts = maxouts[end]
            done |= parts
            kind = "maxout"
            end_shape = graph.nodes[end].shape
            n_out = end_shape[-1] if end_shape else n_out
        conv = node.op == "conv"
        out.append((Layer(kind, n_in, n_out, None, (), kernel, pieces,
                          stride=max(node.attrs["stride"] or [1]) if conv else 1,
                          dilation=max(node.attrs["dilation"] or [1]) if conv else 1), end))
    return out


def analyse_graph(graph: Graph) -> Architecture:
    """Read the layers of a parsed :class:`Graph` (see the module docstring)."""
    consumers, maxouts = graph.consumers(), _maxouts(graph)
    maxout_nodes = {i for _, parts in maxouts.values() for i in parts} | set(maxouts)
    raw = _layers(graph, maxouts)
    starts = {n.id for n in graph.nodes if n.kind == "affine"} | {end for _, end in raw}
    layers: list[Layer] = []
    output_ops: tuple[str, ...] = ()
    for k, (layer, end) in enumerate(raw):
        after = _after(graph, end, starts - {end}, consumers)
        acts = [n.op for n in after if n.kind == "activation"]
        decos = tuple(dict.fromkeys(d for n in after if (d := _decoration(n, graph, maxout_nodes))))
        if k == len(raw) - 1:
            output_ops = tuple(acts)
            layers.append(replace(layer, decorations=decos))
            continue
        act = next((a for a in acts if a in HIDDEN_ACTIVATIONS), "maxout" if layer.kind == "maxout" else None)
        if layer.kind == "maxout":
            decos = (f"Maxout k={layer.pieces}", *decos)
        layers.append(replace(layer, activation=act, decorations=decos))
    inputs = [n for n in graph.nodes if n.op == "input"]
    input_shape = inputs[0].shape if inputs else None
    return Architecture(tuple(layers), output_ops, tuple(graph.unsupported), graph.n_params(), input_shape,
                        _input_ops(graph, consumers, maxout_nodes))


def _input_ops(graph: Graph, consumers: dict[int, list[int]], maxout_nodes: set[int]) -> tuple[str, ...]:
    """Decorations of the input itself: the ops no affine layer feeds (a BatchNorm or Dropout on the pixels)."""
    fed: set[int] = set()
    todo = [i for n in graph.nodes if n.kind == "affine" for i in consumers[n.id]]
    while todo:
        i = todo.pop()
        if i not in fed:
            fed.add(i)
            todo.extend(consumers[i])
    before = [n for n in graph.nodes if n.kind not in ("affine", "input") and n.id not in fed]
    return tuple(dict.fromkeys(d for n in before if (d := _decoration(n, graph, maxout_nodes)) and d != "Flatten"))


def analyse(graph: dict[str, Any] | None) -> Architecture | None:
    """The :class:`Architecture` of a graph as the probe wrote it; None when there is none or it is invalid."""
    parsed = try_parse(graph) if graph else None
    return analyse_graph(parsed) if parsed is not None else None
