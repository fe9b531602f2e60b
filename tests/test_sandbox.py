"""The sandbox, proven with hostile submissions graded through the real pipeline (real kernels, subset data).

One hostile notebook (one kernel) holds most attacks, one per cell; a cell *raises* when the protection
held, so each test reads its verdict from the result's ``errors``. Without the protection the cell would
not raise (or raise something else) and the test fails. The memory bomb kills its kernel, so it has its
own notebook, followed by a normal one.
"""

from __future__ import annotations

import dataclasses
import json
import os
import re
import socket
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import nbformat
import pytest

from grader.assignment import Assignment, load_assignment
from grader.cli.main import main
from grader.data import mnist
from grader.errors import UsageError
from grader.execution import sandbox
from grader.execution.sandbox import SandboxLimits, Support, summary
from grader.pipeline import GradeOptions, grade_file

SUPPORT = sandbox.detect()
needs_bwrap = pytest.mark.skipif(SUPPORT.bwrap is None, reason=f"no sandbox here: {SUPPORT.bwrap_problem}")
needs_cgroups = pytest.mark.skipif(not {"memory", "pids"} <= set(SUPPORT.cgroup_parents),
                                   reason=f"no memory/pids cgroups here: {SUPPORT.cgroup_problem}")
def test_sandbox_is_available_where_ci_requires_it() -> None:
    """CI (.ci/run) sets GRADER_TEST_REQUIRE_SANDBOX=1: there the sandbox must really be on, not skipped."""
    if os.environ.get("GRADER_TEST_REQUIRE_SANDBOX") != "1":
        pytest.skip("only enforced where GRADER_TEST_REQUIRE_SANDBOX=1 (CI)")
    assert SUPPORT.bwrap is not None, SUPPORT.bwrap_problem
    assert {"memory", "pids"} <= set(SUPPORT.cgroup_parents), SUPPORT.cgroup_problem


LIMITS = SandboxLimits(memory_mb=2048, cpu_time_s=600, pids=128, file_size_mb=50, output_kb=100)
LEAK = f"grader-sandbox-leak-{uuid.uuid4().hex}"

FORK_BOMB = """import os, time
pids = []
try:
    for _ in range(5000):
        try:
            pid = os.fork()
        except OSError:  # EAGAIN: the process limit
            break
        if pid == 0:
            time.sleep(60)
            os._exit(0)
        pids.append(pid)
finally:
    for pid in pids:
        os.kill(pid, 9)
    for pid in pids:
        os.waitpid(pid, 0)
raise RuntimeError(f"spawned {len(pids)} processes")"""
WRITE_1GB = """chunk = b"\\0" * 2**20
with open("big.bin", "wb") as f:
    for _ in range(1024):
        f.write(chunk)"""
FLOOD = "for k in range(1000):\n    print('\\n'.join(str(1000 * k + j) for j in range(1000)))"


def _notebook(path: Path, *cells: str) -> Path:
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(c) for c in cells]
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, path)
    return path


def _assignment(limits: SandboxLimits = LIMITS) -> Assignment:
    return dataclasses.replace(load_assignment(), sandbox=limits)


def _grade(path: Path, limits: SandboxLimits = LIMITS, **opts: Any) -> dict[str, Any]:
    options = GradeOptions(device="cpu", budget_s=240, cell_timeout_s=90, **opts)
    return grade_file(path, _assignment(limits), options)


def _error(res: dict[str, Any], cell: int) -> dict[str, Any] | None:
    return next((e for e in res["errors"] if e["cell_index"] == cell), None)


@pytest.fixture(scope="module")
def hostile(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """Alice's hostile notebook next to Bob's submission in one class folder, graded once."""
    tmp = tmp_path_factory.mktemp("class")
    bob = _notebook(tmp / "bob" / "bob.ipynb", "print('bob')")
    server = socket.create_server(("127.0.0.1", 0))  # a host service the sandbox must not reach
    port = server.getsockname()[1]
    outside = tmp / "outside.txt"
    data_root = mnist.prepare("subset")
    cells = {
        "connect": f"import socket\nsocket.create_connection(('127.0.0.1', {port}), timeout=5)",
        "reference": f"open({str(load_assignment().solution_path())!r}).read()",
        "other_student": f"open({str(bob)!r}).read()",
        "write_outside": f"open({str(outside)!r}, 'w').write('pwned')",
        "write_data": f"open({str(data_root / 'MNIST' / 'raw' / 'x')!r}, 'w').write('pwned')",
        "write_tmp": f"open('/tmp/{LEAK}', 'w').write('private')\nraise RuntimeError('wrote /tmp')",
        "write_1gb": WRITE_1GB,
        "fork_bomb": FORK_BOMB,
        "flood": FLOOD,
        "pip_shell": "!pip install --no-deps --target pipdir pyjokes",
        "pip_magic": "%pip install --no-deps --target pipdir pyjokes",
        "pip_import": "import sys\nsys.path.insert(0, 'pipdir')\nimport pyjokes",
        "after": "print('still grading')",
    }
    path = _notebook(tmp / "alice" / "alice.ipynb", *cells.values())
    try:
        res = _grade(path)
    finally:
        server.close()
    index = {name: i for i, name in enumerate(cells)}
    yield {"res": res, "cell": index, "outside": outside, "bob": bob}


@needs_bwrap
def test_result_states_protections(hostile: dict[str, Any]) -> None:
    box = hostile["res"]["sandbox"]
    assert box["enabled"] is True and box["tool"] == "bwrap" and box["network"] == "none"
    assert box["cpu_time_s"] == 600 and box["file_size_mb"] == 50 and box["output_kb"] == 100
    assert summary(box).startswith("sandbox: on (bwrap, network none")
    assert hostile["res"]["status"] == "errors"  # the attacks raised, grading went on
    assert hostile["res"]["execution"]["cells"][-1]["status"] == "ok"  # 'after' ran


@needs_bwrap
def test_socket_connect_to_host_fails(hostile: dict[str, Any]) -> None:
    err = _error(hostile["res"], hostile["cell"]["connect"])
    assert err is not None and err["ename"] in ("ConnectionRefusedError", "OSError"), err


@needs_bwrap
def test_reference_solution_is_invisible(hostile: dict[str, Any]) -> None:
    assert load_assignment().solution_path().exists()  # it is there on the host
    err = _error(hostile["res"], hostile["cell"]["reference"])
    assert err is not None and err["ename"] == "FileNotFoundError", err


@needs_bwrap
def test_other_students_files_are_invisible(hostile: dict[str, Any]) -> None:
    assert hostile["bob"].exists()
    err = _error(hostile["res"], hostile["cell"]["other_student"])
    assert err is not None and err["ename"] == "FileNotFoundError", err


@needs_bwrap
def test_writing_outside_the_work_dir_fails(hostile: dict[str, Any]) -> None:
    res, cell = hostile["res"], hostile["cell"]
    assert _error(res, cell["write_outside"]) is not None and not hostile["outside"].exists()
    err = _error(res, cell["write_data"])
    assert err is not None and "Read-only file system" in err["evalue"], err
    assert not (mnist.prepare("subset") / "MNIST" / "raw" / "x").exists()
    # /tmp is writable but private: nothing reaches the host's /tmp
    assert "wrote /tmp" in (_error(res, cell["write_tmp"]) or {}).get("evalue", "")
    assert not (Path("/tmp") / LEAK).exists()


@needs_bwrap
def test_writing_1gb_stops_at_the_file_size_limit(hostile: dict[str, Any]) -> None:
    err = _error(hostile["res"], hostile["cell"]["write_1gb"])
    assert err is not None and "File too large" in err["evalue"], err


@needs_bwrap
@needs_cgroups
def test_fork_bomb_is_contained(hostile: dict[str, Any]) -> None:
    err = _error(hostile["res"], hostile["cell"]["fork_bomb"])
    assert err is not None, "the bomb cell did not report"
    spawned = int(re.search(r"spawned (\d+) processes", err["evalue"]).group(1))  # type: ignore[union-attr]
    assert spawned < LIMITS.pids, spawned
    box = hostile["res"]["sandbox"]
    assert box["pids_limit"] == LIMITS.pids and box["pids_limit_hit"] is True


@needs_bwrap
def test_printing_a_million_lines_is_truncated(hostile: dict[str, Any]) -> None:
    cell = hostile["res"]["execution"]["cells"][hostile["cell"]["flood"]]
    assert cell["status"] == "ok" and cell["output_truncated"] > 5_000_000, cell
    assert len(json.dumps(hostile["res"])) < 200_000


@needs_bwrap
def test_pip_install_fails_fast_and_grading_goes_on(hostile: dict[str, Any]) -> None:
    res, cell = hostile["res"], hostile["cell"]
    cells = res["execution"]["cells"]
    assert cells[cell["pip_shell"]]["status"] == "ok" and cells[cell["pip_shell"]]["duration_s"] < 30
    assert cells[cell["pip_magic"]]["duration_s"] < 30
    err = _error(res, cell["pip_import"])
    assert err is not None and err["ename"] == "ModuleNotFoundError", err


@needs_bwrap
@needs_cgroups
def test_memory_bomb_ends_as_memory_limit_and_next_submission_is_graded(tmp_path: Path) -> None:
    limits = dataclasses.replace(LIMITS, memory_mb=1024)
    bomb = _notebook(tmp_path / "bomb.ipynb", "x = []\nwhile True:\n    x.append(b'x' * 50_000_000)",
                     "print('never')")
    res = _grade(bomb, limits)
    assert res["status"] == "kernel_died", res["message"]
    assert "memory limit: the kernel used more than 1024 MB" in res["message"], res["message"]
    assert res["sandbox"]["memory_limit_hit"] is True
    assert any(f["id"] == "kernel_died" and f["message"].startswith("memory limit") for f in res["flags"])
    nxt = _grade(_notebook(tmp_path / "next.ipynb", "print(sum(range(10)))"), limits)
    assert nxt["status"] == "graded" and nxt["sandbox"]["memory_limit_hit"] is False, nxt["message"]


def _no_bwrap() -> Support:
    return Support(None, "bubblewrap (bwrap) is not installed", SUPPORT.cgroup_version,
                   SUPPORT.cgroup_parents, SUPPORT.cgroup_problem)


def test_sandbox_off_is_said_in_the_result(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sandbox, "detect", _no_bwrap)
    res = _grade(_notebook(tmp_path / "s.ipynb", "print(1)"))
    assert res["status"] == "graded", res["message"]
    box = res["sandbox"]
    assert box["enabled"] is False and box["network"] == "host"
    assert any("bwrap" in m for m in box["missing"])
    assert summary(box).startswith("sandbox: off (no filesystem/network isolation: bubblewrap")
    assert box["cpu_time_s"] == LIMITS.cpu_time_s  # the rlimits still apply without bwrap
    with pytest.raises(UsageError, match="--require-sandbox"):
        _grade(_notebook(tmp_path / "s.ipynb", "print(1)"), sandbox="require")


def test_require_sandbox_refuses_on_the_cli(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setattr(sandbox, "detect", _no_bwrap)
    nb = _notebook(tmp_path / "s.ipynb", "print(1)")
    assert main(["grade", str(nb), "--require-sandbox", "--out", str(tmp_path / "out")]) == 2
    assert "no sandbox is possible" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


def test_no_sandbox_option_and_limits_table() -> None:
    from grader.cli.main import build_parser

    args = build_parser().parse_args(["grade", "x.ipynb", "--no-sandbox"])
    assert args.sandbox == "off"
    assert load_assignment().sandbox.memory_mb >= 1024
    with pytest.raises(ValueError, match="memory_mb"):
        SandboxLimits.from_table({"memory_mb": -1})
    with pytest.raises(ValueError, match="unknown"):
        SandboxLimits.from_table({"memory": 1})


def test_paths_under_tmp_are_bound_after_the_private_tmp() -> None:
    """A checkout (and its .venv) under /tmp, as in CI: binding it before the tmpfs would hide it (kernel dies)."""
    args = sandbox.bwrap_args("bwrap", rw=[Path("/tmp/grader-x/work")], ro=[Path("/tmp/ci/.venv")], gpu=False,
                              chdir=Path("/tmp/grader-x/work"))
    tmpfs = next(i for i, a in enumerate(args) if a == "--tmpfs" and args[i + 1] == "/tmp")
    for flag in ("--ro-bind", "--bind"):
        for i, a in enumerate(args):
            if a == flag and args[i + 1].startswith("/tmp/"):
                assert i > tmpfs, (flag, args[i + 1])


@needs_cgroups
def test_kernels_of_a_killed_grader_are_swept_at_the_next_start() -> None:
    """A grader killed with -9 leaves its bwrap+kernel behind (--die-with-parent covers bwrap's child only);
    the next grader kills what is in the dead grader's cgroups and removes them."""
    import subprocess
    import time

    from grader.execution import cgroups

    dead = subprocess.Popen(["true"])
    dead.wait()  # a pid that no longer exists: the "killed grader"
    group = SUPPORT.cgroup_parents["pids"] / f"grader-{dead.pid}-orphan"
    group.mkdir()
    orphan = subprocess.Popen(["sleep", "300"])
    try:
        (group / "cgroup.procs").write_text(str(orphan.pid))
        cgroups.probe_cgroups()
        deadline = time.monotonic() + 5
        while orphan.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)
        assert orphan.poll() is not None, "the orphaned process survived the sweep"
        assert not group.exists()
    finally:
        orphan.kill()
        if group.exists():
            group.rmdir()


def test_batch_refuses_to_run_unsandboxed_unless_told(tmp_path: Path) -> None:
    """`grader batch` runs other people's code: on a machine without bubblewrap (a real CLI call with a PATH that
    lacks bwrap) it refuses, saying how to install it; --no-sandbox grades anyway (here an empty class)."""
    import subprocess
    import sys

    subs = tmp_path / "class"
    subs.mkdir()
    env = {k: v for k, v in os.environ.items() if k != "GRADER_SANDBOX"}
    env["PATH"] = str(Path(sys.executable).parent)
    cmd = [sys.executable, "-m", "grader", "batch", str(subs), "--out", str(tmp_path / "out"), "--no-progress"]
    refused = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=120, check=False)
    assert refused.returncode == 2, refused.stderr
    assert "refuses to run it without the sandbox" in refused.stderr
    assert "apt-get install bubblewrap" in refused.stderr and "--no-sandbox" in refused.stderr
    assert not (tmp_path / "out").exists()
    allowed = subprocess.run([*cmd, "--no-sandbox"], env=env, capture_output=True, text=True, timeout=120,
                             check=False)
    assert allowed.returncode == 0, allowed.stderr


def test_batch_mode_requires_the_sandbox_by_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("GRADER_SANDBOX", raising=False)
    assert sandbox.batch_mode("off") == "off" and sandbox.batch_mode("require") == "require"
    monkeypatch.setattr(sandbox, "detect", _no_bwrap)
    with pytest.raises(UsageError, match="apt-get install bubblewrap"):
        sandbox.batch_mode("auto")
    monkeypatch.setenv("GRADER_SANDBOX", "auto")  # the operator's explicit "sandbox where possible"
    assert sandbox.batch_mode("auto") == "auto"
    monkeypatch.setenv("GRADER_SANDBOX", "off")
    assert sandbox.batch_mode("auto") == "off"
    if SUPPORT.bwrap is not None:
        monkeypatch.undo()
        monkeypatch.delenv("GRADER_SANDBOX", raising=False)
        assert sandbox.batch_mode("auto") == "require"
