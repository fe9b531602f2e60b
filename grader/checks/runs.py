"""Choosing the run a task is about, by predicates, with a plain-words reason when none fits.

Building blocks any homework's checks use (through :mod:`grader.api`): what keeps a model from being the one
asked for, whether a run trained long enough, the run that fits best (memoised on the context, so every
check of a task talks about the same run), how two runs differ, and the loss trend.
"""

from __future__ import annotations

from collections.abc import Callable

from grader.checks.context import CheckContext
from grader.evaluation.runs import EvaluatedRun
from grader.recording.architecture import Architecture
from grader.text import Text, cat, join, text

Want = Callable[[EvaluatedRun], list[Text]]
Choice = tuple[EvaluatedRun | None, Text]
NO_TRAINING = text("no training was recorded: no optimizer stepped any model",
                   "학습 기록이 없습니다: 어떤 옵티마이저도 모델을 step 하지 않았습니다")


def architecture_problems(arch: Architecture | None, hidden: int | None = None, n_in: int | None = None,
                          n_out: int | None = None) -> list[Text]:
    """What keeps ``arch`` from being an n_in→…→n_out network with ``hidden`` hidden layers (None: any),
    each hidden layer followed by an activation."""
    if arch is None or not arch.affine:
        return [text("its architecture could not be traced (no Linear layer or parameter matmul seen)",
                     "모델 구조를 추적하지 못했습니다 (Linear 층이나 파라미터 행렬곱이 보이지 않습니다)")]
    problems = []
    if hidden is not None and arch.hidden != hidden:
        n = len(arch.affine)
        if arch.hidden == hidden - 1:
            problems.append(text(f"it has {arch.hidden} hidden layers: {n} Linear layers make {n - 1} hidden layers; "
                                 "add one more",
                                 f"은닉층이 {arch.hidden}개입니다: Linear 층 {n}개는 은닉층 {n - 1}개를 만듭니다. "
                                 "Linear 층(과 활성화 함수)을 하나 더 추가하세요"))
        else:
            problems.append(text(f"it has {arch.hidden} hidden layers: {n} Linear layers make {n - 1} hidden layers; "
                                 f"the homework asks for {hidden}",
                                 f"은닉층이 {arch.hidden}개입니다: Linear 층 {n}개는 은닉층 {n - 1}개를 만듭니다. "
                                 f"과제는 은닉층 {hidden}개를 요구합니다"))
    if (n_in is not None and arch.in_features != n_in) or (n_out is not None and arch.out_features != n_out):
        want_in, want_out = n_in if n_in is not None else arch.in_features, n_out if n_out is not None else \
            arch.out_features
        problems.append(text(f"it maps {arch.in_features} → {arch.out_features}, not {want_in} → {want_out}",
                             f"입력·출력 크기가 {arch.in_features} → {arch.out_features} 입니다 "
                             f"({want_in} → {want_out} 이어야 합니다)"))
    missing = [i + 1 for i, a in enumerate(arch.hidden_acts) if a is None]
    if missing:
        problems.append(text(f"no activation after hidden layer(s) {missing}: stacked Linear layers collapse into one",
                             f"은닉층 {missing} 뒤에 활성화 함수가 없습니다: 활성화 없이 쌓은 Linear 층들은 하나의 "
                             "Linear 와 같습니다"))
    return problems


def epoch_problem(er: EvaluatedRun, min_epochs: int, min_steps: int | None = None) -> Text | None:
    """None when the run trained long enough, else why not: ``min_epochs`` complete epochs for a run with epochs,
    ``min_steps`` optimizer steps (default 1) for a full-batch or hand-written loop without epochs
    (:attr:`~grader.recording.events.Run.has_epochs`); ``min_steps`` applies to every run when given."""
    run = er.run
    if not run.has_epochs:
        need = min_steps or 1
        if run.steps >= need:
            return None
        return text(f"it was trained for {run.steps} step(s) (a loop without epochs); at least {need} needed",
                    f"{run.steps} step 만 학습했습니다 (epoch 없는 학습 루프); 최소 {need} step 필요")
    if min_steps is not None and run.steps < min_steps:
        return text(f"it was trained for {run.steps} step(s); at least {min_steps} needed",
                    f"{run.steps} step 만 학습했습니다; 최소 {min_steps} step 필요")
    if run.epochs_completed >= min_epochs:
        return None
    return text(f"it was trained for {run.steps} steps, which is {run.epochs_completed} complete epoch(s); "
                f"at least {min_epochs} needed",
                f"{run.steps} step 만 학습했습니다 (완료된 epoch {run.epochs_completed}개; 최소 "
                f"{min_epochs}개 필요)")


def trained_for(er: EvaluatedRun) -> Text:
    """How long a run trained, in its own unit: "3 epoch(s)" or "2000 steps (no epochs)"."""
    if er.run.has_epochs:
        return text(f"{er.run.epochs_completed} epoch(s)", f"{er.run.epochs_completed} epoch")
    return text(f"{er.run.steps} steps (no epochs: a full-batch loop)",
                f"{er.run.steps} step (epoch 없는 전체 배치 루프)")


def closest_reason(er: EvaluatedRun, problems: list[Text]) -> Text:
    """"closest is run N (...), but <problems>"."""
    return cat(text(f"closest is {er.label}, but ", f"가장 가까운 것은 {er.label} 이지만, "), join("; ", problems))


def choose_run(ctx: CheckContext, key: str, want: Want,
               closeness: Callable[[EvaluatedRun], float] | None = None) -> Choice:
    """The first run ``want`` finds no problem with, else (None, why): the run with the fewest problems (ties:
    smallest ``closeness``, e.g. how far its depth is from the one asked for) and its problems.
    Memoised under ``key``: every check asking with the same key gets the same answer."""
    if key in ctx.memo:
        return ctx.memo[key]  # type: ignore[no-any-return]
    scored = [(want(er), er) for er in ctx.runs]
    good = [er for probs, er in scored if not probs]
    if good:
        result: Choice = (good[0], text(""))
    elif not scored:
        result = (None, NO_TRAINING)
    else:
        order = closeness or (lambda er: 0.0)
        probs, er = min(scored, key=lambda pe: (order(pe[1]), len(pe[0])))
        result = (None, closest_reason(er, probs))
    ctx.memo[key] = result
    return result


def _lr(er: EvaluatedRun) -> object:
    return (er.run.optimizer.get("hparams") or {}).get("lr")


def differences(a: EvaluatedRun, b: EvaluatedRun) -> list[Text]:
    """How run ``b`` differs from run ``a`` apart from the activation function."""
    out = []
    wa, wb = (a.arch.widths if a.arch else ()), (b.arch.widths if b.arch else ())
    if wa != wb:
        out.append(text(f"widths {list(wa)} vs {list(wb)}", f"너비 {list(wa)} 대 {list(wb)}"))
    if a.run.torch_class != b.run.torch_class:
        out.append(text(f"optimizer {a.run.torch_class} vs {b.run.torch_class}",
                        f"옵티마이저 {a.run.torch_class} 대 {b.run.torch_class}"))
    if _lr(a) != _lr(b):
        out.append(text(f"learning rate {_lr(a)} vs {_lr(b)}", f"학습률 {_lr(a)} 대 {_lr(b)}"))
    if a.run.epochs_completed != b.run.epochs_completed:
        out.append(text(f"epochs {a.run.epochs_completed} vs {b.run.epochs_completed}",
                        f"epoch {a.run.epochs_completed} 대 {b.run.epochs_completed}"))
    if a.run.batch != b.run.batch:
        out.append(text(f"batch size {a.run.batch} vs {b.run.batch}", f"batch 크기 {a.run.batch} 대 {b.run.batch}"))
    da, db = (a.arch.decorations() if a.arch else []), (b.arch.decorations() if b.arch else [])
    if da != db:
        sa, sb = " · ".join(da) or "none", " · ".join(db) or "none"
        out.append(text(f"layer decorations {sa} vs {sb}", f"층 구성 요소 {sa} 대 {sb}"))
    return out


def relative_decrease(er: EvaluatedRun) -> float | None:
    """(first − last) / first over complete-epoch mean losses (windows of steps for a run without epochs,
    :meth:`~grader.recording.events.Run.progress`); None with fewer than 2 points."""
    _, means, _ = er.run.progress()
    if len(means) < 2 or means[0] <= 0:
        return None
    return (means[0] - means[-1]) / means[0]


def progress_span(er: EvaluatedRun) -> tuple[Text, Text]:
    """How the first and last points of :meth:`Run.progress` are named: ("epoch 1", "epoch 5") or
    ("steps 1–200", "steps 1801–2000")."""
    unit, means, per = er.run.progress()
    if unit == "epoch":
        return text("epoch 1", "epoch 1"), text(f"epoch {len(means)}", f"epoch {len(means)}")
    last = (len(means) - 1) * per
    return (text(f"steps 1–{per}", f"step 1–{per}"),
            text(f"steps {last + 1}–{last + per}", f"step {last + 1}–{last + per}"))
