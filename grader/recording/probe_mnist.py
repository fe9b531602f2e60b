"""In the kernel: serve the grader's MNIST to every ``torchvision.datasets.MNIST`` a student creates
(and, through ``probe_loaders.py`` installed with it, to the Keras, scikit-learn and Hugging Face loaders).

Imports only the standard library and torch; torchvision is patched through an import hook the
moment the student imports it (never imported here). Any ``root=``/``download=`` gets the grader's
prepared data for the selected mode, so the network is never touched.

Fast path: when the dataset's transform is torchvision's ``ToTensor`` (optionally followed by
``Normalize``, alone or in a ``Compose``), ``__getitem__`` serves a pre-decoded float tensor instead
of decoding a PIL image per sample. ``ToTensor`` on a uint8 image is ``to(float).div(255)``; doing
that once for the whole array gives bit-identical values, so the student's DataLoader, shuffling
RNG, batches and losses are unchanged. Anything else runs untouched.
"""

from __future__ import annotations

import importlib.abc
import importlib.machinery
import inspect
import sys
from typing import Any

import torch

_probe: Any = None
_patched: list[tuple[Any, str, Any]] = []


class _MnistFinder(importlib.abc.MetaPathFinder):
    """Patches torchvision's MNIST module right after it is imported."""

    def find_spec(self, fullname: str, path: Any, target: Any = None) -> Any:
        if fullname != "torchvision.datasets.mnist":
            return None
        spec = importlib.machinery.PathFinder.find_spec(fullname, path)
        if spec is None or spec.loader is None:
            return None
        original_exec = spec.loader.exec_module

        def exec_module(module: Any) -> None:
            original_exec(module)
            patch(module.MNIST)

        spec.loader.exec_module = exec_module  # type: ignore[method-assign]
        return spec


def _is_tv(obj: Any, name: str) -> bool:
    return type(obj).__name__ == name and type(obj).__module__.startswith("torchvision.transforms")


def _fast_plan(tf: Any) -> list[Any] | None:
    """The transforms to apply after ToTensor, or None when the fast path does not apply."""
    parts = list(tf.transforms) if _is_tv(tf, "Compose") else [tf]
    if not parts or not _is_tv(parts[0], "ToTensor"):
        return None
    rest = parts[1:]
    return rest if all(_is_tv(t, "Normalize") for t in rest) else None


def _enable_fast(ds: Any) -> None:
    post = _fast_plan(ds.transform)
    data = getattr(ds, "data", None)
    if post is None or not isinstance(data, torch.Tensor) or data.dtype != torch.uint8 or data.dim() != 3:
        return
    ds._grader_fast = (data.unsqueeze(1).to(torch.get_default_dtype()).div(255), post, ds.transform, data)


def patch(cls: Any) -> None:
    """Redirect ``cls.__init__`` to the grader's data and add the fast ``__getitem__``."""
    original = cls.__init__
    if getattr(original, "_grader", False):
        return
    sig = inspect.signature(original)
    resources = cls.resources
    original_getitem = cls.__getitem__

    def __init__(self: Any, *args: Any, **kwargs: Any) -> None:
        if _probe is None or type(self).resources is not resources:  # FashionMNIST etc. untouched
            return original(self, *args, **kwargs)
        bound = sig.bind(self, *args, **kwargs)
        requested, download = bound.arguments.get("root"), bound.arguments.get("download", False)
        bound.arguments["root"] = _probe.cfg["mnist_root"]
        bound.arguments["download"] = False  # never the network: the grader's data is already there
        original(*bound.args, **bound.kwargs)
        try:
            _probe.mnist_created(self, bool(bound.arguments.get("train", True)), requested, download)
            if _probe.cfg.get("fast_mnist", True):
                _enable_fast(self)
        except Exception as exc:
            _probe.error("mnist", exc)

    def __getitem__(self: Any, index: Any) -> Any:
        fast = self.__dict__.get("_grader_fast")
        # the student may swap .transform or .data later: then the original path is the truth
        if fast is None or self.transform is not fast[2] or self.data is not fast[3]:
            return original_getitem(self, index)
        img = fast[0][index]
        for t in fast[1]:
            img = t(img)
        target = int(self.targets[index])
        if self.target_transform is not None:
            target = self.target_transform(target)
        return img, target

    __init__._grader = True  # type: ignore[attr-defined]
    _patched.extend([(cls, "__init__", original), (cls, "__getitem__", original_getitem)])
    cls.__init__ = __init__
    cls.__getitem__ = __getitem__


def install(probe: Any) -> None:
    """Start redirecting MNIST for ``probe`` (already-imported torchvision is patched at once)."""
    global _probe
    _probe = probe
    sys.meta_path.insert(0, _MnistFinder())
    if "torchvision.datasets.mnist" in sys.modules:
        patch(sys.modules["torchvision.datasets.mnist"].MNIST)
    loaders = sys.modules.get("_grader_probe_loaders")  # Keras, scikit-learn, Hugging Face (probe_loaders.py)
    if loaders is not None:
        loaders.install(probe)


def uninstall() -> None:
    """Undo :func:`install`."""
    global _probe
    _probe = None
    loaders = sys.modules.get("_grader_probe_loaders")
    if loaders is not None:
        loaders.uninstall()
    sys.meta_path[:] = [f for f in sys.meta_path if not isinstance(f, _MnistFinder)]
    while _patched:
        cls, name, fn = _patched.pop()
        setattr(cls, name, fn)
