"""Run selectors: ``[runs.<name>]`` tables of predicates in assignment.toml, so a homework picks "the run this
task is about" without Python.

Example::

    [runs.cnn]
    min_conv_layers = 2
    out_features = 10
    min_epochs = 1

A check names a selector (``run = "cnn"``); :func:`select` returns the first run meeting every predicate, or
None and, in plain words, what the closest run lacks.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from grader.checks.context import CheckContext
from grader.checks.params import parse_params
from grader.checks.runs import Choice, architecture_problems, choose_run, epoch_problem
from grader.diagnosis.cells import notebook_sections
from grader.evaluation.runs import EvaluatedRun
from grader.recording.architecture import ACTIVATION_NAMES
from grader.text import Text, text


@dataclass(frozen=True)
class Selector:
    """Predicates on a run; unset ones are not checked. Activations use the op names of the graph
    (``relu``, ``sigmoid``, ``tanh``, ``leaky_relu``, ...); decorations match by prefix (``BatchNorm``,
    ``Dropout``, ``MaxPool``, ``LayerNorm``)."""

    hidden_layers: int | None = None          # exactly this many hidden layers (layers − 1)
    min_hidden_layers: int | None = None
    in_features: int | None = None            # features per sample (784 for MNIST, flattened or 1×28×28)
    out_features: int | None = None
    activation: str | None = None             # every hidden layer uses this activation
    not_all_activation: str | None = None     # not every hidden layer uses this one
    min_conv_layers: int | None = None
    any_decoration: list[str] = field(default_factory=list)  # at least one hidden layer has one of these
    no_decoration: list[str] = field(default_factory=list)   # no hidden layer has any of these
    optimizer: list[str] = field(default_factory=list)       # torch class among these (e.g. ["SGD"])
    not_optimizer: list[str] = field(default_factory=list)   # torch class none of these (e.g. ["Adam"])
    min_epochs: int = 1                       # complete epochs (runs with epochs only)
    min_steps: int | None = None              # optimizer steps; a run without epochs needs 1 unless set
    loss: str | None = None                   # loss kind recorded (cross_entropy, mse, nll, ...)
    task: str | None = None                   # trained in a cell of this task's section (its [[tasks]] heading)
    name: str = ""


def parse_selector(name: str, table: dict[str, Any], where: str) -> Selector:
    """A :class:`Selector` from its toml table; AssignmentError names the file, the selector and the key."""
    sel: Selector = parse_params(Selector, {**table, "name": name}, f"{where} [runs.{name}]")
    return sel


def _act(name: str) -> str:
    return ACTIVATION_NAMES.get(name, name)


def _activation_problems(s: Selector, er: EvaluatedRun) -> list[Text]:
    acts = list(er.arch.hidden_acts) if er.arch else []
    out = []
    if s.activation and acts and not all(a == s.activation for a in acts):
        shown = ", ".join(a or "none" for a in acts)
        out.append(text(f"not every hidden layer uses {_act(s.activation)} (hidden activations: {shown})",
                        f"모든 은닉층이 {_act(s.activation)} 를 쓰지는 않습니다 (은닉층 활성화: {shown})"))
    if s.not_all_activation and acts and all(a == s.not_all_activation for a in acts):
        out.append(text(f"every hidden activation is {_act(s.not_all_activation)}",
                        f"모든 은닉층 활성화가 {_act(s.not_all_activation)} 입니다"))
    return out


def _layer_problems(s: Selector, er: EvaluatedRun) -> list[Text]:
    arch, out = er.arch, []
    if s.min_hidden_layers is not None and (arch is None or arch.hidden < s.min_hidden_layers):
        have = arch.hidden if arch else 0
        out.append(text(f"it has {have} hidden layers, fewer than {s.min_hidden_layers}",
                        f"은닉층이 {have}개로 {s.min_hidden_layers}개보다 적습니다"))
    if s.min_conv_layers is not None:
        convs = arch.kinds.count("conv") if arch else 0
        if convs < s.min_conv_layers:
            out.append(text(f"it has {convs} convolutional layer(s), fewer than {s.min_conv_layers}",
                            f"합성곱 층이 {convs}개로 {s.min_conv_layers}개보다 적습니다"))
    decorations = [d.lower() for d in (arch.decorations() if arch else [])]
    if s.any_decoration and not any(d.startswith(w.lower()) for d in decorations for w in s.any_decoration):
        want = " or ".join(s.any_decoration)
        out.append(text(f"no hidden layer has {want}", f"{want} 를 쓴 은닉층이 없습니다"))
    found = [w for w in s.no_decoration if any(d.startswith(w.lower()) for d in decorations)]
    if found:
        out.append(text(f"it has {' and '.join(found)}", f"{', '.join(found)} 가 있습니다"))
    return out


def _training_problems(s: Selector, er: EvaluatedRun) -> list[Text]:
    out = []
    cls = er.run.torch_class
    if s.optimizer and cls not in s.optimizer:
        out.append(text(f"it was trained with {cls}, not {' or '.join(s.optimizer)}",
                        f"{cls} 로 학습했습니다 ({' 또는 '.join(s.optimizer)} 이어야 합니다)"))
    if s.not_optimizer and cls in s.not_optimizer:
        out.append(text(f"it was trained with {cls}", f"{cls} 로 학습했습니다"))
    if s.loss and er.run.loss_kind != s.loss:
        out.append(text(f"its loss is {er.run.loss_kind or 'unknown'}, not {s.loss}",
                        f"loss 가 {er.run.loss_kind or '알 수 없음'} 입니다 ({s.loss} 이어야 합니다)"))
    ep = epoch_problem(er, s.min_epochs, s.min_steps)
    return out + ([ep] if ep else [])


def problems(s: Selector, er: EvaluatedRun) -> list[Text]:
    """Everything that keeps run ``er`` from matching ``s`` (empty: it matches)."""
    arch_given = s.hidden_layers is not None or s.in_features is not None or s.out_features is not None
    probs = architecture_problems(er.arch, s.hidden_layers, s.in_features, s.out_features) if arch_given or \
        er.arch is None or not er.arch.affine else []
    return probs + _layer_problems(s, er) + _activation_problems(s, er) + _training_problems(s, er)


def sections(ctx: CheckContext) -> dict[int, str]:
    """Notebook cell index -> task id (the ``[[tasks]]`` headings), memoised on the context."""
    if "task_sections" not in ctx.memo:
        tasks = ctx.assignment.task_specs() if ctx.assignment else []
        ctx.memo["task_sections"] = notebook_sections(list(ctx.notebook.cells), tasks)
    return ctx.memo["task_sections"]  # type: ignore[no-any-return]


def task_problem(ctx: CheckContext, task: str | None, er: EvaluatedRun) -> list[Text]:
    """Empty when ``task`` is None, when the notebook has no task headings at all (a ``.py`` module: one cell), or
    when run ``er`` was trained in a cell of that task's section."""
    if task is None or not sections(ctx):
        return []
    cell = ctx.notebook_cell(er.run.cell)
    found = sections(ctx).get(cell)
    if found == task:
        return []
    numbers = {t.id: t.number for t in ctx.assignment.task_specs()} if ctx.assignment else {}
    want, got = numbers.get(task, task), numbers.get(found, found) if found else None
    return [text(f"it was trained in cell {cell + 1}, which belongs to "
                 f"{f'task {got}' if got else 'no task section'}, not to task {want}",
                 f"{cell + 1}번 셀에서 학습했는데, 이 셀은 과제 {want} 가 아니라 "
                 f"{f'과제 {got}' if got else '어느 과제에도 속하지 않는 부분'} 에 있습니다")]


def run_problems(ctx: CheckContext, name: str, er: EvaluatedRun) -> list[Text]:
    """What keeps run ``er`` from matching selector ``name`` (empty: it matches)."""
    s = ctx.selectors[name]
    return problems(s, er) + task_problem(ctx, s.task, er)


def select(ctx: CheckContext, name: str) -> Choice:
    """The run selector ``name`` picks (memoised), or None and why; an unknown name is a KeyError."""
    s: Selector = ctx.selectors[name]
    depth = s.hidden_layers if s.hidden_layers is not None else s.min_hidden_layers

    def closeness(er: EvaluatedRun) -> float:
        return float(abs((er.arch.hidden if er.arch else 0) - depth)) if depth is not None else 0.0

    return choose_run(ctx, f"selector:{name}", lambda er: problems(s, er) + task_problem(ctx, s.task, er),
                      closeness)
