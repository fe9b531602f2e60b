"""JUnit XML and the GitHub Classroom payload, from one real grading of a tiny notebook."""

from __future__ import annotations

import copy
import json
import os
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest
import scenarios as sc

from grader.assignment import load_assignment
from grader.integrations.classroom import classroom_payload, decode_payload, reporter_totals
from grader.integrations.junit import junit_xml

TINY = 32


@pytest.fixture(scope="module")
def graded(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """`grader classroom` once on a tiny three-task notebook (width 32, 1 epoch): result, payload, JUnit file."""
    tmp = tmp_path_factory.mktemp("classroom")
    nb = sc.write_notebook(tmp, "tiny", [
        sc.DATA,
        sc.sequential(["ReLU"] * 6, width=TINY), sc.train(sc.ADAM, epochs=1),
        sc.sequential(["Sigmoid"] * 6, width=TINY), sc.train(sc.ADAM, epochs=1),
        sc.md(sc.CONCLUSION),
        sc.sequential(["ReLU"] * 6, width=TINY), sc.train(sc.SGD, epochs=1),
    ])
    gh_out = tmp / "github_output"
    gh_out.write_text("other=1\n")
    env = {**os.environ, "GITHUB_OUTPUT": str(gh_out)}
    proc = subprocess.run([sys.executable, "-m", "grader", "classroom", str(nb), "--out", str(tmp / "out"),
                           "--junit", str(tmp / "junit.xml"), "--device", "cpu"],
                          capture_output=True, text=True, timeout=600, env=env)
    assert proc.returncode == 0, proc.stderr[-3000:]
    lines = gh_out.read_text().splitlines()
    return {"result": json.loads((tmp / "out" / "tiny.json").read_text()), "output_lines": lines,
            "stdout": proc.stdout, "junit": (tmp / "junit.xml").read_text()}


def _suites(xml_text: str) -> list[ET.Element]:
    root = ET.fromstring(xml_text)
    assert root.tag == "testsuites"
    return root.findall("testsuite")


def _assert_suite_matches(suite: ET.Element, res: dict[str, Any]) -> None:
    checks = res["checks"]
    cases = {c.get("name"): c for c in suite.findall("testcase")}
    assert suite.get("name") == res["submission"]["id"]
    assert set(cases) >= {c["id"] for c in checks}
    fails = [c for c in checks if c["status"] in ("fail", "partial")]
    errors = [c for c in checks if c["status"] == "error"]
    errors += [{"id": "submission"}] if res["status"] in ("invalid", "timeout", "kernel_died") else []
    skipped = [c for c in checks if c["pending"]]
    assert int(suite.get("failures", "-1")) == len(fails)
    assert int(suite.get("errors", "-1")) == len(errors)
    assert int(suite.get("skipped", "-1")) == len(skipped)
    assert int(suite.get("tests", "-1")) == len(cases)
    float(suite.get("time", "x"))  # plain decimal seconds
    props = {p.get("name"): p.get("value") for p in suite.iter("property")}
    assert float(props["score"]) == res["score"]["auto"]
    assert float(props["max_score"]) == res["score"]["auto_max"]
    for c in checks:
        case = cases[c["id"]]
        assert case.get("classname") == res["submission"]["id"]
        kind = {"fail": "failure", "partial": "failure", "error": "error", "pending": "skipped"}.get(c["status"])
        children = [el.tag for el in case if el.tag != "system-out"]
        assert children == ([kind] if kind else []), (c["id"], c["status"], children)
        if kind:
            assert case.find(kind).get("message") == c["message"]  # type: ignore[union-attr]
        if kind == "failure":
            assert case.find("failure").get("type") == "fail"  # type: ignore[union-attr]


def test_junit_matches_result(graded: dict[str, Any]) -> None:
    res = graded["result"]
    (suite,) = _suites(graded["junit"])
    _assert_suite_matches(suite, res)
    assert any(c["pending"] for c in res["checks"]), sc.summary(res)  # the conclusion awaits review


def test_junit_error_and_several_suites(graded: dict[str, Any]) -> None:
    res = graded["result"]
    broken = copy.deepcopy(res)
    broken["submission"]["id"] = "second"
    crashed = "the check crashed: KeyError 'x'"
    broken["checks"][0].update(status="error", passed=False, points=0.0, message=crashed,
                               messages={"en": crashed, "ko": "검사가 실패했습니다: KeyError 'x'"})
    suites = _suites(junit_xml([res, broken]))
    assert [s.get("name") for s in suites] == ["tiny", "second"]
    _assert_suite_matches(suites[1], broken)
    assert suites[1].get("errors") == "1"


def test_grade_junit_option_invalid_submission(tmp_path: Path) -> None:
    bad = tmp_path / "choi.ipynb"
    bad.write_text("{broken")
    junit = tmp_path / "ci" / "junit.xml"
    proc = subprocess.run([sys.executable, "-m", "grader", "grade", str(bad), "--out", str(tmp_path / "out"),
                           "--junit", str(junit)], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    res = json.loads((tmp_path / "out" / "choi.json").read_text())
    (suite,) = _suites(junit.read_text())
    _assert_suite_matches(suite, res)
    case = next(c for c in suite.findall("testcase") if c.get("name") == "submission")
    assert "not valid JSON" in case.find("error").get("message", "")  # type: ignore[union-attr]


def test_classroom_payload_totals(graded: dict[str, Any]) -> None:
    res = graded["result"]
    assert graded["output_lines"][0] == "other=1"  # appended, not overwritten
    key, _, value = graded["output_lines"][1].partition("=")
    assert key == "result"
    payload = decode_payload(value)
    assert payload == json.loads(json.dumps(classroom_payload(res)))
    assert payload["version"] == 1 and payload["status"] in ("pass", "fail", "error")
    assert payload["max_score"] == res["score"]["auto_max"] > 0
    assert len(payload["tests"]) == len(res["checks"])
    for t in payload["tests"]:
        assert set(t) == {"name", "status", "score", "message", "test_code", "filename", "line_no", "duration"}
        assert t["status"] in ("pass", "fail", "error") and t["line_no"] == 0 and t["filename"] == ""
        assert isinstance(t["duration"], int) and t["test_code"] == ""
    total, maximum = reporter_totals([payload])
    assert total == pytest.approx(res["score"]["auto"]) and maximum == res["score"]["auto_max"]
    assert maximum == res["score"]["max"] - res["score"]["pending_manual"]
    expected = "pass" if all(c["status"] == "pass" for c in res["checks"] if not c["pending"]) else "fail"
    assert payload["status"] == expected, sc.summary(res)


def test_classroom_summary_mentions_pending(graded: dict[str, Any]) -> None:
    s = graded["result"]["score"]
    out = graded["stdout"]
    assert f"{s['auto']:g}/{s['auto_max']:g}" in out
    assert "NOT included" in out and f"{s['pending_manual']:g} point(s)" in out


def test_reporter_ignores_zero_max_runners() -> None:
    p = {"version": 1, "status": "pass", "max_score": 0, "tests": [{"score": 5}]}
    q = {"version": 1, "status": "fail", "max_score": 10, "tests": [{"score": 3}, {"score": 4}]}
    assert reporter_totals([p, q]) == (7.0, 10.0)


def test_classroom_invalid_submission_counts_full_maximum(tmp_path: Path) -> None:
    bad = tmp_path / "lee.ipynb"
    bad.write_text("{broken")
    gh_out = tmp_path / "gh"
    proc = subprocess.run([sys.executable, "-m", "grader", "classroom", str(bad), "--out", str(tmp_path / "out")],
                          capture_output=True, text=True, timeout=120, env={**os.environ, "GITHUB_OUTPUT": str(gh_out)})
    assert proc.returncode == 0, proc.stderr
    payload = decode_payload(gh_out.read_text().strip().partition("=")[2])
    assert payload["status"] == "error" and payload["tests"][-1]["status"] == "error"
    assert "not valid JSON" in payload["tests"][-1]["message"]
    auto_max = sum(c.points for c in load_assignment(None).checks if not c.manual)
    assert reporter_totals([payload]) == (0.0, auto_max) and auto_max > 0  # the rubric's auto-gradable maximum
