"""Class batch grading with real kernels: discovery layouts, resumability after kill -9, overrides, exports.

Kept fast: three tiny notebooks that reach a kernel (width 32, one epoch), the rest are problems that never
need one (invalid JSON, a duplicate id, two notebooks in one folder, an empty folder).
"""

from __future__ import annotations

import csv
import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import pytest
import scenarios as s

from grader.batch.discover import UnsafeArchive, discover, safe_extract

ROOT = Path(__file__).resolve().parents[1]
GOOD = [s.DATA, s.sequential(["ReLU"] * 6, width=32), s.train(s.SGD, epochs=1), s.TEST_ACCURACY]
FLAWED = [s.DATA, s.sequential(["ReLU"] * 3, width=32), s.train(s.SGD, epochs=1)]
BROKEN = [s.DATA, "model = build_the_model()  # NameError", "print('after the error')"]


def make_class(root: Path) -> Path:
    """kim (good, flat file), park (flawed, roster folder with a checkpoint and a .py copy), lee (broken at run
    time, inside lee.zip), choi (invalid JSON), jung (duplicate id), han (two notebooks), empty (no file)."""
    cls = root / "class"
    cls.mkdir()
    s.write_notebook(cls, "kim", GOOD)
    park = cls / "park-hw1"
    (park / ".ipynb_checkpoints").mkdir(parents=True)
    s.write_notebook(park, "hw1", FLAWED)
    s.write_notebook(park / ".ipynb_checkpoints", "hw1-checkpoint", GOOD)
    s.write_module(park, "hw1", ["print('exported copy')"])
    (park / ".git").mkdir()
    s.write_notebook(park / ".git", "stray", GOOD)
    tmp = root / "lee-src"
    tmp.mkdir()
    s.write_notebook(tmp, "homework", BROKEN)
    with zipfile.ZipFile(cls / "lee.zip", "w") as zf:
        zf.write(tmp / "homework.ipynb", "lee-repo/homework.ipynb")
    (cls / "choi.ipynb").write_text("{broken", encoding="utf-8")
    s.write_notebook(cls, "jung", ["print(1)"])
    (cls / "jung").mkdir()
    s.write_notebook(cls / "jung", "hw", ["print(2)"])
    (cls / "han").mkdir()
    s.write_notebook(cls / "han", "a", ["print(1)"])
    s.write_notebook(cls / "han", "b", ["print(2)"])
    (cls / "empty").mkdir()
    (cls / "notes.txt").write_text("not a submission")
    return cls


KERNEL_STUDENTS = {"kim", "park-hw1", "lee"}
ALL_STUDENTS = KERNEL_STUDENTS | {"choi", "jung", "han", "empty"}


def grader(*args: str, timeout: float = 240) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "grader", *args], capture_output=True, text=True,
                          timeout=timeout, cwd=ROOT)


def snapshot(db: Path) -> dict[str, object]:
    """Everything in a gradebook that must not depend on timing or interruptions."""
    con = sqlite3.connect(db)
    try:
        return {
            "students": sorted(r[0] for r in con.execute("SELECT id FROM students")),
            "attempts": sorted(con.execute(
                "SELECT student, sha256, assignment_version, grader_version, data_mode, status, score, score_max,"
                " pending_manual FROM attempts").fetchall()),
            "checks": sorted(con.execute(
                "SELECT a.student, c.check_id, c.points, c.max, c.status FROM check_results c"
                " JOIN attempts a ON a.id = c.attempt").fetchall()),
        }
    finally:
        con.close()


@pytest.fixture(scope="module")
def graded(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, subprocess.CompletedProcess[str]]:
    root = tmp_path_factory.mktemp("batch")
    cls = make_class(root)
    out = root / "out"
    proc = grader("batch", str(cls), "--out", str(out), "--jobs", "2", "--no-progress")
    return cls, out, proc


# ----------------------------------------------------------------------------- discovery (no kernels)
def test_discovery_layouts_and_problems(tmp_path: Path) -> None:
    cls = make_class(tmp_path)
    with discover(cls) as found:
        by = {e.student: e for e in found.entries}
        assert set(by) == ALL_STUDENTS
        assert by["kim"].path and by["kim"].path.name == "kim.ipynb" and len(by["kim"].sha256 or "") == 64
        assert by["park-hw1"].path and by["park-hw1"].path.name == "hw1.ipynb"  # not the checkpoint, not .py
        assert by["park-hw1"].notes and "hw1.py" in by["park-hw1"].notes[0]
        assert by["lee"].path and by["lee"].source == "lee.zip:lee-repo/homework.ipynb"
        assert by["choi"].path and not by["choi"].problem  # unreadable JSON is graded 'invalid' later
        assert "duplicate student id" in (by["jung"].problem or "")
        assert "2 notebooks" in (by["han"].problem or "")
        assert "no .ipynb or .py" in (by["empty"].problem or "")
        extracted = by["lee"].path
    assert not extracted.exists()  # temporary extraction removed

    whole = tmp_path / "class.zip"
    with zipfile.ZipFile(whole, "w") as zf:
        for p in sorted(cls.rglob("*")):
            zf.write(p, Path("class") / p.relative_to(cls))
    with discover(whole) as found:
        assert {e.student for e in found.entries} == ALL_STUDENTS
        assert next(e for e in found.entries if e.student == "kim").source == "class.zip:kim.ipynb"


def test_unsafe_zip_is_refused(tmp_path: Path) -> None:
    for name in ("../evil.ipynb", "/abs/evil.ipynb", "a/../../evil.ipynb"):
        bad = tmp_path / "bad.zip"
        with zipfile.ZipFile(bad, "w") as zf:
            zf.writestr("ok.ipynb", "{}")
            zf.writestr(name, "{}")
        with pytest.raises(UnsafeArchive):
            safe_extract(bad, tmp_path / "dest")
        assert not (tmp_path / "evil.ipynb").exists() and not (tmp_path / "dest" / "ok.ipynb").exists()
    cls = tmp_path / "c"
    cls.mkdir()
    shutil.copy(bad, cls / "mallory.zip")
    s.write_notebook(cls, "kim", ["print(1)"])
    with discover(cls) as found:
        by = {e.student: e for e in found.entries}
        assert "points outside" in (by["mallory"].problem or "") and by["kim"].path
    from grader.cli import main

    assert main(["batch", str(tmp_path / "nope")]) == 2


# ----------------------------------------------------------------------------- real batch
def test_batch_grades_everyone_and_stores_it(graded) -> None:  # type: ignore[no-untyped-def]
    cls, out, proc = graded
    assert proc.returncode == 0, proc.stderr[-3000:]
    db = out / "gradebook.sqlite"
    snap = snapshot(db)
    assert snap["students"] == sorted(ALL_STUDENTS)
    status = {a[0]: a[5] for a in snap["attempts"]}  # type: ignore[union-attr]
    assert status == {"kim": "graded", "park-hw1": "graded", "lee": "errors", "choi": "invalid",
                      "jung": "invalid", "han": "invalid", "empty": "invalid"}
    score = {a[0]: a[6] for a in snap["attempts"]}  # type: ignore[union-attr]
    assert score["kim"] > score["park-hw1"] > 0 and score["lee"] == 0
    for student in ALL_STUDENTS:
        res = json.loads((out / f"{student}.json").read_text())
        assert res["submission"]["id"] == student
    assert "duplicate student id" in json.loads((out / "jung.json").read_text())["message"]
    assert json.loads((out / "lee.json").read_text())["submission"]["source"] == "lee.zip:lee-repo/homework.ipynb"
    assert "kim" in proc.stdout and "park-hw1" in proc.stdout  # the summary table

    again = grader("batch", str(cls), "--out", str(out), "--no-progress")
    assert again.returncode == 0 and "7 already graded" in again.stderr, again.stderr[-2000:]
    assert snapshot(db) == snap


def test_kill_9_then_resume_equals_uninterrupted(graded, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    cls, reference_out, _ = graded
    out = tmp_path / "out"
    db = out / "gradebook.sqlite"
    proc = subprocess.Popen([sys.executable, "-m", "grader", "batch", str(cls), "--out", str(out), "--jobs", "1",
                             "--no-progress"], cwd=ROOT, start_new_session=True,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    kernel_done = 0
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and proc.poll() is None:
            if db.exists():
                con = sqlite3.connect(db, timeout=5)
                try:
                    kernel_done = con.execute("SELECT COUNT(*) FROM attempts WHERE status != 'invalid'").fetchone()[0]
                except sqlite3.OperationalError:
                    kernel_done = 0
                finally:
                    con.close()
                if kernel_done >= 1:
                    break
            time.sleep(0.1)
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    assert 1 <= kernel_done < len(KERNEL_STUDENTS), "the batch was not interrupted in the middle"
    resumed = grader("batch", str(cls), "--out", str(out), "--jobs", "2", "--no-progress")
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert "already graded" in resumed.stderr
    assert snapshot(db) == snapshot(reference_out / "gradebook.sqlite")
    con = sqlite3.connect(db)
    assert con.execute("SELECT COUNT(*) FROM attempts").fetchone()[0] == len(ALL_STUDENTS)
    con.close()


def test_override_survives_force_and_exports(graded, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    cls, reference_out, _ = graded
    out = tmp_path / "out"
    shutil.copytree(reference_out, out)
    db = out / "gradebook.sqlite"
    before = snapshot(db)
    kim = json.loads((out / "kim.json").read_text())
    acc = next(c for c in kim["checks"] if c["id"] == "t2.conclusion")
    ov = grader("override", "kim", "t2.conclusion", "7", "--comment", "clear conclusion", "--author", "prof",
                "--out", str(out))
    assert ov.returncode == 0, ov.stderr
    assert grader("override", "kim", "t9.nope", "1", "--comment", "x", "--out", str(out)).returncode == 2
    assert grader("override", "kim", "t2.conclusion", "99", "--comment", "x", "--out", str(out)).returncode == 2

    forced = grader("batch", str(cls), "--out", str(out), "--jobs", "2", "--force", "--no-progress")
    assert forced.returncode == 0, forced.stderr[-3000:]
    assert snapshot(db) == before  # re-graded in place: same rows, no duplicates

    csv_path = tmp_path / "grades.csv"
    assert grader("export", "csv", "--out", str(csv_path), "--gradebook", str(db)).returncode == 0
    rows = {r["student"]: r for r in csv.DictReader(csv_path.open(encoding="utf-8"))}
    assert set(rows) == ALL_STUDENTS
    assert float(rows["kim"]["t2.conclusion"]) == 7 and rows["kim"]["overridden"] == "t2.conclusion"
    assert float(rows["kim"]["auto"]) == kim["score"]["auto"] + 7 and acc["pending"]
    assert float(rows["park-hw1"]["auto"]) == [a for a in before["attempts"] if a[0] == "park-hw1"][0][6]

    rep = grader("report", "--out", str(out))
    assert rep.returncode == 0, rep.stderr
    kim_after = json.loads((out / "kim.json").read_text())
    conclusion = next(c for c in kim_after["checks"] if c["id"] == "t2.conclusion")
    assert conclusion["override"]["author"] == "prof" and conclusion["points"] == 7

    canvas = tmp_path / "canvas.csv"
    assert grader("export", "canvas", "--out", str(canvas), "--gradebook", str(db),
                  "--canvas-id", "1234").returncode == 0
    lines = list(csv.reader(canvas.open(encoding="utf-8")))
    assert lines[0][:5] == ["Student", "ID", "SIS User ID", "SIS Login ID", "Section"]
    assert lines[0][5].endswith("(1234)") and "Points Possible" in lines[1][0] and float(lines[1][5]) == 100
    kim_row = next(r for r in lines if r[0] == "kim")
    assert float(kim_row[5]) == kim["score"]["auto"] + 7
