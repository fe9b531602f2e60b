"""Checks of the mnist_cnn homework, written with the grader's public API only.

Task 1: a plain CNN (≥ 2 Conv2d layers, each followed by an activation and pooling, then Linear layers), trained;
  its output layer, its loss and the grader-measured accuracy. "Plain": when the notebook trained a CNN without
  Dropout/BatchNorm, task 1 is about that one, never about task 2's regularised CNN (the built-in selectors have no
  "without a decoration" predicate, so the choice is made here, from the [runs.cnn] selector).
Task 2: the same CNN with Dropout or BatchNorm ([runs.cnn_reg]), another run than task 1's; the same layers as
  task 1's run (only the decorations may differ); its accuracy, which the grader measures in eval mode.
Task 3: built-in `parameter_counts` and `written_answer` (pending review).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from grader.api import (
    CheckContext,
    EvaluatedRun,
    Layer,
    Outcome,
    Text,
    accuracy_outcome,
    cat,
    check,
    decrease_outcome,
    join,
    output_outcome,
    select,
    text,
)

REGULARISERS = ("dropout", "batchnorm")
_ACT_NAMES = {"relu": "ReLU", "sigmoid": "Sigmoid", "tanh": "Tanh", "leaky_relu": "LeakyReLU", "elu": "ELU",
              "gelu": "GELU", "silu": "SiLU", "relu6": "ReLU6", "softplus": "Softplus"}
Choice = tuple[EvaluatedRun | None, Text]


def _regularisers(er: EvaluatedRun) -> list[str]:
    """The Dropout/BatchNorm decorations of a run's hidden layers (``["BatchNorm", "Dropout 0.25"]``)."""
    decorations = er.arch.decorations() if er.arch else []
    return [d for d in decorations if d.lower().replace(" ", "").startswith(REGULARISERS)]


def _fits(ctx: CheckContext, selector: str, er: EvaluatedRun) -> bool:
    """Does run ``er`` meet every predicate of ``[runs.<selector>]``? (the selector asked about this run alone)"""
    chosen, _ = select(replace(ctx, runs=[er], memo={}), selector)
    return chosen is not None


def plain_cnn(ctx: CheckContext, selector: str) -> Choice:
    """Task 1's run: the first run meeting ``[runs.<selector>]`` without Dropout/BatchNorm, else the first one
    meeting it at all (a notebook that put BatchNorm into task 1 too); memoised, so every task 1 check agrees."""
    key = f"mnist_cnn:plain:{selector}"
    if key not in ctx.memo:
        fitting = [er for er in ctx.runs if _fits(ctx, selector, er)]
        plain = [er for er in fitting if not _regularisers(er)]
        if plain or fitting:
            ctx.memo[key] = ((plain or fitting)[0], text(""))
        else:
            ctx.memo[key] = select(ctx, selector)  # None and what the closest run lacks
    return ctx.memo[key]  # type: ignore[no-any-return]


def regularised_cnn(ctx: CheckContext, selector: str, base: str) -> Choice:
    """Task 2's run: a run meeting ``[runs.<selector>]`` other than task 1's (``[runs.<base>]``); among several,
    the one whose layers differ least from task 1's run."""
    key = f"mnist_cnn:reg:{selector}:{base}"
    if key in ctx.memo:
        return ctx.memo[key]  # type: ignore[no-any-return]
    first, _ = plain_cnn(ctx, base)
    fitting = [er for er in ctx.runs if er is not first and _fits(ctx, selector, er)]
    if first is not None:
        fitting.sort(key=lambda er: len(layer_differences(first, er)))
    if fitting:
        result: Choice = (fitting[0], text(""))
    elif first is not None and _fits(ctx, selector, first):
        result = (None, text(f"the only CNN with Dropout or BatchNorm, {first.label}, is the one task 1 judged (no "
                             "CNN without them was trained): train task 1's plain CNN and task 2's CNN with Dropout "
                             "or BatchNorm as two fresh models",
                             f"Dropout 이나 BatchNorm 을 쓴 CNN 은 과제 1이 채점한 {first.label} 하나뿐입니다 (그것 "
                             "없는 CNN 을 학습하지 않았습니다): 과제 1의 CNN 과 과제 2의 Dropout/BatchNorm CNN 을 각각 "
                             "새 모델로 학습하세요"))
    else:
        result = select(ctx, selector)
    ctx.memo[key] = result
    return result


# ---------------------------------------------------------------------------------------------- layers


def _act(name: str | None) -> str:
    return _ACT_NAMES.get(name, name) if name else "none"


def _parts(layer: Layer) -> str:
    shown = [d for d in layer.decorations if d != "Flatten"]
    return " · ".join([layer.label(), *([_act(layer.activation)] if layer.activation else []), *shown])


def _layer_text(i: int, layer: Layer) -> str:
    """``layer 2 (Conv 8→16 3×3 · ReLU · MaxPool 2)``."""
    return f"layer {i} ({_parts(layer)})"


def _layer_text_ko(i: int, layer: Layer) -> str:
    return f"{i}번째 층 ({_parts(layer)})"


def _pooled(layer: Layer) -> bool:
    return any("pool" in d.lower() for d in layer.decorations)


def block_problems(er: EvaluatedRun) -> list[Text]:
    """What keeps a CNN from being conv blocks (conv + activation + pooling) followed by Linear layer(s)."""
    layers = er.arch.layers if er.arch else ()
    convs = [(i, layer) for i, layer in enumerate(layers, 1) if layer.kind == "conv"]
    if not convs:
        return [text("no convolutional layer was traced", "합성곱 층이 추적되지 않았습니다")]
    out = []
    for i, layer in convs:
        if layer.activation is None:
            out.append(text(f"{_layer_text(i, layer)} has no activation after it",
                            f"{_layer_text_ko(i, layer)} 뒤에 활성화 함수가 없습니다"))
        if not _pooled(layer):
            out.append(text(f"{_layer_text(i, layer)} has no pooling after it (add torch.nn.MaxPool2d)",
                            f"{_layer_text_ko(i, layer)} 뒤에 pooling 이 없습니다 (torch.nn.MaxPool2d 를 "
                            "추가하세요)"))
    last_conv = convs[-1][0]
    if not any(layer.kind == "linear" for layer in layers[last_conv:]):
        out.append(text("no Linear (fully connected) layer after the convolutional layers",
                        "합성곱 층 뒤에 Linear (fully connected) 층이 없습니다"))
    return out


def _shape(layer: Layer) -> tuple[str, int, int, tuple[int, ...]]:
    return layer.kind, layer.n_in, layer.n_out, layer.kernel


def layer_differences(a: EvaluatedRun, b: EvaluatedRun) -> list[Text]:
    """How run ``b``'s layers differ from run ``a``'s apart from Dropout/BatchNorm: kinds, channels, kernel sizes,
    Linear widths, activations, pooling."""
    la, lb = (a.arch.layers if a.arch else ()), (b.arch.layers if b.arch else ())
    if len(la) != len(lb):
        sa, sb = " → ".join(x.label() for x in la), " → ".join(x.label() for x in lb)
        return [text(f"{len(la)} layers ({sa}) vs {len(lb)} layers ({sb})",
                     f"층 {len(la)}개 ({sa}) 대 층 {len(lb)}개 ({sb})")]
    out = []
    for i, (x, y) in enumerate(zip(la, lb, strict=True), 1):
        if _shape(x) != _shape(y):
            out.append(text(f"layer {i}: {x.label()} vs {y.label()}", f"{i}번째 층: {x.label()} 대 {y.label()}"))
        if x.activation != y.activation:
            out.append(text(f"layer {i}: activation {_act(x.activation)} vs {_act(y.activation)}",
                            f"{i}번째 층: 활성화 함수 {_act(x.activation)} 대 {_act(y.activation)}"))
        px = [d for d in x.decorations if "pool" in d.lower()]
        py = [d for d in y.decorations if "pool" in d.lower()]
        if px != py:
            out.append(text(f"layer {i}: pooling {' '.join(px) or 'none'} vs {' '.join(py) or 'none'}",
                            f"{i}번째 층: pooling {' '.join(px) or '없음'} 대 {' '.join(py) or '없음'}"))
    return out


def _lr(er: EvaluatedRun) -> object:
    return (er.run.optimizer.get("hparams") or {}).get("lr")


def setting_differences(a: EvaluatedRun, b: EvaluatedRun) -> list[Text]:
    """Training settings of run ``b`` that differ from run ``a``'s: optimizer, learning rate, epochs, batch size."""
    pairs = [("optimizer", "옵티마이저", a.run.torch_class, b.run.torch_class),
             ("learning rate", "학습률", _lr(a), _lr(b)),
             ("epochs", "epoch", a.run.epochs_completed, b.run.epochs_completed),
             ("batch size", "batch 크기", a.run.batch, b.run.batch)]
    return [text(f"{en} {x} vs {y}", f"{ko} {x} 대 {y}") for en, ko, x, y in pairs if x != y]


# ---------------------------------------------------------------------------------------------- task 1


@dataclass(frozen=True)
class Plain:
    run: str = "cnn"                # the [runs.<name>] selector of task 1's CNN


_NO_CNN = text("no CNN was trained", "CNN 이 학습되지 않았습니다")


def _no_cnn(why: Text, first: bool = False) -> Outcome:
    """Why task 1 has nothing to judge: the full reason once (t1.cnn), a pointer in the other checks."""
    if first:
        return Outcome(False, cat(_NO_CNN, ": ", why))
    return Outcome(False, cat(_NO_CNN, text(" (see t1.cnn)", " (t1.cnn 참고)")), evidence={"reason": why["en"]})


@check("plain_cnn", params=Plain)
def plain_cnn_check(ctx: CheckContext, p: Plain) -> Outcome:
    """A CNN meeting [runs.cnn] was trained; the plain one when there is one."""
    er, why = plain_cnn(ctx, p.run)
    if er is None:
        return _no_cnn(why, first=True)
    note = text("")
    if _regularisers(er):
        note = text(f" (it uses {', '.join(_regularisers(er))}: no CNN without Dropout/BatchNorm was trained)",
                    f" ({', '.join(_regularisers(er))} 사용: Dropout/BatchNorm 없는 CNN 은 학습하지 않았습니다)")
    return Outcome(True, cat(text(f"{er.label} trained for {er.run.epochs_completed} epoch(s)",
                                  f"{er.label} 을 {er.run.epochs_completed} epoch 학습"), note),
                   evidence={"run": er.run.index, "architecture": er.arch.to_dict() if er.arch else None})


@check("conv_blocks", params=Plain)
def conv_blocks(ctx: CheckContext, p: Plain) -> Outcome:
    """Every conv layer of task 1's CNN is followed by an activation and pooling; a Linear layer comes after."""
    er, why = plain_cnn(ctx, p.run)
    if er is None:
        return _no_cnn(why)
    probs = block_problems(er)
    n = sum(1 for layer in (er.arch.layers if er.arch else ()) if layer.kind == "conv")
    if probs:
        return Outcome(False, join("; ", probs), evidence={"run": er.run.index, "problems": [x["en"] for x in probs]})
    return Outcome(True, text(f"{n} conv layer(s), each with an activation and pooling, then Linear: "
                              f"{er.arch.describe() if er.arch else ''}",
                              f"합성곱 층 {n}개가 모두 활성화 함수와 pooling 을 거친 뒤 Linear 로 이어집니다: "
                              f"{er.arch.describe() if er.arch else ''}"), evidence={"run": er.run.index})


@check("cnn_output", params=Plain)
def cnn_output(ctx: CheckContext, p: Plain) -> Outcome:
    """No activation after task 1's output layer (the built-in no_output_activation, on task 1's run)."""
    er, why = plain_cnn(ctx, p.run)
    if er is None or er.arch is None:
        return _no_cnn(why)
    o = output_outcome(er)
    return replace(o, evidence={**o.evidence, "run": er.run.index})


@dataclass(frozen=True)
class Falls:
    run: str = "cnn"
    min_relative_decrease: float = 0.4


@check("cnn_loss_falls", params=Falls)
def cnn_loss_falls(ctx: CheckContext, p: Falls) -> Outcome:
    """Task 1's epoch-mean train loss fell by at least ``min_relative_decrease`` (the built-in loss_falls_by)."""
    er, why = plain_cnn(ctx, p.run)
    if er is None:
        return _no_cnn(why)
    return decrease_outcome(er, p.min_relative_decrease)


@dataclass(frozen=True)
class Accuracy:
    run: str = "cnn"
    reference: str = "relu_adam_maxpool"  # the baseline run whose band the accuracy is compared with
    fallback_reference: str | None = None   # used when the baseline has no ``reference`` run
    sigmas: float = 3.0
    min_margin: float = 0.01
    zero_credit_margin: float = 0.10


def _refs(reference: str, fallback: str | None) -> list[str]:
    return [reference, *([fallback] if fallback else [])]


def _with_run(o: Outcome, er: EvaluatedRun, lead: Text | None = None) -> Outcome:
    message = cat(lead, o.text) if lead is not None else o.message
    return replace(o, message=message, evidence={**o.evidence, "run": er.run.index})


@check("cnn_accuracy", params=Accuracy, tags=("accuracy",))
def cnn_accuracy(ctx: CheckContext, p: Accuracy) -> Outcome:
    """Task 1's grader-measured test accuracy against the reference band (the built-in accuracy_vs_reference)."""
    er, why = plain_cnn(ctx, p.run)
    if er is None:
        return _no_cnn(why)
    refs = _refs(p.reference, p.fallback_reference)
    return _with_run(accuracy_outcome(ctx, er, refs, p.sigmas, p.min_margin, p.zero_credit_margin), er)


# ---------------------------------------------------------------------------------------------- task 2


@dataclass(frozen=True)
class Regularised:
    run: str = "cnn_reg"            # [runs.<name>] of task 2's CNN
    base: str = "cnn"               # [runs.<name>] of task 1's CNN


def _no_reg(why: Text, first: bool = False) -> Outcome:
    head = text("no CNN with Dropout or BatchNorm was trained", "Dropout 이나 BatchNorm 을 쓴 CNN 이 학습되지 "
                                                                 "않았습니다")
    if first:
        return Outcome(False, cat(head, ": ", why))
    return Outcome(False, cat(head, text(" (see t2.regularised)", " (t2.regularised 참고)")),
                   evidence={"reason": why["en"]})


@check("regularised_cnn", params=Regularised)
def regularised_cnn_check(ctx: CheckContext, p: Regularised) -> Outcome:
    """A CNN with Dropout or BatchNorm was trained, another run than task 1's."""
    er, why = regularised_cnn(ctx, p.run, p.base)
    if er is None:
        return _no_reg(why, first=True)
    means = er.run.epoch_means()
    trend = f"; loss {means[0]:.3f} → {means[-1]:.3f}" if means else ""
    used = ", ".join(_regularisers(er))
    return Outcome(True, text(f"{er.label} with {used} trained for {er.run.epochs_completed} epoch(s){trend}",
                              f"{used} 를 쓴 {er.label} 을 {er.run.epochs_completed} epoch 학습{trend}"),
                   evidence={"run": er.run.index, "epoch_means": means, "regularisers": _regularisers(er)})


@check("same_cnn", params=Regularised)
def same_cnn(ctx: CheckContext, p: Regularised) -> Outcome:
    """Task 2's CNN has task 1's layers (kinds, channels, kernel sizes, Linear widths, activations, pooling); only
    Dropout/BatchNorm differ. Different training settings are a warning (the comparison is less fair)."""
    base, why_b = plain_cnn(ctx, p.base)
    reg, why_r = regularised_cnn(ctx, p.run, p.base)
    if reg is None:
        return _no_reg(why_r)
    if base is None:
        return Outcome(False, cat(text("no task 1 CNN to compare with: ", "비교할 과제 1의 CNN 이 없습니다: "), why_b))
    diff = layer_differences(base, reg)
    evidence = {"run": reg.run.index, "runs": [base.run.index, reg.run.index]}
    if diff:
        return Outcome(False, cat(text(f"{reg.label} is not {base.label} with Dropout/BatchNorm added: ",
                                       f"{reg.label} 은 {base.label} 에 Dropout/BatchNorm 만 더한 모델이 아닙니다: "),
                                  join("; ", diff)), evidence={**evidence, "differences": [d["en"] for d in diff]})
    settings = setting_differences(base, reg)
    warning = cat(text("the two runs were trained differently (", "두 실행의 학습 설정이 다릅니다 ("),
                  join("; ", settings), text("): the curves compare more than Dropout/BatchNorm",
                                             "): 두 곡선의 차이가 Dropout/BatchNorm 때문만은 아닙니다")) \
        if settings else None
    return Outcome(True, text(f"same layers as {base.label}; only {', '.join(_regularisers(reg))} added",
                              f"{base.label} 과 층이 같고 {', '.join(_regularisers(reg))} 만 더했습니다"),
                   warning=warning, evidence=evidence)


@dataclass(frozen=True)
class RegAccuracy:
    run: str = "cnn_reg"
    base: str = "cnn"
    reference: str = "relu_adam_maxpool"
    fallback_reference: str | None = None
    sigmas: float = 3.0
    min_margin: float = 0.01
    zero_credit_margin: float = 0.10


_EVAL = text("measured by the grader in eval mode (model.eval(): Dropout off, BatchNorm with its running "
             "statistics): ", "채점기가 eval 모드로 잰 값입니다 (model.eval(): Dropout 꺼짐, BatchNorm 은 학습 때 "
                             "모은 통계 사용): ")


@check("regularised_accuracy", params=RegAccuracy, tags=("accuracy",))
def regularised_accuracy(ctx: CheckContext, p: RegAccuracy) -> Outcome:
    """Task 2's grader-measured (eval-mode) test accuracy against the reference; says so, and says when the
    notebook measured its own accuracy in training mode (the doctor's train_mode_eval finding)."""
    er, why = regularised_cnn(ctx, p.run, p.base)
    if er is None:
        return _no_reg(why)
    refs = _refs(p.reference, p.fallback_reference)
    o = accuracy_outcome(ctx, er, refs, p.sigmas, p.min_margin, p.zero_credit_margin)
    o = _with_run(o, er, _EVAL)
    if any(d.id == "train_mode_eval" and d.run == er.run.index for d in ctx.diagnoses):
        note = text("the notebook measured its own accuracy in training mode (no model.eval()), so its printed "
                    "number differs; the grader's eval-mode accuracy is what counts",
                    "노트북은 정확도를 학습 모드로 쟀습니다 (model.eval() 없음). 그래서 출력된 값이 다르며, 점수는 "
                    "채점기가 eval 모드로 잰 정확도로 매깁니다")
        o = replace(o, warning=note, evidence={**o.evidence, "notebook_train_mode": True})
    return o
