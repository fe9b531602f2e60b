"""The two cells the grader adds around a submission: probe set-up first, export last.

The probe's source is embedded in the cell (the kernel never imports ``grader``) and loaded as a
private module ``_grader_probe`` so none of its names leak into the student's namespace.
"""

from __future__ import annotations

import json
from importlib import resources
from typing import Any


def _source(name: str) -> str:
    return resources.files("grader.recording").joinpath(name).read_text(encoding="utf-8")


def _loader(module: str, source: str) -> str:
    return (
        "import sys as _s, types as _t\n"
        f"_m = _t.ModuleType({module!r})\n"
        f"exec(compile({source!r}, '<{module}>', 'exec'), _m.__dict__)\n"
        f"_s.modules[{module!r}] = _m\n"
    )


def setup_cell_source(config: dict[str, Any]) -> str:
    """Code of the first cell: load the probe and install its hooks with ``config``."""
    return (
        _loader("_grader_probe_mnist", _source("probe_mnist.py"))
        + _loader("_grader_probe", _source("probe.py"))
        + f"_m.install(__import__('json').loads({json.dumps(config)!r}))\n"
        + "del _s, _t, _m\n"
    )


def export_cell_source() -> str:
    """Code of the last cell: export every trained model's architecture and weights."""
    return _loader("_grader_probe_export", _source("probe_export.py")) + "_m.run_export()\ndel _s, _t, _m\n"
