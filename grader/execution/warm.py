"""Warm start: one submission's place, prepared before its notebook is known.

A :class:`WarmSlot` is the temporary directory of one future submission (``work/``, ``probe/``, ``run/``,
``record/``), its sandbox, its execution options and -- when warm -- its kernel process, already started and
busy importing torch and torchvision (:data:`grader.execution.kernel.PRELOAD`). None of this depends on the
submission: the probe's config names the export folder, the MNIST root, the seed and the data mode, all known
before the notebook is. A batch worker prepares the slot of its next submission while the current one trains
(:mod:`grader.batch.worker`), so the next one starts with a kernel that is already up.

A slot serves exactly one submission and is closed after it: kernels are never reused across students.
A slot that is never used is closed all the same (its kernel stopped, its cgroups and folder removed). A
cold grading uses a slot too, whose kernel is started when the notebook is there (:func:`grader.pipeline.grade_file`).
"""

from __future__ import annotations

import tempfile
from collections.abc import Hashable
from pathlib import Path

from grader.execution.runner import ExecutionOptions, LaunchedKernel, launch
from grader.execution.sandbox import Sandbox


class WarmSlot:
    """The folders, sandbox and (optionally) started kernel of one submission still to come."""

    def __init__(self, key: Hashable, prefix: str = "grader-slot-") -> None:
        self.key = key  # what the slot was prepared for (see grader.pipeline.slot_key): a mismatch is not used
        self._tmp: tempfile.TemporaryDirectory[str] | None = tempfile.TemporaryDirectory(prefix=prefix)
        self.root = Path(self._tmp.name)
        for name in ("work", "probe", "run"):
            (self.root / name).mkdir()
        self.work, self.probe = self.root / "work", self.root / "probe"
        self.events = self.root / "record" / "events.jsonl"  # the grader's copy of the pipe: never told to the kernel
        self.box: Sandbox | None = None
        self.exec_opts: ExecutionOptions | None = None
        self.kernel: LaunchedKernel | None = None

    def start(self, box: Sandbox, exec_opts: ExecutionOptions, warm: bool) -> None:
        """Adopt the sandbox and options; with ``warm`` start the kernel now (ExecutionError if it cannot)."""
        self.box, self.exec_opts = box, exec_opts
        if warm:
            self.kernel = launch(self.work, exec_opts)

    @property
    def warm(self) -> bool:
        """True while a kernel is started in this slot and not yet taken."""
        return self.kernel is not None

    def usable(self) -> bool:
        """True when a started kernel is still alive: a slot whose kernel died is closed, not restarted
        (a fresh slot, sandbox and cgroups are cheaper to trust than a half-dead one)."""
        return self.kernel is not None and self.kernel.alive()

    def take_kernel(self) -> LaunchedKernel | None:
        """Hand over the started kernel (the caller's :func:`grader.execution.runner.execute` closes it), or
        None when none was started or it died meanwhile: the caller then starts a cold one in this slot."""
        kernel, self.kernel = self.kernel, None
        if kernel is not None and not kernel.alive():
            kernel.close()
            return None
        return kernel

    def close(self) -> None:
        """Stop a kernel still held, remove the cgroups and the folder (idempotent)."""
        if self.kernel is not None:
            self.kernel.close()
            self.kernel = None
        if self.box is not None:
            self.box.close()
        if self._tmp is not None:
            self._tmp.cleanup()
            self._tmp = None

    def __enter__(self) -> WarmSlot:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
