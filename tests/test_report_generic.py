"""Everything downstream of the result is generic and bilingual: pages, self-check, Classroom, Gradescope, JUnit.

Messages come from the result's ``messages`` / ``warnings`` (never translated afterwards), task titles, hints,
figures, "the" accuracy and the leaderboard from the assignment. Uses the results graded once for
tests/test_report.py (no new notebooks are graded here).
"""

from __future__ import annotations

import copy
import dataclasses
import importlib
import re
import shutil
from pathlib import Path
from typing import Any

import pytest
from markupsafe import escape
from test_report import graded_results

from grader.assignment import Assignment, load_assignment
from grader.integrations.classroom import classroom_payload
from grader.integrations.classroom import summary_text as classroom_summary
from grader.integrations.gradescope import leaderboard_value, results_json
from grader.integrations.junit import junit_xml
from grader.report import render_class, render_student
from grader.report.selfcheck import preview_notice, summary_text
from grader.report.view import accuracy_of, localized

PACKAGE = Path(__file__).resolve().parents[1] / "grader"
#: files that must know no assignment (its check ids, run keys, lecture wording)
GENERIC_FILES = [*sorted((PACKAGE / "report").rglob("*.py")), *sorted((PACKAGE / "report").rglob("*.j2")),
                 *(PACKAGE / "integrations" / f"{name}.py" for name in ("junit", "classroom", "gradescope", "why"))]
ASSIGNMENT_WORDS = re.compile(r"\bt[1-9]\.[a-z]|dnn2|relu_adam|six[- ]hidden|ReLU \+ Adam|과제\s*\d|HINTS|TASK_TITLES")


@pytest.fixture(scope="module")
def results() -> tuple[dict[str, Any], ...]:
    return graded_results()


@pytest.fixture(scope="module")
def assignment() -> Assignment:
    return load_assignment()


def _e(value: str) -> str:
    return str(escape(value))


def _differing(items: list[dict[str, Any]]) -> dict[str, Any]:
    """The first item whose English and Korean messages differ."""
    return next(i for i in items if i["messages"]["en"] != i["messages"]["ko"])


def test_no_regex_translation_module_is_left() -> None:
    with pytest.raises(ModuleNotFoundError):
        importlib.import_module("grader.report.translate")


def test_the_report_and_integration_modules_know_no_assignment() -> None:
    found = [f"{p.relative_to(PACKAGE)}: {m.group(0)}" for p in GENERIC_FILES
             for m in [ASSIGNMENT_WORDS.search(p.read_text(encoding="utf-8"))] if m]
    assert not found, found


@pytest.mark.parametrize("lang, other", [("ko", "en"), ("en", "ko")])
def test_student_page_shows_check_and_flag_messages_in_its_language(
        results: tuple[dict[str, Any], ...], assignment: Assignment, lang: str, other: str) -> None:
    good, weak, _ = results
    check = _differing(good["checks"])
    html = render_student(good, None, lang, assignment)
    assert _e(check["messages"][lang]) in html and _e(check["messages"][other]) not in html
    hint = assignment.hint(next(c["id"] for c in good["checks"] if c["status"] == "fail"), lang)
    assert hint and _e(hint) in html
    flag = _differing(weak["flags"])
    html = render_student(weak, None, lang, assignment)
    flag_html = html[html.index('id="flags"'):html.index('id="task-')]
    assert _e(flag["messages"][lang]) in flag_html and _e(flag["messages"][other]) not in html


@pytest.mark.parametrize("lang, other", [("ko", "en"), ("en", "ko")])
def test_warnings_and_diagnoses_in_the_page_language(results: tuple[dict[str, Any], ...], assignment: Assignment,
                                                    lang: str, other: str) -> None:
    good = copy.deepcopy(results[0])
    good["checks"][0].update(warning="WARN-EN", warnings={"en": "WARN-EN", "ko": "WARN-KO"})
    good["diagnoses"] = [{"id": "lr_too_high", "ref": "lr_too_high@run1", "severity": "warning", "run": 0,
                          "message": {"en": "DIAG-EN", "ko": "DIAG-KO"}, "todo": {"en": "TODO-EN", "ko": "TODO-KO"}}]
    html = render_student(good, None, lang, assignment)
    for word in ("WARN", "DIAG", "TODO"):
        assert f"{word}-{lang.upper()}" in html and f"{word}-{other.upper()}" not in html
    text = summary_text(good, lang, assignment)
    for word in ("WARN", "DIAG", "TODO"):
        assert f"{word}-{lang.upper()}" in text and f"{word}-{other.upper()}" not in text


def test_results_of_older_versions_fall_back_to_message(results: tuple[dict[str, Any], ...],
                                                        assignment: Assignment) -> None:
    weak = copy.deepcopy(results[1])
    for item in [*weak["checks"], *weak["flags"]]:
        item.pop("messages", None)
        item.pop("warnings", None)
    html = render_student(weak, None, "ko", assignment)
    assert _e(weak["checks"][0]["message"]) in html and _e(weak["flags"][0]["message"]) in html
    assert localized({"message": "plain"}, "message", "ko") == "plain"
    assert localized({"message": {"en": "E", "ko": "K"}}, "message", "ko") == "K"  # a diagnosis' Text
    assert localized({}, "warning", "ko") == ""


@pytest.mark.parametrize("lang, other", [("ko", "en"), ("en", "ko")])
def test_selfcheck_summary_in_its_language(results: tuple[dict[str, Any], ...], assignment: Assignment,
                                           lang: str, other: str) -> None:
    good, weak, _ = results
    text = summary_text(good, lang, assignment)
    check = _differing(good["checks"])
    assert check["messages"][lang] in text and check["messages"][other] not in text
    for task in assignment.task_info.values():
        assert task.title[lang] in text
    flag = _differing(weak["flags"])
    assert flag["messages"][lang] in summary_text(weak, lang, assignment)


def test_preview_notice_follows_the_data_provider(results: tuple[dict[str, Any], ...]) -> None:
    good = copy.deepcopy(results[0])
    assert good["data"]["provider"] == "mnist"
    for lang in ("ko", "en"):
        assert "MNIST" in preview_notice(good, lang)
    good["data"]["mode"] = "full"
    assert "MNIST" in preview_notice(good, "en") and "subset" not in preview_notice(good, "en")
    good["data"].update(provider="none", mode="default", train_images=0, test_images=0)
    for lang in ("ko", "en"):
        notice = preview_notice(good, lang)
        assert "MNIST" not in notice and "default" in notice
    good["data"] = {"mode": "subset"}  # stored by an older version: no provider
    assert "MNIST" not in preview_notice(good, "en")


def test_all_pass_names_the_pending_manual_checks(results: tuple[dict[str, Any], ...],
                                                  assignment: Assignment) -> None:
    good = copy.deepcopy(results[0])
    for c in good["checks"]:
        if not c["manual"]:
            c.update(status="pass", points=c["max"])
    manual = [c["id"] for c in good["checks"] if c["manual"]]
    assert manual
    for lang in ("ko", "en"):
        last = summary_text(good, lang, assignment).splitlines()[-1]
        assert all(cid in last for cid in manual)


def test_no_figures_means_no_pair_figure(results: tuple[dict[str, Any], ...], assignment: Assignment) -> None:
    good, weak, _ = results
    (spec,) = assignment.figures
    with_pair = render_student(good, None, "en", assignment)
    bare = dataclasses.replace(assignment, figures=())
    without = render_student(good, None, "en", bare)
    assert _e(spec.title["en"]) in with_pair and _e(spec.title["en"]) not in without
    assert 'class="pair-title"' not in without
    assert without.count("<svg") == with_pair.count("<svg") - 1
    assert _e(spec.empty["en"]) in render_student(weak, None, "en", assignment)  # the pair was not judged
    assert _e(spec.empty["en"]) not in render_student(weak, None, "en", bare)


def test_pair_figure_draws_the_runs_its_checks_judged(results: tuple[dict[str, Any], ...],
                                                      assignment: Assignment) -> None:
    good = copy.deepcopy(results[0])
    (spec,) = assignment.figures
    runs = {c["id"]: c["evidence"].get("run") for c in good["checks"] if c["id"] in spec.checks}
    assert all(isinstance(v, int) for v in runs.values()), runs
    html = render_student(good, None, "en", assignment)
    assert 'class="pair-title"' in html and _e(spec.empty["en"]) not in html
    for c in good["checks"]:
        if c["id"] == spec.checks[1]:
            c["evidence"].pop("run")
    assert _e(spec.empty["en"]) in render_student(good, None, "en", assignment)


def test_the_accuracy_comes_from_the_report_check(results: tuple[dict[str, Any], ...],
                                                  assignment: Assignment) -> None:
    good = copy.deepcopy(results[0])
    check = next(c for c in good["checks"] if c["id"] == assignment.report.accuracy_check)
    assert accuracy_of(good, assignment) == check["evidence"]["accuracy"]
    best = max(r["accuracy"]["value"] for r in good["runs"])
    assert accuracy_of(good, dataclasses.replace(assignment, report=dataclasses.replace(
        assignment.report, accuracy_check=None))) == best
    check["evidence"].update(trained_on_test=True, accuracy=None)
    assert accuracy_of(good, assignment) is None
    rows = render_class([good], None, "en", assignment)
    assert 'data-key="accuracy"' in rows


def _custom_assignment(tmp_path: Path, assignment: Assignment, leaderboard: str) -> Assignment:
    """A copy of the assignment's folder whose ``[leaderboard]`` table is ``leaderboard``."""
    folder = tmp_path / "custom"
    shutil.copytree(assignment.root, folder)
    toml = (folder / "assignment.toml").read_text(encoding="utf-8")
    head, _, tail = toml.partition("\n[leaderboard]\n")
    assert tail, "the assignment has a [leaderboard] table"
    rest = tail.split("\n[", 1)
    toml = head + ("\n" + leaderboard if leaderboard else "") + ("\n[" + rest[1] if len(rest) > 1 else "\n")
    (folder / "assignment.toml").write_text(toml, encoding="utf-8")
    return load_assignment(folder)


def test_gradescope_leaderboard_follows_the_assignment(tmp_path: Path, results: tuple[dict[str, Any], ...],
                                                       assignment: Assignment) -> None:
    good = copy.deepcopy(results[0])
    spec = assignment.leaderboard
    assert spec is not None
    evidence = next(c for c in good["checks"] if c["id"] == spec.check)["evidence"]
    board = results_json(good, assignment)["leaderboard"]
    assert board == [{"name": spec.name, "value": round(evidence[spec.key], 4), "order": spec.order}]

    custom = _custom_assignment(tmp_path, assignment, '[leaderboard]\nname = "Loss decrease"\n'
                                                      'check = "t3.trained"\nkey = "decrease"\norder = "asc"\n')
    decrease = next(c for c in good["checks"] if c["id"] == "t3.trained")["evidence"]["decrease"]
    data = results_json(good, custom)
    assert data["leaderboard"] == [{"name": "Loss decrease", "value": round(decrease, 4), "order": "asc"}]
    assert data["extra_data"]["leaderboard_value"] == decrease

    none = _custom_assignment(tmp_path / "none", assignment, "")
    assert none.leaderboard is None and "leaderboard" not in results_json(good, none)

    evidence.update(trained_on_test=True)  # a run that trained on the test split gets no leaderboard value
    assert leaderboard_value(good, assignment) is None
    assert results_json(good, assignment)["leaderboard"][0]["value"] == 0.0


def test_gradescope_texts_are_generic(results: tuple[dict[str, Any], ...], assignment: Assignment) -> None:
    good = copy.deepcopy(results[0])
    data = results_json(good, assignment)
    tests = {t["name"].split(" ")[0]: t for t in data["tests"]}
    for spec in assignment.checks:
        assert assignment.task_title(spec.task, "en") in tests[spec.id]["name"]
    assert "MNIST" in data["output"]
    good["data"]["provider"] = "none"
    assert "MNIST" not in results_json(good, assignment)["output"]
    assert "MNIST" not in classroom_summary(good, classroom_payload(good))


def test_integrations_read_messages_and_warnings(results: tuple[dict[str, Any], ...],
                                                 assignment: Assignment) -> None:
    weak = copy.deepcopy(results[1])
    check = weak["checks"][0]
    check.update(message="OLD", messages={"en": "NEW-EN", "ko": "NEW-KO"}, warning=None,
                 warnings={"en": "WARN-EN", "ko": "WARN-KO"})
    payload = classroom_payload(weak)
    assert "NEW-EN" in payload["tests"][0]["message"]
    xml = junit_xml([weak])
    assert "NEW-EN" in xml and "WARN-EN" in xml
    gs = results_json(weak, assignment)["tests"][0]["output"]
    assert "NEW-EN" in gs and "WARN-EN" in gs


def test_a_run_without_epochs_is_drawn_over_steps(results: tuple[dict[str, Any], ...],
                                                  assignment: Assignment) -> None:
    good = copy.deepcopy(results[0])
    note = "Runs without epochs (a full-batch loop) are drawn as the loss of each step"
    assert note not in render_student(good, None, "en", assignment)
    run = good["runs"][0]
    run["has_epochs"], run["epochs"] = False, []
    page = render_student(good, None, "en", assignment)
    assert note in page and "epoch 없이 학습한 실행" in render_student(good, None, "ko", assignment)
