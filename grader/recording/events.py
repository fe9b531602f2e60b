"""Read the probe's JSON-lines stream into a :class:`Recording`: runs, epochs, datasets, flags.

Only JSON crosses from the student's kernel to the grader. A truncated last line (the kernel died
mid-write) is ignored; everything before it is kept.

Facts (grader.recording.probe_facts) come last, from the grader's facts cell after the export: its
``facts_start`` marker carries a token that only the grader and that cell know (``facts_token``; without one, the
first marker after the export's ``end`` counts). Fact events before that marker were written by the notebook:
ignored and noted in ``out_of_sequence``. After it, the other events the student's code caused while facts were
evaluated (a DataLoader pass, a training call) are counted in ``facts_noise`` and not folded into the runs: the
recording of training ends at the marker. The student's code also runs during the facts cell (the facts call it),
so it can still write fact events there; the grader's cell writes exactly one marker and one event per id, in
spec order, so a second marker or a second event for an id is noted in ``out_of_sequence`` (evidence of forgery,
like a second ``end``). The first event per id is kept: the grader's event for an id can only be preceded by a
forgery written while an earlier fact ran, and that forgery is noted either way.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

FactStatus = Literal["ok", "error", "timeout", "missing", "not_run"]
_STREAM_STATUSES = ("ok", "error", "timeout", "missing")  # "not_run" is the grader's, never the kernel's
NOT_RUN = "the notebook did not finish, so the grader could not evaluate this"
CUT_SHORT = "the grader's facts cell stopped before this fact (its time limit or a dead kernel)"

ADAM_FAMILY = {"Adam", "AdamW", "NAdam", "RAdam", "Adamax"}
STEP_WINDOWS = 10  # a run without epochs is judged on the mean loss of this many consecutive windows of steps


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
    steps_only: bool = False                   # no DataLoader and no served split to size an epoch by

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

    @property
    def has_epochs(self) -> bool:
        """False for a full-batch or hand-written loop over data the grader cannot size (no DataLoader, no
        served split): its progress is counted in steps, never in epochs."""
        return not self.steps_only

    def epoch_means(self, complete_only: bool = True) -> list[float]:
        return [e.mean_loss for e in self.epochs
                if e.mean_loss is not None and (e.complete or not complete_only)]

    def progress(self) -> tuple[str, list[float], int]:
        """The loss curve a check judges: ``("epoch", complete-epoch means, 1)``, or for a run without epochs
        ``("step", means of consecutive windows of steps, steps per window)`` (at most STEP_WINDOWS windows)."""
        if self.has_epochs:
            return "epoch", self.epoch_means(), 1
        per = max(1, -(-self.steps // STEP_WINDOWS))
        means = [_mean(self.losses[i:i + per]) for i in range(0, self.steps, per)]
        if means and len(self.losses) % per and len(means) > 1:
            means = means[:-1]  # a short last window is noisier than the others: the one before it stands for it
        return "step", [m for m in means if m is not None], per


@dataclass(frozen=True)
class FactResult:
    """One fact evaluated in the student's kernel (grader.recording.probe_facts), as JSON: ``value`` is plain
    JSON (tensors as ``{"tensor": {"shape", "dtype", "values"}}``); ``error`` is ``"ename: evalue"``."""

    id: str
    status: FactStatus
    value: Any
    error: str | None
    elapsed_s: float | None
    ename: str | None = None
    traceback: tuple[str, ...] = ()
    truncated: bool = False


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
    facts: dict[str, FactResult] = field(default_factory=dict)  # the grader's facts cell's results, by id
    facts_started: bool = False        # that cell's marker was read
    facts_finished: bool = False       # ... and its end marker
    facts_noise: int = 0               # other events written while the facts were evaluated (not folded)

    def notebook_cell(self, ordinal: int) -> int:
        """Notebook cell index of a probe cell ordinal (0 = the grader's set-up cell, then code cells only)."""
        if 1 <= ordinal <= len(self.code_cells):
            return self.code_cells[ordinal - 1]
        return ordinal - 1

    def stepped_optimizer_ids(self) -> set[int]:
        return {r.opt_id for r in self.runs if r.steps}

    def train_size(self) -> int | None:
        return self.split_size("train")

    def split_size(self, split: str) -> int | None:
        """Images in the served split (the largest dataset of that split the notebook created)."""
        sizes = [d["n_items"] for d in self.datasets if d.get("split") == split]
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


def build_recording(events: list[dict[str, Any]], facts_token: str | None = None) -> Recording:
    """Fold the event stream into runs with per-step losses and epochs, and the facts cell's results
    (``facts_token``: the token of the grader's facts cell, :attr:`ExecutionReport.facts_token`)."""
    rec = Recording()
    runs: dict[int, Run] = {}
    for ev in events:
        kind = ev.get("ev")
        if _facts_event(rec, ev, kind, facts_token):
            continue
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


def load_recording(path: Path, notebook: Any = None, facts_token: str | None = None) -> Recording:
    """Read and fold the probe's event file; ``notebook`` maps cell ordinals to notebook indices; ``facts_token``
    (the ExecutionReport's) says which facts cell marker is the grader's."""
    rec = build_recording(read_events(path), facts_token)
    if notebook is not None:  # the runner sends only non-blank code cells to the kernel
        rec.code_cells = [i for i, c in enumerate(notebook.cells)
                          if c.cell_type == "code" and c.get("source", "").strip()]
    return rec


def _facts_event(rec: Recording, ev: dict[str, Any], kind: Any, token: str | None) -> bool:
    """Take the facts cell's markers and fact events (and everything after its marker); False: not the facts'."""
    if kind == "facts_start":
        grader = ev.get("token") == token if token is not None else rec.n_end > 0
        if grader and not rec.facts_started:
            rec.facts_started = True
        else:
            rec.out_of_sequence.append("a second facts_start marker (the grader's facts cell writes one)" if grader
                                       else "a facts_start marker the grader's facts cell did not write")
        return True
    if not rec.facts_started:
        if kind == "fact":
            rec.out_of_sequence.append(f"fact event {str(ev.get('id'))[:80]!r} before the grader's facts cell")
        return kind == "fact"
    if kind == "fact":
        _take_fact(rec, ev)
    elif kind == "facts_end" and not rec.facts_finished:
        rec.facts_finished = True
    elif kind == "_bad":
        return False
    else:
        rec.facts_noise += 1
    return True


def _take_fact(rec: Recording, ev: dict[str, Any]) -> None:
    result = _fact_result(ev)
    if isinstance(result, str):
        rec.probe_errors.append({"ev": "probe_error", "where": "facts", "error": result})
    elif result.id in rec.facts:
        rec.out_of_sequence.append(f"fact {result.id[:80]!r} reported more than once: the first is kept")
    else:
        rec.facts[result.id] = result


def _fact_result(ev: dict[str, Any]) -> FactResult | str:
    """A validated :class:`FactResult` from an untrusted ``fact`` event, or what is wrong with it."""
    fid, status, err = ev.get("id"), ev.get("status"), ev.get("error")
    if not isinstance(fid, str) or not fid or len(fid) > 200:
        return "a fact event without a valid id"
    if status not in _STREAM_STATUSES:
        return f"fact {fid!r}: unknown status {str(status)[:40]!r}"
    if err is not None and not (isinstance(err, dict) and isinstance(err.get("ename"), str)
                                and isinstance(err.get("evalue"), str)):
        return f"fact {fid!r}: malformed error"
    elapsed = ev.get("elapsed_s")
    if isinstance(elapsed, bool) or not isinstance(elapsed, (int, float)) or not math.isfinite(elapsed) or elapsed < 0:
        elapsed = None
    ename = err["ename"] if err else None
    tb = err.get("traceback") if err else None
    return FactResult(fid, status, ev.get("value") if status == "ok" else None,
                      (f"{ename}: {err['evalue']}" if err["evalue"] else ename) if err else None,
                      None if elapsed is None else float(elapsed), ename,
                      tuple(str(x) for x in tb) if isinstance(tb, list) else (), ev.get("truncated") is True)


def fact_results(recording: Recording, specs: list[dict[str, Any]]) -> dict[str, FactResult]:
    """Each spec's result, in spec order: the recorded one, else ``not_run`` (the notebook did not finish, or
    the facts cell stopped before it)."""
    out: dict[str, FactResult] = {}
    for spec in specs:
        fid = spec.get("id") if isinstance(spec, dict) else None
        if isinstance(fid, str) and fid not in out:
            out[fid] = recording.facts.get(fid) or FactResult(
                fid, "not_run", None, CUT_SHORT if recording.facts_started else NOT_RUN, None)
    return out


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
    seen = _seen_split(run, rec)
    if groups and all(it == -1 for it, _ in groups):
        return _chunked(run, rec, seen)
    epochs: list[Epoch] = []
    for it, losses in groups:
        info = rec.loaders.get(it, {})
        length = info.get("len")
        complete = it != -1 and length is not None and len(losses) >= length
        epochs.append(Epoch(len(epochs), _mean(losses), len(losses), complete, info.get("split") or seen))
    return epochs


def _seen_split(run: Run, rec: Recording) -> str | None:
    """'test' when the images the model trained on were the test split's (the kernel's ``test_rows``)."""
    shares = [float(e["test_rows"]) for e in rec.doctor if e.get("kind") == "forward" and e.get("grad")
              and e.get("model") == run.model_id and isinstance(e.get("test_rows"), (int, float))
              and not e.get("test_like") and (e.get("shape") or [None])[0] == run.batch]
    return "test" if shares and max(shares) >= 0.5 else None


def _chunked(run: Run, rec: Recording, split: str | None) -> list[Epoch]:
    size, batch = rec.split_size(split or "train"), run.batch
    if not size or not batch:
        run.steps_only = True
        return [Epoch(0, _mean(run.losses), run.steps, False, split)]
    per = max(1, size // batch)
    return [Epoch(i // per, _mean(run.losses[i:i + per]), len(run.losses[i:i + per]),
                  len(run.losses[i:i + per]) == per, split)
            for i in range(0, run.steps, per)]
