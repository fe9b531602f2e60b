"""An assignment: its rubric, budgets and defaults, read from ``assignment.toml``."""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from grader.diagnosis.model import DiagnosisConfig, TaskSpec
from grader.errors import AssignmentError
from grader.execution.sandbox import SandboxLimits

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

SCHEMA_VERSION = 1
# Bundled with the package (rubric, starter, examples, Classroom template, baselines) so that a plain
# `pip install` can grade; the instructor's solution is not bundled (see ``solution_path``).
DEFAULT_ASSIGNMENT = Path(__file__).resolve().parent / "assignments" / "dnn2_mnist"
_REPO_ROOT = Path(__file__).resolve().parents[1]


@dataclass(frozen=True)
class CheckSpec:
    """One rubric line: which registered check, its points, and its parameters."""

    id: str
    task: str
    points: float
    manual: bool = False
    params: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Assignment:
    """A parsed ``assignment.toml`` plus where it lives."""

    root: Path
    id: str
    version: str
    title: str
    default_data: str
    default_lang: str
    seed: int
    tasks: dict[str, str]
    checks: list[CheckSpec]
    budgets: dict[str, dict[str, float]]
    integrity: dict[str, float]
    solution: str
    sandbox: SandboxLimits = field(default_factory=SandboxLimits)  # [sandbox] limits per kernel
    diagnoses: DiagnosisConfig = field(default_factory=DiagnosisConfig)  # [diagnoses] thresholds, lecture pointers
    task_headings: dict[str, str] = field(default_factory=dict)  # task id -> regex of its markdown heading

    def task_specs(self) -> list[TaskSpec]:
        """The tasks in rubric order, with how to find each one's cells (``heading`` in ``[[tasks]]``)."""
        return [TaskSpec(tid, i + 1, title, self.task_headings.get(tid))
                for i, (tid, title) in enumerate(self.tasks.items())]

    def budget(self, mode: str) -> dict[str, float]:
        """Per-cell and whole-submission time limits for a data mode."""
        return self.budgets.get(mode, {"cell_timeout_s": 600, "submission_timeout_s": 1800})

    def template_texts(self) -> frozenset[str]:
        """Markdown cells and comment lines of the starter notebook (text the student did not write)."""
        starter = self.root / "starter.ipynb"
        if not starter.exists():
            return frozenset()
        import nbformat

        texts: set[str] = set()
        for cell in nbformat.read(starter, as_version=4).cells:
            if cell.cell_type == "markdown":
                texts.add(cell.source.strip())
            else:
                texts.update(line.strip().lstrip("#").strip() for line in cell.source.splitlines()
                             if line.strip().startswith("#"))
        return frozenset(texts)

    def baseline_path(self, mode: str) -> Path:
        """Where the reference tolerance bands for a data mode are stored (public numbers, shipped)."""
        return self.root / "baselines" / f"baseline-{mode}.json"

    def solution_path(self) -> Path:
        """The instructor's solution notebook: ``solution`` from assignment.toml, relative to the current
        directory or, failing that, to the repository checkout. Never part of the installed package."""
        rel = Path(self.solution)
        for base in (Path.cwd(), _REPO_ROOT):
            if (base / rel).exists():
                return (base / rel).resolve()
        return (Path.cwd() / rel).resolve()


def load_assignment(root: Path | None = None) -> Assignment:
    """Read and validate ``root/assignment.toml`` (default: the bundled dnn2_mnist)."""
    root = (root or DEFAULT_ASSIGNMENT).resolve()
    path = root / "assignment.toml"
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise AssignmentError(f"{path}: not found") from exc
    except tomllib.TOMLDecodeError as exc:
        raise AssignmentError(f"{path}: invalid TOML: {exc}") from exc
    if data.get("schema_version") != SCHEMA_VERSION:
        raise AssignmentError(f"{path}: schema_version must be {SCHEMA_VERSION}")
    try:
        tasks = {t["id"]: t.get("title", t["id"]) for t in data["tasks"]}
        checks = [_check(c, tasks) for c in data["checks"]]
        return Assignment(
            root=root, id=data["id"], version=str(data["version"]), title=data.get("title", data["id"]),
            default_data=data.get("default_data", "subset"), default_lang=data.get("default_lang", "en"),
            seed=int(data.get("seed", 0)), tasks=tasks, checks=checks, budgets=data.get("budgets", {}),
            integrity=data.get("integrity", {}),
            solution=data.get("solution", f"reference/{data['id']}/solution.ipynb"),
            sandbox=SandboxLimits.from_table(data.get("sandbox", {})),
            diagnoses=DiagnosisConfig.from_table(data.get("diagnoses", {})),
            task_headings={t["id"]: str(t["heading"]) for t in data["tasks"] if t.get("heading")},
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise AssignmentError(f"{path}: missing or invalid field: {exc}") from exc


def _check(c: dict[str, Any], tasks: dict[str, str]) -> CheckSpec:
    if c["task"] not in tasks:
        raise AssignmentError(f"check {c['id']}: unknown task {c['task']!r}")
    params = {k: v for k, v in c.items() if k not in ("id", "task", "points", "manual")}
    return CheckSpec(c["id"], c["task"], float(c["points"]), bool(c.get("manual", False)), params)
