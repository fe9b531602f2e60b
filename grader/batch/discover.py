"""Find each student's submission in a folder, a roster clone or a ``.zip``.

Layouts understood (they may be mixed in one folder):

- a flat folder of ``.ipynb``/``.py`` files: the student id is the file stem;
- a folder of per-student folders (a GitHub Classroom roster clone): the folder name is the id and the single
  notebook inside (any depth; hidden folders and ``.ipynb_checkpoints`` ignored) is the submission, a ``.py``
  only when there is no notebook;
- a ``.zip`` of either, as SUBMISSIONS itself or as one student's entry (``lee.zip`` = the folder ``lee/``).

Ambiguities never stop a batch: they become per-student :class:`Entry` objects with a ``problem``.
Archives are extracted into a temporary folder owned by :class:`Discovery`; entries with absolute paths,
``..`` components or links are refused.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import stat
import tempfile
import zipfile
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from grader.errors import UsageError

SUFFIXES = (".ipynb", ".py")
MAX_ZIP_BYTES = 500 * 1024 * 1024  # uncompressed total per archive
_IGNORED_DIRS = {".ipynb_checkpoints", "__pycache__", "__MACOSX", "node_modules", ".git"}


@dataclass
class Entry:
    """One student: either a file to grade (``path`` and ``sha256``) or a ``problem`` saying why not."""

    student: str
    source: str  # what to show a person: the path, or ``archive.zip:inner/path``
    path: Path | None = None
    sha256: str | None = None
    problem: str | None = None
    notes: list[str] = field(default_factory=list)


@dataclass
class Discovery:
    """The entries found, plus the temporary folders holding extracted archives (call :meth:`cleanup`)."""

    entries: list[Entry]
    refused: list[str] = field(default_factory=list)  # unsafe entries of a whole-class archive, not extracted
    _tmpdirs: list[tempfile.TemporaryDirectory[str]] = field(default_factory=list)

    def cleanup(self) -> None:
        for t in self._tmpdirs:
            t.cleanup()
        self._tmpdirs.clear()

    def __enter__(self) -> Discovery:
        return self

    def __exit__(self, *exc: object) -> None:
        self.cleanup()


class UnsafeArchive(Exception):
    """A zip entry would land outside the extraction folder (absolute path, ``..``, link) or is too big."""


def safe_extract(archive: Path, dest: Path, max_bytes: int = MAX_ZIP_BYTES, skip_unsafe: bool = False) -> list[str]:
    """Extract ``archive`` into ``dest``; raise UnsafeArchive (before writing anything) if any entry is unsafe,
    or, with ``skip_unsafe``, extract the safe entries only and return why each other one was refused."""
    refused: list[str] = []
    with zipfile.ZipFile(archive) as zf:
        infos = []
        total = 0
        for info in zf.infolist():
            why = _unsafe(info)
            if why and not skip_unsafe:
                raise UnsafeArchive(why)
            if why:
                refused.append(f"{archive.name}: {why}; not extracted")
                continue
            infos.append(info)
            total += info.file_size
            if total > max_bytes:
                raise UnsafeArchive(f"uncompressed size over {max_bytes / 1e6:.0f} MB")
        root = dest.resolve()
        for info in infos:
            target = (dest / info.filename.replace("\\", "/")).resolve()
            if root not in target.parents and target != root:
                raise UnsafeArchive(f"entry {info.filename!r} points outside the archive")
            if info.is_dir():
                target.mkdir(parents=True, exist_ok=True)
                continue
            target.parent.mkdir(parents=True, exist_ok=True)
            with zf.open(info) as src, open(target, "wb") as dst:
                shutil.copyfileobj(src, dst)
    return refused


def _unsafe(info: zipfile.ZipInfo) -> str | None:
    name = info.filename.replace("\\", "/")
    parts = PurePosixPath(name).parts
    if name.startswith("/") or (parts and parts[0].endswith(":")) or ".." in parts:
        return f"entry {info.filename!r} points outside the archive"
    mode = info.external_attr >> 16
    if mode and stat.S_ISLNK(mode):
        return f"entry {info.filename!r} is a symbolic link"
    return None


def discover(submissions: Path) -> Discovery:
    """All students under ``submissions`` (folder or ``.zip``), sorted by id. UsageError if it does not exist."""
    if not submissions.exists():
        raise UsageError(f"{submissions}: no such file or folder")
    disc = Discovery([])
    if submissions.is_file():
        if submissions.suffix.lower() != ".zip":
            raise UsageError(f"{submissions}: expected a folder or a .zip of submissions")
        root, why = _extract(submissions, disc, skip_unsafe=True)
        if root is None:
            disc.cleanup()
            raise UsageError(f"{submissions}: cannot extract: {why}")
        root = _single_top_folder(root)
        entries = _scan_folder(root, display=lambda p: _in_zip(submissions.name, root, p), disc=disc)
    else:
        base = submissions.resolve()
        entries = _scan_folder(base, display=lambda p: p.relative_to(base).as_posix() or ".", disc=disc)
    disc.entries = _dedupe(entries)
    return disc


def _extract(archive: Path, disc: Discovery, skip_unsafe: bool = False) -> tuple[Path | None, str]:
    tmp = tempfile.TemporaryDirectory(prefix="grader-batch-")
    disc._tmpdirs.append(tmp)
    try:
        disc.refused += safe_extract(archive, Path(tmp.name), skip_unsafe=skip_unsafe)
    except (UnsafeArchive, zipfile.BadZipFile, OSError, ValueError, RuntimeError) as exc:
        return None, str(exc) or type(exc).__name__
    return Path(tmp.name), ""


def _single_top_folder(root: Path) -> Path:
    """``submissions.zip`` holding one folder ``submissions/`` → that folder (unless it looks like a student)."""
    kids = [k for k in root.iterdir() if not _hidden(k)]
    if len(kids) == 1 and kids[0].is_dir():
        inner = [k for k in kids[0].iterdir() if not _hidden(k)]
        if any(k.is_dir() or k.suffix.lower() in SUFFIXES + (".zip",) for k in inner) and \
                sum(1 for k in inner if k.suffix.lower() == ".ipynb") != 1:
            return kids[0]
    return root


def _in_zip(archive: str, root: Path, p: Path) -> str:
    rel = p.relative_to(root).as_posix()
    return archive if rel == "." else f"{archive}:{rel}"


def _hidden(p: Path) -> bool:
    return p.name.startswith(".") or p.name in _IGNORED_DIRS


def _scan_folder(folder: Path, display, disc: Discovery) -> list[Entry]:  # type: ignore[no-untyped-def]
    entries: list[Entry] = []
    try:
        children = sorted(folder.iterdir())
    except OSError as exc:
        raise UsageError(f"{folder}: cannot read the folder: {exc}") from exc
    entries += [_link_entry(c, display) for c in children if not _hidden(c) and c.is_symlink()
                and (c.suffix.lower() in SUFFIXES + (".zip",) or c.is_dir())]
    children = [c for c in children if not c.is_symlink()]
    files = [c for c in children if not _hidden(c) and c.is_file() and c.suffix.lower() in SUFFIXES]
    by_stem: dict[str, list[Path]] = {}
    for f in files:
        by_stem.setdefault(f.stem, []).append(f)
    for stem, paths in by_stem.items():
        entries.append(_pick(stem, paths, display, flat=True))
    for c in children:
        if _hidden(c):
            continue
        if c.is_dir():
            entries.append(_student_folder(c.name, c, display))
        elif c.is_file() and c.suffix.lower() == ".zip":
            root, why = _extract(c, disc)
            if root is None:
                entries.append(Entry(c.stem, display(c), problem=f"{c.name}: cannot extract: {why}"))
                continue
            entries.append(_student_folder(c.stem, root, lambda p, c=c, root=root: _in_zip(c.name, root, p)))
    return entries


def _link_entry(link: Path, display) -> Entry:  # type: ignore[no-untyped-def]
    student = link.name if link.is_dir() else link.stem
    return Entry(student, display(link), problem=_link_problem(link))


def _link_problem(link: Path) -> str:
    try:
        target = os.readlink(link)
    except OSError:
        target = "?"
    return (f"{link.name} is a symbolic link (to {target}); links are not followed, so nothing outside the "
            "submission is read: hand in the file itself")


def _student_folder(student: str, folder: Path, display) -> Entry:  # type: ignore[no-untyped-def]
    found: list[Path] = []
    links: list[Path] = []
    stack = [folder]
    while stack:
        d = stack.pop()
        try:
            kids = sorted(d.iterdir())
        except OSError as exc:
            return Entry(student, display(folder),
                         problem=f"cannot read folder {d.name}: {exc}")
        for k in kids:
            if not _hidden(k) and k.is_symlink() and k.suffix.lower() in SUFFIXES:
                links.append(k)
            if _hidden(k) or k.is_symlink():
                continue
            if k.is_dir():
                stack.append(k)
            elif k.suffix.lower() in SUFFIXES:
                found.append(k)
    if links and not found:
        return Entry(student, display(folder), problem=_link_problem(links[0]))
    entry = _pick(student, found, display, flat=False, folder=folder)
    entry.notes += [f"ignored {display(k)}: {_link_problem(k)}" for k in links]
    return entry


def _pick(student: str, paths: list[Path], display, flat: bool,  # type: ignore[no-untyped-def]
          folder: Path | None = None) -> Entry:
    notebooks = [p for p in paths if p.suffix.lower() == ".ipynb"]
    modules = [p for p in paths if p.suffix.lower() == ".py"]
    where = display(folder) if folder is not None and folder.is_dir() else student
    notes: list[str] = []
    if len(notebooks) > 1:
        names = ", ".join(display(p) for p in notebooks)
        return Entry(student, where, problem=f"{len(notebooks)} notebooks for one student ({names}); "
                                             "keep exactly one")
    if notebooks:
        chosen = notebooks[0]
        if modules:
            notes.append("ignored " + ", ".join(display(p) for p in modules) + " (a notebook is preferred)")
    elif len(modules) == 1:
        chosen = modules[0]
    elif modules:
        names = ", ".join(display(p) for p in modules)
        return Entry(student, where, problem=f"no notebook and {len(modules)} .py files ({names}); keep exactly one")
    else:
        return Entry(student, where, problem="no .ipynb or .py submission found")
    entry = Entry(student, display(chosen), path=chosen, notes=notes)
    try:
        entry.sha256 = hashlib.sha256(chosen.read_bytes()).hexdigest()
    except OSError as exc:
        entry.path, entry.problem = None, f"{chosen.name}: cannot read: {exc.strerror or exc}"
    return entry


def _dedupe(entries: list[Entry]) -> list[Entry]:
    """Ids that collide (case-insensitively) become one problem entry naming every source."""
    groups: dict[str, list[Entry]] = {}
    for e in entries:
        groups.setdefault(e.student.casefold(), []).append(e)
    out: list[Entry] = []
    for group in groups.values():
        if len(group) == 1:
            out.append(group[0])
        else:
            sources = ", ".join(e.source for e in group)
            out.append(Entry(group[0].student, sources,
                             problem=f"duplicate student id {group[0].student!r}: {sources}; keep exactly one"))
    return sorted(out, key=lambda e: e.student)
