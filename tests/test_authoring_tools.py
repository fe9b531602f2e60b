"""``grader new`` scaffolds a homework that ``grader validate`` accepts as it is; a wrong declared verdict fails
validation (exit 1) naming the example and the difference."""

from __future__ import annotations

from pathlib import Path

import pytest

from grader.cli import main
from grader.errors import UsageError
from grader.scaffold import new_assignment


def test_new_then_validate(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["new", "hw_demo", "--title", "Demo", "--root", str(tmp_path)]) == 0
    folder = tmp_path / "assignments" / "hw_demo"
    assert {p.name for p in folder.iterdir()} == {"assignment.toml", "checks.py", "README.md", "starter.ipynb"}
    assert (tmp_path / "reference" / "hw_demo" / "solution.ipynb").is_file()
    capsys.readouterr()
    assert main(["validate", str(folder)]) == 0, capsys.readouterr()
    out = capsys.readouterr().out
    assert "✔ checks load" in out and "✔ solution.ipynb: 25.0/25" in out and "✔ starter.ipynb: 0.0/0" in out
    toml = folder / "assignment.toml"
    toml.write_text(toml.read_text(encoding="utf-8").replace('file = "starter.ipynb"\nscore = 0',
                                                             'file = "starter.ipynb"\nscore = 5'), encoding="utf-8")
    assert main(["validate", str(folder), "--no-solution"]) == 1
    assert "starter.ipynb: auto score 0.0, expected 5" in capsys.readouterr().out
    toml.write_text(toml.read_text(encoding="utf-8").replace("min_batch = 2", "min_batches = 2"), encoding="utf-8")
    assert main(["validate", str(folder), "--no-solution"]) == 1
    assert "[[checks]] t1.batches: unknown parameter(s) min_batches" in capsys.readouterr().out


def test_new_refuses_bad_ids_and_existing_folders(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="lower-case letters"):
        new_assignment("Bad-Id", tmp_path)
    new_assignment("hw2", tmp_path)
    with pytest.raises(UsageError, match="already exists"):
        new_assignment("hw2", tmp_path)
