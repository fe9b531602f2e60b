"""What the grading environment did in place of Colab and pip (grader/recording/probe_colab.py's events).

``pip_missing``: a ``!pip install`` / ``%pip install`` named a package the grading environment does not have;
the grader installs nothing while grading (no network), so the notebook's code that needs it cannot run there.
A warning when a cell then failed to import a module, else a note. ``colab_environment``: a note of what stood in
for Colab -- an empty Google Drive, ``files.upload()`` returning ``{}``, the ``sample_data`` CSVs written from
the grader's MNIST (with their row counts: fewer in the quick subset mode), and, outside the sandbox, that
absolute ``/content`` paths do not exist there.
"""

from __future__ import annotations

from typing import Any

from grader.assignment.settings import DiagnosisConfig
from grader.diagnosis.model import Diagnosis, DiagnosisInput
from grader.text import text

_COLAB_ROWS = {"mnist_train_small.csv": 20000, "mnist_test.csv": 10000}


def _name(spec: str) -> str:
    """``torch==2.0`` -> ``torch``; a URL or path as it was typed."""
    for sep in ("==", ">=", "<=", "~=", "!=", ">", "<", "[", ";", " @"):
        if sep in spec and "://" not in spec.split(sep)[0]:
            spec = spec.split(sep)[0]
    return spec.strip()


def pip_missing(inp: DiagnosisInput, cfg: DiagnosisConfig) -> list[Diagnosis]:
    """One ``pip_missing`` for the packages the notebook's pip lines asked for and this environment lacks."""
    missing: dict[str, dict[str, Any]] = {}
    for ev in inp.doctor_events("pip"):
        for spec in ev.get("missing") or []:
            missing.setdefault(_name(str(spec)), {"spec": str(spec), "cell": inp.cell_index(int(ev.get("cell", 0))),
                                                   "command": str(ev.get("command", ""))[:200]})
    if not missing:
        return []
    names = ", ".join(missing)
    first = next(iter(missing.values()))
    failed = inp.execution is not None and any(
        c.status == "error" and c.error and c.error.get("ename") in ("ModuleNotFoundError", "ImportError")
        for c in inp.execution.cells)
    return [Diagnosis(
        "pip_missing", "warning" if failed else "info",
        text(f"the grading environment has no {names} (`{first['command']}` in cell {first['cell']}): the grader "
             "installs no packages while grading (no network), so code that needs it cannot run here",
             f"채점 환경에는 {names} 패키지가 없습니다 (셀 {first['cell']}의 `{first['command']}`): 채점 중에는 "
             "패키지를 설치하지 않으므로 (네트워크 없음) 이 패키지가 필요한 코드는 여기서 실행되지 않습니다"),
        text("use the packages of the course environment (PyTorch, torchvision, NumPy, ...), or ask the "
             f"instructor whether {names} can be added to the grading environment",
             "수업 환경의 패키지 (PyTorch, torchvision, NumPy 등)를 사용하거나, "
             f"{names}를 채점 환경에 추가할 수 있는지 담당 교수/조교에게 문의하세요"),
        {"packages": list(missing), "requested": [m["spec"] for m in missing.values()], "import_failed": failed},
        cell_index=first["cell"])]


def colab_environment(inp: DiagnosisInput, cfg: DiagnosisConfig) -> list[Diagnosis]:
    """A ``colab_environment`` note when the notebook used Colab's drive, upload or sample_data files."""
    setup = next(iter(inp.doctor_events("env_setup")), None) or {}
    calls = [str(e.get("what")) for e in inp.doctor_events("env_colab")]
    source = _code(inp)
    parts_en: list[str] = []
    parts_ko: list[str] = []
    evidence: dict[str, Any] = {"calls": sorted(set(calls))}
    if "drive.mount" in calls:
        parts_en.append("the grader has no Google Drive: drive.mount() gave an empty folder")
        parts_ko.append("채점 환경에는 Google Drive가 없어 drive.mount()는 빈 폴더를 만들었습니다")
    if "files.upload" in calls:
        parts_en.append("files.upload() returned {} (nothing can be uploaded while grading)")
        parts_ko.append("files.upload()는 {}를 돌려주었습니다 (채점 중에는 업로드할 수 없습니다)")
    rows = setup.get("sample_rows")
    if "sample_data" in source and isinstance(rows, dict) and rows:
        evidence["sample_rows"] = rows
        counts = " and ".join(f"{rows.get(n, 0):,}" for n in _COLAB_ROWS)
        fewer = any(int(rows.get(n, 0)) < full for n, full in _COLAB_ROWS.items())
        parts_en.append(f"Colab's sample_data/mnist_train_small.csv and mnist_test.csv were written from the "
                        f"grader's MNIST: {counts} rows" + (" (the quick mode's subset; Colab's files have 20,000 "
                                                           "and 10,000)" if fewer else ""))
        parts_ko.append(f"Colab의 sample_data/mnist_train_small.csv와 mnist_test.csv는 채점기의 MNIST로 만들었습니다: "
                        f"{counts}행" + (" (빠른 모드의 부분 집합; Colab 원본은 20,000행과 10,000행)" if fewer else ""))
    if setup and setup.get("content") is None and "/content" in source:
        evidence["sandbox_content"] = False
        parts_en.append("absolute /content/... paths exist only in the grader's sandbox; this run had none, so "
                        "only the relative sample_data/ and drive/ folders existed")
        parts_ko.append("절대 경로 /content/...는 채점 샌드박스 안에만 있습니다; 이번 실행은 샌드박스 없이 실행되어 "
                        "상대 경로 sample_data/와 drive/ 폴더만 있었습니다")
    if not parts_en:
        return []
    return [Diagnosis("colab_environment", "info", text("; ".join(parts_en), "; ".join(parts_ko)),
                      text("nothing to fix: the notebook ran as exported from Colab",
                           "고칠 것은 없습니다: Colab에서 내보낸 그대로 실행했습니다"), evidence)]


def _code(inp: DiagnosisInput) -> str:
    cells = getattr(inp.notebook, "cells", None) or []
    return "\n".join(str(c.get("source", "")) for c in cells if c.get("cell_type") == "code")
