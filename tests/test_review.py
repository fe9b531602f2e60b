"""``grader review``'s handlers without a browser (Starlette's TestClient): the token, the CSRF check, stale saves,
a hostile answer escaped, rubric edits and flag decisions reaching the exports; the safe Markdown on its own.

The gradebook is built from real graded notebooks (the report tests' good and weak submissions, and one that
removes the grader's hooks after training, whose answer is hostile HTML): graded once per test process.
"""

from __future__ import annotations

import csv
import functools
import json
import warnings
from pathlib import Path
from typing import Any

import pytest
from scenarios import ADAM, DATA, md, relu6, train, write_notebook
from test_report import graded_results

from grader.assignment import load_assignment
from grader.cli.main import main
from grader.pipeline import GradeOptions, grade_file
from grader.review import markdown
from grader.review.app import ReviewConfig, create_app
from grader.store.gradebook import AttemptKey, Gradebook, export_canvas, export_csv

with warnings.catch_warnings():  # Starlette ≥ 1.x prefers `httpx2`; the TestClient works the same with httpx
    warnings.filterwarnings("ignore", message="Using `httpx` with `starlette.testclient`")
    from starlette.testclient import TestClient

HOSTILE = ("결론: Sigmoid 는 vanishing gradient 때문에 loss 가 줄어들지 않았다.\n\n"
           "<script>window.PWNED = 1; alert('x')</script> <img src=x onerror=\"window.PWNED=2\"> "
           "<iframe src=\"data:text/html,<script>parent.PWNED=3</script>\"></iframe> "
           "[click me](javascript:window.PWNED=4) ![pic](https://example.com/track.png) "
           "<a href=\"javascript:alert(1)\">link</a> **bold** `code`")
TAMPER = ("torch.nn.modules.module._global_forward_hooks.clear()\n"
          "torch.nn.modules.module._global_forward_pre_hooks.clear()\n"
          "torch.optim.Optimizer.__init__ = sys.modules['_grader_probe'].probe().originals['optimizer_init']")
ORIGIN = "http://127.0.0.1:8765"


@functools.cache
def real_results() -> tuple[dict[str, Any], ...]:
    """(good, weak, tampered) results of real notebooks; the tampered one has voided points and HOSTILE text."""
    import tempfile

    good, weak, _ = graded_results()
    d = Path(tempfile.mkdtemp(prefix="grader-review-"))
    nb = write_notebook(d, "stud_tampered", [DATA, "import sys\n" + relu6(), train(ADAM, 2), TAMPER, md(HOSTILE)])
    tampered = grade_file(nb, load_assignment(), GradeOptions(device="cpu", env={"OMP_NUM_THREADS": "1"}))
    return good, weak, json.loads(json.dumps(tampered))


def build_gradebook(path: Path) -> Path:
    """A fresh gradebook holding the three real results."""
    with Gradebook(path) as gb:
        for r in real_results():
            key = AttemptKey(r["submission"]["id"], r["submission"]["sha256"], "dnn2_mnist", "1", "test", "subset")
            gb.record_attempt(key, r, "2026-01-01T00:00:00", "2026-01-01T00:01:00")
    return path


@pytest.fixture()
def book(tmp_path: Path) -> Path:
    return build_gradebook(tmp_path / "gradebook.sqlite")


def client(config: ReviewConfig, grader: str | None = None) -> TestClient:
    """A browser-like session: opened with the token (and a grader name), Origin set like a page of the app."""
    c = TestClient(create_app(config), base_url=ORIGIN)
    r = c.get(f"/?token={config.token}" + (f"&grader={grader}" if grader else ""))
    assert r.status_code == 200
    c.headers.update({"Origin": ORIGIN, "X-CSRF-Token": csrf_of(r.text)})
    return c


def csrf_of(html: str) -> str:
    return html.split('name="csrf-token" content="')[1].split('"')[0]


def tampered_id() -> str:
    return str(real_results()[2]["submission"]["id"])


def test_the_tampered_fixture_is_flagged_with_voided_points() -> None:
    r = real_results()[2]
    assert any(f["id"] == "probe_tampered" for f in r["flags"]), r["flags"]
    voided = [c for c in r["checks"] if c.get("voided_by")]
    assert voided and sum(c["voided_points"] for c in voided) > 0 and r["score"]["auto"] == 0


def test_nothing_is_served_without_the_token(book: Path) -> None:
    config = ReviewConfig(book, "ta1")
    anon = TestClient(create_app(config), base_url=ORIGIN)
    for path in ("/", "/flags", "/static/review.js", "/q/dnn2_mnist/t2.conclusion/0"):
        assert anon.get(path).status_code == 403, path
    assert anon.get("/?token=wrong").status_code == 403
    assert anon.post("/api/grade", json={}).status_code == 403
    r = anon.get(f"/?token={config.token}", follow_redirects=False)
    assert r.status_code == 303 and "token" not in r.headers["location"]
    cookie = r.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=strict" in cookie
    page = anon.get("/")
    assert page.status_code == 200 and "t2.conclusion" in page.text
    csp = page.headers["content-security-policy"]
    assert "default-src 'self'" in csp and "script-src 'self'" in csp and "unsafe-inline" not in csp.split(";")[1]
    # a token header reads (scripts), never saves
    header = TestClient(create_app(config), base_url=ORIGIN, headers={"Authorization": f"token {config.token}"})
    assert header.get("/").status_code == 200
    assert header.post("/api/grade", json={}).status_code == 403


def _grade_body(student: str, items: list[str], base: int = 0, comment: str = "") -> dict[str, Any]:
    return {"assignment": "dnn2_mnist", "check": "t2.conclusion", "student": student, "items": items,
            "comment": comment, "base": base}


def test_state_changes_need_same_origin_and_the_csrf_token(book: Path) -> None:
    config = ReviewConfig(book, "ta1")
    c = client(config)
    body = _grade_body("stud_good", ["observed"])
    token = c.headers["X-CSRF-Token"]
    for headers in ({"Origin": "http://evil.example"}, {"Origin": "", "Referer": ""},
                    {"X-CSRF-Token": "forged"}, {"X-CSRF-Token": ""}):
        r = c.post("/api/grade", json=body, headers=headers)
        assert r.status_code == 403, (headers, r.text)
    with Gradebook(book) as gb:
        assert gb.history() == []
    r = c.post("/api/grade", json=body, headers={"X-CSRF-Token": token})
    assert r.status_code == 200, r.text
    assert r.json()["points"] == 4 and r.json()["left"] == 2


def test_a_stale_save_is_refused_with_who_changed_it(book: Path) -> None:
    config = ReviewConfig(book, "nobody")
    ta1, ta2 = client(config, "ta1"), client(config, "ta2")
    first = ta1.post("/api/grade", json=_grade_body("stud_good", ["observed", "why"]))
    assert first.status_code == 200, first.text
    stale = ta2.post("/api/grade", json=_grade_body("stud_good", ["evidence"]))  # ta2 saw no grade (base 0)
    assert stale.status_code == 409
    assert "ta1 changed this at" in stale.json()["error"] and stale.json()["latest"]["author"] == "ta1"
    fresh = ta2.post("/api/grade", json=_grade_body("stud_good", ["evidence"], base=first.json()["event"]))
    assert fresh.status_code == 200
    with Gradebook(book) as gb:
        good = next(r for r in gb.latest_results() if r["submission"]["id"] == "stud_good")
        conclusion = next(c for c in good["checks"] if c["id"] == "t2.conclusion")
        assert conclusion["points"] == 2 and conclusion["override"]["author"] == "ta2"
        assert [e.author for e in gb.history("stud_good")] == ["ta1", "ta2"]


def test_a_hostile_answer_is_escaped(book: Path) -> None:
    c = client(ReviewConfig(book, "ta1"))
    pos = next(i for i in range(3) if tampered_id() in c.get(f"/q/dnn2_mnist/t2.conclusion/{i}").text)
    html = c.get(f"/q/dnn2_mnist/t2.conclusion/{pos}").text
    answer = html.split('id="answer-text"')[1].split("</section>")[0]
    for bad in ("<script", "<img", "<iframe", "<a ", 'href="', 'onerror="', 'src="'):
        assert bad not in answer, bad
    assert "&lt;script&gt;" in answer and "&lt;iframe" in answer and "<strong>bold</strong>" in answer
    assert "<code>code</code>" in answer
    # the grader's hint: the answer says the loss did not decrease, the recorded run's loss did
    assert 'id="hint"' in html


def test_markdown_subset_only() -> None:
    out = markdown.render("# Title\n\n- *a* and **b**\n- `<b>`\n\n1. one\n2. two\n\n```\n<script>x</script>\n```\n"
                          "<div onclick=x>[l](javascript:alert(1))</div>")
    assert "<ul><li><em>a</em> and <strong>b</strong></li><li><code>&lt;b&gt;</code></li></ul>" in out
    assert "<ol><li>one</li><li>two</li></ol>" in out
    assert "<pre><code>&lt;script&gt;x&lt;/script&gt;</code></pre>" in out
    assert "&lt;div onclick=x&gt;[l](javascript:alert(1))&lt;/div&gt;" in out
    tags = {t.split()[0].strip("/") for t in out.replace(">", "<").split("<")[1::2]}
    assert tags <= {"p", "br", "em", "strong", "code", "pre", "ul", "ol", "li"}, tags


def test_rubric_edit_changes_earlier_grades_and_the_exports(book: Path, tmp_path: Path) -> None:
    c = client(ReviewConfig(book, "ta1"))
    assert c.post("/api/grade", json=_grade_body("stud_good", ["observed", "why"], comment="좋아요")).status_code == 200
    r = c.post("/api/rubric", json={"assignment": "dnn2_mnist", "check": "t2.conclusion", "item": "observed",
                                    "points": 5, "en": "Says what happened", "ko": "관찰한 것을 적음"})
    assert r.status_code == 200, r.text
    with Gradebook(book) as gb:
        results = gb.latest_results("dnn2_mnist")
        assert gb.history(kinds=("rubric_edit",))[0].old["points"] == 4  # the assignment's item, before the edit
    good = next(x for x in results if x["submission"]["id"] == "stud_good")
    assert next(x for x in good["checks"] if x["id"] == "t2.conclusion")["points"] == 9
    export_csv(results, tmp_path / "grades.csv")
    rows = {row["student"]: row for row in csv.DictReader((tmp_path / "grades.csv").open(encoding="utf-8"))}
    assert rows["stud_good"]["t2.conclusion"] == "9.0" and rows["stud_weak"]["t2.conclusion"] == ""
    export_canvas(results, tmp_path / "canvas.csv", "dnn2")
    canvas = {row[0]: row[-1] for row in csv.reader((tmp_path / "canvas.csv").open(encoding="utf-8"))}
    assert float(canvas["stud_good"]) == real_results()[0]["score"]["auto"] + 9
    # the comment is offered again for the next answer (comment bank)
    assert "좋아요" in c.get("/q/dnn2_mnist/t2.conclusion/0").text


def test_dismissing_a_flag_restores_the_voided_points(book: Path) -> None:
    c = client(ReviewConfig(book, "ta1"))
    flags_page = c.get("/flags").text
    assert "probe_tampered" in flags_page
    body = {"assignment": "dnn2_mnist", "student": tampered_id(), "flag": "probe_tampered", "decision": "dismiss",
            "why": "", "base": 0}
    assert c.post("/api/flag", json=body).status_code == 400  # a dismissal needs a reason
    r = c.post("/api/flag", json={**body, "why": "the hook cell was from the lecture notes"})
    assert r.status_code == 200, r.text
    voided = sum(x["voided_points"] for x in real_results()[2]["checks"] if x.get("voided_by"))
    assert r.json()["score"]["auto"] == pytest.approx(voided)
    with Gradebook(book) as gb:
        (res,) = [x for x in gb.latest_results() if x["submission"]["id"] == tampered_id()]
    assert res["dismissed_flags"][0]["decision"]["author"] == "ta1" and not res["flags"]
    again = c.post("/api/flag", json={**body, "decision": "uphold", "why": "on second thought"})
    assert again.status_code == 409  # based on no decision, but ta1's dismissal is there


def test_history_shows_who_and_a_regrade_keeps_the_grades(book: Path, capsys: pytest.CaptureFixture[str]) -> None:
    c = client(ReviewConfig(book, "kim_ta"))
    assert c.post("/api/grade", json=_grade_body("stud_good", ["why"], comment="이유가 좋음")).status_code == 200
    assert main(["override", "stud_good", "t1.structure", "1", "--comment", "manual check", "--grader", "prof",
                 "--gradebook", str(book)]) == 0
    capsys.readouterr()
    assert main(["history", "stud_good", "--gradebook", str(book)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert "kim_ta" in lines[0] and "manual_grade" in lines[0] and "이유가 좋음" in lines[0]
    assert "prof" in lines[1] and "override" in lines[1] and "points=1.0" in lines[1]
    good = real_results()[0]
    with Gradebook(book) as gb:  # the same notebook graded again by a newer grader: a new attempt, same decisions
        gb.record_attempt(AttemptKey("stud_good", good["submission"]["sha256"], "dnn2_mnist", "1", "test2", "subset"),
                          good, "2026-02-01T00:00:00", "2026-02-01T00:01:00")
        (res,) = [x for x in gb.latest_results() if x["submission"]["id"] == "stud_good"]
    by_id = {x["id"]: x for x in res["checks"]}
    assert by_id["t2.conclusion"]["points"] == 4 and by_id["t2.conclusion"]["override"]["author"] == "kim_ta"
    assert by_id["t1.structure"]["points"] == 1


def test_pages_and_course_export_show_the_manual_grade(book: Path, tmp_path: Path) -> None:
    c = client(ReviewConfig(book, "ta1"))
    saved = c.post("/api/grade", json={**_grade_body("stud_good", ["observed", "why"], comment="설명이 정확함"),
                                       "adjust": -1})
    assert saved.status_code == 200 and saved.json()["points"] == 7
    out = tmp_path / "site"
    assert main(["report", "--gradebook", str(book), "--out", str(out), "--assignment", "dnn2_mnist"]) == 0
    page = (out / "students" / "stud_good.html").read_text(encoding="utf-8")
    assert "설명이 정확함" in page and "ta1" in page and "관찰한 것을 적음" in page
    assert main(["export", "course", "--gradebook", str(book), "--out", str(tmp_path / "course.csv")]) == 0
    rows = {r["student"]: r for r in csv.DictReader((tmp_path / "course.csv").open(encoding="utf-8"))}
    assert float(rows["stud_good"]["dnn2_mnist"]) == real_results()[0]["score"]["auto"] + 7


def test_grader_review_prints_its_url_first_and_guards_it(book: Path) -> None:
    import subprocess
    import sys
    import urllib.error
    import urllib.parse
    import urllib.request

    proc = subprocess.Popen([sys.executable, "-m", "grader", "review", "--gradebook", str(book), "--no-browser",
                             "--grader", "ta1"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        url = proc.stdout.readline().strip()
        assert url.startswith("http://127.0.0.1:") and "/?token=" in url, url
        bare = url.split("?")[0]
        for _ in range(50):
            try:
                urllib.request.urlopen(bare, timeout=5)
            except urllib.error.HTTPError as exc:
                assert exc.code == 403
                break
            except urllib.error.URLError:
                import time

                time.sleep(0.1)
        else:
            raise AssertionError("the server did not answer")
        import http.client

        parts = urllib.parse.urlsplit(url)
        conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=10)
        conn.request("GET", f"/?{parts.query}")
        opened = conn.getresponse()
        assert opened.status == 303 and "token" not in opened.getheader("location", "")
        cookie = opened.getheader("set-cookie", "").split(";")[0]
        opened.read()
        conn.request("GET", "/", headers={"Cookie": cookie})
        page = conn.getresponse()
        assert page.status == 200 and "t2.conclusion" in page.read().decode()
        conn.close()
    finally:
        proc.terminate()
        proc.wait(timeout=20)


def test_a_foreign_host_name_is_refused(book: Path) -> None:
    """DNS rebinding: a page of another name resolving to 127.0.0.1 reaches the port but not the app."""
    config = ReviewConfig(book, "ta1", hosts=frozenset({"127.0.0.1:8765"}))
    assert TestClient(create_app(config), base_url="http://attacker.example:8765").get(
        f"/?token={config.token}").status_code == 403
    assert TestClient(create_app(config), base_url=ORIGIN).get(f"/?token={config.token}").status_code == 200


def test_rubric_items_come_from_the_assignments() -> None:
    dnn2 = {c.id: c for c in load_assignment("dnn2_mnist").checks}
    items = dnn2["t2.conclusion"].rubric
    assert [i.id for i in items][:2] == ["observed", "why"] and items[0].text["ko"] != items[0].text["en"]
    assert not dnn2["t1.structure"].rubric
    cnn = {c.id: c for c in load_assignment("mnist_cnn").checks if c.manual}
    assert all(c.rubric for c in cnn.values()) and sum(i.points for i in cnn["t3.comparison"].rubric) == 10
