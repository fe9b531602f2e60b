"""The sandbox a student kernel runs in: bubblewrap, cgroups and rlimits, whatever this machine allows.

Filesystem policy: *bind only what is needed*, never ``--ro-bind / /`` with holes punched in it. The
kernel sees the system directories (``/usr``, ``/etc``, ...), the Python installation it runs on, the
MNIST folder being served (read-only), and its own ``work/``, ``probe/`` and ``run/`` folders
(read-write); ``/tmp`` is a private tmpfs, and so is ``/content`` (Colab's folder: ``drive.mount`` makes its
empty Drive there), with Colab's ``sample_data`` CSVs bound read-only at ``/content/sample_data``.
Everything else -- the repository with ``reference/``, the gradebook and reports, the other submissions of a
batch, the full MNIST source folder, the user's home -- simply does not exist in the sandbox, so nothing can be
forgotten on a hide list.

Limits: memory and processes through cgroups (v1 or a delegated v2 subtree) when we may create one,
else memory through ``RLIMIT_DATA`` (``RLIMIT_AS`` breaks ``import torch``); CPU time and file size
through rlimits set by :mod:`grader.execution.limits`; wall time stays the runner's own clock.
"""

from __future__ import annotations

import functools
import glob
import os
import shutil
import site
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from grader.assignment.settings import SandboxLimits
from grader.errors import UsageError
from grader.execution.cgroups import Cgroups, probe_cgroups

MODES = ("auto", "off", "require")
CONTENT = "/content"  # Colab's working folder, a private tmpfs inside the sandbox (grader/data/colab.py)
INSTALL_HINT = ("install bubblewrap (Debian/Ubuntu: apt-get install bubblewrap; Fedora/RHEL: dnf install bubblewrap; "
                "Arch: pacman -S bubblewrap; openSUSE: zypper install bubblewrap) and allow unprivileged user "
                "namespaces")
_SYSTEM = ("/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32", "/etc", "/sys")
_SECRETS = ("/etc/shadow", "/etc/gshadow", "/etc/sudoers", "/etc/sudoers.d", "/etc/ssh", "/etc/ssl/private")
_LAUNCHER = Path(__file__).with_name("limits.py")
# Measured with the CUDA build of torch 2.14.1 (docs/measurements.md): `import torch` + a tiny training
# loop works with RLIMIT_DATA = 896 MB and fails at 832 MB ("failed to map segment"), so the fallback
# RLIMIT_DATA never goes below 1024 MB whatever memory_mb says.
_MIN_RLIMIT_DATA_MB = 1024


@dataclass(frozen=True)
class Support:
    """What this machine allows, detected once per process (see :func:`detect`)."""

    bwrap: str | None
    bwrap_problem: str | None
    cgroup_version: int | None
    cgroup_parents: dict[str, Path] = field(default_factory=dict)  # "memory"/"pids" -> where to create
    cgroup_problem: str | None = None


@functools.lru_cache(maxsize=1)
def detect() -> Support:
    """Probe bubblewrap (a tiny ``bwrap ... true``) and cgroup delegation; cached per process."""
    bwrap, problem = _probe_bwrap()
    version, parents, cg_problem = probe_cgroups()
    return Support(bwrap, problem, version, parents, cg_problem)


def _probe_bwrap() -> tuple[str | None, str | None]:
    path = shutil.which("bwrap")
    if path is None:
        return None, "bubblewrap (bwrap) is not installed"
    cmd = [path, "--unshare-all", "--unshare-user", "--disable-userns", "--die-with-parent", "--new-session",
           "--ro-bind", "/", "/", "--proc", "/proc", "--dev", "/dev", "--cap-drop", "ALL", "true"]
    try:
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=20, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return None, f"bwrap cannot run: {exc}"
    if done.returncode != 0:
        last = (done.stderr.strip().splitlines() or ["no message"])[-1]
        return None, f"bwrap does not work here (user namespaces disabled?): {last}"
    return path, None


def _python_dirs() -> list[Path]:
    """The interpreter, its standard library and its site-packages (read-only inside)."""
    dirs = {sys.prefix, sys.base_prefix, sys.exec_prefix, os.path.dirname(os.path.realpath(sys.executable)),
            *site.getsitepackages()}
    user_site = site.getusersitepackages()
    if user_site and os.path.isdir(user_site):
        dirs.add(user_site)
    real = {Path(os.path.realpath(d)) for d in dirs if os.path.isdir(d)}
    system = tuple(Path(s) for s in _SYSTEM)
    return sorted(p for p in real if not any(p == s or s in p.parents for s in system))


def _gpu_args() -> list[str]:
    """NVIDIA device nodes and the CUDA MPS pipe directory, bound only when grading on a GPU."""
    args: list[str] = []
    for node in sorted(glob.glob("/dev/nvidia*")):
        args += ["--dev-bind", node, node]
    mps = os.environ.get("CUDA_MPS_PIPE_DIRECTORY", "/tmp/nvidia-mps")
    if os.path.isdir(mps):
        args += ["--bind", mps, mps]
    return args


def bwrap_args(bwrap: str, *, rw: list[Path], ro: list[Path], gpu: bool, chdir: Path,
               sample_data: Path | None = None) -> list[str]:
    """bwrap's argv (without the command): private namespaces, read-only binds, ``rw`` writable, a private
    ``/content`` with ``sample_data`` (a folder of Colab's CSVs, grader/data/colab.py) read-only inside."""
    args = [bwrap, "--unshare-all", "--unshare-user", "--disable-userns", "--die-with-parent",
            "--new-session", "--cap-drop", "ALL", "--unsetenv", "JPY_PARENT_PID"]
    for d in _SYSTEM:
        if os.path.islink(d):
            args += ["--symlink", os.readlink(d), d]
        elif os.path.isdir(d):
            args += ["--ro-bind", d, d]
    for secret in _SECRETS:
        if os.path.isdir(secret):
            args += ["--tmpfs", secret]
        elif os.path.exists(secret):
            args += ["--ro-bind", "/dev/null", secret]
    # /tmp first: a Python install or data folder under /tmp (a CI checkout in /tmp) is bound on top of it
    args += ["--proc", "/proc", "--dev", "/dev", "--tmpfs", "/tmp", "--tmpfs", CONTENT]
    if sample_data is not None:
        args += ["--ro-bind", str(sample_data), f"{CONTENT}/sample_data"]
    for path in [*_python_dirs(), *ro]:
        args += ["--ro-bind", str(path), str(path)]
    if gpu:
        args += _gpu_args()
    for path in rw:
        args += ["--bind", str(path), str(path)]
    return [*args, "--remount-ro", "/", "--chdir", str(chdir)]


@dataclass
class Sandbox:
    """One kernel's sandbox: the wrapper argv, extra environment, and what was in force (``info``)."""

    wrapper: list[str]
    env: dict[str, str]
    info: dict[str, Any]
    cgroups: Cgroups | None = None

    def __enter__(self) -> Sandbox:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def memory_killed(self) -> bool:
        """True when the memory cgroup's OOM killer ended a process of this kernel."""
        return self.cgroups is not None and self.cgroups.oom_kills() > 0

    def finish(self) -> None:
        """Record what the cgroups saw (peak memory, limit hits) in ``info``."""
        if self.cgroups is None:
            return
        self.info["memory_peak_mb"] = self.cgroups.peak_mb()
        self.info["memory_limit_hit"] = self.memory_killed()
        self.info["pids_limit_hit"] = self.cgroups.fork_refusals() > 0

    def close(self) -> None:
        if self.cgroups is not None:
            self.cgroups.close()


def requested_mode(mode: str) -> str:
    """The sandbox mode after ``GRADER_SANDBOX`` (``off``/``require``) from the environment."""
    env = os.environ.get("GRADER_SANDBOX", "").strip().lower()
    if mode not in MODES:
        raise UsageError(f"sandbox mode must be one of {', '.join(MODES)}, not {mode!r}")
    return env if mode == "auto" and env in MODES else mode


def check_required(mode: str) -> None:
    """UsageError when the sandbox is required but this machine cannot provide it."""
    mode = requested_mode(mode)
    if mode == "require" and detect().bwrap is None:
        raise UsageError(f"--require-sandbox: no sandbox is possible on this machine: {detect().bwrap_problem}; "
                         f"{INSTALL_HINT}")


def batch_mode(mode: str) -> str:
    """The sandbox mode of ``grader batch``, which runs other people's code: ``auto`` (no option and no
    ``GRADER_SANDBOX``) becomes ``require``; ``--no-sandbox`` (or ``GRADER_SANDBOX=off``) opts out, and
    ``GRADER_SANDBOX=auto`` keeps sandbox-where-possible. UsageError, saying how to install bubblewrap, where
    the sandbox is required and impossible."""
    env = os.environ.get("GRADER_SANDBOX", "").strip().lower()
    mode = requested_mode(mode)
    if mode != "auto" or env == "auto":
        return mode
    if detect().bwrap is None:
        raise UsageError("grader batch runs other people's code and refuses to run it without the sandbox: "
                         f"{detect().bwrap_problem}. To grade sandboxed, {INSTALL_HINT}; to grade trusted code "
                         "without it, pass --no-sandbox")
    return "require"


def _base_info(limits: SandboxLimits) -> dict[str, Any]:
    return {"enabled": False, "tool": None, "network": "host", "filesystem": "unrestricted",
            "memory_limit_mb": None, "memory_limit_by": None, "pids_limit": None,
            "cpu_time_s": None, "file_size_mb": None,
            "output_kb": limits.output_kb, "missing": []}


def _limits_part(support: Support, limits: SandboxLimits, name: str,
                 info: dict[str, Any]) -> tuple[list[str], Cgroups | None]:
    """The launcher's argv (cgroups joined, rlimits set) and the cgroups created for it."""
    cgroups = None
    info.update(cpu_time_s=limits.cpu_time_s, file_size_mb=limits.file_size_mb)
    argv = [sys.executable, "-S", "-E", str(_LAUNCHER), "--cpu", str(limits.cpu_time_s),
            "--fsize", str(limits.file_size_mb * 2**20)]
    if support.cgroup_parents:
        try:
            cgroups = Cgroups(support.cgroup_version or 0, support.cgroup_parents, limits.memory_mb,
                              limits.pids, name)
            argv += [a for p in cgroups.join_paths() for a in ("--cgroup", p)]
        except OSError as exc:
            info["missing"].append(f"cgroups could not be created: {exc}")
    dirs = cgroups.dirs if cgroups else {}
    if "memory" in dirs:
        info.update(memory_limit_mb=limits.memory_mb, memory_limit_by=f"cgroup v{support.cgroup_version}")
    else:
        data_mb = max(limits.memory_mb, _MIN_RLIMIT_DATA_MB)
        argv += ["--data", str(data_mb * 2**20)]
        info.update(memory_limit_mb=data_mb, memory_limit_by="RLIMIT_DATA")
        info["missing"].append(f"no memory cgroup ({support.cgroup_problem}): memory limited by RLIMIT_DATA, "
                               "which does not count shared memory or page cache")
    if "pids" in dirs:
        info["pids_limit"] = limits.pids
    else:
        info["missing"].append(f"no process limit: no pids cgroup ({support.cgroup_problem}) and "
                               "RLIMIT_NPROC counts per user (and does not apply to root)")
    return [*argv, "--"], cgroups


def prepare_sandbox(mode: str, limits: SandboxLimits, *, work: Path, writable: list[Path], data_root: Path | None,
                    gpu: bool, name: str, sample_data: Path | None = None) -> Sandbox:
    """The sandbox for one kernel running in ``work`` (``writable``: probe and socket folders; ``sample_data``:
    the folder bound read-only at ``/content/sample_data``).

    ``mode``: ``auto`` (sandbox where possible, else graded with ``enabled: false`` and the reason),
    ``off``, or ``require`` (UsageError where impossible; see :func:`check_required`).
    """
    mode = requested_mode(mode)
    info = _base_info(limits)
    if mode == "off":
        info["missing"].append("sandbox disabled (--no-sandbox or GRADER_SANDBOX=off)")
        return Sandbox([], {}, info)
    check_required(mode)
    support = detect()
    argv, cgroups = _limits_part(support, limits, name, info)
    if support.bwrap is None:
        info["missing"].append(f"no filesystem/network isolation: {support.bwrap_problem}")
        return Sandbox(argv, {}, info, cgroups)
    rw = [Path(os.path.realpath(p)) for p in (work, *writable)]
    ro = [Path(os.path.realpath(data_root))] if data_root is not None else []  # the data served, if any
    argv += bwrap_args(support.bwrap, rw=rw, ro=ro, gpu=gpu, chdir=rw[0],
                       sample_data=Path(os.path.realpath(sample_data)) if sample_data is not None else None)
    info.update(enabled=True, tool="bwrap", network="none",
                filesystem="read-only system and Python; writable: work dir, probe dir, private /tmp and "
                           "/content; nothing else of the host visible",
                gpu_devices=gpu)
    env = {"HOME": "/tmp", "TMPDIR": "/tmp", "IPYTHONDIR": "/tmp/.ipython", "MPLCONFIGDIR": "/tmp/.matplotlib",
           "PIP_RETRIES": "0", "PIP_TIMEOUT": "3"}
    return Sandbox(argv, env, info, cgroups)


def summary(info: dict[str, Any] | None) -> str:
    """One line for the CLI and the report pages, e.g. ``sandbox: on (bwrap, network none, ...); memory ...``."""
    if not info:
        return "sandbox: unknown"
    parts = []
    if info.get("memory_limit_mb"):
        parts.append(f"memory {info['memory_limit_mb']} MB ({info.get('memory_limit_by')})")
    if info.get("pids_limit"):
        parts.append(f"{info['pids_limit']} processes")
    if info.get("cpu_time_s"):
        parts.append(f"cpu {info['cpu_time_s']} s, files {info.get('file_size_mb')} MB")
    limits = "; " + ", ".join(parts) if parts else ""
    if not info.get("enabled"):
        why = next((m for m in info.get("missing", []) if "isolation" in m or "disabled" in m), "unknown reason")
        return f"sandbox: off ({why}){limits}"
    return f"sandbox: on ({info['tool']}, network {info['network']}, read-only filesystem){limits}"
