"""Grade one submission end to end: submission → execution → recording → evaluation → checks → result.

This is the library's public entry point; it never prints. Bad submissions come back as results
with status ``invalid``; only failures of the grader itself raise (a GraderError).
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
import time
from collections.abc import Callable
from contextlib import nullcontext
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import torch

from grader.assignment import Assignment, load_assignment
from grader.checks.context import CheckContext
from grader.checks.integrity import integrity_flags
from grader.checks.registry import Registry, default_registry
from grader.data import mnist
from grader.errors import SubmissionError, UsageError
from grader.evaluation.evaluate import evaluate_runs
from grader.execution.progress import EventTail
from grader.execution.runner import ExecutionOptions, ExecutionReport, execute
from grader.execution.sandbox import Sandbox, check_required, prepare_sandbox
from grader.recording.events import Recording, load_recording
from grader.reference.baseline import load_baseline
from grader.result.build import (
    SCHEMA_VERSION,
    errors_list,
    execution_dict,
    run_dict,
    status_of,
    verdict_message,
    versions,
)
from grader.scoring.score import totals
from grader.scoring.voiding import score_checks
from grader.submission.load import MAX_BYTES, Submission, load_submission


@dataclass
class GradeOptions:
    """Options of one grading run; None means "the assignment's default"."""

    data: str | None = None
    data_dir: Path | None = None
    device: str = "auto"  # auto | cpu | cuda
    cell_timeout_s: float | None = None
    budget_s: float | None = None
    seed: int | None = None
    env: dict[str, str] = field(default_factory=dict)
    wrapper: list[str] = field(default_factory=list)
    # called with {"kind": "cell_start"|"cell_end"|"epoch", ...} while the submission runs (never for grading)
    progress: Callable[[dict[str, Any]], None] | None = None
    max_submission_mb: float | None = None  # None: grader.submission.load.MAX_BYTES (64 MiB)
    sandbox: str = "auto"  # auto | off | require (grader/execution/sandbox.py)


def resolve_mode(assignment: Assignment, opts: GradeOptions) -> str:
    """The data mode to grade in; UsageError for an unknown mode/device or a missing GPU."""
    mode = opts.data or assignment.default_data
    if mode not in mnist.MODES:
        raise UsageError(f"--data must be one of {', '.join(mnist.MODES)}, not {mode!r}")
    if opts.device not in ("auto", "cpu", "cuda"):
        raise UsageError(f"--device must be auto, cpu or cuda, not {opts.device!r}")
    if opts.device == "cuda" and not torch.cuda.is_available():
        raise UsageError("--device cuda was asked for but this machine has no usable CUDA GPU")
    check_required(opts.sandbox)
    return mode


def grade_file(path: Path, assignment: Assignment | None = None, opts: GradeOptions | None = None,
               registry: Registry | None = None) -> dict[str, Any]:
    """Grade one ``.ipynb``/``.py`` file and return its result dict (see ``docs/result-schema.md``)."""
    assignment = assignment or load_assignment()
    opts = opts or GradeOptions()
    mode = resolve_mode(assignment, opts)
    started = time.monotonic()
    try:
        sub = load_submission(path, int(opts.max_submission_mb * 2**20) if opts.max_submission_mb else MAX_BYTES)
    except SubmissionError as exc:
        return _invalid(path, exc, assignment, mode)
    root = mnist.prepare(mode, opts.data_dir)
    with tempfile.TemporaryDirectory(prefix=f"grader-{sub.id}-") as tmp:
        work, probe_dir = Path(tmp) / "work", Path(tmp) / "probe"
        work.mkdir()
        probe_dir.mkdir()
        shutil.copy2(sub.path, work / sub.path.name)
        events = Path(tmp) / "record" / "events.jsonl"  # the grader's copy of the pipe: never told to the kernel
        tail = EventTail(events, opts.progress) if opts.progress else nullcontext()
        box = _sandbox(assignment, opts, Path(tmp), root, sub.id)
        with tail, box:
            report = execute(sub.notebook, work, _exec_options(assignment, opts, mode, root, probe_dir, events, box))
            _sandbox_verdict(box, report)
        recording = load_recording(events, sub.notebook)
        t_eval = time.monotonic()
        runs = evaluate_runs(recording, probe_dir, root)
        ctx = CheckContext(runs, recording, report, sub.notebook, load_baseline(assignment, mode), mode,
                           assignment.template_texts())
        flags = integrity_flags(ctx, assignment.integrity)  # first: a flag may take points away
        checks = score_checks(assignment, ctx, registry or default_registry(), flags)
    timings = {"execution_s": round(report.wall_s, 2), "evaluation_s": round(time.monotonic() - t_eval, 2),
               "total_s": round(time.monotonic() - started, 2)}
    result = _result(sub, assignment, mode, root, report, recording, ctx, checks, flags, timings)
    result["sandbox"] = box.info
    return result


def _sandbox(assignment: Assignment, opts: GradeOptions, tmp: Path, root: Path, name: str) -> Sandbox:
    """The sandbox of one submission: ``tmp/work`` is its cwd; ``probe`` and ``run`` (sockets) writable."""
    (tmp / "run").mkdir()
    gpu = opts.device != "cpu" and torch.cuda.is_available()
    safe = re.sub(r"[^\w.-]", "_", name)[:40]
    return prepare_sandbox(opts.sandbox, assignment.sandbox, work=tmp / "work", writable=[tmp / "probe", tmp / "run"],
                           data_root=root, gpu=gpu, name=f"grader-{os.getpid()}-{safe}")


def _sandbox_verdict(box: Sandbox, report: ExecutionReport) -> None:
    """Record what the limits saw; a kernel the memory cgroup killed says "memory limit"."""
    box.finish()
    if box.memory_killed() and report.status == "kernel_died":
        report.message = (f"memory limit: the kernel used more than {box.info['memory_limit_mb']} MB and was killed "
                          f"(cell index {report.last_cell}); {report.message}")


def _exec_options(assignment: Assignment, opts: GradeOptions, mode: str, root: Path,
                  probe_dir: Path, events: Path, box: Sandbox) -> ExecutionOptions:
    budget = assignment.budget(mode)
    seed = assignment.seed if opts.seed is None else opts.seed
    return ExecutionOptions(
        probe_config={"export_dir": str(probe_dir),
                      "mnist_root": str(root), "seed": seed, "data_mode": mode},
        cell_timeout_s=opts.cell_timeout_s or budget["cell_timeout_s"],
        budget_s=opts.budget_s or budget["submission_timeout_s"],
        hide_gpus=opts.device == "cpu", wrapper=[*opts.wrapper, *box.wrapper], env={**box.env, **opts.env},
        kernel_log=probe_dir / "kernel.log", on_cell=opts.progress, event_stream=events,
        transport="ipc" if box.info["enabled"] else "tcp", connection_dir=probe_dir.parent / "run",
        output_limit_kb=assignment.sandbox.output_kb,
    )


def _header(sub_id: str, path: Path, sha: str | None, kind: str | None, mode: str) -> dict[str, Any]:
    return {"schema_version": SCHEMA_VERSION,
            "submission": {"id": sub_id, "path": str(path), "sha256": sha, "kind": kind},
            "graded_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "data": {"mode": mode}}


def _invalid(path: Path, exc: SubmissionError, assignment: Assignment, mode: str) -> dict[str, Any]:
    result = _header(path.stem, path, None, None, mode)
    result.update({"status": "invalid", "message": str(exc),
                   "score": {"auto": 0.0, "auto_max": 0.0, "pending_manual": 0.0, "max": 0.0},
                   "checks": [], "runs": [], "flags": [], "errors": [],
                   "versions": versions(assignment.id, assignment.version, torch.__version__)})
    return result


def _result(sub: Submission, assignment: Assignment, mode: str, root: Path, report: ExecutionReport,
            recording: Recording, ctx: CheckContext, checks: list[dict[str, Any]], flags: list[dict[str, Any]],
            timings: dict[str, float]) -> dict[str, Any]:
    hello = recording.hello or {}
    result = _header(sub.id, sub.path, sub.sha256, sub.kind, mode)
    if sub.notes:
        result["submission"]["notes"] = list(sub.notes)
    result["data"].update(mnist.data_fingerprint(root))
    result["data"]["datasets"] = [{k: d.get(k) for k in ("split", "n_items", "requested_root", "transform")}
                                  for d in recording.datasets]
    result.update({
        "status": status_of(report), "message": verdict_message(report),
        "score": totals(checks), "checks": checks, "flags": flags,
        "runs": [run_dict(er, recording) for er in ctx.runs], "errors": errors_list(report),
        "device": hello.get("device"), "execution": execution_dict(report), "timings": timings,
        "probe": {"errors": recording.probe_errors[:10], "hooks_intact": (recording.end or {}).get("hooks_intact")},
        "reference": (ctx.baseline or {}).get("provenance"),
        "versions": versions(assignment.id, assignment.version, hello.get("torch")),
    })
    return result

