"""Reference tolerance bands: run the instructor's solution for several seeds, store mean ± sd.

``baseline-<mode>.json`` holds, per reference run (keyed by :func:`run_kind`, e.g. ``relu_adam``), the
per-epoch mean train loss and test accuracy over the seeds, plus provenance.
"""

from __future__ import annotations

import json
import platform
import statistics
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from grader import __version__
from grader.assignment import Assignment
from grader.errors import AssignmentError, GraderError

BASELINE_SCHEMA = 1


def load_baseline(assignment: Assignment, mode: str) -> dict[str, Any] | None:
    """The stored baseline for ``mode``, or None when there is none yet."""
    path = assignment.baseline_path(mode)
    if not path.exists():
        return None
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except ValueError as exc:
        raise AssignmentError(f"{path}: invalid JSON: {exc}") from exc
    if data.get("schema_version") != BASELINE_SCHEMA:
        raise AssignmentError(f"{path}: unsupported baseline schema {data.get('schema_version')!r}")
    return data  # type: ignore[no-any-return]


def run_kind(hidden_activations: list[str | None], optimizer_family: str, decorations: list[str]) -> str:
    """The kind of a run, which reference runs of a baseline are keyed by: ``relu_adam``, ``sigmoid_sgd``,
    ``none_sgd`` (no hidden layer), ``relu_adam_batchnorm_maxpool`` (the layer decorations' kinds, sorted)."""
    acts = list(hidden_activations)
    if not acts or all(a is None for a in acts):
        act = "none"
    else:
        act = acts[0] if len(set(acts)) == 1 and acts[0] else "mixed"
    kinds = sorted({d.split()[0].lower() for d in decorations if d and d.split()[0] != "Flatten"})
    return "_".join([act, optimizer_family, *kinds])


def run_key(run: dict[str, Any]) -> str:
    """:func:`run_kind` of a result's run entry (``runs[i]``)."""
    model = run.get("model") or {}
    return run_kind(model.get("hidden_activations") or [], run["optimizer"]["family"], model.get("decorations") or [])


def _cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _sd(values: list[float]) -> float:
    return statistics.stdev(values) if len(values) > 1 else 0.0


def summarise(results: list[dict[str, Any]], seeds: list[int], mode: str) -> dict[str, Any]:
    """Fold the result dicts of several seeded reference runs into a baseline."""
    per_key: dict[str, list[dict[str, Any]]] = {}
    for res in results:
        for run in res["runs"]:
            if run["epochs_completed"]:
                per_key.setdefault(run_key(run), []).append(run)
    runs = {}
    for key, items in per_key.items():
        curves = [[e["mean_loss"] for e in r["epochs"] if e["complete"]] for r in items]
        n = min(len(c) for c in curves)
        accs = [r["accuracy"]["value"] for r in items if r["accuracy"]["value"] is not None]
        runs[key] = {
            "n_seeds": len(items), "optimizer": items[0]["optimizer"]["torch_class"],
            "hparams": items[0]["optimizer"]["hparams"], "widths": items[0]["model"].get("widths"),
            "epoch_loss_mean": [statistics.fmean(c[i] for c in curves) for i in range(n)],
            "epoch_loss_sd": [_sd([c[i] for c in curves]) for i in range(n)],
            "accuracy_mean": statistics.fmean(accs) if accs else None,
            "accuracy_sd": _sd(accs) if accs else None, "accuracies": accs,
            "grad_ratio_init": items[0]["gradient_flow"]["init_ratio"],
        }
    first = results[0] if results else {}
    return {
        "schema_version": BASELINE_SCHEMA, "mode": mode, "runs": runs,
        "provenance": {"seeds": seeds, "device": first.get("device"), "torch": first.get("versions", {}).get("torch"),
                       "grader": __version__, "machine": platform.machine(), "processor": _cpu_name(),
                       "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
                       "solution_sha256": first.get("submission", {}).get("sha256")},
    }


def build_reference(assignment: Assignment, mode: str, seeds: list[int],
                    grade: Callable[[Path, int], dict[str, Any]], solution: Path | None = None) -> Path:
    """Grade the solution once per seed with ``grade(path, seed)`` and write the baseline file."""
    solution = solution or assignment.solution_path()
    if not solution.exists():
        raise AssignmentError(f"{solution}: reference solution not found")
    results = []
    for seed in seeds:
        res = grade(solution, seed)
        if res["status"] != "graded":
            raise GraderError(f"reference run with seed {seed} ended as {res['status']}: {res.get('message')}; "
                              f"errors: {res.get('errors')}")
        results.append(res)
    path = assignment.baseline_path(mode)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(summarise(results, seeds, mode), indent=1), encoding="utf-8")
    return path
