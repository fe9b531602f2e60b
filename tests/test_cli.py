"""The command line: usage errors exit 2, invalid submissions are graded 'invalid' (exit 0)."""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

from grader.cli import build_parser, main
from grader.cli.options import ASSIGNMENT_HELP


def test_usage_errors_exit_2(capsys) -> None:  # type: ignore[no-untyped-def]
    try:
        main(["grade"])
    except SystemExit as exc:
        assert exc.code == 2
    assert main(["reference", "--seeds", "0"]) == 2
    assert "--seeds" in capsys.readouterr().err
    assert main(["grade", "/no/such/student.ipynb"]) == 2
    assert "no such file: /no/such/student.ipynb" in capsys.readouterr().err


def test_invalid_submission_is_reported_not_fatal(tmp_path: Path) -> None:
    bad = tmp_path / "choi.ipynb"
    bad.write_text("{broken")
    out = tmp_path / "out"
    proc = subprocess.run([sys.executable, "-m", "grader", "grade", str(bad), "--out", str(out), "--json"],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    res = json.loads(proc.stdout)[0]
    assert res["status"] == "invalid" and "choi.ipynb" in res["message"] and "not valid JSON" in res["message"]
    assert json.loads((out / "choi.json").read_text())["status"] == "invalid"


def test_help_texts_exist() -> None:
    text = build_parser().format_help()
    assert "grade" in text and "reference" in text


def _commands(parser: argparse.ArgumentParser, prefix: tuple[str, ...] = ()) -> dict[tuple[str, ...], Any]:
    """Every leaf sub-command (``("gradescope", "build")`` ...) -> its parser."""
    subs = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    if not subs:
        return {prefix: parser}
    found: dict[tuple[str, ...], Any] = {}
    for name, sub in subs[0].choices.items():
        found.update(_commands(sub, (*prefix, name)))
    return found


def test_every_command_takes_assignment_id_or_path() -> None:
    commands = _commands(build_parser())
    assert ("grade",) in commands and ("gradescope", "build") in commands and ("assignments",) in commands
    for path, sub in commands.items():
        if path in (("assignments",), ("new",)):  # the listing itself; `new` creates one
            continue
        option = next((a for a in sub._actions if "--assignment" in a.option_strings), None)
        assert option is not None, f"grader {' '.join(path)} has no --assignment"
        assert option.type is str and option.default is None, path
        assert option.help == ASSIGNMENT_HELP and "course.toml" in option.help and "grader assignments" in option.help


def test_unknown_assignment_exits_2_before_grading(tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    nb = tmp_path / "kim.ipynb"
    nb.write_text("{}")
    for argv in (["grade", str(nb)], ["check", str(nb)], ["batch", str(tmp_path)], ["reference"],
                 ["classroom", str(nb)], ["classroom-template", str(tmp_path / "t"), "--grader-spec", "x"],
                 ["report", "--out", str(tmp_path)], ["override", "kim", "t1.x", "1", "--comment", "c"],
                 ["export", "csv", "--gradebook", str(tmp_path / "gb.sqlite")], ["gradescope", "run"],
                 ["gradescope", "build", "--out", str(tmp_path / "a.zip")]):
        assert main([*argv, "--assignment", "no_such_hw"]) == 2, argv
        err = capsys.readouterr().err
        assert "unknown assignment 'no_such_hw' (available: " in err and "dnn2_mnist" in err, argv
    assert main(["grade", str(nb), "--assignment", str(tmp_path)]) == 2
    assert f"{tmp_path}: no assignment.toml there" in capsys.readouterr().err
    assert not list(tmp_path.glob("*.zip")) and not (tmp_path / "reports").exists() and not (tmp_path / "t").exists()
