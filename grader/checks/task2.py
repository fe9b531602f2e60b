"""Task 2 checks: the Sigmoid model, a controlled comparison with ReLU, and the written conclusion.

Never judges the Sigmoid run by "the loss must not decrease": with Adam it does decrease.
"""

from __future__ import annotations

import re
from typing import Any

from grader.checks.context import CheckContext
from grader.checks.registry import Outcome, Registry
from grader.checks.select import differences, relu_run, sigmoid_run

_KEYWORDS = re.compile(r"sigmoid|시그모이드|vanish|기울기|그래디언트|gradient|소실|conclusion|결론|relu", re.I)
_PLACEHOLDER = re.compile(r"여기에 결론을 쓰세요|write your conclusion here", re.I)


def register(reg: Registry) -> None:
    """Add task 2's checks to ``reg``."""
    reg.register("t2.sigmoid_model")(sigmoid_model)
    reg.register("t2.controlled")(controlled)
    reg.register("t2.conclusion")(conclusion)


def sigmoid_model(ctx: CheckContext, p: dict[str, Any]) -> Outcome:
    er, why = sigmoid_run(ctx, p)
    if er is None:
        return Outcome(False, f"no six-hidden-layer Sigmoid model was trained: {why}")
    means = er.run.epoch_means()
    trend = f"; loss {means[0]:.3f} → {means[-1]:.3f}" if means else ""
    return Outcome(True, f"{er.label} trained for {er.run.epochs_completed} epoch(s){trend}",
                   evidence={"run": er.run.index, "epoch_means": means})


def controlled(ctx: CheckContext, p: dict[str, Any]) -> Outcome:
    relu, why_r = relu_run(ctx, {})
    sig, why_s = sigmoid_run(ctx, {})
    if sig is None:
        return Outcome(False, f"no Sigmoid run to compare: {why_s}")
    if relu is None:
        return Outcome(False, f"no six-hidden-layer ReLU run to compare with: {why_r}")
    diff = differences(relu, sig)
    if diff:
        return Outcome(False, "the Sigmoid run differs from the ReLU run in more than the activation: "
                              + "; ".join(diff), evidence={"differences": diff})
    return Outcome(True, "same widths, optimizer, learning rate, epochs and batch size; only the activation differs")


def _text_near(ctx: CheckContext, start: int, stop: int) -> list[str]:
    parts = []
    for i, cell in enumerate(ctx.notebook.cells):
        src = cell.get("source", "")
        in_range = start <= i < stop
        if cell.cell_type == "markdown" and (in_range or _KEYWORDS.search(src)):
            parts.append(src.strip())
        elif cell.cell_type == "code" and in_range:
            parts.extend(line.strip().lstrip("#").strip() for line in src.splitlines()
                         if line.strip().startswith("#") and len(line.strip()) > 12)
    return [t for t in parts if t and not _PLACEHOLDER.search(t) and t not in ctx.template_texts]


def conclusion(ctx: CheckContext, p: dict[str, Any]) -> Outcome:
    sig, _ = sigmoid_run(ctx, {})
    if sig is not None:
        start = ctx.notebook_cell(sig.run.cell)
        later = [er.run.cell for er in ctx.runs if er.run.cell > sig.run.cell and er is not sig]
        stop = ctx.notebook_cell(min(later)) if later else len(ctx.notebook.cells)
        stop = max(stop, start + 4)
    else:
        start = stop = 0
    parts = list(dict.fromkeys(_text_near(ctx, start, stop)))
    text = "\n\n".join(parts)[:4000]
    if len(text) >= int(p.get("min_chars", 20)):
        return Outcome(None, f"written conclusion found ({len(text)} characters): pending instructor review",
                       evidence={"text": text})
    return Outcome(None, "no written conclusion found near the Sigmoid experiment: pending instructor review",
                   evidence={"text": text})
