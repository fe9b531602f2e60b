"""``grader check``: a real kernel runs a small five-hidden-layer notebook; the student sees progress per cell
and per epoch, a Korean (default) or English summary with the fix, pending points, a preview notice, an HTML
page and optional JUnit; and the command works from a plain (non-editable) install outside the checkout."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

from grader.assignment import load_assignment
from grader.report.selfcheck import summary_text
from tests.scenarios import ADAM, DATA, relu6, sequential, train, write_notebook

ROOT = Path(__file__).resolve().parents[1]


def _five_hidden(tmp: Path) -> Path:
    five = sequential(["ReLU"] * 5)
    return write_notebook(tmp, "kim", [DATA, five, train(ADAM, epochs=2), relu6("unused")])


def _check(args: list[str], cwd: Path, env: dict[str, str] | None = None,
           python: str = sys.executable) -> subprocess.CompletedProcess[str]:
    return subprocess.run([python, "-m", "grader", "check", *args], cwd=cwd, capture_output=True, text=True,
                          timeout=300, env=env)


def test_check_korean_summary_progress_page_and_junit(tmp_path: Path) -> None:
    nb = _five_hidden(tmp_path)
    proc = _check([str(nb), "--out", "out", "--junit", "out/junit.xml"], cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    # the first line comes before anything slow; the kernel was started while the notebook was read (warm slot)
    assert proc.stderr.splitlines()[0].startswith(f"{nb} 를 점검합니다")
    assert json.loads((tmp_path / "out" / "kim.json").read_text(encoding="utf-8"))["execution"]["warm_start"] is True
    # progress: one line per code cell, one per finished epoch (2 epochs of run 1)
    assert "[1/4] 셀 0 실행 중: import torch" in proc.stderr and "[4/4] 셀 3" in proc.stderr
    assert "학습 1 · epoch 1 끝 · 평균 loss" in proc.stderr and "학습 1 · epoch 2 끝" in proc.stderr
    out = proc.stdout
    assert "자가 점검 결과 (미리보기): kim" in out
    assert "은닉층이 5개입니다: Linear 층 6개는 은닉층 5개를 만듭니다. Linear 층(과 활성화 함수)을 하나 더" in out
    assert "강사 검토 대기 10점 (t2.conclusion)" in out  # pending points named, not counted
    assert "내장된 MNIST 부분집합 (학습 6,000장 / 테스트 1,000장)" in out and "미리보기입니다" in out
    page = (tmp_path / "out" / "kim.html").read_text(encoding="utf-8")
    assert 'id="preview-notice"' in page and "전체 MNIST" in page and "<svg" in page
    suite = ET.parse(tmp_path / "out" / "junit.xml").getroot().find("testsuite")
    assert suite is not None and suite.get("name") == "kim"
    failed = {tc.get("name") for tc in suite.iter("testcase") if tc.find("failure") is not None}
    assert "t1.six_hidden" in failed


def test_check_english_summary_says_how_to_fix(tmp_path: Path) -> None:
    nb = _five_hidden(tmp_path)
    proc = _check([str(nb), "--lang", "en", "--out", "out", "--quiet"], cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert "running cell" not in proc.stderr  # --quiet
    assert "it has 5 hidden layers: 6 Linear layers make 5 hidden layers; add one more" in proc.stdout
    assert "10 points pending instructor review (t2.conclusion)" in proc.stdout
    assert "this is a preview" in proc.stdout and "60,000 train" in proc.stdout


def test_check_missing_file_is_a_usage_error(tmp_path: Path) -> None:
    proc = _check([str(tmp_path / "nope.ipynb")], cwd=tmp_path)
    assert proc.returncode == 2 and "no such file" in proc.stderr


def test_check_of_a_broken_notebook_says_so_and_leaves_no_kernel_or_folder(tmp_path: Path) -> None:
    """The kernel started ahead is stopped and its folder removed when the notebook turns out unreadable."""
    (tmp_path / "lee.ipynb").write_text("{ not json", encoding="utf-8")
    temp = tmp_path / "tmp"
    temp.mkdir()
    proc = _check(["lee.ipynb", "--lang", "en", "--out", "out"], cwd=tmp_path, env={**os.environ, "TMPDIR": str(temp)})
    assert proc.returncode == 0, proc.stderr
    assert "lee.ipynb" in proc.stdout and "not valid JSON" in proc.stdout
    assert not [p.name for p in temp.iterdir() if p.name.startswith("grader-")]


def test_invalid_submission_summary_names_the_problem() -> None:
    res = {"status": "invalid", "submission": {"id": "lee"}, "message": "lee.ipynb: not valid JSON (line 1)"}
    assert "채점할 수 없는 제출물입니다: lee.ipynb: not valid JSON" in summary_text(res, "ko", load_assignment())


def test_check_works_from_a_plain_install_outside_the_checkout(tmp_path: Path) -> None:
    """Wheel → --target dir → run from a folder with no checkout: the bundled rubric and baselines are found."""
    wheels, target = tmp_path / "wheels", tmp_path / "site"
    subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", str(ROOT), "--no-deps", "--no-build-isolation",
                    "-w", str(wheels)], check=True, capture_output=True, timeout=300)
    wheel = next(wheels.glob("grader-*.whl"))
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--target", str(target), str(wheel)],
                   check=True, capture_output=True, timeout=300)
    assert not list(target.rglob("solution.ipynb")), "the instructor's solution must never ship"
    student = tmp_path / "student"
    student.mkdir()
    nb = _five_hidden(student)
    env = {**os.environ, "PYTHONPATH": str(target)}
    where = subprocess.run([sys.executable, "-c", "import grader; print(grader.__file__)"], cwd=student, env=env,
                           capture_output=True, text=True, check=True).stdout
    assert where.startswith(str(target)), where  # the installed copy, not the checkout
    proc = _check([nb.name, "--assignment", "dnn2_mnist", "--lang", "en", "--quiet"], cwd=student, env=env)
    assert proc.returncode == 0, proc.stderr
    assert "it has 5 hidden layers" in proc.stdout and "Auto-graded score" in proc.stdout
    assert (student / "grader-check" / "kim.html").exists()
