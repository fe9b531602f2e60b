"""Task 3 checks: an optimizer whose torch class is not Adam really trained something."""

from __future__ import annotations

from typing import Any

from grader.checks.context import CheckContext, EvaluatedRun
from grader.checks.registry import Outcome, Registry
from grader.checks.select import relative_decrease


def register(reg: Registry) -> None:
    """Add task 3's checks to ``reg``."""
    reg.register("t3.other_optimizer")(other_optimizer)
    reg.register("t3.trained")(trained)


def _other_runs(ctx: CheckContext, min_epochs: int) -> list[EvaluatedRun]:
    return [er for er in ctx.runs if er.run.torch_class != "Adam" and er.run.epochs_completed >= min_epochs]


def other_optimizer(ctx: CheckContext, p: dict[str, Any]) -> Outcome:
    min_epochs = int(p.get("min_epochs", 1))
    runs = _other_runs(ctx, min_epochs)
    if runs:
        er = runs[0]
        note = (" (AdamW is Adam with decoupled weight decay: accepted as a different optimizer)"
                if er.run.torch_class == "AdamW" else "")
        hp = er.run.optimizer.get("hparams") or {}
        return Outcome(True, f"{er.run.torch_class} (lr {hp.get('lr')}) stepped {er.label} for "
                             f"{er.run.epochs_completed} epoch(s){note}",
                       evidence={"runs": [r.run.index for r in runs]})
    stepped = ctx.recording.stepped_optimizer_ids()
    idle = sorted({o["torch_cls"] for oid, o in ctx.recording.optimizers.items()
                   if oid not in stepped and o.get("torch_cls") != "Adam"})
    short = [er for er in ctx.runs if er.run.torch_class != "Adam"]
    if short:
        er = short[0]
        return Outcome(False, f"{er.run.torch_class} stepped for only {er.run.steps} steps "
                              f"({er.run.epochs_completed} complete epochs); at least {min_epochs} needed")
    if not ctx.runs:
        what = f"{', '.join(idle)} was created but never stepped" if idle else "no optimizer stepped a model"
        return Outcome(False, f"no training was recorded: {what}; train with an optimizer other than Adam "
                              "(e.g. SGD, RMSprop, Adagrad)")
    if idle:
        return Outcome(False, f"{', '.join(idle)} was created but never stepped: every optimizer.step() "
                              "call went to Adam; call step() on the new optimizer inside the loop")
    return Outcome(False, "every training step was taken by torch.optim.Adam; train with another optimizer "
                          "(e.g. SGD, RMSprop, Adagrad)")


def trained(ctx: CheckContext, p: dict[str, Any]) -> Outcome:
    runs = _other_runs(ctx, 1)
    if not runs:
        return Outcome(False, "no run with an optimizer other than Adam completed an epoch")
    need = float(p.get("min_relative_decrease", 0.25))
    scored = [(relative_decrease(er), er) for er in runs]
    usable = [(d, er) for d, er in scored if d is not None]
    if not usable:
        return Outcome(False, "need at least 2 complete epochs of the non-Adam run to judge its loss")
    dec, er = max(usable, key=lambda de: de[0])
    means = er.run.epoch_means()
    msg = f"{er.label}: loss {means[0]:.4f} → {means[-1]:.4f} ({dec:.0%} lower)"
    if dec >= need:
        return Outcome(True, msg, evidence={"run": er.run.index, "decrease": dec})
    return Outcome(False, msg + f", less than {need:.0%}: try a larger learning rate or momentum",
                   evidence={"run": er.run.index, "decrease": dec})
