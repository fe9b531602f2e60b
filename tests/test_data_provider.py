"""Data providers: the built-in ones and an assignment's own (``[data] provider = "FILE.py:NAME"``)."""

from __future__ import annotations

from pathlib import Path

import pytest

from grader.data.provider import BUILTIN, get_provider
from grader.errors import AssignmentError

PROVIDER = '''
from pathlib import Path


class Tables:
    name = "tables"
    modes = ("small",)
    label = "the course's tables"

    def prepare(self, mode, data_dir):
        return None

    def probe_config(self, root, mode):
        return {"data_mode": mode}

    def fingerprint(self, root):
        return {"rows": 5}

    def split(self, root, train):
        return None


TABLES = Tables()
'''


def test_builtin_providers() -> None:
    mnist, none = get_provider("mnist"), get_provider("none")
    assert mnist.modes == ("subset", "full") and none.modes == ("none",)
    root = mnist.prepare("subset", None)
    assert root is not None and mnist.fingerprint(root) == {"train_images": 6000, "test_images": 1000}
    split = mnist.split(root, False)
    assert split is not None and tuple(split[0].shape) == (1000, 28, 28) and len(split[1]) == 1000
    assert mnist.probe_config(root, "subset")["mnist_root"] == str(root)
    assert none.prepare("none", None) is None and none.split(None, True) is None and "mnist_root" not in \
        none.probe_config(None, "none")
    assert set(BUILTIN) == {"mnist", "none"}


def test_an_assignments_own_provider(tmp_path: Path) -> None:
    (tmp_path / "tables.py").write_text(PROVIDER, encoding="utf-8")
    provider = get_provider("tables.py:TABLES", tmp_path)
    assert provider.modes == ("small",) and provider.fingerprint(None) == {"rows": 5}
    with pytest.raises(AssignmentError, match="lacks label, prepare"):
        (tmp_path / "bad.py").write_text("class P:\n    name = 'p'\n    modes = ('x',)\nP = P()\n", encoding="utf-8")
        get_provider("bad.py:P", tmp_path)
    with pytest.raises(AssignmentError, match="not found"):
        get_provider("nope.py:X", tmp_path)
    with pytest.raises(AssignmentError, match="use one of mnist, none or FILE.py:NAME"):
        get_provider("imagenet", tmp_path)
