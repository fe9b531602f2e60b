"""Trusted evaluation of every recorded run, in the grader's own process.

Accuracy comes from the exported op graph replayed here with the exported tensors (``weights_only=True``); when a model
cannot be rebuilt it is marked unverified and the in-kernel measurement is used instead.
"""

from __future__ import annotations

import functools
import json
import os
import random
from collections.abc import Callable
from pathlib import Path
from typing import Any

from grader.data.provider import DataProvider
from grader.evaluation.consistency import forward_trace_agrees, weight_conflicts
from grader.evaluation.gradflow import gradient_flow
from grader.evaluation.live import ReplayCache
from grader.evaluation.rebuild import UnverifiableModel, error_line, evaluate_export
from grader.evaluation.replay import verify_run
from grader.evaluation.runs import NO_DATA, EvaluatedRun
from grader.evaluation.states import weights_state
from grader.recording.architecture import analyse
from grader.recording.events import Recording, Run


def _exports(export_dir: Path) -> dict[int, dict[str, Any]]:
    path = export_dir / "models.json"
    if not path.exists():
        return {}
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        return {int(m["run"]): m for m in data.get("models", []) if isinstance(m, dict)}
    except (ValueError, KeyError, TypeError):
        return {}


_NO_DATA = NO_DATA


def data_split(provider: DataProvider, root: Path | None) -> Callable[[bool], Any]:
    """``split(train)``: the provider's split, read only if a run needs it, and once (the full train split is 47 MB);
    one function can serve the live replay (``grader.evaluation.live``) and the evaluation after it."""
    return functools.cache(lambda train: provider.split(root, train))


def evaluate_runs(recording: Recording, export_dir: Path, provider: DataProvider,
                  root: Path | None, proof: bool = True, rows: dict[str, Any] | None = None, *,
                  split: Callable[[bool], Any] | None = None, cache: ReplayCache | None = None,
                  rng: random.Random | None = None) -> list[EvaluatedRun]:
    """Measure accuracy and gradient flow for each run; never raises for a student's model.

    ``proof``: the kernel wrote checkpoints (``GradeOptions.proof``), so a long run without any is a contradiction.
    ``rows``: the assignment's ``[data.evaluation]`` (inputs, targets), measured when the provider serves no data.
    ``split``: :func:`data_split` of ``provider`` and ``root`` (default: made here); ``cache``: segments re-trained
    while the notebook ran; ``rng``: which segments are re-trained (default: a secret random choice).
    """
    split = split or data_split(provider, root)
    if not recording.runs or split(False) is None:
        runs = [_without_data(run) for run in recording.runs]
        if rows:
            _measure_rows(runs, _exports(export_dir), export_dir, rows)
        return runs
    exports = _exports(export_dir)
    flows: dict[str, list[float] | None] = {}
    rng = rng or random.Random(os.urandom(16))  # which segments are re-trained: chosen after the notebook ran
    out = []
    for run in recording.runs:
        er = EvaluatedRun(run, analyse(run.graph))
        rec = exports.get(run.index)
        if rec is None:
            er.unverified_reason = "the model was not exported (the notebook did not reach the grader's last cell)"
        else:
            _measure(er, rec, export_dir, split)
        if run.graph:
            key = json.dumps(run.graph, sort_keys=True)
            if key not in flows:
                try:
                    flows[key] = gradient_flow(run.graph, *_data(split, True), seed=0)
                except (UnverifiableModel, RuntimeError, ValueError, KeyError, TypeError):
                    flows[key] = None  # a trace the grader cannot rebuild has no gradient-flow plot
            er.gradient_flow = flows[key]
        state = weights_state(recording, run)
        restored = state if state is not None and state["recorded"] else None
        er.proof = _prove(run, recording, export_dir, split, rng, proof, _final_epoch(run, restored), cache)
        if restored is not None and er.proof is not None:  # the proof says which recorded state they are
            er.proof = {**er.proof, "final_weights": restored}
        if rec is not None and rec.get("weights_changed") is False and er.proof is not None:
            er.proof = {**er.proof, "status": "unverified", "reason": (
                f"its weights never changed over its {run.steps} optimizer steps (lr=0, gradients cleared before "
                "step(), or a step() that changes nothing): nothing was trained")}
        out.append(er)
    return out


def _data(split: Callable[[bool], Any], train: bool) -> tuple[Any, Any]:
    """A split the provider has (evaluate_runs checked that it has data)."""
    data = split(train)
    if data is None:
        raise ValueError(_NO_DATA)
    return data  # type: ignore[no-any-return]


def _without_data(run: Run) -> EvaluatedRun:
    """A run of an assignment without a dataset: architecture only; its training cannot be replayed."""
    er = EvaluatedRun(run, analyse(run.graph), unverified_reason=_NO_DATA)
    if run.steps:
        er.proof = {"status": "not_replay_verified", "reason": _NO_DATA, "segments": []}
    return er


def _measure_rows(runs: list[EvaluatedRun], exports: dict[int, dict[str, Any]], export_dir: Path,
                  rows: dict[str, Any]) -> None:
    """Metrics of every exported model on the assignment's own rows (grader.evaluation.metrics)."""
    from grader.evaluation.metrics import as_tensors, evaluate_rows

    try:
        inputs, targets = as_tensors(rows)
    except (ValueError, TypeError) as exc:  # ragged or non-numeric rows: an assignment error, said on every run
        for er in runs:
            er.unverified_reason = f"[data.evaluation] rows are not a numeric table: {exc}"
        return
    for er in runs:
        rec = exports.get(er.run.index)
        if rec is None or not rec.get("weights_file"):
            er.unverified_reason = ("the model was not exported (the notebook did not reach the grader's last cell)"
                                    if rec is None else "no weights exported (architecture not traced)")
            continue
        res = evaluate_rows(rec, export_dir, inputs, targets, er.run.loss_kind)
        er.metrics = res["metrics"]
        if er.metrics is None:
            er.unverified_reason = res["reason"]
        else:
            er.unverified_reason = None
            if er.metrics["accuracy"] is not None:
                er.accuracy, er.accuracy_source = float(er.metrics["accuracy"]), "grader"


def _images(inputs: Any) -> bool:
    """uint8 images (MNIST-like: scaled by /255 as ToTensor does) rather than rows the model takes as they are."""
    return str(getattr(inputs, "dtype", "")) == "torch.uint8"


def _final_epoch(run: Run, restored: dict[str, Any] | None) -> int | None:
    """0-based epoch whose weights the run ended with, when it restored an earlier state (None: its last)."""
    if restored is None or restored["last"]:
        return None
    if restored["epoch"] is not None:
        return int(restored["epoch"])
    end = 0
    for e in run.epochs:  # a state taken mid-epoch (after a cell): the epoch it was taken in
        end += e.steps
        if end >= restored["step"]:
            return e.index
    return None


def _prove(run: Run, recording: Recording, export_dir: Path, split: Callable[[bool], Any],
           rng: random.Random, expected: bool, final_epoch: int | None = None,
           cache: ReplayCache | None = None) -> dict[str, Any] | None:
    """The run's proof of training as JSON; a replay that crashes is 'not replay-verified', never a grade error."""
    try:
        result = verify_run(run, recording.proofs, export_dir, split, rng, expected=expected,
                            final_epoch=final_epoch, cache=cache)
    except (RuntimeError, ValueError, TypeError, KeyError, IndexError, AttributeError) as exc:
        return {"status": "not_replay_verified", "reason": f"the replay failed: {error_line(exc)}",
                "segments": []}
    return result.to_dict() if result is not None else None


def _measure(er: EvaluatedRun, rec: dict[str, Any], export_dir: Path, split: Callable[[bool], Any]) -> None:
    """Accuracy from the rebuilt model, else the in-kernel one marked unverified; trace mismatch note."""
    er.kernel_accuracy = rec.get("kernel_accuracy")
    er.random_in_eval = rec.get("random_in_eval") is True
    test = _data(split, False)
    if rec.get("weights_file") and not _images(test[0]):  # a provider's own rows: what fits the model
        from grader.evaluation.metrics import evaluate_rows

        got = evaluate_rows(rec, export_dir, test[0].float(), test[1], er.run.loss_kind)
        er.metrics = got["metrics"]
        res = {"accuracy": (got["metrics"] or {}).get("accuracy"), "reason": got["reason"] or
               "the model's outputs have no accuracy (a regression: see its metrics)"}
    else:
        res = evaluate_export(rec, export_dir, *test) if rec.get("weights_file") else \
            {"accuracy": None, "reason": "no weights exported (architecture not traced)"}
    if res["accuracy"] is not None:
        er.accuracy, er.accuracy_source = float(res["accuracy"]), "grader"
    else:
        er.unverified_reason = res["reason"]
        if er.kernel_accuracy is not None:
            er.accuracy, er.accuracy_source = float(er.kernel_accuracy), "kernel (unverified)"
    if res["accuracy"] is not None and any(e.split == "test" for e in er.run.epochs):
        unseen = evaluate_export(rec, export_dir, *_data(split, True))  # it trained on test: measure on train
        er.accuracy_unseen = unseen["accuracy"]
    er.weight_conflicts = weight_conflicts(rec, export_dir, er.run.graph)
    fn = rec.get("fn_affine")
    if isinstance(fn, list) and not forward_trace_agrees(fn, er.run.graph):
        er.notes.append("the forward-pass trace and the training graph disagree about the layers")
