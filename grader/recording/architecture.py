"""Structural view of a traced model: affine layers, widths, activations between them."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

ACTIVATION_NAMES = {"relu": "ReLU", "sigmoid": "Sigmoid", "tanh": "Tanh", "leaky_relu": "LeakyReLU",
                    "elu": "ELU", "gelu": "GELU", "silu": "SiLU", "softmax": "Softmax",
                    "log_softmax": "LogSoftmax"}
HIDDEN_ACTIVATIONS = {"relu", "sigmoid", "tanh", "leaky_relu", "elu", "gelu", "silu"}


@dataclass(frozen=True)
class Architecture:
    """What the trace says: ``hidden`` = affine layers − 1, as the homework counts them."""

    layers: tuple[dict[str, Any], ...]
    affine: tuple[tuple[int, int], ...]           # (in, out) per affine layer, in order
    hidden_acts: tuple[str | None, ...]           # activation after each hidden affine layer
    output_ops: tuple[str, ...]                   # ops after the last affine layer
    unsupported: tuple[str, ...]

    @property
    def hidden(self) -> int:
        return max(0, len(self.affine) - 1)

    @property
    def widths(self) -> tuple[int, ...]:
        return tuple(out for _, out in self.affine[:-1])

    @property
    def in_features(self) -> int | None:
        return self.affine[0][0] if self.affine else None

    @property
    def out_features(self) -> int | None:
        return self.affine[-1][1] if self.affine else None

    @property
    def activation_family(self) -> str:
        """'sigmoid' when every hidden layer is Sigmoid, 'relu' when all are ReLU, else 'mixed'/'none'."""
        acts = set(self.hidden_acts)
        if not self.hidden_acts or None in acts:
            return "none" if acts == {None} or not acts else "mixed"
        only = acts.pop() if len(acts) == 1 else None
        return only or "mixed"

    def describe(self) -> str:
        """E.g. ``784→256→256→10 (ReLU ×2)``."""
        if not self.affine:
            return "no affine layers traced"
        dims = "→".join([str(self.affine[0][0]), *(str(o) for _, o in self.affine)])
        acts = [ACTIVATION_NAMES.get(a, a) if a else "none" for a in self.hidden_acts]
        counts = {a: acts.count(a) for a in dict.fromkeys(acts)}
        act_text = ", ".join(f"{a} ×{n}" for a, n in counts.items())
        out = f", then {'+'.join(ACTIVATION_NAMES.get(o, o) for o in self.output_ops)}" if self.output_ops else ""
        return f"{dims} ({act_text or 'no hidden layer'}{out})"

    def to_dict(self) -> dict[str, Any]:
        return {"hidden_layers": self.hidden, "widths": list(self.widths), "in": self.in_features,
                "out": self.out_features, "hidden_activations": list(self.hidden_acts),
                "output_ops": list(self.output_ops), "unsupported": list(self.unsupported),
                "summary": self.describe()}


def analyse(layers: list[dict[str, Any]] | None) -> Architecture | None:
    """Turn a layer trace (probe format) into an :class:`Architecture`; None when there is none."""
    if not layers:
        return None
    affine: list[tuple[int, int]] = []
    acts: list[str | None] = []
    after: list[str] = []
    unsupported = []
    for layer in layers:
        op = layer.get("op")
        if op == "linear":
            if affine:
                acts.append(next((a for a in after if a in HIDDEN_ACTIVATIONS), None))
            affine.append((int(layer["in"]), int(layer["out"])))
            after = []
        elif op == "unsupported":
            unsupported.append(str(layer.get("name")))
        elif op and op != "identity":
            after.append(op)
    return Architecture(tuple(layers), tuple(affine), tuple(acts), tuple(after), tuple(unsupported))
