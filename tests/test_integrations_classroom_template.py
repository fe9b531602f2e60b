"""The GitHub Classroom template: workflow shape, step id and reporter wiring, starter notebook."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import nbformat
import pytest

from grader.assignment import available, load_assignment

yaml = pytest.importorskip("yaml")


@pytest.fixture(scope="module", params=sorted(available()))
def template(request: pytest.FixtureRequest) -> Path:
    """Every assignment's Classroom template folder."""
    return load_assignment(request.param).root / "classroom"


@pytest.fixture(scope="module")
def workflow(template: Path) -> dict[Any, Any]:
    data: dict[Any, Any] = yaml.safe_load((template / ".github" / "workflows" / "classroom.yml").read_text())
    return data


def test_workflow_shape(workflow: dict[Any, Any]) -> None:
    assert workflow["name"] == "Autograding Tests"
    on = workflow.get("on", workflow.get(True))  # YAML 1.1 reads a bare `on` key as True
    assert on == ["push", "workflow_dispatch", "repository_dispatch"]
    assert workflow["permissions"] == {"checks": "write", "actions": "read", "contents": "read"}
    job = workflow["jobs"]["run-autograding-tests"]
    assert job["runs-on"] == "ubuntu-latest"
    assert job["if"] == "github.actor != 'github-classroom[bot]'"
    assert job["steps"][0]["uses"].startswith("actions/checkout@")
    install = " ".join(s.get("run", "") for s in job["steps"])
    assert "download.pytorch.org/whl/cpu" in install


def test_reporter_wired_to_grading_step(workflow: dict[Any, Any], template: Path) -> None:
    steps = workflow["jobs"]["run-autograding-tests"]["steps"]
    reporter = steps[-1]
    assert reporter["uses"] == "classroom-resources/autograding-grading-reporter@v1"
    runners = [r.strip() for r in str(reporter["with"]["runners"]).split(",")]
    ids = {s["id"]: s for s in steps if "id" in s}
    assert runners and set(runners) <= set(ids)
    for rid in runners:
        assert reporter["env"][f"{rid.upper()}_RESULTS"].replace(" ", "") == f"${{{{steps.{rid}.outputs.result}}}}"
        command = ids[rid]["run"]
        assert command.startswith("grader classroom ") and "--device cpu" in command
        assert f"--assignment {template.parent.name}" in command  # the wheel bundles several assignments
        notebook = command.split()[2]
        assert (template / notebook).is_file()
    assert steps.index(reporter) > max(steps.index(ids[r]) for r in runners)


def test_template_files(template: Path) -> None:
    nb = nbformat.read(str(template / "homework.ipynb"), as_version=4)
    nbformat.validate(nb)
    readme = (template / "README.md").read_text(encoding="utf-8")
    assert "homework.ipynb" in readme and "grader check homework.ipynb" in readme


def test_classroom_template_command_fills_in_the_grader_address(tmp_path: Path) -> None:
    from grader.cli import main

    dest = tmp_path / "hw-template"
    assert main(["classroom-template", str(dest), "--grader-spec", "git+https://example.org/grader@v9",
                 "--platform", "actions"]) == 0
    wf = (dest / ".github" / "workflows" / "classroom.yml").read_text()
    assert "GRADER_SPEC: git+https://example.org/grader@v9" in wf and "YOUR-ORG" not in wf
    assert (dest / "homework.ipynb").is_file() and "example.org/grader@v9" in (dest / "README.md").read_text()
    assert main(["classroom-template", str(dest), "--grader-spec", "x"]) == 2  # never overwrites


@pytest.mark.parametrize("gpu", [None, "gpu-a100"])
def test_classroom50_upload(tmp_path: Path, gpu: str | None) -> None:
    """`--platform classroom50` (the default): autograder.py, runtime.json, the starter repository, the steps."""
    import json

    from grader.cli import main
    from grader.integrations.classroom50 import JOB_LIMIT_S
    from grader.integrations.classroom50_template import RESERVED_S

    dest = tmp_path / "c50"
    argv = ["classroom-template", str(dest), "--grader-spec", "git+https://example.org/grader@v9",
            "--assignment", "mnist_cnn", *(["--gpu-runner", gpu] if gpu else [])]
    assert main(argv) == 0
    runtime = json.loads((dest / "runtime.json").read_text())
    assert runtime["runs-on"] == (["self-hosted", gpu] if gpu else "ubuntu-latest")
    script = (dest / "autograder" / "autograder.py").read_text()
    compile(script, "autograder.py", "exec")
    assert "torch==2.14.1 torchvision==0.29.1" in script and "git+https://example.org/grader@v9" in script
    assert ("download.pytorch.org/whl/cpu" in script) is (gpu is None)
    assert f"DEVICE = {'auto' if gpu else 'cpu'!r}" in script and "ASSIGNMENT = 'mnist_cnn'" in script
    assert "JOB_LIMIT_S, RESERVED_S" in script and 0 < RESERVED_S < JOB_LIMIT_S == 900
    assert (dest / "autograder" / "autograder.py").stat().st_mode & 0o111
    readme = (dest / "template" / "README.md").read_text()
    assert "gh student submit" in readme and "grader check homework.ipynb --assignment mnist_cnn" in readme
    nbformat.validate(nbformat.read(str(dest / "template" / "homework.ipynb"), as_version=4))
    assert not (dest / "template" / ".github").exists()  # Classroom 50 owns .github/workflows/autograde.yaml
    assert "autograders/ASSIGNMENT/autograder.py" in (dest / "INSTRUCTOR.md").read_text()
    assert main([*argv[:2], "--grader-spec", "x", "--gpu-runner", "gpu", "--platform", "actions"]) == 2
