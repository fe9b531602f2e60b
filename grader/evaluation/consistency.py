"""Does an export agree with what was traced while the model trained?

The op graph of a run is streamed out at its first backward (append-only); the export cell writes
it again with the tensors at the end. A student who swaps tensors of another shape into the model,
or edits the probe's record before the export, makes the two disagree, and the grader could then
not replay the model (and would fall back to the kernel's own, unverifiable accuracy).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from grader.evaluation.rebuild import UnverifiableModel, load_weights, weights_path
from grader.recording.graph import Graph, try_parse


def _ops(graph: Graph) -> list[tuple[str, tuple[int, ...] | None]]:
    return [(n.op, n.shape) for n in graph.nodes if n.op != "identity"]


def _shape(t: Any) -> tuple[int, ...]:
    return tuple(int(d) for d in t.shape)


def weight_conflicts(rec: dict[str, Any], export_dir: Path, trace: dict[str, Any] | None) -> list[str]:
    """Contradictions between an export record (+ its weights file) and the training-time graph ``trace``."""
    traced, exported = try_parse(trace), try_parse(rec.get("graph"))
    if traced is None or exported is None:
        return []
    out = []
    if _ops(exported) != _ops(traced):
        out.append("the exported layers differ from the layers traced during training "
                   f"({len(_ops(exported))} vs {len(_ops(traced))} ops)")
    try:
        weights = load_weights(weights_path(rec, export_dir))
    except UnverifiableModel:
        return out
    for key, want in traced.tensor_shapes.items():
        t = weights.get(key)
        if t is not None and _shape(t) != want:
            out.append(f"tensor {key}: exported shape {_shape(t)} but training traced {want}")
    return out


def affine_signature(graph: dict[str, Any] | None) -> list[tuple[int, ...]] | None:
    """Sorted weight shapes (dims sorted too: layout-free) of the graph's affine ops."""
    g = try_parse(graph)
    if g is None:
        return None
    return sorted(tuple(sorted(g.tensor_shapes[str(n.tensor("weight"))])) for n in g.nodes if n.kind == "affine")


def forward_trace_agrees(fn_affine: list[dict[str, Any]], graph: dict[str, Any] | None) -> bool:
    """Whether the eval-mode forward trace's affine ops are the training graph's (as a multiset)."""
    sig = affine_signature(graph)
    if sig is None:
        return True
    try:
        seen = sorted(tuple(sorted(int(d) for d in op["weight_shape"])) for op in fn_affine)
    except (KeyError, TypeError, ValueError):
        return False
    return seen == sig
