"""Warm start (grader/execution/warm.py): a kernel started ahead gives exactly the results of a cold one, an
unused slot leaves nothing behind, and a slot that cannot be prepared (or whose kernel died) means a cold start.

Real kernels, real training on the embedded MNIST subset; tiny notebooks (width 32, one epoch).
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

import pytest
import scenarios as s

import grader.pipeline
from grader.assignment import load_assignment
from grader.batch import worker
from grader.batch.discover import discover
from grader.batch.runner import run_batch
from grader.errors import ExecutionError
from grader.pipeline import GradeOptions, grade_file, prepare_slot

RELU_SGD = [s.DATA, s.sequential(["ReLU"] * 6, width=32), s.train(s.SGD, epochs=1), s.TEST_ACCURACY]
SIGMOID_ADAM = [s.DATA, s.sequential(["Sigmoid"] * 6, width=32), s.train(s.ADAM, epochs=1)]
BROKEN = [s.DATA, "model = build_the_model()  # NameError", "print('after the error')"]


def _essence(result: dict[str, Any]) -> dict[str, Any]:
    """What must not depend on how the kernel was started."""
    return {"status": result["status"], "score": result["score"],
            "checks": [(c["id"], c.get("points"), c.get("status")) for c in result["checks"]],
            "flags": sorted(f["id"] for f in result["flags"]),
            "runs": [(r["optimizer"]["torch_class"], r["steps"], r["step_losses"], r["accuracy"]["value"])
                     for r in result["runs"]],
            "errors": [(e.get("cell_index"), e.get("ename")) for e in result["errors"]]}


def _kernels(path: Path) -> list[int]:
    """Live (not zombie) processes running a kernel whose command line names ``path``."""
    found = []
    for d in Path("/proc").glob("[0-9]*"):
        try:
            if (d / "stat").read_text().rsplit(")", 1)[1].split()[0] == "Z":
                continue
            cmdline = (d / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except (OSError, ValueError, IndexError):
            continue
        if "ipykernel_launcher" in cmdline and str(path) in cmdline:
            found.append(int(d.name))
    return found


def _wait(predicate: Any, timeout: float = 20.0) -> bool:
    deadline = time.monotonic() + timeout
    while not predicate() and time.monotonic() < deadline:
        time.sleep(0.2)
    return bool(predicate())


def test_warm_batch_equals_cold_batch(tmp_path: Path) -> None:
    cls = tmp_path / "class"
    cls.mkdir()
    s.write_notebook(cls, "ahn", RELU_SGD)
    s.write_notebook(cls, "baek", BROKEN)
    s.write_notebook(cls, "cho", SIGMOID_ADAM)
    assignment = load_assignment()
    entries = discover(cls).entries
    results = {}
    for warm in (False, True):
        out = tmp_path / f"out-{warm}"
        summary = run_batch(entries, assignment, GradeOptions(data="subset"), out, jobs=1, force=True, warm=warm)
        assert not summary.failed
        results[warm] = {r["submission"]["id"]: r for r in summary.results}
    assert sorted(results[True]) == ["ahn", "baek", "cho"]
    for student, cold in results[False].items():
        assert _essence(results[True][student]) == _essence(cold), student
        assert cold["execution"]["warm_start"] is False
    # one worker, three submissions: the first starts cold, the two after it take the kernel warmed for them
    assert sorted(r["execution"]["warm_start"] for r in results[True].values()) == [False, True, True]
    assert results[True]["ahn"]["runs"][0]["step_losses"]  # the per-step losses were recorded


def test_unused_slot_is_cleaned_up() -> None:
    slot = prepare_slot(load_assignment(), GradeOptions(data="subset"))
    assert slot.warm and _wait(lambda: _kernels(slot.root))
    slot.close()
    assert _wait(lambda: not _kernels(slot.root)), "the slot's kernel is still running"
    assert not slot.root.exists()
    slot.close()  # idempotent


def test_worker_closes_its_prepared_slot(tmp_path: Path) -> None:
    path = s.write_notebook(tmp_path, "kim", ["print('hello')"])
    opts = {"data": "subset"}
    out = worker.grade_one(str(path), str(load_assignment().root), opts, warm_next=True)
    assert out["result"]["status"] == "graded"
    assert len(worker._NEXT) == 1  # warmed for a next submission that never comes
    slot = worker._NEXT[0]
    assert _wait(lambda: _kernels(slot.root))
    worker.close_next()  # what the worker process runs when it exits
    assert _wait(lambda: not _kernels(slot.root)) and not slot.root.exists()


def test_failed_preparation_falls_back_to_cold(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    real = grader.pipeline.prepare_slot

    def broken(assignment: Any, opts: Any, warm: bool = True, name: str | None = None) -> Any:
        if warm:
            raise ExecutionError("no kernel for you")
        return real(assignment, opts, warm, name)

    monkeypatch.setattr(grader.pipeline, "prepare_slot", broken)
    path = s.write_notebook(tmp_path, "kim", RELU_SGD)
    root = str(load_assignment().root)
    first = worker.grade_one(str(path), root, {"data": "subset"}, warm_next=True)
    assert not worker._NEXT  # nothing prepared, and the current submission did not notice
    second = worker.grade_one(str(path), root, {"data": "subset"})
    assert first["result"]["status"] == second["result"]["status"] == "graded"
    assert _essence(first["result"]) == _essence(second["result"])
    assert second["result"]["execution"]["warm_start"] is False


def test_slot_whose_kernel_died_starts_cold(tmp_path: Path) -> None:
    assignment, opts = load_assignment(), GradeOptions(data="subset")
    path = s.write_notebook(tmp_path, "kim", ["print('still graded')"])
    slot = prepare_slot(assignment, opts)
    assert slot.kernel is not None and _wait(lambda: _kernels(slot.root))
    for pid in _kernels(slot.root):
        os.kill(pid, 9)
    assert _wait(lambda: not slot.kernel or not slot.kernel.alive())
    result = grade_file(path, assignment, opts, slot=slot)
    assert result["status"] == "graded" and result["execution"]["warm_start"] is False
    assert not slot.root.exists()  # grade_file closed the slot it was given
