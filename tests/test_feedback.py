"""``grader feedback``: one folder per student with only their page and summary, into roster clones, and the
assignment's ``released`` state (no kernels: stored results in a gradebook)."""

from __future__ import annotations

from pathlib import Path

from grader.assignment import load_assignment
from grader.cli.main import main
from grader.report.html import render_class
from grader.store.gradebook import Gradebook
from tests.test_gradebook import key, result


def test_feedback_folders_roster_and_release(tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    db = tmp_path / "gradebook.sqlite"
    with Gradebook(db) as gb:
        for s, p in (("kim", 10), ("lee-secret", 3)):
            r = result(s, {"t1.a": p, "t1.b": 10})
            r["submission"]["path"] = f"/home/prof/class/{s}.ipynb"
            gb.record_attempt(key(s), r, "t0", "t1")
        assert "released" not in gb.latest_results()[0]
    roster = tmp_path / "roster"
    (roster / "kim").mkdir(parents=True)
    out = tmp_path / "fb"
    code = main(["feedback", "--gradebook", str(db), "--assignment", "dnn2_mnist", "--out", str(out), "--lang", "ko",
                 "--into-roster", str(roster), "--grader", "prof"])
    assert code == 0
    io = capsys.readouterr()
    assert "2 feedback folder(s) of dnn2_mnist" in io.out and "lee-secret: no clone" in io.err
    assert sorted(p.name for p in out.iterdir()) == ["kim", "lee-secret"]
    kim_page = (out / "kim" / "index.html").read_text(encoding="utf-8")
    assert "lee-secret" not in kim_page and "/home/prof" not in kim_page and "kim" in kim_page
    summary = (out / "lee-secret" / "FEEDBACK.md").read_text(encoding="utf-8")
    assert "점수: 13 / 20" in summary and "kim" not in summary and "`t1.a` 3/10" in summary
    assert (roster / "kim" / "feedback" / "index.html").read_text(encoding="utf-8") == kim_page
    assert not (roster / "lee-secret").exists()
    with Gradebook(db) as gb:
        results = gb.latest_results()
        (release,) = [e for e in gb.history(None, "dnn2_mnist") if e.kind == "release"]
    assert release.author == "prof" and release.new["students"] == 2
    assert all(r["released"]["author"] == "prof" for r in results)
    page = render_class(results, None, "en", load_assignment("dnn2_mnist"))
    assert "Feedback released" in page and release.time in page
    assert main(["feedback", "--gradebook", str(db), "--out", str(out), "--into-roster", str(tmp_path / "no")]) == 2
