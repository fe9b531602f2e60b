"""Task 1 checks: a six-hidden-layer model, its structure, its loss curve and its accuracy."""

from __future__ import annotations

import math
from typing import Any

from grader.checks.context import CheckContext, EvaluatedRun
from grader.checks.registry import Outcome, Registry
from grader.checks.select import relu_run


def register(reg: Registry) -> None:
    """Add task 1's checks to ``reg``."""
    reg.register("t1.six_hidden")(six_hidden)
    reg.register("t1.structure")(structure)
    reg.register("t1.loss_decreased")(loss_decreased)
    reg.register("t1.loss_vs_reference")(loss_vs_reference)
    reg.register("t1.accuracy")(accuracy)


def _no_run(why: str, first: bool = False) -> Outcome:
    """Why there is nothing to judge; the full reason once (t1.six_hidden), a pointer elsewhere."""
    if first:
        return Outcome(False, f"no six-hidden-layer model was trained: {why}")
    return Outcome(False, "no six-hidden-layer model was trained (see t1.six_hidden)", evidence={"reason": why})


def six_hidden(ctx: CheckContext, p: dict[str, Any]) -> Outcome:
    er, why = relu_run(ctx, p)
    if er is None:
        return _no_run(why, first=True)
    return Outcome(True, f"{er.label} trained for {er.run.epochs_completed} epoch(s)",
                   evidence={"run": er.run.index, "architecture": er.arch.to_dict() if er.arch else None})


def structure(ctx: CheckContext, p: dict[str, Any]) -> Outcome:
    er, why = relu_run(ctx, p)
    if er is None or er.arch is None:
        return _no_run(why)
    out_ops = list(er.arch.output_ops)
    hidden_like = [o for o in out_ops if o not in ("softmax", "log_softmax")]
    if hidden_like:
        return Outcome(False, f"the output layer is followed by {', '.join(hidden_like)}: logits must stay "
                              "unbounded for CrossEntropyLoss; remove the activation after the last Linear")
    warning = None
    if "softmax" in out_ops and er.run.loss_kind == "cross_entropy":
        warning = ("softmax before CrossEntropyLoss applies softmax twice (the loss has its own log-softmax); "
                   "it trains slower; return raw logits instead")
    after = f"only {'+'.join(out_ops)}" if out_ops else "no activation"
    return Outcome(True, f"784 → 10 with {after} after the output layer ({er.arch.describe()})",
                   warning=warning, evidence={"output_ops": out_ops, "loss": er.run.loss_kind})


def loss_decreased(ctx: CheckContext, p: dict[str, Any]) -> Outcome:
    er, why = relu_run(ctx, p)
    if er is None:
        return _no_run(why)
    means = er.run.epoch_means()
    if len(means) < 2:
        return Outcome(False, f"only {len(means)} complete epoch(s) recorded; need at least 2 to see the loss fall")
    ratio, limit = means[-1] / means[0], float(p.get("max_last_over_first", 0.5))
    msg = f"mean train loss {means[0]:.4f} (epoch 1) → {means[-1]:.4f} (epoch {len(means)}), ratio {ratio:.2f}"
    if ratio <= limit:
        return Outcome(True, msg, evidence={"epoch_means": means})
    return Outcome(False, msg + f" > {limit}: the loss did not fall enough; check lr and the training loop",
                   evidence={"epoch_means": means})


def _band(ref: dict[str, Any], tol: float) -> list[tuple[float, float]]:
    out = []
    for m, s in zip(ref["epoch_loss_mean"], ref["epoch_loss_sd"], strict=True):
        lo, hi = m - 3 * s, m + 3 * s
        out.append((lo / (1 + tol) if lo > 0 else 0.0, hi * (1 + tol)))
    return out


def loss_vs_reference(ctx: CheckContext, p: dict[str, Any]) -> Outcome:
    er, why = relu_run(ctx, p)
    if er is None:
        return _no_run(why)
    key = f"relu_{er.run.optimizer_family}"
    ref = ctx.reference_run(key)
    if ref is None:
        return Outcome(True, f"no reference curve for optimizer family '{er.run.optimizer_family}' in "
                             f"{ctx.mode} mode: not compared, full credit", evidence={"reference": None})
    means = er.run.epoch_means()
    band = _band(ref, float(p.get("tolerance", 1.0)))
    shared = list(zip(range(1, len(means) + 1), means, band, strict=False))  # the epochs both have
    if not shared:
        return Outcome(False, "no complete epoch to compare with the reference")
    outside = [(e, v, b) for e, v, b in shared if not b[0] <= v <= b[1]]
    frac = len(outside) / len(shared)
    detail = "; ".join(f"epoch {e}: {v:.3f} not in [{b[0]:.3f}, {b[1]:.3f}]" for e, v, b in outside[:3])
    evidence = {"reference": key, "band": band[: len(means)], "epoch_means": means}
    if frac <= float(p.get("max_outside_fraction", 0.2)):
        return Outcome(True, f"{len(shared) - len(outside)}/{len(shared)} epochs inside the reference band "
                             f"({key})", evidence=evidence)
    return Outcome(False, f"{len(outside)}/{len(shared)} epochs outside the reference band ({key}): {detail}",
                   evidence=evidence)


def _trained_on_test(er: EvaluatedRun) -> Outcome:
    """No credit for an accuracy measured on the data the model learned from; the unseen split's, for information."""
    acc = f"{er.accuracy:.4f}" if er.accuracy is not None else "(not measured)"
    unseen = (f"the grader measured {er.accuracy_unseen:.4f} on the train split, which it did not see"
              if er.accuracy_unseen is not None else
              "its accuracy on the train split, which it did not see, was not measured")
    return Outcome(False, f"0 points: {er.label} trained on the test split, so its test accuracy {acc} was measured "
                          f"on images it learned from and is not a test accuracy; for information, {unseen}",
                   evidence={"run": er.run.index, "accuracy": None, "trained_on_test": True,
                             "accuracy_on_trained_split": er.accuracy,
                             "accuracy_unseen": er.accuracy_unseen, "source": er.accuracy_source})


def accuracy(ctx: CheckContext, p: dict[str, Any]) -> Outcome:
    er, why = relu_run(ctx, p)
    if er is None:
        return _no_run(why)
    if er.trained_on_test:
        return _trained_on_test(er)
    if er.accuracy is None:
        return Outcome(False, f"test accuracy could not be measured ({er.unverified_reason or 'no export'})")
    if er.accuracy_source != "grader":  # points come only from what the grader's own process measured
        return Outcome(False, f"test accuracy {er.accuracy:.4f} was measured only inside the notebook's kernel "
                              f"and cannot be verified ({er.unverified_reason}); the grader credits only an "
                              "accuracy it measures itself on a model it can rebuild",
                       evidence={"accuracy": er.accuracy, "source": er.accuracy_source})
    ref = ctx.reference_run(f"relu_{er.run.optimizer_family}") or ctx.reference_run("relu_adam")
    if ref is None:
        return Outcome(False, f"no reference accuracy for {ctx.mode} mode; run `grader reference --data {ctx.mode}`")
    mean, sd = float(ref["accuracy_mean"]), float(ref["accuracy_sd"])
    full = mean - max(float(p.get("sigmas", 3.0)) * sd, float(p.get("min_margin", 0.01)))
    zero = mean - float(p.get("zero_credit_margin", 0.10))
    acc = er.accuracy
    frac = 1.0 if acc >= full else max(0.0, (acc - zero) / (full - zero)) if full > zero else 0.0
    msg = f"test accuracy {acc:.4f}; reference {mean:.4f} ± {sd:.4f}, full credit from {full:.4f}"
    ev = {"accuracy": acc, "source": er.accuracy_source, "full_from": full, "zero_at": zero}
    if frac >= 1.0:
        return Outcome(True, msg, evidence=ev)
    frac = 0.0 if math.isnan(frac) else frac
    return Outcome(frac > 0, msg + f" — partial credit {frac:.0%}; train longer or check the model",
                   fraction=frac, evidence=ev)
