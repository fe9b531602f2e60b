"""Kernel launch: the grader's own Python, a fresh kernel per submission, an optional wrapper.

The launch command is ``[*wrapper, sys.executable, -c, PRELOAD, -f, CONNECTION]`` (``PRELOAD`` imports torch
and torchvision, then runs ``ipykernel_launcher``; ``-m ipykernel_launcher`` with ``preload=False``) so a
sandbox (bubblewrap, systemd-run, ...) can be put in front without touching the runner.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

from jupyter_client.manager import AsyncKernelManager
from traitlets import Bool, List, Unicode

# The kernel's ``-c`` program when preloading: import torch and torchvision, then run ``ipykernel_launcher`` as
# ``-m`` would (so the cmdline still names it). A warm slot (grader/execution/warm.py) hides these seconds behind
# another submission; every grader kernel preloads, warm or cold, so student code always starts from the same
# state. The working directory (the submission's folder) is off ``sys.path`` while torch is imported, as
# ipykernel_launcher does; IPython puts it back and gives the student a fresh ``__main__`` namespace.
PRELOAD = (
    "import runpy, sys\n"
    "if sys.path and sys.path[0] == '':\n    del sys.path[0]\n"
    "try:\n    import torch, torchvision\nexcept Exception:\n    pass\n"
    "runpy.run_module('ipykernel_launcher', run_name='__main__', alter_sys=True)\n"
)


class GraderKernelManager(AsyncKernelManager):
    """An ipykernel in the grader's environment, optionally started through a wrapper command."""

    wrapper = List(Unicode(), default_value=[], help="Command put in front of the kernel's argv.").tag(
        config=True
    )

    preload = Bool(True, help="Import torch and torchvision before the kernel starts (see PRELOAD).").tag(
        config=True
    )

    def format_kernel_cmd(self, extra_arguments: list[str] | None = None) -> list[str]:
        """The kernel's argv: wrapper + this interpreter running ipykernel (after PRELOAD when ``preload``)."""
        program = ["-c", PRELOAD] if self.preload else ["-m", "ipykernel_launcher"]
        cmd = [sys.executable, *program, "-f", self.connection_file]
        return [*self.wrapper, *cmd, *(extra_arguments or [])]


def kernel_env(*, hide_gpus: bool, extra: dict[str, str] | None = None) -> dict[str, str]:
    """Environment of a student kernel: determinism settings, no display, optional GPU hiding."""
    env = dict(os.environ)
    env.update({
        "PYTHONHASHSEED": "0",
        "CUBLAS_WORKSPACE_CONFIG": ":4096:8",
        "MPLBACKEND": "Agg",
        "PYTHONUNBUFFERED": "1",
        "PYDEVD_DISABLE_FILE_VALIDATION": "1",
    })
    # One intra-op thread per kernel: on small machines two threads barely help a batch-100 MLP
    # (measured ≈10 ms/step either way on 2 cores) and oversubscribe badly when kernels run side by side.
    for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        env.setdefault(var, "1")
    if hide_gpus:
        env["CUDA_VISIBLE_DEVICES"] = ""
    env.update(extra or {})
    return env


def make_kernel_manager(wrapper: list[str] | None = None, transport: str = "tcp",
                        connection_dir: Path | None = None, **kw: Any) -> GraderKernelManager:
    """A kernel manager ready for ``nbclient.NotebookClient(km=...)``.

    ``connection_dir``: where the connection file goes; with ``transport="ipc"`` the kernel's sockets
    are created beside it (``kernel-ipc-N``), so a sandbox binds that one folder. With a wrapper the
    kernel is interrupted by a message on its control channel: a signal to the wrapper's process group
    never reaches a kernel that bwrap ran in a new session.
    """
    if connection_dir is not None:
        kw.setdefault("connection_file", str(connection_dir / "kernel.json"))
    km = GraderKernelManager(kernel_name="python3", transport=transport, **kw)
    km.wrapper = list(wrapper or [])
    if km.wrapper and km.kernel_spec is not None:
        km.kernel_spec.interrupt_mode = "message"
    return km
