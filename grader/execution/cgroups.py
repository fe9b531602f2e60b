"""Per-kernel memory and pids cgroups (v1, or a delegated v2 subtree), created as children of our own.

Checked as root on this project's machines (cgroup v1): ``memory.limit_in_bytes`` ends a 500 MB
allocation under a 200 MB limit with the OOM killer (``oom_kill`` counted in ``memory.oom_control``), and
``pids.max`` = 30 makes the 30th fork fail with EAGAIN (``pids.events``: ``max``).
"""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

_CGROUP = Path("/sys/fs/cgroup")


def _own_cgroups() -> dict[str, str]:
    """Controller (``memory``, ``pids``, or ``""`` for v2) -> this process's cgroup path."""
    own: dict[str, str] = {}
    try:
        lines = Path("/proc/self/cgroup").read_text().splitlines()
    except OSError:
        return own
    for line in lines:
        _, controllers, path = line.split(":", 2)
        for ctrl in controllers.split(","):
            own[ctrl] = path
    return own


def _writable(parent: Path) -> bool:
    """Whether we may create cgroups under ``parent``; also removes the empty ones of dead graders."""
    probe = parent / f"grader-probe-{os.getpid()}"
    try:
        probe.mkdir()
        probe.rmdir()
    except OSError:
        return False
    _sweep(parent)
    return True


def _sweep(parent: Path) -> None:
    """Remove ``grader-<pid>-*`` cgroups left by a grader that was killed (SIGKILL skips our cleanup), killing
    the kernels still in them first: bwrap's --die-with-parent covers its child, not bwrap itself."""
    for child in parent.glob("grader-*-*"):
        pid = child.name.split("-")[1]
        if pid.isdigit() and not Path(f"/proc/{pid}").exists():
            for orphan in _read_pids(child):
                _kill(orphan)
            for _ in range(20):  # killed processes leave the cgroup within milliseconds
                try:
                    child.rmdir()
                    break
                except OSError:
                    time.sleep(0.05)


def probe_cgroups() -> tuple[int | None, dict[str, Path], str | None]:
    """Where per-kernel memory and pids cgroups can be created (as children of our own cgroup)."""
    own = _own_cgroups()
    parents: dict[str, Path] = {}
    for ctrl in ("memory", "pids"):  # cgroup v1 (or hybrid with v1 controllers)
        base = _CGROUP / ctrl
        if ctrl in own and (base / "cgroup.procs").exists():
            parent = base / own[ctrl].lstrip("/")
            if _writable(parent):
                parents[ctrl] = parent
    if parents:
        missing = {"memory", "pids"} - set(parents)
        return 1, parents, (f"cgroup v1 {', '.join(sorted(missing))} not writable" if missing else None)
    if (_CGROUP / "cgroup.controllers").exists() and "" in own:  # pure cgroup v2
        parent = _CGROUP / own[""].lstrip("/")
        try:
            delegated = (parent / "cgroup.subtree_control").read_text().split()
        except OSError:
            delegated = []
        v2: dict[str, Path] = {c: parent for c in ("memory", "pids") if c in delegated}
        if v2 and _writable(parent):
            return 2, v2, None
        return None, {}, (f"cgroup v2: memory/pids not delegated to {parent} (run the grader under "
                          "`systemd-run --scope -p Delegate=yes`)")
    return None, {}, "no writable cgroup hierarchy (not root, or cgroups not mounted)"


class Cgroups:
    """The memory and pids cgroups of one kernel; :meth:`close` kills what is left and removes them."""

    def __init__(self, version: int, parents: dict[str, Path], memory_mb: int, pids: int, name: str) -> None:
        self.version = version
        self.dirs: dict[str, Path] = {}
        try:
            for ctrl, parent in parents.items():
                path = parent / name
                path.mkdir(exist_ok=True)
                self.dirs[ctrl] = path
                self._configure(ctrl, path, memory_mb, pids)
        except OSError:
            self.close()
            raise

    def _configure(self, ctrl: str, path: Path, memory_mb: int, pids: int) -> None:
        mem = str(memory_mb * 2**20)
        if ctrl == "memory" and self.version == 1:
            (path / "memory.limit_in_bytes").write_text(mem)
            _try_write(path / "memory.memsw.limit_in_bytes", mem)  # no swapping around the limit
        elif ctrl == "memory":
            (path / "memory.max").write_text(mem)
            _try_write(path / "memory.swap.max", "0")
        elif ctrl == "pids":
            (path / "pids.max").write_text(str(pids))

    def join_paths(self) -> list[str]:
        """The directories the launcher joins (one per hierarchy)."""
        return sorted({str(p) for p in self.dirs.values()})

    def _stat(self, ctrl: str, v1: str, v2: str, key: str) -> int:
        path = self.dirs.get(ctrl)
        if path is None:
            return 0
        try:
            for line in (path / (v1 if self.version == 1 else v2)).read_text().splitlines():
                k, _, value = line.partition(" ")
                if k == key:
                    return int(value)
        except (OSError, ValueError):
            pass
        return 0

    def oom_kills(self) -> int:
        """How many processes the kernel's OOM killer ended in this cgroup."""
        return self._stat("memory", "memory.oom_control", "memory.events", "oom_kill")

    def fork_refusals(self) -> int:
        """How many forks ``pids.max`` refused."""
        return self._stat("pids", "pids.events", "pids.events", "max")

    def peak_mb(self) -> float | None:
        """Peak memory use of the cgroup (page cache included), MB."""
        path = self.dirs.get("memory")
        name = "memory.max_usage_in_bytes" if self.version == 1 else "memory.peak"
        try:
            return round(int((path / name).read_text()) / 2**20, 1) if path else None
        except (OSError, ValueError):
            return None

    def close(self) -> None:
        """Kill every process still in the cgroups (fork-bomb leftovers), then remove them."""
        for path in self.dirs.values():
            for _ in range(50):
                pids = _read_pids(path)
                if not pids:
                    break
                for pid in pids:
                    _kill(pid)
                time.sleep(0.05)
            try:
                path.rmdir()
            except OSError:
                pass


def _try_write(path: Path, value: str) -> None:
    try:
        path.write_text(value)
    except OSError:
        pass


def _read_pids(path: Path) -> list[int]:
    try:
        return [int(x) for x in (path / "cgroup.procs").read_text().split()]
    except (OSError, ValueError):
        return []


def _kill(pid: int) -> None:
    try:
        os.kill(pid, signal.SIGKILL)
    except OSError:
        pass
