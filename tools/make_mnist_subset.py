#!/usr/bin/env python3
"""Build the deterministic, stratified MNIST subset that ships inside the ``grader`` package.

The subset keeps the FIRST ``k`` images of each digit, in the original file order, from the real MNIST
files (train and test separately) and writes them in the same idx format, gzip-compressed with ``mtime=0``
and no embedded file name, under the same four file names. Running it twice gives byte-identical files.

Usage (from the repository root)::

    python tools/make_mnist_subset.py [--source DIR] [--train-per-digit 600] [--test-per-digit 100]
                                      [--out grader/data/mnist_subset]

Standalone on purpose (numpy only) so it runs without the package being importable.
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import struct
import sys
from pathlib import Path

import numpy as np

REPO_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_SOURCE = Path("..") / "shared" / "data" / "mnist"
DEFAULT_OUT = Path("grader") / "data" / "mnist_subset"
SPLITS = {"train": "train", "test": "t10k"}
_DTYPES = {
    0x08: np.dtype(">u1"),
    0x09: np.dtype(">i1"),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}


def read_idx_gz(path: Path) -> tuple[int, np.ndarray]:
    """Return (type code, array) of a gzip-compressed idx file."""
    data = gzip.decompress(path.read_bytes())
    zero, code, ndim = struct.unpack(">HBB", data[:4])
    if zero != 0 or code not in _DTYPES:
        raise SystemExit(f"{path}: not an idx file")
    dims = struct.unpack(f">{ndim}I", data[4 : 4 + 4 * ndim])
    arr = np.frombuffer(data, dtype=_DTYPES[code], offset=4 + 4 * ndim)
    if arr.size != int(np.prod(dims)):
        raise SystemExit(f"{path}: {arr.size} values, header says {dims}")
    return code, arr.reshape(dims)


def idx_bytes(code: int, arr: np.ndarray) -> bytes:
    """Serialize ``arr`` in idx format with type code ``code``."""
    header = struct.pack(">HBB", 0, code, arr.ndim) + struct.pack(f">{arr.ndim}I", *arr.shape)
    return header + np.ascontiguousarray(arr, dtype=_DTYPES[code]).tobytes()


def first_per_digit(labels: np.ndarray, k: int) -> np.ndarray:
    """Indices of the first ``k`` occurrences of each digit 0-9, in original order."""
    picks = []
    for digit in range(10):
        idx = np.flatnonzero(labels == digit)[:k]
        if len(idx) < k:
            raise SystemExit(f"only {len(idx)} images of digit {digit}, asked for {k}")
        picks.append(idx)
    return np.sort(np.concatenate(picks))


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


README = """# MNIST subset (embedded)

A small, deterministic, stratified subset of MNIST that ships with the grader so that grading works offline
and fast (`grader.data.mnist.prepare("subset")`).

- train: the first {train_k} images of each digit of the MNIST training set = {n_train} images
- test: the first {test_k} images of each digit of the MNIST test set = {n_test} images
- "first" means in the original file order; the selected images keep that original order (they are not
  grouped by digit), so the subset is fully reproducible.

Format: the original idx format (torchvision's raw MNIST format), gzip-compressed (mtime 0, no file name),
under the original four file names.

## How it was made

From the repository root, with the real MNIST files in `{source}`:

    python tools/make_mnist_subset.py --source {source} --train-per-digit {train_k} --test-per-digit {test_k}

Running it again produces byte-identical files.

## sha256

| file | bytes | sha256 |
|---|---|---|
{rows}

## License and credit

MNIST is licensed under Creative Commons Attribution-Share Alike 3.0 (CC BY-SA 3.0). This subset is a
derivative and is distributed under the same license.
Credit: Yann LeCun (Courant Institute, NYU), Corinna Cortes (Google Labs), Christopher J.C. Burges
(Microsoft Research) — http://yann.lecun.com/exdb/mnist/
"""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--source",
        type=Path,
        default=None,
        help=f"directory with the four real MNIST .gz files (default: <repo>/{DEFAULT_SOURCE})",
    )
    parser.add_argument("--train-per-digit", type=int, default=600)
    parser.add_argument("--test-per-digit", type=int, default=100)
    parser.add_argument(
        "--out", type=Path, default=None, help=f"output directory (default: <repo>/{DEFAULT_OUT})"
    )
    args = parser.parse_args(argv)
    source: Path = args.source if args.source is not None else REPO_ROOT / DEFAULT_SOURCE
    out: Path = args.out if args.out is not None else REPO_ROOT / DEFAULT_OUT
    out.mkdir(parents=True, exist_ok=True)

    counts, written = {}, []
    for split, prefix in SPLITS.items():
        k = args.train_per_digit if split == "train" else args.test_per_digit
        img_code, images = read_idx_gz(source / f"{prefix}-images-idx3-ubyte.gz")
        lbl_code, labels = read_idx_gz(source / f"{prefix}-labels-idx1-ubyte.gz")
        if len(images) != len(labels):
            raise SystemExit(f"{source}: {len(images)} {split} images but {len(labels)} labels")
        keep = first_per_digit(labels, k)
        counts[split] = len(keep)
        for name, code, arr in (
            (f"{prefix}-images-idx3-ubyte.gz", img_code, images[keep]),
            (f"{prefix}-labels-idx1-ubyte.gz", lbl_code, labels[keep]),
        ):
            path = out / name
            path.write_bytes(gzip.compress(idx_bytes(code, arr), compresslevel=9, mtime=0))
            written.append(path)

    rows = "\n".join(f"| {p.name} | {p.stat().st_size} | {sha256(p)} |" for p in written)
    try:
        shown_source = Path("..") / source.resolve().relative_to(REPO_ROOT.parent)
    except ValueError:
        shown_source = source
    (out / "README.md").write_text(
        README.format(
            train_k=args.train_per_digit,
            test_k=args.test_per_digit,
            n_train=counts["train"],
            n_test=counts["test"],
            source=shown_source.as_posix(),
            rows=rows,
        ),
        encoding="utf-8",
    )
    total = sum(p.stat().st_size for p in written)
    print(f"wrote {len(written)} files ({total} bytes) and README.md to {out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
