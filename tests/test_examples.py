"""``grader validate`` for every assignment (subset, CPU): its checks load, its reference solution earns every
automatic point, and each shipped example gets exactly the verdict its ``[[examples]]`` table declares."""

from __future__ import annotations

import pytest

from grader.assignment import available, load_assignment
from grader.pipeline import GradeOptions
from grader.validate import compare, validate

KERNEL_ENV = {"OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}


@pytest.mark.parametrize("aid", sorted(available()))
def test_assignment_validates(aid: str) -> None:
    assignment = load_assignment(aid)
    assert assignment.examples, f"{aid} declares no [[examples]]"
    report = validate(assignment, GradeOptions(device="cpu", env=dict(KERNEL_ENV)))
    assert report.rubric_error is None, report.rubric_error
    problems = [m for v in [report.solution, *report.examples] if v for m in v.mismatches]
    assert not problems and report.ok, "\n".join(problems)


def test_compare_names_every_difference() -> None:
    spec = load_assignment("dnn2_mnist").examples[0]
    result = {"status": "graded", "score": {"auto": 80.0},
              "checks": [{"id": "t1.accuracy", "status": "partial", "message": "test accuracy 0.9"}]}
    problems = compare(spec, result)
    assert any("auto score 80.0, expected 90" in p for p in problems)
    assert any("t1.accuracy is partial, expected pass (test accuracy 0.9)" in p for p in problems)
    assert any("t3.trained is missing, expected pass" in p for p in problems)
