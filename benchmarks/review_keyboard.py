"""``grader review`` at class scale: page load times with N students and the keyboard flow's time per answer.

Builds a gradebook of N synthetic results shaped like dnn2_mnist's (15-epoch ReLU and Sigmoid runs with their
per-step losses, a written conclusion pending review, an integrity flag on every 20th), serves it with uvicorn on
127.0.0.1 and drives Debian's chromium with Playwright:
* page load: the queue page, an answer page and the flags page, from ``goto`` to the script being ready;
* keyboard flow: ``--answers`` answers graded the way a TA does (two rubric digits, then ``u``), timing from the
  first key to the next answer being ready — the time a TA waits on the app, on top of reading.
Usage: python benchmarks/review_keyboard.py [--students 300] [--answers 30] [--repeat 5]
"""

from __future__ import annotations

import argparse
import math
import random
import socket
import statistics
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import uvicorn
from playwright.sync_api import expect, sync_playwright

from grader.review.app import ReviewConfig, create_app
from grader.store.gradebook import AttemptKey, Gradebook

ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--no-first-run", "--disable-dev-shm-usage"]
ANSWERS = ["Sigmoid 를 쓰면 처음 몇 epoch 동안 loss 가 2.3 근처에서 거의 줄지 않았다. vanishing gradient 때문이다.",
           "The Sigmoid model's loss **did not decrease** at first; ReLU trained much faster.\n\n"
           "- ReLU: 0.03\n- Sigmoid: 0.8",
           "loss 가 줄었지만 ReLU 보다 느렸다. Sigmoid 의 도함수가 최대 0.25 라서 기울기가 작아진다."]


def _run(index: int, rng: random.Random, start: float, rate: float, activation: str) -> dict[str, Any]:
    steps = [start * math.exp(-rate * s / 60) + rng.uniform(-0.05, 0.05) for s in range(900)]
    epochs = [{"mean_loss": sum(steps[e * 60:(e + 1) * 60]) / 60, "steps": 60, "complete": True, "split": "train"}
              for e in range(15)]
    return {"index": index, "optimizer": {"class": "Adam"}, "epochs": epochs, "step_losses": steps,
            "model": {"activation": activation}, "proof": {"status": "verified"},
            "gradient_flow": {"init_ratio": 3e-5 if activation == "sigmoid" else 0.2}}


def synthetic(student: str, i: int) -> dict[str, Any]:
    """One dnn2-shaped result: 9 automatic checks, the written conclusion pending, two runs."""
    rng = random.Random(i)
    checks = [{"id": f"t1.c{k}", "task": "t1", "points": 10.0, "max": 10.0, "manual": False, "pending": False,
               "passed": True, "status": "pass", "message": "ok", "evidence": {"run": 0}} for k in range(5)]
    checks += [{"id": "t2.sigmoid_model", "task": "t2", "points": 15.0, "max": 15.0, "manual": False,
                "pending": False, "passed": True, "status": "pass", "message": "ok", "evidence": {"run": 1}},
               {"id": "t2.conclusion", "task": "t2", "points": 0.0, "max": 10.0, "manual": True, "pending": True,
                "passed": None, "status": "pending", "message": "pending",
                "evidence": {"text": ANSWERS[i % len(ANSWERS)] + f" ({student})"}}]
    flags = []
    if i % 20 == 0:
        flags = [{"id": "probe_tampered", "message": "hooks removed", "messages": {"en": "hooks removed",
                                                                                  "ko": "hook 제거"},
                  "evidence": {"broken": ["forward_hooks"]}, "voids": ["*"]}]
        for c in checks:
            if not c["manual"]:
                c.update(voided_by=["probe_tampered"], voided_points=c["points"], points=0.0, status="fail")
    auto = [c for c in checks if not c["pending"]]
    return {"schema_version": 1, "submission": {"id": student, "path": f"{student}.ipynb", "sha256": f"{i:064x}"},
            "status": "graded", "message": None, "data": {"mode": "subset"}, "versions": {"assignment": "dnn2_mnist"},
            "score": {"auto": sum(c["points"] for c in auto), "auto_max": sum(c["max"] for c in auto),
                      "pending_manual": 10.0, "max": sum(c["max"] for c in checks)},
            "checks": checks, "flags": flags, "runs": [_run(0, rng, 1.5, 0.8, "relu"), _run(1, rng, 2.3, 0.15,
                                                                                            "sigmoid")],
            "errors": []}


def build(path: Path, students: int) -> Path:
    with Gradebook(path) as gb:
        for i in range(students):
            sid = f"s{i:04d}"
            gb.record_attempt(AttemptKey(sid, f"{i:064x}", "dnn2_mnist", "1", "bench", "subset"), synthetic(sid, i),
                              "2026-01-01T00:00:00", "2026-01-01T00:01:00")
    return path


def serve(config: ReviewConfig) -> tuple[uvicorn.Server, str]:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    server = uvicorn.Server(uvicorn.Config(create_app(config), log_level="warning"))
    threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True).start()
    while not server.started:
        time.sleep(0.05)
    return server, f"http://127.0.0.1:{sock.getsockname()[1]}"


def _load(page: Any, url: str) -> float:
    t0 = time.perf_counter()
    page.goto(url)
    page.wait_for_selector("body[data-ready=true]")
    return time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--students", type=int, default=300)
    ap.add_argument("--answers", type=int, default=30)
    ap.add_argument("--repeat", type=int, default=5)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        config = ReviewConfig(build(Path(tmp) / "gradebook.sqlite", args.students), "bench")
        print(f"gradebook of {args.students} students built in {time.perf_counter() - t0:.1f} s")
        server, base = serve(config)
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=ARGS)
            page = browser.new_page(viewport={"width": 1280, "height": 1000})
            page.goto(f"{base}/?token={config.token}")
            for name, path in (("queues", "/"), ("answer", "/q/dnn2_mnist/t2.conclusion/0"), ("flags", "/flags")):
                times = [_load(page, base + path) for _ in range(args.repeat)]
                print(f"page load {name:<7} {args.students} students: median {statistics.median(times):.3f} s, "
                      f"max {max(times):.3f} s ({args.repeat} loads)")
            page.goto(f"{base}/q/dnn2_mnist/t2.conclusion/start")
            page.wait_for_selector("body[data-ready=true]")
            per = []
            for k in range(args.answers):
                left = int(page.locator("#left").inner_text())
                t0 = time.perf_counter()
                page.keyboard.press("1")
                page.keyboard.press("2")
                expect(page.locator("#left")).to_have_text(str(left - 1))
                before = page.url
                page.keyboard.press("u")
                page.wait_for_url(lambda u, before=before: u != before)
                page.wait_for_selector("body[data-ready=true]")
                per.append(time.perf_counter() - t0)
                assert k < args.students
            browser.close()
        server.should_exit = True
    print(f"keyboard flow: {args.answers} answers, 3 keys each (two rubric digits + u): app time per answer "
          f"median {statistics.median(per):.3f} s, mean {statistics.mean(per):.3f} s, max {max(per):.3f} s")


if __name__ == "__main__":
    main()
