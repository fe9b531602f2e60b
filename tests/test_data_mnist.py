"""grader.data.mnist on real data: the embedded subset, the full set, layouts, errors, idempotence."""

from __future__ import annotations

import gzip
import hashlib
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
import torchvision

from grader.data import mnist
from grader.data.mnist import FILES, SUBSET_DIR, data_fingerprint, find_raw_dir, load_split, prepare, read_idx
from grader.errors import DataError

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared" / "data" / "mnist"
needs_shared = pytest.mark.skipif(
    not (SHARED / "train-images-idx3-ubyte.gz").is_file(), reason=f"real MNIST not at {SHARED}"
)


def _raw_files(root: Path) -> dict[str, int]:
    """name -> mtime_ns of everything in root/MNIST/raw."""
    return {p.name: p.stat().st_mtime_ns for p in (root / "MNIST" / "raw").iterdir()}


# --- the embedded subset -------------------------------------------------------------------------------


@pytest.mark.parametrize(("prefix", "k"), [("train", 600), ("t10k", 100)])
def test_subset_is_stratified(prefix: str, k: int) -> None:
    images = read_idx(SUBSET_DIR / f"{prefix}-images-idx3-ubyte.gz")
    labels = read_idx(SUBSET_DIR / f"{prefix}-labels-idx1-ubyte.gz")
    assert images.shape == (10 * k, 28, 28) and images.dtype == np.uint8
    assert labels.shape == (10 * k,)
    assert np.bincount(labels, minlength=10).tolist() == [k] * 10


def test_subset_readme_matches_files() -> None:
    readme = (SUBSET_DIR / "README.md").read_text(encoding="utf-8")
    for name in FILES:
        digest = hashlib.sha256((SUBSET_DIR / f"{name}.gz").read_bytes()).hexdigest()
        assert re.search(rf"{name}\.gz \| \d+ \| {digest}", readme), name
    for who in ("LeCun", "Cortes", "Burges", "CC BY-SA 3.0"):
        assert who in readme
    total = sum((SUBSET_DIR / f"{name}.gz").stat().st_size for name in FILES)
    assert total < 3_000_000


@needs_shared
@pytest.mark.parametrize(("prefix", "k"), [("train", 600), ("t10k", 100)])
def test_subset_equals_first_images_of_each_digit(prefix: str, k: int) -> None:
    full_images = read_idx(SHARED / f"{prefix}-images-idx3-ubyte.gz")
    full_labels = read_idx(SHARED / f"{prefix}-labels-idx1-ubyte.gz")
    keep = np.sort(np.concatenate([np.flatnonzero(full_labels == d)[:k] for d in range(10)]))
    np.testing.assert_array_equal(read_idx(SUBSET_DIR / f"{prefix}-images-idx3-ubyte.gz"), full_images[keep])
    np.testing.assert_array_equal(read_idx(SUBSET_DIR / f"{prefix}-labels-idx1-ubyte.gz"), full_labels[keep])


@needs_shared
def test_subset_script_is_reproducible(tmp_path: Path) -> None:
    script = REPO / "tools" / "make_mnist_subset.py"
    for out in ("a", "b"):
        subprocess.run(
            [sys.executable, str(script), "--source", str(SHARED), "--out", str(tmp_path / out)],
            check=True,
            capture_output=True,
        )
    for name in [f"{n}.gz" for n in FILES] + ["README.md"]:
        built = (tmp_path / "a" / name).read_bytes()
        assert built == (tmp_path / "b" / name).read_bytes(), name
        if name.endswith(".gz"):
            assert built == (SUBSET_DIR / name).read_bytes(), f"{name} differs from the committed subset"


# --- prepare("subset") and torchvision ---------------------------------------------------------------


@pytest.mark.filterwarnings("ignore:test_(data|labels) has been renamed")
@pytest.mark.parametrize(("train", "n"), [(True, 6000), (False, 1000)])
def test_subset_root_loads_in_torchvision_without_download(tmp_path: Path, train: bool, n: int) -> None:
    root = prepare("subset", cache_dir=tmp_path)
    assert root == tmp_path / "mnist-subset"
    assert sorted(_raw_files(root)) == sorted(FILES)
    before = _raw_files(root)
    ds = torchvision.datasets.MNIST(str(root), train=train, download=True)
    assert _raw_files(root) == before  # download=True returned without fetching anything
    assert len(ds) == n
    assert ds.test_data.shape == (n, 28, 28) and ds.test_data.dtype == torch.uint8
    assert ds.test_labels.shape == (n,) and ds.test_labels.dtype == torch.int64
    images, labels = load_split(root, train=train)
    assert torch.equal(images, ds.data) and torch.equal(labels, ds.targets)
    assert torch.bincount(labels).tolist() == [n // 10] * 10


def test_subset_fingerprint_and_load_split(tmp_path: Path) -> None:
    root = prepare("subset", cache_dir=tmp_path)
    assert data_fingerprint(root) == {"train_images": 6000, "test_images": 1000}
    images, labels = load_split(root, train=False)
    assert images.dtype == torch.uint8 and images.shape == (1000, 28, 28)
    assert labels.dtype == torch.int64 and labels.shape == (1000,)


def test_prepare_is_idempotent(tmp_path: Path) -> None:
    root = prepare("subset", cache_dir=tmp_path)
    first = _raw_files(root)
    assert prepare("subset", cache_dir=tmp_path) == root
    assert _raw_files(root) == first  # nothing rewritten, no temp files left behind
    # a damaged file (wrong size) is repaired on the next call, the others are left alone
    damaged = root / "MNIST" / "raw" / "t10k-labels-idx1-ubyte"
    damaged.write_bytes(damaged.read_bytes()[:-10])
    prepare("subset", cache_dir=tmp_path)
    assert damaged.stat().st_size == 8 + 1000
    after = _raw_files(root)
    assert {k: v for k, v in after.items() if k != damaged.name} == {
        k: v for k, v in first.items() if k != damaged.name
    }


def test_cache_dir_from_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GRADER_CACHE_DIR", str(tmp_path / "envcache"))
    assert prepare("subset") == tmp_path / "envcache" / "mnist-subset"


def test_unknown_mode(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="bogus"):
        prepare("bogus", cache_dir=tmp_path)


# --- prepare("full") ------------------------------------------------------------------------------------


@needs_shared
def test_full_from_shared_dir(tmp_path: Path) -> None:
    root = prepare("full", data_dir=SHARED, cache_dir=tmp_path)
    assert root.parent == tmp_path and root.name.startswith("mnist-full-")
    assert data_fingerprint(root) == {"train_images": 60000, "test_images": 10000}
    assert len(torchvision.datasets.MNIST(str(root), train=True, download=False)) == 60000
    assert len(torchvision.datasets.MNIST(str(root), train=False, download=False)) == 10000
    images, labels = load_split(root, train=False)
    assert images.shape == (10000, 28, 28)
    assert torch.bincount(labels).tolist() == [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]


def _copy_subset(dest: Path, compressed: bool) -> Path:
    dest.mkdir(parents=True)
    for name in FILES:
        data = (SUBSET_DIR / f"{name}.gz").read_bytes()
        if compressed:
            (dest / f"{name}.gz").write_bytes(data)
        else:
            (dest / name).write_bytes(gzip.decompress(data))
    return dest


@pytest.mark.parametrize(
    ("sub", "compressed"), [("", True), ("raw", True), ("MNIST/raw", False), ("", False)]
)
def test_layouts_are_found(tmp_path: Path, sub: str, compressed: bool) -> None:
    data_dir = tmp_path / "data"
    raw = _copy_subset(data_dir / sub if sub else data_dir, compressed)
    assert find_raw_dir(data_dir) == raw
    root = prepare("full", data_dir=data_dir, cache_dir=tmp_path / "cache")
    assert data_fingerprint(root) == {"train_images": 6000, "test_images": 1000}


def test_different_sources_do_not_collide(tmp_path: Path) -> None:
    a = _copy_subset(tmp_path / "a", compressed=True)
    b = _copy_subset(tmp_path / "b", compressed=False)
    assert prepare("full", data_dir=a, cache_dir=tmp_path) != prepare("full", data_dir=b, cache_dir=tmp_path)


def test_full_from_env_and_from_a_prepared_root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    subset_root = prepare("subset", cache_dir=tmp_path / "c1")
    monkeypatch.setenv("GRADER_MNIST_DIR", str(subset_root))
    root = prepare("full", cache_dir=tmp_path / "c2")
    assert root.name.startswith("mnist-full-")
    assert data_fingerprint(root) == {"train_images": 6000, "test_images": 1000}


# --- errors ---------------------------------------------------------------------------------------------


def test_missing_dir_names_the_path(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere"
    with pytest.raises(DataError, match=re.escape(str(missing))):
        find_raw_dir(missing)
    with pytest.raises(DataError, match=re.escape(str(missing))):
        prepare("full", data_dir=missing, cache_dir=tmp_path)


def test_incomplete_dir_names_the_missing_files(tmp_path: Path) -> None:
    data_dir = _copy_subset(tmp_path / "data", compressed=True)
    (data_dir / "t10k-labels-idx1-ubyte.gz").unlink()
    with pytest.raises(DataError, match=re.escape(str(data_dir))) as info:
        find_raw_dir(data_dir)
    assert "t10k-labels-idx1-ubyte" in str(info.value)
    assert "train-images-idx3-ubyte" not in str(info.value)


@pytest.mark.parametrize("content", [b"", b"not a gzip nor an idx file", gzip.compress(b"garbage!" * 10)])
def test_corrupt_file_names_the_path(tmp_path: Path, content: bytes) -> None:
    data_dir = _copy_subset(tmp_path / "data", compressed=True)
    bad = data_dir / "train-images-idx3-ubyte.gz"
    bad.write_bytes(content)
    with pytest.raises(DataError, match=re.escape(str(bad))):
        read_idx(bad)
    with pytest.raises(DataError, match=re.escape(str(bad))):
        prepare("full", data_dir=data_dir, cache_dir=tmp_path / "cache")


def test_truncated_gzip_and_truncated_idx(tmp_path: Path) -> None:
    src = (SUBSET_DIR / "t10k-labels-idx1-ubyte.gz").read_bytes()
    cut_gz = tmp_path / "cut.gz"
    cut_gz.write_bytes(src[: len(src) // 2])
    with pytest.raises(DataError, match=re.escape(str(cut_gz))):
        read_idx(cut_gz)
    cut_idx = tmp_path / "cut-idx"
    cut_idx.write_bytes(gzip.decompress(src)[:-1])
    with pytest.raises(DataError, match=re.escape(str(cut_idx))):
        read_idx(cut_idx)


def test_mismatched_counts_are_rejected(tmp_path: Path) -> None:
    data_dir = _copy_subset(tmp_path / "data", compressed=True)
    shutil.copy(data_dir / "t10k-labels-idx1-ubyte.gz", data_dir / "train-labels-idx1-ubyte.gz")
    with pytest.raises(DataError, match="6000 train images but 1000 labels"):
        prepare("full", data_dir=data_dir, cache_dir=tmp_path / "cache")
    assert not list((tmp_path / "cache").rglob("*-ubyte"))  # nothing published


def test_load_split_on_unprepared_root(tmp_path: Path) -> None:
    with pytest.raises(DataError, match=re.escape(str(tmp_path))):
        load_split(tmp_path, train=True)
    with pytest.raises(DataError, match=re.escape(str(tmp_path))):
        data_fingerprint(tmp_path)


def test_modes() -> None:
    assert mnist.MODES == ("subset", "full")


def test_concurrent_prepare(tmp_path: Path) -> None:
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(8) as pool:
        roots = list(pool.map(lambda _: prepare("subset", cache_dir=tmp_path), range(8)))
    assert len(set(roots)) == 1
    assert sorted(_raw_files(roots[0])) == sorted(FILES)  # no stray temp files
    assert data_fingerprint(roots[0]) == {"train_images": 6000, "test_images": 1000}
