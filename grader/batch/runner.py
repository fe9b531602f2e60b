"""Grade a class: every discovered submission in its own worker process, results streamed back to this
(parent) process, which alone writes the gradebook and ``<out>/<id>.json``.

Resumable: a submission whose attempt key is already stored is skipped (``force`` re-grades). A bad
submission, a grader failure or even a crashed worker never stops the batch or loses another's result.
The library never prints: progress goes to the ``progress`` callback.
"""

from __future__ import annotations

import hashlib
import multiprocessing
import time
from collections.abc import Callable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from grader import __version__
from grader.assignment import Assignment
from grader.batch.discover import Entry
from grader.batch.worker import grade_one, init_worker
from grader.result.build import SCHEMA_VERSION, write_result
from grader.store.gradebook import AttemptKey, Gradebook


@dataclass
class BatchEvent:
    """One thing that happened, for the progress callback."""

    kind: str  # start | skipped | done | failed
    student: str
    total: int  # submissions to grade in this run (skipped ones excluded)
    done: int
    failed: int
    result: dict[str, Any] | None = None
    message: str | None = None

    @property
    def remaining(self) -> int:
        return self.total - self.done - self.failed


@dataclass
class BatchSummary:
    results: list[dict[str, Any]] = field(default_factory=list)  # graded in this run (incl. invalid)
    skipped: list[str] = field(default_factory=list)  # already in the gradebook
    failed: dict[str, str] = field(default_factory=dict)  # student -> why grading itself failed
    wall_s: float = 0.0
    gpu: dict[str, Any] | None = None  # the GPU plan (grader.batch.gpu.GpuPlan.info), local backend


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def attempt_key(entry: Entry, assignment: Assignment, mode: str) -> AttemptKey:
    sha = entry.sha256 or "problem:" + hashlib.sha256((entry.problem or "").encode()).hexdigest()[:16]
    return AttemptKey(entry.student, sha, assignment.id, assignment.version, __version__, mode)


def problem_result(entry: Entry, assignment: Assignment, mode: str, status: str = "invalid",
                   message: str | None = None) -> dict[str, Any]:
    """A result for a student who could not be graded (discovery problem, or ``failed`` grading)."""
    return {"schema_version": SCHEMA_VERSION,
            "submission": {"id": entry.student, "path": entry.source, "sha256": entry.sha256, "kind": None,
                           "source": entry.source},
            "graded_at": _now(), "data": {"mode": mode}, "status": status,
            "message": message or entry.problem,
            "score": {"auto": 0.0, "auto_max": 0.0, "pending_manual": 0.0, "max": 0.0},
            "checks": [], "runs": [], "flags": [], "diagnoses": [], "errors": [],
            "versions": {"grader": __version__, "assignment": assignment.id,
                         "assignment_version": assignment.version, "torch": None}}


def run_batch(entries: list[Entry], assignment: Assignment, grade_opts: Any, out_dir: Path,
              gradebook: Path | None = None, jobs: int | None = None, force: bool = False,
              progress: Callable[[BatchEvent], None] | None = None, mps: str = "auto",
              announce: Callable[[str], None] | None = None, warm: bool | None = None) -> BatchSummary:
    """Grade ``entries`` (see :mod:`grader.batch.discover`) with ``jobs`` worker processes.

    ``grade_opts`` is a :class:`grader.pipeline.GradeOptions`; its data mode is part of the attempt key.
    GPUs, CUDA MPS (``mps``: auto|on|off) and the default ``jobs`` come from :mod:`grader.batch.gpu`;
    ``announce`` gets the plan's one-line description before grading starts. ``warm``: each worker starts its
    next submission's kernel while the current one runs (:mod:`grader.execution.warm`); None: only when
    ``jobs`` leaves a CPU core free for it (with every core training it costs more than it hides).
    """
    from grader.batch.gpu import batch_gpu, cpu_cores

    started_all = time.monotonic()
    with open_batch(entries, assignment, grade_opts, out_dir, gradebook, force, progress) as run, \
            batch_gpu(assignment.root, grade_opts.device, jobs, mps, sandbox=grade_opts.sandbox) as plan:
        rec, opts = run.rec, run.opts
        run.summary.gpu = plan.info()
        if announce is not None:
            announce(plan.line())
        n_jobs = max(1, plan.jobs)
        warm = n_jobs < cpu_cores() if warm is None else warm
        retry = _run_pool(run.todo, assignment, opts, n_jobs, rec, rec.emit, rec.total, rec.counts, plan.env_for,
                          warm)
        for item in retry:  # a worker process died: grade those again one at a time, each in a fresh pool
            for entry, key in _run_pool([item], assignment, opts, 1, rec, rec.emit, rec.total, rec.counts,
                                        plan.env_for):
                rec(entry, key, _now(), None, "the worker process died (out of memory or a crash)")
    run.summary.wall_s = round(time.monotonic() - started_all, 2)
    return run.summary


@dataclass
class BatchRun:
    """What every scheduling backend shares (see :func:`open_batch`)."""

    opts: dict[str, Any]  # GradeOptions as a dict for :func:`grader.batch.worker.grade_one` (mode resolved)
    rec: _Recorder  # call it with each finished submission; ``rec.start(student)`` when one starts
    todo: list[tuple[Entry, AttemptKey]]  # the submissions a worker must grade
    summary: BatchSummary


@contextmanager
def open_batch(entries: list[Entry], assignment: Assignment, grade_opts: Any, out_dir: Path,
               gradebook: Path | None, force: bool,
               progress: Callable[[BatchEvent], None] | None) -> Iterator[BatchRun]:
    """Open the gradebook, plan the batch (already-graded attempts skipped unless ``force``), record the
    discovery problems, and yield what is left for a backend to schedule; the gradebook is closed after."""
    from grader.pipeline import resolve_mode

    mode = resolve_mode(assignment, grade_opts)
    opts = asdict(grade_opts)
    opts["data"] = mode
    opts["env"] = {"OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", **(opts.get("env") or {})}
    summary = BatchSummary()
    emit = progress or (lambda e: None)
    gb = Gradebook(gradebook or out_dir / "gradebook.sqlite")
    try:
        todo = _plan(entries, gb, assignment, mode, force, summary)
        rec = _Recorder(gb, out_dir, assignment, mode, summary, emit, len(todo))
        for s in summary.skipped:
            emit(BatchEvent("skipped", s, rec.total, 0, 0))
        graded: list[tuple[Entry, AttemptKey]] = []
        for entry, key in todo:
            if entry.path is None:  # discovery problem: no worker needed
                rec(entry, key, _now(), problem_result(entry, assignment, mode), None)
            else:
                gb.record_submission(entry.student, key.sha256, entry.source)
                graded.append((entry, key))
        yield BatchRun(opts, rec, graded, summary)
    finally:
        gb.close()


def _plan(entries: list[Entry], gb: Gradebook, assignment: Assignment, mode: str, force: bool,
          summary: BatchSummary) -> list[tuple[Entry, AttemptKey]]:
    """The entries still to grade; those already in the gradebook go to ``summary.skipped``."""
    todo: list[tuple[Entry, AttemptKey]] = []
    for e in entries:
        key = attempt_key(e, assignment, mode)
        if not force and gb.is_done(key):
            summary.skipped.append(e.student)
        else:
            todo.append((e, key))
    return todo


@dataclass
class _Recorder:
    """Stores each finished submission at once (gradebook row + result JSON) and reports it."""

    gb: Gradebook
    out_dir: Path
    assignment: Assignment
    mode: str
    summary: BatchSummary
    emit: Callable[[BatchEvent], None]
    total: int
    counts: dict[str, int] = field(default_factory=lambda: {"done": 0, "failed": 0})

    def start(self, student: str) -> None:
        """Report that a submission was handed to a worker."""
        self.emit(BatchEvent("start", student, self.total, self.counts["done"], self.counts["failed"]))

    def __call__(self, entry: Entry, key: AttemptKey, started: str, result: dict[str, Any] | None,
                 error: str | None) -> None:
        if result is None:
            result = problem_result(entry, self.assignment, self.mode, status="failed",
                                    message=f"grading failed: {error}")
        result["submission"]["id"] = entry.student
        result["submission"]["source"] = entry.source
        if entry.notes:
            result["submission"]["notes"] = [*entry.notes, *result["submission"].get("notes", [])]
        self.gb.record_attempt(key, result, started, _now(), entry.source)  # committed now
        write_result(result, self.out_dir)
        kind = "failed" if result["status"] == "failed" else "done"
        self.counts[kind] += 1
        if kind == "failed":
            self.summary.failed[entry.student] = result["message"]
        else:
            self.summary.results.append(result)
        self.emit(BatchEvent(kind, entry.student, self.total, self.counts["done"], self.counts["failed"],
                             result, result.get("message")))


def _run_pool(items: list[tuple[Entry, AttemptKey]], assignment: Assignment, opts: dict[str, Any], jobs: int,
              finish: Callable[..., None], emit: Callable[[BatchEvent], None], total: int,
              counts: dict[str, int], slot_env: Callable[[int], dict[str, str]] = lambda i: {},
              warm: bool = False) -> list[tuple[Entry, AttemptKey]]:
    """Run ``items`` in one pool; return the ones lost to a broken pool (to retry). The ``i``-th submission
    handed out gets ``slot_env(i)`` added to its kernel environment (its GPU, see grader.batch.gpu)."""
    if not items:
        return []
    broken: list[tuple[Entry, AttemptKey]] = []
    ctx = multiprocessing.get_context("spawn")
    pending_items = list(items)
    running: dict[Future[dict[str, Any]], tuple[Entry, AttemptKey, str]] = {}
    with ProcessPoolExecutor(max_workers=min(jobs, len(items)), mp_context=ctx, initializer=init_worker,
                             initargs=(1,)) as pool:
        def submit_next() -> None:
            entry, key = pending_items[0]
            started = _now()
            slot = {**opts, "env": {**opts["env"], **slot_env(counts["done"] + counts["failed"] + len(running))}}
            fut = pool.submit(grade_one, str(entry.path), str(assignment.root), slot, warm and len(pending_items) > 1)
            pending_items.pop(0)
            running[fut] = (entry, key, started)
            emit(BatchEvent("start", entry.student, total, counts["done"], counts["failed"]))

        # keep at most `jobs` in flight so a broken pool loses only those
        try:
            while pending_items and len(running) < jobs:
                submit_next()
            while running:
                finished, _ = wait(running, return_when=FIRST_COMPLETED)
                for fut in finished:
                    entry, key, started = running.pop(fut)
                    try:
                        out = fut.result()
                    except BrokenProcessPool:
                        broken.append((entry, key))
                        continue
                    except Exception as exc:  # noqa: BLE001 - one submission's failure never stops the batch
                        finish(entry, key, started, None, f"{type(exc).__name__}: {exc}")
                    else:
                        finish(entry, key, started, out.get("result"), out.get("error"))
                    while pending_items and len(running) < jobs:
                        submit_next()
        except BrokenProcessPool:
            pass
        except KeyboardInterrupt:
            _stop_workers(pool)
            raise
        if broken or pending_items:
            broken.extend((e, k) for e, k, _ in running.values())
            broken.extend(pending_items)
            pool.shutdown(wait=False, cancel_futures=True)
    return broken


def _stop_workers(pool: ProcessPoolExecutor) -> None:
    """Ctrl-C: cancel what has not started and terminate the workers now (each kills its kernels on SIGTERM,
    see :func:`grader.batch.worker.init_worker`) instead of waiting for the submissions in flight."""
    procs = list((getattr(pool, "_processes", None) or {}).values())
    pool.shutdown(wait=False, cancel_futures=True)
    for proc in procs:
        proc.terminate()
    for proc in procs:
        proc.join(timeout=5)
        if proc.is_alive():
            proc.kill()
