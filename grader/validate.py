"""Does an assignment grade its own examples as it says? (``[[examples]]`` in assignment.toml)

Each shipped example is graded and compared with its declared auto score and check statuses; the library
returns the verdicts, the CLI shows them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from grader.assignment import Assignment, ExampleSpec
from grader.pipeline import GradeOptions, grade_file


@dataclass(frozen=True)
class ExampleVerdict:
    """One example: what it should get, what it got, and every difference in words."""

    file: str
    expected_score: float
    score: float | None
    mismatches: list[str] = field(default_factory=list)
    result: dict[str, Any] | None = None

    @property
    def ok(self) -> bool:
        return not self.mismatches


def compare(spec: ExampleSpec, result: dict[str, Any]) -> list[str]:
    """Every way ``result`` differs from what ``spec`` declares."""
    out = []
    score = (result.get("score") or {}).get("auto")
    if result.get("status") == "invalid":
        out.append(f"{spec.file}: invalid submission: {result.get('message')}")
    if score is None or abs(float(score) - spec.score) > 1e-6:
        out.append(f"{spec.file}: auto score {score}, expected {spec.score:g}")
    got = {c["id"]: c["status"] for c in result.get("checks") or []}
    for cid, want in spec.statuses.items():
        if got.get(cid) != want:
            message = next((c.get("message") for c in result.get("checks") or [] if c["id"] == cid), "")
            out.append(f"{spec.file}: {cid} is {got.get(cid, 'missing')}, expected {want} ({message})")
    return out


def check_examples(assignment: Assignment, opts: GradeOptions | None = None) -> list[ExampleVerdict]:
    """Grade every ``[[examples]]`` entry and compare it with its declared verdict."""
    verdicts = []
    for spec in assignment.examples:
        path = assignment.root / spec.file
        if not path.is_file():
            verdicts.append(ExampleVerdict(spec.file, spec.score, None, [f"{spec.file}: file not found"]))
            continue
        result = grade_file(path, assignment, opts or GradeOptions())
        verdicts.append(ExampleVerdict(spec.file, spec.score, (result.get("score") or {}).get("auto"),
                                       compare(spec, result), result))
    return verdicts
