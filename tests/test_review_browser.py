"""``grader review`` in a real browser: Playwright for Python driving Debian's chromium (never a downloaded one)
against the app served by uvicorn on 127.0.0.1 — grading three answers by keyboard, a rubric edit changing an
earlier grade, a dismissed flag giving points back, two sessions saving the same item, a hostile answer inert.
Screenshots go to ``$GRADER_SCREENSHOTS`` (default /tmp/grader-report-screenshots).
"""

from __future__ import annotations

import os
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from browser import chromium
from test_review import build_gradebook, real_results, tampered_id

from grader.review.app import ReviewConfig, create_app
from grader.store.gradebook import Gradebook

playwright_api = pytest.importorskip("playwright.sync_api")
pytestmark = pytest.mark.skipif(chromium() is None, reason="chromium not installed (Debian: apt-get install chromium)")
SHOTS = Path(os.environ.get("GRADER_SCREENSHOTS", "/tmp/grader-report-screenshots"))
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--no-first-run", "--disable-dev-shm-usage"]
CHECK = "t2.conclusion"


class Served:
    """The app of one gradebook on a free port of 127.0.0.1, in a thread of this process."""

    def __init__(self, gradebook: Path, grader: str = "ta1") -> None:
        import uvicorn

        self.config = ReviewConfig(gradebook, grader)
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.base = f"http://127.0.0.1:{self.sock.getsockname()[1]}"
        self.server = uvicorn.Server(uvicorn.Config(create_app(self.config), log_level="warning"))
        self.thread = threading.Thread(target=self.server.run, kwargs={"sockets": [self.sock]}, daemon=True)
        self.thread.start()
        deadline = time.monotonic() + 20
        while not self.server.started and time.monotonic() < deadline:
            time.sleep(0.05)

    def url(self, path: str = "/", grader: str | None = None) -> str:
        sep = "&" if "?" in path else "?"
        return f"{self.base}{path}{sep}token={self.config.token}" + (f"&grader={grader}" if grader else "")

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    real_results()  # grade before the browser starts (the kernels need the CPU more than chromium)
    with playwright_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=chromium(), args=ARGS)
        yield b
        b.close()


@pytest.fixture()
def served(tmp_path: Path) -> Iterator[Served]:
    s = Served(build_gradebook(tmp_path / "gradebook.sqlite"))
    yield s
    s.stop()


def open_page(browser: Any, url: str) -> tuple[Any, Any, list[str]]:
    """(context, page, errors): a fresh browser session (own cookies) on ``url``, console errors collected."""
    context = browser.new_context(viewport={"width": 1280, "height": 1000}, locale="ko-KR")
    page = context.new_page()
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.on("dialog", lambda d: (errors.append(f"dialog: {d.message}"), d.dismiss()))
    page.goto(url)
    page.wait_for_selector("body[data-ready=true]")
    return context, page, errors


def grade_of(gradebook: Path, student: str, check: str = CHECK) -> dict[str, Any]:
    with Gradebook(gradebook) as gb:
        (r,) = [x for x in gb.latest_results() if x["submission"]["id"] == student]
    return next(c for c in r["checks"] if c["id"] == check)


def test_three_answers_graded_by_keyboard(browser: Any, served: Served) -> None:
    expect = playwright_api.expect
    context, page, errors = open_page(browser, served.url(f"/q/dnn2_mnist/{CHECK}/start"))
    assert not page.locator(".name").first.is_visible()  # names hidden by default
    page.keyboard.press("h")
    assert page.locator(".name").first.is_visible()
    page.keyboard.press("h")
    seen = []
    for left in (2, 1, 0):
        seen.append(page.locator("#answer").get_attribute("data-student"))
        page.keyboard.press("1")
        page.keyboard.press("2")
        expect(page.locator("#left")).to_have_text(str(left))
        expect(page.locator("#state")).to_have_class("graded")
        if left:
            page.keyboard.press("u")
            page.wait_for_url(lambda u, before=page.url: u != before)
            page.wait_for_selector("body[data-ready=true]")
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / "review-answer.png"), full_page=True)
    page.keyboard.press("u")  # nothing left: back to the queues
    page.wait_for_url(served.base + "/")
    expect(page.locator("#total-left strong")).to_have_text("0")
    context.close()
    assert sorted(seen) == sorted(r["submission"]["id"] for r in real_results()), seen
    with Gradebook(served.config.gradebook) as gb:
        grades = gb.history(kinds=("manual_grade",))
    assert {e.student for e in grades} == set(seen) and {e.author for e in grades} == {"ta1"}
    assert all(grade_of(served.config.gradebook, s)["points"] == 8 for s in seen)
    assert not errors, errors


def test_rubric_edit_changes_an_earlier_grade(browser: Any, served: Served) -> None:
    context, page, errors = open_page(browser, served.url(f"/q/dnn2_mnist/{CHECK}/0"))
    student = page.locator("#answer").get_attribute("data-student")
    page.keyboard.press("1")
    playwright_api.expect(page.locator("#left")).to_have_text("2")
    assert grade_of(served.config.gradebook, student)["points"] == 4
    page.locator("details summary").first.click()
    form = page.locator("#item-form")
    form.locator("input[name=item]").fill("observed")
    form.locator("input[name=points]").fill("6")
    form.locator("input[name=en]").fill("Says what happened")
    with page.expect_navigation():
        form.locator("button").click()
    page.wait_for_selector("body[data-ready=true]")
    assert "+6" in page.locator("#items li").first.inner_text()
    assert grade_of(served.config.gradebook, student)["points"] == 6
    context.close()
    assert not errors, errors


def test_dismissed_flag_restores_points(browser: Any, served: Served) -> None:
    context, page, errors = open_page(browser, served.url("/flags"))
    entry = page.locator(f".flagged[data-student='{tampered_id()}']")
    assert float(entry.locator(".score").inner_text()) == 0
    flag = entry.locator(".flag[data-flag=probe_tampered]")
    flag.locator(".why").fill("hooks cleared by the lecture's own profiling cell")
    with page.expect_navigation():
        flag.locator("button[data-decision=dismiss]").click()
    page.wait_for_selector("body[data-ready=true]")
    voided = sum(c["voided_points"] for c in real_results()[2]["checks"] if c.get("voided_by"))
    entry = page.locator(f".flagged[data-student='{tampered_id()}']")
    assert float(entry.locator(".score").inner_text()) == pytest.approx(voided)
    assert "dismiss" in entry.locator(".decision").inner_text()
    context.close()
    assert not errors, errors


def test_two_sessions_saving_the_same_item(browser: Any, served: Served) -> None:
    url = f"/q/dnn2_mnist/{CHECK}/0"
    ctx1, one, errors1 = open_page(browser, served.url(url, grader="ta1"))
    ctx2, two, _ = open_page(browser, served.url(url, grader="ta2"))
    one.keyboard.press("1")
    playwright_api.expect(one.locator("#state")).to_have_class("graded")
    two.keyboard.press("2")  # ta2 still sees the answer ungraded
    playwright_api.expect(two.locator("#status")).to_contain_text("ta1 changed this at")
    student = one.locator("#answer").get_attribute("data-student")
    assert grade_of(served.config.gradebook, student)["override"]["author"] == "ta1"
    two.reload()
    two.wait_for_selector("body[data-ready=true]")
    assert "ta1" in two.locator("#state").inner_text()
    two.keyboard.press("2")  # now based on ta1's grade
    playwright_api.expect(two.locator("#state")).to_contain_text("ta2")
    assert grade_of(served.config.gradebook, student)["points"] == 8
    ctx1.close()
    ctx2.close()
    assert not errors1, errors1


def test_hostile_answer_is_inert(browser: Any, served: Served) -> None:
    pos = 0
    for pos in range(3):
        context, page, errors = open_page(browser, served.url(f"/q/dnn2_mnist/{CHECK}/{pos}"))
        if page.locator("#answer").get_attribute("data-student") == tampered_id():
            break
        context.close()
    answer = page.locator("#answer-text")
    assert "<script>" in answer.inner_text() and "javascript:" in answer.inner_text()
    assert answer.locator("script, img, iframe, a, object, embed").count() == 0
    page.wait_for_timeout(300)
    assert page.evaluate("() => window.PWNED === undefined")
    assert page.locator("#hint").is_visible()  # "did not decrease" against a run whose loss fell
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / "review-hostile.png"), full_page=True)
    context.close()
    assert not [e for e in errors if "dialog" in e], errors
