"""Does an assignment work as it says? Its checks load, its reference solution earns every automatic point,
and each shipped example (``[[examples]]``) gets exactly its declared auto score and check statuses.

The library returns the verdicts; ``grader validate`` shows them (exit 1 when one differs).
"""

from __future__ import annotations

import ast
from dataclasses import dataclass, field
from typing import Any

from grader.assignment import Assignment, ExampleSpec
from grader.checks.plugins import load_rubric
from grader.errors import GraderError
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


def check_solution(assignment: Assignment, opts: GradeOptions | None = None) -> ExampleVerdict:
    """Grade the reference solution: it must be graded cleanly and earn every automatic point."""
    path = assignment.solution_path()
    name = str(path)
    if not path.is_file():
        return ExampleVerdict(name, 0.0, None, [f"{name}: reference solution not found"])
    result = grade_file(path, assignment, opts or GradeOptions())
    score = result.get("score") or {}
    problems = [] if result.get("status") == "graded" else \
        [f"{name}: status {result.get('status')}: {result.get('message')}"]
    if score.get("auto") != score.get("auto_max"):
        lost = [f"{c['id']} ({c['points']:g}/{c['max']:g}: {c.get('message')})" for c in result.get("checks") or []
                if not c.get("pending") and c["points"] < c["max"]]
        problems.append(f"{name}: the solution earns {score.get('auto')}/{score.get('auto_max')}: " + "; ".join(lost))
    problems += solution_findings(name, result)
    return ExampleVerdict(name, float(score.get("auto_max") or 0.0), score.get("auto"), problems, result)


def solution_findings(name: str, result: dict[str, Any]) -> list[str]:
    """What the solution must not get: an integrity flag, or a training-loop diagnosis of severity error or
    warning (a finding every student copying the solution would get is a false one, or the solution is wrong)."""
    out = []
    for f in result.get("flags") or []:
        out.append(f"{name}: the solution gets the integrity flag {f.get('id')}: {_en(f.get('message'))}")
    for d in result.get("diagnoses") or []:
        if d.get("severity") in ("error", "warning"):
            out.append(f"{name}: the solution gets the {d.get('severity')} diagnosis {d.get('id')}: "
                       f"{_en(d.get('message'))}")
    return out


def _en(message: Any) -> str:
    return str(message.get("en", "")) if isinstance(message, dict) else str(message or "")


@dataclass(frozen=True)
class Validation:
    """Everything ``grader validate`` found out about one assignment."""

    assignment: str
    rubric_error: str | None
    solution: ExampleVerdict | None
    examples: list[ExampleVerdict]

    @property
    def ok(self) -> bool:
        return self.rubric_error is None and (self.solution is None or self.solution.ok) and \
            all(v.ok for v in self.examples)


# calls in a checks module whose string argument names a fact or a run selector: (function, argument position)
_NAMED = {"fact": ("fact", 0), "fact_spec": ("fact", 0), "judge": ("fact", 1), "select": ("selector", 1),
          "run_problems": ("selector", 1)}


def undeclared_names(assignment: Assignment) -> list[str]:
    """Fact ids and selector names that the assignment's checks modules name as string literals
    (``ctx.fact("x")``, ``select(ctx, "x")``, ``judge(ctx, "x", ...)``, ``run_problems(ctx, "x", er)``) but its
    assignment.toml does not declare: such a check would load and then fail on every submission."""
    declared = {"fact": {str(f.get("id")) for f in assignment.facts}, "selector": set(assignment.selectors)}
    out = []
    for module in assignment.checks_modules:
        path = assignment.root / module
        try:
            tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
        except (OSError, SyntaxError):
            continue  # load_rubric reports a module that cannot be read or parsed
        for node in ast.walk(tree):
            if not isinstance(node, ast.Call):
                continue
            fn = node.func.attr if isinstance(node.func, ast.Attribute) else getattr(node.func, "id", None)
            kind, pos = _NAMED.get(str(fn), ("", 0))
            arg = node.args[pos] if kind and len(node.args) > pos else None
            if kind and isinstance(arg, ast.Constant) and isinstance(arg.value, str) and \
                    arg.value not in declared[kind]:
                what = "[[facts]] id" if kind == "fact" else "[runs.<name>] selector"
                out.append(f"{module}:{node.lineno}: {fn}(… {arg.value!r} …) names no declared {what} "
                           f"(declared: {', '.join(sorted(declared[kind])) or 'none'})")
    return out


def validate(assignment: Assignment, opts: GradeOptions | None = None, solution: bool = True) -> Validation:
    """Load and validate the checks (and the fact and selector names their modules use), grade the reference
    solution (``solution``) and every example."""
    try:
        load_rubric(assignment)
    except GraderError as exc:
        return Validation(assignment.id, str(exc), None, [])
    undeclared = undeclared_names(assignment)
    if undeclared:
        return Validation(assignment.id, "; ".join(undeclared), None, [])
    sol = check_solution(assignment, opts) if solution else None
    return Validation(assignment.id, None, sol, check_examples(assignment, opts))
