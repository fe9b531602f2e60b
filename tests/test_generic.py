"""grader/ stays generic: no assignment's id, check ids, check names, titles, hints or lecture texts in it.

Everything about a homework lives in ``assignments/<id>/``; this test fails when any of it comes back into the
package (code, templates, scripts, styles).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from grader.assignment import available, load_assignment
from grader.checks import builtin, builtin_answers
from grader.checks.plugins import registry_for
from grader.checks.registry import Registry

ROOT = Path(__file__).resolve().parents[1]
SOURCES = [p for p in (ROOT / "grader").rglob("*") if p.suffix in {".py", ".j2", ".js", ".css", ".html"}]


def _builtin_names() -> set[str]:
    reg = Registry()
    reg.add_module(builtin)
    reg.add_module(builtin_answers)
    return set(reg.ids())


def assignment_strings(folder: Path) -> set[str]:
    """Strings that belong to one assignment and must not appear in grader/."""
    a = load_assignment(folder)
    out = {a.id, a.title["en"], a.title["ko"]}
    for t in a.task_info.values():
        out |= {t.title["en"], t.title["ko"]}
    for c in a.checks:
        out.add(c.id)
        if c.hint:
            out |= {c.hint["en"], c.hint["ko"]}
    own = set(registry_for(a).ids()) - _builtin_names()
    out |= {name for name in own if "_" in name}  # "six_hidden"; plain words like "structure" are not telling
    out |= set(a.diagnoses.lecture.values())
    for f in a.figures:
        out |= {f.title["en"], f.title["ko"], f.empty["en"], f.empty["ko"]}
    return {s for s in out if len(s) >= 5}


@pytest.mark.parametrize("aid", sorted(available()))
def test_no_assignment_text_in_the_grader(aid: str) -> None:
    strings = assignment_strings(available()[aid])
    found = [f"{p.relative_to(ROOT)}: {s!r}" for p in SOURCES for s in strings
             if s in p.read_text(encoding="utf-8", errors="replace")]
    assert not found, "assignment-specific text in grader/:\n" + "\n".join(found)


def test_the_package_has_no_assignment_folder() -> None:
    assert not (ROOT / "grader" / "assignments").exists()
    assert (ROOT / "assignments").is_dir()
