"""The op graph the probe traces from a run's autograd graph: one table of known ops, a typed view.

The kernel writes the graph as JSON (see ``probe_graph``); everything in it is untrusted, so
:func:`parse_graph` checks every node against :data:`OPS` (the allow-list: the op, its attributes
and their types, which attributes name tensors) before anything downstream reads it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from grader.errors import GraderError

OpKind = Literal["input", "affine", "norm", "dropout", "activation", "pool", "shape", "merge", "unsupported"]
AttrType = Literal["int", "ints", "float", "bool", "str", "key", "key?", "int?", "num", "num?", "bool?"]

MAX_NODES = 5000


@dataclass(frozen=True)
class OpSpec:
    """What the grader knows of one op: its kind, its display name and its attributes' types."""

    kind: OpKind
    label: str
    attrs: tuple[tuple[str, AttrType], ...] = ()

    @property
    def tensor_attrs(self) -> tuple[str, ...]:
        return tuple(a for a, t in self.attrs if t.startswith("key"))


_POOL: tuple[tuple[str, AttrType], ...] = (("kernel_size", "ints"), ("stride", "ints"), ("padding", "ints"),
                                          ("ceil_mode", "bool"))
_MERGE: tuple[tuple[str, AttrType], ...] = (("other", "key?"), ("other_first", "bool?"), ("alpha", "num"))
_NORM: tuple[tuple[str, AttrType], ...] = (("weight", "key?"), ("bias", "key?"), ("eps", "float"))

#: Every op the probe may emit. One table: architecture reading and replay both key on these names.
OPS: dict[str, OpSpec] = {
    "input": OpSpec("input", "Input"),
    "linear": OpSpec("affine", "Linear", (("weight", "key"), ("bias", "key?"), ("layout", "str"))),
    "conv": OpSpec("affine", "Conv", (("weight", "key"), ("bias", "key?"), ("stride", "ints"), ("padding", "ints"),
                                      ("dilation", "ints"), ("groups", "int"))),
    "batch_norm": OpSpec("norm", "BatchNorm", (*_NORM, ("running_mean", "key?"), ("running_var", "key?"),
                                               ("momentum", "num?"),
                                               ("training", "bool"))),
    "layer_norm": OpSpec("norm", "LayerNorm", (*_NORM, ("normalized_shape", "ints"))),
    "dropout": OpSpec("dropout", "Dropout", (("p", "float"), ("feature", "bool?"))),
    "relu": OpSpec("activation", "ReLU"), "sigmoid": OpSpec("activation", "Sigmoid"),
    "tanh": OpSpec("activation", "Tanh"),
    "leaky_relu": OpSpec("activation", "LeakyReLU", (("negative_slope", "float"),)),
    "elu": OpSpec("activation", "ELU", (("alpha", "float"), ("scale", "num"), ("input_scale", "num"))),
    "selu": OpSpec("activation", "SELU"), "gelu": OpSpec("activation", "GELU", (("approximate", "str"),)),
    "silu": OpSpec("activation", "SiLU"),
    "softplus": OpSpec("activation", "Softplus", (("beta", "num"), ("threshold", "num"))),
    "hardtanh": OpSpec("activation", "Hardtanh", (("min_val", "num"), ("max_val", "num"))),
    "relu6": OpSpec("activation", "ReLU6"), "prelu": OpSpec("activation", "PReLU", (("weight", "key"),)),
    "mish": OpSpec("activation", "Mish"), "hardswish": OpSpec("activation", "Hardswish"),
    "hardsigmoid": OpSpec("activation", "Hardsigmoid"),
    "softmax": OpSpec("activation", "Softmax", (("dim", "int"),)),
    "log_softmax": OpSpec("activation", "LogSoftmax", (("dim", "int"),)),
    "log": OpSpec("activation", "log"),  # torch.log(softmax(...)) before an NLLLoss
    "max_pool": OpSpec("pool", "MaxPool", (*_POOL, ("dilation", "ints"))),
    "avg_pool": OpSpec("pool", "AvgPool", (*_POOL, ("count_include_pad", "bool"), ("divisor_override", "int?"))),
    "adaptive_avg_pool": OpSpec("pool", "AdaptiveAvgPool"), "adaptive_max_pool": OpSpec("pool", "AdaptiveMaxPool"),
    "reshape": OpSpec("shape", "Flatten"), "identity": OpSpec("shape", ""),
    "transpose": OpSpec("shape", "transpose", (("dim0", "int"), ("dim1", "int"))),
    "permute": OpSpec("shape", "permute", (("dims", "ints"),)),
    "add": OpSpec("merge", "add", _MERGE), "sub": OpSpec("merge", "sub", _MERGE),
    "mul": OpSpec("merge", "mul", _MERGE), "div": OpSpec("merge", "div", _MERGE),
    "maximum": OpSpec("merge", "max", _MERGE),
    "cat": OpSpec("merge", "concat", (("dim", "int"),)), "stack": OpSpec("merge", "stack", (("dim", "int"),)),
    "max_dim": OpSpec("merge", "max", (("dim", "int"), ("keepdim", "bool"))),
    "mean": OpSpec("pool", "mean", (("dim", "ints"), ("keepdim", "bool"))),
    "sum": OpSpec("pool", "sum", (("dim", "ints"), ("keepdim", "bool"))),
    "unsupported": OpSpec("unsupported", "unsupported", (("name", "str"),)),
}


class GraphError(GraderError):
    """The traced graph is malformed or uses something outside :data:`OPS`."""

    def __init__(self, reason: str) -> None:
        super().__init__(f"invalid model graph: {reason}")
        self.reason = reason


@dataclass(frozen=True)
class Node:
    """One forward op: data inputs (earlier node ids), per-sample output shape, typed attributes."""

    id: int
    op: str
    inputs: tuple[int, ...]
    shape: tuple[int, ...] | None
    attrs: dict[str, Any]

    @property
    def spec(self) -> OpSpec:
        return OPS[self.op]

    @property
    def kind(self) -> OpKind:
        return OPS[self.op].kind

    def tensor(self, attr: str) -> str | None:
        value = self.attrs.get(attr)
        return value if isinstance(value, str) else None


@dataclass(frozen=True)
class Graph:
    """A run's model as traced in training: nodes in topological order, the output node, the loss."""

    nodes: tuple[Node, ...]
    output: int
    loss: str | None
    batch: int | None
    tensor_shapes: dict[str, tuple[int, ...]]

    def consumers(self) -> dict[int, list[int]]:
        out: dict[int, list[int]] = {n.id: [] for n in self.nodes}
        for n in self.nodes:
            for i in n.inputs:
                out[i].append(n.id)
        return out

    @property
    def unsupported(self) -> list[str]:
        return [str(n.attrs.get("name", "?")) for n in self.nodes if n.op == "unsupported"]

    def n_params(self) -> int:
        """Trainable parameters the graph uses (each tensor once), counted from their shapes."""
        total = 0
        for key, shape in self.tensor_shapes.items():
            if key.startswith("p"):
                size = 1
                for d in shape:
                    size *= d
                total += size
        return total


_CHECK = {
    "int": lambda v: isinstance(v, int) and not isinstance(v, bool),
    "int?": lambda v: v is None or (isinstance(v, int) and not isinstance(v, bool)),
    "ints": lambda v: isinstance(v, list) and all(isinstance(x, int) and not isinstance(x, bool) for x in v),
    "float": lambda v: isinstance(v, (int, float)) and not isinstance(v, bool),
    "num": lambda v: isinstance(v, (int, float)) and not isinstance(v, bool),
    "num?": lambda v: v is None or (isinstance(v, (int, float)) and not isinstance(v, bool)),
    "bool": lambda v: isinstance(v, bool), "bool?": lambda v: v is None or isinstance(v, bool),
    "str": lambda v: isinstance(v, str), "key": lambda v: isinstance(v, str),
    "key?": lambda v: v is None or isinstance(v, str),
}


def _node(i: int, raw: Any, shapes: dict[str, tuple[int, ...]]) -> Node:
    if not isinstance(raw, dict) or raw.get("op") not in OPS:
        op = raw.get("op") if isinstance(raw, dict) else raw
        raise GraphError(f"node {i} has an unknown op {op!r}")
    spec = OPS[raw["op"]]
    inputs = raw.get("in", [])
    if not isinstance(inputs, list) or not all(isinstance(x, int) and 0 <= x < i for x in inputs):
        raise GraphError(f"node {i} ({raw['op']}) has invalid inputs {inputs!r}")
    shape = raw.get("shape")
    if shape is not None and not _CHECK["ints"](shape):
        raise GraphError(f"node {i} ({raw['op']}) has an invalid shape {shape!r}")
    attrs: dict[str, Any] = {}
    for name, typ in spec.attrs:
        value = raw.get(name)
        if value is None and typ.endswith("?"):
            attrs[name] = None
            continue
        if not _CHECK[typ](value):
            raise GraphError(f"node {i} ({raw['op']}): attribute {name!r} has an invalid value {value!r}")
        if typ.startswith("key") and value not in shapes:
            raise GraphError(f"node {i} ({raw['op']}): tensor {value!r} is not declared")
        attrs[name] = value
    return Node(i, raw["op"], tuple(inputs), tuple(shape) if shape is not None else None, attrs)


def parse_graph(obj: Any) -> Graph:
    """Validate a graph dict from the kernel and return its typed view; :class:`GraphError` otherwise."""
    if not isinstance(obj, dict) or not isinstance(obj.get("nodes"), list) or not obj["nodes"]:
        raise GraphError("no nodes were traced")
    raw_nodes, raw_shapes = obj["nodes"], obj.get("tensors") or {}
    if len(raw_nodes) > MAX_NODES:
        raise GraphError(f"{len(raw_nodes)} nodes (the grader reads at most {MAX_NODES})")
    if not isinstance(raw_shapes, dict) or not all(isinstance(k, str) and _CHECK["ints"](v)
                                                   for k, v in raw_shapes.items()):
        raise GraphError("the tensor table is malformed")
    shapes = {k: tuple(v) for k, v in raw_shapes.items()}
    nodes = tuple(_node(i, raw, shapes) for i, raw in enumerate(raw_nodes))
    output = obj.get("output")
    if not isinstance(output, int) or not 0 <= output < len(nodes):
        raise GraphError(f"the output node {output!r} does not exist")
    batch = obj.get("batch") if isinstance(obj.get("batch"), int) else None
    loss = obj.get("loss") if isinstance(obj.get("loss"), str) else None
    return Graph(nodes, output, loss, batch, shapes)


def try_parse(obj: Any) -> Graph | None:
    """:func:`parse_graph`, or None when there is no valid graph."""
    try:
        return parse_graph(obj)
    except GraphError:
        return None
