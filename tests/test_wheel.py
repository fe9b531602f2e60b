"""The grader as a user gets it: a wheel built from this checkout, installed into a fresh virtual environment.

The fresh venv has no editable install of the checkout. torch and the other dependencies are borrowed from
the development venv through a plain path line in a ``.pth`` file: it puts that site-packages folder on
``sys.path`` but does not run its editable finder, so the checkout's ``grader`` stays invisible and only the
wheel's ``grader`` and ``grader_assignments`` (the bundled ``assignments/``) can be imported. Every command
runs from a temporary folder outside the checkout. About 30 s (one small notebook really graded).
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
import sysconfig
import zipfile
from dataclasses import dataclass
from pathlib import Path

import pytest
import scenarios as sc

ROOT = Path(__file__).resolve().parents[1]
ASSIGNMENTS = ROOT / "assignments"
_JUNK = ("__pycache__", ".pyc", ".ipynb_checkpoints")


@dataclass(frozen=True)
class Fresh:
    wheel: Path
    python: Path
    bin: Path
    site: Path
    outside: Path  # a working folder outside the checkout
    env: dict[str, str]

    def run(self, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
        """``args`` run in the outside folder with the fresh venv's environment."""
        return subprocess.run(list(args), cwd=self.outside, env=self.env, capture_output=True, text=True,
                              timeout=timeout)


def _fresh_venv(path: Path) -> Path:
    """A new venv without pip (pip of this interpreter installs into it); skips when venvs cannot be made."""
    try:
        subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(path)], check=True, capture_output=True,
                       text=True, timeout=120)
    except (subprocess.CalledProcessError, subprocess.TimeoutExpired, OSError) as exc:
        pytest.skip(f"cannot create a virtual environment here: {exc}")
    python = path / "bin" / "python"
    if not python.exists():
        pytest.skip(f"python -m venv made no {python}")
    return python


@pytest.fixture(scope="module")
def fresh(tmp_path_factory: pytest.TempPathFactory) -> Fresh:
    """Build the wheel (clean copy of the checkout, offline), install it with --no-deps into a fresh venv."""
    if importlib.util.find_spec("setuptools") is None:
        pytest.skip("setuptools is not installed: the wheel cannot be built offline")
    from grader.integrations.gradescope_zip import build_wheel

    tmp = tmp_path_factory.mktemp("wheel")
    wheel = build_wheel(tmp / "build")
    python = _fresh_venv(tmp / "venv")
    install = subprocess.run([sys.executable, "-m", "pip", "--python", str(python), "install", "-q", "--no-deps",
                              "--no-index", str(wheel)], capture_output=True, text=True, timeout=300)
    assert install.returncode == 0, install.stderr[-3000:]
    site = Path(subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                               capture_output=True, text=True, check=True).stdout.strip())
    (site / "_grader_test_deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n", encoding="utf-8")
    outside = tmp / "student"
    outside.mkdir()
    env = {k: v for k, v in os.environ.items()
           if k not in ("PYTHONPATH", "GRADER_ASSIGNMENTS", "VIRTUAL_ENV", "PYTHONHOME")}
    env["PATH"] = f"{python.parent}{os.pathsep}{env.get('PATH', '')}"
    return Fresh(wheel, python, python.parent, site.resolve(), outside, env)


def _in(path: str, folder: Path) -> bool:
    return Path(path).resolve().is_relative_to(folder)


def test_wheel_carries_every_assignment_file_and_no_solution(fresh: Fresh) -> None:
    with zipfile.ZipFile(fresh.wheel) as zf:
        names = set(zf.namelist())
    for rel in ("assignment.toml", "checks.py", "baselines/baseline-subset.json",
                "classroom/.github/workflows/classroom.yml", "classroom/.gitignore", "starter.ipynb",
                "examples/five_hidden.ipynb"):
        assert f"grader_assignments/dnn2_mnist/{rel}" in names, rel
    # everything of every assignment folder of the checkout, nothing else under grader_assignments/
    shipped = {p.relative_to(ASSIGNMENTS).as_posix() for p in ASSIGNMENTS.rglob("*")
               if p.is_file() and not any(j in p.as_posix() for j in _JUNK)}
    assert {n.removeprefix("grader_assignments/") for n in names if n.startswith("grader_assignments/")} == shipped
    solutions = [p.relative_to(ROOT / "reference").as_posix() for p in (ROOT / "reference").rglob("*") if p.is_file()]
    assert not [n for n in names if n.startswith("reference/") or "solution" in n.lower()
                or any(n.endswith(f"/{s}") for s in solutions)]  # the instructor's solutions never ship
    assert not [n for n in names if any(j in n for j in _JUNK)]
    assert not [n for n in names if n.startswith("grader/assignments/")]  # the old location is gone
    assert "grader/assignment/locate.py" in names and "grader/cli/assignments.py" in names


def test_the_wheels_grader_is_imported_not_the_checkout(fresh: Fresh) -> None:
    proc = fresh.run(str(fresh.python), "-c", "import grader, grader_assignments, torch; print(grader.__file__); "
                                              "print(list(grader_assignments.__path__)[0]); print(torch.__file__)")
    assert proc.returncode == 0, proc.stderr[-3000:]
    grader_file, bundled, torch_file = proc.stdout.split()
    assert _in(grader_file, fresh.site), grader_file
    assert _in(bundled, fresh.site), bundled
    assert not _in(grader_file, ROOT) and not _in(torch_file, fresh.site)  # torch: borrowed from the dev venv


def test_assignments_lists_the_bundled_one(fresh: Fresh) -> None:
    proc = fresh.run(str(fresh.bin / "grader"), "assignments")
    assert proc.returncode == 0, proc.stderr[-3000:]
    lines = proc.stdout.splitlines()
    row = next(i for i, line in enumerate(lines) if line[2:].startswith("dnn2_mnist "))
    assert "1.0.0" in lines[row]
    folder = Path(lines[row + 1].strip())
    assert folder == fresh.site / "grader_assignments" / "dnn2_mnist" and (folder / "assignment.toml").is_file()


def test_unknown_assignment_from_the_wheel_lists_the_ids(fresh: Fresh) -> None:
    nb = sc.write_notebook(fresh.outside, "lee", ["print(1)"])
    proc = fresh.run(str(fresh.bin / "grader"), "check", nb.name, "--assignment", "nope")
    assert proc.returncode == 2 and "unknown assignment 'nope' (available: " in proc.stderr
    assert "dnn2_mnist" in proc.stderr.split("available: ")[1]


def test_check_grades_a_notebook_from_the_wheel(fresh: Fresh) -> None:
    """``grader check`` outside the checkout, the bundled rubric, checks and baselines. Without the sandbox:
    it binds only the interpreter's own prefix and site-packages, and torch here is borrowed from another."""
    five = sc.sequential(["ReLU"] * 5)
    nb = sc.write_notebook(fresh.outside, "kim", [sc.DATA, five, sc.train(sc.ADAM, epochs=2), sc.relu6("unused")])
    proc = fresh.run(str(fresh.bin / "grader"), "check", nb.name, "--assignment", "dnn2_mnist", "--lang", "en",
                     "--quiet", "--no-sandbox", timeout=300)
    assert proc.returncode == 0, (proc.stdout[-2000:], proc.stderr[-3000:])
    assert "assignment: dnn2_mnist 1.0.0" in proc.stdout and "Self-check (preview): kim" in proc.stdout
    assert "it has 5 hidden layers" in proc.stdout
    result = json.loads((fresh.outside / "grader-check" / "kim.json").read_text(encoding="utf-8"))
    assert result["versions"]["assignment"] == "dnn2_mnist" and result["status"] in ("graded", "errors")
    assert (fresh.outside / "grader-check" / "kim.html").is_file()
