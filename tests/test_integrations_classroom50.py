"""Classroom 50: result.json against the collector's contract, the Actions job summary and annotations, hostile
file-command paths, a student's own result.json, and the template's autograder.py run end to end."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from grader.integrations.classroom50 import integer_points, write_result_json
from grader.integrations.classroom_actions import (
    append_file_command,
    error_annotations,
    escape_property,
    md,
)

ROOT = Path(__file__).resolve().parents[1]
ENV = {"CLASSROOM": "dl-fall", "ASSIGNMENT": "hw2", "USERNAME": "alice",
       "SUBMISSION_TAG": "submit/2026-12-06T03-00-00Z-a1b2c3d", "COMMIT_URL": "https://github.com/o/r/commit/a1b2c3d",
       "RELEASE_URL": "https://github.com/o/r/releases/tag/submit%2F2026", "REVIEW_URL": "https://github.com/o/r/compare/x...y"}
# collect_scores.py RFC3339_RE (lateness is judged from `datetime`); the issue asks for UTC with a Z.
_UTC_Z = re.compile(r"^\d{4}-\d{2}-\d{2}T([01]\d|2[0-3]):[0-5]\d:[0-5]\d(\.\d+)?Z$")


def _nonneg_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def validate_result(payload: Any, classroom: str, assignment: str, username: str) -> None:
    """Classroom 50's contract, re-implemented from foundation50/classroom50: ``validate_result`` in
    cli/gh-teacher/skeleton/dotgithub/scripts/collect_scores.py (schema, identity triple, submit/ prefix, non-empty
    string fields, non-negative integer scores, score ≤ max, tests' shape), wiki Advanced-Autograding.md ("score /
    max-score: sum of test scores / max-scores"; `datetime` UTC ISO 8601), and issue 19 (``usernames`` a
    one-element list, as the collector's earlier version required; the current one anchors on ``owner``)."""
    assert isinstance(payload, dict)
    assert payload["schema"] == "classroom50/result/v1"                              # collect_scores RESULT_SCHEMA_V1
    assert payload["classroom"] == classroom and payload["assignment"] == assignment  # identity (hostile payloads)
    assert isinstance(payload["owner"], str) and payload["owner"].lower() == username.lower()
    assert payload["assignment_type"] == "individual"
    assert payload["usernames"] == [username]                                         # issue 19 / collector v1
    assert isinstance(payload["submission"], str) and payload["submission"].startswith("submit/")
    for field in ("submission", "commit", "release", "review", "datetime"):          # _REQUIRED_STR_FIELDS
        assert isinstance(payload[field], str) and payload[field], field
    assert _UTC_Z.match(payload["datetime"]), payload["datetime"]
    assert _nonneg_int(payload["score"]) and _nonneg_int(payload["max-score"])
    assert payload["score"] <= payload["max-score"]
    tests = payload["tests"]
    assert isinstance(tests, list)
    for t in tests:
        assert isinstance(t["test-name"], str) and t["test-name"]
        assert isinstance(t["passed"], bool)
        assert _nonneg_int(t["score"]) and _nonneg_int(t["max-score"]) and t["score"] <= t["max-score"]
    assert sum(t["score"] for t in tests) == payload["score"]                        # wiki: sums of the tests
    assert sum(t["max-score"] for t in tests) == payload["max-score"]
    json.loads(json.dumps(payload, allow_nan=False))                                # strict JSON (no NaN)


# --- points ---------------------------------------------------------------------------------------------------

@pytest.mark.parametrize(("points", "maxima"), [
    ([2.5, 2.5, 5.0], [2.5, 2.5, 5.0]), ([1 / 3] * 3, [1 / 3] * 3), ([7.5, 7.5, 10.0, 5.0], [7.5, 7.5, 10.0, 5.0])])
def test_perfect_homework_keeps_its_full_integer_score(points: list[float], maxima: list[float]) -> None:
    scores, ints = integer_points(points, maxima)
    assert scores == ints and sum(ints) == round(sum(maxima))


@pytest.mark.parametrize(("points", "maxima"), [
    ([2.5, 0.0, 5.0], [2.5, 2.5, 5.0]), ([7.4, 7.5, 10.0, 4.9], [7.5, 7.5, 10.0, 5.0]), ([0.6, 0.6], [1.0, 1.0])])
def test_partial_points_sum_and_never_round_up(points: list[float], maxima: list[float]) -> None:
    import math

    scores, ints = integer_points(points, maxima)
    assert all(isinstance(s, int) and 0 <= s <= m for s, m in zip(scores, ints, strict=True))
    assert sum(scores) == math.floor(sum(points) + 1e-9) < sum(ints)


# --- workflow commands and Markdown ---------------------------------------------------------------------------

HOSTILE = "bad\n::set-output name=x::1\r\n%0A::add-mask::y, ok: z"


def test_annotations_cannot_inject_a_workflow_command() -> None:
    result = {"status": "graded", "checks": [
        {"id": "t1.a", "status": "fail", "points": 0, "max": 5, "message": HOSTILE, "task": "t1"},
        {"id": "t1.b", "status": "pass", "points": 5, "max": 5, "message": "fine", "task": "t1"},
        {"id": "t2.c", "status": "pending", "pending": True, "points": 0, "max": 5, "message": "x", "task": "t2"}]}
    lines = error_annotations(result, "en", file="hw,1:x.ipynb")
    assert len(lines) == 1  # only the failed check; the pending one is not a failure
    (line,) = lines
    assert "\n" not in line and "\r" not in line and line.startswith("::error file=hw%2C1%3Ax.ipynb,title=t1.a 0/5::")
    # GitHub parses a command only at the start of a line: with CR/LF escaped the message is one line, and the
    # runner's unescaping (%0D, %0A, %25) gives the student's text back as plain data
    data = line.split("::", 2)[2]
    assert data.replace("%0A", "\n").replace("%0D", "\r").replace("%25", "%") == HOSTILE
    assert escape_property("a:b,c%") == "a%3Ab%2Cc%25"


def test_markdown_escapes_student_text() -> None:
    said = md("x | <img src=x onerror=alert(1)> [link](http://e) `code` *b* # h\nnext")
    assert "<" not in said and "\n" not in said and "\\|" in said and "\\[link\\]" in said and "\\`code\\`" in said


# --- hostile paths ----------------------------------------------------------------------------------------------

def test_file_commands_refuse_hostile_paths(tmp_path: Path) -> None:
    work, runner = tmp_path / "checkout", tmp_path / "runner"
    work.mkdir()
    runner.mkdir()
    victim = runner / "victim"
    victim.write_text("keep\n")
    (runner / "link").symlink_to(victim)
    (runner / "dir").mkdir()
    os.mkfifo(runner / "fifo")
    (work / "summary").write_text("")
    cases = {str(runner / "link"): "a symbolic link", str(runner / "dir"): "not a regular file",
             str(runner / "fifo"): "not a regular file", str(work / "summary"): "inside the student's checkout",
             "relative/summary": "not an absolute path", str(runner / "no" / "dir"): "its folder is missing"}
    for raw, why in cases.items():
        assert append_file_command(raw, "x\n", work) == why, raw
    assert victim.read_text() == "keep\n" and (work / "summary").read_text() == ""
    good = runner / "step_summary"
    good.write_text("before\n")
    assert append_file_command(str(good), "after\n", work) is None
    assert good.read_text() == "before\nafter\n"
    assert append_file_command(str(runner / "new"), "x\n", work) is None  # the runner creates it; so may we
    assert (runner / "new").read_text() == "x\n"


def test_result_json_replaces_what_the_student_planted(tmp_path: Path) -> None:
    victim = tmp_path / "victim.json"
    victim.write_text('{"score": 100}')
    link = tmp_path / "result.json"
    link.symlink_to(victim)
    write_result_json(link, {"score": 1})
    assert not link.is_symlink() and json.loads(link.read_text()) == {"score": 1}
    assert victim.read_text() == '{"score": 100}'
    link.unlink()
    link.mkdir()
    (link / "x").write_text("y")
    write_result_json(link, {"score": 2})
    assert json.loads(link.read_text()) == {"score": 2}


# --- real runs ----------------------------------------------------------------------------------------------------

def _checkout(tmp: Path, notebook: Path | None) -> Path:
    co = tmp / "checkout"
    co.mkdir()
    if notebook is not None:
        shutil.copy(notebook, co / "homework.ipynb")
    git = ["git", "-C", str(co), "-c", "user.email=s@example.org", "-c", "user.name=s"]
    subprocess.run([*git, "init", "-q"], check=True)
    subprocess.run([*git, "commit", "-q", "--allow-empty", "-m", "submit"], check=True,
                   env={**os.environ, "GIT_COMMITTER_DATE": "2026-12-05T23:59:30+09:00"})
    return co


def _env(tmp: Path, co: Path) -> dict[str, str]:
    runner = tmp / "runner"
    runner.mkdir(exist_ok=True)
    (runner / "summary").write_text("")
    return {**os.environ, **ENV, "GITHUB_ACTIONS": "true", "GITHUB_WORKSPACE": str(co), "RUNNER_TEMP": str(runner),
            "GITHUB_STEP_SUMMARY": str(runner / "summary"), "GITHUB_OUTPUT": str(runner / "output")}


def test_template_autograder_runs_end_to_end_on_the_starter(tmp_path: Path) -> None:
    """The generated autograder.py, in a simulated Classroom 50 run (its variables, a student checkout with the
    starter, a student-planted result.json symlink and release-body.md, GITHUB_OUTPUT a planted symlink)."""
    from grader.cli import main

    assert main(["classroom-template", str(tmp_path / "up"), "--grader-spec", "git+https://example.org/g@v1",
                 "--assignment", "dnn2_mnist"]) == 0
    co = _checkout(tmp_path, tmp_path / "up" / "template" / "homework.ipynb")
    planted = tmp_path / "planted.json"
    planted.write_text('{"schema": "classroom50/result/v1", "score": 100, "max-score": 100}')
    (co / "result.json").symlink_to(planted)
    (co / "release-body.md").write_text("full marks!")
    env = _env(tmp_path, co)
    Path(env["GITHUB_OUTPUT"]).symlink_to(planted)
    proc = subprocess.run([sys.executable, str(tmp_path / "up" / "autograder" / "autograder.py")], cwd=co,
                          env={**env, "GRADER_SPEC": "skip"}, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    budget = re.search(r"grader budget: (\d+) s", proc.stdout)
    assert budget is not None and 0 < int(budget[1]) < 900
    result = json.loads((co / "result.json").read_text())
    validate_result(result, "dl-fall", "hw2", "alice")
    assert result["datetime"] == "2026-12-05T14:59:30Z"  # the graded commit's committer date, in UTC
    assert result["score"] == 0 and result["max-score"] == 90  # the starter earns nothing of the 90 auto points
    pending = [t for t in result["tests"] if t.get("pending")]
    assert [t["test-name"].split()[0] for t in pending] == ["t2.conclusion"] and pending[0]["passed"] is True
    assert planted.read_text().endswith('"max-score": 100}') and not (co / "result.json").is_symlink()
    assert "full marks" not in (co / "release-body.md").read_text()
    summary = Path(env["GITHUB_STEP_SUMMARY"]).read_text()
    # in the homework's language (ko): the score, each check with its points and what to do, the doctor's findings
    assert "점수: 0 / 90" in summary and "t1.six\\_hidden | 0/10" in summary and "할 일" in summary
    assert "학습에서 일어난 일" in summary
    assert "::error file=homework.ipynb,title=t1.six_hidden 0/10::" in proc.stdout
    assert planted.read_text().endswith('"max-score": 100}')  # a Classroom 50 run leaves $GITHUB_OUTPUT alone

    # a plain Actions run (no Classroom 50 variables): the legacy payload goes to $GITHUB_OUTPUT, which is a
    # planted symlink here, and the summary path is a directory: both refused, nothing written through them
    plain = {k: v for k, v in env.items() if k not in ENV}
    plain["GITHUB_STEP_SUMMARY"] = str(tmp_path / "runner")
    proc = subprocess.run([sys.executable, "-m", "grader", "classroom", "homework.ipynb", "--assignment", "dnn2_mnist",
                           "--device", "cpu", "--out", str(tmp_path / "reports")], cwd=co, env=plain,
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "$GITHUB_OUTPUT" in proc.stderr and "a symbolic link" in proc.stderr
    assert "$GITHUB_STEP_SUMMARY" in proc.stderr and "not a regular file" in proc.stderr
    assert planted.read_text().endswith('"max-score": 100}')


def test_solution_keeps_full_score_and_broken_runs_stay_valid(tmp_path: Path) -> None:
    """The instructor's solution: every auto point, as integers; a missing notebook: score 0 and a test naming
    why, exit 0; the grader failing (an unknown assignment): a valid file and a non-zero exit."""
    co = _checkout(tmp_path, ROOT / "reference" / "dnn2_mnist" / "solution.ipynb")
    env = _env(tmp_path, co)
    cmd = [sys.executable, "-m", "grader", "classroom", "homework.ipynb", "--assignment", "dnn2_mnist",
           "--device", "cpu", "--out", str(tmp_path / "reports")]
    proc = subprocess.run(cmd, cwd=co, env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    result = json.loads((co / "result.json").read_text())
    validate_result(result, "dl-fall", "hw2", "alice")
    assert result["score"] == result["max-score"] == 90 and "::error" not in proc.stdout

    (co / "homework.ipynb").unlink()
    proc = subprocess.run(cmd, cwd=co, env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    result = json.loads((co / "result.json").read_text())
    validate_result(result, "dl-fall", "hw2", "alice")
    assert result["score"] == 0 and len(result["tests"]) == 1 and "homework.ipynb" in result["tests"][0]["message"]

    bad = [*cmd[:6], "no_such_homework", *cmd[7:]]
    proc = subprocess.run(bad, cwd=co, env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode != 0
    result = json.loads((co / "result.json").read_text())
    validate_result(result, "dl-fall", "hw2", "alice")
    assert result["score"] == 0 and "grader failed" in result["tests"][0]["message"]


def test_a_run_cut_short_by_the_budget_says_so() -> None:
    from grader.assignment import load_assignment
    from grader.integrations.classroom50 import build_result
    from grader.integrations.classroom_actions import summary_markdown
    from grader.text import text

    cut = {"status": "timeout", "submission": {"id": "homework"}, "checks": [],
           "message": text("the notebook ran past its 600 s budget", "노트북이 600초 제한을 넘겼습니다")}
    data = build_result(cut, ENV, auto_max=90, lang="en", when="2026-12-06T03:00:00Z", budget_s=600)
    validate_result(data, "dl-fall", "hw2", "alice")
    assert data["score"] == 0 and data["max-score"] == 90 and data["grader"]["cut_short"] is True
    assert "15-minute" in data["tests"][0]["message"] and data["tests"][0]["budget_s"] == 600
    page = summary_markdown(cut, "en", load_assignment("dnn2_mnist"), data)
    assert "cut short" in page and "600" in page
