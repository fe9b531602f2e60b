"""Where assignments are: ``--assignment ID|PATH`` resolved to a folder holding ``assignment.toml``.

Search order for an id: ``$GRADER_ASSIGNMENTS`` (folders separated by ``os.pathsep``), ``./assignments``, the
checkout's top-level ``assignments/`` (only when the grader runs from a source checkout), then the copy
bundled in the installed wheel (package ``grader_assignments``, mapped from ``assignments/`` by setup.py).
Without an id: ``default_assignment`` of the nearest ``course.toml`` (current directory upwards, then the
checkout's), else the only assignment there is.
"""

from __future__ import annotations

import importlib.util
import os
import sys
from pathlib import Path
from typing import Any

from grader.errors import AssignmentError

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

_CHECKOUT = Path(__file__).resolve().parents[2]
COURSE_FILE = "course.toml"


def _checkout() -> list[Path]:
    """The source checkout this module was imported from ([] for an installed wheel: no pyproject.toml there)."""
    return [_CHECKOUT] if (_CHECKOUT / "pyproject.toml").is_file() and (_CHECKOUT / "grader").is_dir() else []


def search_roots() -> list[Path]:
    """Folders that hold assignment folders, in search order (existing ones only, no duplicates)."""
    roots = [Path(p) for p in os.environ.get("GRADER_ASSIGNMENTS", "").split(os.pathsep) if p]
    roots += [Path.cwd() / "assignments", *(c / "assignments" for c in _checkout())]
    spec = importlib.util.find_spec("grader_assignments")
    if spec is not None and spec.submodule_search_locations:
        roots += [Path(p) for p in spec.submodule_search_locations]
    out: list[Path] = []
    for r in roots:
        if r.is_dir() and r.resolve() not in out:
            out.append(r.resolve())
    return out


def available() -> dict[str, Path]:
    """Every assignment id found in the search roots -> its folder (the first root wins)."""
    found: dict[str, Path] = {}
    for root in search_roots():
        for toml in sorted(root.glob("*/assignment.toml")):
            found.setdefault(toml.parent.name, toml.parent)
    return found


def course_file(start: Path | None = None) -> Path | None:
    """The nearest ``course.toml`` from ``start`` (default: the current directory) upwards, else the checkout's."""
    here = (start or Path.cwd()).resolve()
    for d in (here, *here.parents, *_checkout()):
        if (d / COURSE_FILE).is_file():
            return d / COURSE_FILE
    return None


def course_table() -> dict[str, Any]:
    """The ``[course]`` table of the nearest course file ({} without one): ``title``, ``default_assignment``,
    ``assignments`` (their order on the course page)."""
    path = course_file()
    if path is None:
        return {}
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise AssignmentError(f"{path}: cannot read the course file: {exc}") from exc
    return dict(data.get("course") or {})


def course_default() -> str | None:
    """``[course] default_assignment`` of the nearest course file, if any."""
    value = course_table().get("default_assignment")
    return str(value) if value else None


def default_assignment() -> Path:
    """The assignment used without ``--assignment``: the course's ``default_assignment``, else the only one."""
    default = course_default()
    if default:
        try:
            return find_assignment(default)
        except AssignmentError as exc:
            raise AssignmentError(f"{course_file()}: default_assignment: {exc}") from exc
    found = available()
    if len(found) == 1:
        return next(iter(found.values()))
    if not found:
        raise AssignmentError("no assignment found (searched: " + _searched() + "): pass --assignment PATH "
                              "(a folder with assignment.toml)")
    raise AssignmentError(f"several assignments ({', '.join(sorted(found))}): choose one with --assignment ID, "
                          f"or set [course] default_assignment in {COURSE_FILE}")


def _searched() -> str:
    """The search roots, for error messages."""
    roots = search_roots()
    return ", ".join(str(r) for r in roots) if roots else \
        "nowhere: no $GRADER_ASSIGNMENTS folder, no ./assignments, no checkout, no installed grader_assignments"


def find_assignment(spec: str | Path | None = None) -> Path:
    """The folder of an assignment given as a path (folder or its ``assignment.toml``), an id, or None."""
    if spec is not None and str(spec).strip():
        path = Path(spec).expanduser()
        if path.is_file() and path.name == "assignment.toml":
            return path.parent.resolve()
        if (path / "assignment.toml").is_file():
            return path.resolve()
        found = available()
        if str(spec) in found:
            return found[str(spec)]
        if path.exists() or os.sep in str(spec):
            raise AssignmentError(f"{path}: no assignment.toml there")
        choices = ", ".join(sorted(found)) or f"none found in {_searched()}"
        raise AssignmentError(f"unknown assignment {str(spec)!r} (available: {choices}); pass an id or a folder")
    return default_assignment()
