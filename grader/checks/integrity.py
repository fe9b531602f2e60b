"""Integrity flags (0 points, shown prominently): things an instructor must look at.

How the notebook prints its numbers (``[printed]`` in assignment.toml) and the tolerances (``[integrity]``)
come from the assignment; the flags and what they void are generic.
"""

from __future__ import annotations

import re
from typing import Any

from grader.checks.context import CheckContext
from grader.checks.flag import Flag, make_flag
from grader.checks.notebook import as_fraction, printed_numbers
from grader.checks.proof import proof_flags
from grader.checks.tamper import tamper_flags
from grader.data.provider import BUILTIN
from grader.evaluation.runs import NO_DATA
from grader.text import text

_CUDA = re.compile(r"no nvidia driver|cuda driver|not compiled with cuda|no cuda gpus|cuda.*not available|"
                   r"found no nvidia|cuda error", re.I)


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


def _printed_costs(ctx: CheckContext, params: dict[str, Any]) -> list[Flag]:
    costs = printed_numbers(ctx, ctx.printed.cost)
    if not costs:
        return []
    known = _cost_values(ctx)
    tol = float(params.get("printed_cost_tolerance", 0.05))
    unmatched = [c for c in costs if not any(abs(c - k) <= max(tol * abs(k), 1e-4) for k in known)]
    if not known:
        return [make_flag("printed_numbers", text(f"{len(costs)} cost lines were printed but no training step was "
                                              "recorded", f"cost 가 {len(costs)}번 출력되었지만 학습 step 은 하나도 "
                                              "기록되지 않았습니다"), printed=costs[:20])]
    if len(unmatched) > 0.2 * len(costs):
        return [make_flag("printed_numbers", text(f"{len(unmatched)} of {len(costs)} printed costs match no recorded "
                                                  "loss",
                                              f"출력된 cost {len(costs)}개 중 {len(unmatched)}개가 기록된 어떤 loss "
                                              "와도 맞지 않습니다"), unmatched=unmatched[:20])]
    return []


def printed_flags(ctx: CheckContext, params: dict[str, Any]) -> list[Flag]:
    """Printed costs / accuracies that contradict what was recorded or measured."""
    flags = _printed_costs(ctx, params)
    accs = as_fraction(printed_numbers(ctx, ctx.printed.accuracy))
    measured = [er.accuracy for er in ctx.runs if er.accuracy is not None]
    tol = float(params.get("printed_accuracy_tolerance", 0.10))
    if not measured and ctx.runs and all(er.unverified_reason == NO_DATA for er in ctx.runs):
        return flags  # nothing to measure on: the assignment serves no data and gives no [data.evaluation] rows
    if accs and (not measured or max(accs) > max(measured) + tol):
        best = f"{max(measured):.4f}" if measured else "nothing (no trained model)"
        best_ko = f"{max(measured):.4f}" if measured else "아무것도 없음 (학습된 모델 없음)"
        flags.append(make_flag("printed_numbers", text(f"printed accuracy {max(accs):.4f} but the grader measured "
                                                       f"{best}",
                                                   f"출력된 정확도는 {max(accs):.4f} 이지만 채점기가 잰 값은 {best_ko} "
                                                   "입니다"), printed=accs[:20]))
    return flags


def accuracy_at_chance(ctx: CheckContext, params: dict[str, Any]) -> list[Flag]:
    """A high printed accuracy while every model the grader rebuilt scores at chance: no accuracy points (the
    checks tagged ``accuracy`` are voided)."""
    accs = as_fraction(printed_numbers(ctx, ctx.printed.accuracy))
    graded = [er.accuracy for er in ctx.runs if er.accuracy is not None and er.accuracy_source == "grader"]
    chance = float(params.get("chance_accuracy", 0.10)) + float(params.get("chance_margin", 0.05))
    high = float(params.get("printed_high_accuracy", 0.5))
    if not accs or not graded or max(graded) > chance or max(accs) < high:
        return []
    return [make_flag("accuracy_at_chance", text(
        f"printed accuracy {max(accs):.4f}, but every model the grader rebuilt from the exported weights scores at "
        f"chance ({max(graded):.4f}); no accuracy points",
        f"출력된 정확도는 {max(accs):.4f} 이지만 채점기가 내보낸 가중치로 다시 만든 모든 모델은 무작위 수준 "
        f"({max(graded):.4f}) 입니다. 정확도 점수가 없습니다"), voids=["tag:accuracy"], printed=accs[:20],
        measured=graded)]


def _execution_flags(ctx: CheckContext) -> list[Flag]:
    ex, flags = ctx.execution, []
    if ex is None:
        return []
    errors = [c for c in ex.cells if c.status == "error"]
    if errors:
        listed = ", ".join(f"cell index {c.index} {c.error['ename']}" for c in errors[:5] if c.error)
        listed_ko = ", ".join(f"셀 {c.index} {c.error['ename']}" for c in errors[:5] if c.error)
        flags.append(make_flag("notebook_errors", text(f"{len(errors)} cell(s) raised errors: {listed}",
                                                   f"셀 {len(errors)}개에서 오류가 났습니다: {listed_ko}")))
    cuda = [c for c in errors if c.error and _CUDA.search(c.error["evalue"] + c.error["ename"])]
    if cuda and not (ctx.recording.hello or {}).get("cuda", False):
        flags.append(make_flag("requires_cuda", text(
            f"this submission requires a CUDA GPU: it calls .cuda()/'cuda' directly (cell index {cuda[0].index}); use "
            "`device = 'cuda' if torch.cuda.is_available() else 'cpu'`",
            f"이 제출물은 CUDA GPU 가 있어야 돌아갑니다: .cuda()/'cuda' 를 직접 부릅니다 (셀 {cuda[0].index}). "
            "`device = 'cuda' if torch.cuda.is_available() else 'cpu'` 를 쓰세요")))
    if ex.status == "timeout":
        flags.append(make_flag("timeout", ex.message or "time limit reached"))
    if ex.status == "kernel_died":
        oom = (ex.message or "").startswith("memory limit:")  # the sandbox's memory cgroup killed it
        flags.append(make_flag("kernel_died", ex.message.split(";")[0] if oom and ex.message
                           else f"kernel died; last cell that ran: index {ex.last_cell}"))
    return flags


def _data_label(ctx: CheckContext) -> str:
    """``"MNIST "`` for an assignment served by the MNIST provider ('' without a named dataset)."""
    a = ctx.assignment
    if a is None or a.data_provider not in BUILTIN or a.data_provider == "none":
        return ""
    return BUILTIN[a.data_provider].label + " "


def integrity_flags(ctx: CheckContext, params: dict[str, Any]) -> list[Flag]:
    """All integrity flags for one submission."""
    flags: list[Flag] = []
    test_runs = [er.run.index + 1 for er in ctx.runs if any(e.split == "test" for e in er.run.epochs)]
    if test_runs:
        data = _data_label(ctx)
        flags.append(make_flag("trained_on_test", text(f"run(s) {test_runs} trained on the {data}test split",
                                                       f"실행 {test_runs} 이(가) {data}테스트 데이터로 학습했습니다"),
                           runs=test_runs))
    flags.extend(tamper_flags(ctx))
    flags.extend(proof_flags(ctx))
    flags.extend(printed_flags(ctx, params))
    flags.extend(accuracy_at_chance(ctx, params))
    return flags + _execution_flags(ctx)
