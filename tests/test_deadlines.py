"""Deadlines, submission times, extensions and the late penalty (no kernels: stored results in a gradebook)."""

from __future__ import annotations

import csv
import shutil
from datetime import datetime
from pathlib import Path

import pytest

from grader.assignment import load_assignment
from grader.assignment.deadline import late_policy, parse_deadline
from grader.cli.main import main
from grader.errors import AssignmentError, UsageError
from grader.report.html import render_class, render_student
from grader.store.course import export_course_csv
from grader.store.gradebook import Gradebook, export_canvas, export_csv, now
from grader.store.late import canvas_marks, extend, read_times, record_times, set_penalty
from tests.test_gradebook import key, result

ROOT = Path(__file__).resolve().parents[1]
DEADLINE = """
[deadline]
due = "2026-03-10T23:59:00+09:00"
penalty_per_day = 0.1
max_penalty = 0.3
grace_minutes = 15
late_until = "2026-03-20T23:59:00+09:00"
"""


def t(text: str) -> datetime:
    return datetime.fromisoformat(text)


@pytest.fixture()
def assignment(tmp_path: Path):  # type: ignore[no-untyped-def]
    """dnn2_mnist with the [deadline] above (a copy: the installed assignment stays as it is)."""
    folder = tmp_path / "dnn2_mnist"
    shutil.copytree(ROOT / "assignments" / "dnn2_mnist", folder)
    with (folder / "assignment.toml").open("a", encoding="utf-8") as fh:
        fh.write(DEADLINE)
    return load_assignment(folder)


def test_deadline_parses_and_refuses_a_time_without_offset(assignment) -> None:  # type: ignore[no-untyped-def]
    d = assignment.deadline
    assert d.due == t("2026-03-10T23:59:00+09:00") and d.max_penalty == 0.3 and d.grace_minutes == 15
    with pytest.raises(AssignmentError, match="no UTC offset"):
        parse_deadline({"due": "2026-03-10T23:59:00"})
    with pytest.raises(AssignmentError, match="unknown key"):
        parse_deadline({"due": "2026-03-10T23:59:00Z", "penalty": 1})
    with pytest.raises(AssignmentError, match="between 0 and 1"):
        parse_deadline({"due": "2026-03-10T23:59:00Z", "penalty_per_day": 10})


def test_policy_counts_started_days_after_grace_caps_and_zeroes(assignment) -> None:  # type: ignore[no-untyped-def]
    d = assignment.deadline
    assert late_policy(d, t("2026-03-10T15:10:00+00:00"))["days_late"] == 0  # 11 min late (UTC): within grace
    one = late_policy(d, t("2026-03-11T00:20:00+09:00"))  # 21 minutes late: one started day
    assert (one["days_late"], one["fraction"]) == (1, 0.1)
    assert late_policy(d, t("2026-03-12T23:59:01+09:00"))["days_late"] == 3  # 2 days and a second
    capped = late_policy(d, t("2026-03-17T10:00:00+09:00"))
    assert capped["days_late"] == 7 and capped["fraction"] == 0.3 and not capped["zero"]
    assert late_policy(d, t("2026-03-21T00:00:00+09:00"))["zero"]
    moved = late_policy(d, t("2026-03-12T10:00:00+09:00"), extension_days=2)
    assert moved["days_late"] == 0 and moved["due"] == "2026-03-12T23:59:00+09:00"


def test_times_file_names_every_bad_line(tmp_path: Path) -> None:
    times = tmp_path / "times.csv"
    times.write_text("student,submitted_at\nkim,2026-03-11T01:00:00+09:00\nghost,2026-03-11T01:00:00+09:00\n"
                     "lee,yesterday\npark,2026-03-11T01:00:00\nkim,2026-03-12T01:00:00+09:00\n", encoding="utf-8")
    with pytest.raises(UsageError) as err:
        read_times(times, {"kim", "lee", "park"})
    message = str(err.value)
    assert "times.csv:3: unknown student 'ghost'" in message
    assert "times.csv:4: 'yesterday' is not an ISO 8601 time" in message
    assert "times.csv:5: 2026-03-11T01:00:00 has no UTC offset" in message
    assert "times.csv:6: student 'kim' listed again (first on line 2)" in message
    times.write_text("student,submitted_at\nkim,2026-03-11T01:00:00Z\n", encoding="utf-8")
    assert read_times(times, {"kim"}) == {"kim": {"time": "2026-03-11T01:00:00+00:00", "source": "times.csv:2"}}
    marks = canvas_marks({"lee": "subs/lee_LATE_1234_5678_hw.ipynb", "kim": "subs/kim_1234_hw.ipynb"})
    assert list(marks) == ["lee"] and marks["lee"]["late_marker"]


def test_penalty_columns_extension_override_and_pages(tmp_path: Path, assignment) -> None:  # type: ignore[no-untyped-def]
    aid = "dnn2_mnist"
    with Gradebook(tmp_path / "gb.sqlite") as gb:
        gb.deadlines[aid] = assignment.deadline
        for s, p in (("kim", 10), ("lee", 10), ("park", 5), ("choi", 10)):
            gb.record_attempt(key(s), {**result(s, {"t1.a": p, "t1.b": 10}), "versions": {"assignment": aid}},
                              "t0", "t1")
        times = {"kim": {"time": "2026-03-10T20:00:00+09:00", "source": "times.csv:2"},
                 "lee": {"time": "2026-03-12T10:00:00+09:00", "source": "times.csv:3"},
                 "park": {"time": "2026-03-12T10:00:00+09:00", "source": "times.csv:4"}}
        assert record_times(gb.db, now(), aid, times) == 3
        assert record_times(gb.db, now(), aid, times) == 0  # idempotent
        with pytest.raises(UsageError, match="no graded result for student 'ghost'"):
            extend(gb, "ghost", 2, "prof", "sick")
        extend(gb, "park", 2, "prof", "medical note")
        by = {r["submission"]["id"]: r for r in gb.latest_results(aid)}
        assert by["kim"]["late"]["days_late"] == 0 and by["kim"]["score"]["after_penalty"] == 20
        assert by["lee"]["late"]["days_late"] == 2 and by["lee"]["score"]["penalty"] == 4.0  # 20 earned × 0.2
        assert by["park"]["late"]["days_late"] == 0 and by["park"]["late"]["extension"]["why"] == "medical note"
        assert by["choi"]["late"]["time"] == "unknown" and by["choi"]["score"]["penalty"] == 0
        assert "not trusted" in by["choi"]["late"]["note"]["en"]
        assert [c["points"] for c in by["lee"]["checks"]] == [10, 10]  # check results untouched
        set_penalty(gb, "lee", 1, "prof", "server outage that evening")
        lee = next(r for r in gb.latest_results(aid) if r["submission"]["id"] == "lee")
        assert lee["score"]["after_penalty"] == 19 and lee["late"]["override"]["policy_penalty"] == 4.0
        kinds = [e.kind for e in gb.history("lee", aid)]
        assert kinds == ["submitted_at", "late_override"]
        results = gb.latest_results(aid)
    rows = {r["student"]: r for r in csv.DictReader(export_csv(results, tmp_path / "g.csv").open())}
    assert (rows["lee"]["days_late"], rows["lee"]["penalty"], rows["lee"]["total"]) == ("2.0", "1.0", "19.0")
    canvas = list(csv.reader(export_canvas(results, tmp_path / "c.csv", "HW").open()))
    assert ["lee", "", "", "lee", "", "19"] in canvas
    course = list(csv.reader(export_course_csv(results, tmp_path / "course.csv").open()))
    assert course[0][-3:] == [f"{aid} penalty", "total", "total_max"] and ["lee", "20", "0", "1", "19", "20"] in course
    page = render_class(results, None, "en", assignment)
    assert "Days late" in page and "<strong>19</strong>" in page and "Feedback not released" in page
    student = render_student(lee, None, "ko", assignment)
    assert 'id="late"' in student and "감점 후 총점" in student and "server outage" in student


def test_cli_extend_and_a_bad_times_file_stop_before_grading(tmp_path: Path, capsys, assignment) -> None:  # type: ignore[no-untyped-def]
    with Gradebook(tmp_path / "gradebook.sqlite") as gb:
        gb.record_attempt(key("kim"), result("kim", {"t1.a": 10}), "t0", "t1")
    assert main(["extend", "kim", "--days", "3", "--why", "illness", "--grader", "prof", "--out", str(tmp_path)]) == 0
    assert "extension of 3 day(s) in dnn2_mnist" in capsys.readouterr().out
    assert main(["extend", "nobody", "--days", "1", "--out", str(tmp_path)]) == 2
    assert "no graded result for student 'nobody'" in capsys.readouterr().err
    assert main(["penalty", "kim", "0", "--why", "forgiven", "--assignment", str(assignment.root),
                 "--out", str(tmp_path)]) == 0
    assert "penalty set by hand in dnn2_mnist" in capsys.readouterr().out
    assert main(["history", "kim", "--out", str(tmp_path)]) == 0
    history = capsys.readouterr().out
    assert "extension" in history and "late_override" in history and "illness" in history
    subs = tmp_path / "subs"
    subs.mkdir()
    shutil.copy(ROOT / "assignments" / "dnn2_mnist" / "starter.ipynb", subs / "kim.ipynb")
    (tmp_path / "times.csv").write_text("student,submitted_at\nkim,2026-03-11 01:00\n", encoding="utf-8")
    code = main(["batch", str(subs), "--assignment", str(assignment.root), "--times", str(tmp_path / "times.csv"),
                 "--out", str(tmp_path / "out"), "--no-progress"])
    assert code == 2 and "times.csv:2: 2026-03-11 01:00 has no UTC offset" in capsys.readouterr().err
    assert not (tmp_path / "out" / "gradebook.sqlite").exists()  # nothing graded, nothing written


def test_canvas_late_marker_is_noted_and_never_replaces_a_file_time(tmp_path: Path, assignment) -> None:  # type: ignore[no-untyped-def]
    aid = "dnn2_mnist"
    with Gradebook(tmp_path / "gb.sqlite") as gb:
        gb.deadlines[aid] = assignment.deadline
        for s in ("kim", "lee"):
            gb.record_attempt(key(s), result(s, {"t1.a": 10}), "t0", "t1")
        marks = canvas_marks({"kim": "dl/kim_LATE_1_2_hw.ipynb", "lee": "dl/lee_LATE_1_2_hw.ipynb"})
        record_times(gb.db, now(), aid, {"kim": {"time": "2026-03-11T09:00:00+09:00", "source": "times.csv:2"}})
        assert record_times(gb.db, now(), aid, marks) == 1  # lee only: kim's time from the file stays
        by = {r["submission"]["id"]: r for r in gb.latest_results(aid)}
    assert by["kim"]["late"]["days_late"] == 1 and by["kim"]["score"]["penalty"] == 1.0
    assert by["lee"]["late"]["days_late"] is None and by["lee"]["score"]["penalty"] == 0
    assert "LATE" in by["lee"]["late"]["note"]["en"] and "Canvas" in by["lee"]["late"]["source"]
