"""The runner: real kernels, errors recorded per cell, timeouts, dead kernels, no leaked processes."""

from __future__ import annotations

import json
import os
from pathlib import Path

import nbformat
import pytest

from grader.data.mnist import prepare
from grader.execution.runner import ExecutionOptions, execute


def _run(tmp: Path, sources: list[str], **kw: float) -> tuple:
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(s) for s in sources]
    probe = tmp / "probe"
    probe.mkdir()
    work = tmp / "work"
    work.mkdir()
    opts = ExecutionOptions(probe_config={"events_path": str(probe / "events.jsonl"), "export_dir": str(probe),
                                          "mnist_root": str(prepare("subset")), "seed": 0}, **kw)
    report = execute(nb, work, opts)
    events = [json.loads(x) for x in (probe / "events.jsonl").read_text().splitlines()]
    return report, events


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def test_errors_timeouts_and_later_cells(tmp_path: Path) -> None:
    report, events = _run(tmp_path, ["import os\nprint(os.getcwd())", "1/0", "while True: pass", "print('after')"],
                          cell_timeout_s=4, budget_s=60)
    by_index = {c.index: c for c in report.cells}
    assert by_index[0].status == "ok" and by_index[0].stdout.strip() == str(tmp_path / "work")
    assert by_index[1].status == "error" and by_index[1].error["ename"] == "ZeroDivisionError"
    assert "1/0" in by_index[1].error["traceback"]
    assert by_index[2].status == "timeout" and report.status == "timeout" and "cell index 2" in report.message
    assert by_index[3].status == "ok" and by_index[3].stdout == "after\n"
    assert report.exported, "the export cell still runs after a timeout"
    hello = next(e for e in events if e["ev"] == "hello")
    assert not _alive(hello["pid"]), "the kernel process must be shut down"


def test_budget_stops_remaining_cells(tmp_path: Path) -> None:
    report, _ = _run(tmp_path, ["import time; time.sleep(30)", "x = 1"], cell_timeout_s=30, budget_s=4)
    assert [c.status for c in report.cells] == ["timeout", "not_run"]
    assert report.status == "timeout"


def test_dead_kernel_keeps_streamed_events(tmp_path: Path) -> None:
    src = ("import torch\nm = torch.nn.Linear(784, 10)\nopt = torch.optim.SGD(m.parameters(), lr=0.1)\n"
           "for _ in range(3):\n    opt.zero_grad(); m(torch.rand(4, 784)).sum().backward(); opt.step()\n"
           "import sys; sys.modules['_grader_probe'].probe().flush_all()")
    report, events = _run(tmp_path, [src, "import os; os._exit(1)", "print('never')"])
    assert report.status == "kernel_died" and report.last_cell == 1 and "cell index 1" in report.message
    assert [c.status for c in report.cells] == ["ok", "kernel_died", "not_run"]
    assert not report.exported
    steps = [e for e in events if e["ev"] == "steps"]
    assert steps and len(steps[0]["losses"]) == 3


@pytest.mark.parametrize("hide", [True])
def test_hidden_gpus_and_seeded_kernel(tmp_path: Path, hide: bool) -> None:
    report, _ = _run(tmp_path, ["import os, torch\nprint(repr(os.environ.get('CUDA_VISIBLE_DEVICES')), "
                                "torch.cuda.is_available(), torch.rand(1).item())"])
    assert report.cells[0].status == "ok"
    visible, cuda, value = report.cells[0].stdout.split()
    assert cuda == "False"


def test_running_notebooks_leaks_no_descriptors(tmp_path: Path) -> None:
    """Each run closes its kernel client's channels and ZMQ contexts: a batch or test process that runs hundreds of
    notebooks must not creep towards select()'s descriptor limit (it used to keep about 12 per notebook)."""
    def open_fds() -> int:
        return len(os.listdir("/proc/self/fd"))

    for name in ("first", *(f"run{k}" for k in range(3))):
        (tmp_path / name).mkdir()
    _run(tmp_path / "first", ["print('warm-up')"])  # imports and lazily created globals settle first
    before = open_fds()
    for k in range(3):
        _run(tmp_path / f"run{k}", ["x = 1"])
    assert open_fds() - before <= 2, f"{open_fds() - before} descriptors left open by 3 runs"
