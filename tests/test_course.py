"""A course gradebook: one SQLite file holding several assignments, overrides per assignment, the course page
(checked in headless Chromium) and the whole-course CSV."""

from __future__ import annotations

import csv
import sqlite3
from pathlib import Path
from typing import Any

import pytest
from browser import chromium, dump_dom
from test_gradebook import result

from grader.errors import UsageError
from grader.report.course import write_course
from grader.store.course import course_rows, export_course_csv
from grader.store.gradebook import AttemptKey, Gradebook


def _result(student: str, aid: str, points: dict[str, float]) -> dict[str, Any]:
    r = result(student, points)
    r["versions"] = {"assignment": aid}
    return r


def _key(student: str, aid: str) -> AttemptKey:
    return AttemptKey(student, "a" * 64, aid, "1", "0.1.0", "subset")


@pytest.fixture()
def course(tmp_path: Path) -> Path:
    db = tmp_path / "gradebook.sqlite"
    with Gradebook(db) as gb:
        gb.record_attempt(_key("kim", "hw1"), _result("kim", "hw1", {"t1.a": 10, "t1.b": 5}), "t0", "t1")
        gb.record_attempt(_key("kim", "hw2"), _result("kim", "hw2", {"t1.a": 4, "t2.conclusion": 0}), "t0", "t1")
        gb.record_attempt(_key("lee", "hw1"), _result("lee", "hw1", {"t1.a": 0, "t1.b": 10}), "t0", "t1")
    return db


def test_latest_result_per_student_and_assignment(course: Path) -> None:
    with Gradebook(course) as gb:
        assert gb.assignment_ids() == ["hw1", "hw2"]
        assert [(r["submission"]["id"], r["versions"]["assignment"]) for r in gb.latest_results()] == \
            [("kim", "hw1"), ("kim", "hw2"), ("lee", "hw1")]
        assert [r["submission"]["id"] for r in gb.latest_results("hw2")] == ["kim"]


def test_overrides_name_their_assignment(course: Path) -> None:
    with Gradebook(course) as gb:
        with pytest.raises(UsageError, match="several assignments .*hw1, hw2.*pass --assignment"):
            gb.add_override("kim", "t1.a", 1, "regrade", "prof")
        gb.add_override("kim", "t1.a", 9, "regrade", "prof", assignment_id="hw2")
        by = {(r["submission"]["id"], r["versions"]["assignment"]): r for r in gb.latest_results()}
    assert by[("kim", "hw2")]["score"]["auto"] == 9 and by[("kim", "hw1")]["score"]["auto"] == 15  # hw1 untouched


def test_schema_1_gradebook_is_migrated(tmp_path: Path) -> None:
    db = tmp_path / "old.sqlite"
    with Gradebook(db) as gb:
        gb.record_attempt(_key("kim", "hw1"), _result("kim", "hw1", {"t1.a": 5}), "t0", "t1")
    con = sqlite3.connect(db)  # make it look like a schema-1 file: overrides without assignment_id
    con.executescript("DROP TABLE overrides; CREATE TABLE overrides (id INTEGER PRIMARY KEY, student TEXT NOT NULL,"
                      " check_id TEXT NOT NULL, points REAL NOT NULL, author TEXT NOT NULL, comment TEXT NOT NULL,"
                      " created_at TEXT NOT NULL); INSERT INTO overrides VALUES (1, 'kim', 't1.a', 8, 'p', 'c', 't');"
                      " UPDATE meta SET value='1' WHERE key='schema_version';")
    con.commit()
    con.close()
    with Gradebook(db) as gb:
        assert gb.latest_results()[0]["score"]["auto"] == 8  # the old override still applies


def test_course_csv_and_page(course: Path, tmp_path: Path) -> None:
    with Gradebook(course) as gb:
        results = gb.latest_results()
    rows = course_rows(results)
    assert [(r.student, sorted(r.cells), r.total()) for r in rows] == [("kim", ["hw1", "hw2"], 19.0),
                                                                      ("lee", ["hw1"], 10.0)]
    path = export_course_csv(results, tmp_path / "course.csv", order=["hw1", "hw2"])
    table = list(csv.reader(path.open(encoding="utf-8")))
    assert table[0] == ["student", "hw1", "hw2", "hw1 pending", "hw2 pending", "hw1 penalty", "hw2 penalty", "total",
                        "total_max"]
    assert table[1] == ["kim", "15", "4", "0", "10", "0", "0", "19", "40"]
    assert table[2] == ["lee", "10", "", "0", "", "0", "", "10", "40"]
    page = write_course(results, tmp_path / "site", {"hw1": "First", "hw2": "Second"}, "ko", "DL course")
    html = page.read_text(encoding="utf-8")
    assert 'href="hw1/students/kim.html"' in html and 'href="hw2/index.html"' in html and "미제출" in html
    if chromium() is None:
        pytest.skip("chromium not installed")
    dom, log = dump_dom(page, "sort=total&dir=asc")
    assert 'data-ok="true"' in dom and 'data-sorted-by="total:asc"' in dom, log[-2000:]
    assert dom.index('data-id="lee"') < dom.index('data-id="kim"')


def test_report_and_export_course_from_the_cli(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """``grader report`` on a gradebook of two assignments: the course page on top, each assignment's pages in
    its folder; ``export course`` and ``export csv --assignment``."""
    from grader.cli import main

    out = tmp_path / "reports"
    with Gradebook(out / "gradebook.sqlite") as gb:
        for student, aid, pts in (("kim", "dnn2_mnist", 10), ("kim", "mnist_cnn", 5), ("lee", "dnn2_mnist", 0)):
            gb.record_attempt(_key(student, aid), _result(student, aid, {"t1.a": pts}), "t0", "t1")
    assert main(["report", "--out", str(out), "--lang", "en"]) == 0
    assert "course page:" in capsys.readouterr().out
    course = (out / "index.html").read_text(encoding="utf-8")
    assert 'href="mnist_cnn/students/kim.html"' in course and "Course gradebook" in course
    assert (out / "dnn2_mnist" / "index.html").is_file() and (out / "dnn2_mnist" / "students" / "lee.html").is_file()
    assert not (out / "mnist_cnn" / "students" / "lee.html").exists()
    assert main(["export", "course", "--gradebook", str(out / "gradebook.sqlite")]) == 0
    rows = list(csv.reader((out / "course.csv").open(encoding="utf-8")))
    assert rows[0][:3] == ["student", "dnn2_mnist", "mnist_cnn"] and rows[1][:3] == ["kim", "10", "5"]
    assert main(["export", "csv", "--gradebook", str(out / "gradebook.sqlite")]) == 2  # which assignment?
    assert "pass --assignment" in capsys.readouterr().err
    assert main(["export", "csv", "--gradebook", str(out / "gradebook.sqlite"), "--assignment", "mnist_cnn"]) == 0
    assert [r[0] for r in csv.reader((out / "grades.csv").open(encoding="utf-8"))] == ["student", "kim"]
