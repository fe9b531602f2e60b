"""An assignment: its tasks, rubric, budgets, data, facts and report settings, read from ``assignment.toml``.

Everything about one homework lives in its folder (``assignments/<id>/``); nothing here knows any homework.
Check *parameters* are kept raw here and validated against each check's declared parameters when the checks
module is loaded (:func:`grader.checks.plugins.load_rubric`), so a typo fails before any notebook runs.
"""

from __future__ import annotations

import re
import sys
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Literal

from grader.assignment.deadline import Deadline, parse_deadline
from grader.assignment.settings import DiagnosisConfig, PrintedSpec, SandboxLimits, TaskSpec
from grader.errors import AssignmentError
from grader.text import Text, in_lang, text

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

SCHEMA_VERSION = 2
_REPO_ROOT = Path(__file__).resolve().parents[2]
_TOP_KEYS = {"schema_version", "id", "version", "title", "default_lang", "seed", "solution", "checks_modules",
             "data", "budgets", "sandbox", "gpu", "tasks", "checks", "integrity", "printed", "diagnoses", "facts",
             "runs", "figures", "leaderboard", "report", "examples", "deadline"}
_CHECK_KEYS = {"id", "task", "points", "manual", "check", "hint", "rubric"}
_FACT_TARGETS = ("target", "instance_of", "subclass_of")


@dataclass(frozen=True)
class TaskInfo:
    """One task of the homework: its id, its title in both languages, and the heading that starts its cells."""

    id: str
    title: Text
    heading: str | None = None


@dataclass(frozen=True)
class RubricItem:
    """One rubric item of a manual check (``rubric = [{ id, points, en, ko }]``): what a TA applies with a key."""

    id: str
    points: float
    text: Text

    def to_dict(self) -> dict[str, Any]:
        """``{"id", "points", "en", "ko"}`` (the gradebook's rubric items)."""
        return {"id": self.id, "points": self.points, "en": self.text["en"], "ko": self.text["ko"]}


@dataclass(frozen=True)
class CheckSpec:
    """One rubric line: which registered check (``check``, default the id), its points, its raw parameters."""

    id: str
    task: str
    points: float
    manual: bool = False
    params: dict[str, Any] = field(default_factory=dict)
    check: str = ""
    hint: Text | None = None
    rubric: tuple[RubricItem, ...] = ()

    @property
    def name(self) -> str:
        """The registered check this line uses."""
        return self.check or self.id


@dataclass(frozen=True)
class ExampleSpec:
    """A shipped example submission and the verdict it must get (``[[examples]]``): its auto score and the
    status of the checks it names (``pass``, ``fail``, ``partial`` and ``pending`` lists)."""

    file: str
    score: float
    statuses: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class FigureSpec:
    """A figure of the student page: ``run_pair`` = the runs two checks judged, side by side with their bands."""

    kind: Literal["run_pair"]
    title: Text
    checks: tuple[str, ...]
    labels: tuple[str, ...]
    empty: Text


@dataclass(frozen=True)
class LeaderboardSpec:
    """The leaderboard metric: ``evidence[key]`` of check ``check`` (Gradescope leaderboard, class page)."""

    name: str
    check: str
    key: str
    order: Literal["asc", "desc"] = "desc"


@dataclass(frozen=True)
class ReportSpec:
    """What the pages call "the" accuracy: the check whose ``evidence.accuracy`` counts, and the reference run
    (baseline key) whose band the class page draws."""

    accuracy_check: str | None = None
    accuracy_reference: str | None = None


@dataclass(frozen=True)
class Assignment:
    """A parsed ``assignment.toml`` plus where it lives."""

    root: Path
    id: str
    version: str
    title: Text
    default_data: str | None
    default_lang: str
    seed: int
    task_info: dict[str, TaskInfo]
    checks: list[CheckSpec]
    budgets: dict[str, dict[str, float]]
    integrity: dict[str, float]
    solution: str
    data_provider: str = "none"
    # [data.evaluation] inputs/targets (nested lists) the grader measures every model on in its own process
    evaluation_data: dict[str, Any] = field(default_factory=dict)
    checks_modules: tuple[str, ...] = ()
    sandbox: SandboxLimits = field(default_factory=SandboxLimits)
    diagnoses: DiagnosisConfig = field(default_factory=DiagnosisConfig)
    facts: tuple[dict[str, Any], ...] = ()
    selectors: dict[str, dict[str, Any]] = field(default_factory=dict)
    figures: tuple[FigureSpec, ...] = ()
    leaderboard: LeaderboardSpec | None = None
    report: ReportSpec = field(default_factory=ReportSpec)
    printed: PrintedSpec = field(default_factory=PrintedSpec)
    examples: tuple[ExampleSpec, ...] = ()
    deadline: Deadline | None = None  # [deadline] (assignment/deadline.py)

    @property
    def tasks(self) -> dict[str, str]:
        """Task id -> English title, in rubric order."""
        return {tid: t.title["en"] for tid, t in self.task_info.items()}

    @property
    def toml_path(self) -> Path:
        return self.root / "assignment.toml"

    def task_title(self, task: str, lang: str) -> str:
        """The task's title in ``lang`` (its id when unknown)."""
        info = self.task_info.get(task)
        return in_lang(info.title, lang) if info else task

    def hint(self, check_id: str, lang: str) -> str:
        """The rubric line's "what to do" hint in ``lang`` ('' when none)."""
        spec = next((c for c in self.checks if c.id == check_id), None)
        return in_lang(spec.hint, lang) if spec and spec.hint else ""

    def task_specs(self) -> list[TaskSpec]:
        """The tasks in rubric order, with how to find each one's cells (``heading`` in ``[[tasks]]``)."""
        return [TaskSpec(t.id, i + 1, t.title["en"], t.heading) for i, t in enumerate(self.task_info.values())]

    def budget(self, mode: str) -> dict[str, float]:
        """Per-cell and whole-submission time limits for a data mode."""
        return self.budgets.get(mode) or self.budgets.get("default") or \
            {"cell_timeout_s": 600, "submission_timeout_s": 1800}

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
        for base in (Path.cwd(), _REPO_ROOT, self.root.parent.parent):
            if (base / rel).exists():
                return (base / rel).resolve()
        return (Path.cwd() / rel).resolve()


def load_assignment(root: Path | str | None = None) -> Assignment:
    """Read and validate an assignment: a folder with ``assignment.toml``, the toml itself, or an assignment id
    (found by :func:`grader.assignment.locate.find_assignment`; None = the default assignment)."""
    from grader.assignment.locate import find_assignment

    folder = find_assignment(root)
    path = folder / "assignment.toml"
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise AssignmentError(f"{path}: not found") from exc
    except tomllib.TOMLDecodeError as exc:
        raise AssignmentError(f"{path}: invalid TOML: {exc}") from exc
    try:
        return _parse(folder, data)
    except AssignmentError as exc:
        raise AssignmentError(f"{path}: {exc}") from exc
    except (KeyError, TypeError, ValueError) as exc:
        raise AssignmentError(f"{path}: missing or invalid field: {exc}") from exc


def _parse(folder: Path, data: dict[str, Any]) -> Assignment:
    if data.get("schema_version") != SCHEMA_VERSION:
        raise AssignmentError(f"schema_version must be {SCHEMA_VERSION} (docs/authoring.md), "
                              f"not {data.get('schema_version')!r}")
    unknown = sorted(set(data) - _TOP_KEYS)
    if unknown:
        raise AssignmentError(f"unknown top-level key(s) {', '.join(unknown)} (known: {', '.join(sorted(_TOP_KEYS))})")
    tasks = {str(t["id"]): _task(t) for t in data["tasks"]}
    checks = [_check(c, tasks) for c in data["checks"]]
    ids = [c.id for c in checks]
    if len(set(ids)) != len(ids):
        raise AssignmentError(f"check id(s) listed twice: {sorted({i for i in ids if ids.count(i) > 1})}")
    data_table = dict(data.get("data", {}))
    printed = _printed(data.get("printed", {}))
    return Assignment(
        root=folder, id=str(data["id"]), version=str(data["version"]),
        title=_text(data.get("title", data["id"]), "title"),
        default_data=data_table.get("default"), default_lang=str(data.get("default_lang", "en")),
        seed=int(data.get("seed", 0)), task_info=tasks, checks=checks, budgets=dict(data.get("budgets", {})),
        integrity=dict(data.get("integrity", {})),
        solution=str(data.get("solution", f"reference/{data['id']}/solution.ipynb")),
        data_provider=str(data_table.get("provider", "none")),
        evaluation_data=_evaluation_data(data_table.get("evaluation")),
        checks_modules=tuple(str(m) for m in data.get("checks_modules", [])),
        sandbox=SandboxLimits.from_table(data.get("sandbox", {})),
        diagnoses=replace(DiagnosisConfig.from_table(data.get("diagnoses", {})), printed=printed),
        facts=tuple(_fact(f) for f in data.get("facts", [])), selectors=_selectors(data.get("runs", {})),
        figures=tuple(_figure(f) for f in data.get("figures", [])), leaderboard=_leaderboard(data.get("leaderboard")),
        report=ReportSpec(**dict(data.get("report", {}))), printed=printed,
        examples=tuple(_example(e, {c.id for c in checks}) for e in data.get("examples", [])),
        deadline=parse_deadline(data.get("deadline")),
    )


def _evaluation_data(table: Any) -> dict[str, Any]:
    """``[data.evaluation]``: ``inputs`` and ``targets``, equally many rows (the grader's own test set)."""
    if table is None:
        return {}
    if not isinstance(table, dict) or set(table) - {"inputs", "targets"} or not {"inputs", "targets"} <= set(table):
        raise AssignmentError("[data.evaluation] needs exactly `inputs` and `targets` (lists of rows)")
    xs, ys = table["inputs"], table["targets"]
    if not isinstance(xs, list) or not isinstance(ys, list) or not xs or len(xs) != len(ys):
        raise AssignmentError(f"[data.evaluation]: inputs and targets must be non-empty lists of equally many rows "
                              f"(got {len(xs) if isinstance(xs, list) else xs!r} and "
                              f"{len(ys) if isinstance(ys, list) else ys!r})")
    return {"inputs": xs, "targets": ys}


def _text(value: Any, where: str) -> Text:
    """A toml text: a string (same in both languages) or a table with ``en`` (and ``ko``)."""
    if isinstance(value, str):
        return text(value)
    if isinstance(value, dict) and isinstance(value.get("en"), str) and set(value) <= {"en", "ko"}:
        return text(value["en"], str(value.get("ko") or value["en"]))
    raise AssignmentError(f"{where} must be a string or a table {{ en = \"...\", ko = \"...\" }}, not {value!r}")


def _task(t: dict[str, Any]) -> TaskInfo:
    unknown = sorted(set(t) - {"id", "title", "heading"})
    if unknown:
        raise AssignmentError(f"[[tasks]] {t.get('id')}: unknown key(s) {', '.join(unknown)}")
    heading = str(t["heading"]) if t.get("heading") else None
    if heading:
        try:
            re.compile(heading)
        except re.error as exc:
            raise AssignmentError(f"[[tasks]] {t['id']}: heading is not a valid regex: {exc}") from exc
    return TaskInfo(str(t["id"]), _text(t.get("title", t["id"]), f"[[tasks]] {t['id']}.title"), heading)


def _check(c: dict[str, Any], tasks: dict[str, TaskInfo]) -> CheckSpec:
    cid = str(c["id"])
    if c.get("task") not in tasks:
        raise AssignmentError(f"[[checks]] {cid}: unknown task {c.get('task')!r} (tasks: {', '.join(tasks)})")
    if isinstance(c.get("points"), bool) or not isinstance(c.get("points"), (int, float)) or c["points"] < 0:
        raise AssignmentError(f"[[checks]] {cid}: points must be a number ≥ 0, not {c.get('points')!r}")
    params = {k: v for k, v in c.items() if k not in _CHECK_KEYS}
    hint = _text(c["hint"], f"[[checks]] {cid}.hint") if "hint" in c else None
    return CheckSpec(cid, str(c["task"]), float(c["points"]), bool(c.get("manual", False)), params,
                     str(c.get("check", "")), hint, _rubric(cid, c))


def _rubric(cid: str, c: dict[str, Any]) -> tuple[RubricItem, ...]:
    """A manual check's ``rubric`` items: each an id, points (may be negative: a deduction) and en/ko text."""
    raw = c.get("rubric", [])
    if raw and not c.get("manual"):
        raise AssignmentError(f"[[checks]] {cid}: rubric items are for manual checks (manual = true)")
    if not isinstance(raw, list) or not all(isinstance(i, dict) for i in raw):
        raise AssignmentError(f"[[checks]] {cid}.rubric must be a list of {{ id, points, en, ko }} tables")
    items = []
    for i in raw:
        unknown = sorted(set(i) - {"id", "points", "en", "ko"})
        if unknown or not isinstance(i.get("id"), str) or isinstance(i.get("points"), bool) \
                or not isinstance(i.get("points"), (int, float)):
            raise AssignmentError(f"[[checks]] {cid}.rubric: every item needs a string id and numeric points "
                                  f"(and en/ko text only), not {i!r}")
        items.append(RubricItem(i["id"], float(i["points"]), _text({k: i[k] for k in ("en", "ko") if k in i},
                                                                     f"[[checks]] {cid}.rubric.{i['id']}")))
    if len({i.id for i in items}) != len(items):
        raise AssignmentError(f"[[checks]] {cid}.rubric: item ids must be unique")
    return tuple(items)


def _fact(f: dict[str, Any]) -> dict[str, Any]:
    """A kernel fact (evaluated in the student's kernel after the notebook ran; grader/recording/probe_facts.py)."""
    if not isinstance(f.get("id"), str):
        raise AssignmentError(f"[[facts]]: every fact needs a string id, not {f.get('id')!r}")
    targets = [k for k in _FACT_TARGETS if k in f]
    if len(targets) != 1:
        raise AssignmentError(f"[[facts]] {f['id']}: give exactly one of {', '.join(_FACT_TARGETS)}")
    unknown = sorted(set(f) - {"id", "call", "then", "seed", "timeout_s", *_FACT_TARGETS})
    if unknown:
        raise AssignmentError(f"[[facts]] {f['id']}: unknown key(s) {', '.join(unknown)}")
    return dict(f)


def _selectors(table: dict[str, Any]) -> dict[str, dict[str, Any]]:
    if not all(isinstance(v, dict) for v in table.values()):
        raise AssignmentError("[runs.<name>] must be tables of run predicates")
    return {str(k): dict(v) for k, v in table.items()}


def _example(e: dict[str, Any], check_ids: set[str]) -> ExampleSpec:
    unknown = sorted(set(e) - {"file", "score", "pass", "fail", "partial", "pending"})
    if unknown:
        raise AssignmentError(f"[[examples]] {e.get('file')}: unknown key(s) {', '.join(unknown)}")
    statuses = {str(cid): status for status in ("pass", "fail", "partial", "pending") for cid in e.get(status, [])}
    strange = sorted(set(statuses) - check_ids)
    if strange:
        raise AssignmentError(f"[[examples]] {e.get('file')}: unknown check id(s) {', '.join(strange)}")
    return ExampleSpec(str(e["file"]), float(e["score"]), statuses)


def _figure(f: dict[str, Any]) -> FigureSpec:
    if f.get("kind") != "run_pair":
        raise AssignmentError(f"[[figures]]: kind must be \"run_pair\", not {f.get('kind')!r}")
    checks = tuple(str(c) for c in f["checks"])
    labels = tuple(str(c) for c in f.get("labels", checks))
    if len(checks) != 2 or len(labels) != 2:
        raise AssignmentError("[[figures]] run_pair: checks and labels must name two runs")
    return FigureSpec("run_pair", _text(f.get("title", " / ".join(labels)), "[[figures]].title"), checks, labels,
                      _text(f.get("empty", ""), "[[figures]].empty"))


def _leaderboard(table: dict[str, Any] | None) -> LeaderboardSpec | None:
    if not table:
        return None
    order = str(table.get("order", "desc"))
    if order not in ("asc", "desc"):
        raise AssignmentError(f"[leaderboard].order must be asc or desc, not {order!r}")
    return LeaderboardSpec(str(table.get("name", table["key"])), str(table["check"]), str(table["key"]),
                           "asc" if order == "asc" else "desc")


def _printed(table: dict[str, Any]) -> PrintedSpec:
    unknown = sorted(set(table) - {"cost", "accuracy"})
    if unknown:
        raise AssignmentError(f"[printed]: unknown key(s) {', '.join(unknown)} (known: cost, accuracy)")
    out = {}
    for key, pattern in table.items():
        try:
            rx = re.compile(str(pattern), re.I)
        except re.error as exc:
            raise AssignmentError(f"[printed].{key} is not a valid regex: {exc}") from exc
        if rx.groups != 1:
            raise AssignmentError(f"[printed].{key} needs exactly one group (the number), it has {rx.groups}")
        out[key] = rx
    return PrintedSpec(**out)
