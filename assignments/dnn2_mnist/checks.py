"""Checks of the dnn2_mnist homework, written with the grader's public API only.

Task 1: a six-hidden-layer MLP (not all Sigmoid), its output layer, its loss and its accuracy.
Task 2: the same model with Sigmoid, a controlled comparison with task 1's run, the written conclusion.
  Never judged by "the loss must not decrease": with Adam it does decrease.
Task 3: an optimizer whose torch class is not Adam really trained something.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from grader.api import (
    CheckContext,
    EvaluatedRun,
    Outcome,
    Text,
    accuracy_outcome,
    architecture_problems,
    band_outcome,
    cat,
    cells_of_run,
    check,
    choose_run,
    decrease_outcome,
    differences,
    epoch_problem,
    join,
    optimizer_note,
    other_runs,
    output_outcome,
    ratio_outcome,
    reference_key,
    relative_decrease,
    text,
    text_near,
)

_KEYWORDS = re.compile(r"sigmoid|시그모이드|vanish|기울기|그래디언트|gradient|소실|conclusion|결론|relu", re.I)
_PLACEHOLDER = re.compile(r"여기에 결론을 쓰세요|write your conclusion here", re.I)


@dataclass(frozen=True)
class Model:
    """The model task 1 (or 2) asks for."""

    hidden_layers: int = 6
    in_features: int = 784
    out_features: int = 10
    min_epochs: int = 1


def _depth(hidden: int) -> Callable[[EvaluatedRun], float]:
    """How far a run's depth is from the one asked for (the closest run is described when none fits)."""
    return lambda er: float(abs((er.arch.hidden if er.arch else 0) - hidden))


def relu_run(ctx: CheckContext, p: Model) -> tuple[EvaluatedRun | None, Text]:
    """Task 1's run: a trained MLP of the asked depth whose hidden activations are not all Sigmoid."""
    def want(er: EvaluatedRun) -> list[Text]:
        probs = architecture_problems(er.arch, p.hidden_layers, p.in_features, p.out_features)
        if er.arch and er.arch.hidden_acts and all(a == "sigmoid" for a in er.arch.hidden_acts):
            probs.append(text("every hidden activation is Sigmoid (that is task 2's model; task 1 uses ReLU)",
                              "모든 은닉층 활성화가 Sigmoid 입니다 (그건 과제 2의 모델이고, 과제 1은 ReLU 를 씁니다)"))
        ep = epoch_problem(er, p.min_epochs)
        return probs + ([ep] if ep else [])

    return choose_run(ctx, "relu_run", want, _depth(p.hidden_layers))


def sigmoid_run(ctx: CheckContext, p: Model) -> tuple[EvaluatedRun | None, Text]:
    """Task 2's run: Sigmoid after every hidden layer; among several, the one most like task 1's run."""
    def want(er: EvaluatedRun) -> list[Text]:
        probs = architecture_problems(er.arch, p.hidden_layers, 784, 10)
        if er.arch and er.arch.hidden_acts and not all(a == "sigmoid" for a in er.arch.hidden_acts):
            acts = ", ".join(a or "none" for a in er.arch.hidden_acts)
            probs.append(text(f"not every hidden layer uses Sigmoid (hidden activations: {acts})",
                              f"모든 은닉층이 Sigmoid 를 쓰지는 않습니다 (은닉층 활성화: {acts})"))
        ep = epoch_problem(er, p.min_epochs)
        return probs + ([ep] if ep else [])

    if "sigmoid_run" not in ctx.memo:
        candidates = [er for er in ctx.runs if not want(er)]
        base, _ = ctx.memo.get("relu_run", (None, ""))
        if len(candidates) > 1 and base is not None:
            candidates.sort(key=lambda er: len(differences(base, er)))
        ctx.memo["sigmoid_run"] = (candidates[0], text("")) if candidates else \
            choose_run(ctx, "sigmoid_run_any", want, _depth(p.hidden_layers))
    return ctx.memo["sigmoid_run"]  # type: ignore[no-any-return]


_NO_MODEL = text("no six-hidden-layer model was trained", "은닉층 6개짜리 모델이 학습되지 않았습니다")


def _no_run(why: Text, first: bool = False) -> Outcome:
    """Why there is nothing to judge; the full reason once (t1.six_hidden), a pointer elsewhere."""
    if first:
        return Outcome(False, cat(_NO_MODEL, ": ", why))
    return Outcome(False, cat(_NO_MODEL, text(" (see t1.six_hidden)", " (t1.six_hidden 참고)")),
                   evidence={"reason": why["en"]})


@check("six_hidden", params=Model)
def six_hidden(ctx: CheckContext, p: Model) -> Outcome:
    er, why = relu_run(ctx, p)
    if er is None:
        return _no_run(why, first=True)
    return Outcome(True, text(f"{er.label} trained for {er.run.epochs_completed} epoch(s)",
                              f"{er.label} 을 {er.run.epochs_completed} epoch 학습"),
                   evidence={"run": er.run.index, "architecture": er.arch.to_dict() if er.arch else None})


@check("structure")
def structure(ctx: CheckContext, p: None) -> Outcome:
    er, why = relu_run(ctx, Model())
    if er is None or er.arch is None:
        return _no_run(why)
    return output_outcome(er)


@dataclass(frozen=True)
class LossFalls:
    max_last_over_first: float = 0.5


@check("loss_decreased", params=LossFalls)
def loss_decreased(ctx: CheckContext, p: LossFalls) -> Outcome:
    er, why = relu_run(ctx, Model())
    if er is None:
        return _no_run(why)
    return ratio_outcome(er, p.max_last_over_first)


@dataclass(frozen=True)
class Band:
    tolerance: float = 1.0            # band = reference mean ± 3 sd per epoch, widened ×/÷ (1 + tolerance)
    max_outside_fraction: float = 0.2


@check("loss_vs_reference", params=Band)
def loss_vs_reference(ctx: CheckContext, p: Band) -> Outcome:
    er, why = relu_run(ctx, Model())
    if er is None:
        return _no_run(why)
    family = er.run.optimizer_family
    missing = text(f"no reference curve for optimizer family '{family}' in {ctx.mode} mode: not compared, full "
                   "credit", f"{ctx.mode} 모드에 옵티마이저 '{family}' 의 참조 곡선이 없습니다: 비교하지 않고 만점")
    return band_outcome(ctx, er, reference_key(er, "relu_{optimizer}"), p.tolerance, p.max_outside_fraction,
                        missing)


@dataclass(frozen=True)
class Accuracy:
    sigmas: float = 3.0
    min_margin: float = 0.01
    zero_credit_margin: float = 0.10


@check("accuracy", params=Accuracy, tags=("accuracy",))
def accuracy(ctx: CheckContext, p: Accuracy) -> Outcome:
    er, why = relu_run(ctx, Model())
    if er is None:
        return _no_run(why)
    return accuracy_outcome(ctx, er, [reference_key(er, "relu_{optimizer}"), "relu_adam"], p.sigmas, p.min_margin,
                            p.zero_credit_margin)


@dataclass(frozen=True)
class SigmoidModel:
    hidden_layers: int = 6
    min_epochs: int = 1


@check("sigmoid_model", params=SigmoidModel)
def sigmoid_model(ctx: CheckContext, p: SigmoidModel) -> Outcome:
    er, why = sigmoid_run(ctx, Model(p.hidden_layers, min_epochs=p.min_epochs))
    if er is None:
        return Outcome(False, cat(text("no six-hidden-layer Sigmoid model was trained: ",
                                       "은닉층 6개짜리 Sigmoid 모델이 학습되지 않았습니다: "), why))
    means = er.run.epoch_means()
    trend = f"; loss {means[0]:.3f} → {means[-1]:.3f}" if means else ""
    return Outcome(True, text(f"{er.label} trained for {er.run.epochs_completed} epoch(s){trend}",
                              f"{er.label} 을 {er.run.epochs_completed} epoch 학습{trend}"),
                   evidence={"run": er.run.index, "epoch_means": means})


@check("controlled")
def controlled(ctx: CheckContext, p: None) -> Outcome:
    relu, why_r = relu_run(ctx, Model())
    sig, why_s = sigmoid_run(ctx, Model())
    if sig is None:
        return Outcome(False, cat(text("no Sigmoid run to compare: ", "비교할 Sigmoid 실행이 없습니다: "), why_s))
    if relu is None:
        return Outcome(False, cat(text("no six-hidden-layer ReLU run to compare with: ",
                                       "비교할 은닉층 6개짜리 ReLU 실행이 없습니다: "), why_r))
    diff = differences(relu, sig)
    if diff:
        return Outcome(False, cat(text("the Sigmoid run differs from the ReLU run in more than the activation: ",
                                       "Sigmoid 실행이 ReLU 실행과 활성화 함수 말고도 다릅니다: "), join("; ", diff)),
                       evidence={"differences": [d["en"] for d in diff]})
    return Outcome(True, text("same widths, optimizer, learning rate, epochs and batch size; only the activation "
                              "differs", "너비, 옵티마이저, 학습률, epoch, batch 크기가 같고 활성화 함수만 다릅니다"))


@dataclass(frozen=True)
class Conclusion:
    min_chars: int = 20


@check("conclusion", params=Conclusion)
def conclusion(ctx: CheckContext, p: Conclusion) -> Outcome:
    sig, _ = sigmoid_run(ctx, Model())
    start, stop = cells_of_run(ctx, sig)
    body = "\n\n".join(text_near(ctx, start, stop, _KEYWORDS, _PLACEHOLDER))[:4000]
    if len(body) >= p.min_chars:
        return Outcome(None, text(f"written conclusion found ({len(body)} characters): pending instructor review",
                                  f"작성한 결론을 찾았습니다 ({len(body)}자): 강사 검토 대기"), evidence={"text": body})
    return Outcome(None, text("no written conclusion found near the Sigmoid experiment: pending instructor review",
                              "Sigmoid 실험 근처에서 작성한 결론을 찾지 못했습니다: 강사 검토 대기 (마크다운 셀에 "
                              "결론을 쓰세요)"), evidence={"text": body})


@dataclass(frozen=True)
class OtherOptimizer:
    min_epochs: int = 1


_OTHER = text("train with an optimizer other than Adam (e.g. SGD, RMSprop, Adagrad)",
              "Adam 이 아닌 옵티마이저(예: SGD, RMSprop, Adagrad)로 학습하세요")


def _idle_optimizers(ctx: CheckContext) -> list[str]:
    stepped = ctx.recording.stepped_optimizer_ids()
    return sorted({o["torch_cls"] for oid, o in ctx.recording.optimizers.items()
                   if oid not in stepped and o.get("torch_cls") != "Adam"})


def _no_other(ctx: CheckContext, min_epochs: int) -> Outcome:
    idle = ", ".join(_idle_optimizers(ctx))
    short = [er for er in ctx.runs if er.run.torch_class != "Adam"]
    if short:
        er = short[0]
        return Outcome(False, text(f"{er.run.torch_class} stepped for only {er.run.steps} steps "
                                   f"({er.run.epochs_completed} complete epochs); at least {min_epochs} needed",
                                   f"{er.run.torch_class} 는 {er.run.steps} step 만 했습니다 (완료된 epoch "
                                   f"{er.run.epochs_completed}개; 최소 {min_epochs}개 필요)"))
    if not ctx.runs:
        what = text(f"{idle} was created but never stepped", f"{idle} 를 만들었지만 step 하지 않았습니다") if idle \
            else text("no optimizer stepped a model", "어떤 옵티마이저도 모델을 step 하지 않았습니다")
        return Outcome(False, cat(text("no training was recorded: ", "학습 기록이 없습니다: "), what, "; ", _OTHER))
    if idle:
        return Outcome(False, text(f"{idle} was created but never stepped: every optimizer.step() call went to Adam; "
                                   "call step() on the new optimizer inside the loop",
                                   f"{idle} 를 만들었지만 step 하지 않았습니다: optimizer.step() 호출이 모두 Adam 으로 "
                                   "갔습니다. 학습 루프 안에서 새 옵티마이저의 step() 을 호출하세요"))
    return Outcome(False, text("every training step was taken by torch.optim.Adam; train with another optimizer "
                               "(e.g. SGD, RMSprop, Adagrad)", "모든 학습 step 을 torch.optim.Adam 이 했습니다: 다른 "
                               "옵티마이저(예: SGD, RMSprop, Adagrad)로 학습하세요"))


@check("other_optimizer", params=OtherOptimizer)
def other_optimizer(ctx: CheckContext, p: OtherOptimizer) -> Outcome:
    runs = other_runs(ctx, ["Adam"], p.min_epochs)
    if not runs:
        return _no_other(ctx, p.min_epochs)
    er = runs[0]
    lr = (er.run.optimizer.get("hparams") or {}).get("lr")
    return Outcome(True, cat(text(f"{er.run.torch_class} (lr {lr}) stepped {er.label} for {er.run.epochs_completed} "
                                  "epoch(s)", f"{er.run.torch_class} (lr {lr}) 로 {er.label} 을 "
                                  f"{er.run.epochs_completed} epoch 학습"),
                             optimizer_note(er.run.torch_class, ["Adam"])),
                   evidence={"runs": [r.run.index for r in runs]})


@dataclass(frozen=True)
class Trained:
    min_relative_decrease: float = 0.25


@check("trained", params=Trained)
def trained(ctx: CheckContext, p: Trained) -> Outcome:
    runs = other_runs(ctx, ["Adam"], 1)
    if not runs:
        return Outcome(False, text("no run with an optimizer other than Adam completed an epoch",
                                   "Adam 이 아닌 옵티마이저로 1 epoch 을 마친 실행이 없습니다"))
    usable = [(d, er) for d, er in ((relative_decrease(er), er) for er in runs) if d is not None]
    if not usable:
        return Outcome(False, text("need at least 2 complete epochs of the non-Adam run to judge its loss",
                                   "Adam 이 아닌 실행의 loss 를 판단하려면 완료된 epoch 이 최소 2개 필요합니다"))
    _, er = max(usable, key=lambda de: de[0])
    return decrease_outcome(er, p.min_relative_decrease, text(": try a larger learning rate or momentum",
                                                              ": 더 큰 학습률이나 momentum 을 써 보세요"))
