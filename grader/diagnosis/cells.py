"""Which notebook cells belong to which task, and a task whose own cell raised an error.

A task's cells run from a markdown heading that matches the task (its ``heading`` regex from assignment.toml,
else its title or "task N" / "과제 N") to the next heading of another task. A code cell there that raised is
reported as ``task_cell_error``; the task's failing checks then name that cell and its error instead of the
closest other run (``grader.scoring.explain``).
"""

from __future__ import annotations

import ast
import re
from typing import Any

from grader.assignment.settings import DiagnosisConfig, TaskSpec
from grader.diagnosis.model import Diagnosis, DiagnosisInput
from grader.text import text

_LINE = re.compile(r"Cell In\[\d+\], line (\d+)|line (\d+)")


def task_sections(inp: DiagnosisInput) -> dict[int, str]:
    """Notebook cell index -> task id, for every cell after a task's heading (memoised)."""
    if "sections" in inp.memo:
        return inp.memo["sections"]  # type: ignore[no-any-return]
    out = notebook_sections(getattr(inp.notebook, "cells", None) or [], inp.tasks)
    inp.memo["sections"] = out
    return out


def notebook_sections(cells: list[Any], tasks: list[TaskSpec]) -> dict[int, str]:
    """Notebook cell index -> task id of ``cells`` (a notebook's), for every cell after a task's heading."""
    out: dict[int, str] = {}
    current: str | None = None
    level = 0
    for i, cell in enumerate(cells):
        if cell.get("cell_type") == "markdown":
            found, at = _heading_task(str(cell.get("source", "")), tasks)
            if found is not None:
                current, level = found, at
            elif current is not None and 0 < at <= level:
                current = None  # another heading as high as the task's ("## 부록"): the task's section ends
        if current is not None:
            out[i] = current
    return out


def _heading_task(source: str, tasks: list[TaskSpec]) -> tuple[str | None, int]:
    """(task whose pattern a heading line of a markdown cell names, its level); else (None, highest level)."""
    top = 0
    for line in source.splitlines():
        stripped = line.lstrip()
        if not stripped.startswith("#"):
            continue
        at = len(stripped) - len(stripped.lstrip("#"))
        top = at if not top else min(top, at)
        for task in tasks:
            if task.pattern().search(line):
                return task.id, at
    return None, top


def code_sources(inp: DiagnosisInput) -> dict[int, str]:
    """Notebook cell index -> source of every non-empty code cell."""
    cells = getattr(inp.notebook, "cells", None) or []
    return {i: str(c.get("source", "")) for i, c in enumerate(cells)
            if c.get("cell_type") == "code" and str(c.get("source", "")).strip()}


def stderr(inp: DiagnosisInput, index: int) -> str:
    """What a cell wrote to stderr when the grader ran it (warnings land there)."""
    executed = inp.execution.executed if inp.execution is not None else None
    cells = getattr(executed, "cells", None) or []
    if len(cells) > index + 1:  # the executed notebook: the grader's set-up cell, then the student's cells
        cell = cells[index + 1]
    else:
        nb_cells = getattr(inp.notebook, "cells", None) or []
        cell = nb_cells[index] if index < len(nb_cells) else {}
    return "".join(str(o.get("text", "")) for o in cell.get("outputs", []) or []
                   if o.get("output_type") == "stream" and o.get("name") == "stderr")


def stored(inp: DiagnosisInput) -> tuple[dict[int, int], list[int]]:
    """The submitted notebook's own execution counts (cell index -> count) and the cells whose stored outputs
    held widgets (``grader.submission.load`` keeps them in the notebook's metadata before dropping outputs)."""
    meta = (getattr(inp.notebook, "metadata", None) or {}).get("grader_stored") or {}
    counts = {int(k): int(v) for k, v in (meta.get("execution_counts") or {}).items()}
    return counts, [int(i) for i in meta.get("widget_cells") or []]


def defined_names(source: str) -> set[str]:
    """Names a cell binds at its top level (assignments, loops, imports, def, class); empty if it does not
    parse. IPython magics and shell lines are dropped first."""
    lines = [ln for ln in source.splitlines() if not ln.lstrip().startswith(("%", "!"))]
    try:
        tree = ast.parse("\n".join(lines))
    except SyntaxError:
        return set()
    found: set[str] = set()
    todo: list[ast.AST] = list(tree.body)
    while todo:
        node = todo.pop()
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            found.add(node.name)
            continue  # names inside a function or class are not the notebook's
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            found.update((a.asname or a.name).split(".")[0] for a in node.names)
        elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
            found.add(node.id)
        if not isinstance(node, (ast.Lambda, ast.ListComp, ast.SetComp, ast.DictComp, ast.GeneratorExp)):
            todo.extend(ast.iter_child_nodes(node))
    return found


def run_task(inp: DiagnosisInput, run_cell: int) -> str | None:
    """The task whose cells trained a run (by the probe cell ordinal of its first step)."""
    return task_sections(inp).get(inp.cell_index(run_cell))


def task_number(inp: DiagnosisInput, task_id: str) -> int:
    """1-based position of a task (0 when unknown)."""
    return next((t.number for t in inp.tasks if t.id == task_id), 0)


def task_cell_errors(inp: DiagnosisInput, cfg: DiagnosisConfig) -> list[Diagnosis]:
    """One ``task_cell_error`` per code cell of a task's section that raised an error."""
    if inp.execution is None:
        return []
    sections = task_sections(inp)
    out = []
    for cell in inp.execution.cells:
        task = sections.get(cell.index)
        if cell.status != "error" or not cell.error or task is None:
            continue
        trained = [er.run.index for er in inp.runs if sections.get(inp.cell_index(er.run.cell)) == task]
        out.append(_cell_error(inp, task, cell.index, cell.error, trained))
    return out


def _cell_error(inp: DiagnosisInput, task: str, index: int, error: dict[str, Any], trained: list[int]) -> Diagnosis:
    ename = str(error.get("ename") or "Error")
    evalue = (str(error.get("evalue") or "").strip().splitlines() or [""])[0][:200]
    found = _LINE.search(str(error.get("traceback") or ""))
    line = int(found.group(1) or found.group(2)) if found else None
    n = task_number(inp, task)
    what = f"{ename}: {evalue}" if evalue else ename
    in_cell = [r for r in trained if any(er.run.index == r and inp.cell_index(er.run.cell) == index
                                         for er in inp.runs)]
    if in_cell:  # the cell trained before it failed (e.g. a print after the first epoch)
        clause = text(f"task {n}'s cell index {index} raised {what} after it had started training (run(s) "
                      f"{', '.join(str(r + 1) for r in in_cell)}), so the rest of that cell never ran",
                      f"과제 {n}의 셀 {index}에서 학습을 시작한 뒤 (실행 {', '.join(str(r + 1) for r in in_cell)}) "
                      f"{what} 오류가 나서 그 셀의 나머지는 실행되지 않았습니다")
    else:
        clause = text(f"task {n}'s cell index {index} raised {what}, so that cell's work never happened",
                      f"과제 {n}의 셀 {index}에서 {what} 오류가 나서 그 셀이 하려던 일이 일어나지 않았습니다")
    if trained:
        runs = ", ".join(str(r + 1) for r in trained)
        rest = text(f"; the cells after it still ran, with whatever was defined before it (run(s) {runs} trained "
                    f"in task {n}'s cells)",
                    f". 그 뒤의 셀들은 그 전에 정의된 것을 가지고 그대로 실행되었습니다 (과제 {n}의 셀에서 학습된 "
                    "실행: "
                    f"{runs})")
    else:
        rest = text(f": no model was trained in task {n}'s cells", f": 과제 {n}의 셀에서는 학습된 모델이 없습니다")
    where = text(f" (line {line})", f" ({line}번째 줄)") if line else text("", "")
    message = text(clause["en"] + where["en"] + rest["en"], clause["ko"] + where["ko"] + rest["ko"])
    todo = text(f"Fix the error in cell index {index} and run the task's cells again from there (or restart the "
                "kernel and run all cells).",
                f"셀 {index}의 오류를 고치고 그 셀부터 과제의 셀들을 다시 실행하세요 (또는 커널을 재시작하고 모두 "
                "실행).")
    before = [er.run.index for er in inp.runs if er.run.index in trained and inp.cell_index(er.run.cell) < index]
    return Diagnosis("task_cell_error", "error", message, todo, run=None, task=task, cell_index=index,
                     evidence={"cell_index": index, "ename": ename, "evalue": evalue, "line": line,
                               "runs_in_task": trained, "runs_before": before, "clause": clause})
