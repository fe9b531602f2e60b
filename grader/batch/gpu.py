"""Many submissions on one GPU: how many at once, which GPU each gets, CUDA MPS, a GPU memory guard.

* **Discovery** (:func:`discover_devices`) asks torch in a short child process (count, name, UUID,
  total/free memory through ``torch.cuda.mem_get_info``), so the batch parent never holds a CUDA context
  of its own for the whole batch; ``CUDA_VISIBLE_DEVICES`` of the grader is honoured.
* **Jobs** (:func:`plan_jobs`): ``min(cores, Σ_gpus min(16, floor(0.9 · free / budget)))``; without a GPU
  one per core, at most 8. ``--jobs`` overrides. The per-submission budget is ``gpu_memory_mb`` from
  ``[gpu]`` in assignment.toml (default 1500 MB: the homework's MLP, its batches and the CUDA context).
* **Placement** (:meth:`GpuPlan.env_for`): round-robin over the GPUs, each weighted by the submissions its
  free memory holds, through ``CUDA_VISIBLE_DEVICES`` (the GPU's UUID when known: indices are remapped
  under MPS).
* **MPS** (:func:`mps_daemon`): the control daemon is started with a private pipe/log directory around
  the batch and stopped after it (``echo quit | nvidia-cuda-mps-control``). ``auto``: on when it starts
  and a test client connects, else off with the reason; ``on``: refuse (UsageError) where it cannot;
  ``off``. While it runs, ``CUDA_MPS_PIPE_DIRECTORY`` is set in this process's environment, so spawned
  workers, their sandboxes (which bind that directory, see :mod:`grader.execution.sandbox`) and their
  kernels all see the same one.
* **Memory guard**: with MPS ``CUDA_MPS_PINNED_DEVICE_MEM_LIMIT=0=<budget>M`` (enforced by the MPS
  server); without, ``GRADER_GPU_MEM_FRACTION`` asks the probe to call
  ``torch.cuda.set_per_process_memory_fraction`` (cooperative: student code could undo it). The result's
  ``gpu`` object (:func:`result_info`) says which guard was in force.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from grader.errors import UsageError
from grader.execution.gpu import ENV_FRACTION, ENV_MPS_LIMIT, cuda_available

MPS_MODES = ("auto", "on", "off")
DEFAULT_BUDGET_MB = 1500  # 6x256 MLP + Adam + batch 100: < 100 MB of tensors; the CUDA context ≈ 500 MB
CONTEXT_MB = 500  # the CUDA context is outside torch's caching allocator: not counted by the fraction
MEMORY_SHARE = 0.9  # of the free memory we plan to use (the rest: fragmentation, other users)
JOBS_PER_GPU = 16  # measured on an H100: 16 lecture-style trainings side by side ≈ 12x one alone
MAX_CPU_JOBS = 8
MPS_CONTROL = "nvidia-cuda-mps-control"
ENV_PIPE = "CUDA_MPS_PIPE_DIRECTORY"
ENV_LOG = "CUDA_MPS_LOG_DIRECTORY"

_DISCOVER = """
import json, torch
out = []
if torch.cuda.is_available():
    for i in range(torch.cuda.device_count()):
        p = torch.cuda.get_device_properties(i)
        free, total = torch.cuda.mem_get_info(i)
        uuid = str(getattr(p, "uuid", "") or "")
        out.append({"index": i, "name": p.name, "uuid": uuid, "total_mb": total // 2**20, "free_mb": free // 2**20})
print(json.dumps(out))
"""


@dataclass(frozen=True)
class Device:
    """One visible GPU as torch sees it (``index`` is torch's, after the grader's CUDA_VISIBLE_DEVICES)."""

    index: int
    name: str
    total_mb: int
    free_mb: int
    uuid: str = ""

    @property
    def visible_id(self) -> str:
        """What to put in a kernel's ``CUDA_VISIBLE_DEVICES``: ``GPU-<uuid>`` when known, else the index."""
        if not self.uuid:
            return str(self.index)
        return self.uuid if self.uuid.startswith(("GPU-", "MIG-")) else f"GPU-{self.uuid}"


@dataclass(frozen=True)
class MpsState:
    """Whether CUDA MPS is in force for the batch, and why (or why not)."""

    on: bool
    reason: str
    pipe_dir: str | None = None


@dataclass(frozen=True)
class GpuPlan:
    """How a batch uses the machine's GPUs (or none): jobs, placement, MPS, memory guard."""

    devices: tuple[Device, ...]
    jobs: int
    jobs_reason: str
    budget_mb: int
    mps: MpsState = field(default_factory=lambda: MpsState(False, "no GPU"))

    @property
    def guard(self) -> str:
        """``mps`` (enforced), ``fraction`` (cooperative, in the probe) or ``none`` (no GPU in use)."""
        if not self.devices:
            return "none"
        return "mps" if self.mps.on else "fraction"

    def wheel(self) -> list[Device]:
        """The placement cycle: each GPU as often as it has room for submissions (a busy GPU less, a full
        one never, unless all are full), interleaved: equal GPUs simply alternate."""
        rooms = [room(d, self.budget_mb) for d in self.devices]
        if not any(rooms):
            return list(self.devices)
        return [d for k in range(max(rooms)) for d, r in zip(self.devices, rooms, strict=True) if k < r]

    def env_for(self, slot: int) -> dict[str, str]:
        """The kernel environment of the ``slot``-th submission handed out (round-robin over :meth:`wheel`)."""
        if not self.devices:
            return {}
        wheel = self.wheel()
        dev = wheel[slot % len(wheel)]
        env = {"CUDA_VISIBLE_DEVICES": dev.visible_id}
        if self.guard == "mps":
            env[ENV_MPS_LIMIT] = f"0={self.budget_mb}M"
        else:
            env[ENV_FRACTION] = f"{memory_fraction(self.budget_mb, dev.total_mb):.6f}"
        return env

    def info(self) -> dict[str, Any]:
        """The plan as JSON (the batch summary's ``gpu`` object)."""
        return {"devices": [asdict(d) for d in self.devices], "jobs": self.jobs, "jobs_reason": self.jobs_reason,
                "budget_mb": self.budget_mb, "mps": self.mps.on, "mps_reason": self.mps.reason,
                "memory_guard": self.guard}

    def line(self) -> str:
        """One line for the CLI, e.g. ``GPU plan: 1 × NVIDIA H100 …; 16 at once (…); MPS on (…); guard …``."""
        if not self.devices:
            return f"GPU plan: no GPU in use; {self.jobs} at once ({self.jobs_reason})"
        names = sorted({d.name for d in self.devices})
        guard = ("MPS pinned memory limit (enforced)" if self.guard == "mps"
                 else "torch memory fraction (cooperative)")
        return (f"GPU plan: {len(self.devices)} × {', '.join(names)}; {self.jobs} at once ({self.jobs_reason}); "
                f"MPS {'on' if self.mps.on else 'off'} ({self.mps.reason}); GPU memory {self.budget_mb} MB per "
                f"submission, {guard}")


def cpu_cores() -> int:
    """CPU cores this process may use."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover (macOS, Windows)
        return os.cpu_count() or 1


def discover_devices(timeout_s: float = 120.0) -> list[Device]:
    """The GPUs torch sees, measured in a child process; ``[]`` without CUDA or when the probe fails.
    ``torch.cuda.is_available()`` here first: it creates no CUDA context and spares CPU-only machines
    the child process."""
    if not cuda_available():
        return []
    try:
        done = subprocess.run([sys.executable, "-c", _DISCOVER], capture_output=True, text=True,
                              timeout=timeout_s, check=False)
        rows = json.loads(done.stdout.strip().splitlines()[-1]) if done.returncode == 0 else []
    except (OSError, subprocess.TimeoutExpired, ValueError, IndexError):
        return []
    return [Device(int(r["index"]), str(r["name"]), int(r["total_mb"]), int(r["free_mb"]), str(r.get("uuid", "")))
            for r in rows]


def budget_mb(assignment_root: Path | None) -> int:
    """``[gpu] gpu_memory_mb`` of the assignment (positive integer), else :data:`DEFAULT_BUDGET_MB`."""
    if assignment_root is None or not (assignment_root / "assignment.toml").is_file():
        return DEFAULT_BUDGET_MB
    if sys.version_info >= (3, 11):
        import tomllib
    else:  # pragma: no cover
        import tomli as tomllib
    table = tomllib.loads((assignment_root / "assignment.toml").read_text(encoding="utf-8")).get("gpu", {})
    value = table.get("gpu_memory_mb", DEFAULT_BUDGET_MB)
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise UsageError(f"[gpu].gpu_memory_mb must be a positive integer, not {value!r}")
    return value


def memory_fraction(budget: int, total_mb: int) -> float:
    """The caching allocator's share of one GPU for a ``budget`` MB submission (its CUDA context excluded)."""
    allocator_mb = max(budget - CONTEXT_MB, budget // 2)
    return min(1.0, allocator_mb / max(total_mb, 1))


def room(device: Device, budget: int, per_gpu: int = JOBS_PER_GPU) -> int:
    """Submissions one GPU takes at once: ``min(per_gpu, floor(0.9 · free / budget))``."""
    return min(per_gpu, int(MEMORY_SHARE * device.free_mb) // budget)


def plan_jobs(devices: list[Device] | tuple[Device, ...], cores: int, budget: int,
              per_gpu: int = JOBS_PER_GPU) -> tuple[int, str]:
    """Default number of submissions at once and how it was chosen (pure arithmetic, tested on CPU):
    ``min(cores, Σ_gpus min(per_gpu, floor(0.9 · free / budget)))``, at least 1; 8 at most without a GPU."""
    cores = max(1, cores)
    if not devices:
        jobs = min(cores, MAX_CPU_JOBS)
        return jobs, f"min(cores {cores}, {MAX_CPU_JOBS} without a GPU)"
    total = sum(room(d, budget, per_gpu) for d in devices)
    jobs = max(1, min(cores, total))
    return jobs, (f"min(cores {cores}, GPU room {total}: per GPU min({per_gpu}, "
                  f"{int(MEMORY_SHARE * 100)} % of free memory / {budget} MB))")


def make_plan(devices: list[Device], cores: int, budget: int, jobs: int | None, mps: MpsState) -> GpuPlan:
    """The plan for a batch; an explicit ``jobs`` (``--jobs``) wins over the computed default."""
    default, why = plan_jobs(devices, cores, budget)
    if jobs is not None:
        return GpuPlan(tuple(devices), jobs, f"--jobs {jobs}; default would be {default}: {why}", budget, mps)
    return GpuPlan(tuple(devices), default, why, budget, mps)


# ------------------------------------------------------------------------------------------------ MPS
def _control(binary: str, env: dict[str, str], stdin: str | None = None, *args: str) -> tuple[int, str]:
    """Run the control program; (exit code, its output or the reason it could not run)."""
    try:
        done = subprocess.run([binary, *args], input=stdin, env=env, capture_output=True, text=True,
                              timeout=30, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return -1, f"{type(exc).__name__}: {exc}"
    return done.returncode, (done.stdout + done.stderr).strip()


def mps_env(tmp: Path) -> dict[str, str]:
    """The private pipe/log directories of a daemon started in ``tmp``."""
    return {ENV_PIPE: str(tmp / "pipe"), ENV_LOG: str(tmp / "log")}


def _client_check(env: dict[str, str], tmp: Path, sandbox: str, timeout_s: float = 120.0) -> str | None:
    """Start one CUDA client under the daemon, in the sandbox kernels get (``sandbox``: its mode), allocating
    on every GPU; None when it worked, else why not. The pipe directory is bound into that sandbox."""
    from grader.execution.sandbox import SandboxLimits, prepare_sandbox

    code = ("import torch\n[torch.zeros(1, device=f'cuda:{i}').sum().item() "
            "for i in range(torch.cuda.device_count())]\nprint('ok')")
    work = tmp / "check"
    work.mkdir()
    saved = {k: os.environ.get(k) for k in (ENV_PIPE, ENV_LOG)}
    os.environ.update({ENV_PIPE: env[ENV_PIPE], ENV_LOG: env[ENV_LOG]})  # the sandbox binds ENV_PIPE
    try:
        box = prepare_sandbox(sandbox, SandboxLimits(), work=work, writable=[], data_root=work, gpu=True,
                              name=f"grader-mps-check-{os.getpid()}")
    finally:
        _restore(saved)
    try:
        done = subprocess.run([*box.wrapper, sys.executable, "-c", code], env={**env, **box.env}, cwd=work,
                              capture_output=True, text=True, timeout=timeout_s, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"test client: {type(exc).__name__}: {exc}"
    finally:
        box.close()
    if done.returncode == 0 and done.stdout.strip().endswith("ok"):
        return None
    last = (done.stderr.strip().splitlines() or ["no message"])[-1]
    where = " in the sandbox" if box.info.get("enabled") else ""
    return f"a test client{where} could not use the GPU under MPS: {last}"


def _restore(saved: dict[str, str | None]) -> None:
    """Put environment variables back as they were (absent ones removed)."""
    for k, v in saved.items():
        if v is None:
            os.environ.pop(k, None)
        else:
            os.environ[k] = v


def _log_tail(tmp: Path) -> str:
    log = tmp / "log" / "control.log"
    try:
        lines = log.read_text(errors="replace").strip().splitlines()
    except OSError:
        return ""
    return f" (control.log: {lines[-1]})" if lines else ""


def _start(binary: str, tmp: Path, client_check: str | None) -> tuple[MpsState, dict[str, str] | None]:
    """Start the daemon in ``tmp``; (state, the environment it runs with, or None when it is not running)."""
    for sub in ("pipe", "log"):
        (tmp / sub).mkdir(mode=0o700)
    env = {**os.environ, **mps_env(tmp)}
    code, out = _control(binary, env, None, "-d")
    if code != 0:
        return MpsState(False, f"{MPS_CONTROL} -d failed ({code}): {out or 'no message'}{_log_tail(tmp)}"), None
    problem = _client_check(env, tmp, client_check) if client_check else None
    if problem:
        _control(binary, env, "quit\n")
        return MpsState(False, problem + _log_tail(tmp)), None
    return MpsState(True, "started by the grader for this batch", str(tmp / "pipe")), env


@contextmanager
def mps_daemon(mode: str, devices: list[Device], *, binary: str | None = None,
               client_check: str | None = "auto") -> Iterator[MpsState]:
    """CUDA MPS around a batch. ``mode``: ``auto`` (on when it starts), ``on`` (UsageError where it cannot
    start), ``off``. The daemon is stopped and its directory removed on exit; while it runs,
    ``CUDA_MPS_PIPE_DIRECTORY``/``CUDA_MPS_LOG_DIRECTORY`` are set in ``os.environ`` (restored after).
    ``client_check``: the sandbox mode (auto|require|off) of a test client that must use the GPU through
    the daemon before MPS counts as started; None skips it."""
    if mode not in MPS_MODES:
        raise UsageError(f"--mps must be one of {', '.join(MPS_MODES)}, not {mode!r}")
    state, env, tmp = _open(mode, devices, binary, client_check)
    saved = {k: os.environ.get(k) for k in (ENV_PIPE, ENV_LOG)}
    if env is not None:
        os.environ.update(mps_env(Path(tmp or "")))
    try:
        yield state
    finally:
        if env is not None:
            _restore(saved)
            _control(binary or MPS_CONTROL, env, "quit\n")
        if tmp:
            shutil.rmtree(tmp, ignore_errors=True)


def _open(mode: str, devices: list[Device], binary: str | None,
          client_check: str | None) -> tuple[MpsState, dict[str, str] | None, str | None]:
    """Decide and (maybe) start: (state, the daemon's environment or None, its temp dir or None)."""
    if mode == "off":
        return MpsState(False, "--mps off"), None, None
    if not devices:
        state = MpsState(False, "no GPU in use")
    elif (found := binary or shutil.which(MPS_CONTROL)) is None or not os.access(found, os.X_OK):
        state = MpsState(False, f"{MPS_CONTROL} not found (install the NVIDIA compute utilities)")
    else:
        tmp = tempfile.mkdtemp(prefix="grader-mps-")
        state, env = _start(found, Path(tmp), client_check)
        if env is not None:
            return state, env, tmp
        shutil.rmtree(tmp, ignore_errors=True)
    if mode == "on":
        raise UsageError(f"--mps on: CUDA MPS cannot be used here: {state.reason}; use --mps auto or off")
    return state, None, None


@contextmanager
def batch_gpu(assignment_root: Path | None, device: str, jobs: int | None, mps: str = "auto",
              devices: list[Device] | None = None, sandbox: str = "auto") -> Iterator[GpuPlan]:
    """The whole GPU set-up of a local batch: discover (unless ``devices`` is given or ``device`` is
    ``cpu``), start MPS per ``mps`` (checked with a client in a ``sandbox``-mode sandbox, as kernels run),
    plan jobs and placement; MPS is stopped when the block ends."""
    if mps not in MPS_MODES:
        raise UsageError(f"--mps must be one of {', '.join(MPS_MODES)}, not {mps!r}")
    if device == "cpu":
        found: list[Device] = []
    else:
        found = discover_devices() if devices is None else list(devices)
    budget = budget_mb(assignment_root)
    with mps_daemon(mps, found, client_check=sandbox) as state:
        if device == "cpu" and not state.on and mps != "off":
            state = MpsState(False, "--device cpu: no GPU in use")
        yield make_plan(found, cpu_cores(), budget, jobs, state)
