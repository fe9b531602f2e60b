"""Does an export agree with what was traced while the model trained?

The layer trace of a run is streamed out at its first backward (append-only); the export cell writes
the layers again with the weights at the end. A student who swaps tensors of another shape into the
model, or edits the probe's record before the export, makes the two disagree, and the grader could
then not rebuild the model (and would fall back to the kernel's own, unverifiable accuracy).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from grader.evaluation.rebuild import UnverifiableModel, load_weights


def _ops(layers: list[dict[str, Any]] | None) -> list[tuple[Any, ...]]:
    return [(x.get("op"), x.get("in"), x.get("out")) for x in layers or [] if x.get("op") != "identity"]


def _shape(t: Any) -> tuple[int, ...]:
    return tuple(int(d) for d in t.shape)


def weight_conflicts(rec: dict[str, Any], export_dir: Path, trace: list[dict[str, Any]] | None) -> list[str]:
    """Contradictions between an export record (+ its weights file) and the training-time ``trace``."""
    exported = rec.get("layers")
    if not trace or not isinstance(exported, list):
        return []
    out = []
    if _ops(exported) != _ops(trace):
        out.append("the exported layers differ from the layers traced during training "
                   f"({len(_ops(exported))} vs {len(_ops(trace))} ops)")
    name = rec.get("weights_file")
    path = (Path(export_dir) / name).resolve() if isinstance(name, str) and name else None
    if path is None or Path(export_dir).resolve() not in path.parents or not path.is_file():
        return out
    try:
        weights = load_weights(path)
    except UnverifiableModel:
        return out
    linear = [x for x in exported if isinstance(x, dict) and x.get("op") == "linear"]
    traced = [x for x in trace if x.get("op") == "linear"]
    for i, (spec, t) in enumerate(zip(linear, traced, strict=False)):
        want = (t.get("out"), t.get("in"))
        w, b = weights.get(str(spec.get("weight"))), weights.get(str(spec.get("bias")))
        if w is not None and _shape(w) != want:
            out.append(f"linear layer {i + 1}: exported weight has shape {_shape(w)} but training traced {want}")
        if b is not None and _shape(b) != (want[0],):
            out.append(f"linear layer {i + 1}: exported bias has shape {_shape(b)} but training traced "
                       f"({want[0]},)")
    return out
