"""The command line: usage errors exit 2, invalid submissions are graded 'invalid' (exit 0)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from grader.cli import build_parser, main


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
