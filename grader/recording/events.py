"""Read the probe's JSON-lines stream into a :class:`Recording`: runs, epochs, datasets, flags.

Only JSON crosses from the student's kernel to the grader. A truncated last line (the kernel died
mid-write) is ignored; everything before it is kept.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ADAM_FAMILY = {"Adam", "AdamW", "NAdam", "RAdam", "Adamax"}


@dataclass
class Epoch:
    """Consecutive steps of one run over one pass of a DataLoader (or a fallback chunk)."""

    index: int
    mean_loss: float | None
    steps: int
    complete: bool
    split: str | None


@dataclass
class Run:
    """One optimizer training one model: its identity, architecture trace and loss curve."""

    index: int
    opt_id: int
    optimizer: dict[str, Any]
    model_id: int | None
    model_cls: str | None
    input_shape: list[int] | None
    graph: dict[str, Any] | None               # the op graph traced at the first backward (grader.recording.graph)
    loss_kind: str | None
    batch: int | None
    cell: int
    losses: list[float | None] = field(default_factory=list)
    iters: list[int] = field(default_factory=list)
    gradnorms: list[list[float]] = field(default_factory=list)
    epochs: list[Epoch] = field(default_factory=list)

    @property
    def steps(self) -> int:
        return len(self.losses)

    @property
    def epochs_completed(self) -> int:
        return sum(e.complete for e in self.epochs)

    @property
    def torch_class(self) -> str:
        return str(self.optimizer.get("torch_cls", "?"))

    @property
    def optimizer_family(self) -> str:
        """'adam' for the Adam family, else the torch class in lower case (e.g. 'sgd')."""
        return "adam" if self.torch_class in ADAM_FAMILY else self.torch_class.lower()

    def epoch_means(self, complete_only: bool = True) -> list[float]:
        return [e.mean_loss for e in self.epochs
                if e.mean_loss is not None and (e.complete or not complete_only)]


@dataclass
class Recording:
    """Everything the probe streamed out for one submission."""

    hello: dict[str, Any] | None = None
    datasets: list[dict[str, Any]] = field(default_factory=list)
    loaders: dict[int, dict[str, Any]] = field(default_factory=dict)
    models: dict[int, dict[str, Any]] = field(default_factory=dict)
    optimizers: dict[int, dict[str, Any]] = field(default_factory=dict)
    runs: list[Run] = field(default_factory=list)
    probe_errors: list[dict[str, Any]] = field(default_factory=list)
    end: dict[str, Any] | None = None
    guard: list[dict[str, Any]] = field(default_factory=list)  # tamper evidence (probe_guard)
    doctor: list[dict[str, Any]] = field(default_factory=list)  # training-loop evidence (probe_doctor)
    proofs: list[dict[str, Any]] = field(default_factory=list)  # checkpoint segments (probe_proof)
    bad_lines: int = 0
    n_end: int = 0                     # ``end`` events (the export writes one, last)
    n_guard_final: int = 0             # final guard reports (the export writes one, just before ``end``)
    after_end: int = 0                 # events of any kind after the first ``end``
    out_of_sequence: list[str] = field(default_factory=list)  # run/steps events the probe cannot have written
    code_cells: list[int] = field(default_factory=list)  # notebook index of each code cell the kernel ran

    def notebook_cell(self, ordinal: int) -> int:
        """Notebook cell index of a probe cell ordinal (0 = the grader's set-up cell, then code cells only)."""
        if 1 <= ordinal <= len(self.code_cells):
            return self.code_cells[ordinal - 1]
        return ordinal - 1

    def stepped_optimizer_ids(self) -> set[int]:
        return {r.opt_id for r in self.runs if r.steps}

    def train_size(self) -> int | None:
        sizes = [d["n_items"] for d in self.datasets if d.get("split") == "train"]
        return max(sizes) if sizes else None


def read_events(path: Path) -> list[dict[str, Any]]:
    """Parse the JSON lines; skip (and count) lines that are not complete JSON objects."""
    events: list[dict[str, Any]] = []
    if not path.exists():
        return events
    for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
        try:
            ev = json.loads(line)
        except json.JSONDecodeError:
            events.append({"ev": "_bad"})
            continue
        if isinstance(ev, dict):
            events.append(ev)
    return events


def build_recording(events: list[dict[str, Any]]) -> Recording:
    """Fold the event stream into runs with per-step losses and epochs."""
    rec = Recording()
    runs: dict[int, Run] = {}
    for ev in events:
        kind = ev.get("ev")
        if rec.n_end and kind != "_bad":
            rec.after_end += 1
        if kind == "hello":
            rec.hello = ev
        elif kind == "dataset":
            rec.datasets.append(ev)
        elif kind == "loader_iter":
            rec.loaders[int(ev["it"])] = ev
        elif kind == "model":
            rec.models[int(ev["model"])] = ev
        elif kind == "optimizer":
            rec.optimizers[int(ev["opt"])] = ev
        elif kind == "run":
            if int(ev["run"]) != len(runs):  # the probe numbers its runs 0, 1, 2, ... once each
                rec.out_of_sequence.append(f"run event {ev['run']} after {len(runs)} run(s)")
            runs[int(ev["run"])] = _new_run(ev, rec)
        elif kind == "steps" and int(ev["run"]) not in runs:
            rec.out_of_sequence.append(f"steps of run {ev['run']}, which has no run event")
        elif kind == "steps":
            run = runs[int(ev["run"])]
            if ev.get("first") != run.steps:  # each flush continues where the last one ended
                rec.out_of_sequence.append(f"steps of run {ev['run']} starting at {ev.get('first')} "
                                           f"after {run.steps} recorded")
            run.losses.extend(ev.get("losses", []))
            run.iters.extend(ev.get("iters", []))
        elif kind == "gradnorm" and int(ev["run"]) in runs:
            runs[int(ev["run"])].gradnorms.append(ev.get("norms", []))
        elif kind == "probe_error":
            rec.probe_errors.append(ev)
        elif kind == "guard":
            rec.guard.append(ev)
            rec.n_guard_final += ev.get("kind") == "final"
        elif kind == "doctor":
            rec.doctor.append(ev)
        elif kind == "proof":
            rec.proofs.append(ev)
        elif kind == "end":
            rec.end = ev  # the export's own is the last: the notebook's cells all ran before it
            rec.n_end += 1
        elif kind == "_bad":
            rec.bad_lines += 1
    rec.runs = [runs[k] for k in sorted(runs)]
    for run in rec.runs:
        run.epochs = _epochs(run, rec)
    return rec


def load_recording(path: Path, notebook: Any = None) -> Recording:
    """Read and fold the probe's event file; ``notebook`` maps cell ordinals to notebook indices."""
    rec = build_recording(read_events(path))
    if notebook is not None:  # the runner sends only non-blank code cells to the kernel
        rec.code_cells = [i for i, c in enumerate(notebook.cells)
                          if c.cell_type == "code" and c.get("source", "").strip()]
    return rec


def _new_run(ev: dict[str, Any], rec: Recording) -> Run:
    opt = rec.optimizers.get(int(ev["opt"]), {})
    model_id = ev.get("model")
    model = rec.models.get(int(model_id), {}) if model_id is not None else {}
    return Run(
        index=int(ev["run"]), opt_id=int(ev["opt"]),
        optimizer={k: opt.get(k) for k in ("cls", "torch_cls", "hparams")},
        model_id=model_id, model_cls=model.get("cls"), input_shape=model.get("input_shape"),
        graph=ev.get("graph") if isinstance(ev.get("graph"), dict) else None, loss_kind=ev.get("loss"),
        batch=ev.get("batch"), cell=int(ev.get("cell", 0)),
    )


def _mean(values: list[float | None]) -> float | None:
    finite = [v for v in values if v is not None and math.isfinite(v)]
    return sum(finite) / len(finite) if finite and len(finite) == len(values) else None


def _epochs(run: Run, rec: Recording) -> list[Epoch]:
    """Group steps by DataLoader pass; without a DataLoader, by passes over the training set."""
    groups: list[tuple[int, list[float | None]]] = []
    for it, loss in zip(run.iters, run.losses, strict=False):
        if groups and groups[-1][0] == it:
            groups[-1][1].append(loss)
        else:
            groups.append((it, [loss]))
    if groups and all(it == -1 for it, _ in groups):
        return _chunked(run, rec)
    epochs: list[Epoch] = []
    for it, losses in groups:
        info = rec.loaders.get(it, {})
        length = info.get("len")
        complete = it != -1 and length is not None and len(losses) >= length
        epochs.append(Epoch(len(epochs), _mean(losses), len(losses), complete, info.get("split")))
    return epochs


def _chunked(run: Run, rec: Recording) -> list[Epoch]:
    size, batch = rec.train_size(), run.batch
    if not size or not batch:
        return [Epoch(0, _mean(run.losses), run.steps, False, None)]
    per = max(1, size // batch)
    return [Epoch(i // per, _mean(run.losses[i:i + per]), len(run.losses[i:i + per]),
                  len(run.losses[i:i + per]) == per, None)
            for i in range(0, run.steps, per)]
