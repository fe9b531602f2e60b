"""``grader batch --backend ray``: a class graded through a local Ray cluster (CPU) equals the local batch, and
the Ray batch resumes like the local one (nothing re-graded; ``--force`` re-grades).

Real kernels, real training, real Ray: the test starts a local Ray instance (2 CPUs) and the CLI joins it by
``--address``, the way an instructor's command joins a cluster's head node. Three tiny notebooks (width 64, one
epoch on the subset) and one invalid file. Skipped only when Ray is not installed.
"""

from __future__ import annotations

import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import scenarios as s

from grader.store.gradebook import Gradebook

pytest.importorskip("ray")

ROOT = Path(__file__).resolve().parents[1]
STUDENTS = {"kim", "park", "lee", "choi"}


def make_class(root: Path) -> Path:
    """kim (good), park (3 hidden layers, Adam), lee (NameError at run time), choi (invalid JSON)."""
    cls = root / "class"
    cls.mkdir()
    s.write_notebook(cls, "kim", [s.DATA, s.relu6(), s.train(s.SGD, epochs=1), s.TEST_ACCURACY])
    s.write_notebook(cls, "park", [s.DATA, s.sequential(["ReLU"] * 3), s.train(s.ADAM, epochs=1)])
    s.write_notebook(cls, "lee", [s.DATA, "model = build_the_model()  # NameError", "print('after')"])
    (cls / "choi.ipynb").write_text("{broken", encoding="utf-8")
    return cls


def batch(cls: Path, out: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run([sys.executable, "-m", "grader", "batch", str(cls), "--out", str(out), "--no-progress",
                           "--device", "cpu", *extra], capture_output=True, text=True, timeout=240, cwd=ROOT)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return proc


def latest(out: Path) -> dict[str, dict[str, Any]]:
    """Per student: status, score and each check's points (what must not depend on where it was graded)."""
    with Gradebook(out / "gradebook.sqlite") as gb:
        results = gb.latest_results()
    return {r["submission"]["id"]: {"status": r["status"], "score": r["score"],
                                    "checks": {c["id"]: c["points"] for c in r["checks"]}} for r in results}


def attempts(out: Path) -> dict[str, str]:
    """student -> when its stored attempt finished."""
    con = sqlite3.connect(out / "gradebook.sqlite")
    try:
        return dict(con.execute("SELECT student, finished_at FROM attempts").fetchall())
    finally:
        con.close()


@pytest.fixture(scope="module")
def cluster() -> Iterator[str]:
    """A local Ray instance on 2 CPUs; its address."""
    import ray

    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    try:
        yield ray.get_runtime_context().gcs_address
    finally:
        ray.shutdown()


def test_ray_batch_equals_local_and_resumes(tmp_path: Path, cluster: str) -> None:
    cls = make_class(tmp_path)
    local, ray_out = tmp_path / "local", tmp_path / "ray"
    batch(cls, local, "--jobs", "2")
    first = batch(cls, ray_out, "--backend", "ray", "--address", cluster)

    expected = latest(local)
    assert set(expected) == STUDENTS
    assert latest(ray_out) == expected
    assert expected["kim"]["status"] == "graded" and expected["kim"]["score"]["auto"] > 0
    assert expected["choi"]["status"] == "invalid"
    assert "graded 4, failed 0, skipped 0" in first.stderr
    assert sorted(p.name for p in ray_out.glob("*.json")) == sorted([*(f"{n}.json" for n in STUDENTS),
                                                                     "similarity.json"])

    stored = attempts(ray_out)
    assert set(stored) == STUDENTS

    again = batch(cls, ray_out, "--backend", "ray", "--address", cluster)  # resume: nothing left to grade
    assert "graded 0, failed 0, skipped 4" in again.stderr
    assert attempts(ray_out) == stored

    forced = batch(cls, ray_out, "--backend", "ray", "--address", cluster, "--force")
    assert "graded 4, failed 0, skipped 0" in forced.stderr
    regraded = attempts(ray_out)
    assert set(regraded) == STUDENTS and all(regraded[n] > stored[n] for n in STUDENTS)
    assert latest(ray_out) == expected


def test_ray_options_need_the_ray_backend(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from grader.cli.main import EXIT_USAGE, main

    for extra in (["--address", "127.0.0.1:6379"], ["--gpus-per-task", "0.5"], ["--backend", "ray", "--jobs", "2"]):
        assert main(["batch", str(tmp_path), "--out", str(tmp_path / "o"), *extra]) == EXIT_USAGE
        assert "--backend" in capsys.readouterr().err
    assert not (tmp_path / "o").exists()
    s.write_notebook(tmp_path, "kim", ["print(1)"])  # a wrong address is a usage error at once, not a long retry
    assert main(["batch", str(tmp_path), "--out", str(tmp_path / "o"), "--backend", "ray",
                 "--address", "127.0.0.1:1"]) == EXIT_USAGE
    assert "no Ray head node answers at 127.0.0.1:1" in capsys.readouterr().err
