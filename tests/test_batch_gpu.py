"""GPU batch planning on CPU: jobs from given device facts, per-submission environment, CUDA MPS start/stop
and refusal, the probe's memory-fraction guard being a recorded no-op without CUDA.

What needs a real GPU (discovery numbers, MPS clients inside the sandbox, the guards biting) is exercised by
``benchmarks/gpu_throughput.py`` on a GPU machine, not here.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest
from scenarios import write_notebook

from grader.assignment import load_assignment
from grader.batch import gpu
from grader.batch.discover import discover
from grader.batch.gpu import Device, GpuPlan, MpsState, batch_gpu, make_plan, mps_daemon, plan_jobs
from grader.batch.runner import run_batch
from grader.cli import main
from grader.errors import UsageError
from grader.execution.gpu import result_info
from grader.pipeline import GradeOptions

H100 = Device(0, "NVIDIA H100 80GB HBM3", total_mb=81_559, free_mb=81_000, uuid="GPU-aaaa")
H100_B = Device(1, "NVIDIA H100 80GB HBM3", total_mb=81_559, free_mb=81_000, uuid="bbbb")
SMALL = Device(0, "NVIDIA T4", total_mb=15_360, free_mb=5_000)


def test_jobs_from_cores_memory_and_per_gpu_cap() -> None:
    assert plan_jobs([H100], cores=16, budget=1500)[0] == 16  # memory allows 48, the cap is 16 per GPU
    assert plan_jobs([H100], cores=2, budget=1500)[0] == 2  # cores bound
    assert plan_jobs([H100, H100_B], cores=64, budget=1500)[0] == 32
    assert plan_jobs([SMALL], cores=16, budget=1500)[0] == 3  # floor(0.9 * 5000 / 1500)
    assert plan_jobs([Device(0, "tiny", 2000, 1000)], cores=16, budget=1500)[0] == 1  # never 0
    assert plan_jobs([], cores=2, budget=1500)[0] == 2
    assert plan_jobs([], cores=32, budget=1500)[0] == 8  # without a GPU at most 8
    jobs, why = plan_jobs([SMALL], cores=16, budget=1500)
    assert "cores 16" in why and "GPU room 3" in why and "min(16, 90 % of free memory / 1500 MB)" in why


def test_explicit_jobs_win_and_say_the_default() -> None:
    plan = make_plan([H100], cores=16, budget=1500, jobs=3, mps=MpsState(False, "--mps off"))
    assert plan.jobs == 3 and "--jobs 3" in plan.jobs_reason and "default would be 16" in plan.jobs_reason


def test_env_round_robin_with_fraction_guard_without_mps() -> None:
    plan = make_plan([H100, H100_B], cores=16, budget=1500, jobs=None, mps=MpsState(False, "not found"))
    envs = [plan.env_for(i) for i in range(3)]
    assert [e["CUDA_VISIBLE_DEVICES"] for e in envs] == ["GPU-aaaa", "GPU-bbbb", "GPU-aaaa"]
    assert float(envs[0]["GRADER_GPU_MEM_FRACTION"]) == pytest.approx((1500 - 500) / 81_559, abs=1e-6)
    assert "CUDA_MPS_PINNED_DEVICE_MEM_LIMIT" not in envs[0]
    assert plan.guard == "fraction" and plan.info()["memory_guard"] == "fraction"
    assert "MPS off (not found)" in plan.line() and "cooperative" in plan.line()
    no_uuid = make_plan([SMALL], cores=4, budget=1500, jobs=None, mps=MpsState(False, "x"))
    assert no_uuid.env_for(5)["CUDA_VISIBLE_DEVICES"] == "0"


def test_placement_weighted_by_free_memory() -> None:
    busy = Device(1, "NVIDIA H100 80GB HBM3", total_mb=81_559, free_mb=5_000, uuid="GPU-busy")  # room for 3
    full = Device(2, "NVIDIA H100 80GB HBM3", total_mb=81_559, free_mb=1_000, uuid="GPU-full")  # room for 0
    plan = make_plan([H100, busy, full], cores=64, budget=1500, jobs=None, mps=MpsState(False, "x"))
    assert plan.jobs == 19
    ids = [plan.env_for(i)["CUDA_VISIBLE_DEVICES"] for i in range(19)]
    assert ids.count("GPU-aaaa") == 16 and ids.count("GPU-busy") == 3 and "GPU-full" not in ids
    assert ids[:4] == ["GPU-aaaa", "GPU-busy", "GPU-aaaa", "GPU-busy"]
    only_full = make_plan([full], cores=4, budget=1500, jobs=None, mps=MpsState(False, "x"))
    assert only_full.jobs == 1 and only_full.env_for(0)["CUDA_VISIBLE_DEVICES"] == "GPU-full"


def test_env_with_mps_sets_the_enforced_limit() -> None:
    plan = GpuPlan((H100,), 16, "why", 2000, MpsState(True, "started", "/tmp/p"))
    env = plan.env_for(0)
    assert env == {"CUDA_VISIBLE_DEVICES": "GPU-aaaa", "CUDA_MPS_PINNED_DEVICE_MEM_LIMIT": "0=2000M"}
    assert "MPS on (started)" in plan.line() and "enforced" in plan.line()
    assert GpuPlan((), 2, "why", 1500).env_for(0) == {}


def test_budget_from_assignment(tmp_path: Path) -> None:
    assert gpu.budget_mb(load_assignment().root) == 1500
    assert gpu.budget_mb(None) == gpu.DEFAULT_BUDGET_MB
    (tmp_path / "assignment.toml").write_text("[gpu]\ngpu_memory_mb = 2500\n")
    assert gpu.budget_mb(tmp_path) == 2500
    (tmp_path / "assignment.toml").write_text("[gpu]\ngpu_memory_mb = -1\n")
    with pytest.raises(UsageError, match="gpu_memory_mb"):
        gpu.budget_mb(tmp_path)


def test_mps_missing_is_off_with_reason_and_on_refuses(tmp_path: Path) -> None:
    missing = str(tmp_path / "nvidia-cuda-mps-control")
    with mps_daemon("auto", [H100], binary=missing) as state:
        assert not state.on and "not found" in state.reason and state.pipe_dir is None
    with pytest.raises(UsageError, match="--mps on: CUDA MPS cannot be used here: .*not found"):
        with mps_daemon("on", [H100], binary=missing):
            pass
    with mps_daemon("off", [H100], binary=missing) as state:
        assert not state.on and state.reason == "--mps off"
    with mps_daemon("auto", []) as state:
        assert not state.on and state.reason == "no GPU in use"
    with pytest.raises(UsageError, match="--mps must be"):
        with mps_daemon("sometimes", [H100]):
            pass


def _fake_control(tmp_path: Path, exit_code: int = 0) -> tuple[Path, Path]:
    """A stand-in for nvidia-cuda-mps-control that logs its argv, pipe dir and stdin."""
    log = tmp_path / "calls.log"
    script = tmp_path / "nvidia-cuda-mps-control"
    script.write_text("#!/bin/sh\n"
                      f'echo "args=$* pipe=$CUDA_MPS_PIPE_DIRECTORY log=$CUDA_MPS_LOG_DIRECTORY" >> {log}\n'
                      f'if [ -z "$1" ]; then cat >> {log}; fi\n'
                      + (f'echo "daemon refused: GPU in exclusive mode" >&2\nexit {exit_code}\n' if exit_code else ""))
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    return script, log


def test_mps_start_and_stop_commands(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CUDA_MPS_PIPE_DIRECTORY", raising=False)
    script, log = _fake_control(tmp_path)
    with mps_daemon("on", [H100], binary=str(script), client_check=None) as state:
        assert state.on and state.pipe_dir is not None
        assert os.environ["CUDA_MPS_PIPE_DIRECTORY"] == state.pipe_dir  # workers, sandbox and kernels see it
        assert Path(state.pipe_dir).is_dir() and oct(Path(state.pipe_dir).stat().st_mode & 0o777) == "0o700"
        started = log.read_text()
    assert "CUDA_MPS_PIPE_DIRECTORY" not in os.environ
    assert not Path(state.pipe_dir).exists()
    lines = log.read_text().splitlines()
    assert lines[0].startswith("args=-d pipe=" + state.pipe_dir) and "log=" in lines[0]
    assert started.count("\n") == 1
    assert lines[1] == f"args= pipe={state.pipe_dir} log={Path(state.pipe_dir).parent / 'log'}"
    assert lines[2] == "quit"


def test_mps_failing_daemon(tmp_path: Path) -> None:
    script, _ = _fake_control(tmp_path, exit_code=1)
    with mps_daemon("auto", [H100], binary=str(script), client_check=None) as state:
        assert not state.on and "exclusive mode" in state.reason and "failed (1)" in state.reason
    with pytest.raises(UsageError, match="exclusive mode"):
        with mps_daemon("on", [H100], binary=str(script), client_check=None):
            pass


def test_batch_gpu_on_cpu() -> None:
    with batch_gpu(load_assignment().root, "cpu", None, "auto", devices=[H100]) as plan:
        assert plan.devices == () and plan.env_for(0) == {} and plan.guard == "none"
        assert plan.mps.reason == "--device cpu: no GPU in use"
    with batch_gpu(None, "auto", 4, "off", devices=[H100]) as plan:
        assert plan.jobs == 4 and plan.env_for(1)["CUDA_VISIBLE_DEVICES"] == "GPU-aaaa"
        assert plan.mps.reason == "--mps off" and plan.guard == "fraction"


def test_result_info() -> None:
    mps = result_info({"CUDA_VISIBLE_DEVICES": "GPU-a", "CUDA_MPS_PINNED_DEVICE_MEM_LIMIT": "0=1500M"}, {})
    assert mps["memory_guard"] == "mps" and mps["mps"] and mps["visible_devices"] == "GPU-a"
    frac = result_info({"GRADER_GPU_MEM_FRACTION": "0.01"}, {"gpu_guard": {"applied": True, "fraction": 0.01}})
    assert frac["memory_guard"] == "fraction" and "cooperative" in frac["memory_guard_detail"]
    cpu = result_info({"GRADER_GPU_MEM_FRACTION": "0.01"},
                      {"gpu_guard": {"applied": False, "reason": "no CUDA in the kernel: no GPU memory to guard"}})
    assert cpu["memory_guard"] == "none" and "no CUDA" in cpu["memory_guard_detail"]
    assert result_info({}, None)["memory_guard"] == "none"


def test_probe_guard_is_a_noop_without_cuda(monkeypatch: pytest.MonkeyPatch) -> None:
    from grader.recording import probe_device

    monkeypatch.setenv("GRADER_GPU_MEM_FRACTION", "0.25")
    assert probe_device.gpu_memory_guard(False) == {"applied": False, "fraction": "0.25",
                                                    "reason": "no CUDA in the kernel: no GPU memory to guard"}
    monkeypatch.delenv("GRADER_GPU_MEM_FRACTION")
    assert probe_device.gpu_memory_guard(False)["applied"] is False


def test_cli_mps_on_refuses_without_gpu(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    subs = tmp_path / "subs"
    subs.mkdir()
    write_notebook(subs, "kim", ["x = 1"])
    assert main(["batch", str(subs), "--mps", "on", "--out", str(tmp_path / "out"), "--no-progress"]) == 2
    assert "--mps on: CUDA MPS cannot be used here: no GPU in use" in capsys.readouterr().err
    assert main(["batch", str(subs), "--mps", "off", "--backend", "ray"]) == 2
    assert "--mps are for --backend local" in capsys.readouterr().err


def test_batch_records_plan_and_guard_on_cpu(tmp_path: Path) -> None:
    """One real kernel: the fraction env var reaches the probe, which records that it had nothing to guard."""
    subs = tmp_path / "subs"
    subs.mkdir()
    write_notebook(subs, "lee", ["x = 1"])
    lines: list[str] = []
    with discover(subs) as found:
        summary = run_batch(found.entries, load_assignment(), GradeOptions(env={"GRADER_GPU_MEM_FRACTION": "0.2"}),
                            tmp_path / "out", jobs=1, announce=lines.append)
    assert summary.gpu is not None and summary.gpu["mps"] is False and summary.gpu["memory_guard"] == "none"
    assert lines and lines[0].startswith("GPU plan: no GPU in use; 1 at once")
    (res,) = summary.results
    assert res["status"] != "failed"
    assert res["gpu"]["memory_guard"] == "none" and "no CUDA" in res["gpu"]["memory_guard_detail"]
