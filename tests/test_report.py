"""HTML reports rendered from real result dicts (two tiny notebooks graded for real, one malformed file)."""

from __future__ import annotations

import copy
import functools
import json
import re
import tempfile
from html import escape
from pathlib import Path
from typing import Any

import pytest
from scenarios import ADAM, DATA, SGD, TEST_ACCURACY, md, sequential, train, write_notebook

from grader.assignment import Assignment, load_assignment
from grader.pipeline import GradeOptions, grade_file
from grader.reference.baseline import load_baseline
from grader.report import render_class, render_student, write_reports
from grader.report.view import arch_row, truncate

WIDTH = 32
EPOCHS = 2
OVERRIDE = {"points": 7.0, "author": "prof.kim", "comment": "관찰은 좋지만 이유 설명이 부족합니다 (override-marker)",
            "time": "2026-11-28T10:00:00+00:00"}
_KEEP: list[tempfile.TemporaryDirectory[str]] = []


def _nb_good(d: Path) -> Path:
    cells = [md("# DNN 과제"), DATA,
             sequential(["ReLU"] * 6, WIDTH), train(ADAM, EPOCHS), TEST_ACCURACY,
             sequential(["Sigmoid"] * 6, WIDTH), train(ADAM, EPOCHS),
             md("결론: Sigmoid 는 vanishing gradient 때문에 loss 가 느리게 줄었다."),
             sequential(["ReLU"] * 6, WIDTH), train(SGD, EPOCHS)]
    return write_notebook(d, "stud_good", cells)


def _nb_weak(d: Path) -> Path:
    """Five hidden layers, a typo that raises, no Sigmoid run, Adam only."""
    cells = [DATA, sequential(["ReLU"] * 5, WIDTH), train(ADAM, EPOCHS), "print(modle)"]
    return write_notebook(d, "stud_weak", cells)


@functools.lru_cache(maxsize=1)
def graded_results() -> tuple[dict[str, Any], ...]:
    """(good, weak, invalid) result dicts, graded once per test process."""
    tmp = tempfile.TemporaryDirectory(prefix="grader-report-")
    _KEEP.append(tmp)
    d = Path(tmp.name)
    opts = GradeOptions(device="cpu", env={"OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"})
    broken = d / "stud_broken.ipynb"
    broken.write_text('{"cells": [ this is not json', encoding="utf-8")
    results = tuple(grade_file(p, opts=opts) for p in (_nb_good(d), _nb_weak(d), broken))
    return tuple(json.loads(json.dumps(r)) for r in results)  # exactly what the JSON files hold


def with_override(result: dict[str, Any], check_id: str = "t2.conclusion") -> dict[str, Any]:
    """A copy of ``result`` with an instructor override on ``check_id``."""
    res = copy.deepcopy(result)
    for check in res["checks"]:
        if check["id"] == check_id:
            check["override"] = dict(OVERRIDE)
    return res


@pytest.fixture(scope="session")
def results() -> tuple[dict[str, Any], ...]:
    return graded_results()


@pytest.fixture(scope="session")
def assignment() -> Assignment:
    return load_assignment()


@pytest.fixture(scope="session")
def baseline(assignment: Assignment) -> dict[str, Any] | None:
    return load_baseline(assignment, "subset")


EXTERNAL = [re.compile(p, re.I) for p in (r"https?://", r"<script[^>]*\bsrc=", r"<link[^>]*\bhref=",
                                          r"<img[^>]*\bsrc=[\"']?(?!data:)", r"url\(\s*[\"']?(?!data:|#)", r"@import")]


def assert_self_contained(html: str) -> None:
    for pat in EXTERNAL:
        assert not pat.search(html), f"external reference {pat.pattern!r}: {pat.search(html)}"


def test_fixture_results_are_what_the_report_needs(results: tuple[dict[str, Any], ...]) -> None:
    good, weak, invalid = results
    assert good["status"] == "graded" and len(good["runs"]) == 3, good.get("message")
    assert weak["status"] == "errors" and weak["errors"]
    assert invalid["status"] == "invalid"


@pytest.mark.parametrize("lang, mine, other", [("ko", "채점 보고서", "Grading report"),
                                               ("en", "Grading report", "채점 보고서")])
def test_student_page(results: tuple[dict[str, Any], ...], baseline: dict[str, Any] | None,
                      assignment: Assignment, lang: str, mine: str, other: str) -> None:
    good = with_override(results[0])
    html = render_student(good, baseline, lang, assignment)
    assert good["submission"]["id"] in html and mine in html and other not in html
    for check in good["checks"]:
        assert f'id="check-{check["id"]}"' in html
    assert "override-marker" in html and "prof.kim" in html
    conclusion = next(c for c in good["checks"] if c["id"] == "t2.conclusion")
    words = conclusion["evidence"]["text"]
    assert words and escape(words[:30]) in html, "the instructor sees the student's extracted conclusion"
    assert html.count("<svg") >= 5  # pair + 3 runs + gradient flow
    assert escape(assignment.figures[0].title[lang]) in html and escape(assignment.title[lang]) in html
    for task in assignment.task_info.values():
        assert escape(task.title[lang]) in html
    assert 'id="gradflow"' in html and "sigmoid ×6" in html
    assert_self_contained(html)


def test_student_page_shows_flags_and_errors(results: tuple[dict[str, Any], ...],
                                             baseline: dict[str, Any] | None, assignment: Assignment) -> None:
    weak = results[1]
    html = render_student(weak, baseline, "en", assignment)
    assert weak["flags"] and 'id="flags"' in html and "notebook_errors" in html
    assert "NameError" in html and "modle" in html
    flags_at, tasks_at = html.index('id="flags"'), html.index('id="task-t1"')
    assert flags_at < tasks_at, "integrity flags must come before the checks"
    assert_self_contained(html)


def test_invalid_and_long_text_pages(results: tuple[dict[str, Any], ...], assignment: Assignment) -> None:
    invalid = copy.deepcopy(results[2])
    html = render_student(invalid, None, "ko", assignment)
    assert "stud_broken" in html and "채점 불가" in html
    weak = copy.deepcopy(results[1])
    weak["errors"][0]["traceback"] = "x" * 10_000 + "\nTAIL-LINE"
    html = render_student(weak, None, "en", assignment)
    assert "TAIL-LINE" in html and "beginning cut" in html and "x" * 5000 not in html


def test_class_page(results: tuple[dict[str, Any], ...], baseline: dict[str, Any] | None,
                    assignment: Assignment) -> None:
    res = [with_override(results[0]), *results[1:]]
    reference = assignment.report.accuracy_reference
    assert reference
    for lang, word in (("ko", "반 전체 채점 보고서"), ("en", "Class grading report")):
        html = render_class(res, baseline, lang, assignment,
                            meta={"elapsed_s": 42.5, "generated_at": "2026-11-28T09:00"})
        assert word in html and "42.5 s" in html and "2026-11-28T09:00" in html
        for r in res:
            assert f'href="students/{r["submission"]["id"]}.html"' in html
        not_run = html[html.index('id="not-run"'):]
        assert "stud_broken" in not_run and "stud_weak" not in not_run
        assert "t1.six_hidden" in html[html.index('id="failures"'):]
        assert 'id="class-table"' in html and "function sortTable" in html
        assert f"({reference}): " in html[html.index('id="charts"'):], "the band note names the reference run"
        assert_self_contained(html)


def test_write_reports(tmp_path: Path, results: tuple[dict[str, Any], ...],
                       baseline: dict[str, Any] | None, assignment: Assignment) -> None:
    paths = write_reports(list(results), tmp_path / "out", baseline, "en", assignment)
    assert paths[0] == tmp_path / "out" / "index.html"
    assert sorted(p.name for p in paths[1:]) == ["stud_broken.html", "stud_good.html", "stud_weak.html"]
    assert all(p.read_text(encoding="utf-8").startswith("<!DOCTYPE html>") for p in paths)


def test_helpers(assignment: Assignment) -> None:
    assert truncate("abcdef", 3) == ("def", True) and truncate("ab", 3) == ("ab", False)
    with pytest.raises(ValueError):
        render_student({"submission": {"id": "x"}}, None, "fr", assignment)


def test_param_count_of_a_traced_model_is_its_parameter_count() -> None:
    """The report's parameter count is ``Architecture.n_params`` of the traced graph: every trainable tensor once."""
    import torch
    import torch.nn.functional as F
    from torch import nn

    from grader.recording.architecture import analyse
    from grader.recording.probe_graph import trace_graph

    torch.manual_seed(0)
    shared = nn.Linear(32, 32)  # applied twice: counted once
    model = nn.Sequential(nn.Flatten(), nn.Linear(784, 32), nn.BatchNorm1d(32), nn.ReLU(), shared, nn.ReLU(),
                          shared, nn.PReLU(), nn.Dropout(0.1), nn.Linear(32, 10, bias=False))
    x = torch.rand(16, 1, 28, 28)
    trace = trace_graph(F.cross_entropy(model(x), torch.arange(16) % 10), list(model.modules()))
    arch = analyse(trace["graph"])
    assert arch is not None
    expected = sum(p.numel() for p in model.parameters())  # BatchNorm's running stats are buffers: not counted
    assert expected == 784 * 32 + 32 + 2 * 32 + 32 * 32 + 32 + 1 + 32 * 10
    assert arch.n_params == expected
    assert arch.to_dict()["params"] == expected

    row = arch_row({"index": 0, "model": {"class": "Sequential", **arch.to_dict()}, "optimizer": {"class": "Adam"}})
    assert row["params"] == expected and row["n_linear"] == 4 and row["hidden"] == 3


def test_matplotlib_svg_is_inline_and_deterministic() -> None:
    from grader.report import plots

    series = [plots.Series("손실", [1, 2, 3], [1.0, 0.5, 0.25], markers=True)]
    band = [plots.Band([1, 2, 3], [0.8, 0.4, 0.2], [1.2, 0.6, 0.3])]
    one = plots.line_chart(series, band, title="학습 곡선", x_label="에폭", y_label="손실")
    two = plots.line_chart(series, band, title="학습 곡선", x_label="에폭", y_label="손실")
    assert one == two and one.startswith('<svg class="plot"') and one.endswith("</svg>")
    assert "<?xml" not in one and "<!DOCTYPE" not in one and "<metadata" not in one and "http" not in one
    assert 'id="' in one and "plotdata" in one
    hist = plots.histogram([0.9, 0.95], lo=0.8, hi=1.0, band=(0.9, 0.96), title="정확도")
    assert hist.count("plotdata-") >= 10 and "<svg" in hist
