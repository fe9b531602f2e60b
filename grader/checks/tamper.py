"""Tamper flags: the probe's hooks or methods undone, forged events, recorded steps without evidence or that
changed nothing, exports that contradict the training record.

Each flag says what it takes away from the score (``voids`` / ``untrusted``, see :mod:`grader.checks.flag`).
The evidence comes from the probe's guard (``guard`` events, streamed append-only) and from the
grader's own comparison of the exported weights with the training-time trace.
"""

from __future__ import annotations

from typing import Any

from grader.checks.context import CheckContext
from grader.checks.flag import Flag, make_flag
from grader.evaluation.runs import EvaluatedRun
from grader.evaluation.states import weights_state
from grader.text import text

HOOK_NAMES = {
    "forward_hooks": "module forward hooks", "optimizer_hooks": "optimizer step hooks",
    "guard_step_hooks": "the guard's optimizer step hooks", "optimizer_init": "the Optimizer.__init__ wrapper",
    "backward_wrapper": "the torch.autograd.backward wrapper (restored or replaced)",
    "tensor_backward": "Tensor.backward (replaced: backward bypasses the recording)",
    "dataloader_wrapper": "the DataLoader wrappers", "cell_watch": "the grader's per-cell check",
    "probe_methods": "the recording probe's methods (emit, step hooks, ...) replaced",
    "guard_methods": "the tamper guard's methods (report, step checks, ...) replaced",
    "probe_object": "the recording probe itself replaced",
}
#: probe errors after which the folded steps may honestly fall short of the probe's own count
_LOSSY_ERRORS = ("flush", "step_post")


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


def forged_events(ctx: CheckContext) -> list[str]:
    """Events the probe cannot have written: the export's ``end`` / final guard report repeated or missing,
    events after ``end``, runs or steps out of sequence, an ``end`` that disagrees with the folded recording."""
    rec, out = ctx.recording, []
    if rec.n_end > 1:
        out.append(f"{rec.n_end} end events (the grader's export writes one)")
    if rec.n_guard_final > 1:
        out.append(f"{rec.n_guard_final} final guard reports (the grader's export writes one)")
    if rec.after_end:
        out.append(f"{rec.after_end} event(s) after the end of the recording")
    out.extend(rec.out_of_sequence[:5])
    end = rec.end
    if end is None:
        return out
    wheres = {str(e.get("where")) for e in rec.probe_errors}
    if not rec.n_guard_final and "guard_report" not in wheres:
        out.append("the recording ended without the guard's final report")
    n_runs = end.get("n_runs")
    if isinstance(n_runs, int) and n_runs != len(rec.runs):
        out.append(f"the probe counted {n_runs} run(s) but the recording has {len(rec.runs)}")
    steps = end.get("steps")
    if isinstance(steps, list) and len(steps) == len(rec.runs) and not wheres & set(_LOSSY_ERRORS):
        for run, n in zip(rec.runs, steps, strict=True):
            # an interrupt (timeout) between the step count and its loss can leave one step unrecorded
            if isinstance(n, int) and not 0 <= n - run.steps <= 1:
                out.append(f"run {run.index + 1}: the probe counted {n} steps but the recording has {run.steps}")
    return out


def hook_flags(ctx: CheckContext) -> list[Flag]:
    """probe_tampered: hooks or the probe's methods removed or replaced, events forged, or the final report
    missing."""
    broken, forged = _broken_hooks(ctx), forged_events(ctx)
    if broken:
        what = "; ".join(HOOK_NAMES.get(k, k) + (f" (after cell index {c})" if c is not None else "")
                         for k, c in sorted(broken.items()))
        more = f"; the event stream was forged: {'; '.join(forged)}" if forged else ""
        return [make_flag("probe_tampered", text(
                            f"the grader's recording hooks were removed or replaced: {what}{more}; "
                            "the recording cannot be trusted, no automatic points",
                            f"채점기의 기록 장치(hook)가 제거되거나 바뀌었습니다: {what}{more}. 기록을 믿을 수 "
                            "없으므로 자동 점수가 없습니다"), voids=["*"],
                            broken=sorted(broken), first_seen_cell_index=broken, forged=forged)]
    if forged:
        return [make_flag("probe_tampered", text(
                            f"the recording contains events the grader's probe did not write: "
                            f"{'; '.join(forged)}; the recording cannot be trusted, no automatic points",
                            f"기록에 채점기의 probe 가 쓰지 않은 이벤트가 있습니다: {'; '.join(forged)}. 기록을 "
                            "믿을 수 없으므로 자동 점수가 없습니다"), voids=["*"], forged=forged)]
    if ctx.recording.end is None and ctx.execution is not None and ctx.execution.exported:
        return [make_flag("probe_tampered", text(
                            "the recording ended without its final report (the probe was disabled or its output "
                            "closed); no automatic points",
                            "기록이 마지막 보고 없이 끝났습니다 (probe 가 꺼졌거나 출력이 닫혔습니다). 자동 점수가 "
                            "없습니다"), voids=["*"])]
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


def step_flags(ctx: CheckContext) -> list[Flag]:
    """no_training_evidence: recorded steps the guard never saw an optimizer take (no evidence, no run);
    step_mismatch: recorded optimizer steps that the parameters' version counters contradict.

    Both need the guard's final report: a kernel that died before the export leaves no evidence either
    way, and its runs are judged on the recording alone (the kernel_died flag tells the instructor)."""
    final, flags = _final(ctx), list[Flag]()
    if not ctx.recording.n_guard_final:
        return flags
    for er in ctx.runs:
        g = final.get(er.run.index)
        if er.run.steps and not int((g or {}).get("steps") or 0):
            flags.append(make_flag(
                "no_training_evidence", text(
                    f"{er.label}: {er.run.steps} steps were recorded but the grader's guard saw no optimizer step "
                    "change its parameters (the steps were written into the recording, not trained); the run is not "
                    "used for any check",
                    f"{er.label}: {er.run.steps} step 이 기록되었지만 채점기의 guard 는 옵티마이저 step 이 "
                    "파라미터를 바꾸는 것을 보지 못했습니다 (학습이 아니라 기록에 써 넣은 것입니다). 이 실행은 어떤 "
                    "검사에도 쓰이지 않습니다"), untrusted={"runs": [er.run.index]},
                run=er.run.index, recorded_steps=er.run.steps, guard=g))
            continue
        problems = _step_problems(er, g, ctx) if g and er.run.steps else []
        if problems:
            flags.append(make_flag(
                "step_mismatch", text(
                    f"{er.label}: its steps were faked or bypassed: {'; '.join(problems)}; the run is not used for "
                    "any check", f"{er.label}: step 이 조작되었거나 우회되었습니다: {'; '.join(problems)}. 이 실행은 "
                    "어떤 검사에도 쓰이지 않습니다"), untrusted={"runs": [er.run.index]},
                run=er.run.index, recorded_steps=er.run.steps, guard=g))
    return flags


def weight_flags(ctx: CheckContext) -> list[Flag]:
    """weights_mismatch: exported weights that contradict the training trace, or that were changed after training
    into weights the run never had (weights written back equal to a recorded state of the run are honest: a
    save/load round trip, a best-epoch restore)."""
    flags = []
    for er in ctx.runs:
        reasons = list(er.weight_conflicts)
        state = weights_state(ctx.recording, er.run)
        if state is not None and not state["recorded"]:
            reasons.append(f"{state['changed']} of its parameter tensors were changed in place after its last step, "
                           "into weights equal to none the run had at an epoch's end or its last step")
        if reasons:
            flags.append(make_flag(
                "weights_mismatch", text(
                    f"{er.label}: the exported weights contradict the training record: {'; '.join(reasons[:3])}; "
                    "its accuracy is not credited", f"{er.label}: 내보낸 가중치가 학습 기록과 다릅니다: "
                    f"{'; '.join(reasons[:3])}. 이 실행의 정확도는 점수에 들어가지 않습니다"),
                untrusted={"accuracy": [er.run.index]},
                run=er.run.index, conflicts=reasons))
    return flags


def tamper_flags(ctx: CheckContext) -> list[Flag]:
    """All tamper flags of one submission."""
    return hook_flags(ctx) + step_flags(ctx) + weight_flags(ctx)
