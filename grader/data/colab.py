"""Colab's ``sample_data`` MNIST CSVs, written from the grader's MNIST copy for notebooks exported from Colab.

Colab ships ``/content/sample_data/mnist_train_small.csv`` (20,000 rows) and ``mnist_test.csv`` (10,000 rows):
one image per line, the label then 784 pixel values (0-255), no header. The grader writes the same layout from the
data it serves: on the full data the first 20,000 training images and the 10,000 test images; in the quick
``subset`` mode as many rows as the subset holds (6,000 and 1,000). They are written once per prepared data root
(keyed by its path and its files' sizes and times) into ``<cache>/colab-sample-data/<key>/``, and only for a
notebook whose source mentions ``sample_data`` or ``/content`` (:func:`wanted`). Inside the sandbox that folder is
bound read-only at ``/content/sample_data`` (``grader/execution/sandbox.py``); the notebook's working folder gets a
``sample_data`` link either way, so the relative path Colab's cwd (``/content``) allows works too.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from grader.data import mnist

CONTENT = "/content"                       # Colab's working folder; exists only inside the sandbox
SAMPLE_DATA = f"{CONTENT}/sample_data"     # where the sandbox binds the CSV folder
FILES = {"mnist_train_small.csv": (True, 20000), "mnist_test.csv": (False, 10000)}  # name: (train split, rows)
_MARKERS = ("sample_data", CONTENT)
_CHUNK = 2000  # rows formatted at once (about 6 MB of scratch memory)


def _table(end: bytes) -> np.ndarray:
    """(256, 4) bytes: each pixel value's decimal digits followed by ``end``, zero-padded."""
    out = np.zeros((256, 4), dtype=np.uint8)
    for v in range(256):
        b = str(v).encode() + end
        out[v, :len(b)] = np.frombuffer(b, dtype=np.uint8)
    return out


_COMMA, _NEWLINE = _table(b","), _table(b"\n")


def csv_bytes(labels: np.ndarray, images: np.ndarray) -> bytes:
    """Colab's layout for ``labels`` (N,) and uint8 ``images`` (N, 28, 28): ``label,p0,...,p783\\n`` per image."""
    rows = np.concatenate([labels.reshape(-1, 1).astype(np.uint8), images.reshape(len(images), -1)], axis=1)
    parts = []
    for start in range(0, len(rows), _CHUNK):
        chunk = rows[start:start + _CHUNK]
        cells = np.concatenate([_COMMA[chunk[:, :-1]], _NEWLINE[chunk[:, -1:]]], axis=1)  # (n, 785, 4)
        parts.append(cells[cells != 0].tobytes())
    return b"".join(parts)


def wanted(sources: str) -> bool:
    """Whether a notebook's code may read Colab's files (its source mentions ``sample_data`` or ``/content``)."""
    return any(m in sources for m in _MARKERS)


def notebook_source(notebook: Any) -> str:
    """The code of a notebook's code cells, joined (a cheap text to search)."""
    cells = getattr(notebook, "cells", None) or []
    return "\n".join(str(c.get("source", "")) for c in cells if c.get("cell_type") == "code")


def sample_dir(provider: str, root: Path | None) -> Path | None:
    """The cache folder of the CSVs for a prepared MNIST ``root`` (created, maybe still empty); None when the
    assignment serves no MNIST (``provider`` is not ``mnist``)."""
    if provider != "mnist" or root is None:
        return None
    raw = Path(root) / "MNIST" / "raw"
    key = hashlib.sha256(str(Path(root).resolve()).encode())
    try:
        for name in mnist.FILES:
            st = (raw / name).stat()
            key.update(f"{name}:{st.st_size}:{st.st_mtime_ns}".encode())
        folder = Path(root).resolve().parent / "colab-sample-data" / key.hexdigest()[:16]
        folder.mkdir(parents=True, exist_ok=True)
    except OSError:  # a read-only cache: no sample_data (a notebook reading them fails as it would elsewhere)
        return None
    return folder


def rows_served(root: Path) -> dict[str, int]:
    """Rows each CSV holds for a prepared root: Colab's count, or fewer where the served split is smaller."""
    counts = mnist.data_fingerprint(root)
    return {name: min(n, counts["train_images" if train else "test_images"]) for name, (train, n) in FILES.items()}


def write_sample_data(root: Path, folder: Path) -> dict[str, int]:
    """Write the CSVs missing in ``folder`` from ``root`` (atomically: temp file + rename, so concurrent graders
    and a kernel already looking at the folder never see half a file); returns the rows per file."""
    rows = rows_served(root)
    for name, (train, _) in FILES.items():
        dest = folder / name
        if dest.is_file():
            continue
        images, labels = mnist.load_split(root, train=train)
        n = rows[name]
        data = csv_bytes(labels[:n].numpy(), images[:n].numpy())
        fd, tmp = tempfile.mkstemp(dir=folder, prefix=f".{name}.", suffix=".tmp")
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(data)
            os.chmod(tmp, 0o444)
            os.replace(tmp, dest)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise
    return rows


def kernel_config(sandboxed: bool, root: Path | None, folder: Path | None) -> dict[str, Any]:
    """The probe config's ``colab`` entry (grader/recording/probe_colab.py): ``content`` is ``/content`` inside
    the sandbox (None outside it: nothing is written to ``/``), ``sample_rows`` the rows of each CSV."""
    return {"content": CONTENT if sandboxed else None,
            "sample_rows": rows_served(root) if root is not None and folder is not None else None}


def provide(notebook: Any, root: Path | None, folder: Path | None, work: Path, sandboxed: bool) -> bool:
    """Before a notebook runs: when its code mentions Colab's files, write the CSVs (once per data root) and
    link ``work/sample_data`` to them (``/content/sample_data`` inside the sandbox, the cache folder outside
    it). Returns whether they were provided (False also when they could not be written: the notebook then
    fails to read them, as it would anywhere without them)."""
    if root is None or folder is None or not wanted(notebook_source(notebook)):
        return False
    try:
        write_sample_data(root, folder)
        link = work / "sample_data"
        if not link.exists() and not link.is_symlink():
            link.symlink_to(SAMPLE_DATA if sandboxed else folder, target_is_directory=True)
    except OSError:
        return False
    return True
