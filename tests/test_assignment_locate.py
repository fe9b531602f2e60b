"""Where assignments are found: ``--assignment ID|PATH``, ``$GRADER_ASSIGNMENTS``, ``course.toml`` and errors.

No kernels: only folders with a minimal ``assignment.toml``.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from grader.assignment import available, find_assignment, load_assignment, locate
from grader.cli import main
from grader.errors import AssignmentError

ROOT = Path(__file__).resolve().parents[1]
DNN2 = ROOT / "assignments" / "dnn2_mnist"


MINIMAL = """\
schema_version = 2
id = "{aid}"
version = "0.{n}.0"
title = {{ en = "Homework {aid}", ko = "숙제 {aid}" }}
default_lang = "en"

[[tasks]]
id = "t1"
title = "Task 1"

[[checks]]
id = "t1.done"
task = "t1"
points = 1
"""


def _copy(root: Path, aid: str) -> Path:
    """A minimal assignment folder ``root/aid`` (one task, one check; nothing of dnn2_mnist, whose rubric
    other tests own)."""
    folder = root / aid
    folder.mkdir(parents=True)
    (folder / "assignment.toml").write_text(MINIMAL.format(aid=aid, n=len(aid)), encoding="utf-8")
    return folder


@pytest.fixture
def isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A working directory outside the checkout, with the checkout's course.toml and assignments/ out of sight;
    ``$GRADER_ASSIGNMENTS`` = ``tmp/extra`` (empty)."""
    work = tmp_path / "work"
    work.mkdir()
    (tmp_path / "extra").mkdir()
    monkeypatch.chdir(work)
    monkeypatch.setattr(locate, "_CHECKOUT", tmp_path / "no-checkout")
    monkeypatch.setenv("GRADER_ASSIGNMENTS", str(tmp_path / "extra"))
    return tmp_path


def test_id_found_in_grader_assignments(isolated: Path) -> None:
    folder = _copy(isolated / "extra", "hw_env")
    assert find_assignment("hw_env") == folder.resolve()
    assert available()["hw_env"] == folder.resolve()
    a = load_assignment("hw_env")
    assert a.id == "hw_env" and a.root == folder.resolve()


def test_first_search_root_wins_and_several_roots(isolated: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    first, second = isolated / "first", isolated / "second"
    first.mkdir()
    second.mkdir()
    _copy(first, "hw_a")
    _copy(second, "hw_a")
    _copy(second, "hw_b")
    monkeypatch.setenv("GRADER_ASSIGNMENTS", f"{first}{locate.os.pathsep}{second}")
    assert find_assignment("hw_a") == (first / "hw_a").resolve()
    assert find_assignment("hw_b") == (second / "hw_b").resolve()


def test_folder_path_and_toml_path(isolated: Path) -> None:
    folder = _copy(isolated, "hw_path")
    assert find_assignment(folder) == folder.resolve()
    assert find_assignment(str(folder)) == folder.resolve()
    assert find_assignment(folder / "assignment.toml") == folder.resolve()
    assert load_assignment(str(folder / "assignment.toml")).id == "hw_path"
    assert find_assignment("../hw_path") == folder.resolve()  # relative to the working directory


def test_cwd_assignments_folder_is_searched(isolated: Path) -> None:
    folder = _copy(Path.cwd() / "assignments", "hw_cwd")
    assert find_assignment("hw_cwd") == folder.resolve()


def test_unknown_id_names_the_available_ones(isolated: Path) -> None:
    _copy(isolated / "extra", "hw_one")
    _copy(isolated / "extra", "hw_two")
    with pytest.raises(AssignmentError, match=r"unknown assignment 'nope' \(available: .*hw_one, hw_two"):
        find_assignment("nope")
    with pytest.raises(AssignmentError, match="no assignment.toml there"):
        find_assignment(isolated / "extra")  # a folder, but not an assignment's
    with pytest.raises(AssignmentError, match="no assignment.toml there"):
        find_assignment("some/missing/folder")


def test_several_assignments_without_a_default_ask_to_choose(isolated: Path) -> None:
    _copy(isolated / "extra", "hw_one")
    _copy(isolated / "extra", "hw_two")
    with pytest.raises(AssignmentError, match=r"several assignments \(.*hw_one, hw_two.*\): choose one with "
                                              r"--assignment ID, or set \[course\] default_assignment"):
        find_assignment(None)


def test_the_only_assignment_is_the_default(isolated: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(locate.importlib.util, "find_spec", lambda name: None)  # no installed grader_assignments
    folder = _copy(isolated / "extra", "hw_only")
    assert find_assignment(None) == folder.resolve() and find_assignment("") == folder.resolve()


def test_course_toml_default_is_honoured(isolated: Path) -> None:
    _copy(isolated / "extra", "hw_one")
    two = _copy(isolated / "extra", "hw_two")
    (isolated / "course.toml").write_text('[course]\ntitle = "T"\ndefault_assignment = "hw_two"\n'
                                          'assignments = ["hw_one", "hw_two"]\n', encoding="utf-8")
    # the nearest course.toml: the working directory (tmp/work) upwards
    assert locate.course_file() == isolated / "course.toml"
    assert find_assignment(None) == two.resolve()
    assert load_assignment(None).id == "hw_two"
    assert find_assignment("hw_one") == (isolated / "extra" / "hw_one").resolve()  # an explicit id still wins


def test_course_toml_default_that_is_missing_names_the_course_file(isolated: Path) -> None:
    (isolated / "course.toml").write_text('[course]\ndefault_assignment = "gone"\n', encoding="utf-8")
    with pytest.raises(AssignmentError, match=r"course\.toml: default_assignment: unknown assignment 'gone'"):
        find_assignment(None)
    (isolated / "course.toml").write_text("[course\n", encoding="utf-8")
    with pytest.raises(AssignmentError, match=r"course\.toml: cannot read the course file"):
        find_assignment(None)


def test_load_assignment_errors_name_the_file(isolated: Path) -> None:
    folder = _copy(isolated, "hw_bad")
    toml = folder / "assignment.toml"
    text, where = toml.read_text(encoding="utf-8"), re.escape(str(toml))
    toml.write_text(text + "\n[oops\n", encoding="utf-8")
    with pytest.raises(AssignmentError, match=rf"{where}: invalid TOML"):
        load_assignment(folder)
    toml.write_text(text.replace("schema_version = 2", "schema_version = 99", 1), encoding="utf-8")
    with pytest.raises(AssignmentError, match=rf"{where}: schema_version must be 2"):
        load_assignment(str(folder))
    toml.write_text("not_a_key = 1\n" + text, encoding="utf-8")  # top level: before the first table
    with pytest.raises(AssignmentError, match=rf"{where}: unknown top-level key\(s\) not_a_key"):
        load_assignment(toml)


def test_checkout_default_when_run_from_the_checkout(monkeypatch: pytest.MonkeyPatch) -> None:
    """In this checkout: course.toml says dnn2_mnist, found in the top-level assignments/."""
    monkeypatch.delenv("GRADER_ASSIGNMENTS", raising=False)
    monkeypatch.chdir(ROOT)
    assert locate.course_default() == "dnn2_mnist"
    assert find_assignment(None) == DNN2.resolve() == find_assignment("dnn2_mnist")


def test_cli_unknown_assignment_exits_2_listing_ids(isolated: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _copy(isolated / "extra", "hw_one")
    nb = isolated / "work" / "kim.ipynb"
    nb.write_text("{}")
    assert main(["grade", str(nb), "--assignment", "hw_nope"]) == 2
    err = capsys.readouterr().err
    assert "grader: error: unknown assignment 'hw_nope' (available: " in err and "hw_one" in err


def test_cli_assignments_lists_id_version_title_folder(isolated: Path, capsys: pytest.CaptureFixture[str]) -> None:
    one = _copy(isolated / "extra", "hw_one")
    _copy(isolated / "extra", "hw_two")
    (isolated / "course.toml").write_text('[course]\ndefault_assignment = "hw_one"\n', encoding="utf-8")
    assert main(["assignments"]) == 0
    out = capsys.readouterr().out
    lines = out.splitlines()
    first = next(i for i, line in enumerate(lines) if "hw_one" in line)
    assert lines[first].startswith("* hw_one") and "0.6.0" in lines[first] and "Homework hw_one" in lines[first]
    assert lines[first + 1].strip() == str(one.resolve())
    assert any(line.startswith("  hw_two") for line in lines)  # not the default: no star
