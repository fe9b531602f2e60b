"""Gradescope: the autograder zip's layout, and its real ``run_autograder`` against a fake /autograder root.

The zip is built once from this checkout; ``run_autograder`` is the script from the zip, run with bash,
``GRADER_AUTOGRADER_ROOT`` pointing at a temporary root laid out like Gradescope's (``source/`` = the
zip's contents, ``submission/``, ``results/``) and ``GRADER_PYTHON`` = this interpreter (grader installed).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path
from typing import Any

import pytest
import scenarios as sc

from grader.assignment import load_assignment
from grader.integrations.gradescope import find_submission

ROOT = Path(__file__).resolve().parents[1]
TINY = 32
VISIBILITY = {"hidden", "after_due_date", "after_published", "visible"}
FORMATS = {"text", "html", "simple_format", "md", "ansi"}
TOP_KEYS = {"score", "execution_time", "output", "output_format", "visibility", "stdout_visibility", "extra_data",
            "tests", "leaderboard"}
TEST_KEYS = {"score", "max_score", "status", "name", "number", "output", "output_format", "tags", "visibility",
             "extra_data"}
CHECK_IDS = ["t1.six_hidden", "t1.structure", "t1.loss_decreased", "t1.loss_vs_reference", "t1.accuracy",
             "t2.sigmoid_model", "t2.controlled", "t2.conclusion", "t3.other_optimizer", "t3.trained"]


def _number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def validate_results(data: dict[str, Any]) -> None:
    """Gradescope's results.json fields (../shared/notes/report-formats.md): names, types, allowed values."""
    assert set(data) <= TOP_KEYS, set(data) - TOP_KEYS
    assert json.loads(json.dumps(data)) == data
    assert _number(data["score"]) and data["score"] >= 0
    assert isinstance(data["execution_time"], int) and data["execution_time"] >= 0
    assert isinstance(data["output"], str) and data["output"].strip()
    assert data.get("output_format", "text") in FORMATS
    assert data.get("visibility", "visible") in VISIBILITY
    assert data.get("stdout_visibility", "hidden") in VISIBILITY
    assert isinstance(data.get("extra_data", {}), dict)
    for t in data["tests"]:
        assert set(t) <= TEST_KEYS, set(t) - TEST_KEYS
        assert isinstance(t["name"], str) and t["name"]
        assert isinstance(t["number"], str) and isinstance(t["output"], str)
        assert _number(t["score"]) and _number(t["max_score"]) and 0 <= t["score"] <= t["max_score"] + 1e-9
        assert t["status"] in ("passed", "failed")
        if t["status"] == "passed":
            assert t["score"] == t["max_score"]
        assert t.get("visibility", "visible") in VISIBILITY
        assert t.get("output_format", "text") in FORMATS
        assert all(isinstance(tag, str) for tag in t.get("tags", []))
    assert abs(sum(t["score"] for t in data["tests"]) - data["score"]) < 0.011
    for entry in data.get("leaderboard", []):
        assert set(entry) <= {"name", "value", "order"} and isinstance(entry["name"], str)
        assert _number(entry["value"]) or isinstance(entry["value"], str)
        assert entry.get("order", "desc") in ("asc", "desc")


@pytest.fixture(scope="module")
def zip_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``grader gradescope build`` once (CLI, real wheel build)."""
    out = tmp_path_factory.mktemp("gs-build") / "autograder.zip"
    proc = subprocess.run([sys.executable, "-m", "grader", "gradescope", "build", "--out", str(out)],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return out


def _fake_root(tmp: Path, zip_path: Path) -> Path:
    """A Gradescope-like root: source/ = the zip, run_autograder copied to the root, empty submission/."""
    root = tmp / "autograder"
    with zipfile.ZipFile(zip_path) as zf:
        zf.extractall(root / "source")
    for name in ("run_autograder", "setup.sh"):
        (root / "source" / name).chmod(0o755)
    shutil.copy2(root / "source" / "run_autograder", root / "run_autograder")
    (root / "submission").mkdir()
    return root


def _run(root: Path, python: str = sys.executable) -> tuple[subprocess.CompletedProcess[str], dict[str, Any]]:
    env = {**os.environ, "GRADER_AUTOGRADER_ROOT": str(root), "GRADER_PYTHON": python,
           "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"}
    proc = subprocess.run(["bash", str(root / "run_autograder")], capture_output=True, text=True, timeout=600,
                          env=env, cwd=root)
    results = root / "results" / "results.json"
    assert results.is_file(), proc.stderr[-3000:]
    assert not [p for p in results.parent.iterdir() if p.name != "results.json"]  # no temp file left behind
    return proc, json.loads(results.read_text(encoding="utf-8"))


def test_zip_layout(zip_path: Path) -> None:
    with zipfile.ZipFile(zip_path) as zf:
        infos = {i.filename: i for i in zf.infolist()}
        names = set(infos)
        for script in ("setup.sh", "run_autograder"):
            assert script in names
            assert (infos[script].external_attr >> 16) & 0o111 == 0o111, script
            assert zf.read(script).startswith(b"#!/usr/bin/env bash\n")
        wheels = [n for n in names if n.startswith("wheels/") and n.endswith(".whl")]
        assert len(wheels) == 1
        setup = zf.read("setup.sh").decode()
        run = zf.read("run_autograder").decode()
        readme = zf.read("README.txt").decode()
        with zipfile.ZipFile(zf.open(wheels[0])) as whl:
            wheel_names = set(whl.namelist())
    # the chosen assignment's folder (its checks module included), which run_autograder passes as --assignment
    assert {"assignment/dnn2_mnist/assignment.toml", "assignment/dnn2_mnist/checks.py",
            "assignment/dnn2_mnist/baselines/baseline-subset.json",
            "assignment/dnn2_mnist/baselines/baseline-full.json", "README.txt"} <= names
    assert not [n for n in names if "/examples/" in n or "/classroom/" in n or "__pycache__" in n]
    assert 'ASSIGNMENT="$ROOT/source/assignment/dnn2_mnist"' in run and '--assignment "$ASSIGNMENT"' in run
    assert "grader/integrations/gradescope.py" in wheel_names
    assert {"grader_assignments/dnn2_mnist/assignment.toml", "grader_assignments/dnn2_mnist/checks.py",
            "grader_assignments/dnn2_mnist/baselines/baseline-subset.json"} <= wheel_names
    assert not [n for n in wheel_names if n.startswith("grader/assignments/")]
    for name in names | wheel_names:  # the instructor's solution never ships
        assert "solution" not in name.lower() and not name.startswith("reference/"), name
    assert "torch==2.14.1 torchvision==0.29.1 --index-url https://download.pytorch.org/whl/cpu" in setup
    assert "wheels/grader-*.whl" in setup
    assert "-m grader" in run and "gradescope run" in run and "GRADER_PYTHON" in run and "--device cpu" in run
    assert "2 GB" in readme and "20-40 minutes" in readme
    tmp = zip_path.parent / "syntax"
    with zipfile.ZipFile(zip_path) as zf:
        zf.extractall(tmp)
    for script in ("setup.sh", "run_autograder"):
        assert subprocess.run(["bash", "-n", str(tmp / script)]).returncode == 0, script


def test_zip_carries_the_chosen_assignment_folder(zip_path: Path, tmp_path: Path) -> None:
    """``--assignment FOLDER`` (not a bundled one): its files go in under its id, run_autograder names it."""
    folder = tmp_path / "course" / "hw2"
    shutil.copytree(ROOT / "assignments" / "dnn2_mnist", folder,
                    ignore=shutil.ignore_patterns("__pycache__", "examples", "classroom"))
    toml = folder / "assignment.toml"
    toml.write_text(toml.read_text(encoding="utf-8").replace('id = "dnn2_mnist"', 'id = "hw2"', 1), encoding="utf-8")
    (folder / "extra").mkdir()
    (folder / "extra" / "helper.py").write_text("X = 1\n")
    (folder / "solution.ipynb").write_text("{}")  # never shipped, whatever folder it is in
    with zipfile.ZipFile(zip_path) as zf:
        wheel = next(n for n in zf.namelist() if n.endswith(".whl"))
        zf.extract(wheel, tmp_path)
    out = tmp_path / "hw2.zip"
    proc = subprocess.run([sys.executable, "-m", "grader", "gradescope", "build", "--out", str(out), "--assignment",
                           str(folder), "--wheel", str(tmp_path / wheel)], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-3000:]
    with zipfile.ZipFile(out) as zf:
        names = set(zf.namelist())
        run = zf.read("run_autograder").decode()
    assert {"assignment/hw2/assignment.toml", "assignment/hw2/checks.py", "assignment/hw2/extra/helper.py",
            "assignment/hw2/baselines/baseline-subset.json"} <= names
    assert not [n for n in names if n.startswith("assignment/dnn2_mnist/") or "solution" in n]
    assert 'ASSIGNMENT="$ROOT/source/assignment/hw2"' in run and '--assignment "$ASSIGNMENT"' in run


def test_unknown_assignment_is_a_usage_error(tmp_path: Path) -> None:
    proc = subprocess.run([sys.executable, "-m", "grader", "gradescope", "build", "--out", str(tmp_path / "a.zip"),
                           "--assignment", "no_such_hw"], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2 and "unknown assignment 'no_such_hw'" in proc.stderr and "dnn2_mnist" in proc.stderr
    assert not (tmp_path / "a.zip").exists()


@pytest.fixture(scope="module")
def graded(zip_path: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """run_autograder on a tiny three-task notebook (width 32, 1 epoch) plus a stray draft notebook.

    The rubric in the zip is edited (t1.structure 5 → 7 points) to show run_autograder grades with it.
    """
    root = _fake_root(tmp_path_factory.mktemp("gs-run"), zip_path)
    toml = root / "source" / "assignment" / "dnn2_mnist" / "assignment.toml"
    text = toml.read_text(encoding="utf-8")
    # `points = 5` of the [[checks]] table whose id is t1.structure, wherever it sits in that table
    edited, n = re.subn(r'(id = "t1\.structure"\n(?:(?!\[\[).*\n)*?)points = 5\n', r"\g<1>points = 7\n", text)
    assert n == 1
    toml.write_text(edited, encoding="utf-8")
    sc.write_notebook(root / "submission", "homework", [
        sc.DATA,
        sc.sequential(["ReLU"] * 6, width=TINY), sc.train(sc.ADAM, epochs=1),
        sc.sequential(["Sigmoid"] * 6, width=TINY), sc.train(sc.ADAM, epochs=1),
        sc.md(sc.CONCLUSION),
        sc.sequential(["ReLU"] * 6, width=TINY), sc.train(sc.SGD, epochs=1),
    ])
    (root / "submission" / "drafts").mkdir()
    sc.write_notebook(root / "submission" / "drafts", "a_draft", ["print('draft')"])
    (root / "submission" / "notes.txt").write_text("not graded\n")
    proc, data = _run(root)
    return {"proc": proc, "data": data}


def test_run_autograder_real_notebook(graded: dict[str, Any]) -> None:
    data, proc = graded["data"], graded["proc"]
    assert proc.returncode == 0, proc.stderr[-3000:]
    validate_results(data)
    tests = {t["name"].split(" ")[0]: t for t in data["tests"]}
    assert list(tests) == CHECK_IDS
    assert [t["number"] for t in data["tests"]][:5] == ["1.1", "1.2", "1.3", "1.4", "1.5"]
    assert tests["t1.six_hidden"]["status"] == "passed" and tests["t1.six_hidden"]["score"] == 10
    assert "Task 1 · Six hidden layers" in tests["t1.six_hidden"]["name"]
    assert tests["t1.structure"]["max_score"] == 7  # the zip's rubric, not the installed package's
    pending = tests["t2.conclusion"]
    assert pending["score"] == 0 and pending["max_score"] == 0 and "pending instructor review" in pending["name"]
    assert pending["output"].startswith("Pending instructor review")
    assert sum(t["max_score"] for t in data["tests"]) == 92 == data["extra_data"]["auto_max"]
    assert data["extra_data"]["pending_manual"] == 10 and data["extra_data"]["data_mode"] == "subset"
    assert data["extra_data"]["schema_version"] == 1 and data["extra_data"]["status"] in ("graded", "errors")
    assert data["extra_data"]["submission"].endswith("homework.ipynb")
    assert "pending instructor review" in data["output"] and "t2.conclusion" in data["output"]
    assert "graded `homework.ipynb`" in data["output"] and "drafts/a_draft.ipynb" in data["output"]
    [board] = data["leaderboard"]
    spec = load_assignment().leaderboard
    assert spec is not None and board["name"] == spec.name and board["order"] == "desc" and 0 < board["value"] <= 1
    assert board["value"] == round(data["extra_data"]["test_accuracy"], 4)
    assert f"{data['extra_data']['test_accuracy']:.4f}" in data["output"]
    assert data["execution_time"] >= 1
    assert "homework" in proc.stdout  # the grader's summary is in the (hidden) stdout


@pytest.mark.parametrize("files, expect", [
    ({}, "the submission is empty"),
    ({"report.pdf": b"%PDF-1.4", "notes.txt": b"hello"}, "no notebook (.ipynb) or Python file (.py)"),
    ({"homework.ipynb": b"{not json"}, "not valid JSON"),
])
def test_invalid_submission(zip_path: Path, tmp_path: Path, files: dict[str, bytes], expect: str) -> None:
    root = _fake_root(tmp_path, zip_path)
    for name, raw in files.items():
        (root / "submission" / name).write_bytes(raw)
    proc, data = _run(root)
    assert proc.returncode == 0, proc.stderr[-3000:]
    validate_results(data)
    assert data["output"].startswith("**Your submission could not be graded:**"), (data["output"], proc.stderr[-3000:])
    assert data["score"] == 0 and expect in data["output"]
    assert [t["name"].split(" ")[0] for t in data["tests"]] == CHECK_IDS
    assert all(t["status"] == "failed" and t["score"] == 0 and expect in t["output"] for t in data["tests"])
    assert data["extra_data"]["status"] == "invalid"


def test_grader_that_cannot_start_still_writes_results(zip_path: Path, tmp_path: Path) -> None:
    root = _fake_root(tmp_path, zip_path)
    proc, data = _run(root, python="false")
    assert proc.returncode != 0
    validate_results(data)
    assert data["score"] == 0 and "could not run" in data["output"]


def test_find_submission_is_deterministic(tmp_path: Path) -> None:
    sub = tmp_path / "submission"
    for rel in ("z/Homework.ipynb", "b.ipynb", "A.ipynb", ".ipynb_checkpoints/a-checkpoint.ipynb", "helper.py"):
        (sub / rel).parent.mkdir(parents=True, exist_ok=True)
        (sub / rel).write_text("{}")
    found = find_submission(sub)
    assert found.path == sub / "A.ipynb" and found.note and "3 .ipynb files" in found.note
    (sub / "A.ipynb").unlink()
    (sub / "b.ipynb").unlink()
    assert find_submission(sub).path == sub / "z" / "Homework.ipynb"
    shutil.rmtree(sub / "z")
    only_py = find_submission(sub)
    assert only_py.path == sub / "helper.py" and only_py.note is None
    assert find_submission(tmp_path / "missing").problem


@pytest.mark.parametrize("aid", ["dnn2_gd_dataloader", "mnist_cnn"])
def test_zip_of_the_other_homework_grades_its_right_example(zip_path: Path, tmp_path: Path, aid: str) -> None:
    """The course's other homework ship and grade the same way (a provider without data included)."""
    with zipfile.ZipFile(zip_path) as zf:
        wheel = next(n for n in zf.namelist() if n.endswith(".whl"))
        zf.extract(wheel, tmp_path)
    out = tmp_path / f"{aid}.zip"
    proc = subprocess.run([sys.executable, "-m", "grader", "gradescope", "build", "--out", str(out), "--assignment",
                           aid, "--wheel", str(tmp_path / wheel)], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-3000:]
    if aid == "mnist_cnn":  # its grading is covered by test_examples; here only what the zip carries
        with zipfile.ZipFile(out) as zf:
            assert f"assignment/{aid}/baselines/baseline-subset.json" in zf.namelist()
        return
    root = _fake_root(tmp_path, out)
    shutil.copy2(ROOT / "assignments" / aid / "examples" / "right.ipynb", root / "submission" / "homework.ipynb")
    _, data = _run(root)
    assert data["score"] == 100 and {t["name"].split()[0] for t in data["tests"]} >= {"t1.iterates", "t3.lr"}
    assert "leaderboard" not in data  # dnn2_gd_dataloader declares no [leaderboard]


def test_the_zip_readme_names_only_its_own_assignment() -> None:
    from grader.assignment import load_assignment
    from grader.integrations.gradescope_zip import _texts

    xor = _texts(load_assignment("xor_mlp"), "none", None)["README.txt"]
    assert "xor_mlp" in xor and '"none" data mode (no dataset)' in xor
    assert not any(w in xor for w in ("MNIST", "six-hidden", "6 hidden", "Leaderboard", "checks.py", "baselines"))
    mlp = _texts(load_assignment("dnn2_mnist"), "full", None)["README.txt"]
    assert "(MNIST)" in mlp and '"Accuracy" (check t1.accuracy)' in mlp and "its checks (checks.py)" in mlp
