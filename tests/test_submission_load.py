"""Reading submissions: notebooks, modules, and clear errors for everything else."""

from __future__ import annotations

import json
from pathlib import Path

import nbformat
import pytest

from grader.errors import SubmissionError
from grader.submission.load import load_submission


def _write_nb(path: Path, cells: list) -> Path:
    nb = nbformat.v4.new_notebook()
    nb.cells = cells
    nbformat.write(nb, path)
    return path


def test_notebook_outputs_are_stripped(tmp_path: Path) -> None:
    cell = nbformat.v4.new_code_cell("print(1)")
    cell.outputs = [nbformat.v4.new_output("stream", name="stdout", text="fake\n")]
    sub = load_submission(_write_nb(tmp_path / "kim.ipynb", [cell]))
    assert sub.id == "kim" and sub.kind == "notebook" and len(sub.sha256) == 64
    assert sub.notebook.cells[0].outputs == []


def test_module_becomes_one_cell(tmp_path: Path) -> None:
    (tmp_path / "lee.py").write_text("x = 1\n")
    sub = load_submission(tmp_path / "lee.py")
    assert sub.kind == "module" and [c.source for c in sub.notebook.cells] == ["x = 1\n"]


@pytest.mark.parametrize("content, phrase", [
    (b"{not json", "not valid JSON"),
    (json.dumps({"hello": 1}).encode(), "not a Jupyter notebook"),
    (json.dumps({"nbformat": 4, "nbformat_minor": 5, "metadata": {}}).encode(), "not a valid notebook"),
    (b"\xff\xfe\x00garbage", "not UTF-8"),
])
def test_bad_notebooks_name_file_and_problem(tmp_path: Path, content: bytes, phrase: str) -> None:
    path = tmp_path / "park.ipynb"
    path.write_bytes(content)
    with pytest.raises(SubmissionError) as err:
        load_submission(path)
    assert "park.ipynb" in str(err.value) and phrase in str(err.value)


def test_markdown_only_and_size_limit(tmp_path: Path) -> None:
    md = _write_nb(tmp_path / "md.ipynb", [nbformat.v4.new_markdown_cell("only words")])
    with pytest.raises(SubmissionError, match="no code to run"):
        load_submission(md)
    with pytest.raises(SubmissionError, match="over the"):
        load_submission(md, max_bytes=10)
    (tmp_path / "a.txt").write_text("x")
    with pytest.raises(SubmissionError, match="unsupported file type"):
        load_submission(tmp_path / "a.txt")
    with pytest.raises(SubmissionError, match="file not found"):
        load_submission(tmp_path / "missing.ipynb")
