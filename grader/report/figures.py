"""The report's figures: training curves over reference bands, run pairs, gradient flow, class charts.

Each function takes result/baseline dicts and the UI strings and returns an inline ``<svg>`` string
rendered by matplotlib (see ``grader.report.plots``), or '' when there is nothing to draw. Which runs a
``run_pair`` figure compares, and its texts, come from the assignment's ``[[figures]]``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from grader.report import plots, view
from grader.text import in_lang

if TYPE_CHECKING:
    from grader.assignment import FigureSpec

_ACT_COLORS = {"relu": ["#1f77b4", "#6baed6", "#08306b", "#4292c6"],
               "sigmoid": ["#d62728", "#fb6a4a", "#67000d", "#ef3b2c"]}
_PAIR_COLORS = (_ACT_COLORS["relu"][0], _ACT_COLORS["sigmoid"][0])


def _epoch_means(run: dict[str, Any]) -> list[float]:
    return [e["mean_loss"] for e in run.get("epochs") or [] if e.get("mean_loss") is not None]


def _steps_only(run: dict[str, Any]) -> bool:
    """A run without epochs (a full-batch loop): its curve is drawn over steps."""
    return run.get("has_epochs") is False and bool(run.get("step_losses"))


def _step_series(run: dict[str, Any], color: str, label: str) -> list[plots.Series]:
    """The per-step loss over a step axis (at most ~400 points)."""
    steps = [v for v in run.get("step_losses") or []]
    stride = max(1, len(steps) // 400)
    xs = [float(i + 1) for i in range(0, len(steps), stride)]
    ys = steps[::stride]
    keep = [(x, y) for x, y in zip(xs, ys, strict=False) if isinstance(y, (int, float))]
    return [plots.Series(label, [x for x, _ in keep], [y for _, y in keep], color, width=2.0)]


def _run_series(run: dict[str, Any], color: str, label: str) -> list[plots.Series]:
    """Thin per-step line (x in fractional epochs) under the thick per-epoch mean line; a run without epochs:
    its steps."""
    if _steps_only(run):
        return _step_series(run, color, label)
    means = _epoch_means(run)
    out = []
    steps = run.get("step_losses") or []
    if steps and means:
        per_epoch = max(len(steps) / max(len(means), 1), 1.0)
        stride = max(1, len(steps) // 400)
        xs = [0.5 + (i + 0.5) / per_epoch for i in range(0, len(steps), stride)]
        out.append(plots.Series(label, xs, steps[::stride], color, width=0.8, opacity=0.35, legend=False))
    out.append(plots.Series(label, list(range(1, len(means) + 1)), means, color, width=2.5, markers=True))
    return out


def _band(baseline: dict[str, Any] | None, run: dict[str, Any], n: int) -> list[plots.Band]:
    band = view.reference_band(baseline, view.safe_run_key(run))
    if band is None:
        return []
    m = max(n, 1) if n else len(band["lo"])
    return [plots.Band(list(range(1, m + 1)), band["lo"][:m], band["hi"][:m])]


def run_colors(runs: list[dict[str, Any]]) -> list[str]:
    """Blues for all-ReLU runs, reds for all-Sigmoid runs, other palette colours otherwise (stable per run)."""
    used: dict[str, int] = {}
    out = []
    for i, run in enumerate(runs):
        acts = set((run.get("model") or {}).get("hidden_activations") or [])
        kind = next(iter(acts)) if len(acts) == 1 else None
        shades = _ACT_COLORS.get(kind or "")
        n = used[kind or ""] = used.get(kind or "", -1) + 1
        out.append(shades[n % len(shades)] if shades else plots.PALETTE[2 + i % 6])
    return out


def run_curve(run: dict[str, Any], baseline: dict[str, Any] | None, t: dict[str, str], color: str) -> str:
    """Loss curve of one run over the reference band of its run key (over steps for a run without epochs)."""
    if _steps_only(run):
        series = _step_series(run, color, view.run_label(run))
        for s in series:
            s.legend = False
        return plots.line_chart(series, [], title=view.run_label(run), x_label=t.get("step", "step"),
                                y_label=t["loss"], y_min=0.0, width=440, height=260)
    means = _epoch_means(run)
    if not means:
        return ""
    series = _run_series(run, color, view.run_label(run))
    for s in series:
        s.legend = False
    return plots.line_chart(series, _band(baseline, run, len(means)),
                            title=view.run_label(run), x_label=t["epoch"], y_label=t["loss"], y_min=0.0,
                            width=440, height=260)


def _judged_run(result: dict[str, Any], runs: list[dict[str, Any]], check_id: str) -> dict[str, Any] | None:
    """The run (with a loss curve) that check ``check_id`` judged: its ``evidence.run``, else None."""
    check = next((c for c in result.get("checks") or [] if c.get("id") == check_id), None)
    index = ((check or {}).get("evidence") or {}).get("run")
    run = next((r for r in runs if isinstance(index, int) and r.get("index") == index), None)
    return run if run is not None and (_epoch_means(run) or _steps_only(run)) else None


def run_pair(spec: FigureSpec, result: dict[str, Any], runs: list[dict[str, Any]],
             baseline: dict[str, Any] | None, t: dict[str, str], lang: str) -> str:
    """The two runs the spec's checks judged, on one chart over their reference bands ('' unless both exist)."""
    if len(spec.checks) != 2 or len(spec.labels) != 2:
        return ""
    first, second = (_judged_run(result, runs, cid) for cid in spec.checks)
    if first is None or second is None:
        return ""
    series = [*_run_series(first, _PAIR_COLORS[0], f"{spec.labels[0]} ({view.run_label(first)})"),
              *_run_series(second, _PAIR_COLORS[1], f"{spec.labels[1]} ({view.run_label(second)})")]
    if _steps_only(first) != _steps_only(second):
        return ""  # one in epochs, one in steps: no common axis
    if _steps_only(first):
        return plots.line_chart(series, [], title=in_lang(spec.title, lang), x_label=t.get("step", "step"),
                                y_label=t["loss"], y_min=0.0, width=900, height=320)
    n = max(len(_epoch_means(first)), len(_epoch_means(second)))
    return plots.line_chart(series, _band(baseline, first, n) + _band(baseline, second, n),
                            title=in_lang(spec.title, lang), x_label=t["epoch"], y_label=t["loss"], y_min=0.0,
                            width=900, height=320)


def run_pairs(specs: tuple[FigureSpec, ...], result: dict[str, Any], runs: list[dict[str, Any]],
              baseline: dict[str, Any] | None, t: dict[str, str], lang: str) -> list[dict[str, str]]:
    """Every ``run_pair`` figure of the assignment: its title, its chart ('' when not drawn), its empty text."""
    return [{"title": in_lang(spec.title, lang), "svg": run_pair(spec, result, runs, baseline, t, lang),
             "empty": in_lang(spec.empty, lang)} for spec in specs if spec.kind == "run_pair"]


def gradient_flow(runs: list[dict[str, Any]], t: dict[str, str]) -> str:
    """Per-layer gradient norm at init (log scale), one line per run; Sigmoid runs red, ReLU blue.

    Each run also gets its own hollow marker (shrinking in size), line style and width, so runs with identical
    norms stay visible as nested shapes.
    """
    series = []
    for i, (run, color) in enumerate(zip(runs, run_colors(runs), strict=False)):
        norms = (run.get("gradient_flow") or {}).get("init_norms") or []
        if not norms:
            continue
        series.append(plots.Series(view.run_label(run), list(range(1, len(norms) + 1)), norms, color,
                                   width=2.4 - 0.4 * (i % 4), markers=True, hollow=True,
                                   marker=plots.MARKERS[i % len(plots.MARKERS)], marker_size=10 - 1.5 * (i % 4),
                                   linestyle=plots.LINESTYLES[i % len(plots.LINESTYLES)]))
    if not series:
        return ""
    n = max(len(s.xs) for s in series)
    return plots.line_chart(series, title=t["gradflow"], x_label=t["layer"], y_label="‖∇W‖", log_y=True,
                            width=900, height=300, x_ticks=list(range(1, n + 1)))


def score_histogram(rows: list[dict[str, Any]], t: dict[str, str]) -> str:
    """Histogram of the students' scores on 0..max."""
    top = max((float(r["max"] or 0) for r in rows), default=100.0) or 100.0
    return plots.histogram([r["score"] for r in rows], lo=0.0, hi=top, bins=10, title=t["histogram"],
                           x_label=t["score"], y_label=t["count"], width=440)


def accuracy_histogram(rows: list[dict[str, Any]], band: tuple[float, float] | None, t: dict[str, str]) -> str:
    """Histogram of the submissions' accuracies with the reference accuracy ``band`` shaded ('' without either)."""
    values = [r["accuracy"] for r in rows if r["accuracy"] is not None]
    if not values and band is None:
        return ""
    lo = min([*values, *(band or (1.0,))], default=0.0)
    lo = max(0.0, min(0.8, int(lo * 10) / 10))
    return plots.histogram(values, lo=lo, hi=1.0, bins=20, title=t["acc_dist"], x_label=t["accuracy"],
                           y_label=t["count"], band=band, color=plots.PALETTE[2], width=440)
