"""Run one submission's notebook in a fresh kernel, cell by cell, never stopping at the first error.

The grader controls time itself: each cell gets ``min(cell timeout, what is left of the budget)``;
a cell that runs over is interrupted and the next cells still run while budget remains. The
export cell runs after everything (errors and timeouts included) unless the kernel died. When the probe
config has ``facts`` (grader.recording.probe_facts), a facts cell runs after the export cell, unless the kernel
died or the submission's time budget ran out; it is no notebook cell (not in ``cells``, not in ``executed``).
"""

from __future__ import annotations

import logging
import math
import re
import secrets
import signal
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import nbformat
from nbclient import NotebookClient
from nbclient.exceptions import CellTimeoutError, DeadKernelError
from nbclient.util import run_sync
from nbformat import NotebookNode

from grader.errors import ExecutionError
from grader.execution.instrument import (
    export_cell_source,
    facts_cell_source,
    facts_cell_timeout,
    setup_cell_source,
)
from grader.execution.kernel import GraderKernelManager, kernel_env, make_kernel_manager
from grader.execution.outputs import CappedNotebookClient
from grader.execution.stream import EventStream

_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
_MAX_STDOUT = 100_000
_TB_LINES = 12
_TIMEOUT_REPLY = {"ename": "CellTimeoutError", "evalue": "interrupted by the grader's time limit",
                  "traceback": []}
_log = logging.getLogger("grader.execution")
_log.addHandler(logging.NullHandler())


@dataclass
class ExecutionOptions:
    """How to run one submission (defaults come from assignment.toml; the CLI may override)."""

    probe_config: dict[str, Any]
    cell_timeout_s: float = 300.0
    budget_s: float = 900.0
    export_timeout_s: float = 120.0
    startup_timeout_s: float = 120.0
    hide_gpus: bool = False
    wrapper: list[str] = field(default_factory=list)
    env: dict[str, str] = field(default_factory=dict)
    kernel_log: Path | None = None  # the kernel process's own stdout/stderr (not the student's output)
    # where the grader keeps the probe's events, read from a pipe the kernel inherits (append-only for the
    # student); None: the probe appends to probe_config['events_path'] itself
    event_stream: Path | None = None
    on_cell: Callable[[dict[str, Any]], None] | None = None  # progress: called before and after each code cell
    transport: str = "tcp"  # "ipc" for a sandboxed kernel (no TCP into a private network namespace)
    connection_dir: Path | None = None  # connection file + ipc sockets (bound into the sandbox)
    output_limit_kb: int = 1024  # outputs kept per cell in the executed notebook; the rest is dropped
    preload: bool = True  # the kernel imports torch and torchvision before it starts (grader.execution.kernel)


@dataclass
class CellOutcome:
    """What happened to one code cell of the student's notebook."""

    index: int
    status: str  # ok | error | timeout | not_run | kernel_died
    duration_s: float = 0.0
    error: dict[str, str] | None = None
    stdout: str = ""
    output_truncated: int = 0  # characters of output dropped past the per-cell cap


@dataclass
class ExecutionReport:
    """Everything the runner saw; the recording itself is in the probe's files."""

    status: str  # completed | timeout | kernel_died
    cells: list[CellOutcome]
    exported: bool
    startup_s: float
    wall_s: float
    message: str | None = None
    last_cell: int | None = None
    executed: NotebookNode | None = None
    setup_s: float = 0.0  # the probe's set-up cell (after start-up)
    warm_start: bool = False  # the kernel was started ahead (a warm slot), before the notebook was known
    facts_ran: bool = False  # the grader's facts cell ran to its end (the assignment has facts)
    # the facts cell's marker token: pass it to grader.recording.events.load_recording so that only that
    # cell's fact events are taken
    facts_token: str | None = None


def _error_of(cell: NotebookNode) -> dict[str, str] | None:
    for out in cell.get("outputs", []):
        if out.get("output_type") == "error":
            tb = [_ANSI.sub("", line) for line in out.get("traceback", [])]
            text = "\n".join(tb).strip().splitlines()
            tail = text[-_TB_LINES:]
            where = next((ln for ln in text if ln.startswith("Cell In[")), None)  # the student's line
            if where and where not in tail:
                tail = [where, "...", *tail]
            return {"ename": out.get("ename", ""), "evalue": _ANSI.sub("", out.get("evalue", ""))[:2000],
                    "traceback": "\n".join(tail)}
    return None


def _stdout_of(cell: NotebookNode) -> str:
    text = "".join(o.get("text", "") for o in cell.get("outputs", [])
                   if o.get("output_type") == "stream" and o.get("name") == "stdout")
    if len(text) > _MAX_STDOUT:
        return text[:_MAX_STDOUT] + f"\n[... {len(text) - _MAX_STDOUT} more characters truncated by the grader]"
    return text


def _code_cell(source: str) -> NotebookNode:
    return nbformat.v4.new_code_cell(source)


@dataclass
class LaunchedKernel:
    """A kernel process started for one submission (before or when its notebook is known), not yet connected:
    its manager, its event pipe and its log file, which :func:`execute` takes over and closes."""

    km: GraderKernelManager
    stream: EventStream | None
    log: Any  # the open kernel log file, or subprocess.DEVNULL
    config: dict[str, Any]  # the probe config (with the pipe's descriptor number)

    def alive(self) -> bool:
        """True while the kernel process runs."""
        try:
            return bool(run_sync(self.km.is_alive)())
        except Exception:
            return False

    def close(self) -> None:
        """Stop the kernel, read what is left of its pipe and close its log (idempotent)."""
        _shutdown_km(self.km)
        if self.stream is not None:
            self.stream.close()  # after the kernel is gone: read the rest
            self.stream = None
        if not isinstance(self.log, int):
            self.log.close()
            self.log = subprocess.DEVNULL


def launch(workdir: Path, opts: ExecutionOptions) -> LaunchedKernel:
    """Start the kernel process of a submission that will run in ``workdir`` (it preloads torch, see
    :data:`grader.execution.kernel.PRELOAD`); returns without waiting for it. ExecutionError if it cannot start."""
    stream, config, popen_kw = _event_stream(opts)
    km = make_kernel_manager(opts.wrapper, opts.transport, opts.connection_dir)
    km.preload = opts.preload
    log = open(opts.kernel_log, "ab") if opts.kernel_log else subprocess.DEVNULL  # noqa: SIM115
    launched = LaunchedKernel(km, stream, log, config)
    try:
        run_sync(km.start_kernel)(extra_arguments=["--HistoryManager.hist_file=:memory:"], cwd=str(workdir),
                                  env=kernel_env(hide_gpus=opts.hide_gpus, extra=opts.env), stdout=log, stderr=log,
                                  **popen_kw)
    except Exception as exc:
        launched.close()
        raise ExecutionError(f"could not start a kernel: {type(exc).__name__}: {exc}") from exc
    if stream is not None:
        stream.child_started()
    return launched


def execute(nb: NotebookNode, workdir: Path, opts: ExecutionOptions,
            launched: LaunchedKernel | None = None) -> ExecutionReport:
    """Execute ``nb`` in ``workdir`` with the probe installed; return what happened per cell.

    ``launched``: a kernel already started for this submission (by :func:`launch`, from a warm slot); without
    one a kernel is started now. Raises ExecutionError only when no kernel could be started or the probe
    could not be set up.
    """
    t0 = time.monotonic()
    kernel = launched or launch(workdir, opts)
    student = list(nb.cells)
    specs, token = _fact_specs(opts), secrets.token_hex(16)
    run_nb = nbformat.v4.new_notebook(metadata=nb.get("metadata", {}))
    setup = {k: v for k, v in kernel.config.items() if k != "facts"}  # the instructor's inputs: not before the end
    run_nb.cells = [_code_cell(setup_cell_source(setup)), *student, _code_cell(export_cell_source())]
    if specs:
        sink = {k: kernel.config[k] for k in ("events_fd", "events_path") if kernel.config.get(k) is not None}
        run_nb.cells.append(_code_cell(facts_cell_source(specs, token, sink)))
    # On timeout nbclient interrupts the kernel and answers with error_on_timeout; it then waits for the
    # interrupted cell's last output, so no stale output poller is left to eat the next cell's output.
    client = CappedNotebookClient(run_nb, km=kernel.km, timeout=int(opts.startup_timeout_s), allow_errors=True,
                                  interrupt_on_timeout=True, error_on_timeout=_TIMEOUT_REPLY, iopub_timeout=10,
                                  startup_timeout=int(opts.startup_timeout_s), output_limit=opts.output_limit_kb * 1000,
                                  record_timing=False, log=_log, resources={"metadata": {"path": str(workdir)}})
    try:
        with client.setup_kernel():  # the kernel runs already: this connects to it
            startup = time.monotonic() - t0
            setup = client.execute_cell(run_nb.cells[0], 0, store_history=False)
            if _error_of(setup):
                raise ExecutionError(f"the grader's probe failed to install: {_error_of(setup)}")
            setup_s = time.monotonic() - t0 - startup
            report = _run_cells(client, run_nb, student, opts, time.monotonic() + opts.budget_s)
            report.startup_s, report.setup_s, report.warm_start = startup, setup_s, launched is not None
            report.facts_token = token if specs else None
    except ExecutionError:
        raise
    except Exception as exc:  # kernel start-up, ZMQ, nbclient internals: the grader failed, not the student
        raise ExecutionError(f"could not run a kernel: {type(exc).__name__}: {exc}") from exc
    finally:
        _close_client(client)  # nbclient stops the channels only of a kernel it created itself
        kernel.close()  # nbclient leaves a kernel it did not create (km=...) running
    report.wall_s = time.monotonic() - t0
    run_nb.cells = run_nb.cells[:len(student) + 2]  # without the facts cell: it holds the instructor's inputs
    report.executed = run_nb
    if report.status == "kernel_died" and opts.kernel_log and opts.kernel_log.exists():
        tail = _last_words(opts.kernel_log.read_text(errors="replace"))
        if tail:
            report.message = f"{report.message}; the kernel's last words: {' | '.join(tail)[-500:]}"
    return report


def _run_cells(client: NotebookClient, run_nb: NotebookNode, student: list[NotebookNode],
               opts: ExecutionOptions, deadline: float) -> ExecutionReport:
    cells: list[CellOutcome] = []
    status, message, last, stuck = "completed", None, None, False
    total = sum(1 for c in student if c.cell_type == "code" and c.source.strip())
    for i, cell in enumerate(student):
        if cell.cell_type != "code" or not cell.source.strip():
            continue
        remaining = deadline - time.monotonic()
        if status == "kernel_died" or stuck or remaining <= 1:
            if status != "kernel_died" and message is None:
                status, message = "timeout", f"submission time budget of {opts.budget_s:.0f}s used up"
            cells.append(CellOutcome(i, "not_run"))
            continue
        client.timeout = max(1, int(min(opts.cell_timeout_s, remaining)))
        _notify(opts, kind="cell_start", index=i, ordinal=len(cells) + 1, total=total, source=cell.source)
        start = time.monotonic()
        try:
            client.execute_cell(cell, i + 1)
            last, took = i, time.monotonic() - start
            if took >= client.timeout:
                status = "timeout"
                stuck, message = _timed_out(i, client, took, message)
                cells.append(CellOutcome(i, "timeout", took, None, _stdout_of(cell)))
            else:
                err = _error_of(cell)
                cells.append(CellOutcome(i, "error" if err else "ok", took, err, _stdout_of(cell)))
        except DeadKernelError:
            status, last = "kernel_died", i
            message = f"kernel died while running cell index {i}{_exit_cause(client)}"
            cells.append(CellOutcome(i, "kernel_died", time.monotonic() - start, None, _stdout_of(cell)))
        cells[-1].output_truncated = getattr(client, "truncated", {}).get(i + 1, 0)
        _notify(opts, kind="cell_end", index=i, status=cells[-1].status, duration_s=cells[-1].duration_s)
    report = ExecutionReport(status, cells, False, 0.0, 0.0, message, last)
    _grader_cells(client, run_nb, len(student) + 1, opts, report, stuck, time.monotonic() > deadline - 1)
    return report


def _grader_cells(client: NotebookClient, run_nb: NotebookNode, export: int, opts: ExecutionOptions,
                  report: ExecutionReport, stuck: bool, budget_out: bool) -> None:
    """The export cell (index ``export`` of ``run_nb``), then the facts cell when there is one: neither after a
    dead or stuck kernel, the facts cell not when the student's cells used up the time budget either."""
    outcome = "not_run"
    if report.status != "kernel_died" and not stuck:
        outcome = _grader_cell(client, run_nb, export, opts.export_timeout_s)
        report.exported = outcome == "ok"
    notes = []
    if report.status != "kernel_died" and not report.exported:
        notes.append("the grader's export cell did not finish: accuracies cannot be verified")
    if len(run_nb.cells) > export + 1:  # the facts cell
        if outcome in ("ok", "error", "timeout") and not budget_out:
            limit = facts_cell_timeout(_fact_specs(opts))
            report.facts_ran = _grader_cell(client, run_nb, export + 1, limit) == "ok"
        if not report.facts_ran:
            notes.append("the grader's facts cell did not finish: some facts could not be evaluated")
    for note in notes:
        report.message = f"{report.message}; {note}" if report.message else note


def _grader_cell(client: NotebookClient, run_nb: NotebookNode, index: int, timeout_s: float) -> str:
    """Run one of the grader's own cells: ok | error | timeout | stuck (the kernel ignored the interrupt) | dead."""
    client.timeout = max(1, math.ceil(timeout_s))
    start = time.monotonic()
    try:
        cell = client.execute_cell(run_nb.cells[index], index, store_history=False)
    except DeadKernelError as exc:
        _log.debug("grader cell %d: kernel died: %s", index, exc)
        return "dead"
    except CellTimeoutError as exc:
        _log.debug("grader cell %d timed out: %s", index, exc)
        return "timeout"
    took = time.monotonic() - start
    if took >= client.timeout:
        return "stuck" if took >= client.timeout + 0.8 * client.iopub_timeout else "timeout"
    return "error" if _error_of(cell) else "ok"


def _timed_out(i: int, client: NotebookClient, took: float, message: str | None) -> tuple[bool, str]:
    """After a cell's timeout: did the interrupt work? nbclient waits ``iopub_timeout`` more for the cell to
    end; a kernel still busy after that ignores interrupts (it catches KeyboardInterrupt, or is stuck in C):
    nothing more can run in it, so the remaining cells and the export are skipped, bounded by the budget."""
    stuck = took >= (client.timeout or 0) + 0.8 * client.iopub_timeout
    if stuck:
        why = (f"cell index {i} ran over its {client.timeout}s limit and ignored the interrupt "
               "(it catches KeyboardInterrupt or is stuck): the cells after it could not run")
        return True, f"{message}; {why}" if message else why
    return False, message or f"cell index {i} ran over its {client.timeout}s limit and was interrupted"


_CHATTER = ("[IPKernelApp]", "NOTE: When using the `ipython kernel`", "To exit, you will have to",
            '"quit" from a client', "To read more about this", "To connect another client", "--existing ")


def _last_words(log: str) -> list[str]:
    """The end of the kernel's own log without ipykernel's chatter; a Python fatal error (faulthandler) first."""
    lines = [ln.strip() for ln in log.splitlines() if ln.strip() and not ln.strip().startswith(_CHATTER)]
    fatal = [ln for ln in lines if ln.startswith("Fatal Python error")]
    return fatal[-1:] + [ln for ln in lines[-3:] if ln not in fatal[-1:]]


def _exit_cause(client: NotebookClient) -> str:
    """How the kernel process ended, from its exit status (``: killed by SIGSEGV ...``), or ``""``."""
    proc = getattr(getattr(client.km, "provisioner", None), "process", None)
    code = proc.poll() if proc is not None else None
    if code is None or code == 0:
        return ""
    if code < 0 or code > 128:
        try:
            sig = signal.Signals(-code if code < 0 else code - 128)
        except ValueError:
            return f": it exited with status {code}"
        what = {signal.SIGSEGV: "a crash in native code, e.g. ctypes or an out-of-bounds access",
                signal.SIGKILL: "killed from outside, e.g. for memory", signal.SIGABRT: "aborted"}.get(sig, "")
        return f": killed by {sig.name}" + (f" ({what})" if what else "")
    return f": it exited with status {code} (os._exit() or a crash)"


def _notify(opts: ExecutionOptions, **event: Any) -> None:
    """Tell the caller's progress callback; a failing callback never stops grading."""
    if opts.on_cell is None:
        return
    try:
        opts.on_cell(event)
    except Exception as exc:
        _log.debug("progress callback failed: %s", exc)


def _fact_specs(opts: ExecutionOptions) -> list[dict[str, Any]]:
    """The probe config's ``facts``: the dicts with a str ``id``, the first per id (the kernel checks the rest)."""
    specs = opts.probe_config.get("facts")
    out: dict[str, dict[str, Any]] = {}
    for spec in specs if isinstance(specs, (list, tuple)) else []:
        if isinstance(spec, dict) and isinstance(spec.get("id"), str):
            out.setdefault(spec["id"], dict(spec))
    return list(out.values())


def _event_stream(opts: ExecutionOptions) -> tuple[EventStream | None, dict[str, Any], dict[str, Any]]:
    """The pipe for the probe's events (when asked for), the probe config naming its fd, the Popen kwargs."""
    if opts.event_stream is None:
        return None, opts.probe_config, {}
    stream = EventStream(opts.event_stream)
    return stream, {**opts.probe_config, "events_fd": stream.write_fd}, {"pass_fds": (stream.write_fd,)}


def _close_client(client: NotebookClient) -> None:
    """Stop the kernel client's channels and free its ZMQ context: left open, every submission kept about a dozen
    descriptors (sockets, the heartbeat thread's) until a long batch or test process hit select()'s limit."""
    kc = getattr(client, "kc", None)
    if kc is None:
        return
    try:
        kc.stop_channels()
    except Exception as exc:
        _log.debug("kernel client stop failed: %s", exc)
    try:
        if getattr(kc, "_created_context", False):
            kc.context.destroy(linger=0)
            kc._created_context = False
    except Exception as exc:
        _log.debug("kernel client context cleanup failed: %s", exc)
    client.kc = None


def _shutdown_km(km: Any) -> None:
    try:
        if km is not None and run_sync(km.is_alive)():
            run_sync(km.shutdown_kernel)(now=True)
    except Exception as exc:  # best effort; the process may already be gone
        _log.debug("kernel shutdown failed: %s", exc)
    # the manager's own ZMQ context (sockets, eventfds) is otherwise freed only by a garbage collection that may
    # never come: a long batch or test process leaked about 12 descriptors per submission until select() failed
    try:
        if km is not None and getattr(km, "_created_context", False):
            km.context.destroy(linger=0)
            km._created_context = False
    except Exception as exc:
        _log.debug("kernel context cleanup failed: %s", exc)
