"""Data providers: what data an assignment's notebooks are served, and the grader's own copy of it.

An assignment names one in ``[data] provider``: ``mnist`` (the embedded subset or the full set, any
torchvision ``MNIST(root=...)`` redirected to it offline, the fast in-memory path), ``none`` (the notebook
writes its own data: no replay, and no measurement unless the assignment gives ``[data.evaluation]`` rows), or
``FILE.py:NAME`` — an object in a file of the assignment folder implementing :class:`DataProvider` (instructor
code, run in the grader's process).
``--data`` takes one of the provider's ``modes``.

Optional (the quick-mode retry, ``grader/fallback.py``): ``full_mode`` names the mode serving the whole data set,
``split_sizes(root)`` gives each split's (served, full) item counts and ``available(mode, data_dir)`` says whether
a mode can be prepared here without the network. A provider without them is never re-graded.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from grader.errors import AssignmentError

if TYPE_CHECKING:
    import torch


class DataProvider(Protocol):
    """What the pipeline needs from a source of data."""

    name: str
    modes: tuple[str, ...]     # the choices of --data; the first is the default
    label: str                 # how pages name the data ("MNIST")

    def prepare(self, mode: str, data_dir: Path | None) -> Path | None:
        """A folder to serve to the kernel read-only (None: nothing to serve)."""

    def probe_config(self, root: Path | None, mode: str) -> dict[str, Any]:
        """Keys for the kernel's probe (e.g. where the MNIST redirect points)."""

    def fingerprint(self, root: Path | None) -> dict[str, Any]:
        """Provenance for the result's ``data`` object (e.g. image counts)."""

    def split(self, root: Path | None, train: bool) -> tuple[torch.Tensor, torch.Tensor] | None:
        """(inputs, labels) of a split for the grader's own evaluation and replay; None when there is none."""


class SizedProvider(DataProvider, Protocol):
    """A provider whose quick mode serves fewer items than the whole data set (optional members)."""

    full_mode: str | None      # the mode serving the whole data set (None: every mode serves all of it)

    def split_sizes(self, root: Path | None) -> dict[str, tuple[int, int]]:
        """Split name -> (items served from ``root``, items in the whole data set)."""

    def available(self, mode: str, data_dir: Path | None) -> bool:
        """Whether ``prepare(mode, data_dir)`` would succeed here without the network."""


class MnistProvider:
    """MNIST (grader/data/mnist.py): ``subset`` = the embedded 6000/1000 images, ``full`` = 60000/10000."""

    name: str = "mnist"
    modes: tuple[str, ...] = ("subset", "full")
    label: str = "MNIST"
    full_mode: str | None = "full"

    def prepare(self, mode: str, data_dir: Path | None) -> Path | None:
        from grader.data import mnist

        return mnist.prepare(mode, data_dir)

    def probe_config(self, root: Path | None, mode: str) -> dict[str, Any]:
        return {"mnist_root": str(root), "data_mode": mode}

    def fingerprint(self, root: Path | None) -> dict[str, Any]:
        from grader.data import mnist

        return dict(mnist.data_fingerprint(root)) if root else {}

    def split(self, root: Path | None, train: bool) -> tuple[torch.Tensor, torch.Tensor] | None:
        from grader.data import mnist

        return mnist.load_split(root, train=train) if root else None

    def split_sizes(self, root: Path | None) -> dict[str, tuple[int, int]]:
        from grader.data import mnist

        if root is None:
            return {}
        served = mnist.data_fingerprint(root)
        train, test = served["train_images"], served["test_images"]
        full_train, full_test = mnist.FULL_SIZES["train"], mnist.FULL_SIZES["test"]
        # "all": both splits in one array, as scikit-learn's fetch_openml('mnist_784') gives them
        return {"train": (train, full_train), "test": (test, full_test), "all": (train + test, full_train + full_test)}

    def available(self, mode: str, data_dir: Path | None) -> bool:
        from grader.data import mnist

        return mode == "subset" or (mode == "full" and mnist.full_available(data_dir))


class NoProvider:
    """No data: the notebook makes its own (a table written in a cell, a function to minimise)."""

    name: str = "none"
    modes: tuple[str, ...] = ("none",)
    label: str = "no dataset"

    def prepare(self, mode: str, data_dir: Path | None) -> Path | None:
        return None

    def probe_config(self, root: Path | None, mode: str) -> dict[str, Any]:
        return {"data_mode": mode}

    def fingerprint(self, root: Path | None) -> dict[str, Any]:
        return {}

    def split(self, root: Path | None, train: bool) -> tuple[torch.Tensor, torch.Tensor] | None:
        return None


BUILTIN: dict[str, DataProvider] = {"mnist": MnistProvider(), "none": NoProvider()}


def get_provider(spec: str, folder: Path | None = None) -> DataProvider:
    """The provider ``spec`` names: a built-in name or ``FILE.py:NAME`` relative to ``folder``."""
    if spec in BUILTIN:
        return BUILTIN[spec]
    file, sep, attr = spec.partition(":")
    if not sep or not file.endswith(".py") or folder is None:
        raise AssignmentError(f"[data] provider {spec!r}: use one of {', '.join(BUILTIN)} or FILE.py:NAME")
    path = (folder / file).resolve()
    loader = importlib.util.spec_from_file_location(f"grader_data_provider_{path.stem}", path)
    if loader is None or loader.loader is None or not path.is_file():
        raise AssignmentError(f"[data] provider {spec!r}: {path} not found")
    module = importlib.util.module_from_spec(loader)
    try:
        loader.loader.exec_module(module)
        provider = getattr(module, attr)
    except Exception as exc:
        raise AssignmentError(f"[data] provider {spec!r}: {type(exc).__name__}: {exc}") from exc
    missing = [m for m in ("name", "modes", "label", "prepare", "probe_config", "fingerprint", "split")
               if not hasattr(provider, m)]
    if missing:
        raise AssignmentError(f"[data] provider {spec!r} lacks {', '.join(missing)} (grader.data.provider)")
    return provider  # type: ignore[no-any-return]
