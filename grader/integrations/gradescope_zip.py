"""The Gradescope autograder zip: ``setup.sh``, ``run_autograder``, README.txt, the grader's wheel, the assignment.

Layout (all at the zip's root, as Gradescope wants): ``setup.sh`` and ``run_autograder`` (executable,
``#!/usr/bin/env bash``), ``README.txt``, ``wheels/grader-*.whl`` (this project, built from the checkout),
``assignment/<id>/``: the chosen assignment's folder, copied from wherever ``--assignment`` found it
(assignment.toml, its checks modules, README.md, starter.ipynb, baselines/*.json, ...), which
``run_autograder`` passes as ``--assignment``. Example submissions, the Classroom template, caches and the
instructor's solution (``reference/``) are never put in it.
"""

from __future__ import annotations

import fnmatch
import os
import shutil
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

from grader.assignment import Assignment, load_assignment
from grader.data.provider import get_provider
from grader.errors import GraderError, UsageError

TORCH_PIN = "torch==2.14.1 torchvision==0.29.1"
TORCH_RANGE = '"torch>=2.4,<=2.14.1" "torchvision>=0.19,<=0.29.1"'
CPU_INDEX = "https://download.pytorch.org/whl/cpu"
_PROJECT = Path(__file__).resolve().parents[2]
_DATE = (2024, 1, 1, 0, 0, 0)

SETUP_SH = f"""#!/usr/bin/env bash
# Gradescope runs this once, as root, when it builds the autograder image (Ubuntu 22.04, no GPU).
# Written by `grader gradescope build`.
set -euxo pipefail
cd "$(dirname "${{BASH_SOURCE[0]}}")"
if ! python3 -m pip --version >/dev/null 2>&1; then
  apt-get update
  apt-get install -y --no-install-recommends python3 python3-pip
fi
# CPU torch (no GPU on Gradescope): the builds the grader is tested with; if they have no wheel for this
# Python, the newest older CPU build (never newer than 2.14.1)
python3 -m pip install --no-cache-dir {TORCH_PIN} --index-url {CPU_INDEX} \\
  || python3 -m pip install --no-cache-dir {TORCH_RANGE} --index-url {CPU_INDEX}
python3 -m pip install --no-cache-dir wheels/grader-*.whl
python3 -m grader --version
"""

RUN_AUTOGRADER = """#!/usr/bin/env bash
# Gradescope runs this for every submission: grades $ROOT/submission/* and writes $ROOT/results/results.json.
# Written by `grader gradescope build`. GRADER_AUTOGRADER_ROOT (default /autograder) and GRADER_PYTHON
# (default python3 from PATH) override where it works and which Python (with the grader installed) runs.
set -uo pipefail
ROOT="${{GRADER_AUTOGRADER_ROOT:-/autograder}}"
PY="${{GRADER_PYTHON:-python3}}"
# the assignment folder of this zip (Gradescope unpacks it to $ROOT/source), never the wheel's copy
ASSIGNMENT="$ROOT/source/assignment/{assignment_id}"
if [ ! -f "$ASSIGNMENT/assignment.toml" ]; then
  ASSIGNMENT="$(cd "$(dirname "${{BASH_SOURCE[0]}}")" && pwd)/assignment/{assignment_id}"
fi
ARGS=(gradescope run --root "$ROOT" --assignment "$ASSIGNMENT" --data {data} --device cpu{budget})
rm -f "$ROOT/results/results.json"
"$PY" -m grader "${{ARGS[@]}}"
rc=$?
if [ ! -s "$ROOT/results/results.json" ]; then  # the grader could not even start: still tell the student
  mkdir -p "$ROOT/results"
  printf '{{"score": 0, "execution_time": %s, "output": "The autograder could not run (exit code %s). This is not a \
problem with your submission: please tell your instructor.", "tests": []}}\\n' "$SECONDS" "$rc" \
    > "$ROOT/results/results.json.tmp"
  mv "$ROOT/results/results.json.tmp" "$ROOT/results/results.json"
fi
exit "$rc"
"""

README_TXT = """Gradescope autograder for "{title}" ({assignment_id} {version}), made by `grader gradescope build`.

Upload this zip as the assignment's autograder (Programming Assignment -> Configure Autograder ->
Zip file upload -> Update Autograder). Students upload their notebook (.ipynb; a .py module also works).

Contents
  setup.sh          installs a CPU torch ({torch}) and the grader from wheels/ (no GPU on Gradescope)
  run_autograder    grades /autograder/submission/* with the "{data}" data mode ({data_label}), CPU, and
                    writes /autograder/results/results.json: one test per rubric check{leaderboard_entry}
  wheels/           the grader itself
  assignment/{assignment_id}/  the assignment run_autograder grades with (--assignment): the rubric
                    (assignment.toml; edit points and thresholds here and re-zip){contents}

Settings (Configure Autograder / Assignment settings)
  - Machine: at least 2 GB RAM and 1 CPU (the default 768 MB / 0.5 vCPU is too small for torch);
    a whole notebook takes about a minute on 2 cores, several minutes on 0.5 vCPU.
  - Timeout: 20-40 minutes (the grader's own per-submission budget is {budget}).
  - Points: the autograder gives {auto_max:g} points; {manual} ({manual_points:g} points) are graded by hand:
    add a manual question for them. Manual checks are listed with 0/0 and "pending instructor review".
{leaderboard_setting}  - results.json is written with visibility "visible"; the grader's log (stdout) is hidden from
    students.
"""


_SKIP_NAMES = ("__pycache__", "*.pyc", "*.egg-info", ".ipynb_checkpoints")
_SKIP = shutil.ignore_patterns(*_SKIP_NAMES)
# folders of an assignment that grading never reads: not copied into the zip's assignment/<id>/
_NOT_FOR_GRADING = ("examples", "classroom")


def build_wheel(dest: Path, project: Path | None = None) -> Path:
    """This project's wheel (grader + the bundled ``assignments/`` as ``grader_assignments``), built offline
    into ``dest`` from a clean copy of the checkout: no stale ``build/`` files, never ``reference/``."""
    project = project or _PROJECT
    if not (project / "pyproject.toml").is_file() or not (project / "grader").is_dir():
        raise UsageError(f"no project checkout at {project} (pyproject.toml + grader/); pass --wheel FILE")
    src = dest / "src"
    src.mkdir(parents=True)
    for name in ("pyproject.toml", "setup.py", "README.md", "LICENSE"):
        if (project / name).is_file():
            shutil.copy2(project / name, src / name)
    for folder in ("grader", "assignments"):
        if (project / folder).is_dir():
            shutil.copytree(project / folder, src / folder, ignore=_SKIP)
    cmd = [sys.executable, "-m", "pip", "wheel", str(src), "--no-deps", "--no-build-isolation", "-q",
           "-w", str(dest / "wheel")]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    wheels = sorted((dest / "wheel").glob("grader-*.whl"))
    if proc.returncode != 0 or not wheels:
        raise GraderError(f"building the grader wheel failed: {(proc.stderr or proc.stdout)[-2000:]}")
    return wheels[0]


def _assignment_files(assignment: Assignment, project: Path) -> list[tuple[Path, str]]:
    """(file, path in the zip) of the assignment folder: every file grading may read (rubric, checks modules,
    statement, starter, baselines, ...); no examples, Classroom template, caches or solution."""
    root = assignment.root.resolve()
    if (project / "reference").resolve() in (root, *root.parents):
        raise UsageError(f"{root} is inside reference/ (the instructor's solutions): not shipped")
    picked = []
    for path in sorted(root.rglob("*")):
        rel = path.relative_to(root)
        skipped = any(fnmatch.fnmatch(part, pattern) for part in rel.parts for pattern in _SKIP_NAMES)
        if not path.is_file() or rel.parts[0] in _NOT_FOR_GRADING or skipped:
            continue
        if root not in path.resolve().parents or "solution" in path.name.lower():
            continue  # a link out of the folder (e.g. into reference/) or a solution: never shipped
        picked.append((path, f"assignment/{assignment.id}/{rel.as_posix()}"))
    return picked


def _add(zf: zipfile.ZipFile, name: str, data: bytes, executable: bool = False) -> None:
    """One zip entry with unix permissions (0755 for the scripts, 0644 otherwise)."""
    info = zipfile.ZipInfo(name, date_time=_DATE)
    info.external_attr = ((0o100755 if executable else 0o100644) & 0xFFFF) << 16
    info.compress_type = zipfile.ZIP_DEFLATED
    info.create_system = 3  # unix: unzip honours the permission bits
    zf.writestr(info, data)


def _contents(assignment: Assignment) -> str:
    """What of the assignment's folder the zip carries besides its rubric, as the README lists it."""
    parts = []
    if assignment.checks_modules:
        parts.append(f"its checks ({', '.join(assignment.checks_modules)})")
    own = (("README.md", "the homework statement"), ("starter.ipynb", "the starter notebook"))
    parts += [name for file, name in own if (assignment.root / file).is_file()]
    if any((assignment.root / "baselines").glob("baseline-*.json")):
        parts.append("the reference baselines (baselines/baseline-*.json) the checks compare against")
    return "".join(f",\n                    {p}" for p in parts)


def _leaderboard(assignment: Assignment) -> tuple[str, str]:
    """The README's leaderboard lines: (contents entry, settings line); empty without a [leaderboard]."""
    board = assignment.leaderboard
    if board is None:
        return "", ""
    return (f", and a leaderboard entry\n                    \"{board.name}\" (check {board.check})",
            f"  - Leaderboard (optional): enable it to show \"{board.name}\".\n")


def _texts(assignment: Assignment, data: str, budget_s: float | None) -> dict[str, str]:
    """The three generated files, filled in for this assignment."""
    manual = [s for s in assignment.checks if s.manual]
    budget = f"{budget_s:g} s" if budget_s else f"{assignment.budget(data)['submission_timeout_s']:g} s"
    return {
        "setup.sh": SETUP_SH,
        "run_autograder": RUN_AUTOGRADER.format(assignment_id=assignment.id, data=data,
                                                budget=f" --budget {budget_s:g}" if budget_s else ""),
        "README.txt": README_TXT.format(
            title=assignment.title["en"], assignment_id=assignment.id, version=assignment.version, torch=TORCH_PIN,
            data=data, data_label=get_provider(assignment.data_provider, assignment.root).label,
            leaderboard_entry=_leaderboard(assignment)[0], leaderboard_setting=_leaderboard(assignment)[1],
            contents=_contents(assignment), budget=budget,
            auto_max=sum(s.points for s in assignment.checks if not s.manual),
            manual=", ".join(s.id for s in manual) or "no checks", manual_points=sum(s.points for s in manual)),
    }


def build_autograder_zip(out: Path, assignment_spec: str | Path | None = None, data: str | None = None,
                         budget_s: float | None = None, wheel: Path | None = None,
                         project: Path | None = None) -> Path:
    """Write the Gradescope autograder zip to ``out`` (in one go) and return its path.

    ``assignment_spec`` is what ``--assignment`` takes (an id, a folder, its assignment.toml; None = the
    default); its folder goes into the zip. ``data`` is the data mode ``run_autograder`` grades with (default:
    the assignment's); ``budget_s`` the per-submission time limit baked into it; ``wheel`` a
    prebuilt grader wheel (default: built from ``project``, the checkout this module lives in).
    """
    assignment = load_assignment(assignment_spec)
    project = project or _PROJECT
    modes = get_provider(assignment.data_provider, assignment.root).modes
    data = data or assignment.default_data or modes[0]
    if data not in modes:
        raise UsageError(f"--data must be one of {', '.join(modes)} for {assignment.id}, not {data!r}")
    if wheel is not None and not wheel.is_file():
        raise UsageError(f"no such wheel: {wheel}")
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="grader-gradescope-") as tmp:
        whl = wheel or build_wheel(Path(tmp), project)
        partial = out.with_name(f".{out.name}.partial")
        with zipfile.ZipFile(partial, "w") as zf:
            for name, text in _texts(assignment, data, budget_s).items():
                _add(zf, name, text.encode("utf-8"), executable=name != "README.txt")
            _add(zf, f"wheels/{whl.name}", whl.read_bytes())
            for path, name in _assignment_files(assignment, project):
                _add(zf, name, path.read_bytes())
        os.replace(partial, out)
    return out
