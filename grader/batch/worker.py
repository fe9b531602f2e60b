"""What runs inside a batch worker process (spawned). No torch import at module level, so the
initializer can pin thread counts before torch is loaded."""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path
from typing import Any

THREAD_VARS = ("OMP_NUM_THREADS", "MKL_NUM_THREADS")


def init_worker(threads: int) -> None:
    for var in THREAD_VARS:
        os.environ[var] = str(threads)
    parent = os.getppid()
    threading.Thread(target=_exit_with_parent, args=(parent,), daemon=True, name="parent-watch").start()


def _exit_with_parent(parent: int) -> None:
    """A batch parent killed with -9 cannot stop its workers: each leaves as soon as it is orphaned
    (its kernels follow: ipykernel exits when its parent, this worker, is gone)."""
    while True:
        time.sleep(1.0)
        if os.getppid() != parent:
            os._exit(3)


def grade_one(path: str, assignment_root: str, opts: dict[str, Any]) -> dict[str, Any]:
    """Grade one file; a GraderError comes back as ``{"error": message}`` (it pickles reliably)."""
    import torch

    from grader.assignment import load_assignment
    from grader.errors import GraderError
    from grader.pipeline import GradeOptions, grade_file

    torch.set_num_threads(int(os.environ.get("OMP_NUM_THREADS", "1")))
    try:
        return {"result": grade_file(Path(path), load_assignment(Path(assignment_root)), GradeOptions(**opts))}
    except GraderError as exc:
        return {"error": f"{type(exc).__name__}: {exc}"}
