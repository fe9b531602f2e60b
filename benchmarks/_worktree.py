"""A git revision of this repository checked out in a temporary worktree (for before/after benchmarks)."""

from __future__ import annotations

import contextlib
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


@contextlib.contextmanager
def worktree(rev: str) -> Iterator[Path]:
    """Check ``rev`` out beside the repository for the duration; run it with ``PYTHONPATH=<path>`` and this venv's
    Python, so its ``grader`` is imported instead of the current one (same torch, same data, same machine)."""
    with tempfile.TemporaryDirectory(prefix="grader-baseline-") as tmp:
        path = Path(tmp) / "checkout"
        subprocess.run(["git", "-C", str(ROOT), "worktree", "add", "--detach", str(path), rev],
                       check=True, capture_output=True)
        try:
            yield path
        finally:
            subprocess.run(["git", "-C", str(ROOT), "worktree", "remove", "--force", str(path)], check=False,
                           capture_output=True)
