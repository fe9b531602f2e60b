"""What the student wrote and printed: text near a run's cells, and printed numbers.

Building blocks for written answers (pending instructor review) and for comparing printed numbers with what
was recorded; the starter's own markdown and comments never count as the student's words.
"""

from __future__ import annotations

import re

from grader.checks.context import CheckContext
from grader.evaluation.runs import EvaluatedRun


def cells_of_run(ctx: CheckContext, er: EvaluatedRun | None, min_cells: int = 4) -> tuple[int, int]:
    """Notebook cell range [start, stop) from the run's training cell to the next run's (at least
    ``min_cells`` cells); (0, 0) without a run."""
    if er is None:
        return 0, 0
    start = ctx.notebook_cell(er.run.cell)
    later = [o.run.cell for o in ctx.runs if o.run.cell > er.run.cell and o is not er]
    stop = ctx.notebook_cell(min(later)) if later else len(ctx.notebook.cells)
    return start, max(stop, start + min_cells)


def text_near(ctx: CheckContext, start: int, stop: int, keywords: re.Pattern[str] | None = None,
              placeholder: re.Pattern[str] | None = None, min_comment: int = 12) -> list[str]:
    """The student's markdown in cells [start, stop) and anywhere that matches ``keywords``, plus comment lines
    longer than ``min_comment`` characters in code cells of the range; without ``placeholder`` matches and
    without the starter's own texts. Duplicates removed, notebook order kept."""
    parts = []
    for i, cell in enumerate(ctx.notebook.cells):
        src = cell.get("source", "")
        in_range = start <= i < stop
        if cell.cell_type == "markdown" and (in_range or (keywords is not None and keywords.search(src))):
            parts.append(src.strip())
        elif cell.cell_type == "code" and in_range:
            parts.extend(line.strip().lstrip("#").strip() for line in src.splitlines()
                         if line.strip().startswith("#") and len(line.strip()) > min_comment)
    kept = [t for t in parts if t and not (placeholder is not None and placeholder.search(t))
            and t not in ctx.template_texts]
    return list(dict.fromkeys(kept))


def stdout(ctx: CheckContext) -> str:
    """Everything the notebook's cells printed."""
    return "\n".join(c.stdout for c in ctx.execution.cells) if ctx.execution else ""


def printed_numbers(ctx: CheckContext, pattern: re.Pattern[str]) -> list[float]:
    """Every number ``pattern`` (one group) finds in what the notebook printed."""
    out = []
    for m in pattern.findall(stdout(ctx)):
        try:
            out.append(float(m))
        except ValueError:
            continue
    return out


def as_fraction(values: list[float]) -> list[float]:
    """Accuracies printed as percentages (> 1) turned into fractions."""
    return [v / 100 if v > 1 else v for v in values]
