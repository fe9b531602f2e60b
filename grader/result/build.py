"""The result JSON of one submission (``schema_version`` 1) and where it is written."""

from __future__ import annotations

import json
import os
import re
import tempfile
from pathlib import Path
from typing import Any

from grader import __version__
from grader.diagnosis.libraries import classify, environment_cause
from grader.diagnosis.migrations import error_hints
from grader.evaluation.runs import EvaluatedRun
from grader.execution.runner import ExecutionReport
from grader.recording.events import FactResult, Recording
from grader.text import Text, text

SCHEMA_VERSION = 1


def run_dict(er: EvaluatedRun, recording: Recording) -> dict[str, Any]:
    """JSON view of one evaluated run."""
    from grader.evaluation.gradflow import vanishing_ratio  # torch: loaded by then; keeps start-up light

    r = er.run
    return {
        "index": r.index, "cell_index": recording.notebook_cell(r.cell),
        "optimizer": {"class": r.optimizer.get("cls"), "torch_class": r.torch_class,
                      "family": r.optimizer_family, "hparams": r.optimizer.get("hparams")},
        "model": {"class": r.model_cls, "input_shape": r.input_shape, "graph": r.graph,
                  **(er.arch.to_dict() if er.arch else {})},
        "loss": r.loss_kind, "batch_size": r.batch, "steps": r.steps, "epochs_completed": r.epochs_completed,
        "epochs": [{"mean_loss": e.mean_loss, "steps": e.steps, "complete": e.complete, "split": e.split}
                   for e in r.epochs],
        "step_losses": r.losses,
        "has_epochs": r.has_epochs,  # False: a full-batch / hand-written loop counted in steps
        "weights_fp": next((ev["fp"] for ev in reversed(recording.guard) if ev.get("kind") == "weights"
                            and ev.get("run") == r.index and isinstance(ev.get("fp"), str)), None),
        "accuracy": {"value": er.accuracy, "source": er.accuracy_source, "kernel": er.kernel_accuracy,
                     "unverified_reason": er.unverified_reason},
        "metrics": er.metrics,  # measured on [data.evaluation] rows or a provider's rows (kind, accuracy, mse, ...)
        "gradient_flow": {"init_norms": er.gradient_flow,
                          "init_ratio": vanishing_ratio(er.gradient_flow) if er.gradient_flow else None,
                          "first_steps": r.gradnorms},
        "proof": er.proof,
        "notes": er.notes,
    }


def errors_list(ex: ExecutionReport | None, notebook: Any = None) -> list[dict[str, Any]]:
    """The cells that raised, with a short traceback; with the ``notebook``, each error's ``kind``
    (``environment``: the grading environment lacks a module or file; ``student``) and ``follow_on_of`` (the
    earlier failed cell it only follows from, e.g. a NameError after a failed import; else None)."""
    if ex is None:
        return []
    kinds = {c.cell: c for c in classify(ex, notebook)} if notebook is not None else {}
    return [{"cell_index": c.index, **c.error,
             **({"kind": kinds[c.index].kind, "follow_on_of": kinds[c.index].follow_on_of}
                if c.index in kinds else {})} for c in ex.cells if c.error]


def error_kinds(errors: list[dict[str, Any]]) -> dict[str, int]:
    """Root errors (not follow-ons) by kind: ``{"environment": n, "student": m}``, for the class page."""
    roots = [e for e in errors if e.get("follow_on_of") is None]
    return {kind: sum(1 for e in roots if e.get("kind", "student") == kind) for kind in ("environment", "student")}


def execution_dict(ex: ExecutionReport | None) -> dict[str, Any] | None:
    if ex is None:
        return None
    return {"status": ex.status, "message": ex.message, "exported": ex.exported, "last_cell": ex.last_cell,
            "kernel_start_s": round(ex.startup_s, 2), "probe_setup_s": round(ex.setup_s, 2),
            "warm_start": ex.warm_start, "wall_s": round(ex.wall_s, 2),
            "cells": [{"index": c.index, "status": c.status, "duration_s": round(c.duration_s, 3),
                       **({"output_truncated": c.output_truncated} if c.output_truncated else {})}
                      for c in ex.cells]}


def status_of(ex: ExecutionReport | None) -> str:
    """graded | errors | timeout | kernel_died (``invalid`` is decided before execution)."""
    if ex is None:
        return "invalid"
    if ex.status in ("timeout", "kernel_died"):
        return ex.status
    return "errors" if any(c.status == "error" for c in ex.cells) else "graded"


_CELL_LINE = re.compile(r"Cell In\[\d+\], line (\d+)|line (\d+)")
_HINTS = (
    (re.compile(r"SystemExit"), "sys.exit()/exit() only ends that cell when grading; the cells after it still ran"),
    (re.compile(r"StdinNotImplementedError|raw_input was called"),
     "input() cannot be answered when grading; use a fixed value instead"),
    (re.compile(r"no nvidia driver|not compiled with cuda|no cuda gpus|cuda.*not available", re.I),
     "the code needs a CUDA GPU and the grading machine has none: "
     "use device = 'cuda' if torch.cuda.is_available() else 'cpu'"),
    *error_hints(),
)


def verdict_message(ex: ExecutionReport, notebook: Any = None) -> str | None:
    """One sentence for the result's ``message``: what went wrong where (cell index, line), with a hint; a
    module the grading environment lacks is named first (with the ``notebook``)."""
    errors = [c.error | {"index": str(c.index)} for c in ex.cells if c.error]
    if not errors:
        return ex.message
    cause = environment_cause(ex, notebook) if notebook is not None else None
    if cause is not None:
        rest = verdict_message(ex)
        return f"{cause['en']}; {rest}" if rest else cause["en"]
    err = errors[0]
    found = _CELL_LINE.search(err.get("traceback", "") or "") or _CELL_LINE.search(err["evalue"])
    where = f"cell index {err['index']}" + (f", line {found.group(1) or found.group(2)}" if found else "")
    evalue = err["evalue"].strip().splitlines()[0][:200] if err["evalue"].strip() else ""
    what = f"{err['ename']}: {evalue}" if evalue else err["ename"]
    text = f"{where} raised {what}"
    if len(errors) > 1:
        text = f"{len(errors)} cells raised errors; the first, {text}"
    hint = next((h for rx, h in _HINTS if rx.search(f"{err['ename']} {err['evalue']}")), None)
    text += f" ({hint})" if hint else ""
    return f"{text}; {ex.message}" if ex.message else text


def verdict_texts(ex: ExecutionReport, notebook: Any = None) -> Text:
    """The result's ``messages``: :func:`verdict_message` in both languages (a missing library's cause is
    bilingual; the rest names Python's own error text, the same in both)."""
    en = verdict_message(ex, notebook) or ""
    cause = environment_cause(ex, notebook) if notebook is not None and any(c.error for c in ex.cells) else None
    if cause is None:
        return text(en, en)
    rest = verdict_message(ex)
    return text(en, f"{cause['ko']}; {rest}" if rest else cause["ko"])


def write_result(result: dict[str, Any], out_dir: Path) -> Path:
    """Write ``<out>/<submission id>.json`` atomically; return its path."""
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / f"{result['submission']['id']}.json"
    # a fresh temporary file (never a predictable name a planted symlink could redirect), renamed over the path:
    # the rename replaces whatever is there, a symlink included, without writing through it
    fd, tmp = tempfile.mkstemp(prefix=".result-", suffix=".tmp", dir=out_dir)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(json.dumps(result, indent=1, ensure_ascii=False))
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def versions(assignment_id: str, assignment_version: str, torch_version: str | None) -> dict[str, Any]:
    return {"grader": __version__, "assignment": assignment_id, "assignment_version": assignment_version,
            "torch": torch_version}


def fact_dict(fact: FactResult) -> dict[str, Any]:
    """A kernel fact (``FactResult``) as the result's ``facts[]`` entry."""
    return {"id": fact.id, "status": fact.status, "value": fact.value, "error": fact.error,
            "elapsed_s": fact.elapsed_s}
