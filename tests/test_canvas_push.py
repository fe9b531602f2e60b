"""``grader export canvas --push`` through canvasapi against a local HTTP server answering the Canvas endpoints
it calls (127.0.0.1, never the network): dry run, bulk update, a re-push that changes nothing, roster errors."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlparse

import pytest

from grader.cli.main import main
from grader.store.gradebook import Gradebook
from tests.test_gradebook import key, result

pytest.importorskip("canvasapi")

USERS = [{"id": 101, "name": "Kim", "login_id": "kim@uni", "sis_user_id": "2026001"},
         {"id": 102, "name": "Lee", "login_id": "lee@uni", "sis_user_id": "2026002"},
         {"id": 103, "name": "Park", "login_id": "park@uni", "sis_user_id": "2026003"}]


class FakeCanvas(BaseHTTPRequestHandler):
    """Courses 1, assignment 7: users, submissions (scores kept in ``grades``), bulk update_grades."""

    grades: dict[int, float | None] = {}
    posts: list[list[tuple[str, str]]] = []
    auth: list[str] = []

    def log_message(self, *args: Any) -> None:
        pass

    def _json(self, body: Any) -> None:
        data = json.dumps(body).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self) -> None:  # noqa: N802
        self.auth.append(self.headers.get("Authorization", ""))
        path = urlparse(self.path).path
        if path == "/api/v1/courses/1":
            self._json({"id": 1, "name": "DL"})
        elif path == "/api/v1/courses/1/assignments/7":
            self._json({"id": 7, "course_id": 1, "name": "HW", "points_possible": 20})
        elif path == "/api/v1/courses/1/search_users":
            self._json(USERS)
        elif path == "/api/v1/courses/1/assignments/7/submissions":
            self._json([{"id": 900 + u, "user_id": u, "assignment_id": 7, "score": s} for u, s in self.grades.items()])
        else:
            self.send_error(404)

    def do_POST(self) -> None:  # noqa: N802
        length = int(self.headers.get("Content-Length") or 0)
        form = parse_qsl(self.rfile.read(length).decode())
        if urlparse(self.path).path != "/api/v1/courses/1/assignments/7/submissions/update_grades":
            self.send_error(404)
            return
        self.posts.append(form)
        for k, v in form:
            if k.endswith("[posted_grade]"):
                self.grades[int(k.split("[")[1].rstrip("]"))] = float(v)
        self._json({"id": 55, "workflow_state": "queued", "url": "http://x/api/v1/progress/55"})


@pytest.fixture()
def canvas() -> Iterator[str]:
    FakeCanvas.grades, FakeCanvas.posts, FakeCanvas.auth = {101: None, 102: 20.0, 103: 5.0}, [], []
    server = ThreadingHTTPServer(("127.0.0.1", 0), FakeCanvas)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_dry_run_push_and_repush(tmp_path: Path, canvas: str, capsys, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    db = tmp_path / "gradebook.sqlite"
    with Gradebook(db) as gb:
        for s, p in (("kim", 5), ("lee", 10), ("park", 0)):
            gb.record_attempt(key(s), result(s, {"t1.a": p, "t1.b": 10}), "t0", "t1")
    roster = tmp_path / "roster.csv"
    roster.write_text("student,login_id,sis_user_id\nkim,kim@uni,\nlee,,2026002\npark,park@uni,2026003\n")
    argv = ["export", "canvas", "--push", "--gradebook", str(db), "--course", "1", "--assignment-id", "7",
            "--url", canvas, "--roster", str(roster)]
    monkeypatch.delenv("CANVAS_TOKEN", raising=False)
    assert main(argv) == 2 and "CANVAS_TOKEN" in capsys.readouterr().err
    monkeypatch.setenv("CANVAS_TOKEN", "secret-token")
    with pytest.warns(UserWarning, match="HTTP"):
        assert main([*argv, "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert "kim (canvas 101): — → 15" in out and "park (canvas 103): 5 → 10" in out and "lee" not in out.split("\n")[0]
    assert "2 grade(s) would change, 1 already right" in out and FakeCanvas.posts == []
    assert FakeCanvas.auth and all(a == "Bearer secret-token" for a in FakeCanvas.auth)
    with pytest.warns(UserWarning):
        assert main(argv) == 0
    (form,) = FakeCanvas.posts
    assert ("grade_data[101][posted_grade]", "15") in form and ("grade_data[103][posted_grade]", "10") in form
    assert not any(k.startswith("grade_data[102]") for k, _ in form)  # unchanged: not posted
    assert any(k == "grade_data[101][text_comment]" and v.startswith("grader: 15 / 20") for k, v in form)
    with pytest.warns(UserWarning):
        assert main(argv) == 0
    assert len(FakeCanvas.posts) == 1 and "0 grade(s) changed, 3 already right" in capsys.readouterr().out
    roster.write_text("student,login_id\nkim,kim@uni\nkim,kim2@uni\nlee,\n")
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert "roster.csv:3: student 'kim' listed again" in err and "roster.csv:4: 'lee' has neither" in err
    assert "no row for graded student(s) park" in err
