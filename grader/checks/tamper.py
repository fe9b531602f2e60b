"""Tamper flags: the probe's hooks undone, optimizer steps that changed nothing, exports that contradict
the training record.

Each flag says what it takes away from the score: ``voids`` (check-id patterns that get 0 points, "*"
= every automatic check) and/or ``untrusted`` (``{"runs": [...]}``: runs the checks must not use;
``{"accuracy": [...]}``: runs whose accuracy must not be credited). ``grader.scoring.voiding`` applies
them. The evidence comes from the probe's guard (``guard`` events, streamed append-only) and from the
grader's own comparison of the exported weights with the training-time trace.
"""

from __future__ import annotations

from typing import Any

from grader.checks.context import CheckContext, EvaluatedRun

HOOK_NAMES = {
    "forward_hooks": "module forward hooks", "optimizer_hooks": "optimizer step hooks",
    "guard_step_hooks": "the guard's optimizer step hooks", "optimizer_init": "the Optimizer.__init__ wrapper",
    "backward_wrapper": "the torch.autograd.backward wrapper (restored or replaced)",
    "tensor_backward": "Tensor.backward (replaced: backward bypasses the recording)",
    "dataloader_wrapper": "the DataLoader wrappers", "cell_watch": "the grader's per-cell check",
}


def tamper_flag(fid: str, message: str, voids: list[str] | None = None,
                untrusted: dict[str, list[int]] | None = None, **evidence: Any) -> dict[str, Any]:
    """A flag that takes points away (see the module docstring)."""
    flag: dict[str, Any] = {"id": fid, "message": message, "evidence": evidence}
    if voids:
        flag["voids"] = voids
    if untrusted:
        flag["untrusted"] = untrusted
    return flag


def _broken_hooks(ctx: CheckContext) -> dict[str, int | None]:
    """Each protection found missing -> notebook cell index after which it was first seen missing."""
    broken: dict[str, int | None] = {}
    end = ctx.recording.end or {}
    for name, ok in (end.get("hooks_intact") or {}).items():
        if not ok:
            broken[name] = None
    for ev in ctx.recording.guard:
        first = ev.get("first_bad") or {}
        names = list(ev.get("broken") or []) + [k for k, ok in (ev.get("state") or {}).items() if not ok]
        for name in names:
            cell = first.get(name)
            if broken.get(name) is None:
                broken[name] = ctx.notebook_cell(int(cell)) if isinstance(cell, int) and cell > 0 else None
    return broken


def hook_flags(ctx: CheckContext) -> list[dict[str, Any]]:
    """probe_tampered: hooks removed or replaced, or the recording's final report missing."""
    broken = _broken_hooks(ctx)
    if broken:
        what = "; ".join(HOOK_NAMES.get(k, k) + (f" (after cell index {c})" if c is not None else "")
                         for k, c in sorted(broken.items()))
        return [tamper_flag("probe_tampered", f"the grader's recording hooks were removed or replaced: {what}; "
                            "the recording cannot be trusted, no automatic points", voids=["*"],
                            broken=sorted(broken), first_seen_cell_index=broken)]
    if ctx.recording.end is None and ctx.execution is not None and ctx.execution.exported:
        return [tamper_flag("probe_tampered", "the recording ended without its final report (the probe was "
                            "disabled or its output closed); no automatic points", voids=["*"])]
    return []


def _final(ctx: CheckContext) -> dict[int, dict[str, Any]]:
    finals = [ev for ev in ctx.recording.guard if ev.get("kind") == "final"]
    if not finals:
        return {}
    return {int(r["run"]): r for r in finals[-1].get("runs") or [] if isinstance(r, dict) and "run" in r}


def _step_problems(er: EvaluatedRun, g: dict[str, Any], ctx: CheckContext) -> list[str]:
    recorded, seen = er.run.steps, int(g.get("steps") or 0)
    problems = []
    idle = int(g.get("idle") or 0)
    if idle:
        cell = g.get("first_idle_cell")
        where = f", first in cell index {ctx.notebook_cell(cell)}" if isinstance(cell, int) else ""
        problems.append(f"{idle} of {seen} optimizer steps changed no parameter{where}")
    if seen < recorded:
        problems.append(f"the recording has {recorded} steps but the optimizer really stepped {seen} times")
    delta = g.get("version_delta")
    if not g.get("fused") and not g.get("data") and isinstance(delta, int) and delta < recorded:
        problems.append(f"its parameters' version counters advanced by {delta} over {recorded} recorded steps "
                        "(every real step advances them)")
    return problems


def step_flags(ctx: CheckContext) -> list[dict[str, Any]]:
    """step_mismatch: recorded optimizer steps that the parameters' version counters contradict."""
    final, flags = _final(ctx), []
    for er in ctx.runs:
        g = final.get(er.run.index)
        problems = _step_problems(er, g, ctx) if g and er.run.steps else []
        if problems:
            flags.append(tamper_flag(
                "step_mismatch", f"{er.label}: its steps were faked or bypassed: {'; '.join(problems)}; "
                "the run is not used for any check", untrusted={"runs": [er.run.index]},
                run=er.run.index, recorded_steps=er.run.steps, guard=g))
    return flags


def weight_flags(ctx: CheckContext) -> list[dict[str, Any]]:
    """weights_mismatch: exported weights that contradict the training trace or were changed after training."""
    final, flags = _final(ctx), []
    for er in ctx.runs:
        reasons = list(er.weight_conflicts)
        later = (final.get(er.run.index) or {}).get("modified_after_training") or []
        if later:
            reasons.append(f"{len(later)} of its parameter tensors were changed in place after its last step")
        if reasons:
            flags.append(tamper_flag(
                "weights_mismatch", f"{er.label}: the exported weights contradict the training record: "
                f"{'; '.join(reasons[:3])}; its accuracy is not credited", untrusted={"accuracy": [er.run.index]},
                run=er.run.index, conflicts=reasons))
    return flags


def tamper_flags(ctx: CheckContext) -> list[dict[str, Any]]:
    """All tamper flags of one submission."""
    return hook_flags(ctx) + step_flags(ctx) + weight_flags(ctx)
