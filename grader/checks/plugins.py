"""Loading an assignment's checks: the built-in reusable checks plus the modules its toml names.

Like pluggy and Otter's plugins, the grader never imports an assignment's module by name: ``checks_modules``
in assignment.toml lists files (relative to the assignment folder) that are loaded from their path, and every
``@check`` function in them is registered. Each rubric line is then bound to its check and its toml
parameters validated, so a typo is an error naming the file, the check and the key before anything runs.
"""

from __future__ import annotations

import hashlib
import importlib.util
import sys
import threading
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

from grader.assignment.config import Assignment, CheckSpec
from grader.checks import builtin, builtin_answers
from grader.checks.params import parse_params
from grader.checks.registry import CheckDef, Registry
from grader.checks.selectors import Selector, parse_selector
from grader.errors import AssignmentError


@dataclass(frozen=True)
class BoundCheck:
    """A rubric line with its check and validated parameters."""

    spec: CheckSpec
    defn: CheckDef
    params: Any


@dataclass(frozen=True)
class Rubric:
    """Everything the checks stage needs from an assignment, validated."""

    checks: tuple[BoundCheck, ...]
    selectors: dict[str, Selector]
    registry: Registry

    def tagged(self, tag: str) -> list[str]:
        """Ids of the rubric lines whose check carries ``tag`` (e.g. ``accuracy``)."""
        return [b.spec.id for b in self.checks if tag in b.defn.tags]


_LOADING = threading.Lock()  # a module is put in sys.modules before it runs: one loader at a time


def load_module(path: Path, assignment_id: str) -> ModuleType:
    """Import a checks module from its file under a private name (no sys.path change); thread-safe."""
    with _LOADING:
        return _load(path, assignment_id)


def _load(path: Path, assignment_id: str) -> ModuleType:
    stat = path.stat()  # an edited file is a new module (the rubric cache is keyed by file times too)
    digest = hashlib.sha1(f"{path.resolve()}:{stat.st_mtime_ns}:{stat.st_size}".encode()).hexdigest()[:8]
    name = f"grader_assignment_{assignment_id}_{path.stem}_{digest}".replace("-", "_")
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise AssignmentError(f"{path}: cannot load this checks module")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except Exception as exc:
        del sys.modules[name]
        raise AssignmentError(f"{path}: the checks module failed to import: {type(exc).__name__}: {exc}") from exc
    return module


def registry_for(assignment: Assignment) -> Registry:
    """The built-in checks plus every ``@check`` of the assignment's ``checks_modules`` (an assignment's check
    named like a built-in one replaces it for this assignment; two of the assignment's own may not share a name)."""
    reg = Registry()
    reg.add_module(builtin, "grader.checks.builtin")
    reg.add_module(builtin_answers, "grader.checks.builtin_answers")
    builtins = frozenset(reg.ids())
    for rel in assignment.checks_modules:
        path = (assignment.root / rel).resolve()
        if not path.is_file():
            raise AssignmentError(f"{assignment.toml_path}: checks_modules names {rel}, which does not exist")
        if reg.add_module(load_module(path, assignment.id), str(path), builtins) == 0:
            raise AssignmentError(f"{path}: no @check function in this module (grader.api.check)")
    return reg


_CACHE: dict[tuple[Any, ...], Rubric] = {}


def _stamp(assignment: Assignment) -> tuple[Any, ...]:
    files = [assignment.toml_path, *(assignment.root / m for m in assignment.checks_modules)]
    return (str(assignment.root), assignment.version, repr(assignment.checks), repr(assignment.selectors),
            tuple(f.stat().st_mtime_ns if f.exists() else 0 for f in files))


def load_rubric(assignment: Assignment, registry: Registry | None = None) -> Rubric:
    """Bind every rubric line to its check, validating its parameters and the run selectors (cached per
    assignment folder and file times, so a batch loads its checks once)."""
    if registry is not None:
        return _bind(assignment, registry)
    key = _stamp(assignment)
    if key not in _CACHE:
        _CACHE[key] = _bind(assignment, registry_for(assignment))
    return _CACHE[key]


def _bind(assignment: Assignment, reg: Registry) -> Rubric:
    where = str(assignment.toml_path)
    selectors = {name: parse_selector(name, table, where) for name, table in assignment.selectors.items()}
    for name, sel in selectors.items():
        if sel.task is not None and sel.task not in assignment.task_info:
            raise AssignmentError(f"{where} [runs.{name}]: task = {sel.task!r}, but there is no such [[tasks]] id "
                                  f"(tasks: {', '.join(assignment.task_info)})")
    bound = []
    for spec in assignment.checks:
        defn = reg.get(spec.name)
        if defn is None:
            raise AssignmentError(f"{where} [[checks]] {spec.id}: no check named {spec.name!r} (registered: "
                                  f"{', '.join(reg.ids())})")
        params = parse_params(defn.params, spec.params, f"{where} [[checks]] {spec.id}")
        run = getattr(params, "run", None)
        if isinstance(run, str) and run not in selectors:
            raise AssignmentError(f"{where} [[checks]] {spec.id}: run = {run!r}, but there is no [runs.{run}] "
                                  f"(selectors: {', '.join(selectors) or 'none'})")
        section = getattr(params, "section", None)
        if isinstance(section, str) and section not in assignment.task_info:
            raise AssignmentError(f"{where} [[checks]] {spec.id}: section = {section!r}, but there is no such "
                                  f"[[tasks]] id (tasks: {', '.join(assignment.task_info)})")
        missing = [f for f in getattr(params, "facts", None) or [] if f not in {x["id"] for x in assignment.facts}]
        if missing:
            raise AssignmentError(f"{where} [[checks]] {spec.id}: no [[facts]] with id {', '.join(missing)}")
        bound.append(BoundCheck(spec, defn, params))
    return Rubric(tuple(bound), selectors, reg)
