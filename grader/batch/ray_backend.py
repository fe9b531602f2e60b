"""Grade a class on a Ray cluster: ``grader batch --backend ray [--address ADDR]``.

The same batch as :func:`grader.batch.runner.run_batch` (the same plan, attempt keys and resume, gradebook,
result files and progress events, all on this driver machine); only the scheduling differs: one Ray task per
submission (``num_cpus=1`` and a fraction of a GPU), each calling the local worker's
:func:`grader.batch.worker.grade_one`, so the kernel runs with the same sandbox and limits on whichever node Ray
picks. No shared filesystem is needed: the driver reads each submission and the assignment folder and ships their
bytes with the task; the task sends its result back as JSON text (never a pickled object of the student's).

Ray is optional (``pip install 'grader[ray]'``) and imported only here, only when this backend is used.
"""

from __future__ import annotations

import json
import socket
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path, PurePosixPath
from typing import Any

from grader import __version__
from grader.assignment import Assignment
from grader.batch.discover import Entry
from grader.batch.gpu import JOBS_PER_GPU
from grader.batch.runner import BatchEvent, BatchRun, BatchSummary, _now, open_batch
from grader.errors import UsageError
from grader.store.gradebook import AttemptKey

MAX_ASSIGNMENT_BYTES = 20 * 1024 * 1024  # the assignment folder is shipped to every task
WORKER_DIED = "the Ray worker died (out of memory, a crash or a lost node)"


def import_ray() -> Any:
    """The ``ray`` module, or a UsageError saying how to install it."""
    try:
        import ray
    except ImportError as exc:
        raise UsageError(f"--backend ray needs Ray, which is not installed ({exc}): "
                         "pip install 'grader[ray]'") from exc
    return ray


def run_batch_ray(entries: list[Entry], assignment: Assignment, grade_opts: Any, out_dir: Path,
                  gradebook: Path | None = None, force: bool = False,
                  progress: Callable[[BatchEvent], None] | None = None, address: str | None = None,
                  gpus_per_task: float | None = None) -> BatchSummary:
    """Grade ``entries`` as Ray tasks; like :func:`grader.batch.runner.run_batch`, with the same result.

    ``address``: the cluster to join (``HEAD:6379``, ``auto``); None starts a local one unless Ray is already
    initialized in this process. ``gpus_per_task``: the GPU fraction each task reserves; None means
    1/16 of a GPU when the cluster has GPUs and ``grade_opts.device`` is not ``cpu``, else 0.
    """
    ray = import_ray()
    if gpus_per_task is not None and gpus_per_task < 0:
        raise UsageError("--gpus-per-task must be at least 0")
    started = time.monotonic()
    with open_batch(entries, assignment, grade_opts, out_dir, gradebook, force, progress) as run:
        if run.todo:  # nothing to grade (all resumed or problems): no cluster needed
            with _connected(ray, address):
                gpus = _gpus_per_task(ray, grade_opts.device, gpus_per_task)
                task = ray.remote(grade_shipped).options(num_cpus=1, num_gpus=gpus, max_retries=1,
                                                         retry_exceptions=False)
                _schedule(ray, run, task, ray.put(pack_folder(assignment.root)), _window(ray))
    run.summary.wall_s = round(time.monotonic() - started, 2)
    return run.summary


@contextmanager
def _connected(ray: Any, address: str | None) -> Iterator[None]:
    """Join the cluster at ``address`` (or start a local one) for the duration; leave it as it was found."""
    if address:
        _check_reachable(address)
    if ray.is_initialized():
        yield
        return
    kwargs: dict[str, Any] = {"address": address} if address else {"include_dashboard": False}
    try:
        ray.init(log_to_driver=False, **kwargs)
    except (ConnectionError, RuntimeError, ValueError) as exc:
        raise UsageError(f"cannot connect to the Ray cluster at {address or 'a new local instance'}: {exc}") from exc
    try:
        yield
    finally:
        ray.shutdown()  # disconnects this driver; a cluster joined by address keeps running


def _check_reachable(address: str, timeout_s: float = 10.0) -> None:
    """A ``HOST:PORT`` nobody listens on is a usage error now (Ray itself would retry for minutes)."""
    host, sep, port = address.rpartition(":")
    if not sep or not port.isdigit() or "://" in address:
        return  # "auto", "ray://...": let Ray resolve it
    try:
        socket.create_connection((host, int(port)), timeout=timeout_s).close()
    except OSError as exc:
        raise UsageError(f"no Ray head node answers at {address} ({exc}); start one with "
                         "`ray start --head` there, or check the address") from exc


def _gpus_per_task(ray: Any, device: str, requested: float | None) -> float:
    """The ``num_gpus`` of each task; refuse what the cluster could never schedule (a task would wait forever)."""
    cluster_gpus = float(ray.cluster_resources().get("GPU", 0))
    if device == "cuda" and cluster_gpus == 0:
        raise UsageError("--device cuda was asked for but the Ray cluster has no GPU")
    if requested is None:
        return 1.0 / JOBS_PER_GPU if cluster_gpus and device != "cpu" else 0.0
    if requested > 0 and cluster_gpus == 0:
        raise UsageError(f"--gpus-per-task {requested:g} was asked for but the Ray cluster has no GPU")
    return requested


def _window(ray: Any) -> int:
    """Tasks kept in flight: twice the cluster's CPUs, so every slot stays busy while submissions are read
    lazily (not all shipped into the object store at once)."""
    return max(2, 2 * int(ray.cluster_resources().get("CPU", 1)))


def _schedule(ray: Any, run: BatchRun, task: Any, assignment_ref: Any, window: int) -> None:
    """Submit ``run.todo`` (at most ``window`` in flight) and record each result as soon as it completes."""
    pending = list(run.todo)
    running: dict[Any, tuple[Entry, AttemptKey, str]] = {}
    try:
        while pending or running:
            while pending and len(running) < window:
                entry, key = pending.pop(0)
                try:
                    data = Path(str(entry.path)).read_bytes()
                except OSError as exc:
                    run.rec(entry, key, _now(), None, f"cannot read the submission: {exc}")
                    continue
                ref = task.remote(Path(str(entry.path)).name, data, assignment_ref, run.opts)
                running[ref] = (entry, key, _now())
                run.rec.start(entry.student)
            if not running:
                continue
            ready, _ = ray.wait(list(running), num_returns=1)
            for ref in ready:
                entry, key, started = running.pop(ref)
                result, error = _collect(ray, ref, entry)
                run.rec(entry, key, started, result, error)
    except BaseException:  # Ctrl-C or a driver error: stop what is still running on the cluster
        for ref in running:
            ray.cancel(ref, force=True)
        raise


def _collect(ray: Any, ref: Any, entry: Entry) -> tuple[dict[str, Any] | None, str | None]:
    """(result, None) or (None, why grading failed) for one finished task."""
    try:
        out = json.loads(ray.get(ref))
    except ray.exceptions.RayTaskError as exc:  # grader bug on the worker: the cause's type and message
        cause = getattr(exc, "cause", None) or exc
        return None, f"{type(cause).__name__}: {cause}"
    except ray.exceptions.RayError as exc:  # worker or node died (also after its retry), OOM kill, cancelled
        return None, f"{WORKER_DIED}: {type(exc).__name__}"
    result = out.get("result")
    if result is None:
        return None, out.get("error") or "no result"
    worker_version = (result.get("versions") or {}).get("grader")
    if worker_version != __version__:
        return None, (f"node {out.get('host')} runs grader {worker_version}, this machine {__version__}: "
                      "install the same version on every node")
    result["submission"]["path"] = str(entry.path)  # not the worker's temporary copy
    return result, None


def pack_folder(root: Path) -> dict[str, bytes]:
    """Every file of the assignment folder (rubric, baselines, starter) by relative POSIX path; hidden ones
    (e.g. the Classroom template's ``.github``) are left out."""
    files: dict[str, bytes] = {}
    for path in sorted(root.rglob("*")):
        rel = path.relative_to(root)
        if path.is_file() and not any(part.startswith(".") for part in rel.parts):
            files[rel.as_posix()] = path.read_bytes()
    size = sum(len(b) for b in files.values())
    if size > MAX_ASSIGNMENT_BYTES:
        raise UsageError(f"the assignment folder {root} holds {size / 2**20:.0f} MiB; at most "
                         f"{MAX_ASSIGNMENT_BYTES // 2**20} MiB can be shipped to the Ray workers")
    return files


def unpack_folder(files: dict[str, bytes], root: Path) -> None:
    """Write :func:`pack_folder`'s files under ``root`` (relative, no ``..``)."""
    for rel, data in files.items():
        parts = PurePosixPath(rel).parts
        if PurePosixPath(rel).is_absolute() or ".." in parts:
            raise ValueError(f"refusing to write {rel!r} outside {root}")
        target = root.joinpath(*parts)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)


def grade_shipped(name: str, data: bytes, assignment_files: dict[str, bytes], opts: dict[str, Any]) -> str:
    """The Ray task (runs on a worker node): write the submission and the assignment to a temporary folder,
    grade with :func:`grader.batch.worker.grade_one` and return its answer as JSON text."""
    from grader.batch.worker import grade_one

    with tempfile.TemporaryDirectory(prefix="grader-ray-") as tmp:
        sub = Path(tmp) / "submission" / Path(name).name
        sub.parent.mkdir()
        sub.write_bytes(data)
        unpack_folder(assignment_files, Path(tmp) / "assignment")
        out = grade_one(str(sub), str(Path(tmp) / "assignment"), opts)
    out["host"] = socket.gethostname()
    return json.dumps(out)
