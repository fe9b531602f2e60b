"""The reports in a real headless browser (Debian chromium): no script errors, every figure drawn, the class
table sorts, and screenshots of both pages (written to ``$GRADER_SCREENSHOTS`` or /tmp/grader-report-screenshots).
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

import pytest
from browser import chromium, dump_dom, screenshot
from test_report import graded_results, with_override

from grader.assignment import load_assignment
from grader.reference.baseline import load_baseline
from grader.report import write_reports

pytestmark = pytest.mark.skipif(chromium() is None,
                                reason="chromium not installed (Debian: apt-get install -y chromium)")
SHOTS = Path(os.environ.get("GRADER_SCREENSHOTS", "/tmp/grader-report-screenshots"))


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    good, weak, invalid = graded_results()
    out = tmp_path_factory.mktemp("site")
    assignment = load_assignment()
    baseline = load_baseline(assignment, "subset")
    write_reports([with_override(good), weak, invalid], out, baseline, "ko", assignment, meta={"elapsed_s": 12.0})
    return out


def _body(dom: str) -> dict[str, str]:
    tag = re.search(r"<body([^>]*)>", dom)
    assert tag, dom[:500]
    return dict(re.findall(r'data-([a-z-]+)="([^"]*)"', tag.group(1)))


def _assert_clean(dom: str, log: str) -> dict[str, str]:
    body = _body(dom)
    assert body.get("ok") == "true", body.get("problems", body)
    errors = [line for line in log.splitlines() if "Uncaught" in line or ("CONSOLE" in line and "ERROR" in line)]
    assert not errors, errors
    return body


@pytest.mark.parametrize("page, min_figures", [("students/stud_good.html", 5), ("students/stud_weak.html", 2),
                                               ("students/stud_broken.html", 0), ("index.html", 2)])
def test_page_loads_cleanly(site: Path, page: str, min_figures: int) -> None:
    dom, log = dump_dom(site / page)
    body = _assert_clean(dom, log)
    assert int(body["images"]) >= min_figures


def _row_ids(dom: str) -> list[str]:
    table = dom[dom.index('id="class-table"'):]
    return re.findall(r'<tr data-id="([^"]+)"', table)


def _scores(site: Path) -> dict[str, float]:
    html = (site / "index.html").read_text(encoding="utf-8")
    rows = re.findall(r'<tr data-id="([^"]+)"[^>]*>\s*<td data-v="[^"]*">[^<]*</td>\s*<td class="num" data-v="([^"]+)"',
                      html)
    return {rid: float(v) for rid, v in rows}


@pytest.mark.parametrize("direction", ["asc", "desc"])
def test_class_table_sorts_by_score(site: Path, direction: str) -> None:
    scores: dict[str, Any] = _scores(site)
    assert len(scores) == 3
    dom, log = dump_dom(site / "index.html", f"sort=score&dir={direction}")
    body = _assert_clean(dom, log)
    assert body["sorted-by"] == f"score:{direction}"
    got = [scores[i] for i in _row_ids(dom)]
    assert got == sorted(got, reverse=direction == "desc") and len(got) == 3


def test_class_table_sorts_by_name(site: Path) -> None:
    dom, log = dump_dom(site / "index.html", "sort=id&dir=asc")
    _assert_clean(dom, log)
    assert _row_ids(dom) == ["stud_broken", "stud_good", "stud_weak"]


def test_screenshots(site: Path) -> None:
    for page, name, height in (("index.html", "class.png", 1800), ("students/stud_good.html", "student.png", 3600)):
        png = screenshot(site / page, SHOTS / name, height=height)
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 10_000
