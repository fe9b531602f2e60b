"""The report's figures: training curves over reference bands, ReLU vs Sigmoid, gradient flow, class charts.

Each function takes result/baseline dicts and the UI strings and returns an inline ``<svg>`` string
(see ``grader.report.plots``), or '' when there is nothing to draw.
"""

from __future__ import annotations

from typing import Any

from grader.report import plots, view

_ACT_COLORS = {"relu": "#1f77b4", "sigmoid": "#d62728"}


def _epoch_means(run: dict[str, Any]) -> list[float]:
    return [e["mean_loss"] for e in run.get("epochs") or [] if e.get("mean_loss") is not None]


def _run_series(run: dict[str, Any], color: str, label: str) -> list[plots.Series]:
    """Thin per-step line (x in fractional epochs) under the thick per-epoch mean line."""
    means = _epoch_means(run)
    out = []
    steps = run.get("step_losses") or []
    if steps and means:
        per_epoch = max(len(steps) / max(len(means), 1), 1.0)
        stride = max(1, len(steps) // 400)
        xs = [(i + 1) / per_epoch + 0.0 for i in range(0, len(steps), stride)]
        out.append(plots.Series(label, xs, steps[::stride], color, width=0.8, opacity=0.35, legend=False))
    out.append(plots.Series(label, list(range(1, len(means) + 1)), means, color, width=2.5, markers=True))
    return out


def _band(baseline: dict[str, Any] | None, run: dict[str, Any], n: int) -> list[plots.Band]:
    band = view.reference_band(baseline, view.safe_run_key(run))
    if band is None:
        return []
    m = max(n, 1) if n else len(band["lo"])
    return [plots.Band(list(range(1, m + 1)), band["lo"][:m], band["hi"][:m])]


def run_curve(run: dict[str, Any], baseline: dict[str, Any] | None, t: dict[str, str],
              color: str = plots.PALETTE[0]) -> str:
    """Loss curve of one run over the reference band of its run key."""
    means = _epoch_means(run)
    if not means:
        return ""
    return plots.line_chart(_run_series(run, color, view.run_label(run)), _band(baseline, run, len(means)),
                            title=view.run_label(run), x_label=t["epoch"], y_label=t["loss"], y_min=0.0,
                            width=440, height=260)


def relu_vs_sigmoid(runs: list[dict[str, Any]], baseline: dict[str, Any] | None, t: dict[str, str]) -> str:
    """The first ReLU and first Sigmoid runs with the same optimizer family on one chart (task 2)."""
    by_key: dict[str, dict[str, Any]] = {}
    for run in runs:
        if _epoch_means(run):
            by_key.setdefault(view.safe_run_key(run), run)
    for family in ("adam", "sgd", *(k.split("_", 1)[1] for k in by_key if "_" in k)):
        relu, sig = by_key.get(f"relu_{family}"), by_key.get(f"sigmoid_{family}")
        if relu and sig:
            series = [*_run_series(relu, _ACT_COLORS["relu"], f"ReLU ({view.run_label(relu)})"),
                      *_run_series(sig, _ACT_COLORS["sigmoid"], f"Sigmoid ({view.run_label(sig)})")]
            n = max(len(_epoch_means(relu)), len(_epoch_means(sig)))
            bands = _band(baseline, relu, n) + _band(baseline, sig, n)
            return plots.line_chart(series, bands, title=t["relu_vs_sigmoid"], x_label=t["epoch"],
                                    y_label=t["loss"], y_min=0.0, width=900, height=320)
    return ""


def gradient_flow(runs: list[dict[str, Any]], t: dict[str, str]) -> str:
    """Per-layer gradient norm at init (log scale), one line per run; Sigmoid runs red, ReLU blue."""
    series = []
    for i, run in enumerate(runs):
        norms = (run.get("gradient_flow") or {}).get("init_norms") or []
        if not norms:
            continue
        acts = set((run.get("model") or {}).get("hidden_activations") or [])
        color = _ACT_COLORS.get(next(iter(acts)), plots.PALETTE[(i + 2) % 8]) if len(acts) == 1 else "#555"
        series.append(plots.Series(view.run_label(run), list(range(1, len(norms) + 1)), norms, color,
                                   width=2.0, markers=True))
    if not series:
        return ""
    n = max(len(s.xs) for s in series)
    return plots.line_chart(series, title=t["gradflow"], x_label=t["layer"], y_label="‖∇W‖", log_y=True,
                            width=900, height=300, x_ticks=list(range(1, n + 1)))


def score_histogram(rows: list[dict[str, Any]], t: dict[str, str]) -> str:
    """Histogram of the students' scores on 0..max."""
    top = max((float(r["max"] or 0) for r in rows), default=100.0) or 100.0
    return plots.histogram([r["score"] for r in rows], lo=0.0, hi=top, bins=10, title=t["histogram"],
                           x_label=t["score"], y_label=t["count"])


def accuracy_histogram(rows: list[dict[str, Any]], baseline: dict[str, Any] | None, t: dict[str, str]) -> str:
    """Histogram of the measured test accuracies with the reference accuracy band shaded."""
    values = [r["accuracy"] for r in rows if r["accuracy"] is not None]
    band = view.accuracy_band(baseline)
    lo = min([*values, *(band or (1.0,))], default=0.0)
    lo = max(0.0, min(0.8, int(lo * 10) / 10))
    return plots.histogram(values, lo=lo, hi=1.0, bins=20, title=t["acc_dist"], x_label=t["accuracy"],
                           y_label=t["count"], band=band, color=plots.PALETTE[2])
