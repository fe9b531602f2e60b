"""MNIST for the grader: the embedded subset or the full set, laid out for ``torchvision.datasets.MNIST``.

``prepare(mode)`` returns a root directory holding ``MNIST/raw/<four uncompressed idx files>``, so that
``torchvision.datasets.MNIST(root=ROOT, download=True)`` finds the files and never touches the network.
Preparation is idempotent and safe against concurrent callers (temp file + ``os.replace``).
"""

from __future__ import annotations

import contextlib
import gzip
import hashlib
import io
import os
import shutil
import struct
import tempfile
import zlib
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from grader.errors import DataError

if TYPE_CHECKING:
    import torch

MODES = ("subset", "full")
FULL_SIZES = {"train": 60000, "test": 10000}  # images per split of the whole MNIST (what notebooks may write out)
FILES = (
    "train-images-idx3-ubyte",
    "train-labels-idx1-ubyte",
    "t10k-images-idx3-ubyte",
    "t10k-labels-idx1-ubyte",
)
SUBSET_DIR = Path(__file__).resolve().parent / "mnist_subset"
_DTYPES = {0x08: ">u1", 0x09: ">i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}
_HINT = "pass --data-dir DIR or set GRADER_MNIST_DIR to a directory holding the four MNIST files"


def _read_bytes(path: Path) -> bytes:
    """The file's content, decompressed when it is gzip (by magic bytes, not by name)."""
    try:
        data = path.read_bytes()
        return gzip.decompress(data) if data[:2] == b"\x1f\x8b" else data
    except (OSError, EOFError, zlib.error) as exc:
        raise DataError(f"{path}: cannot read: {exc}") from exc


def _parse_idx(data: bytes, path: Path) -> np.ndarray:
    if len(data) < 4:
        raise DataError(f"{path}: not an idx file (only {len(data)} bytes)")
    zero, code, ndim = struct.unpack(">HBB", data[:4])
    if zero != 0 or code not in _DTYPES or ndim == 0:
        raise DataError(f"{path}: not an idx file (bad magic number {data[:4].hex()})")
    offset = 4 + 4 * ndim
    if len(data) < offset:
        raise DataError(f"{path}: truncated idx header")
    dims = struct.unpack(f">{ndim}I", data[4:offset])
    dtype = np.dtype(_DTYPES[code])
    expected = int(np.prod(dims)) * dtype.itemsize
    if len(data) - offset != expected:
        raise DataError(
            f"{path}: idx header says {dims} ({expected} data bytes), file has {len(data) - offset}"
        )
    return np.frombuffer(data, dtype=dtype, offset=offset).reshape(dims)


def read_idx(path: Path) -> np.ndarray:
    """Read an idx file (gzip-compressed or not) into a read-only numpy array of the header's shape.

    Raises ``DataError`` naming ``path`` when the file is missing, not gzip/idx, or truncated.
    """
    path = Path(path)
    return _parse_idx(_read_bytes(path), path)


def _idx_shape(path: Path) -> tuple[int, ...]:
    """Dimensions from an idx file's header (gzip or not), without reading the data."""
    try:
        with open(path, "rb") as f:
            is_gz = f.read(2) == b"\x1f\x8b"
        with (gzip.open if is_gz else open)(path, "rb") as f:
            zero, code, ndim = struct.unpack(">HBB", f.read(4))
            dims = struct.unpack(f">{ndim}I", f.read(4 * ndim))
    except (OSError, EOFError, zlib.error, struct.error) as exc:
        raise DataError(f"{path}: cannot read idx header: {exc}") from exc
    if zero != 0 or code not in _DTYPES:
        raise DataError(f"{path}: not an idx file (bad magic number)")
    return dims


def _source_file(raw_dir: Path, name: str) -> Path | None:
    for candidate in (raw_dir / name, raw_dir / f"{name}.gz"):
        if candidate.is_file():
            return candidate
    return None


def find_raw_dir(data_dir: Path) -> Path:
    """Locate the four MNIST files in ``data_dir``, ``data_dir/raw`` or ``data_dir/MNIST/raw``.

    Each file may be gzip-compressed (``.gz``) or not. Returns the first directory holding all four;
    raises ``DataError`` naming ``data_dir`` and the missing file names otherwise.
    """
    data_dir = Path(data_dir).expanduser()
    best: list[str] = list(FILES)
    for candidate in (data_dir, data_dir / "raw", data_dir / "MNIST" / "raw"):
        missing = [name for name in FILES if _source_file(candidate, name) is None]
        if not missing:
            return candidate
        if len(missing) < len(best):
            best = missing
    what = "does not exist" if not data_dir.is_dir() else f"lacks {', '.join(best)} (.gz or uncompressed)"
    raise DataError(f"MNIST directory {data_dir} {what}; looked in it, raw/ and MNIST/raw/")


def _gzip_size(path: Path) -> int:
    """Uncompressed size from a gzip trailer (ISIZE, exact below 4 GiB for single-member files)."""
    with open(path, "rb") as f:
        f.seek(-4, os.SEEK_END)
        return int(struct.unpack("<I", f.read(4))[0])


def _expected_size(src: Path) -> int:
    try:
        with open(src, "rb") as f:
            is_gz = f.read(2) == b"\x1f\x8b"
        return _gzip_size(src) if is_gz else src.stat().st_size
    except OSError as exc:
        raise DataError(f"{src}: cannot read: {exc}") from exc


def _atomic_write(dest: Path, data: bytes) -> None:
    fd, tmp = tempfile.mkstemp(dir=dest.parent, prefix=f".{dest.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.replace(tmp, dest)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def _materialize(src_dir: Path, root: Path) -> Path:
    """Copy/decompress the four files from ``src_dir`` into ``root/MNIST/raw``, skipping up-to-date ones."""
    raw = root / "MNIST" / "raw"
    _validate(src_dir)  # before publishing anything
    try:
        raw.mkdir(parents=True, exist_ok=True)
        for name in FILES:
            src = _source_file(src_dir, name) or src_dir / name  # present: checked by _validate
            dest = raw / name
            if dest.is_file() and dest.stat().st_size == _expected_size(src):
                continue
            data = _read_bytes(src)
            _parse_idx(data, src)  # validate before publishing
            _atomic_write(dest, data)
    except OSError as exc:
        raise DataError(f"cannot prepare MNIST in {root}: {exc}") from exc
    _validate(raw)
    return root


def _validate(raw: Path) -> dict[str, int]:
    """Check the four files' headers in ``raw`` (image/label counts agree); return the image counts."""
    counts = {}
    for split in ("train", "t10k"):
        shapes = []
        for kind in ("images-idx3", "labels-idx1"):
            path = _source_file(raw, f"{split}-{kind}-ubyte")
            if path is None:
                raise DataError(f"MNIST directory {raw} lacks {split}-{kind}-ubyte")
            shapes.append(_idx_shape(path))
        images, labels = shapes
        if len(images) != 3 or tuple(images[1:]) != (28, 28) or len(labels) != 1:
            raise DataError(f"{raw}: {split} images have shape {images}, labels {labels}")
        if images[0] != labels[0]:
            raise DataError(f"{raw}: {images[0]} {split} images but {labels[0]} labels")
        counts[split] = images[0]
    return counts


def _cache_dir(cache_dir: Path | None) -> Path:
    if cache_dir is not None:
        return Path(cache_dir).expanduser()
    env = os.environ.get("GRADER_CACHE_DIR")
    return Path(env).expanduser() if env else Path.home() / ".cache" / "grader"


def _download_full(cache: Path) -> Path:
    """Let torchvision download full MNIST into a private temp dir, then move the files into place."""
    root = cache / "mnist-full"
    raw = root / "MNIST" / "raw"
    if all((raw / name).is_file() for name in FILES):
        _validate(raw)
        return root
    try:
        from torchvision.datasets import MNIST

        cache.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(dir=cache, prefix=".mnist-full-download-"))
    except Exception as exc:  # torchvision missing, cache not writable
        raise DataError(f"full MNIST not found and cannot be downloaded ({exc}); {_HINT}") from exc
    try:
        sink = io.StringIO()
        with contextlib.redirect_stdout(sink), contextlib.redirect_stderr(sink):
            MNIST(str(tmp), train=True, download=True)
        return _materialize(tmp / "MNIST" / "raw", root)
    except DataError:
        raise
    except Exception as exc:  # offline: URLError, RuntimeError, ...
        raise DataError(f"full MNIST not found and the download failed ({exc}); {_HINT}") from exc
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def prepare(mode: str, data_dir: Path | None = None, cache_dir: Path | None = None) -> Path:
    """Prepare MNIST and return a root usable as ``torchvision.datasets.MNIST(root=ROOT, download=False)``.

    ``mode="subset"``: the embedded 6000/1000-image subset, root ``<cache>/mnist-subset``.
    ``mode="full"``: the files in ``data_dir`` (else env ``GRADER_MNIST_DIR``), root
    ``<cache>/mnist-full-<hash of the source dir>``; with neither given, a previous download in
    ``<cache>/mnist-full`` or else torchvision's download (``DataError`` with a hint when offline).
    An explicitly given directory that lacks the files is an error (no download behind the user's back).
    ``cache_dir`` defaults to env ``GRADER_CACHE_DIR``, else ``~/.cache/grader``.
    """
    if mode not in MODES:
        raise DataError(f"unknown MNIST mode {mode!r}; expected one of {', '.join(MODES)}")
    cache = _cache_dir(cache_dir)
    if mode == "subset":
        return _materialize(find_raw_dir(SUBSET_DIR), cache / "mnist-subset")
    if data_dir is None and os.environ.get("GRADER_MNIST_DIR"):
        data_dir = Path(os.environ["GRADER_MNIST_DIR"])
    if data_dir is None:
        return _download_full(cache)
    src = find_raw_dir(Path(data_dir)).resolve()
    digest = hashlib.sha256(str(src).encode()).hexdigest()[:12]
    return _materialize(src, cache / f"mnist-full-{digest}")


def full_available(data_dir: Path | None = None, cache_dir: Path | None = None) -> bool:
    """Whether ``prepare("full", data_dir)`` would find the full set without the network: ``data_dir`` (else
    env ``GRADER_MNIST_DIR``) holds the four files, or an earlier download is in the cache."""
    if data_dir is None and os.environ.get("GRADER_MNIST_DIR"):
        data_dir = Path(os.environ["GRADER_MNIST_DIR"])
    if data_dir is not None:
        try:
            find_raw_dir(Path(data_dir))
        except DataError:
            return False
        return True
    raw = _cache_dir(cache_dir) / "mnist-full" / "MNIST" / "raw"
    return all((raw / name).is_file() for name in FILES)


def load_split(root: Path, train: bool) -> tuple[torch.Tensor, torch.Tensor]:
    """Images (uint8, N x 28 x 28) and labels (int64, N) of one split of a root made by ``prepare``."""
    import torch  # not at module level: the grader process starts faster (see pipeline's preload)

    raw = Path(root) / "MNIST" / "raw"
    prefix = "train" if train else "t10k"
    images = read_idx(raw / f"{prefix}-images-idx3-ubyte")
    labels = read_idx(raw / f"{prefix}-labels-idx1-ubyte")
    if images.ndim != 3 or images.shape[1:] != (28, 28) or labels.ndim != 1 or len(images) != len(labels):
        raise DataError(f"{raw}: {prefix} images {images.shape} do not match labels {labels.shape}")
    return torch.from_numpy(images.astype(np.uint8)), torch.from_numpy(labels.astype(np.int64))


def data_fingerprint(root: Path) -> dict[str, int]:
    """Image counts of a prepared root, for provenance: ``{"train_images": N, "test_images": M}``."""
    counts = _validate(Path(root) / "MNIST" / "raw")
    return {"train_images": counts["train"], "test_images": counts["t10k"]}
