"""Integrity flags (0 points, shown prominently): things an instructor must look at."""

from __future__ import annotations

import re
from typing import Any

from grader.checks.context import CheckContext
from grader.checks.proof import proof_flags
from grader.checks.tamper import tamper_flag, tamper_flags

_COST = re.compile(r"cost\s*[=:]\s*(?:tensor\()?\s*([-+]?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?)", re.I)
_ACC = re.compile(r"accuracy\s*[=:]?\s*(?:tensor\()?\s*([-+]?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?)", re.I)
_CUDA = re.compile(r"no nvidia driver|cuda driver|not compiled with cuda|no cuda gpus|cuda.*not available|"
                   r"found no nvidia|cuda error", re.I)


def _flag(fid: str, message: str, **evidence: Any) -> dict[str, Any]:
    return {"id": fid, "message": message, "evidence": evidence}


def _stdout(ctx: CheckContext) -> str:
    return "\n".join(c.stdout for c in ctx.execution.cells) if ctx.execution else ""


def _cost_values(ctx: CheckContext) -> list[float]:
    """Every value a student's printed per-epoch cost could legitimately be."""
    values: list[float] = []
    for er in ctx.runs:
        values.extend(v for v in er.run.losses if v is not None)
        values.extend(er.run.epoch_means(complete_only=False))
        start = 0
        for ep in er.run.epochs:  # the slide's indentation bug prints last-batch cost / total_batch
            last = er.run.losses[start + ep.steps - 1] if ep.steps else None
            if last is not None:
                values.append(last / ep.steps)
            start += ep.steps
    return values


def printed_numbers(ctx: CheckContext, params: dict[str, Any]) -> list[dict[str, Any]]:
    """Printed "cost =" / "Accuracy:" numbers that contradict what was recorded or measured."""
    text = _stdout(ctx)
    flags = []
    costs = [float(m) for m in _COST.findall(text)]
    if costs:
        known = _cost_values(ctx)
        tol = float(params.get("printed_cost_tolerance", 0.05))
        unmatched = [c for c in costs if not any(abs(c - k) <= max(tol * abs(k), 1e-4) for k in known)]
        if not known:
            flags.append(_flag("printed_numbers", f"{len(costs)} 'cost =' lines were printed but no training "
                                                  "step was recorded", printed=costs[:20]))
        elif len(unmatched) > 0.2 * len(costs):
            flags.append(_flag("printed_numbers", f"{len(unmatched)} of {len(costs)} printed costs match no "
                                                  "recorded loss", unmatched=unmatched[:20]))
    accs = [float(m) for m in _ACC.findall(text)]
    accs = [a / 100 if a > 1 else a for a in accs]
    measured = [er.accuracy for er in ctx.runs if er.accuracy is not None]
    tol = float(params.get("printed_accuracy_tolerance", 0.10))
    if accs and (not measured or max(accs) > max(measured) + tol):
        best = f"{max(measured):.4f}" if measured else "nothing (no trained model)"
        flags.append(_flag("printed_numbers", f"printed accuracy {max(accs):.4f} but the grader measured {best}",
                           printed=accs[:20]))
    return flags


def accuracy_at_chance(ctx: CheckContext, params: dict[str, Any]) -> list[dict[str, Any]]:
    """A high printed accuracy while every model the grader rebuilt scores at chance: no accuracy points."""
    accs = [a / 100 if a > 1 else a for a in (float(m) for m in _ACC.findall(_stdout(ctx)))]
    graded = [er.accuracy for er in ctx.runs if er.accuracy is not None and er.accuracy_source == "grader"]
    chance = float(params.get("chance_accuracy", 0.10)) + float(params.get("chance_margin", 0.05))
    high = float(params.get("printed_high_accuracy", 0.5))
    if not accs or not graded or max(graded) > chance or max(accs) < high:
        return []
    return [tamper_flag("accuracy_at_chance", f"printed accuracy {max(accs):.4f}, but every model the grader "
                        f"rebuilt from the exported weights scores at chance ({max(graded):.4f}); "
                        "no accuracy points", voids=["t1.accuracy"], printed=accs[:20], measured=graded)]


def integrity_flags(ctx: CheckContext, params: dict[str, Any]) -> list[dict[str, Any]]:
    """All integrity flags for one submission."""
    flags: list[dict[str, Any]] = []
    test_runs = [er.run.index + 1 for er in ctx.runs if any(e.split == "test" for e in er.run.epochs)]
    if test_runs:
        flags.append(_flag("trained_on_test", f"run(s) {test_runs} trained on the MNIST test split", runs=test_runs))
    flags.extend(tamper_flags(ctx))
    flags.extend(proof_flags(ctx))
    flags.extend(printed_numbers(ctx, params))
    flags.extend(accuracy_at_chance(ctx, params))
    ex = ctx.execution
    if ex is not None:
        errors = [c for c in ex.cells if c.status == "error"]
        if errors:
            flags.append(_flag("notebook_errors", f"{len(errors)} cell(s) raised errors: "
                               + ", ".join(f"cell index {c.index} {c.error['ename']}" for c in errors[:5] if c.error)))
        cuda = [c for c in errors if c.error and _CUDA.search(c.error["evalue"] + c.error["ename"])]
        hello = ctx.recording.hello or {}
        if cuda and not hello.get("cuda", False):
            flags.append(_flag("requires_cuda", "this submission requires a CUDA GPU: it calls .cuda()/'cuda' "
                               f"directly (cell index {cuda[0].index}); use `device = 'cuda' if "
                               "torch.cuda.is_available() else 'cpu'`"))
        if ex.status == "timeout":
            flags.append(_flag("timeout", ex.message or "time limit reached"))
        if ex.status == "kernel_died":
            oom = (ex.message or "").startswith("memory limit:")  # the sandbox's memory cgroup killed it
            flags.append(_flag("kernel_died", ex.message.split(";")[0] if oom and ex.message
                               else f"kernel died; last cell that ran: index {ex.last_cell}"))
    return flags
