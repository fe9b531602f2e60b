"""Loading an assignment's checks: modules named in its toml, parameters validated when the assignment loads."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from grader.assignment import load_assignment
from grader.checks.plugins import load_rubric
from grader.errors import AssignmentError

CHECKS = '''
from dataclasses import dataclass, field
from grader.api import CheckContext, Outcome, check, text

@dataclass(frozen=True)
class P:
    threshold: float
    names: list[str] = field(default_factory=list)
    mode: str = "strict"

@check("mine", params=P)
def mine(ctx: CheckContext, p: P) -> Outcome:
    return Outcome(True, text(f"threshold {p.threshold}", f"기준 {p.threshold}"))
'''


def _assignment(tmp_path: Path, checks: str, module: str = CHECKS, extra: str = "") -> Path:
    folder = tmp_path / "hw"
    folder.mkdir(exist_ok=True)
    (folder / "checks.py").write_text(module, encoding="utf-8")
    (folder / "assignment.toml").write_text(textwrap.dedent(f'''\
        schema_version = 2
        id = "hw"
        version = "1"
        checks_modules = ["checks.py"]
        [[tasks]]
        id = "t1"
        title = {{ en = "Task one", ko = "과제 하나" }}
        [runs.any]
        min_epochs = 1
        {extra}
        ''') + checks, encoding="utf-8")
    return folder


def _rubric_error(tmp_path: Path, checks: str, **kw: str) -> str:
    with pytest.raises(AssignmentError) as info:
        load_rubric(load_assignment(_assignment(tmp_path, checks, **kw)))
    return str(info.value)


def test_parameters_are_validated_and_typed(tmp_path: Path) -> None:
    rubric = load_rubric(load_assignment(_assignment(
        tmp_path, '[[checks]]\nid = "a"\ntask = "t1"\npoints = 5\ncheck = "mine"\nthreshold = 2\nnames = ["x"]\n')))
    (bound,) = rubric.checks
    assert bound.params.threshold == 2.0 and isinstance(bound.params.threshold, float)
    assert bound.params.names == ["x"] and bound.params.mode == "strict"


@pytest.mark.parametrize("line, needle", [
    ("threshold = 1\nthresold = 2", "unknown parameter(s) thresold (known: mode, names, threshold)"),
    ('threshold = "high"', "parameter threshold must be a number, not 'high'"),
    ("threshold = true", "parameter threshold must be a number, not True"),
    ("names = [1]", "missing required parameter threshold"),
    ('threshold = 1\nnames = "x"', "parameter names must be a list"),
])
def test_bad_parameter_names_file_check_and_key(tmp_path: Path, line: str, needle: str) -> None:
    msg = _rubric_error(tmp_path, f'[[checks]]\nid = "t1.a"\ntask = "t1"\npoints = 5\ncheck = "mine"\n{line}\n')
    assert "assignment.toml" in msg and "[[checks]] t1.a" in msg and needle in msg, msg


def test_unknown_check_selector_and_fact(tmp_path: Path) -> None:
    msg = _rubric_error(tmp_path, '[[checks]]\nid = "a"\ntask = "t1"\npoints = 1\ncheck = "nope"\n')
    assert "no check named 'nope'" in msg and "mine" in msg and "loss_decreased" in msg
    msg = _rubric_error(tmp_path, '[[checks]]\nid = "a"\ntask = "t1"\npoints = 1\ncheck = "run_trained"\nrun = "cnn"\n')
    assert "run = 'cnn', but there is no [runs.cnn]" in msg
    msg = _rubric_error(tmp_path, '[[checks]]\nid = "a"\ntask = "t1"\npoints = 1\ncheck = "facts_match"\n'
                                  'facts = ["f1"]\nexpected = [1]\n')
    assert "no [[facts]] with id f1" in msg
    msg = _rubric_error(tmp_path, '[[checks]]\nid = "a"\ntask = "t1"\npoints = 1\ncheck = "run_trained"\nrun = "any"\n',
                        extra="[runs.bad]\nhidden_layer = 3\n")
    assert "[runs.bad]" in msg and "unknown parameter(s) hidden_layer" in msg


def test_broken_module_is_named(tmp_path: Path) -> None:
    msg = _rubric_error(tmp_path, '[[checks]]\nid = "a"\ntask = "t1"\npoints = 1\ncheck = "mine"\nthreshold = 1\n',
                        module="import nothing_here\n")
    assert "checks.py: the checks module failed to import: ModuleNotFoundError" in msg
    msg = _rubric_error(tmp_path, '[[checks]]\nid = "a"\ntask = "t1"\npoints = 1\ncheck = "mine"\nthreshold = 1\n',
                        module=CHECKS + CHECKS.replace("def mine", "def mine_again"))
    assert "registered twice" in msg


def test_assignment_check_shadows_a_builtin(tmp_path: Path) -> None:
    module = CHECKS.replace('@check("mine"', '@check("loss_decreased"')
    rubric = load_rubric(load_assignment(_assignment(
        tmp_path, '[[checks]]\nid = "a"\ntask = "t1"\npoints = 1\ncheck = "loss_decreased"\nthreshold = 1\n',
        module=module)))
    assert rubric.checks[0].defn.source.endswith("checks.py")
    twice = module + module.replace("def mine", "def mine_again")  # two of its own under one built-in name
    msg = _rubric_error(tmp_path, '[[checks]]\nid = "a"\ntask = "t1"\npoints = 1\ncheck = "loss_decreased"\n'
                                  'threshold = 1\n', module=twice)
    assert "registered twice" in msg


@pytest.mark.parametrize("toml, needle", [
    ('schema_version = 1\nid = "x"\nversion = "1"\n', "schema_version must be 2"),
    ('schema_version = 2\nid = "x"\nversion = "1"\ntaks = []\n', "unknown top-level key(s) taks"),
    ('schema_version = 2\nid = "x"\nversion = "1"\n[[tasks]]\nid = "t1"\n'
     '[[checks]]\nid = "a"\ntask = "t9"\npoints = 1\n',
     "unknown task 't9'"),
    ('schema_version = 2\nid = "x"\nversion = "1"\n[[tasks]]\nid = "t1"\ntitle = { en = "a", fr = "b" }\n'
     '[[checks]]\n', "must be a string or a table"),
    ('schema_version = 2\nid = "x"\nversion = "1"\nchecks = []\n[printed]\ncost = "cost (\\\\d+) (\\\\d+)"\n'
     '[[tasks]]\nid = "t1"\n', "needs exactly one group"),
])
def test_bad_assignment_toml(tmp_path: Path, toml: str, needle: str) -> None:
    (tmp_path / "assignment.toml").write_text(toml, encoding="utf-8")
    with pytest.raises(AssignmentError) as info:
        load_assignment(tmp_path)
    assert str(tmp_path / "assignment.toml") in str(info.value) and needle in str(info.value), str(info.value)
