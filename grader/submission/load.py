"""Read a submission (``.ipynb`` or ``.py``) into a notebook, with a clear error when it is not one.

Size: a file over ``max_bytes`` (default :data:`MAX_BYTES`, 64 MiB; ``GradeOptions.max_submission_mb``,
``--max-size``) is refused before it is read. Stored outputs are dropped before the notebook is validated,
so a notebook of 50 MB of old outputs is graded (its outputs were never trusted anyway).
Lenient where nothing is lost: nbformat 3 is converted, a missing top-level ``metadata`` is added, a
kernelspec naming another language is ignored (we always run our Python 3 kernel); each says so in ``notes``.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import nbformat
from nbformat import NotebookNode

from grader.errors import SubmissionError

MAX_BYTES = 64 * 1024 * 1024
_PYTHON3 = {"name": "python3", "display_name": "Python 3", "language": "python"}


@dataclass
class Submission:
    """One student's file, normalised to an nbformat-4 notebook with outputs stripped."""

    id: str
    path: Path
    kind: str  # notebook | module
    sha256: str
    notebook: NotebookNode
    notes: list[str] = field(default_factory=list)  # what was repaired or ignored, for the result


def load_submission(path: Path, max_bytes: int = MAX_BYTES) -> Submission:
    """Load ``path``; raise SubmissionError naming the file and the problem if it cannot be graded."""
    name = path.name
    if not path.is_file():
        raise SubmissionError(name, "file not found" if not path.exists() else "not a regular file")
    size = path.stat().st_size
    if size > max_bytes:
        raise SubmissionError(name, f"the file is {size / 2**20:.0f} MiB, over the {max_bytes / 2**20:.0f} MiB "
                                    "submission size limit; clear the outputs (Edit > Clear all outputs), "
                                    "save and hand it in again")
    if size == 0:
        raise SubmissionError(name, "the file is empty (0 bytes)")
    raw = path.read_bytes()
    digest = hashlib.sha256(raw).hexdigest()
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise SubmissionError(name, f"not UTF-8 text (byte {exc.start}); save it again as UTF-8") from exc
    suffix = path.suffix.lower()
    if suffix == ".py":
        nb = nbformat.v4.new_notebook()
        nb.cells = [nbformat.v4.new_code_cell(text)]
        return Submission(path.stem, path, "module", digest, nb)
    if suffix != ".ipynb":
        raise SubmissionError(name, f"unsupported file type {suffix or '(none)'}; expected .ipynb or .py")
    notes: list[str] = []
    return Submission(path.stem, path, "notebook", digest, _parse_notebook(name, text, notes), notes)


def _parse_notebook(name: str, text: str, notes: list[str]) -> NotebookNode:
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise SubmissionError(name, f"not valid JSON (line {exc.lineno}, column {exc.colno}): {exc.msg}") from exc
    if not isinstance(data, dict) or "nbformat" not in data:
        raise SubmissionError(name, "valid JSON but not a Jupyter notebook (no 'nbformat' field)")
    if data.get("nbformat") == 4 and not isinstance(data.get("cells"), list):
        raise SubmissionError(name, "not a valid notebook: nbformat 4 without a 'cells' list")
    stored = _stored_outputs(data)
    _repair(data, notes)
    try:
        nb = nbformat.reads(json.dumps(data), as_version=4)
        nbformat.validate(nb)
    except Exception as exc:
        raise SubmissionError(name, f"not a valid notebook: {str(exc).splitlines()[0][:300]}") from exc
    for cell in nb.cells:
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
    if not any(c.cell_type == "code" and c.source.strip() for c in nb.cells):
        raise SubmissionError(name, "the notebook has no code to run" if nb.cells else "the notebook has no cells")
    _foreign_kernel(nb, notes)
    nb.metadata[STORED_KEY] = stored
    return nb


#: notebook metadata key of what the stored outputs said before they were dropped (read by the doctor:
#: ``grader.diagnosis.cells.stored``): ``execution_counts`` (cell index -> count, as the student last ran them)
#: and ``widget_cells`` (cells whose outputs held Jupyter widgets, e.g. tqdm progress bars)
STORED_KEY = "grader_stored"
_WIDGET = "application/vnd.jupyter.widget-view+json"


def _stored_outputs(data: dict[str, Any]) -> dict[str, Any]:
    """The execution counts and widget outputs of the stored cells (nbformat 4, or 3's first worksheet)."""
    cells = data.get("cells")
    if not isinstance(cells, list):
        sheets = [ws for ws in data.get("worksheets") or [] if isinstance(ws, dict)]
        cells = sheets[0].get("cells") if sheets else None
    counts: dict[str, int] = {}
    widgets: list[int] = []
    for i, cell in enumerate(cells if isinstance(cells, list) else []):
        if not isinstance(cell, dict) or cell.get("cell_type") != "code":
            continue
        count = cell.get("execution_count", cell.get("prompt_number"))
        if isinstance(count, int) and not isinstance(count, bool):
            counts[str(i)] = count
        outputs = cell.get("outputs")
        if isinstance(outputs, list) and any(isinstance(o, dict) and _WIDGET in (o.get("data") or {}) for o in outputs):
            widgets.append(i)
    return {"execution_counts": counts, "widget_cells": widgets}


def _repair(data: dict[str, Any], notes: list[str]) -> None:
    """Drop stored outputs (before validation: they can be huge) and add what may be missing harmlessly."""
    cell_lists = [data.get("cells")] + [ws.get("cells") for ws in data.get("worksheets") or []
                                        if isinstance(ws, dict)]
    for cells in cell_lists:
        for cell in cells if isinstance(cells, list) else []:
            if isinstance(cell, dict) and cell.get("cell_type") == "code":
                cell["outputs"] = []
    if data.get("nbformat") == 4 and "metadata" not in data:
        data["metadata"] = {}
        notes.append("the notebook had no top-level 'metadata'; an empty one was assumed")
    if data.get("nbformat") == 3:
        notes.append("nbformat 3 notebook converted to nbformat 4")


def _foreign_kernel(nb: NotebookNode, notes: list[str]) -> None:
    spec = nb.metadata.get("kernelspec") or {}
    if spec and not str(spec.get("name", "")).startswith("python3"):
        notes.append(f"the notebook's kernelspec names {spec.get('display_name') or spec.get('name')!r}; "
                     "it was run with the grader's Python 3 kernel")
        nb.metadata["kernelspec"] = dict(_PYTHON3)
