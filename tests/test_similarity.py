"""Similarity across a class (copydetect + training records), and the issue's end-to-end class: a renamed copy
among independent homework, a times file with late submissions and an extension → the copy is the top flagged
pair, penalties follow the policy, feedback folders hold one student each, a dry-run Canvas push lists the grades.
One real batch (five tiny notebooks, width 32, one epoch, --jobs 2)."""

from __future__ import annotations

import csv
import json
import re
import shutil
import subprocess
import sys
import threading
from http.server import ThreadingHTTPServer
from pathlib import Path

import pytest
import scenarios as s

from grader.report.similarity import render_pair
from grader.store.similarity import code_text, robust_z, similarity, training_evidence

pytest.importorskip("copydetect")

ROOT = Path(__file__).resolve().parents[1]
STARTER = ROOT / "assignments" / "dnn2_mnist" / "starter.ipynb"
RENAMES = [("model", "net"), ("optimizer", "opt"), ("criterion", "loss_fn"), ("avg_cost", "running"),
           ("epoch", "ep"), ("hypothesis", "logits"), ("cost", "loss_val"), ("total_batch", "n_batches")]


def renamed(cells: list[str]) -> list[str]:
    """The same code with every variable renamed (what a copier does to hide a copy)."""
    out = []
    for cell in cells:
        for old, new in RENAMES:
            cell = re.sub(rf"\b{old}\b", new, cell)
        out.append(cell)
    return out


KIM = [s.DATA, s.sequential(["ReLU"] * 2, width=32), s.train(s.SGD, epochs=1), s.TEST_ACCURACY]
INDEPENDENT = {
    "park": [s.DATA, s.module_list("torch.relu", hidden=2), s.NO_DATALOADER_TRAIN.format(epochs=1)],
    "choi": [s.DATA, s.sequential(["Sigmoid", "Tanh"], width=32), s.train(s.ADAM, epochs=1), s.TEST_LOADER_ACCURACY],
    "jung": [s.DATA, s.CUSTOM_MODULE_F_RELU, s.train(s.ADAMW, epochs=1)],
}


def test_code_text_keeps_code_cells_only(tmp_path: Path) -> None:
    nb = s.notebook([s.md("# my answer"), "!pip install torch\nx = 1  # kept", "%matplotlib inline\ny = 2"])
    nb.cells[1]["outputs"] = [{"output_type": "stream", "name": "stdout", "text": "OUTPUT TEXT"}]
    path = tmp_path / "a.ipynb"
    path.write_text(json.dumps(nb), encoding="utf-8")
    text = code_text(path)
    assert "x = 1  # kept" in text and "y = 2" in text
    assert "my answer" not in text and "OUTPUT TEXT" not in text and "pip" not in text and "matplotlib" not in text


def test_renamed_copy_is_the_top_flagged_pair_and_starter_never_counts(tmp_path: Path) -> None:
    files = {}
    for name, cells in {"kim": KIM, "lee": renamed(KIM), **INDEPENDENT}.items():
        files[name] = s.write_notebook(tmp_path, name, cells)
    starter_cells = [c["source"] for c in json.loads(STARTER.read_text())["cells"] if c["cell_type"] == "code"]
    files["han"] = s.write_notebook(tmp_path, "han", starter_cells)  # handed in the starter untouched
    files["oh"] = s.write_notebook(tmp_path, "oh", starter_cells + ["print('done')"])
    report = similarity(files, {}, STARTER)
    top = report["pairs"][0]
    assert (top["a"], top["b"]) == ("kim", "lee") and top["flagged"] and top["code_score"] >= 0.95
    assert [p for p in report["pairs"] if p["flagged"]] == [top]
    starter_pair = next(p for p in report["pairs"] if {p["a"], p["b"]} == {"han", "oh"})
    assert starter_pair["code_score"] < 0.5 and not starter_pair["flagged"]  # the template is removed
    assert top["matches"]["a"] and top["matches"]["b"]
    assert report["method"] == "copydetect" and report["template"] == "starter.ipynb"


def test_training_records_and_weights_are_evidence() -> None:
    run = {"index": 0, "model": {"layers": [{"kind": "linear", "in": 784, "out": 10}]},
           "step_losses": [2.3, 1.9, 1.5], "weights_fp": "abc"}
    same = training_evidence({"runs": [run]}, {"runs": [{**run, "weights_fp": "def"}]})
    assert [e["kind"] for e in same] == ["identical_losses"]
    other_arch = {**run, "model": {"layers": [{"kind": "linear", "in": 784, "out": 32}]}, "weights_fp": "abc"}
    assert [e["kind"] for e in training_evidence({"runs": [run]}, {"runs": [other_arch]})] == ["identical_weights"]
    differs = {**run, "step_losses": [2.3, 1.9, 1.4], "weights_fp": None}
    assert training_evidence({"runs": [run]}, {"runs": [differs]}) == []
    assert robust_z([0.3, 0.32, 0.34, 0.95])[-1] > 3.5


def test_pair_page_escapes_student_code() -> None:
    pair = {"a": "<b>kim</b>", "b": "lee", "score": 1.0, "code_score": 1.0, "z": 9.0, "flagged": True,
            "evidence": [], "matches": {"a": [[0, 8]], "b": []}}
    page = render_pair(pair, "<script>alert(1)</script>", "x = 1", "en")
    assert "<script>alert" not in page and "<mark>&lt;script" in page and "&lt;b&gt;kim" in page


# ----------------------------------------------------------------------------- the class (real kernels)
DEADLINE = """
[deadline]
due = "2026-03-10T23:59:00+09:00"
penalty_per_day = 0.1
max_penalty = 0.3
grace_minutes = 10
"""
TIMES = ("student,submitted_at\nkim,2026-03-10T20:00:00+09:00\npark,2026-03-12T09:00:00+09:00\n"
         "choi,2026-03-11T00:30:00+09:00\njung,2026-03-13T12:00:00+09:00\n")


def grader(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "grader", *args], capture_output=True, text=True, timeout=400,
                          cwd=ROOT, env={**__import__("os").environ, "CANVAS_TOKEN": "t"})


def test_a_class_with_a_copy_late_work_and_an_extension(tmp_path: Path) -> None:
    from tests import test_canvas_push as fake

    hw = tmp_path / "dnn2_mnist"
    shutil.copytree(ROOT / "assignments" / "dnn2_mnist", hw)
    with (hw / "assignment.toml").open("a", encoding="utf-8") as fh:
        fh.write(DEADLINE)
    cls = tmp_path / "class"
    cls.mkdir()
    for name, cells in {"kim": KIM, "lee": renamed(KIM), **INDEPENDENT}.items():
        s.write_notebook(cls, name, cells)
    (tmp_path / "times.csv").write_text(TIMES, encoding="utf-8")
    out = tmp_path / "out"
    batch = grader("batch", str(cls), "--assignment", str(hw), "--out", str(out), "--jobs", "2", "--no-progress",
                   "--times", str(tmp_path / "times.csv"))
    assert batch.returncode == 0, batch.stderr[-3000:]
    report = json.loads((out / "similarity.json").read_text())
    top = report["pairs"][0]
    assert (top["a"], top["b"]) == ("kim", "lee") and top["flagged"], report["pairs"][:3]
    assert [p for p in report["pairs"] if p["flagged"]] == [top]
    assert {"identical_losses", "identical_weights"} <= {e["kind"] for e in top["evidence"]}  # same code and seed
    assert (out / "similarity" / "kim--lee.html").exists() and 'data-pair="kim|lee"' in (out / "index.html").read_text()

    assert grader("extend", "jung", "--days", "3", "--why", "medical", "--out", str(out),
                  "--assignment", str(hw)).returncode == 0
    assert grader("export", "csv", "--gradebook", str(out / "gradebook.sqlite"), "--assignment", str(hw),
                  "--out", str(tmp_path / "grades.csv")).returncode == 0
    rows = {r["student"]: r for r in csv.DictReader((tmp_path / "grades.csv").open())}
    for name, days in (("kim", 0), ("park", 2), ("choi", 1), ("jung", 0)):
        row = rows[name]
        assert float(row["days_late"]) == days, (name, row)
        assert float(row["penalty"]) == pytest.approx(round(float(row["auto"]) * 0.1 * days, 4)), (name, row)
        assert float(row["total"]) == pytest.approx(float(row["auto"]) - float(row["penalty"]))
    assert rows["lee"]["days_late"] == "" and float(rows["lee"]["penalty"]) == 0  # time unknown: no penalty

    fb = tmp_path / "feedback"
    assert grader("feedback", "--gradebook", str(out / "gradebook.sqlite"), "--assignment", str(hw),
                  "--out", str(fb)).returncode == 0
    assert sorted(p.name for p in fb.iterdir()) == sorted(rows)
    for name in rows:
        page = (fb / name / "index.html").read_text()
        others = [o for o in rows if o != name and re.search(rf"\b{o}\b", page)]
        assert f"{name}" in page and not others, (name, others)
        assert sorted(p.name for p in (fb / name).iterdir()) == ["FEEDBACK.md", "index.html"]
    assert grader("report", "--out", str(out), "--assignment", str(hw)).returncode == 0
    index = (out / "index.html").read_text()
    assert ("Feedback released" in index or "피드백 공개됨" in index) and 'id="released"' in index

    fake.FakeCanvas.grades, fake.FakeCanvas.posts = {}, []
    saved = list(fake.USERS)
    fake.USERS[:] = [{"id": 200 + i, "login_id": f"{n}@uni"} for i, n in enumerate(sorted(rows))]
    server = ThreadingHTTPServer(("127.0.0.1", 0), fake.FakeCanvas)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        (tmp_path / "roster.csv").write_text("student,login_id\n" + "".join(f"{n},{n}@uni\n" for n in rows))
        push = grader("export", "canvas", "--push", "--dry-run", "--gradebook", str(out / "gradebook.sqlite"),
                      "--assignment", str(hw), "--course", "1", "--assignment-id", "7",
                      "--url", f"http://127.0.0.1:{server.server_address[1]}", "--roster", str(tmp_path / "roster.csv"))
    finally:
        server.shutdown()
        server.server_close()
        fake.USERS[:] = saved
    assert push.returncode == 0, push.stderr
    for i, name in enumerate(sorted(rows)):
        assert f"{name} (canvas {200 + i}): — → {float(rows[name]['total']):g}" in push.stdout
    assert "5 grade(s) would change" in push.stdout and fake.FakeCanvas.posts == []
