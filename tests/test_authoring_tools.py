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


def test_new_without_data_registers_in_the_course_and_validates(tmp_path: Path,
                                                                capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "course.toml").write_text('[course]\ntitle = "c"\ndefault_assignment = "a1"\nassignments = ["a1"]\n',
                                          encoding="utf-8")
    assert main(["new", "hw_rows", "--provider", "none", "--root", str(tmp_path)]) == 0
    assert 'assignments = ["a1", "hw_rows"]' in (tmp_path / "course.toml").read_text(encoding="utf-8")
    folder = tmp_path / "assignments" / "hw_rows"
    toml = (folder / "assignment.toml").read_text(encoding="utf-8")
    assert 'provider = "none"' in toml and "[budgets.none]" in toml and "[data.evaluation]" in toml
    assert "MNIST" not in toml + (folder / "README.md").read_text(encoding="utf-8")
    capsys.readouterr()
    assert main(["validate", str(folder)]) == 0, capsys.readouterr()
    assert "✔ solution.ipynb: 25.0/25" in capsys.readouterr().out
    with pytest.raises(UsageError, match="FILE.py:NAME"):
        new_assignment("hw_bad", tmp_path, provider="nowhere.py:P")


def test_validate_names_undeclared_facts_and_selectors_in_checks(tmp_path: Path) -> None:
    from grader.assignment import load_assignment
    from grader.validate import solution_findings, undeclared_names

    new_assignment("hw_typo", tmp_path)
    folder = tmp_path / "assignments" / "hw_typo"
    checks = folder / "checks.py"
    checks.write_text(checks.read_text(encoding="utf-8").replace("select(ctx, p.run)", 'select(ctx, "modle")')
                      + '\n\ndef _unused(ctx):\n    return ctx.fact("mse_hiden")\n', encoding="utf-8")
    found = undeclared_names(load_assignment(folder))
    assert len(found) == 2 and "'modle'" in found[0] and "[runs.<name>] selector (declared: model)" in found[0]
    assert "'mse_hiden'" in found[1] and "[[facts]] id (declared: none)" in found[1]
    result = {"flags": [{"id": "printed_numbers", "message": {"en": "printed 0.99", "ko": "…"}}],
              "diagnoses": [{"id": "lr_too_high", "severity": "warning", "message": {"en": "too high"}},
                            {"id": "chance_plateau", "severity": "info", "message": {"en": "slow start"}}]}
    said = solution_findings("solution.ipynb", result)
    assert said == ["solution.ipynb: the solution gets the integrity flag printed_numbers: printed 0.99",
                    "solution.ipynb: the solution gets the warning diagnosis lr_too_high: too high"]


def test_the_documented_data_provider_measures_a_regression(tmp_path: Path) -> None:
    """docs/authoring.md's worked provider (copied from the page): R² on rows the notebook never saw."""
    import re

    from grader.assignment import load_assignment
    from grader.pipeline import GradeOptions, grade_file

    doc = (Path(__file__).resolve().parents[1] / "docs" / "authoring.md").read_text(encoding="utf-8")
    code = re.search(r'```python\n("""rows\.py:.*?)```', doc, re.S)
    assert code is not None
    new_assignment("hw_rows", tmp_path, provider="none")
    folder = tmp_path / "assignments" / "hw_rows"
    (folder / "rows.py").write_text(code.group(1), encoding="utf-8")
    toml = folder / "assignment.toml"
    body = re.sub(r"# rows the grader measures.*?\]\]\n", "", toml.read_text(encoding="utf-8"), flags=re.S)
    body = body.replace('provider = "none"', 'provider = "rows.py:PROVIDER"').replace("[budgets.none]",
                                                                                   "[budgets.table]")
    toml.write_text(body + '\n[[checks]]\nid = "t1.r2"\ntask = "t1"\npoints = 5\ncheck = "measured_metric"\n'
                           'run = "model"\nmetric = "r2"\nmin = 0.9\n', encoding="utf-8")
    sub = tmp_path / "slide.py"
    sub.write_text("import torch\ntorch.manual_seed(1)\n"
                   "x = torch.tensor([[73., 80., 75.], [93., 88., 93.], [89., 91., 90.], [96., 98., 100.], "
                   "[73., 66., 70.]])\ny = torch.tensor([[152.], [185.], [180.], [196.], [142.]])\n"
                   "model = torch.nn.Linear(3, 1)\nopt = torch.optim.SGD(model.parameters(), lr=1e-5)\n"
                   "for step in range(2000):\n    cost = torch.nn.functional.mse_loss(model(x), y)\n"
                   "    opt.zero_grad()\n    cost.backward()\n    opt.step()\n", encoding="utf-8")
    result = grade_file(sub, load_assignment(folder), GradeOptions())
    r2 = next(c for c in result["checks"] if c["id"] == "t1.r2")
    assert r2["status"] == "pass" and 0.9 <= r2["evidence"]["value"] < 1.0, r2
    assert r2["evidence"]["metrics"]["kind"] == "regression" and r2["evidence"]["metrics"]["accuracy"] is None
    assert "steps 1801–2000" in next(c for c in result["checks"] if c["id"] == "t1.loss")["message"]
    assert not [d["id"] for d in result["diagnoses"] if d["severity"] != "info"] and not result["flags"]
