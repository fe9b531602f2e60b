"""What runs inside a batch worker process (spawned). No torch import at module level, so the
initializer can pin thread counts before torch is loaded."""

from __future__ import annotations

import logging
import os
import signal
import threading
import time
from multiprocessing.util import Finalize
from pathlib import Path
from typing import Any

THREAD_VARS = ("OMP_NUM_THREADS", "MKL_NUM_THREADS")


def init_worker(threads: int) -> None:
    for var in THREAD_VARS:
        os.environ[var] = str(threads)
    parent = os.getppid()
    # Ctrl-C reaches the whole foreground process group: only the parent acts on it (it terminates the
    # workers, see runner._stop_workers). A no-op handler, not SIG_IGN, which kernels would inherit.
    signal.signal(signal.SIGINT, lambda signum, frame: None)
    signal.signal(signal.SIGTERM, lambda signum, frame: _exit_killing_kernels(143))
    threading.Thread(target=_exit_with_parent, args=(parent,), daemon=True, name="parent-watch").start()


def _exit_with_parent(parent: int) -> None:
    """A batch parent killed with -9 cannot stop its workers: each leaves within a second of being orphaned."""
    while True:
        time.sleep(1.0)
        if os.getppid() != parent:
            _exit_killing_kernels(3)


def _exit_killing_kernels(code: int) -> None:
    """Kill this worker's children (its kernels, which run in their own session, and their process groups)
    and exit. ipykernel's own parent poller would follow too, but not while student code holds the GIL."""
    for pid in children(os.getpid()):
        kill_tree(pid)
    os._exit(code)


def children(ppid: int) -> list[int]:
    """Processes whose parent is ``ppid`` (Linux ``/proc``; empty elsewhere)."""
    found = []
    for d in Path("/proc").glob("[0-9]*"):
        try:
            stat = (d / "stat").read_text()
        except OSError:
            continue
        if int(stat.rsplit(")", 1)[1].split()[1]) == ppid:
            found.append(int(d.name))
    return found


def kill_tree(pid: int) -> None:
    """SIGKILL ``pid`` and, when it leads its own process group (a kernel does), that whole group."""
    try:
        pgid = os.getpgid(pid)
        if pgid == pid and pgid != os.getpgid(0):
            os.killpg(pgid, signal.SIGKILL)
        os.kill(pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


# The slot prepared for this worker's next submission (grader.execution.warm), at most one; closed at exit.
_NEXT: list[Any] = []
_log = logging.getLogger("grader.batch")
_log.addHandler(logging.NullHandler())


def grade_one(path: str, assignment_root: str, opts: dict[str, Any], warm_next: bool = False) -> dict[str, Any]:
    """Grade one file; a GraderError comes back as ``{"error": message}`` (it pickles reliably).

    Warm start: the submission uses the slot this worker prepared when it began its previous one (when prepared
    for the same options); with ``warm_next`` (more submissions are coming) the next slot is prepared now, so
    the next kernel starts up (torch imported) while this submission runs.
    """
    import torch

    from grader.assignment import load_assignment
    from grader.errors import GraderError
    from grader.pipeline import GradeOptions, grade_file

    torch.set_num_threads(int(os.environ.get("OMP_NUM_THREADS", "1")))
    slot = _NEXT.pop() if _NEXT else None
    try:
        assignment, gopts = load_assignment(Path(assignment_root)), GradeOptions(**opts)
        if warm_next:
            warm_up(assignment, gopts)
        return {"result": grade_file(Path(path), assignment, gopts, slot=slot)}
    except GraderError as exc:
        return {"error": f"{type(exc).__name__}: {exc}"}
    finally:
        if slot is not None:
            slot.close()  # normally closed by grade_file already


def warm_up(assignment: Any, opts: Any) -> None:
    """Prepare this worker's next slot (its kernel starts now). Never raises: on any failure the next
    submission simply starts cold."""
    from grader.pipeline import prepare_slot

    if _NEXT:
        return
    try:
        _NEXT.append(prepare_slot(assignment, opts))
    except Exception as exc:  # noqa: BLE001 - warm start is an optimization, never a reason to fail
        _log.warning("could not prepare the next submission's kernel (it will start cold): %s", exc)
        return
    if len(_FINALIZER) == 0:
        _FINALIZER.append(Finalize(None, close_next, exitpriority=10))


def close_next() -> None:
    """Close the prepared slot, if any (its kernel stopped, its folder removed): at worker exit."""
    while _NEXT:
        _NEXT.pop().close()


_FINALIZER: list[Any] = []  # multiprocessing runs it when the worker process ends normally
