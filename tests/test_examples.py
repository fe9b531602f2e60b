"""Every assignment grades its shipped examples exactly as its ``[[examples]]`` table says (subset, CPU)."""

from __future__ import annotations

import pytest

from grader.assignment import available, load_assignment
from grader.pipeline import GradeOptions
from grader.validate import check_examples, compare

KERNEL_ENV = {"OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}


@pytest.mark.parametrize("aid", sorted(available()))
def test_examples_get_their_declared_verdicts(aid: str) -> None:
    assignment = load_assignment(aid)
    assert assignment.examples, f"{aid} declares no [[examples]]"
    verdicts = check_examples(assignment, GradeOptions(device="cpu", env=dict(KERNEL_ENV)))
    problems = [m for v in verdicts for m in v.mismatches]
    assert not problems, "\n".join(problems)


def test_compare_names_every_difference() -> None:
    spec = load_assignment("dnn2_mnist").examples[0]
    result = {"status": "graded", "score": {"auto": 80.0},
              "checks": [{"id": "t1.accuracy", "status": "partial", "message": "test accuracy 0.9"}]}
    problems = compare(spec, result)
    assert any("auto score 80.0, expected 90" in p for p in problems)
    assert any("t1.accuracy is partial, expected pass (test accuracy 0.9)" in p for p in problems)
    assert any("t3.trained is missing, expected pass" in p for p in problems)
