"""Reusable checks, parameterised from assignment.toml, so a simple homework needs little or no Python.

Each names the run it judges by a selector (``run = "<name>"`` → ``[runs.<name>]``). Listed, with their
parameters, in docs/authoring.md.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from grader.checks.context import CheckContext
from grader.checks.reference import accuracy_grade, loss_band, outside_band
from grader.checks.registry import Outcome, check
from grader.checks.runs import epoch_problem, progress_span, relative_decrease, trained_for
from grader.checks.selectors import select
from grader.evaluation.runs import EvaluatedRun
from grader.recording.architecture import OUTPUT_SQUASH
from grader.reference.baseline import run_kind
from grader.text import Text, as_text, cat, text

Described = str | dict[str, str] | None


def _what(value: Described, default: Text) -> Text:
    return as_text(value) if value else default  # type: ignore[arg-type]


def _pick(ctx: CheckContext, run: str, what: Described) -> tuple[EvaluatedRun | None, Text]:
    er, why = select(ctx, run)
    if er is None:
        w = _what(what, text(f"run matching [runs.{run}]", f"[runs.{run}] 에 맞는 실행"))
        return None, cat(text("no ", ""), w, text(" was trained: ", " 이(가) 학습되지 않았습니다: "), why)
    return er, text("")


@dataclass(frozen=True)
class RunParams:
    run: str
    what: Described = None   # how messages name the run asked for, e.g. { en = "CNN", ko = "CNN" }


@check("run_trained", params=RunParams)
def run_trained(ctx: CheckContext, p: RunParams) -> Outcome:
    """A run the selector accepts was trained (its architecture in the evidence)."""
    er, why = _pick(ctx, p.run, p.what)
    if er is None:
        return Outcome(False, why)
    return Outcome(True, cat(text(f"{er.label} trained for ", f"{er.label} 을 "), trained_for(er),
                             text("", " 학습")),
                   evidence={"run": er.run.index, "architecture": er.arch.to_dict() if er.arch else None})


@dataclass(frozen=True)
class LossParams:
    run: str
    max_last_over_first: float = 0.5
    what: Described = None


@check("loss_decreased", params=LossParams)
def loss_decreased(ctx: CheckContext, p: LossParams) -> Outcome:
    """Mean train loss of the last complete epoch at most ``max_last_over_first`` × the first's."""
    er, why = _pick(ctx, p.run, p.what)
    if er is None:
        return Outcome(False, why)
    return ratio_outcome(er, p.max_last_over_first)


def ratio_outcome(er: EvaluatedRun, limit: float) -> Outcome:
    """The loss-ratio verdict of one run: last complete epoch's mean loss at most ``limit`` × the first's (for a
    run without epochs, the last window of steps against the first: :meth:`Run.progress`)."""
    unit, means, _ = er.run.progress()
    if len(means) < 2:
        if unit == "step":
            return Outcome(False, text(f"only {er.run.steps} step(s) recorded; need at least 2 to see the loss fall",
                                       f"기록된 step 이 {er.run.steps}개뿐입니다: loss 가 줄었는지 보려면 최소 2개가 "
                                       "필요합니다"))
        return Outcome(False, text(f"only {len(means)} complete epoch(s) recorded; need at least 2 to see the loss "
                                   f"fall",
                                   f"완료된 epoch 이 {len(means)}개뿐입니다: loss 가 줄었는지 보려면 최소 2개가 "
                                   "필요합니다"))
    ratio = means[-1] / means[0] if means[0] else float("inf")
    first, last = progress_span(er)
    msg = cat(text(f"mean train loss {means[0]:.4f} (", f"평균 train loss {means[0]:.4f} ("), first,
              text(f") → {means[-1]:.4f} (", f") → {means[-1]:.4f} ("), last,
              text(f"), ratio {ratio:.2f}", f"), 비율 {ratio:.2f}"))
    evidence = {"run": er.run.index, f"{unit}_means": means}
    if ratio <= limit:
        return Outcome(True, msg, evidence=evidence)
    return Outcome(False, cat(msg, text(f" > {limit}: the loss did not fall enough; check lr and the "
                                        "training loop", f" > {limit}: loss 가 충분히 줄지 않았습니다. "
                                        "학습률과 학습 루프를 확인하세요")),
                   evidence=evidence)


def reference_key(er: EvaluatedRun, key: str | None) -> str:
    """The baseline key for a run: ``key`` with ``{kind}`` (:func:`~grader.reference.baseline.run_kind`, e.g.
    ``relu_adam_dropout``), ``{activation}`` and ``{optimizer}`` filled in; default ``{kind}``."""
    arch = er.arch
    kind = run_kind(list(arch.hidden_acts) if arch else [], er.run.optimizer_family, arch.decorations() if arch else [])
    return (key or "{kind}").format(kind=kind, activation=kind.split("_")[0], optimizer=er.run.optimizer_family)


@dataclass(frozen=True)
class BandParams:
    run: str
    reference: str | None = None          # baseline key; default "{kind}" (e.g. relu_adam)
    tolerance: float = 1.0                # band widened ×/÷ (1 + tolerance)
    max_outside_fraction: float = 0.2
    what: Described = None


@check("loss_vs_reference", params=BandParams)
def loss_vs_reference(ctx: CheckContext, p: BandParams) -> Outcome:
    """Per-epoch mean loss inside the reference band (mean ± 3 sd, widened) for most epochs; no reference
    for this kind of run: full credit, said so."""
    er, why = _pick(ctx, p.run, p.what)
    if er is None:
        return Outcome(False, why)
    return band_outcome(ctx, er, reference_key(er, p.reference), p.tolerance, p.max_outside_fraction)


def band_outcome(ctx: CheckContext, er: EvaluatedRun, key: str, tolerance: float, max_outside: float,
                 missing: Text | None = None) -> Outcome:
    """The loss-band verdict for run ``er`` against reference run ``key`` (``missing``: what to say when the
    baseline has no such run; it is not compared and earns full credit)."""
    ref = ctx.reference_run(key)
    if ref is None:
        return Outcome(True, missing or text(f"no reference curve '{key}' in {ctx.mode} mode: not compared, full "
                                             "credit", f"{ctx.mode} 모드에 참조 곡선 '{key}' 가 없습니다: 비교하지 "
                                                       f"않고 만점"),
                       evidence={"reference": None, "run": er.run.index})
    means = er.run.epoch_means()
    band = loss_band(ref, tolerance)
    n, outside = outside_band(means, band)
    if not n:
        return Outcome(False, text("no complete epoch to compare with the reference", "참조와 비교할 완료된 epoch "
                                                                                      "이 없습니다"))
    detail = "; ".join(f"epoch {e}: {v:.3f} not in [{b[0]:.3f}, {b[1]:.3f}]" for e, v, b in outside[:3])
    detail_ko = "; ".join(f"epoch {e}: {v:.3f} 가 범위 밖 [{b[0]:.3f}, {b[1]:.3f}]" for e, v, b in outside[:3])
    evidence = {"reference": key, "band": band[: len(means)], "epoch_means": means, "run": er.run.index}
    if len(outside) / n <= max_outside:
        return Outcome(True, text(f"{n - len(outside)}/{n} epochs inside the reference band ({key})",
                                  f"{n}개 epoch 중 {n - len(outside)}개가 참조 범위 안 ({key})"), evidence=evidence)
    return Outcome(False, text(f"{len(outside)}/{n} epochs outside the reference band ({key}): {detail}",
                               f"{n}개 epoch 중 {len(outside)}개가 참조 범위 밖 ({key}): {detail_ko}"),
                   evidence=evidence)


@dataclass(frozen=True)
class AccuracyParams:
    run: str
    reference: str | None = None           # baseline key; default "{kind}" (e.g. relu_adam)
    fallback_reference: str | None = None  # used when the baseline has no ``reference`` run
    sigmas: float = 3.0
    min_margin: float = 0.01
    zero_credit_margin: float = 0.10
    what: Described = None


@check("accuracy_vs_reference", params=AccuracyParams, tags=("accuracy",))
def accuracy_vs_reference(ctx: CheckContext, p: AccuracyParams) -> Outcome:
    """Grader-measured test accuracy against the reference: full credit within the band, partial down to
    ``zero_credit_margin`` below the mean; none for an accuracy on the data the run trained on."""
    er, why = _pick(ctx, p.run, p.what)
    if er is None:
        return Outcome(False, why)
    refs = [reference_key(er, p.reference)] + ([p.fallback_reference] if p.fallback_reference else [])
    return accuracy_outcome(ctx, er, refs, p.sigmas, p.min_margin, p.zero_credit_margin)


def _trained_on_test(er: EvaluatedRun) -> Outcome:
    """No credit for an accuracy measured on the data the model learned from; the unseen split's, for information."""
    acc = f"{er.accuracy:.4f}" if er.accuracy is not None else "(not measured)"
    unseen = (text(f"the grader measured {er.accuracy_unseen:.4f} on the train split, which it did not see",
                   f"이 실행이 보지 않은 train 데이터에서 채점기가 잰 정확도는 {er.accuracy_unseen:.4f} 입니다")
              if er.accuracy_unseen is not None else
              text("its accuracy on the train split, which it did not see, was not measured",
                   "이 실행이 보지 않은 train 데이터에서의 정확도는 측정되지 않았습니다"))
    head = text(f"0 points: {er.label} trained on the test split, so its test accuracy {acc} was measured on images "
                "it learned from and is not a test accuracy; for information, ",
                f"0점: {er.label} 은 테스트 데이터로 학습했으므로 테스트 정확도 {acc} 는 학습한 이미지로 잰 값이라 "
                "테스트 정확도가 아닙니다. 참고로 ")
    return Outcome(False, cat(head, unseen),
                   evidence={"run": er.run.index, "accuracy": None, "trained_on_test": True,
                             "accuracy_on_trained_split": er.accuracy,
                             "accuracy_unseen": er.accuracy_unseen, "source": er.accuracy_source})


def accuracy_outcome(ctx: CheckContext, er: EvaluatedRun, references: list[str], sigmas: float = 3.0,
                     min_margin: float = 0.01, zero_credit_margin: float = 0.10) -> Outcome:
    """The accuracy verdict for run ``er`` against the first of ``references`` the baseline has."""
    if er.trained_on_test:
        return _trained_on_test(er)
    if er.accuracy is None:
        why = er.unverified_reason or "no export"
        return Outcome(False, text(f"test accuracy could not be measured ({why})",
                                   f"테스트 정확도를 측정하지 못했습니다 ({why})"))
    if er.accuracy_source != "grader":  # points come only from what the grader's own process measured
        return Outcome(False, text(f"test accuracy {er.accuracy:.4f} was measured only inside the notebook's kernel "
                                   f"and cannot be verified ({er.unverified_reason}); the grader credits only an "
                                   "accuracy it measures itself on a model it can rebuild",
                                   f"테스트 정확도 {er.accuracy:.4f} 은 노트북 커널 안에서만 측정되어 검증할 수 "
                                   f"없습니다 ({er.unverified_reason}). 채점기는 직접 재구성한 모델로 스스로 측정한 "
                                   "정확도에만 "
                                   "점수를 줍니다"),
                       evidence={"accuracy": er.accuracy, "source": er.accuracy_source, "run": er.run.index})
    ref = next((r for r in (ctx.reference_run(k) for k in references) if r is not None), None)
    if ref is None:
        return Outcome(False, text(f"no reference accuracy for {ctx.mode} mode; run `grader reference --data "
                                   f"{ctx.mode}`", f"{ctx.mode} 모드의 참조 정확도가 없습니다. `grader reference "
                                   f"--data {ctx.mode}` 를 실행하세요"))
    classes = er.arch.out_features if er.arch is not None else None
    g = accuracy_grade(er.accuracy, ref, sigmas, min_margin, zero_credit_margin,
                       chance=1.0 / classes if classes and classes >= 2 else None)
    msg = text(f"test accuracy {g.accuracy:.4f}; reference {g.mean:.4f} ± {g.sd:.4f}, full credit from "
               f"{g.full_from:.4f}",
               f"테스트 정확도 {g.accuracy:.4f}; 참조 {g.mean:.4f} ± {g.sd:.4f}, 만점 기준 {g.full_from:.4f}")
    ev = {"accuracy": g.accuracy, "source": er.accuracy_source, "full_from": g.full_from, "zero_at": g.zero_at,
          "run": er.run.index}
    if g.fraction >= 1.0:
        return Outcome(True, msg, evidence=ev)
    return Outcome(g.fraction > 0, cat(msg, text(f" — partial credit {g.fraction:.0%}; train longer or check the model",
                                                 f" — 부분 점수 {g.fraction:.0%}. 더 오래 학습하거나 모델을 "
                                                 "확인하세요")),
                   fraction=g.fraction, evidence=ev)


@dataclass(frozen=True)
class OutputParams:
    run: str
    what: Described = None


@check("no_output_activation", params=OutputParams)
def no_output_activation(ctx: CheckContext, p: OutputParams) -> Outcome:
    """Nothing but (log-)softmax after the last layer; softmax before CrossEntropyLoss is a warning."""
    er, why = _pick(ctx, p.run, p.what)
    if er is None or er.arch is None:
        return Outcome(False, why)
    return output_outcome(er)


def output_outcome(er: EvaluatedRun) -> Outcome:
    """The output-layer verdict of a run whose architecture is known."""
    assert er.arch is not None
    out_ops = list(er.arch.output_ops)
    squash = [o for o in out_ops if o not in OUTPUT_SQUASH and not (o == "sigmoid" and er.run.loss_kind == "bce")]
    if squash:
        ops = ", ".join(squash)
        return Outcome(False, text(f"the output layer is followed by {ops}: logits must stay unbounded for "
                                   "CrossEntropyLoss; remove the activation after the last Linear",
                                   f"출력층 뒤에 {ops} 가 있습니다: CrossEntropyLoss 에는 제한되지 않은 logit 이 "
                                   "필요하니 마지막 Linear 뒤의 활성화 함수를 지우세요"))
    warning = None
    if "softmax" in out_ops and er.run.loss_kind == "cross_entropy":
        warning = text("softmax before CrossEntropyLoss applies softmax twice (the loss has its own log-softmax); "
                       "it trains slower; return raw logits instead",
                       "CrossEntropyLoss 앞의 softmax 는 softmax 를 두 번 적용합니다 (loss 안에 log-softmax 가 "
                       "있습니다). 학습이 느려지니 raw logit 을 반환하세요")
    n_in, n_out = er.arch.in_features, er.arch.out_features
    if out_ops:
        msg = text(f"{n_in} → {n_out} with only {'+'.join(out_ops)} after the output layer ({er.arch.describe()})",
                   f"{n_in} → {n_out}, 출력층 뒤에는 {'+'.join(out_ops)} 만 있음 ({er.arch.describe()})")
    else:
        msg = text(f"{n_in} → {n_out} with no activation after the output layer ({er.arch.describe()})",
                   f"{n_in} → {n_out}, 출력층 뒤에 활성화 함수 없음 ({er.arch.describe()})")
    return Outcome(True, msg, warning=warning, evidence={"output_ops": out_ops, "loss": er.run.loss_kind})


@dataclass(frozen=True)
class MetricParams:
    run: str
    metric: str = "accuracy"        # accuracy | mse | mae | r2 (grader.evaluation.metrics)
    min: float | None = None
    max: float | None = None
    what: Described = None


_METRICS = {"accuracy": ("accuracy", "정확도"), "mse": ("MSE", "MSE"), "mae": ("MAE", "MAE"), "r2": ("R²", "R²")}


@check("measured_metric", params=MetricParams, tags=("accuracy",))
def measured_metric(ctx: CheckContext, p: MetricParams) -> Outcome:
    """The metric the grader measured in its own process on the selected run's rebuilt model lies in
    [``min``, ``max``]: argmax or thresholded binary accuracy, MSE, MAE or R² (the assignment's
    ``[data.evaluation]`` rows, else the provider's test split for accuracy)."""
    er, why = _pick(ctx, p.run, p.what)
    if er is None:
        return Outcome(False, why)
    en, ko = _METRICS.get(p.metric, (p.metric, p.metric))
    value = (er.metrics or {}).get(p.metric)
    if p.metric == "accuracy" and er.accuracy_source == "grader":
        value = er.accuracy
    if not isinstance(value, (int, float)):
        reason = er.unverified_reason or ("the model's outputs do not have this metric" if er.metrics else "no export")
        return Outcome(False, text(f"{er.label}: the grader could not measure its {en} ({reason})",
                                   f"{er.label}: 채점기가 {ko} 를 측정하지 못했습니다 ({reason})"),
                       evidence={"run": er.run.index, "metrics": er.metrics})
    def fmt(v: float) -> str:
        return f"{v:.0%}" if p.metric == "accuracy" else f"{v:.4g}"

    bounds = " and ".join(([f"≥ {fmt(p.min)}"] if p.min is not None else []) +
                          ([f"≤ {fmt(p.max)}"] if p.max is not None else []))
    shown = fmt(value)
    ok = (p.min is None or value >= p.min) and (p.max is None or value <= p.max)
    msg = text(f"{er.label}: the grader measured {en} {shown} (needed {bounds})",
               f"{er.label}: 채점기가 잰 {ko} {shown} (기준 {bounds})")
    return Outcome(ok, msg, evidence={"run": er.run.index, "metric": p.metric, "value": value,
                                      "metrics": er.metrics})


@dataclass(frozen=True)
class OtherOptimizerParams:
    exclude: list[str] = field(default_factory=lambda: ["Adam"])  # torch classes that do not count
    min_epochs: int = 1
    min_steps: int | None = None    # for loops without epochs (default 1 step there)


def other_runs(ctx: CheckContext, exclude: list[str], min_epochs: int,
               min_steps: int | None = None) -> list[EvaluatedRun]:
    """Runs stepped by an optimizer whose torch class is not in ``exclude``, trained long enough
    (:func:`~grader.checks.runs.epoch_problem`)."""
    return [er for er in ctx.runs if er.run.torch_class not in exclude
            and epoch_problem(er, min_epochs, min_steps) is None]


def optimizer_note(torch_class: str, exclude: list[str]) -> Text:
    """The AdamW-is-not-Adam nuance: a subclass-like variant of an excluded optimizer is still another class."""
    if torch_class == "AdamW" and "Adam" in exclude:
        return text(" (AdamW is Adam with decoupled weight decay: accepted as a different optimizer)",
                    " (AdamW 는 weight decay 를 분리한 Adam 으로, 다른 옵티마이저로 인정합니다)")
    return text("")


@check("optimizer_other_than", params=OtherOptimizerParams)
def optimizer_other_than(ctx: CheckContext, p: OtherOptimizerParams) -> Outcome:
    """A run stepped by an optimizer whose torch class is not excluded (AdamW ≠ Adam), with why not."""
    runs = other_runs(ctx, p.exclude, p.min_epochs, p.min_steps)
    excluded = " / ".join(p.exclude)
    if runs:
        er = runs[0]
        lr = (er.run.optimizer.get("hparams") or {}).get("lr")
        return Outcome(True, cat(text(f"{er.run.torch_class} (lr {lr}) stepped {er.label} for ",
                                      f"{er.run.torch_class} (lr {lr}) 로 {er.label} 을 "), trained_for(er),
                                 text("", " 학습"), optimizer_note(er.run.torch_class, p.exclude)),
                       evidence={"runs": [r.run.index for r in runs]})
    short = [er for er in ctx.runs if er.run.torch_class not in p.exclude]
    if short:
        er = short[0]
        why = epoch_problem(er, p.min_epochs, p.min_steps) or text("")
        return Outcome(False, cat(text(f"{er.run.torch_class} trained {er.label}, but ",
                                       f"{er.run.torch_class} 로 {er.label} 을 학습했지만, "), why))
    return Outcome(False, text(f"every training step was taken by {excluded}; train with another optimizer",
                               f"모든 학습 step 을 {excluded} 가 했습니다: 다른 옵티마이저로 학습하세요"))


@dataclass(frozen=True)
class DecreaseParams:
    run: str
    min_relative_decrease: float = 0.25
    what: Described = None


@check("loss_falls_by", params=DecreaseParams)
def loss_falls_by(ctx: CheckContext, p: DecreaseParams) -> Outcome:
    """(first − last) / first epoch-mean loss at least ``min_relative_decrease``."""
    er, why = _pick(ctx, p.run, p.what)
    if er is None:
        return Outcome(False, why)
    return decrease_outcome(er, p.min_relative_decrease)


def decrease_outcome(er: EvaluatedRun, need: float, hint: Text | None = None) -> Outcome:
    """The relative-decrease verdict of one run (``hint``: what to try when it falls short)."""
    dec = relative_decrease(er)
    if dec is None:
        if not er.run.has_epochs:
            return Outcome(False, text("need at least 2 recorded steps to judge the loss",
                                       "loss 를 판단하려면 기록된 step 이 최소 2개 필요합니다"),
                           evidence={"run": er.run.index})
        return Outcome(False, text("need at least 2 complete epochs to judge the loss",
                                   "loss 를 판단하려면 완료된 epoch 이 최소 2개 필요합니다"),
                       evidence={"run": er.run.index})
    unit, means, _ = er.run.progress()
    if unit == "step":
        first, last = progress_span(er)
        msg = cat(text(f"{er.label}: loss {means[0]:.4f} (", f"{er.label}: loss {means[0]:.4f} ("), first,
                  text(f") → {means[-1]:.4f} (", f") → {means[-1]:.4f} ("), last,
                  text(f") ({dec:.0%} lower)", f") ({dec:.0%} 감소)"))
    else:
        msg = text(f"{er.label}: loss {means[0]:.4f} → {means[-1]:.4f} ({dec:.0%} lower)",
                   f"{er.label}: loss {means[0]:.4f} → {means[-1]:.4f} ({dec:.0%} 감소)")
    if dec >= need:
        return Outcome(True, msg, evidence={"run": er.run.index, "decrease": dec})
    hint = hint or text(": check the learning rate and the training loop", ". 학습률과 학습 루프를 확인하세요")
    return Outcome(False, cat(msg, text(f", less than {need:.0%}", f", {need:.0%} 미만"), hint),
                   evidence={"run": er.run.index, "decrease": dec})
