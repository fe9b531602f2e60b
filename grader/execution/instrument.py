"""The two cells the grader adds around a submission: probe set-up first, export last.

The kernel-side modules' sources are embedded in the cells (the kernel never imports ``grader``) and
loaded as private modules (``_grader_probe`` and friends) so none of their names leak into the
student's namespace. :func:`load_in_process` loads the same modules into the current process, for
benchmarks and tests that exercise the probe without a kernel.
"""

from __future__ import annotations

import json
import sys
import types
from importlib import resources
from typing import Any

# (module name in the kernel, source file in grader/recording), in load order
PROBE_MODULES = (("_grader_probe_graph", "probe_graph.py"), ("_grader_probe_mnist", "probe_mnist.py"),
                 ("_grader_probe_guard", "probe_guard.py"), ("_grader_probe_device", "probe_device.py"),
                 ("_grader_probe_doctor", "probe_doctor.py"), ("_grader_probe_proof", "probe_proof.py"),
                 ("_grader_probe", "probe.py"))
EXPORT_MODULE = ("_grader_probe_export", "probe_export.py")


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
        "".join(_loader(name, _source(file)) for name, file in PROBE_MODULES)
        + f"_m.install(__import__('json').loads({json.dumps(config)!r}))\n"
        + "del _s, _t, _m\n"
    )


def export_cell_source() -> str:
    """Code of the last cell: export every trained model's architecture and weights."""
    return _loader(EXPORT_MODULE[0], _source(EXPORT_MODULE[1])) + "_m.run_export()\ndel _s, _t, _m\n"


def load_in_process(export: bool = False) -> types.ModuleType:
    """Load the kernel-side modules into this process as the set-up cell does and return the probe module;
    with ``export=True`` load only the export module (the installed probe stays) and return it."""
    for name, file in (EXPORT_MODULE,) if export else PROBE_MODULES:
        mod = types.ModuleType(name)
        exec(compile(_source(file), f"<{name}>", "exec"), mod.__dict__)
        sys.modules[name] = mod
    return sys.modules[EXPORT_MODULE[0] if export else "_grader_probe"]
