"""Task 3 of the dnn2_gd_dataloader homework, written with the grader's public API only.

The run the ``[runs.linear]`` selector picks (the slide's nn.Linear(3, 1) trained by SGD on the MSE loss): 21
epochs of 3 iterations, the slide's learning rate, a cost that stays finite and falls (a diverged run is said to
be one), its epoch losses inside the reference band.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from grader.api import (
    CheckContext,
    EvaluatedRun,
    Outcome,
    cat,
    check,
    select,
    text,
)

_NO_RUN = text("no nn.Linear(3, 1) model was trained with SGD on F.mse_loss for 21 epochs (see t3.trained): ",
               "SGD 와 F.mse_loss 로 21 epoch 학습한 nn.Linear(3, 1) 모델이 없습니다 (t3.trained 참고): ")


def _linear_run(ctx: CheckContext, name: str) -> tuple[EvaluatedRun | None, Outcome | None]:
    er, why = select(ctx, name)
    return (er, None) if er is not None else (None, Outcome(False, cat(_NO_RUN, why)))


@dataclass(frozen=True)
class Iterations:
    run: str                         # a [runs.<name>] selector
    epochs: int = 21                 # range(nb_epochs + 1) with nb_epochs = 20
    iterations: int = 3              # 5 rows in batches of 2


@check("epoch_iterations", params=Iterations)
def epoch_iterations(ctx: CheckContext, p: Iterations) -> Outcome:
    """The run trained exactly ``epochs`` epochs of ``iterations`` steps each."""
    er, out = _linear_run(ctx, p.run)
    if er is None:
        return out  # type: ignore[return-value]
    steps = [e.steps for e in er.run.epochs if e.complete]
    batch = f" (batch {er.run.batch})" if er.run.batch else ""
    ev = {"run": er.run.index, "steps_per_epoch": steps, "batch": er.run.batch}
    if any(s != p.iterations for s in steps):
        odd = sorted(set(steps) - {p.iterations})
        return Outcome(False, text(f"{er.label}: epochs of {', '.join(map(str, odd))} iteration(s){batch}, not "
                                   f"{p.iterations}: train through the task 2 dataloader (batch_size = 2) inside every "
                                   "epoch", f"{er.label}: epoch 마다 iteration 이 {p.iterations}번이 아니라 "
                                   f"{', '.join(map(str, odd))}번입니다{batch}: 매 epoch 안에서 과제 2의 dataloader "
                                   "(batch_size = 2) 로 학습하세요"), evidence=ev)
    if len(steps) != p.epochs:
        return Outcome(False, text(f"{er.label}: {len(steps)} epochs, not {p.epochs}: nb_epochs = {p.epochs - 1} with "
                                   "for epoch in range(nb_epochs + 1)",
                                   f"{er.label}: epoch 이 {p.epochs}개가 아니라 {len(steps)}개입니다: nb_epochs = "
                                   f"{p.epochs - 1}, for epoch in range(nb_epochs + 1)"), evidence=ev)
    return Outcome(True, text(f"{er.label}: {p.epochs} epochs × {p.iterations} iterations = {sum(steps)} steps{batch}",
                              f"{er.label}: {p.epochs} epoch × iteration {p.iterations}번 = {sum(steps)} step{batch}"),
                   evidence=ev)


@dataclass(frozen=True)
class Converges:
    run: str                         # a [runs.<name>] selector
    lr: float = 1e-5                 # the slide's learning rate
    rel_tolerance: float = 0.01      # on lr


def _fmt(v: float | None) -> str:
    return "NaN" if v is None or math.isnan(v) else ("inf" if math.isinf(v) else f"{v:.6g}")


def _num(v: Any) -> str:
    """A learning rate as the slide writes it: 1e-5, 0.001."""
    return f"{v:g}".replace("e-0", "e-") if isinstance(v, (int, float)) else str(v)


@check("sgd_converges", params=Converges)
def sgd_converges(ctx: CheckContext, p: Converges) -> Outcome:
    """The run used the slide's lr and its cost stayed finite and fell (a diverged run is named one)."""
    er, out = _linear_run(ctx, p.run)
    if er is None:
        return out  # type: ignore[return-value]
    lr = (er.run.optimizer.get("hparams") or {}).get("lr")
    lr_s, want = _num(lr), _num(p.lr)
    losses = er.run.losses
    bad = next((i for i, v in enumerate(losses) if v is None or not math.isfinite(v)), None)
    ev = {"run": er.run.index, "lr": lr, "first_non_finite_step": bad}
    if bad is not None:
        peak = max((v for v in losses[:bad] if v is not None), default=None)
        got, top = _fmt(losses[bad]), _fmt(peak)
        return Outcome(False, text(f"{er.label}: the cost diverged: it became {got} at step {bad + 1} (largest "
                                   f"finite cost before that {top}). With inputs of 70–100, lr = {lr_s} makes every "
                                   f"step overshoot; use lr = {want} as on the slide",
                                   f"{er.label}: cost 가 발산했습니다: step {bad + 1} 에서 {got} 이(가) "
                                   f"되었습니다 (그 전 가장 큰 cost {top}). 입력 값이 70–100 이라 lr = {lr_s} 이면 "
                                   f"매 step 이 너무 멀리 갑니다: 슬라이드처럼 lr = {want} 를 쓰세요"), evidence=ev)
    means = er.run.epoch_means()
    if len(means) >= 2 and means[-1] > means[0]:
        return Outcome(False, text(f"{er.label}: the cost grew from {means[0]:.6g} (epoch 1) to {means[-1]:.6g}: it is "
                                   f"diverging; lr = {lr_s} is too large, use lr = {want}",
                                   f"{er.label}: cost 가 {means[0]:.6g} (epoch 1) 에서 {means[-1]:.6g} 로 커졌습니다: "
                                   f"발산하고 있습니다. lr = {lr_s} 은(는) 너무 크니 lr = {want} 를 쓰세요"),
                       evidence=ev)
    if not isinstance(lr, (int, float)) or abs(lr - p.lr) > p.rel_tolerance * p.lr:
        return Outcome(False, text(f"{er.label}: lr = {lr_s}; the slide's training uses SGD(lr = {want})",
                                   f"{er.label}: lr = {lr_s} 입니다. 슬라이드의 학습은 SGD(lr = {want}) 입니다"),
                       evidence=ev)
    trend = f"{means[0]:.6g} → {means[-1]:.6g}" if means else "?"
    return Outcome(True, text(f"{er.label}: lr = {lr_s}, the cost stayed finite: {trend} (epoch means)",
                              f"{er.label}: lr = {lr_s}, cost 가 발산하지 않았습니다: {trend} (epoch 평균)"),
                   evidence=ev)
