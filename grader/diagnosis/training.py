"""Diagnoses from the loss curve: a learning rate too high (NaN/inf, a blow-up, a loss growing back), the chance
plateau ln(C) with its likely cause, and a loop stepping an optimizer that holds another model."""

from __future__ import annotations

import math
from collections import defaultdict
from typing import TYPE_CHECKING, Any

from grader.assignment.settings import DiagnosisConfig
from grader.diagnosis.cells import task_sections
from grader.diagnosis.evidence import (
    ADAPTIVE,
    chance_loss,
    classes,
    effective_lr,
    lr_evidence,
    lr_of,
    lr_words,
    name,
    smoothed,
    steps_per_epoch,
)
from grader.diagnosis.gradients import dead_units
from grader.diagnosis.model import Diagnosis, DiagnosisInput, Severity
from grader.text import Text, text

if TYPE_CHECKING:
    from grader.evaluation.runs import EvaluatedRun

_SATURATING = {"sigmoid", "tanh"}


def _finite(values: list[float | None]) -> list[tuple[int, float]]:
    return [(i, v) for i, v in enumerate(values) if v is not None and math.isfinite(v)]


def lr_too_high(inp: DiagnosisInput, cfg: DiagnosisConfig) -> list[Diagnosis]:
    """The loss turned NaN/inf, blew up far above its start, or grew back for epochs."""
    out = []
    for er in inp.runs:
        found = _nonfinite(er) or _spike(er, cfg) or _growth(er, cfg)
        if found is None:
            continue
        severity, what, evidence = found
        lr = lr_of(er)
        out.append(Diagnosis(
            "lr_too_high", severity,
            text(f"{name(er)}: {what['en']}: the learning rate is too high for this model and optimizer, so steps "
                 "overshoot the minimum and the weights blow up",
                 f"{name(er)}: {what['ko']}: 이 모델과 옵티마이저에 학습률이 너무 커서 step 이 최솟값을 지나쳐 "
                 "가중치가 발산합니다"),
            text(f"Lower the learning rate (e.g. ÷10{f': lr={lr / 10:g}' if lr else ''}) and train again.",
                 f"학습률을 낮추고 (예: ÷10{f', lr={lr / 10:g}' if lr else ''}) 다시 학습하세요."),
            {**evidence, **lr_evidence(er), "optimizer": er.run.torch_class}, run=er.run.index))
    return out


def _nonfinite(er: EvaluatedRun) -> tuple[Severity, Text, dict[str, Any]] | None:
    losses = er.run.losses
    finite = _finite(losses)
    if not finite:
        return None
    k = next((i for i in range(finite[0][0], len(losses)) if losses[i] is None), None)
    if k is None or sum(v is None for v in losses[k:]) * 2 < len(losses) - k:
        return None  # a stray unrecorded step, not a divergence
    before = [f"{v:.3g}" for i, v in finite if k - 3 <= i < k]
    what = text(f"the loss became NaN/inf at step {k + 1} (before: {', '.join(before)})",
                f"step {k + 1} 에서 loss 가 NaN/inf 가 되었습니다 (직전: {', '.join(before)})")
    return "error", what, {"first_nonfinite_step": k, "losses_before": [v for i, v in finite if k - 3 <= i < k]}


def _spike(er: EvaluatedRun, cfg: DiagnosisConfig) -> tuple[Severity, Text, dict[str, Any]] | None:
    finite = _finite(er.run.losses)
    if len(finite) < 2:
        return None
    start = finite[0][1]
    limit = cfg.spike_factor * max(chance_loss(er) or 0.0, start)
    k, peak = max(finite, key=lambda iv: iv[1])
    if peak <= limit:
        return None
    what = text(f"the loss jumped to {peak:.4g} at step {k + 1} (it started at {start:.4f})",
                f"step {k + 1} 에서 loss 가 {peak:.4g} 로 튀었습니다 (시작 값 {start:.4f})")
    return "warning", what, {"peak": peak, "peak_step": k, "first_loss": start}


def _growth(er: EvaluatedRun, cfg: DiagnosisConfig) -> tuple[Severity, Text, dict[str, Any]] | None:
    unit, means, per = er.run.progress()  # epoch means, or windows of steps for a loop without epochs
    if len(means) < 3:
        return None
    best = min(range(len(means)), key=lambda i: means[i])
    gave_back = (means[-1] - means[best]) / (means[0] - means[best]) if means[0] > means[best] else 0.0
    if best == len(means) - 1 or means[-1] < cfg.growth_ratio * means[best] or gave_back < cfg.growth_share:
        return None  # a loss near zero that wobbles by a factor is not a loss growing back
    if unit == "step":
        at, end = f"steps {best * per + 1}–{(best + 1) * per}", f"steps {(len(means) - 1) * per + 1}–{len(means) * per}"
        what = text(f"the loss fell to {means[best]:.4f} ({at}) and grew back to {means[-1]:.4f} ({end})",
                    f"loss 가 {means[best]:.4f} ({at}) 까지 내려갔다가 {means[-1]:.4f} ({end}) 로 다시 커졌습니다")
        return "warning", what, {"step_window_means": means, "steps_per_window": per, "best_window": best + 1,
                                 "gave_back": gave_back}
    what = text(f"the loss fell to {means[best]:.4f} (epoch {best + 1}) and grew back to {means[-1]:.4f} "
                f"(epoch {len(means)})",
                f"loss 가 {means[best]:.4f} (epoch {best + 1}) 까지 내려갔다가 {means[-1]:.4f} (epoch {len(means)}) 로 "
                "다시 커졌습니다")
    return "warning", what, {"epoch_means": means, "best_epoch": best + 1, "gave_back": gave_back}


def _longest_plateau(values: list[float | None], chance: float, tol: float) -> tuple[int, int]:
    """(start, length) of the longest run of smoothed losses within ``tol`` of ``chance``."""
    best, start, run = (0, 0), 0, 0
    for i, v in enumerate(values):
        if v is not None and abs(v - chance) <= tol:
            start, run = (i, 1) if run == 0 else (start, run + 1)
            best = max(best, (start, run), key=lambda sr: sr[1])
        else:
            run = 0
    return best


def chance_plateau(inp: DiagnosisInput, cfg: DiagnosisConfig) -> list[Diagnosis]:
    """Loss stuck at ln(C) (uniform guessing), with the likely cause from the evidence."""
    out = []
    for er in inp.runs:
        chance = chance_loss(er)
        if chance is None or er.run.steps < cfg.plateau_window:
            continue
        values = smoothed(er.run.losses, cfg.plateau_window)
        start, length = _longest_plateau(values, chance, cfg.plateau_tolerance)
        per_epoch = steps_per_epoch(er) or er.run.steps
        stuck = start + length >= len(values) - 1
        cause, cause_ev = _plateau_cause(inp, er, cfg, values, start)
        long_enough = length >= cfg.plateau_epochs * per_epoch
        slow_start = cause == "vanishing_gradients" and length >= max(5 * cfg.plateau_window,
                                                                      cfg.slow_start_epochs * per_epoch)
        if not ((long_enough and (stuck or cause != "unknown")) or slow_start):
            continue
        severity: Severity = "info" if cause == "vanishing_gradients" or not stuck else "warning"
        ev = {"chance_loss": chance, "classes": classes(er), "start_step": start, "steps": length,
              "epochs": length / per_epoch, "stuck": stuck, "cause": cause, **cause_ev}
        out.append(_plateau_diagnosis(er, severity, ev))
    return out


def _first_last_ratio(er: EvaluatedRun) -> float | None:
    """First-layer / last-layer gradient norm at the first recorded step (else at a fresh init)."""
    norms = er.run.gradnorms[0] if er.run.gradnorms else er.gradient_flow
    if not norms or len(norms) < 2 or not norms[-1]:
        return None
    return float(norms[0]) / float(norms[-1])


def _plateau_cause(inp: DiagnosisInput, er: EvaluatedRun, cfg: DiagnosisConfig, values: list[float | None],
                   start: int) -> tuple[str, dict[str, Any]]:
    ratio = _first_last_ratio(er)
    acts = set(er.arch.hidden_acts) if er.arch else set()
    ev: dict[str, Any] = {"grad_ratio_first_last": ratio, "hidden_activations": sorted(a or "none" for a in acts)}
    if acts & _SATURATING and (ratio is None or ratio < cfg.vanishing_ratio):
        return "vanishing_gradients", ev
    dead = dead_units(inp, er)
    if dead is not None and dead["share"] >= cfg.dead_relu_fraction:
        return "dead_relu", ev | {"dead": dead["dead"], "units": dead["units"], "dead_step": dead["step"],
                                  **lr_evidence(er)}
    before = [v for v in values[:start] if v is not None]
    if before and max(before) > cfg.spike_factor * (chance_loss(er) or 1.0):
        return "lr_too_high", ev | {"peak_before": max(before), **lr_evidence(er)}
    lr = effective_lr(er)
    limit = cfg.small_lr_adaptive if er.run.torch_class in ADAPTIVE else cfg.small_lr_sgd
    if lr is not None and lr <= limit:
        return "lr_too_small", ev | lr_evidence(er) | {"small_lr_limit": limit}
    return "unknown", ev


_CAUSE: dict[str, tuple[Text, Text]] = {
    "vanishing_gradients": (
        text("at the first step the first layer's gradient was {ratio} × the last layer's: Sigmoid's derivative is at "
             "most 0.25, so the gradient shrinks layer after layer on its way back to the input (vanishing gradients) "
             "and the first layers hardly learn{left}",
             "첫 step 에서 첫 층의 기울기는 마지막 층의 {ratio} 배였습니다: Sigmoid 의 미분은 최대 0.25 라서 기울기가 "
             "입력 쪽으로 거꾸로 전달될수록 층마다 작아지고 (그래디언트 소실), 앞쪽 층이 거의 배우지 못합니다{left}"),
        text("This is the vanishing gradient of the lecture: compare it with a ReLU run of the same shape and explain "
             "it in your conclusion (ReLU, or more epochs with Adam, gets past the plateau).",
             "강의에서 배운 그래디언트 소실입니다: 같은 구조의 ReLU 실행과 비교하고 결론에 설명하세요 (ReLU 를 쓰거나 "
             "Adam 으로 더 오래 학습하면 정체 구간을 벗어납니다).")),
    "lr_too_small": (
        text("the gradients flow (first/last layer ratio {ratio}), but the learning rate {lr} is so small that the "
             "weights hardly move",
             "기울기는 잘 전달되지만 (첫 층/마지막 층 비율 {ratio}) 학습률 {lr} 이 너무 작아 가중치가 거의 움직이지 "
             "않습니다"),
        text("Raise the learning rate (e.g. ×10) or add momentum (SGD(..., momentum=0.9)).",
             "학습률을 높이거나 (예: ×10) momentum 을 추가하세요 (SGD(..., momentum=0.9)).")),
    "lr_too_high": (
        text("before it the loss had jumped to {peak}: the learning rate {lr} is too high, the network blew up and its "
             "units died",
             "그 전에 loss 가 {peak} 까지 튀었습니다: 학습률 {lr} 이 너무 커서 네트워크가 발산하고 유닛이 죽었습니다"),
        text("Lower the learning rate (e.g. ÷10) and train again.", "학습률을 낮추고 (예: ÷10) 다시 학습하세요.")),
    "dead_relu": (
        text("by step {dead_step}, {dead} of {units} hidden ReLU units were dead (no output for a whole batch), so the "
             "output no longer depends on the input: dying ReLU, usually after a too-large step (learning rate {lr})",
             "step {dead_step} 에서 은닉 ReLU 유닛 {units}개 중 {dead}개가 죽어 (한 batch 전체에서 출력 0) "
             "출력이 입력에 의존하지 않습니다: dying ReLU 로, 대개 너무 큰 step (학습률 {lr}) 뒤에 생깁니다"),
        text("Lower the learning rate (e.g. ÷10) and re-create the model: dead units rarely recover.",
             "학습률을 낮추고 (예: ÷10) 모델을 새로 만드세요: 죽은 유닛은 거의 되살아나지 않습니다.")),
    "unknown": (
        text("the outputs barely depend on the input", "출력이 입력에 거의 의존하지 않습니다"),
        text("Check that the loop updates this model (zero_grad, backward, step on its own optimizer) and that the "
             "learning rate suits the optimizer.",
             "루프가 이 모델을 갱신하는지 (자기 옵티마이저의 zero_grad, backward, step) 와 학습률이 옵티마이저에 "
             "맞는지 "
             "확인하세요.")),
}


def _plateau_diagnosis(er: EvaluatedRun, severity: Severity, ev: dict[str, Any]) -> Diagnosis:
    cause = ev["cause"]
    why, todo = _CAUSE[cause]
    ratio = ev.get("grad_ratio_first_last")
    lr_en, lr_ko = lr_words(ev)
    fill = {"ratio": f"{ratio:.1e}" if ratio is not None else "?",
            "peak": f"{ev.get('peak_before') or 0:.4g}", "dead": ev.get("dead"), "units": ev.get("units"),
            "dead_step": (ev.get("dead_step") or 0) + 1}
    left_en = ", and it never left the plateau" if ev["stuck"] else ", until Adam's per-parameter steps caught up"
    left_ko = ". 끝까지 정체 구간에 머물렀습니다" if ev["stuck"] else \
        ". 그러다 Adam 의 파라미터별 step 이 따라잡았습니다"
    if er.run.torch_class not in ADAPTIVE and not ev["stuck"]:
        left_en, left_ko = ", until it slowly got out", ". 그러다 천천히 벗어났습니다"
    c = ev["classes"]
    head = text(f"{name(er)}: the loss stayed at the chance plateau ln({c}) = {ev['chance_loss']:.4f} (the loss of "
                f"guessing uniformly among {c} classes) for {ev['steps']} steps ({ev['epochs']:.1f} epochs, from step "
                f"{ev['start_step'] + 1})",
                f"{name(er)}: loss 가 {ev['steps']} step 동안 ({ev['epochs']:.1f} epoch, step {ev['start_step'] + 1} "
                "부터) "
                f"무작위 수준인 ln({c}) = {ev['chance_loss']:.4f} ({c}개 클래스를 고르게 찍는 loss) 에 머물렀습니다")
    return Diagnosis("chance_plateau", severity,
                     text(head["en"] + "; " + why["en"].format(**fill, lr=lr_en, left=left_en),
                          head["ko"] + ". " + why["ko"].format(**fill, lr=lr_ko, left=left_ko)),
                     todo, ev, run=er.run.index)


def wrong_optimizer(inp: DiagnosisInput, cfg: DiagnosisConfig) -> list[Diagnosis]:
    """``step()`` calls on an optimizer none of whose parameters got a gradient, while another model's loss was
    back-propagated: a copy-pasted loop stepping another model's optimizer, so that model never trains."""
    by_opt: dict[int, list[dict[str, Any]]] = defaultdict(list)
    for ev in inp.doctor_events("idle_step"):
        if ev.get("loss") is not None and ev.get("model") is not None and not ev.get("shared_params"):
            by_opt[int(ev["opt"])].append(ev)
    empty = {int(k): int(v) for k, v in ((inp.recording.end or {}).get("empty_steps") or {}).items()}
    out = []
    for opt, events in by_opt.items():
        n = max(empty.get(opt, 0), max(int(e["n"]) for e in events))
        if n < 2:
            continue
        out.append(_wrong_optimizer(inp, cfg, opt, events, n))
    return out


def _wrong_optimizer(inp: DiagnosisInput, cfg: DiagnosisConfig, opt: int, events: list[dict[str, Any]],
                     n: int) -> Diagnosis:
    rec = inp.recording
    info = rec.optimizers.get(opt, {})
    cls, made = info.get("torch_cls", "?"), inp.cell_index(int(info.get("cell", 0)))
    cell = inp.cell_index(int(events[0]["cell"]))
    losses = [float(e["loss"]) for e in events]
    widths = [c for c in (classes(er) for er in inp.runs) if c]
    c = max(set(widths), key=widths.count) if widths else 10
    at_chance = all(abs(v - math.log(c)) <= 3 * cfg.plateau_tolerance for v in losses)
    stepped = rec.stepped_optimizer_ids() | set(by for by in (int(e["opt"]) for e in events))
    idle = [(o.get("torch_cls", "?"), inp.cell_index(int(o.get("cell", 0)))) for k, o in rec.optimizers.items()
            if k not in stepped and int(o.get("cell", 0)) >= int(info.get("cell", 0))]
    never = "".join(f"; {k} (created in cell index {i}) was never stepped" for k, i in idle[:2])
    never_ko = "".join(f". {k} (셀 {i}에서 생성)는 한 번도 step 되지 않았습니다" for k, i in idle[:2])
    level = f", the chance plateau ln({c}) = {math.log(c):.4f}" if at_chance else ""
    level_ko = f", 무작위 수준 ln({c}) = {math.log(c):.4f}" if at_chance else ""
    loss_text = f"{losses[0]:.4f} … {losses[-1]:.4f}"
    return Diagnosis(
        "chance_plateau", "error",
        text(f"cell index {cell} called step() on {cls} (created in cell index {made}) {n} times, but none of the "
             f"parameters it holds got a gradient: the loss being back-propagated ({loss_text}{level}) came from a "
             f"{events[0].get('model_cls') or 'model'} that this optimizer does not hold, so that model never "
             f"trained (a copy-pasted loop stepping another model's optimizer){never}",
             f"셀 {cell}에서 {cls} (셀 {made}에서 생성) 의 step() 을 {n}번 호출했지만 그 옵티마이저가 가진 "
             "파라미터에는 "
             f"기울기가 하나도 없었습니다: backward 한 loss ({loss_text}{level_ko}) 는 이 옵티마이저가 갖지 않은 "
             f"{events[0].get('model_cls') or '모델'} 에서 나왔고, 그 모델은 전혀 학습되지 않았습니다 (복사한 루프가 "
             f"다른 모델의 옵티마이저를 step 함){never_ko}"),
        text("In the loop, call zero_grad() and step() on the optimizer made for this model "
             "(create it with this model's parameters right after the model).",
             "루프에서 이 모델을 위해 만든 옵티마이저의 zero_grad() 와 step() 을 호출하세요 (모델을 만든 직후 그 "
             "모델의 "
             "파라미터로 옵티마이저를 만드세요)."),
        {"cause": "wrong_optimizer", "optimizer": cls, "optimizer_cell_index": made, "idle_steps": n,
         "losses": losses, "never_stepped": [{"optimizer": k, "cell_index": i} for k, i in idle],
         "chance_loss": math.log(c) if at_chance else None},
        run=None, task=task_sections(inp).get(cell), cell_index=cell)
