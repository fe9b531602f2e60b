"""Which recorded run answers which task, with a plain-words reason when none does.

Shared by the task modules and memoised on the context, so every check of a task talks about the
same run.
"""

from __future__ import annotations

from typing import Any

from grader.checks.context import CheckContext, EvaluatedRun
from grader.recording.architecture import Architecture


def hidden_problems(arch: Architecture | None, hidden: int, n_in: int, n_out: int) -> list[str]:
    """What keeps ``arch`` from being an n_in→…→n_out MLP with ``hidden`` hidden layers."""
    if arch is None or not arch.affine:
        return ["its architecture could not be traced (no Linear layer or parameter matmul seen)"]
    problems = []
    if arch.hidden != hidden:
        n = len(arch.affine)
        hint = (f": {n} Linear layers make {n - 1} hidden layers; add one more" if arch.hidden == hidden - 1
                else f": {n} Linear layers make {n - 1} hidden layers; the homework asks for {hidden}")
        problems.append(f"it has {arch.hidden} hidden layers{hint}")
    if arch.in_features != n_in or arch.out_features != n_out:
        problems.append(f"it maps {arch.in_features} → {arch.out_features}, not {n_in} → {n_out}")
    missing = [i + 1 for i, a in enumerate(arch.hidden_acts) if a is None]
    if missing:
        problems.append(f"no activation after hidden layer(s) {missing}: stacked Linear layers collapse into one")
    return problems


def epoch_problem(er: EvaluatedRun, min_epochs: int) -> str | None:
    """None when the run completed ``min_epochs`` epochs, else why not."""
    if er.run.epochs_completed >= min_epochs:
        return None
    return (f"it was trained for {er.run.steps} steps, which is {er.run.epochs_completed} complete epoch(s); "
            f"at least {min_epochs} needed")


def _best(ctx: CheckContext, key: str, want: Any, hidden: int) -> tuple[EvaluatedRun | None, str]:
    """First run with no problems, else the run with the fewest, and its problems as text."""
    if key in ctx.memo:
        return ctx.memo[key]  # type: ignore[no-any-return]
    scored = [(want(er), er) for er in ctx.runs]
    good = [er for probs, er in scored if not probs]
    if good:
        result: tuple[EvaluatedRun | None, str] = (good[0], "")
    elif not scored:
        result = (None, "no training was recorded: no optimizer stepped any model")
    else:
        # closest = deepest match first (a 5-hidden model is "closer" than the lecture's 2-hidden one)
        probs, er = min(scored, key=lambda pe: (abs((pe[1].arch.hidden if pe[1].arch else 0) - hidden),
                                                len(pe[0])))
        result = (None, f"closest is {er.label}, but " + "; ".join(probs))
    ctx.memo[key] = result
    return result


def relu_run(ctx: CheckContext, p: dict[str, Any]) -> tuple[EvaluatedRun | None, str]:
    """Task 1: a trained MLP with ``hidden_layers`` hidden layers whose activations are not all Sigmoid."""
    hidden, n_in, n_out = int(p.get("hidden_layers", 6)), int(p.get("in_features", 784)), int(p.get("out_features", 10))

    def want(er: EvaluatedRun) -> list[str]:
        probs = hidden_problems(er.arch, hidden, n_in, n_out)
        if er.arch and er.arch.hidden_acts and all(a == "sigmoid" for a in er.arch.hidden_acts):
            probs.append("every hidden activation is Sigmoid (that is task 2's model; task 1 uses ReLU)")
        ep = epoch_problem(er, int(p.get("min_epochs", 1)))
        return probs + ([ep] if ep else [])

    return _best(ctx, "relu_run", want, hidden)


def sigmoid_run(ctx: CheckContext, p: dict[str, Any]) -> tuple[EvaluatedRun | None, str]:
    """Task 2: a trained 6-hidden-layer MLP with Sigmoid after every hidden layer (closest to the ReLU run)."""
    hidden = int(p.get("hidden_layers", 6))

    def want(er: EvaluatedRun) -> list[str]:
        probs = hidden_problems(er.arch, hidden, 784, 10)
        if er.arch and er.arch.hidden_acts and not all(a == "sigmoid" for a in er.arch.hidden_acts):
            acts = [a or "none" for a in er.arch.hidden_acts]
            probs.append(f"not every hidden layer uses Sigmoid (hidden activations: {', '.join(acts)})")
        ep = epoch_problem(er, int(p.get("min_epochs", 1)))
        return probs + ([ep] if ep else [])

    key = "sigmoid_run"
    if key not in ctx.memo:
        candidates = [er for er in ctx.runs if not want(er)]
        base, _ = ctx.memo.get("relu_run", (None, ""))
        if len(candidates) > 1 and base is not None:
            candidates.sort(key=lambda er: len(differences(base, er)))
        ctx.memo[key] = (candidates[0], "") if candidates else _best(ctx, key + "_any", want, hidden)
    return ctx.memo[key]  # type: ignore[no-any-return]


def differences(a: EvaluatedRun, b: EvaluatedRun) -> list[str]:
    """How run ``b`` differs from run ``a`` apart from the activation function."""
    out = []
    wa, wb = (a.arch.widths if a.arch else ()), (b.arch.widths if b.arch else ())
    if wa != wb:
        out.append(f"widths {list(wa)} vs {list(wb)}")
    if a.run.torch_class != b.run.torch_class:
        out.append(f"optimizer {a.run.torch_class} vs {b.run.torch_class}")
    lr_a, lr_b = (a.run.optimizer.get("hparams") or {}).get("lr"), (b.run.optimizer.get("hparams") or {}).get("lr")
    if lr_a != lr_b:
        out.append(f"learning rate {lr_a} vs {lr_b}")
    if a.run.epochs_completed != b.run.epochs_completed:
        out.append(f"epochs {a.run.epochs_completed} vs {b.run.epochs_completed}")
    if a.run.batch != b.run.batch:
        out.append(f"batch size {a.run.batch} vs {b.run.batch}")
    da, db = (a.arch.decorations() if a.arch else []), (b.arch.decorations() if b.arch else [])
    if da != db:
        out.append(f"layer decorations {' · '.join(da) or 'none'} vs {' · '.join(db) or 'none'}")
    return out


def relative_decrease(er: EvaluatedRun) -> float | None:
    """(first − last) / first over complete-epoch mean losses; None with fewer than 2 epochs."""
    means = er.run.epoch_means()
    if len(means) < 2 or means[0] <= 0:
        return None
    return (means[0] - means[-1]) / means[0]
