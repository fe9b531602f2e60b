"""Read a submission (``.ipynb`` or ``.py``) into a notebook, with a clear error when it is not one."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

import nbformat
from nbformat import NotebookNode

from grader.errors import SubmissionError

MAX_BYTES = 50 * 1024 * 1024


@dataclass
class Submission:
    """One student's file, normalised to an nbformat-4 notebook with outputs stripped."""

    id: str
    path: Path
    kind: str  # notebook | module
    sha256: str
    notebook: NotebookNode


def load_submission(path: Path, max_bytes: int = MAX_BYTES) -> Submission:
    """Load ``path``; raise SubmissionError naming the file and the problem if it cannot be graded."""
    name = path.name
    if not path.is_file():
        raise SubmissionError(name, "file not found" if not path.exists() else "not a regular file")
    size = path.stat().st_size
    if size > max_bytes:
        raise SubmissionError(name, f"file is {size / 1e6:.0f} MB, over the {max_bytes / 1e6:.0f} MB limit")
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
    return Submission(path.stem, path, "notebook", digest, _parse_notebook(name, text))


def _parse_notebook(name: str, text: str) -> NotebookNode:
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise SubmissionError(name, f"not valid JSON (line {exc.lineno}, column {exc.colno}): {exc.msg}") from exc
    if not isinstance(data, dict) or "nbformat" not in data:
        raise SubmissionError(name, "valid JSON but not a Jupyter notebook (no 'nbformat' field)")
    try:
        nb = nbformat.reads(text, as_version=4)
        nbformat.validate(nb)
    except Exception as exc:
        raise SubmissionError(name, f"not a valid notebook: {str(exc).splitlines()[0][:300]}") from exc
    for cell in nb.cells:
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
    if not any(c.cell_type == "code" and c.source.strip() for c in nb.cells):
        raise SubmissionError(name, "the notebook has no code to run")
    return nb
