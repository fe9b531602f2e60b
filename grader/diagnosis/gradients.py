"""Diagnoses from the gradients the kernel sampled: never zeroed, exploding norms, dead ReLU units."""

from __future__ import annotations

import math
from collections import defaultdict
from typing import TYPE_CHECKING, Any

from grader.assignment.settings import DiagnosisConfig
from grader.diagnosis.cells import run_task
from grader.diagnosis.evidence import name
from grader.diagnosis.model import Diagnosis, DiagnosisInput
from grader.text import text

if TYPE_CHECKING:
    from grader.evaluation.runs import EvaluatedRun


def _by_run(inp: DiagnosisInput, kind: str) -> dict[int, list[dict[str, Any]]]:
    out: dict[int, list[dict[str, Any]]] = defaultdict(list)
    for ev in inp.doctor_events(kind):
        out[int(ev["run"])].append(ev)
    return out


def grad_not_zeroed(inp: DiagnosisInput, cfg: DiagnosisConfig) -> list[Diagnosis]:
    """``.grad`` still non-zero when the next step's gradient arrives: nothing zeroed it (no ``zero_grad()``)."""
    out = []
    for k, events in _by_run(inp, "grad_carry").items():
        er = inp.run_by_index(k)
        carried = [e for e in events if e["carried"] > cfg.carry_ratio * max(e["new"], 1e-12)]
        if er is None or not carried or len(carried) * 2 <= len(events):
            continue
        first = carried[0]
        means = er.run.epoch_means(complete_only=False)
        trend = " → ".join(f"{m:.2f}" for m in means[:4]) if means else "none recorded"
        out.append(Diagnosis(
            "grad_not_zeroed", "error",
            text(f"{name(er)}: the gradients were not zeroed between steps: when step {first['step'] + 1}'s gradient "
                 f"arrived, `.grad` still held {first['carried']:.4g} (norm) from the steps before, and the new "
                 f"{first['new']:.4g} was added to it (seen at {len(carried)} of {len(events)} sampled steps). Without "
                 "`optimizer.zero_grad()` every backward adds to all earlier gradients, so the steps grow and point "
                 f"the wrong way; epoch mean losses: {trend}",
                 f"{name(er)}: step 사이에 기울기가 0 으로 초기화되지 않았습니다. step {first['step'] + 1} 의 기울기가 "
                 "들어올 때 "
                 f"`.grad` 에는 이전 step 들의 값 {first['carried']:.4g} (norm) 이 남아 있었고, 새 기울기 "
                 f"{first['new']:.4g} 가 그 위에 더해졌습니다 (표본 step {len(events)}개 중 {len(carried)}개). "
                 "`optimizer.zero_grad()` 가 없으면 backward 마다 이전 기울기가 모두 쌓여 step 이 커지고 엉뚱한 방향이 "
                 f"됩니다. epoch 평균 loss: {trend}"),
            text("Call optimizer.zero_grad() in the loop before cost.backward() (the lecture's order: zero_grad, "
                 "forward, cost, backward, step).",
                 "학습 루프에서 cost.backward() 전에 optimizer.zero_grad() 를 호출하세요 (강의 순서: zero_grad → "
                 "forward → cost → backward → step)."),
            {"checks": [{"step": e["step"], "carried": e["carried"], "new": e["new"]} for e in events],
             "epoch_means": means[:10]}, run=k))
    return out


def exploding(inp: DiagnosisInput, cfg: DiagnosisConfig) -> list[Diagnosis]:
    """The total gradient norm turned non-finite or grew ``explode_ratio`` times over its first sample."""
    out = []
    for k, events in _by_run(inp, "grads").items():
        er = inp.run_by_index(k)
        totals = [(int(e["step"]), float(e["total"])) for e in events]
        if er is None or not totals or not math.isfinite(totals[0][1]) or totals[0][1] <= 0:
            continue
        bad = next(((s, v) for s, v in totals if not math.isfinite(v)), None)
        peak = max((sv for sv in totals if math.isfinite(sv[1])), key=lambda sv: sv[1])
        ratio = peak[1] / totals[0][1]
        if bad is None and ratio < cfg.explode_ratio:
            continue
        step, value = bad or peak
        what = (f"became {value} (not finite) at step {step + 1}" if bad else
                f"grew {ratio:.0f}× from {totals[0][1]:.3g} (step {totals[0][0] + 1}) to {value:.3g} (step {step + 1})")
        what_ko = (f"step {step + 1} 에서 {value} (유한하지 않음) 가 되었습니다" if bad else
                   f"{totals[0][1]:.3g} (step {totals[0][0] + 1}) 에서 {value:.3g} (step {step + 1}) 로 {ratio:.0f}배 "
                   "커졌습니다")
        out.append(Diagnosis(
            "exploding_gradients", "error" if bad else "warning",
            text(f"{name(er)}: the total gradient norm {what}: exploding gradients make each step jump far, and the "
                 "loss jumps with it",
                 f"{name(er)}: 전체 기울기 norm 이 {what_ko}: 기울기 폭주로 step 마다 크게 튀고 loss 도 함께 튑니다"),
            text("Lower the learning rate; if it persists, clip the gradients "
                 "(torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)).",
                 "학습률을 낮추세요. 그래도 그러면 기울기를 잘라 주세요 "
                 "(torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0))."),
            {"samples": [{"step": s, "total": v} for s, v in totals], "ratio": ratio,
             "first_nonfinite_step": bad[0] if bad else None}, run=k))
    return out


def _relu_layers(er: EvaluatedRun, biases: list[list[int]]) -> list[tuple[int, int]] | None:
    """(dead, width) per hidden ReLU layer when the 1-D parameters are exactly one bias per affine layer."""
    arch = er.arch
    if arch is None or len(biases) != len(arch.affine) or [b[0] for b in biases] != [o for _, o in arch.affine]:
        return None
    rows = [(b[1], b[0]) for b, act in zip(biases, arch.hidden_acts, strict=False) if act == "relu"]
    return rows or None


def dead_units(inp: DiagnosisInput, er: EvaluatedRun) -> dict[str, Any] | None:
    """Dead hidden ReLU units of a run at its last gradient sample: step, dead, units, share, per layer."""
    events = _by_run(inp, "grads").get(er.run.index) or []
    last = events[-1] if events else None
    layers = _relu_layers(er, last.get("biases") or []) if last else None
    if last is None or layers is None or not math.isfinite(float(last["total"])):
        return None
    dead, units = sum(d for d, _ in layers), sum(w for _, w in layers)
    return {"step": int(last["step"]), "dead": dead, "units": units, "share": dead / units if units else 0.0,
            "per_layer": [{"dead": d, "width": w} for d, w in layers]}


def dead_relu(inp: DiagnosisInput, cfg: DiagnosisConfig) -> list[Diagnosis]:
    """Hidden ReLU units inactive on a whole sampled batch (zero bias gradient), at the last sampled step."""
    out = []
    for er in inp.runs:
        ev = dead_units(inp, er)
        if ev is None or ev["share"] < cfg.dead_relu_fraction:
            continue
        dead, units, share, step = ev["dead"], ev["units"], ev["share"], ev["step"]
        per = ", ".join(f"{x['dead']}/{x['width']}" for x in ev["per_layer"])
        out.append(Diagnosis(
            "dead_relu", "warning",
            text(f"{name(er)}: at step {step + 1}, {dead} of {units} hidden ReLU units ({share:.0%}) gave no "
                 f"output for a whole batch (their bias gradient was exactly 0; per layer {per}): dead units pass no "
                 "gradient and stop learning (dying ReLU), often after a too-large step",
                 f"{name(er)}: step {step + 1} 에서 은닉 ReLU 유닛 {units}개 중 {dead}개({share:.0%})가 한 "
                 "batch "
                 f"전체에서 출력이 0 이었습니다 (bias 기울기가 정확히 0; 층별 {per}). 죽은 유닛은 기울기를 전달하지 "
                 "못해 더 배우지 못합니다 (dying ReLU). 대개 너무 큰 step 뒤에 생깁니다"),
            text("Lower the learning rate (dead units rarely recover); LeakyReLU keeps a small slope below 0.",
                 "학습률을 낮추세요 (죽은 유닛은 거의 되살아나지 않습니다). LeakyReLU 는 0 아래에서도 작은 기울기를 "
                 "남깁니다."),
            ev, run=er.run.index))
    return out


_ORDER = text("Keep the lecture's order in the loop: optimizer.zero_grad(), hypothesis = model(X), cost = "
              "criterion(hypothesis, Y), cost.backward(), optimizer.step() — zero_grad() before backward(), step() "
              "after it.",
              "루프에서 강의 순서를 지키세요: optimizer.zero_grad() → hypothesis = model(X) → cost = "
              "criterion(hypothesis, Y) → cost.backward() → optimizer.step() (zero_grad() 는 backward() 전, step() "
              "은 그 뒤).")


def grad_zeroed_before_step(inp: DiagnosisInput, cfg: DiagnosisConfig) -> list[Diagnosis]:
    """``zero_grad()`` between ``backward()`` and ``step()``: every step sees no gradient, so nothing trains.

    Evidence: with ``set_to_none=True`` (the default) the optimizer is stepped while none of its parameters has
    a gradient although the model it holds was just back-propagated (``idle_step`` with shared parameters);
    with ``set_to_none=False`` a recorded run whose every sampled gradient norm is exactly 0.
    """
    out = []
    for k, events in _by_run(inp, "grads").items():
        er = inp.run_by_index(k)
        if er is None or len(events) < 2 or any(float(e["total"]) != 0.0 for e in events):
            continue
        out.append(Diagnosis(
            "grad_zeroed_before_step", "error",
            text(f"{name(er)}: at every sampled step ({len(events)}) the gradient was exactly 0 when step() ran: "
                 "the gradients are cleared after backward() and before step() (zero_grad() in the wrong place), "
                 "so the optimizer never moves the weights",
                 f"{name(er)}: 표본 step {len(events)}개 모두에서 step() 시점의 기울기가 정확히 0 이었습니다: "
                 "backward() 뒤, step() 전에 기울기를 지우고 있어서 (zero_grad() 위치가 틀림) 옵티마이저가 가중치를 "
                 "전혀 움직이지 않습니다"),
            _ORDER, {"sampled_steps": [int(e["step"]) for e in events], "grad_norm": 0.0}, run=k))
    by_opt: dict[int, list[dict[str, Any]]] = defaultdict(list)
    for ev in inp.doctor_events("idle_step"):
        if ev.get("loss") is not None and ev.get("shared_params"):
            by_opt[int(ev["opt"])].append(ev)
    for opt, evs in by_opt.items():
        n = max(int(e["n"]) for e in evs)
        if n < 2:
            continue
        cls = inp.recording.optimizers.get(opt, {}).get("torch_cls", "?")
        cell = inp.cell_index(int(evs[0]["cell"]))
        out.append(Diagnosis(
            "grad_zeroed_before_step", "error",
            text(f"cell index {cell} called step() on {cls} {n} times, and each time the "
                 f"{evs[0].get('model_cls') or 'model'} it holds had no gradient although its loss was "
                 "back-propagated: the gradients were cleared before step() used them — zero_grad() between "
                 "backward() and step(), or step() called before backward() — so this model never trained (no run "
                 "was recorded)",
                 f"셀 {cell}에서 {cls} 의 step() 을 {n}번 호출했는데, loss 를 backward 했는데도 매번 그 옵티마이저가 "
                 f"가진 {evs[0].get('model_cls') or '모델'} 에 기울기가 없었습니다: step() 이 쓰기 전에 기울기가 "
                 "지워졌습니다 (backward() 와 step() 사이의 zero_grad(), 또는 backward() 전에 호출한 step()). 그래서 "
                 "이 모델은 전혀 학습되지 않았습니다 (기록된 학습 없음)"),
            _ORDER, {"optimizer": cls, "idle_steps": n, "loss": float(evs[-1]["loss"])}, cell_index=cell,
            task=run_task(inp, int(evs[0]["cell"]))))
    return out
