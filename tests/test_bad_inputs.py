"""Every bad input a class can hand in ends in a clear per-submission verdict (status + message naming the
problem, in the result JSON); in a batch the others are still graded and nothing is lost.

Memory/fork bombs, network, pip, huge output and huge files are in test_sandbox.py. Decisions tested here:
a file over 64 MiB (``--max-size``) is ``invalid``; stored outputs are stripped before running, so a notebook
with 50 MB of old outputs is graded; nbformat 3 is converted, a missing top-level ``metadata`` is added and a
kernelspec naming R or Python 2 is ignored (we always run our Python 3 kernel) — each with a note in
``submission.notes``; links are never followed; a whole-class zip's unsafe entries are skipped and reported.
"""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
import zipfile
from pathlib import Path
from typing import Any

import nbformat
import pytest
import scenarios as s

from grader.assignment import load_assignment
from grader.batch.discover import discover
from grader.batch.runner import run_batch
from grader.pipeline import GradeOptions, grade_file

ROOT = Path(__file__).resolve().parents[1]
GOOD = [s.DATA, s.sequential(["ReLU"] * 6, width=32), s.train(s.SGD, epochs=1), s.TEST_ACCURACY]
STUBBORN = """\
import time
def stubborn():
    while True:
        try:
            time.sleep(0.05)
        except KeyboardInterrupt:
            pass  # swallows the grader's interrupt"""


def _write_json(path: Path, data: Any) -> Path:
    path.write_text(json.dumps(data), encoding="utf-8")
    return path


def _v3(folder: Path, name: str) -> Path:
    cell = {"cell_type": "code", "input": "print('hello from nbformat 3')", "language": "python",
            "outputs": [], "metadata": {}}
    return _write_json(folder / f"{name}.ipynb", {"nbformat": 3, "nbformat_minor": 0, "metadata": {"name": ""},
                                                  "worksheets": [{"cells": [cell], "metadata": {}}]})


def _kernelspec(folder: Path, name: str, spec: dict[str, str]) -> Path:
    nb = s.notebook(["print('portable code')"])
    nb.metadata["kernelspec"] = spec
    path = folder / f"{name}.ipynb"
    nbformat.write(nb, str(path))
    return path


def _stored_outputs(folder: Path, name: str, mb: int) -> Path:
    nb = s.notebook(["print('fresh output')"])
    chunk = ("old output line " * 6 + "\n") * 10_000  # ≈ 1 MB
    nb.cells[0].outputs = [nbformat.v4.new_output("stream", name="stdout", text=chunk) for _ in range(mb)]
    path = folder / f"{name}.ipynb"
    nbformat.write(nb, str(path))
    return path


def _huge(folder: Path, name: str, size: int = 100 * 10**6) -> Path:
    path = folder / f"{name}.ipynb"
    with open(path, "wb") as f:  # sparse: instant, no disk used
        f.write(b'{"nbformat": 4, "cells": [')
        f.truncate(size)
    return path


# ----------------------------------------------------------------------------- rejected before any kernel
LOAD_CASES: dict[str, tuple[Any, str]] = {
    "malformed_json": (lambda d, n: (d / f"{n}.ipynb").write_text('{"cells": [', encoding="utf-8"),
                       "not valid JSON (line 1"),
    "json_not_notebook": (lambda d, n: _write_json(d / f"{n}.ipynb", {"name": "my homework", "score": 100}),
                          "valid JSON but not a Jupyter notebook"),
    "json_list": (lambda d, n: _write_json(d / f"{n}.ipynb", [1, 2, 3]), "not a Jupyter notebook"),
    "v4_missing_cells": (lambda d, n: _write_json(d / f"{n}.ipynb", {"nbformat": 4, "nbformat_minor": 5,
                                                                       "metadata": {}}),
                         "without a 'cells' list"),
    "unknown_nbformat": (lambda d, n: _write_json(d / f"{n}.ipynb", {"nbformat": 9, "nbformat_minor": 0,
                                                                       "metadata": {}, "cells": []}),
                         "Unsupported nbformat version 9"),
    "empty_file": (lambda d, n: (d / f"{n}.ipynb").write_bytes(b""), "the file is empty"),
    "no_cells": (lambda d, n: nbformat.write(nbformat.v4.new_notebook(), str(d / f"{n}.ipynb")),
                 "the notebook has no cells"),
    "markdown_only": (lambda d, n: s.write_notebook(d, n, [s.md("# Homework"), s.md("I ran out of time")]),
                      "no code to run"),
    "non_utf8": (lambda d, n: (d / f"{n}.ipynb").write_bytes(
        b'{"cells": [], "metadata": {}, "note": "' + "한글".encode("euc-kr") + b'"}'),
        "not UTF-8 text (byte"),
    "huge_100mb": (lambda d, n: _huge(d, n), "submission size limit"),
}


@pytest.mark.parametrize("case", sorted(LOAD_CASES))
def test_unreadable_submission_is_invalid_with_a_clear_message(tmp_path: Path, case: str) -> None:
    write, phrase = LOAD_CASES[case]
    write(tmp_path, case)
    res = grade_file(tmp_path / f"{case}.ipynb")
    assert res["status"] == "invalid" and res["submission"]["id"] == case
    assert res["message"].startswith(f"{case}.ipynb: ") and phrase in res["message"], res["message"]
    assert res["score"]["auto"] == 0 and res["checks"] == []


def test_size_limit_is_configurable(tmp_path: Path) -> None:
    path = s.write_notebook(tmp_path, "small", ["print(1)"])
    res = grade_file(path, opts=GradeOptions(max_submission_mb=0.0001))
    assert res["status"] == "invalid" and "over the 0 MiB submission size limit" in res["message"]
    assert "Clear all outputs" in res["message"]


# ----------------------------------------------------------------------------- a real batch of bad inputs
def _class(root: Path) -> Path:
    cls, outside = root / "class", root / "outside"
    cls.mkdir()
    outside.mkdir()
    s.write_notebook(cls, "good", GOOD)
    s.write_notebook(cls, "syntax_error", ["def f(:\n    return 1", "print('the next cell still runs')"])
    s.write_notebook(cls, "error_every_cell", ["1 / 0", "raise ValueError('nope')", "undefined_name"])
    s.write_notebook(cls, "sys_exit", ["import sys\nsys.exit()", "print('after exit')"])
    s.write_notebook(cls, "os_exit", ["import os\nos._exit(1)", "print('never')"])
    s.write_notebook(cls, "segfault", ["import ctypes\nctypes.string_at(0)", "print('never')"])
    s.write_notebook(cls, "gpu_only", ["import torch\nx = torch.zeros(3)\nx = x.cuda()", "print('next')"])
    s.write_notebook(cls, "deletes_cwd", [
        "import os, shutil\nfor f in os.listdir('.'):\n"
        "    shutil.rmtree(f) if os.path.isdir(f) else os.remove(f)\nprint(os.listdir('.'))", *GOOD])
    s.write_notebook(cls, "chdir_root", ["import os\nos.chdir('/')", *GOOD, "print(os.getcwd())"])
    s.write_module(cls, "asks_input", ["name = input('your name? ')", "print('hello', name)"])
    _kernelspec(cls, "kernel_r", {"name": "ir", "display_name": "R", "language": "R"})
    _kernelspec(cls, "kernel_py2", {"name": "python2", "display_name": "Python 2", "language": "python"})
    _v3(cls, "nbformat3")
    nb = s.notebook(["print('no metadata')"])
    _write_json(cls / "no_metadata.ipynb", {k: v for k, v in nb.items() if k != "metadata"})
    _stored_outputs(cls, "stored_outputs_50mb", 50)
    _huge(cls, "huge_100mb")
    (cls / "malformed.ipynb").write_text("{oops", encoding="utf-8")
    s.write_notebook(cls, "twin", ["print(1)"])  # the same student id twice: a file and a folder
    (cls / "twin").mkdir()
    s.write_notebook(cls / "twin", "hw", ["print(2)"])
    secret = s.write_notebook(outside, "secret", ["print('another student')"])
    (cls / "linker.ipynb").symlink_to(secret)
    (cls / "linkdir").mkdir()
    (cls / "linkdir" / "hw.ipynb").symlink_to(secret)
    with zipfile.ZipFile(cls / "zipslip.zip", "w") as zf:
        zf.writestr("hw.ipynb", nbformat.writes(s.notebook(["print(1)"])))
        zf.writestr("../../etc/x", "owned")
    return cls


@pytest.fixture(scope="module")
def batch(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, dict[str, Any]], Path]:
    root = tmp_path_factory.mktemp("bad")
    cls, out = _class(root), root / "out"
    with discover(cls) as found:
        summary = run_batch(found.entries, load_assignment(), GradeOptions(cell_timeout_s=60, budget_s=120,
                                                                           device="cpu"), out, jobs=2)
    assert not summary.failed, summary.failed
    return {r["submission"]["id"]: r for r in summary.results}, out


# student id -> (status, phrases that the message must contain)
VERDICTS: dict[str, tuple[str, list[str]]] = {
    "syntax_error": ("errors", ["cell index 0", "SyntaxError"]),
    "error_every_cell": ("errors", ["3 cells raised errors", "cell index 0, line 1", "ZeroDivisionError"]),
    "sys_exit": ("errors", ["SystemExit", "the cells after it still ran"]),
    "os_exit": ("kernel_died", ["cell index 0", "exited with status 1"]),
    "segfault": ("kernel_died", ["cell index 0", "SIGSEGV"]),
    "gpu_only": ("errors", ["cell index 0, line 3", "needs a CUDA GPU", "torch.cuda.is_available()"]),
    "asks_input": ("errors", ["input() cannot be answered"]),
    "huge_100mb": ("invalid", ["huge_100mb.ipynb", "submission size limit"]),
    "malformed": ("invalid", ["malformed.ipynb", "not valid JSON"]),
    "twin": ("invalid", ["duplicate student id 'twin'", "twin.ipynb", "twin/hw.ipynb"]),
    "linker": ("invalid", ["linker.ipynb is a symbolic link", "links are not followed"]),
    "linkdir": ("invalid", ["hw.ipynb is a symbolic link"]),
    "zipslip": ("invalid", ["zipslip.zip", "'../../etc/x' points outside the archive"]),
}
GRADED_WITH_NOTE = {"kernel_r": "names 'R'", "kernel_py2": "names 'Python 2'", "nbformat3": "nbformat 3",
                    "no_metadata": "no top-level 'metadata'"}


@pytest.mark.parametrize("student", sorted(VERDICTS))
def test_batch_verdict_names_the_problem(batch, student: str) -> None:  # type: ignore[no-untyped-def]
    results, out = batch
    res = results[student]
    status, phrases = VERDICTS[student]
    assert res["status"] == status and res["submission"]["id"] == student, s.summary(res)
    for phrase in phrases:
        assert phrase in (res["message"] or ""), (phrase, res["message"])
    assert json.loads((out / f"{student}.json").read_text())["message"] == res["message"]


def test_batch_goes_on_and_loses_nothing(batch) -> None:  # type: ignore[no-untyped-def]
    results, out = batch
    expected = {*VERDICTS, *GRADED_WITH_NOTE, "good", "deletes_cwd", "chdir_root", "stored_outputs_50mb"}
    assert set(results) == expected
    con = sqlite3.connect(out / "gradebook.sqlite")
    rows = dict(con.execute("SELECT student, COUNT(*) FROM attempts GROUP BY student").fetchall())
    con.close()
    assert rows == {k: 1 for k in expected}
    good = results["good"]
    assert good["status"] == "graded" and good["score"]["auto"] > 0, s.summary(good)
    assert not (out.parent / "etc").exists() and not Path("/etc/x").exists()


def test_hostile_cwd_changes_do_not_hide_the_training(batch) -> None:  # type: ignore[no-untyped-def]
    results, _ = batch
    good = results["good"]
    for student in ("deletes_cwd", "chdir_root"):
        res = results[student]
        assert res["status"] == "graded" and len(res["runs"]) == 1, s.summary(res)
        assert res["score"] == good["score"], s.summary(res)


@pytest.mark.parametrize("student", sorted(GRADED_WITH_NOTE))
def test_repairable_notebooks_are_graded_with_a_note(batch, student: str) -> None:  # type: ignore[no-untyped-def]
    res = batch[0][student]
    assert res["status"] == "graded", s.summary(res)
    assert any(GRADED_WITH_NOTE[student] in n for n in res["submission"].get("notes", [])), res["submission"]


def test_stored_outputs_are_stripped_not_rejected(batch) -> None:  # type: ignore[no-untyped-def]
    res = batch[0]["stored_outputs_50mb"]
    assert res["status"] == "graded" and res["errors"] == [], s.summary(res)
    assert res["execution"]["cells"][0]["status"] == "ok"


def test_gpu_only_submission_is_flagged(batch) -> None:  # type: ignore[no-untyped-def]
    res = batch[0]["gpu_only"]
    assert "requires_cuda" in s.flag_ids(res) and "cell index 0" in (s.flag(res, "requires_cuda") or {})["message"]


# ----------------------------------------------------------------------------- time limits (single grades)
@pytest.mark.parametrize("loop", ["while True:\n    pass", "import time\ntime.sleep(10**6)"])
def test_runaway_cell_is_interrupted_and_the_rest_runs(tmp_path: Path, loop: str) -> None:
    path = s.write_notebook(tmp_path, "runaway", ["x = 1", loop, "print('after', x)"])
    res = grade_file(path, opts=GradeOptions(cell_timeout_s=2, budget_s=30, device="cpu"))
    assert res["status"] == "timeout", s.summary(res)
    assert "cell index 1 ran over its 2s limit and was interrupted" in res["message"]
    assert [c["status"] for c in res["execution"]["cells"]] == ["ok", "timeout", "ok"]
    assert res["execution"]["exported"]


def test_kernel_ignoring_interrupts_is_bounded_by_the_budget(tmp_path: Path) -> None:
    """It used to cost one cell timeout per remaining cell plus the 120 s export timeout."""
    path = s.write_notebook(tmp_path, "stubborn", [STUBBORN, "stubborn()", "print(1)", "stubborn()", "print(2)"])
    res = grade_file(path, opts=GradeOptions(cell_timeout_s=2, budget_s=8, device="cpu"))
    assert res["status"] == "timeout" and "ignored the interrupt" in res["message"], s.summary(res)
    assert [c["status"] for c in res["execution"]["cells"]] == ["ok", "timeout", "not_run", "not_run", "not_run"]
    # 2 s cell limit + nbclient's 10 s wait for the interrupted cell + kernel start/stop; no export attempt
    # (it waited 120 s), no per-cell waits. Generous: the test machines are shared.
    assert res["execution"]["wall_s"] < 60, res["execution"]


# ----------------------------------------------------------------------------- a whole-class zip
def test_class_zip_with_path_traversal_entry_is_graded_without_it(tmp_path: Path) -> None:
    archive = tmp_path / "class.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("class/kim.ipynb", nbformat.writes(s.notebook(["print('kim')"])))
        zf.writestr("class/lee.ipynb", "{broken")
        zf.writestr("../../etc/x", "owned")
        zf.writestr("class/../../escaped.txt", "owned")
    out = tmp_path / "out"
    proc = subprocess.run([sys.executable, "-m", "grader", "batch", str(archive), "--out", str(out),
                           "--no-progress", "--jobs", "1"], capture_output=True, text=True, timeout=180, cwd=ROOT,
                          env={**os.environ, "GRADER_TEST": "bad-inputs"})
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "refused archive entry: class.zip: entry '../../etc/x' points outside the archive" in proc.stderr
    assert "class/../../escaped.txt" in proc.stderr
    kim = json.loads((out / "kim.json").read_text())
    lee = json.loads((out / "lee.json").read_text())
    assert kim["status"] == "graded" and lee["status"] == "invalid" and "not valid JSON" in lee["message"]
    assert not (tmp_path / "escaped.txt").exists() and not Path("/etc/x").exists()
