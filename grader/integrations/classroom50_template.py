"""What an instructor uploads to Classroom 50 for one homework (``grader classroom-template --platform classroom50``).

Classroom 50 (wiki Advanced-Autograding.md) runs ``CLASSROOM/autograders/ASSIGNMENT/autograder.py`` from the
teacher's ``classroom50`` repository once per submission, in the student's checkout, inside a grade job that
stops after 15 minutes (setup, grading and Release publishing together); a ``runtime`` block chooses the runner
(``"runs-on": ["self-hosted", "gpu"]`` for a GPU machine, where no toolchain is set up). Written here:

- ``autograder/autograder.py`` — installs the pinned torch and this grader (``GRADER_SPEC=skip`` skips it, any other
  value replaces the grader's address), then ``grader classroom`` with a budget that keeps the job inside 15 minutes;
- ``runtime.json`` — for ``gh teacher assignment add … --runtime runtime.json``;
- ``template/`` — the starter repository (``homework.ipynb``, a student README with ``gh student submit``);
- ``INSTRUCTOR.md`` — the steps.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from grader.integrations.classroom50 import JOB_LIMIT_S

TORCH_PIN = "torch==2.14.1 torchvision==0.29.1"
CPU_INDEX = "https://download.pytorch.org/whl/cpu"
PYTHON = "3.11"
RESERVED_S = 150  # checkout, runner start-up and Release publishing around the autograder (estimate)
MIN_BUDGET_S = 60

_SCRIPT = '''#!/usr/bin/env python3
"""Classroom 50 autograder for {assignment} (written by `grader classroom-template --platform classroom50`).

Runs in the student's checkout. Installs {torch_pin} and the grader, then runs `grader classroom`, which
writes ./result.json (classroom50/result/v1) and the job summary. Environment:
  GRADER_SPEC   what to pip-install as the grader (default below); "skip" installs nothing (a runner image
                that already has torch and the grader, or a local test).
Classroom 50 stops the grade job after 15 minutes: the grader's budget is what is left of {job_limit} s after
{reserved} s for the runner's own steps and the time this script spent installing.
"""

import os
import subprocess
import sys
import tempfile
import time

GRADER_SPEC = os.environ.get("GRADER_SPEC") or {spec!r}
TORCH_PIN = {torch_pin!r}.split()
TORCH_INDEX = {index!r}  # "" = PyPI's default (CUDA) wheels
ASSIGNMENT = {assignment!r}
NOTEBOOK = {notebook!r}
DEVICE = {device!r}
DATA = "subset"
JOB_LIMIT_S, RESERVED_S, MIN_BUDGET_S = {job_limit}, {reserved}, {min_budget}
START = time.monotonic()


def pip(*args):
    cmd = [sys.executable, "-m", "pip", "install", "--disable-pip-version-check", "--quiet", *args]
    print("+", " ".join(cmd), flush=True)
    subprocess.run(cmd, check=True)


def have_torch():
    try:
        import torch
    except ImportError:
        return False
    return torch.__version__.split("+")[0] == TORCH_PIN[0].split("==")[1]


if GRADER_SPEC != "skip":
    if not have_torch():
        pip(*TORCH_PIN, *(["--index-url", TORCH_INDEX] if TORCH_INDEX else []))
    pip(GRADER_SPEC)
installed_s = time.monotonic() - START
budget = max(MIN_BUDGET_S, int(JOB_LIMIT_S - RESERVED_S - installed_s))
print(f"grader budget: {{budget}} s (Classroom 50 stops the job at {{JOB_LIMIT_S // 60}} min; install took "
      f"{{installed_s:.0f}} s)", flush=True)
reports = os.path.join(os.environ.get("RUNNER_TEMP") or tempfile.mkdtemp(), "grader-reports")
cmd = [sys.executable, "-m", "grader", "classroom", NOTEBOOK, "--assignment", ASSIGNMENT, "--data", DATA,
       "--device", DEVICE, "--budget", str(budget), "--result", "result.json", "--out", reports]
print("+", " ".join(cmd), flush=True)
sys.exit(subprocess.run(cmd, check=False).returncode)
'''


def autograder_script(assignment_id: str, grader_spec: str, gpu_runner: str | None,
                      notebook: str = "homework.ipynb") -> str:
    """The ``autograder.py`` Classroom 50 runs for this homework (CPU wheels unless on a GPU runner)."""
    return _SCRIPT.format(assignment=assignment_id, spec=grader_spec, torch_pin=TORCH_PIN,
                          index="" if gpu_runner else CPU_INDEX, notebook=notebook,
                          device="auto" if gpu_runner else "cpu", job_limit=JOB_LIMIT_S, reserved=RESERVED_S,
                          min_budget=MIN_BUDGET_S)


def runtime_block(gpu_runner: str | None) -> dict[str, Any]:
    """The assignment's ``runtime``: a GitHub-hosted runner with Python, or ``[self-hosted, LABEL]``."""
    if gpu_runner:
        return {"runs-on": ["self-hosted", gpu_runner]}
    return {"runs-on": "ubuntu-latest", "python": PYTHON}


def _student_readme(assignment: Any, grader_spec: str, gpu_runner: str | None) -> str:
    where = "a GPU runner" if gpu_runner else "a CPU runner (no GPU)"
    where_ko = "GPU 러너" if gpu_runner else "CPU 러너 (GPU 없음)"
    mnist = getattr(assignment, "data_provider", "") == "mnist"
    data_ko = "MNIST 일부 데이터" if mnist else "과제의 데이터"
    data_en = "the grader's MNIST subset" if mnist else "the homework's own data"
    aid = assignment.id
    return f"""# {assignment.id}

과제 설명은 `homework.ipynb` 안의 안내를 보세요. `# TODO` 칸을 채우고 **이 파일 이름 그대로** 제출하세요.
*Fill in the `# TODO` cells of `homework.ipynb`, keep its name, and submit.*

## 제출 (Submit with Classroom 50)
```
gh student submit
```
제출할 때마다 자동 채점이 돌아갑니다 ({where_ko}, {data_ko}). 결과는 그 실행의 **Actions → Summary**
(항목별 점수, 고칠 점, 학습에서 일어난 일)와 제출 Release의 `result.json`에 있습니다. 교수자가 직접 채점하는
항목은 "awaiting instructor review"로 표시되고 이 점수에 포함되지 않습니다.

*Every submission is graded on {where} with {data_en}. Read the run's **Actions → Summary** (each
check with its points and what to do, what happened in training); the submission's Release holds `result.json`.
Checks the instructor reads are listed as "awaiting instructor review" and are not in that score. Classroom 50
records whole points (see the grader's README for how fractional points are rounded).*

## 내 컴퓨터에서 미리 확인하기 (self-check)
```
python -m pip install {TORCH_PIN} --index-url {CPU_INDEX}
python -m pip install "{grader_spec}"
grader check homework.ipynb --assignment {aid}
```
"""


def _instructor_readme(assignment: Any, gpu_runner: str | None) -> str:
    runner = f"a self-hosted runner labelled `{gpu_runner}`" if gpu_runner else "GitHub's `ubuntu-latest`"
    return f"""# Classroom 50 set-up for {assignment.id}

1. Template repository: push `template/` as a repository of your organization (it must not contain
   `.github/workflows/autograde.yaml`: Classroom 50 writes that file on accept).
2. Autograder: copy `autograder/autograder.py` to `CLASSROOM/autograders/ASSIGNMENT/autograder.py` in your
   `classroom50` repository (CLASSROOM = the classroom's short name, ASSIGNMENT = the assignment's slug) and push.
3. Register the assignment with its runtime ({runner}):
   `gh teacher assignment add ORG CLASSROOM ASSIGNMENT --name "…" --template ORG/REPO --runtime runtime.json`
4. Collect: `gh teacher` collect → `scores.json`. Points are whole numbers; checks awaiting your review are listed
   as 0/0 tests marked `"pending": true` — add their points with a manual override (`"override": true`).

The grade job stops after 15 minutes (setup, grading, publishing). `autograder.py` gives the grader what is left
after {RESERVED_S} s for the runner's steps and its own install time, prints that budget, and a run cut short says so
in its summary and `result.json` (`grader.cut_short`). On a self-hosted runner no toolchain is set up: bake
Python, `{TORCH_PIN}` and the grader into the image and set `GRADER_SPEC=skip` there (else the script installs them
on every run). `GRADER_SPEC` also replaces the grader's address for a test run.
"""


def write_classroom50(assignment: Any, dest: Path, grader_spec: str, gpu_runner: str | None) -> list[Path]:
    """Write the Classroom 50 upload for ``assignment`` into the empty/new folder ``dest``; the written paths."""
    from grader.errors import UsageError

    src = Path(assignment.root) / "classroom" / "homework.ipynb"
    if not src.is_file():
        raise UsageError(f"{assignment.id} has no starter notebook for Classroom ({src} is missing)")
    if dest.exists() and any(dest.iterdir()):
        raise UsageError(f"{dest} is not empty: choose a new folder for the template")
    files = {
        "autograder/autograder.py": autograder_script(assignment.id, grader_spec, gpu_runner),
        "runtime.json": json.dumps(runtime_block(gpu_runner), indent=2) + "\n",
        "template/README.md": _student_readme(assignment, grader_spec, gpu_runner),
        "template/.gitignore": "result.json\nrelease-body.md\n.ipynb_checkpoints/\n",
        "INSTRUCTOR.md": _instructor_readme(assignment, gpu_runner),
    }
    written = []
    for rel, content in files.items():
        target = dest / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(content, encoding="utf-8")
        written.append(target)
    nb = dest / "template" / "homework.ipynb"
    nb.write_bytes(src.read_bytes())
    written.append(nb)
    (dest / "autograder" / "autograder.py").chmod(0o755)
    return written
