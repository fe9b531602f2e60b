"""Errors of the grading environment, not of the student's code: a library the grader does not have, a data
file that is not there, and the cascade of errors that follow from them.

:func:`classify` sorts every failed cell into ``environment`` (a ``ModuleNotFoundError`` for a module not
installed here, a missing file) or ``student`` (everything else) and marks a later error that only follows from
an earlier failed cell (a ``NameError`` for a name that cell would have bound, the same missing module again) as
its follow-on. :func:`missing_library` is the doctor's finding that names the cause first ("this notebook loads
MNIST with Keras, which the grading environment does not have; ..."); :func:`fold_follow_ons` folds the cells'
own error findings under it.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass
from typing import Any

from grader.assignment.settings import DiagnosisConfig
from grader.diagnosis.model import Diagnosis, DiagnosisInput
from grader.text import Text, text

#: top-level module -> the library's name as people know it
LIBRARIES = {"tensorflow": "TensorFlow/Keras", "keras": "Keras", "tf_keras": "Keras",
             "datasets": "Hugging Face datasets", "sklearn": "scikit-learn"}
_MISSING = re.compile(r"No module named '([\w.]+)'")
_NAME = re.compile(r"name '(\w+)' is not defined")
_FILE = re.compile(r"No such file or directory|does not exist", re.I)


@dataclass
class ErrorClass:
    """One failed cell: whose error it is, and the earlier failed cell it only follows from."""

    cell: int
    kind: str                     # environment | student
    cause: str | None = None      # "module:<name>", "file"
    follow_on_of: int | None = None


def classify(execution: Any, notebook: Any) -> list[ErrorClass]:
    """Every failed cell of ``execution`` (an ExecutionReport), in order, with its kind and follow-on root."""
    if execution is None:
        return []
    cells = list(getattr(notebook, "cells", None) or [])
    out: list[ErrorClass] = []
    bound: dict[str, int] = {}    # name a failed cell would have bound -> that cell's root
    modules: dict[str, int] = {}  # missing module -> the first cell that missed it
    for outcome in execution.cells:
        if not outcome.error:
            continue
        err = outcome.error
        message = f"{err.get('ename', '')}: {err.get('evalue', '')}"
        ec = _kind(outcome.index, err, message)
        name = _NAME.search(message)
        if ec.cause and ec.cause in modules:
            ec.follow_on_of = modules[ec.cause]
        elif name and name.group(1) in bound:
            ec.follow_on_of = bound[name.group(1)]
        if ec.follow_on_of is not None:
            ec.kind = next(c.kind for c in out if c.cell == ec.follow_on_of)
        root = ec.follow_on_of if ec.follow_on_of is not None else ec.cell
        if ec.cause and ec.cause.startswith("module:"):
            modules.setdefault(ec.cause, root)
        source = str(cells[outcome.index].get("source", "")) if outcome.index < len(cells) else ""
        for n in _bound_names(source):
            bound.setdefault(n, root)
        out.append(ec)
    return out


def _kind(cell: int, err: dict[str, Any], message: str) -> ErrorClass:
    missing = _MISSING.search(message)
    if err.get("ename") in ("ModuleNotFoundError", "ImportError") and missing:
        return ErrorClass(cell, "environment", f"module:{missing.group(1)}")
    if err.get("ename") == "FileNotFoundError" or (err.get("ename") == "OSError" and _FILE.search(message)):
        return ErrorClass(cell, "environment", "file")
    return ErrorClass(cell, "student")


def _bound_names(source: str) -> set[str]:
    """Names a cell binds (IPython magics and shell lines dropped; nothing if it does not parse)."""
    lines = [ln for ln in source.splitlines() if not ln.lstrip().startswith(("%", "!"))]
    try:
        tree = ast.parse("\n".join(lines))
    except SyntaxError:
        return set()
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            found.add(node.name)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            found.update((a.asname or a.name).split(".")[0] for a in node.names)
        elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
            found.add(node.id)
    return found


def _loads_mnist(notebook: Any) -> bool:
    return any("mnist" in str(c.get("source", "")).lower() for c in getattr(notebook, "cells", None) or []
               if c.get("cell_type") == "code")


def cause_text(module: str, cell: int, follow_ons: int, notebook: Any) -> Text:
    """The cause, first: which library is missing, what to do instead, and how many errors follow from it."""
    lib = LIBRARIES.get(module.split(".")[0])
    if lib and _loads_mnist(notebook):
        head = text(f"this notebook loads MNIST with {lib}, which the grading environment does not have; load it "
                    f"with torchvision.datasets.MNIST as in the lecture",
                    f"이 노트북은 {lib}(으)로 MNIST를 불러오는데, 채점 환경에는 {lib}이(가) 없습니다. 강의에서처럼 "
                    f"torchvision.datasets.MNIST로 불러오세요")
    else:
        head = text(f"this notebook imports {module}, which the grading environment does not have; the code that "
                    f"uses it could not run here",
                    f"이 노트북은 {module}을(를) import하는데, 채점 환경에는 없습니다. 그것을 쓰는 코드는 여기서 "
                    f"실행될 수 없습니다")
    tail = text(f" (cell index {cell}" + (f"; {follow_ons} later error(s) follow from it)" if follow_ons else ")"),
                f" (셀 {cell}" + (f"; 뒤의 오류 {follow_ons}개는 이것 때문입니다)" if follow_ons else ")"))
    return {"en": head["en"] + tail["en"], "ko": head["ko"] + tail["ko"]}


def environment_cause(execution: Any, notebook: Any) -> Text | None:
    """The first missing library's cause text (None when no cell missed a module)."""
    classes = classify(execution, notebook)
    root = next((c for c in classes if c.follow_on_of is None and (c.cause or "").startswith("module:")), None)
    if root is None or root.cause is None:
        return None
    follow = sum(1 for c in classes if c.follow_on_of == root.cell)
    return cause_text(root.cause.removeprefix("module:"), root.cell, follow, notebook)


def missing_library(inp: DiagnosisInput, cfg: DiagnosisConfig) -> list[Diagnosis]:
    """``library_missing`` (error): a module the grading environment does not have, with its follow-on cells."""
    classes = classify(inp.execution, inp.notebook)
    out = []
    for root in classes:
        if root.follow_on_of is not None or not (root.cause or "").startswith("module:"):
            continue
        module = (root.cause or "").removeprefix("module:")
        follow = [c.cell for c in classes if c.follow_on_of == root.cell]
        msg = cause_text(module, root.cell, len(follow), inp.notebook)
        lib = LIBRARIES.get(module.split(".")[0], module)
        todo = text(f"use only what the lecture's environment has (torch, torchvision) instead of {lib}",
                    f"{lib} 대신 강의 환경에 있는 것(torch, torchvision)만 쓰세요")
        out.append(Diagnosis(id="library_missing", severity="error", message=msg, todo=todo,
                             evidence={"cause": "environment", "module": module, "library": lib,
                                       "follow_on_cells": follow}, cell_index=root.cell))
    return out


def fold_follow_ons(found: list[Diagnosis]) -> list[Diagnosis]:
    """Fold the per-cell error findings of a missing library's cell and its follow-on cells under it."""
    roots = [d for d in found if d.id == "library_missing"]
    kept: list[Diagnosis] = []
    for d in found:
        root = next((r for r in roots if d is not r and d.cell_index is not None and d.id == "task_cell_error"
                     and (d.cell_index == r.cell_index or d.cell_index in r.evidence.get("follow_on_cells", []))),
                    None)
        if root is None:
            kept.append(d)
            continue
        root.evidence.setdefault("also", []).append({"id": d.id, "cell_index": d.cell_index})
    return kept
