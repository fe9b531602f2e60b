"""Odd notebooks, explained: a cell that no longer parses, cells the student ran in another order than top to
bottom, training whose progress shows only in progress bars.

The grader runs every cell once, top to bottom, in a fresh kernel, and grades what runs; these findings say so in
plain words, naming the cell. The saved execution counts and widget outputs come from the submitted file
(``grader.submission.load`` keeps them before dropping its outputs).
"""

from __future__ import annotations

import re

from grader.assignment.settings import DiagnosisConfig
from grader.diagnosis.cells import code_sources, defined_names, stored, task_sections
from grader.diagnosis.evidence import printed_costs
from grader.diagnosis.model import Diagnosis, DiagnosisInput
from grader.text import Text, text

_SYNTAX = {"SyntaxError", "IndentationError", "TabError"}
_NAME = re.compile(r"name '(\w+)' is not defined")
_TQDM = re.compile(r"\btqdm\b|\btrange\b")
_NUMBER = re.compile(r"\d\.\d")
_RESTART = text("Kernel → Restart & Run All (Colab: Runtime → Restart session and run all)",
                "Kernel → Restart & Run All (Colab: 런타임 → 세션 다시 시작 및 모두 실행)")


def unparsable_cells(inp: DiagnosisInput, cfg: DiagnosisConfig) -> list[Diagnosis]:
    """A cell whose source is not valid Python 3 (Python 2's ``print x``, ``.cuda(async=True)``, a stray typo)."""
    if inp.execution is None:
        return []
    sources, sections = code_sources(inp), task_sections(inp)
    out: list[Diagnosis] = []
    for cell in inp.execution.cells:
        error = cell.error or {}
        if error.get("ename") not in _SYNTAX:
            continue
        i, src = cell.index, sources.get(cell.index, "")
        evalue = (str(error.get("evalue") or "").strip().splitlines() or [""])[0][:200]
        line = _syntax_line(src)
        kind, why, todo = _syntax_kind(evalue, src, i, line)
        at = text(f" (line {line})", f" ({line}번째 줄)") if line else text("")
        message = text(f"cell {i}{at['en']} is not valid Python 3 ({error.get('ename')}: {evalue}){why['en']}, so "
                       "none of it ran; the grader graded the notebook on the cells that did run",
                       f"셀 {i}{at['ko']}의 코드는 올바른 Python 3 코드가 아니어서 ({error.get('ename')}: {evalue})"
                       f"{why['ko']} 그 셀은 하나도 실행되지 않았습니다. 채점기는 실행된 셀들로 채점했습니다")
        same = next((d for d in out if kind != "syntax" and d.evidence["kind"] == kind), None)
        if same is not None:  # a Python 2 notebook: one finding for all its print statements
            same.evidence["cells"].append(i)
            continue
        out.append(Diagnosis("cell_does_not_parse", "error", message, todo,
                             {"cell_index": i, "cells": [i], "ename": error.get("ename"), "evalue": evalue,
                              "line": line, "kind": kind, "task": sections.get(i)}, cell_index=i))  # task: see
    for d in out:  # migrations._crashes
        more = d.evidence["cells"][1:]
        if more:
            also = ", ".join(str(c) for c in more)
            d.message = text(f"{d.message['en']} (the same in cell{'s' if len(more) > 1 else ''} {also})",
                             f"{d.message['ko']} (셀 {also}도 같습니다)")
    return out


def _syntax_line(source: str) -> int | None:
    """The line Python reports for a cell's syntax error (magic and shell lines blanked, numbering kept)."""
    lines = ["" if ln.lstrip().startswith(("%", "!")) else ln for ln in source.splitlines()]
    try:
        compile("\n".join(lines), "<cell>", "exec")
    except SyntaxError as exc:
        return exc.lineno
    return None


def _syntax_kind(evalue: str, source: str, cell: int, line: int | None) -> tuple[str, Text, Text]:
    """(kind, why in words, what to do) for a syntax error."""
    if "Missing parentheses in call to 'print'" in evalue:
        return ("python2_print", text(": it uses Python 2's `print x` statement",
                                      ": 파이썬 2 의 `print x` 문을 씁니다."),
                text("Write `print(...)` with parentheses, e.g. `print('cost =', avg_cost)`.",
                     "괄호를 써서 `print(...)` 로 쓰세요. 예: `print('cost =', avg_cost)`."))
    if re.search(r"\basync\s*=", source):
        return ("cuda_async", text(": `.cuda(async=True)` is from PyTorch before 0.4, and `async` is a reserved word "
                                   "since Python 3.7", ": `.cuda(async=True)` 는 PyTorch 0.4 이전 코드이고, "
                                   "`async` 는 Python 3.7 부터 예약어입니다."),
                text("Write `.cuda(non_blocking=True)` (or `.to(device, non_blocking=True)`).",
                     "`.cuda(non_blocking=True)` (또는 `.to(device, non_blocking=True)`) 로 쓰세요."))
    where = text(f"line {line} of cell {cell}" if line else f"cell {cell}",
                 f"셀 {cell}의 {line}번째 줄" if line else f"셀 {cell}")
    return ("syntax", text(""), text(f"Fix {where['en']} (Jupyter and Colab underline it) and run the notebook again "
                                     f"with {_RESTART['en']}.",
                                     f"{where['ko']}의 오류를 고치고 (Jupyter 와 Colab 이 밑줄로 표시합니다) "
                                     f"{_RESTART['ko']} 로 다시 실행하세요."))


def out_of_order(inp: DiagnosisInput, cfg: DiagnosisConfig) -> list[Diagnosis]:
    """A NameError of a name only a later cell defines (``name_defined_later``, warning); else saved execution
    counts that do not increase down the notebook (``cells_run_out_of_order``, info)."""
    counts, _ = stored(inp)
    order = _first_inversion(counts)
    later = _names_defined_later(inp, counts)
    if later:
        return later
    if order is None:
        return []
    earlier, cell = order
    shown = f"[{counts[earlier]}]", f"[{counts[cell]}]"
    message = text(f"the saved notebook shows its cells were last run in another order than top to bottom (cell "
                   f"{earlier} shows {shown[0]}, cell {cell} below it {shown[1]}). The grader runs every cell once "
                   "from top to bottom in a fresh kernel, as Restart & Run All does; it graded what ran that way",
                   f"저장된 노트북을 보면 셀들이 위에서 아래 순서가 아닌 다른 순서로 실행되었습니다 (셀 {earlier}: "
                   f"{shown[0]}, 그 아래의 셀 {cell}: {shown[1]}). 채점기는 새 커널에서 모든 셀을 위에서 아래로 "
                   "한 번씩 실행하고 (Restart & Run All 처럼) 그렇게 실행된 결과로 채점했습니다")
    todo = text(f"Before handing in, run {_RESTART['en']} and check every cell still works in that order.",
                f"제출하기 전에 {_RESTART['ko']} 로 실행해서 그 순서로도 모든 셀이 동작하는지 확인하세요.")
    return [Diagnosis("cells_run_out_of_order", "info", message, todo,
                      {"cell_index": cell, "earlier_cell": earlier, "execution_counts": counts},
                      task=task_sections(inp).get(cell), cell_index=cell)]


def _first_inversion(counts: dict[int, int]) -> tuple[int, int] | None:
    """(an earlier cell, the first cell below it with a lower saved execution count), if any."""
    top: tuple[int, int] | None = None  # (cell, count) of the highest count so far
    for cell in sorted(counts):
        if top is not None and counts[cell] < top[1]:
            return top[0], cell
        if top is None or counts[cell] > top[1]:
            top = (cell, counts[cell])
    return None


def _names_defined_later(inp: DiagnosisInput, counts: dict[int, int]) -> list[Diagnosis]:
    """A cell's NameError whose name no cell above defines and a cell below does."""
    assert inp.execution is not None
    sources, out = code_sources(inp), []
    for cell in inp.execution.cells:
        found = _NAME.search(str((cell.error or {}).get("evalue") or "")) if (cell.error or {}).get("ename") \
            == "NameError" else None
        if not found:
            continue
        name, i = found.group(1), cell.index
        if any(name in defined_names(src) for j, src in sources.items() if j < i):
            continue  # defined above: another problem (a failed cell, a typo), not the order
        j = next((j for j, src in sorted(sources.items()) if j > i and name in defined_names(src)), None)
        if j is None:
            continue
        ran_first = j in counts and i in counts and counts[j] < counts[i]
        cj, ci = f"[{counts.get(j)}]", f"[{counts.get(i)}]"
        saw = text(f"; your saved notebook shows cell {j} {cj} ran before cell {i} {ci}" if ran_first else "",
                   f". 저장된 노트북에서는 셀 {j} {cj} 의 실행이 셀 {i} {ci} 보다 먼저였습니다" if ran_first else "")
        message = text(f"cell {i} raised NameError: `{name}` is not defined there, because it is defined further "
                       f"down, in cell {j}: the grader runs the cells from top to bottom, so cell {i} ran before "
                       f"cell {j}{saw['en']}",
                       f"셀 {i}에서 NameError 가 났습니다: `{name}` 는 더 아래의 셀 {j}에서 정의되는데, 채점기는 셀을 "
                       f"위에서 아래로 실행하므로 셀 {i}의 실행이 셀 {j}보다 먼저였습니다{saw['ko']}")
        todo = text(f"Move cell {j} above cell {i} (or define `{name}` before it) and check with {_RESTART['en']}.",
                    f"셀 {j}의 위치를 셀 {i} 위로 옮기고 (또는 `{name}` 를 그 전에 정의하고) {_RESTART['ko']} 로 "
                    "확인하세요.")
        out.append(Diagnosis("name_defined_later", "warning", message, todo,
                             {"cell_index": i, "name": name, "defined_in": j, "ran_first_when_saved": ran_first,
                              "task": task_sections(inp).get(i)}, cell_index=i))
    return out


def progress_only(inp: DiagnosisInput, cfg: DiagnosisConfig) -> list[Diagnosis]:
    """A training cell that shows its loss only in a tqdm progress bar: no printed number to read."""
    _, widgets = stored(inp)
    sources, by_cell = code_sources(inp), dict[int, list[int]]()
    for er in inp.runs:
        by_cell.setdefault(inp.cell_index(er.run.cell), []).append(er.run.index)
    out = []
    for cell, runs in sorted(by_cell.items()):
        bar = cell in widgets or _TQDM.search(sources.get(cell, ""))
        printed = inp.stdout(cell)
        if not bar or printed_costs(printed, cfg.printed.cost) or _NUMBER.search(printed):
            continue  # a loss printed in any form is there to read
        saved = text(" (its saved outputs are progress-bar widgets)" if cell in widgets else "",
                     " (저장된 출력이 진행 막대 위젯입니다)" if cell in widgets else "")
        names = ", ".join(str(r + 1) for r in runs)
        message = text(f"cell {cell} shows its training progress only in a tqdm progress bar{saved['en']}, with no "
                       "loss printed as text, so there is no printed number to compare: the grader read the losses "
                       f"it recorded while the cell trained (run(s) {names}) instead",
                       f"셀 {cell}에서는 학습 진행을 tqdm 진행 막대로만 보여 주고{saved['ko']} loss 를 글자로 출력하지 "
                       "않아서 비교할 출력 값이 없습니다: 대신 채점기가 그 셀이 학습하는 동안 기록한 loss "
                       f"(실행 {names})를 읽었습니다")
        todo = text("Nothing is wrong. To keep the loss readable in the saved notebook, also print it once per epoch, "
                    "e.g. `print('epoch', epoch + 1, 'cost =', avg_cost)`.",
                    "잘못된 것은 없습니다. 저장된 노트북에서도 loss 를 읽을 수 있게 epoch 마다 한 번 출력하세요. "
                    "예: `print('epoch', epoch + 1, 'cost =', avg_cost)`.")
        out.append(Diagnosis("progress_bar_only", "info", message, todo,
                             {"cell_index": cell, "runs": runs, "widget_outputs_saved": cell in widgets},
                             task=task_sections(inp).get(cell), cell_index=cell))
    return out
