"""What runs inside a batch worker process (spawned). No torch import at module level, so the
initializer can pin thread counts before torch is loaded."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

THREAD_VARS = ("OMP_NUM_THREADS", "MKL_NUM_THREADS")


def init_worker(threads: int) -> None:
    for var in THREAD_VARS:
        os.environ[var] = str(threads)


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
