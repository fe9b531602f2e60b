"""A batch killed with SIGKILL at different moments and re-run ends with exactly the gradebook of an
uninterrupted run; SIGINT stops it cleanly (exit 130) and leaves no worker or kernel behind.

Processes of one batch are found by a marker in their environment (kernels inherit it) or, for kernels, by
the test's private TMPDIR in their command line (the kernel's connection file lives there).
"""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
import scenarios as s

ROOT = Path(__file__).resolve().parents[1]
TRAINS = [s.DATA, s.sequential(["ReLU"] * 6, width=16), s.train(s.SGD, epochs=1)]


def make_class(root: Path) -> Path:
    """Three tiny submissions that need a kernel (two train, one fails at run time) and two invalid ones."""
    cls = root / "class"
    cls.mkdir()
    s.write_notebook(cls, "ahn", TRAINS)
    s.write_notebook(cls, "baek", [*TRAINS, s.TEST_ACCURACY])
    s.write_notebook(cls, "cho", ["import time\ntime.sleep(1)", "print(undefined)"])
    (cls / "dan.ipynb").write_text("{not json", encoding="utf-8")
    s.write_notebook(cls, "eom", [s.md("only words")])
    return cls


STUDENTS = {"ahn", "baek", "cho", "dan", "eom"}


class Batch:
    """``grader batch CLASS --out OUT --jobs 2`` in its own session, tagged with a unique marker."""

    def __init__(self, cls: Path, out: Path, tmp: Path) -> None:
        self.marker = f"grader-test-{uuid.uuid4().hex}"
        self.tmp = tmp
        tmp.mkdir(parents=True, exist_ok=True)
        self.env = {**os.environ, "GRADER_TEST_MARKER": self.marker, "TMPDIR": str(tmp)}
        self.cmd = [sys.executable, "-m", "grader", "batch", str(cls), "--out", str(out), "--no-progress",
                    "--jobs", "2"]
        self.db = out / "gradebook.sqlite"

    def start(self) -> subprocess.Popen[str]:
        return subprocess.Popen(self.cmd, cwd=ROOT, env=self.env, start_new_session=True, text=True,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE)

    def run(self) -> subprocess.CompletedProcess[str]:
        return subprocess.run(self.cmd, cwd=ROOT, env=self.env, capture_output=True, text=True, timeout=240)

    def processes(self) -> dict[int, str]:
        """pid -> command line of every live process of this batch (never the test itself)."""
        found = {}
        for d in Path("/proc").glob("[0-9]*"):
            try:
                if int(d.name) == os.getpid() or (d / "stat").read_text().rsplit(")", 1)[1].split()[0] == "Z":
                    continue  # a zombie is gone, only not yet reaped
                environ = (d / "environ").read_bytes()
                cmdline = (d / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            except (OSError, ValueError):
                continue
            if self.marker.encode() in environ or ("ipykernel_launcher" in cmdline and str(self.tmp) in cmdline):
                found[int(d.name)] = cmdline
        return found

    def kernels(self) -> dict[int, str]:
        return {p: c for p, c in self.processes().items() if "ipykernel_launcher" in c}

    def wait_gone(self, grace: float) -> dict[int, str]:
        """The batch's processes still alive after ``grace`` seconds (empty: all gone)."""
        deadline = time.monotonic() + grace
        while (left := self.processes()) and time.monotonic() < deadline:
            time.sleep(0.2)
        return left

    def graded(self) -> int:
        if not self.db.exists():
            return 0
        con = sqlite3.connect(self.db, timeout=5)
        try:
            return int(con.execute("SELECT COUNT(*) FROM attempts WHERE status != 'invalid'").fetchone()[0])
        except sqlite3.OperationalError:
            return 0
        finally:
            con.close()


def final_gradebook(db: Path) -> dict[str, object]:
    """Latest result per student (status, score) and the number of rows per student."""
    con = sqlite3.connect(db)
    try:
        latest = {r[0]: (r[1], r[2], r[3]) for r in con.execute(
            "SELECT student, status, score, score_max FROM attempts a WHERE id = "
            "(SELECT MAX(id) FROM attempts b WHERE b.student = a.student)")}
        rows = dict(con.execute("SELECT student, COUNT(*) FROM attempts GROUP BY student").fetchall())
        checks = sorted(con.execute("SELECT a.student, c.check_id, c.points, c.status FROM check_results c "
                                    "JOIN attempts a ON a.id = c.attempt").fetchall())
        return {"latest": latest, "rows": rows, "checks": checks}
    finally:
        con.close()


def _kill_when(batch: Batch, proc: subprocess.Popen[str], after_s: float | None, graded: int | None,
               whole_group: bool) -> None:
    """SIGKILL the batch after ``after_s`` seconds or once ``graded`` kernel results are stored."""
    started = time.monotonic()
    while proc.poll() is None and time.monotonic() - started < 120:
        if after_s is not None and time.monotonic() - started >= after_s:
            break
        if graded is not None and batch.graded() >= graded:
            break
        time.sleep(0.05)
    if whole_group:
        os.killpg(proc.pid, signal.SIGKILL)  # parent and workers; kernels run in sessions of their own
    else:
        os.kill(proc.pid, signal.SIGKILL)  # the parent only: the workers are orphaned
    proc.communicate()


@pytest.fixture(scope="module")
def reference(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, object]]:
    root = tmp_path_factory.mktemp("ref")
    cls = make_class(root)
    done = Batch(cls, root / "out", root / "tmp").run()
    assert done.returncode == 0, done.stderr[-3000:]
    return cls, final_gradebook(root / "out" / "gradebook.sqlite")


def test_sigkill_at_several_moments_then_resume_equals_uninterrupted(reference, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    cls, expected = reference
    assert set(expected["latest"]) == STUDENTS  # type: ignore[arg-type]
    batch = Batch(cls, tmp_path / "out", tmp_path / "tmp")
    moments = [(1.0, None, True), (None, 1, False), (6.0, None, False), (None, 2, True)]
    for after_s, graded, whole_group in moments:
        proc = batch.start()
        _kill_when(batch, proc, after_s, graded, whole_group)
        left = batch.wait_gone(grace=8)
        assert not left, f"still alive 8 s after SIGKILL at {after_s or graded}: {left}"
    final = batch.run()
    assert final.returncode == 0, final.stderr[-3000:]
    assert final_gradebook(batch.db) == expected
    assert not batch.wait_gone(grace=5)


@pytest.mark.parametrize("whole_group", [True, False], ids=["ctrl-c-to-group", "sigint-to-parent"])
def test_sigint_stops_cleanly_and_leaves_no_process(tmp_path: Path, whole_group: bool) -> None:
    cls = make_class(tmp_path)
    batch = Batch(cls, tmp_path / "out", tmp_path / "tmp")
    proc = batch.start()
    deadline = time.monotonic() + 60
    while not batch.kernels() and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    assert batch.kernels(), "no kernel started"
    time.sleep(0.5)
    started = time.monotonic()
    if whole_group:
        os.killpg(proc.pid, signal.SIGINT)
    else:
        os.kill(proc.pid, signal.SIGINT)
    try:
        _, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    assert proc.returncode == 130, err[-3000:]
    assert "interrupted" in err and "Traceback" not in err, err[-3000:]
    assert time.monotonic() - started < 15, "the batch waited for the submissions in flight"
    left = batch.wait_gone(grace=5)
    assert not left, f"left behind after SIGINT: {left}"
