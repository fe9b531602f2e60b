"""In the kernel: serve the grader's MNIST to the other libraries' MNIST loaders, offline.

Imports only the standard library and torch. Like ``probe_mnist.py`` for torchvision, an import hook patches a
loader the moment the student's library is imported (it is never imported here), so the same split and mode the
grader serves to ``torchvision.datasets.MNIST`` reaches:

* Keras / TensorFlow: ``keras.datasets.mnist.load_data()`` (also ``tf.keras``, ``tf_keras``, ``keras.src``) →
  ``((x_train, y_train), (x_test, y_test))``, uint8 numpy arrays ``(N, 28, 28)`` and ``(N,)``;
* scikit-learn: ``fetch_openml('mnist_784')`` (or ``data_id=554``) → a ``Bunch`` with ``data`` ``(N, 784)``
  float64 (a DataFrame of ``pixel1``..``pixel784`` when ``as_frame``), ``target`` the strings ``'0'``..``'9'``
  (a categorical Series ``class`` when ``as_frame``), train images first, then test, as OpenML orders them;
* Hugging Face ``datasets``: ``load_dataset('mnist')`` / ``'ylecun/mnist'`` → a ``DatasetDict`` with ``train`` and
  ``test`` (``image``: PIL grayscale, ``label``: ClassLabel '0'..'9'), or the ``split=`` asked for.

numpy, pandas and PIL are imported only inside a patched loader: the student's library depends on them anyway.
Every served split is recorded as a ``dataset`` event (``loader`` names the library).
"""

from __future__ import annotations

import importlib
import importlib.abc
import inspect
import os
import re
import struct
import sys
from typing import Any

import torch

_probe: Any = None
_patched: list[tuple[Any, str, Any]] = []
_cache: dict[bool, tuple[torch.Tensor, torch.Tensor]] = {}
_KERAS = re.compile(r"^(keras|tf_keras|tensorflow)(\.\w+)*\.datasets\.mnist$")
_HF_NAMES = ("mnist", "ylecun/mnist")
_HF_SPLIT = re.compile(r"^(train|test)(?:\[(-?\d*)(%?):(-?\d*)(%?)\])?$")


def _targets(fullname: str) -> tuple[tuple[str, Any], ...]:
    """(attribute, wrapper factory) to patch in the module ``fullname``."""
    if _KERAS.match(fullname):
        return (("load_data", _wrap_keras),)
    if fullname in ("sklearn.datasets._openml", "sklearn.datasets"):
        return (("fetch_openml", _wrap_openml),)
    if fullname in ("datasets.load", "datasets"):
        return (("load_dataset", _wrap_hf),)
    return ()


class _LoaderFinder(importlib.abc.MetaPathFinder):
    """Patches a loader right after its module is imported (the spec comes from the other finders)."""

    def find_spec(self, fullname: str, path: Any, target: Any = None) -> Any:
        if not _targets(fullname):
            return None
        spec = None
        for finder in sys.meta_path:
            if finder is self or isinstance(finder, _LoaderFinder) or not hasattr(finder, "find_spec"):
                continue
            spec = finder.find_spec(fullname, path, target)
            if spec is not None:
                break
        if spec is None or spec.loader is None or not hasattr(spec.loader, "exec_module"):
            return spec
        original_exec = spec.loader.exec_module

        def exec_module(module: Any) -> None:
            original_exec(module)
            patch_module(module)

        spec.loader.exec_module = exec_module  # type: ignore[method-assign]
        return spec


def patch_module(module: Any) -> None:
    """Wrap the module's MNIST loader (once)."""
    for attr, factory in _targets(getattr(module, "__name__", "")):
        fn = getattr(module, attr, None)
        if fn is None or getattr(fn, "_grader", False) or not callable(fn):
            continue
        wrapper = factory(fn)
        wrapper._grader = True
        _patched.append((module, attr, fn))
        setattr(module, attr, wrapper)


# ------------------------------------------------------------------------------------------ the grader's data
def _read_idx(path: str) -> torch.Tensor:
    with open(path, "rb") as f:
        data = f.read()
    _zero, _code, ndim = struct.unpack(">HBB", data[:4])
    dims = struct.unpack(f">{ndim}I", data[4:4 + 4 * ndim])
    return torch.frombuffer(bytearray(data[4 + 4 * ndim:]), dtype=torch.uint8).reshape(dims)


def split(train: bool) -> tuple[torch.Tensor, torch.Tensor]:
    """(images uint8 N x 28 x 28, labels uint8 N) of the served split (read once per kernel)."""
    if train not in _cache:
        raw = os.path.join(str(_probe.cfg["mnist_root"]), "MNIST", "raw")
        prefix = "train" if train else "t10k"
        _cache[train] = (_read_idx(os.path.join(raw, f"{prefix}-images-idx3-ubyte")),
                         _read_idx(os.path.join(raw, f"{prefix}-labels-idx1-ubyte")))
    return _cache[train]


def _served(loader: str, obj: Any, splits: tuple[bool, ...] = (True, False)) -> None:
    """Record the splits a loader served."""
    try:
        for train in splits:
            _probe.emit("dataset", ds=id(obj), split="train" if train else "test", n_items=len(split(train)[1]),
                        transform=None, transforms=[], normalize=None, requested_root=f"<{loader}>",
                        download=False, loader=loader)
    except Exception as exc:  # noqa: BLE001 - the recording must never break the student's cell
        _probe.error("loaders", exc)


# ------------------------------------------------------------------------------------------------- Keras
def _wrap_keras(original: Any) -> Any:
    def load_data(*args: Any, **kwargs: Any) -> Any:
        if _probe is None:
            return original(*args, **kwargs)
        (xtr, ytr), (xte, yte) = split(True), split(False)
        out = ((xtr.numpy().copy(), ytr.numpy().copy()), (xte.numpy().copy(), yte.numpy().copy()))
        _served("keras", out)
        return out

    load_data.__doc__ = original.__doc__
    return load_data


# ---------------------------------------------------------------------------------------------- sklearn
def _is_openml_mnist(arguments: dict[str, Any]) -> bool:
    name, data_id = arguments.get("name"), arguments.get("data_id")
    return (isinstance(name, str) and name.strip().lower() == "mnist_784") or data_id in (554, "554")


def _wrap_openml(original: Any) -> Any:
    sig = inspect.signature(original)

    def fetch_openml(*args: Any, **kwargs: Any) -> Any:
        try:
            bound = sig.bind(*args, **kwargs)
        except TypeError:
            return original(*args, **kwargs)
        if _probe is None or not _is_openml_mnist(bound.arguments):
            return original(*args, **kwargs)
        bound.apply_defaults()
        bunch = _openml_bunch(bool(bound.arguments["as_frame"]))  # "auto" is a frame for this dense set
        _served("sklearn", bunch)
        return (bunch.data, bunch.target) if bound.arguments.get("return_X_y") else bunch

    fetch_openml.__doc__ = original.__doc__
    return fetch_openml


def _lib(name: str) -> Any:
    """A library the student's loader itself depends on (numpy, pandas, PIL...), imported only when it is called."""
    return importlib.import_module(name)


def _openml_bunch(as_frame: bool) -> Any:
    np, bunch = _lib("numpy"), _lib("sklearn.utils").Bunch

    (xtr, ytr), (xte, yte) = split(True), split(False)
    images = torch.cat([xtr, xte]).reshape(-1, 784).to(torch.float64).numpy()
    classes = [str(i) for i in range(10)]
    target = np.array([classes[int(v)] for v in torch.cat([ytr, yte]).tolist()], dtype=object)
    names = [f"pixel{i}" for i in range(1, 785)]
    details = {"id": "554", "name": "mnist_784", "version": "1", "format": "ARFF", "default_target_attribute": "class"}
    common = {"feature_names": names, "target_names": ["class"], "details": details,
              "url": "https://www.openml.org/d/554",
              "DESCR": "MNIST (mnist_784), served by the grader from its own copy: training images first, then test"}
    if not as_frame:
        return bunch(data=images, target=target, frame=None, categories={"class": classes}, **common)
    pd = _lib("pandas")

    data = pd.DataFrame(images, columns=names)
    series = pd.Series(pd.Categorical(target, categories=classes), name="class")
    return bunch(data=data, target=series, frame=pd.concat([data, series], axis=1), categories=None, **common)


# ---------------------------------------------------------------------------------------- Hugging Face
def _wrap_hf(original: Any) -> Any:
    sig = inspect.signature(original)

    def load_dataset(*args: Any, **kwargs: Any) -> Any:
        try:
            bound = sig.bind(*args, **kwargs)
        except TypeError:
            return original(*args, **kwargs)
        path = bound.arguments.get("path")
        wanted = bound.arguments.get("split")
        if _probe is None or not isinstance(path, str) or path.strip().lower() not in _HF_NAMES \
                or not _hf_split_ok(wanted):
            return original(*args, **kwargs)
        out = _hf_dataset(wanted, bool(bound.arguments.get("streaming", False)))
        _served("datasets", out)
        return out

    load_dataset.__doc__ = original.__doc__
    return load_dataset


def _hf_split_ok(wanted: Any) -> bool:
    if wanted is None:
        return True
    items = wanted if isinstance(wanted, list) else [wanted]
    return all(isinstance(s, str) and _HF_SPLIT.match(s.replace(" ", "")) for s in items)


def _hf_dataset(wanted: Any, streaming: bool) -> Any:
    """A DatasetDict (no ``split``), a Dataset or a list of them, as ``load_dataset`` gives."""
    hf = _lib("datasets")
    features = hf.Features({"image": hf.Image(), "label": hf.ClassLabel(names=[str(i) for i in range(10)])})

    def one(spec: str) -> Any:
        m = _HF_SPLIT.match(spec.replace(" ", ""))
        assert m is not None
        images, labels = split(m.group(1) == "train")
        n = len(labels)
        start, stop = _bound(m.group(2), m.group(3), n, 0), _bound(m.group(4), m.group(5), n, n)
        ds = _hf_split(hf, features, images[start:stop], labels[start:stop])
        return ds.to_iterable_dataset() if streaming else ds

    if wanted is None:
        built = {name: one(name) for name in ("train", "test")}
        return hf.IterableDatasetDict(built) if streaming else hf.DatasetDict(built)
    return [one(s) for s in wanted] if isinstance(wanted, list) else one(wanted)


def _bound(value: str | None, percent: str | None, n: int, default: int) -> int:
    if not value:
        return default
    v = int(value)
    if percent:
        v = round(n * v / 100)
    return max(0, min(n, v + n if v < 0 else v))


def _hf_split(hf: Any, features: Any, images: torch.Tensor, labels: torch.Tensor) -> Any:
    image = _lib("PIL.Image")
    pil = [image.fromarray(a) for a in images.numpy()]  # uint8 (28, 28): mode "L", as the Hub's
    return hf.Dataset.from_dict({"image": pil, "label": labels.tolist()}, features=features)


# ------------------------------------------------------------------------------------------- install
def install(probe: Any) -> None:
    """Start serving the loaders for ``probe`` (libraries already imported are patched at once)."""
    global _probe
    _probe = probe
    sys.meta_path.insert(0, _LoaderFinder())
    for name in list(sys.modules):
        if _targets(name) and sys.modules.get(name) is not None:
            patch_module(sys.modules[name])


def uninstall() -> None:
    """Undo :func:`install`."""
    global _probe
    _probe = None
    _cache.clear()
    sys.meta_path[:] = [f for f in sys.meta_path if not isinstance(f, _LoaderFinder)]
    while _patched:
        module, attr, fn = _patched.pop()
        setattr(module, attr, fn)
