"""docs/authoring.md's worked example, exactly as written there: a second assignment built in a temporary folder
(toml + a checks module, nothing changed in grader/) grades a submission end to end."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from grader.assignment import load_assignment
from grader.pipeline import GradeOptions, grade_file

DOC = Path(__file__).resolve().parents[1] / "docs" / "authoring.md"
KERNEL_ENV = {"OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}


def doc_files() -> dict[str, str]:
    """The files the guide spells out: ``<!-- file: NAME -->`` followed by a fenced block."""
    found = re.findall(r"<!-- file: (\S+) -->\n```\w*\n(.*?)\n```", DOC.read_text(encoding="utf-8"), re.S)
    return {name: body + "\n" for name, body in found}


@pytest.fixture(scope="module")
def homework(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("course") / "hw_linear"
    folder.mkdir()
    files = doc_files()
    assert set(files) == {"assignment.toml", "checks.py", "submission.py"}
    for name, body in files.items():
        (folder / name).write_text(body, encoding="utf-8")
    return folder


def _grade(homework: Path, source: str, name: str = "stud.py") -> dict[str, Any]:
    path = homework.parent / name
    path.write_text(source, encoding="utf-8")
    result = grade_file(path, load_assignment(homework), GradeOptions(device="cpu", env=dict(KERNEL_ENV)))
    return json.loads(json.dumps(result))  # what the JSON file holds


def _checks(result: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {c["id"]: c for c in result["checks"]}


@pytest.fixture(scope="module")
def graded(homework: Path) -> dict[str, Any]:
    return _grade(homework, (homework / "submission.py").read_text(encoding="utf-8"), "right.py")


def test_the_worked_example_scores_as_the_guide_says(graded: dict[str, Any]) -> None:
    assert graded["status"] == "graded", graded.get("message")
    assert graded["score"] == {"auto": 25.0, "auto_max": 25.0, "pending_manual": 5.0, "max": 30.0}
    checks = _checks(graded)
    assert checks["t3.answer"]["pending"] and "cost" in checks["t3.answer"]["evidence"]["text"]
    assert checks["t2.trained"]["messages"]["ko"] != checks["t2.trained"]["message"]
    facts = checks["t1.mse"]["evidence"]["facts"]
    assert [f["got"] for f in facts] == pytest.approx([2.0, 11 / 3])
    assert graded["data"]["provider"] == "none" and graded["runs"][0]["proof"]["status"] == "not_replay_verified"


def test_printing_the_answer_and_a_large_lr_fail_with_reasons(homework: Path) -> None:
    src = (homework / "submission.py").read_text(encoding="utf-8")
    body = re.search(r"def mse\(pred, target\):\n.*?\n\n\n", src, flags=re.S)
    assert body
    hard_coded = src.replace(body.group(0), "def mse(pred, target):\n    return 2.0  # the slide's answer\n\n\n")
    checks = _checks(_grade(homework, hard_coded.replace("lr=1e-5", "lr=1e-3"), "hard_coded.py"))
    assert checks["t1.mse"]["status"] == "fail"
    assert "mse([0.0, 0.0, 3.0], [1.0, 1.0, 0.0]) returned 2.0, expected 3.6666667" in checks["t1.mse"]["message"]
    assert checks["t2.small_lr"]["status"] == "fail" and "larger than 0.0001" in checks["t2.small_lr"]["message"]
    missing = _checks(_grade(homework, src.replace(body.group(0), "print(2.0)\n\n\n"), "printed.py"))
    assert "mse([1.0, 2.0], [1.0, 4.0]) was not found: NameError" in missing["t1.mse"]["message"]
    assert "찾을 수 없음" in missing["t1.mse"]["messages"]["ko"]


def test_the_worked_example_reaches_every_output(homework: Path, graded: dict[str, Any]) -> None:
    """The second assignment's result feeds the student page, JUnit and the Classroom payload unchanged."""
    import xml.etree.ElementTree as ET

    from grader.integrations.classroom import classroom_payload
    from grader.integrations.junit import junit_xml
    from grader.report import render_student

    assignment = load_assignment(homework)
    page_ko = render_student(graded, None, "ko", assignment)
    page_en = render_student(graded, None, "en", assignment)
    assert "과제 2 · 선형 모델 학습" in page_ko and "Task 2 · train a linear model" in page_en
    assert "호출 2개가 모두 기대한 값을 돌려주었습니다" in page_ko and "all 2 call(s) returned" not in page_ko
    assert "all 2 call(s) returned what was expected" in page_en
    suite = ET.fromstring(junit_xml([graded]))
    cases = {c.get("name", "") for c in suite.iter("testcase")}
    assert any("t1.mse" in c for c in cases) and any("t3.answer" in c for c in cases)
    assert not list(suite.iter("failure"))
    payload = classroom_payload(graded)
    assert payload["status"] == "pass" and payload["max_score"] == 25.0, payload
    assert [t["name"].split()[0] for t in payload["tests"]] == ["t1.mse", "t2.trained", "t2.falls", "t2.small_lr",
                                                               "t3.answer"]
