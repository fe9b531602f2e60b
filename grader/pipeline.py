"""Grade one submission end to end: submission → execution → recording → evaluation → diagnosis → checks → result.

This is the library's public entry point; it never prints. Bad submissions come back as results
with status ``invalid``; only failures of the grader itself raise (a GraderError).
"""

from __future__ import annotations

import importlib.metadata
import os
import random
import re
import shutil
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field, fields, replace
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from grader import fallback
from grader.assignment import Assignment, load_assignment
from grader.checks.context import CheckContext
from grader.checks.flag import Flag
from grader.checks.integrity import integrity_flags
from grader.checks.plugins import Rubric, load_rubric
from grader.data import colab
from grader.data.provider import DataProvider, get_provider
from grader.diagnosis import DiagnosisInput, diagnose
from grader.errors import SubmissionError, UsageError
from grader.evaluation.runs import EvaluatedRun
from grader.execution.gpu import cuda_available
from grader.execution.gpu import result_info as gpu_result_info
from grader.execution.kernel import kernel_env
from grader.execution.progress import EventTail
from grader.execution.runner import ExecutionOptions, ExecutionReport, execute
from grader.execution.sandbox import Sandbox, check_required, prepare_sandbox
from grader.execution.warm import WarmSlot
from grader.overlap import Beside
from grader.recording.events import Recording, fact_results, load_recording
from grader.reference.baseline import load_baseline
from grader.result.build import (
    SCHEMA_VERSION,
    error_kinds,
    errors_list,
    execution_dict,
    fact_dict,
    run_dict,
    status_of,
    verdict_message,
    verdict_texts,
    versions,
)
from grader.scoring.explain import explain_checks
from grader.scoring.score import CheckResult, totals
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
    flush_denormal: bool = True  # CPU: zero subnormal floats in the kernel (a large speed-up for RMSprop runs)
    proof: bool = True  # checkpoints in the kernel + re-training segments in the grader (proof of training)
    max_submission_mb: float | None = None  # None: grader.submission.load.MAX_BYTES (64 MiB)
    sandbox: str = "auto"  # auto | off | require (grader/execution/sandbox.py)
    # re-train the proof's segments while the notebook runs (grader/overlap.py); the result is the same either way
    overlap: bool = True
    # which segments the proof re-trains: None, a secret random choice; a number fixes it (tests compare gradings)
    replay_seed: int | None = None


def resolve_mode(assignment: Assignment, opts: GradeOptions) -> str:
    """The data mode to grade in, after validating everything that can be checked before a notebook runs:
    the assignment's checks and their parameters (AssignmentError), the mode its provider offers, the device
    and the sandbox (UsageError)."""
    load_rubric(assignment)
    provider = data_provider(assignment)
    mode = opts.data or assignment.default_data or provider.modes[0]
    if mode not in provider.modes:
        raise UsageError(f"--data must be one of {', '.join(provider.modes)} for {assignment.id} "
                         f"(provider {provider.name}), not {mode!r}")
    if opts.device not in ("auto", "cpu", "cuda"):
        raise UsageError(f"--device must be auto, cpu or cuda, not {opts.device!r}")
    if opts.device == "cuda" and not cuda_available():
        raise UsageError("--device cuda was asked for but this machine has no usable CUDA GPU")
    check_required(opts.sandbox)
    return mode


def data_provider(assignment: Assignment) -> DataProvider:
    """The assignment's data provider (``[data] provider``)."""
    return get_provider(assignment.data_provider, assignment.root)


def grade_file(path: Path, assignment: Assignment | None = None, opts: GradeOptions | None = None,
               rubric: Rubric | None = None, slot: WarmSlot | None = None) -> dict[str, Any]:
    """Grade one ``.ipynb``/``.py`` file and return its result dict (see ``docs/result-schema.md``).

    ``rubric``: the assignment's checks, loaded and validated once by the caller (default: loaded now).
    ``slot``: a place prepared ahead by :func:`prepare_slot` (warm start), used when it was prepared for the
    same assignment and options and closed after grading either way; without it the kernel starts now.
    A cell that failed only because the quick data mode serves fewer items than it assumed is graded once more
    in the provider's full mode, or explained without the full data (:mod:`grader.fallback`, ``data.fallback``).
    """
    try:
        assignment = assignment or load_assignment()
        rubric = rubric or load_rubric(assignment)
        opts = opts or GradeOptions()
        result, report, notebook = _grade_once(path, assignment, rubric, opts, slot)
    finally:
        if slot is not None:
            slot.close()  # used or not (an invalid file, a broken rubric, no data): it serves one submission
    mode = result["data"]["mode"]
    provider = data_provider(assignment)
    fb = fallback.plan(provider, mode, report, notebook, opts.data_dir, result)
    if fb is None:
        return result
    if fb.mode is None:  # no whole data here: explain instead
        return fallback.annotate(result, fb)
    again, _, _ = _grade_once(path, assignment, rubric, replace(opts, data=fb.mode), None)  # one retry at most
    return fallback.annotate(again, fb, first=result)


def _grade_once(path: Path, assignment: Assignment, rubric: Rubric, opts: GradeOptions,
                slot: WarmSlot | None) -> tuple[dict[str, Any], ExecutionReport | None, Any]:
    """One grading in the mode ``opts`` select: (result, execution report, notebook); no report when invalid.
    The mode's budget (``assignment.budget(mode)``) applies unless ``opts`` set one."""
    mode = resolve_mode(assignment, opts)
    started = time.monotonic()
    try:
        sub = load_submission(path, int(opts.max_submission_mb * 2**20) if opts.max_submission_mb else MAX_BYTES)
    except SubmissionError as exc:
        return _invalid(path, exc, assignment, mode), None, None
    provider = data_provider(assignment)
    root = provider.prepare(mode, opts.data_dir)
    space = _usable(slot, assignment, opts, mode, root) or prepare_slot(assignment, opts, warm=False, name=sub.id)
    with space:  # closed after grading, the caller's slot too: a slot serves one submission
        colab.provide(sub.notebook, root, colab.sample_dir(provider.name, root), space.work,  # Colab's sample_data
                      sandboxed=bool(space.box and space.box.info["enabled"]))
        split = _split_maker(provider, root) if opts.proof and opts.overlap else None
        beside = Beside(space.probe, split)  # imports, data and replays in this process while the kernel runs
        report, exec_opts, box_info = _execute(sub, space, opts, beside.feed)
        recording = load_recording(space.events, sub.notebook, facts_token=report.facts_token)
        t_eval = time.monotonic()
        cache = beside.finish()
        runs = _evaluate(recording, space.probe, provider, root, proof=opts.proof, rows=assignment.evaluation_data,
                         split=beside.split, cache=cache, seed=opts.replay_seed)
        ctx = _context(assignment, rubric, runs, recording, report, sub, mode)
        flags = integrity_flags(ctx, assignment.integrity)  # first: a flag may take points away
        checks = explain_checks(score_checks(rubric, ctx, flags), ctx.diagnoses)
    timings = {"execution_s": round(report.wall_s, 2), "evaluation_s": round(time.monotonic() - t_eval, 2),
               "total_s": round(time.monotonic() - started, 2),
               "segments_replayed_live": cache.hits if cache is not None else 0}
    result = _result(sub, assignment, mode, provider.fingerprint(root), report, recording, ctx, checks, flags,
                     timings)
    result["sandbox"] = box_info
    result["gpu"] = gpu_result_info(kernel_env(hide_gpus=exec_opts.hide_gpus, extra=exec_opts.env), recording.hello)
    return result, report, sub.notebook


def _usable(slot: WarmSlot | None, assignment: Assignment, opts: GradeOptions, mode: str,
            root: Path | None) -> WarmSlot | None:
    """The caller's prepared slot if it fits these options and its kernel lives; else it is closed, None."""
    if slot is not None and (slot.key != slot_key(assignment, opts, mode, root) or not slot.usable()):
        slot.close()  # prepared for other options, or its kernel died: not used
        return None
    return slot


def _execute(sub: Submission, space: WarmSlot, opts: GradeOptions,
             on_event: Callable[[dict[str, Any]], None]) -> tuple[ExecutionReport, ExecutionOptions, dict[str, Any]]:
    """Run the notebook in the slot's sandboxed kernel (execution stage); the sandbox is closed after.
    ``on_event`` gets every probe event as it streams (the work done beside the kernel, :mod:`grader.overlap`)."""
    assert space.box is not None and space.exec_opts is not None
    shutil.copy2(sub.path, space.work / sub.path.name)
    tail = EventTail(space.events, opts.progress, on_event=on_event)
    with tail:
        exec_opts = replace(space.exec_opts, on_cell=opts.progress)
        report = execute(sub.notebook, space.work, exec_opts, space.take_kernel())
        _sandbox_verdict(space.box, report)
    space.box.close()  # its cgroups' leftover processes are killed before evaluation
    return report, exec_opts, space.box.info


def _evaluate(recording: Recording, probe_dir: Path, provider: DataProvider, root: Path | None,
              proof: bool = True, rows: dict[str, Any] | None = None, split: Any = None, cache: Any = None,
              seed: int | None = None) -> list[EvaluatedRun]:
    """Trusted evaluation of every run in this process (evaluation stage), with the segments re-trained while the
    notebook ran (``cache``)."""
    from grader.evaluation.evaluate import evaluate_runs  # torch: imported while the kernel ran (grader.overlap)

    rng = random.Random(seed) if seed is not None else None
    return evaluate_runs(recording, probe_dir, provider, root, proof=proof, rows=rows, split=split, cache=cache,
                         rng=rng)


def _split_maker(provider: DataProvider, root: Path | None) -> Callable[[], Any]:
    """Makes the evaluation's ``split(train)`` (in the thread beside the kernel, after torch is imported)."""
    def make() -> Any:
        from grader.evaluation.evaluate import data_split

        return data_split(provider, root)
    return make


def _context(assignment: Assignment, rubric: Rubric, runs: list[EvaluatedRun], recording: Recording,
             report: ExecutionReport, sub: Submission, mode: str) -> CheckContext:
    """The doctor's findings (diagnosis stage) and everything a check sees."""
    diagnoses = diagnose(DiagnosisInput(runs, recording, report, sub.notebook, assignment.task_specs()),
                         assignment.diagnoses)
    return CheckContext(runs, recording, report, sub.notebook, load_baseline(assignment, mode), mode,
                        assignment.template_texts(), diagnoses=diagnoses,
                        facts=fact_results(recording, list(assignment.facts)), selectors=rubric.selectors,
                        printed=assignment.printed, assignment=assignment)


def _torch_version() -> str | None:
    try:
        return importlib.metadata.version("torch")
    except importlib.metadata.PackageNotFoundError:
        return None


def slot_key(assignment: Assignment, opts: GradeOptions, mode: str, root: Path | None) -> tuple[Any, ...]:
    """Everything a prepared slot's kernel may depend on (every option but the progress callback): a slot is used
    only for a submission with the same key."""
    options = tuple((f.name, repr(getattr(opts, f.name))) for f in fields(opts) if f.name != "progress")
    return (str(assignment.root), assignment.id, assignment.version, mode, str(root), options)


def prepare_slot(assignment: Assignment, opts: GradeOptions, warm: bool = True, name: str | None = None) -> WarmSlot:
    """The folders, sandbox and execution options of a submission still to come (none of it depends on the
    submission); with ``warm`` its kernel is started now (see :mod:`grader.execution.warm`)."""
    name = name or f"slot-{uuid.uuid4().hex[:8]}"
    mode = resolve_mode(assignment, opts)
    provider = data_provider(assignment)
    root = provider.prepare(mode, opts.data_dir)
    safe = re.sub(r"[^\w.-]", "_", name)[:40]
    slot = WarmSlot(slot_key(assignment, opts, mode, root), prefix=f"grader-{safe}-")
    try:
        samples = colab.sample_dir(provider.name, root)
        box = _sandbox(assignment, opts, slot.root, root, name, samples)
        probe_config = {**provider.probe_config(root, mode),
                        "colab": colab.kernel_config(box.info["enabled"], root, samples)}
        slot.start(box, _exec_options(assignment, opts, mode, probe_config, slot.probe, slot.events, box), warm)
    except BaseException:
        slot.close()
        raise
    return slot


def _sandbox(assignment: Assignment, opts: GradeOptions, tmp: Path, root: Path | None, name: str,
             samples: Path | None = None) -> Sandbox:
    """The sandbox of one submission: ``tmp/work`` is its cwd; ``probe`` and ``run`` (sockets) writable;
    ``samples``: Colab's sample_data folder (grader/data/colab.py), read-only at /content/sample_data."""
    gpu = opts.device != "cpu" and cuda_available()
    safe = re.sub(r"[^\w.-]", "_", name)[:40]
    return prepare_sandbox(opts.sandbox, assignment.sandbox, work=tmp / "work", writable=[tmp / "probe", tmp / "run"],
                           data_root=root, gpu=gpu, name=f"grader-{os.getpid()}-{safe}", sample_data=samples)


def _sandbox_verdict(box: Sandbox, report: ExecutionReport) -> None:
    """Record what the limits saw; a kernel the memory cgroup killed says "memory limit"."""
    box.finish()
    if box.memory_killed() and report.status == "kernel_died":
        report.message = (f"memory limit: the kernel used more than {box.info['memory_limit_mb']} MB and was killed "
                          f"(cell index {report.last_cell}); {report.message}")


def _exec_options(assignment: Assignment, opts: GradeOptions, mode: str, data_config: dict[str, Any],
                  probe_dir: Path, events: Path, box: Sandbox) -> ExecutionOptions:
    budget = assignment.budget(mode)
    seed = assignment.seed if opts.seed is None else opts.seed
    return ExecutionOptions(
        probe_config={"export_dir": str(probe_dir), **data_config, "seed": seed, "data_mode": mode,
                      "flush_denormal": opts.flush_denormal, "proof": opts.proof, "facts": list(assignment.facts)},
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
                   "checks": [], "runs": [], "flags": [], "diagnoses": [], "errors": [], "facts": [],
                   "versions": versions(assignment.id, assignment.version, _torch_version())})
    return result


def _result(sub: Submission, assignment: Assignment, mode: str, fingerprint: dict[str, Any], report: ExecutionReport,
            recording: Recording, ctx: CheckContext, checks: list[CheckResult], flags: list[Flag],
            timings: dict[str, float]) -> dict[str, Any]:
    hello = recording.hello or {}
    result = _header(sub.id, sub.path, sub.sha256, sub.kind, mode)
    if sub.notes:
        result["submission"]["notes"] = list(sub.notes)
    result["data"].update({"provider": assignment.data_provider, **fingerprint})
    result["data"]["datasets"] = [{k: d.get(k) for k in ("split", "n_items", "requested_root", "transform")}
                                  for d in recording.datasets]
    result.update({
        "status": status_of(report), "message": verdict_message(report, sub.notebook),
        "score": totals(checks), "checks": checks, "flags": flags, "diagnoses": [d.to_dict() for d in ctx.diagnoses],
        "runs": [run_dict(er, recording) for er in ctx.runs], "errors": errors_list(report, sub.notebook),
        "facts": [fact_dict(f) for f in ctx.facts.values()],
        "device": hello.get("device"), "execution": execution_dict(report), "timings": timings,
        "probe": {"errors": recording.probe_errors[:10], "hooks_intact": (recording.end or {}).get("hooks_intact")},
        "reference": (ctx.baseline or {}).get("provenance"),
        "versions": versions(assignment.id, assignment.version, hello.get("torch")),
    })
    result["error_kinds"] = error_kinds(result["errors"])
    result["messages"] = verdict_texts(report, sub.notebook)
    return result

