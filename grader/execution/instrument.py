"""The cells the grader adds around a submission: probe set-up first, export last, then the facts cell.

The kernel-side modules' sources are embedded in the cells (the kernel never imports ``grader``) and
loaded as private modules (``_grader_probe`` and friends) so none of their names leak into the
student's namespace. The export and facts modules are loaded by their own cells, after the notebook ran, so no
notebook cell can have replaced them. :func:`load_in_process` loads the same modules into the current process,
for benchmarks and tests that exercise the probe without a kernel.
"""

from __future__ import annotations

import json
import sys
import types
from importlib import resources
from typing import Any

# (module name in the kernel, source file in grader/recording), in load order
PROBE_MODULES = (("_grader_probe_graph", "probe_graph.py"), ("_grader_probe_mnist", "probe_mnist.py"),
                 ("_grader_probe_loaders", "probe_loaders.py"),
                 ("_grader_probe_guard", "probe_guard.py"), ("_grader_probe_device", "probe_device.py"),
                 ("_grader_probe_doctor", "probe_doctor.py"), ("_grader_probe_proof", "probe_proof.py"),
                 ("_grader_probe_colab", "probe_colab.py"), ("_grader_probe", "probe.py"))
EXPORT_MODULE = ("_grader_probe_export", "probe_export.py")
FACTS_MODULE = ("_grader_probe_facts", "probe_facts.py")
# as in probe_facts.py (a test keeps them in step): a fact's default and largest time limit
FACT_TIMEOUT_S, FACT_MAX_TIMEOUT_S = 10.0, 600.0
FACTS_CELL_SLACK_S = 5.0  # the facts cell's limit beyond the sum of its facts' limits


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
        + f"_p = _m.install(__import__('json').loads({json.dumps(config)!r}))\n"
        + "_s.modules['_grader_probe_colab'].install(_p, _p.cfg)\n"  # Colab stand-ins, after the probe's hooks
        + "del _s, _t, _m, _p\n"
    )


def export_cell_source() -> str:
    """Code of the last cell: export every trained model's architecture and weights."""
    return _loader(EXPORT_MODULE[0], _source(EXPORT_MODULE[1])) + "_m.run_export()\ndel _s, _t, _m\n"


def facts_cell_source(specs: list[dict[str, Any]], token: str, sink: dict[str, Any]) -> str:
    """Code of the facts cell (after the export cell): evaluate ``specs`` in the student's namespace and write
    the results, after a ``facts_start`` marker carrying ``token``, to ``sink`` (``{"events_fd": n}`` or
    ``{"events_path": p}``, as in the probe config). The specs reach the kernel only here, after the notebook ran."""
    call = (f"_m.run_facts(__import__('json').loads({json.dumps(specs)!r}), {token!r}, "
            f"__import__('json').loads({json.dumps(sink)!r}))\n")
    return _loader(FACTS_MODULE[0], _source(FACTS_MODULE[1])) + call + "del _s, _t, _m\n"


def facts_cell_timeout(specs: list[dict[str, Any]]) -> float:
    """The facts cell's time limit: the sum of its facts' limits (``timeout_s``, default 10 s) plus a few seconds."""
    total = 0.0
    for spec in specs:
        t = spec.get("timeout_s") if isinstance(spec, dict) else None
        if isinstance(t, (int, float)) and not isinstance(t, bool) and 0 < t < float("inf"):
            total += min(float(t), FACT_MAX_TIMEOUT_S)
        else:
            total += FACT_TIMEOUT_S
    return total + FACTS_CELL_SLACK_S + 0.1 * len(specs)


def load_in_process(export: bool = False, facts: bool = False) -> types.ModuleType:
    """Load the kernel-side modules into this process as the set-up cell does and return the probe module;
    with ``export=True`` (``facts=True``) load only the export (facts) module and return it (the installed
    probe stays)."""
    only = EXPORT_MODULE if export else FACTS_MODULE if facts else None
    for name, file in (only,) if only else PROBE_MODULES:
        mod = types.ModuleType(name)
        exec(compile(_source(file), f"<{name}>", "exec"), mod.__dict__)
        sys.modules[name] = mod
    return sys.modules[only[0] if only else "_grader_probe"]
