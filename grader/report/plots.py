"""Report charts drawn with matplotlib (object API on an Agg canvas) and embedded as inline SVG.

Every chart function returns one ``<svg class="plot">`` element as a string, ready for ``|safe`` in the
templates: no XML prolog, DOCTYPE or metadata, element ids prefixed per chart so several charts can share a
page. Text is drawn as glyph paths (``svg.fonttype = "path"``), so Korean labels render without the viewer
having a Korean font; the ``svg.hashsalt`` is fixed so the same data gives byte-identical SVG. Data artists
carry an id containing ``plotdata`` (the pages' self-check looks for them). pyplot is never imported and
rcParams are only changed inside :func:`matplotlib.rc_context`.
"""

from __future__ import annotations

import hashlib
import io
import math
import re
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from html import escape
from pathlib import Path
from typing import Any

from matplotlib import font_manager, rc_context
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter, LogLocator, MaxNLocator, NullFormatter

PALETTE = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#17becf", "#8c564b", "#e377c2"]
MARKERS = ["o", "s", "^", "D", "v", "P", "X", "*"]
LINESTYLES = ["-", "--", "-.", ":"]
CJK_FONTS = ("NanumGothic", "NanumBarunGothic", "Noto Sans CJK KR", "Noto Sans KR", "Malgun Gothic",
             "AppleGothic")
FALLBACK_FONT = "DejaVu Sans"
_CJK_FILES = {"nanumgothic", "nanumgothicbold", "nanumbarungothic", "nanumbarungothicbold"}
_DPI = 72  # 1 pt == 1 px, so the requested pixel sizes are the SVG's user units
_SALT = "grader-report"
_MARGIN = {"l": 58, "r": 14, "t": 28, "b": 38}  # px around the plot area


@dataclass
class Series:
    """One line: points (x, y), colour, width, opacity; optional markers and line style."""

    label: str
    xs: Sequence[float]
    ys: Sequence[float]
    color: str = PALETTE[0]
    width: float = 2.0
    opacity: float = 1.0
    markers: bool = False
    legend: bool = True
    marker: str = "o"
    linestyle: str = "-"
    hollow: bool = False
    marker_size: float | None = None


@dataclass
class Band:
    """A shaded region between ``lo`` and ``hi`` over ``xs``."""

    xs: Sequence[float]
    lo: Sequence[float]
    hi: Sequence[float]
    color: str = "#999999"
    opacity: float = 0.25


@lru_cache(maxsize=1)
def font_family() -> tuple[str, ...]:
    """DejaVu Sans, then an installed Korean font (registered if matplotlib's font cache predates it) for Hangul.

    DejaVu comes first so Latin text, mathtext minus signs and ``‖∇`` use it; glyphs it lacks fall back.
    """
    names = {f.name for f in font_manager.fontManager.ttflist}
    if not names.intersection(CJK_FONTS):
        for path in font_manager.findSystemFonts():
            if Path(path).stem.lower() in _CJK_FILES:
                try:
                    font_manager.fontManager.addfont(path)
                except (OSError, RuntimeError, ValueError):
                    continue
        names = {f.name for f in font_manager.fontManager.ttflist}
    return (FALLBACK_FONT, *[n for n in CJK_FONTS if n in names][:1])


def _rc() -> dict[Any, Any]:
    # with a Korean font, text becomes glyph paths (same look everywhere); without one, it stays <text> and the
    # viewer's browser draws it with its own fonts (Hangul included) instead of matplotlib's empty boxes
    fonttype = "path" if len(font_family()) > 1 else "none"
    return {"svg.fonttype": fonttype, "svg.hashsalt": _SALT, "font.family": list(font_family()), "font.size": 10,
            "axes.spines.top": False, "axes.spines.right": False, "axes.edgecolor": "#888888",
            "axes.grid": True, "grid.color": "#e6e6e6", "grid.linewidth": 0.8, "axes.axisbelow": True,
            "xtick.color": "#444444", "ytick.color": "#444444", "axes.labelcolor": "#333333",
            "legend.fontsize": 9, "legend.frameon": False, "axes.unicode_minus": False}


def _embed(svg: str, width: int, height: int, title: str) -> str:
    """matplotlib's SVG document as an inline element: no prolog/metadata, unique ids, pixel size, label."""
    svg = re.sub(r"<metadata>.*?</metadata>\s*", "", svg[svg.index("<svg"):], flags=re.S).strip()
    prefix = "c" + hashlib.sha1(svg.encode()).hexdigest()[:10] + "-"
    svg = re.sub(r'\bid="([^"]+)"', lambda m: f'id="{prefix}{m[1]}"', svg)
    svg = re.sub(r'(url\(#|href="#)', lambda m: m[1] + prefix, svg)
    # no xmlns: HTML's parser puts inline <svg> (and xlink:href) in the right namespaces without a URL
    head = (f'<svg class="plot" width="{width}" height="{height}" viewBox="0 0 {width} {height}" role="img" '
            f'aria-label="{escape(title)}">')
    return head + svg[svg.index(">") + 1:]


def _render(draw: Callable[[Axes], None], width: int, height: int, title: str, legend_rows: int = 0) -> str:
    """Draw on a fresh figure (``height`` plus room for ``legend_rows`` legend rows) and return inline SVG.

    Margins are fixed in pixels (a layout engine would double the render time).
    """
    height += 16 * legend_rows
    with rc_context(_rc()), warnings.catch_warnings():
        # no Korean font here: the text is left to the browser (svg.fonttype none), the layout warnings are moot
        warnings.filterwarnings("ignore", message=r"Glyph \d+ .*missing from font")
        fig = Figure(figsize=(width / _DPI, height / _DPI), dpi=_DPI)
        FigureCanvasAgg(fig)
        top = _MARGIN["t"] + 16 * legend_rows
        fig.subplots_adjust(left=_MARGIN["l"] / width, right=1 - _MARGIN["r"] / width,
                            bottom=_MARGIN["b"] / height, top=1 - top / height)
        ax = fig.add_subplot()
        if title:
            fig.text(_MARGIN["l"] / width, 1 - 6 / height, title, ha="left", va="top", fontsize=11, color="#222222")
        draw(ax)
        buf = io.StringIO()
        fig.savefig(buf, format="svg", dpi=_DPI, metadata={"Date": None, "Creator": None})
    return _embed(buf.getvalue(), width, height, title)


def _clean(xs: Sequence[float], ys: Sequence[float], log_y: bool) -> tuple[list[float], list[float]]:
    """Pairs with a finite y (positive on a log axis); the rest become gaps (NaN)."""
    out_y = [float(y) if y is not None and math.isfinite(y) and (y > 0 or not log_y) else math.nan
             for y in ys[:len(xs)]]
    return [float(x) for x in xs[:len(out_y)]], out_y


def _draw_series(ax: Axes, series: Sequence[Series], log_y: bool, start: int = 0) -> None:
    for i, s in enumerate(series, start):
        xs, ys = _clean(s.xs, s.ys, log_y)
        single = sum(not math.isnan(y) for y in ys) == 1
        ax.plot(xs, ys, color=s.color, linewidth=s.width, alpha=s.opacity, linestyle=s.linestyle,
                marker=s.marker if s.markers or single else "", markersize=s.marker_size or (5 if s.width > 1 else 3),
                fillstyle="none" if s.hollow else "full", markeredgewidth=1.3,
                label=s.label if s.legend else "_nolegend_", gid=f"plotdata-{i}", solid_joinstyle="round")


def _draw_bands(ax: Axes, bands: Sequence[Band], log_y: bool) -> None:
    for i, b in enumerate(bands):
        n = min(len(b.xs), len(b.lo), len(b.hi))
        lo = [max(v, 1e-300) if log_y else v for v in b.lo[:n]]
        ax.fill_between(list(b.xs[:n]), lo, list(b.hi[:n]), color=b.color, alpha=b.opacity, linewidth=0,
                        gid=f"plotdata-band-{i}")


def _fmt(v: float, _pos: object = None) -> str:
    """Plain-text tick label (mathtext is slow): ``1e-05``, ``0.01``, ``100``."""
    if v != 0 and (abs(v) < 1e-3 or abs(v) >= 1e4):
        return f"{v:.0e}"
    return f"{v:g}"


def _log_axis(ax: Axes, series: Sequence[Series]) -> None:
    """log10 y axis over whole decades, labelled in plain text, no minor labels."""
    ys = [y for s in series for y in _clean(s.xs, s.ys, True)[1] if not math.isnan(y)]
    ax.set_yscale("log")
    if ys:
        ax.set_ylim(10 ** math.floor(math.log10(min(ys))), 10 ** math.ceil(math.log10(max(ys))))
    ax.yaxis.set_major_locator(LogLocator(base=10, numticks=12))
    ax.yaxis.set_major_formatter(FuncFormatter(_fmt))
    ax.yaxis.set_minor_formatter(NullFormatter())


def _legend_cols(series: Sequence[Series], width: int) -> tuple[int, int]:
    """Columns and rows of the legend above the plot area (0 rows when no series is labelled)."""
    labels = [s.label for s in series if s.legend]
    if not labels:
        return 0, 0
    cols = max(1, min(len(labels), (width - _MARGIN["l"]) // (40 + 6 * max(map(len, labels)))))
    return cols, -(-len(labels) // cols)


def line_chart(series: Sequence[Series], bands: Sequence[Band] = (), *, title: str = "", x_label: str = "",
               y_label: str = "", log_y: bool = False, y_min: float | None = None, width: int = 460,
               height: int = 270, x_ticks: Sequence[float] | None = None) -> str:
    """Line chart of ``series`` over shaded ``bands``; x range from the data, y linear or log10."""
    def draw(ax: Axes) -> None:
        _draw_bands(ax, bands, log_y)
        _draw_series(ax, series, log_y)
        if log_y:
            _log_axis(ax, series)
        ax.set_xlabel(x_label)
        ax.set_ylabel(y_label)
        if x_ticks is not None:
            ax.set_xticks(list(x_ticks))
        else:
            ax.xaxis.set_major_locator(MaxNLocator(nbins=8, integer=True))
        if y_min is not None and not log_y:
            ax.set_ylim(bottom=y_min)
        ax.margins(x=0.02)
        if cols:
            ax.legend(loc="lower left", bbox_to_anchor=(0, 1.01), ncols=cols, borderaxespad=0, handlelength=2.6)
    cols, rows = _legend_cols(series, width)
    return _render(draw, width, height, title, rows)


def _bin_counts(values: Sequence[float], lo: float, hi: float, bins: int) -> list[int]:
    counts = [0] * bins
    for v in values:
        i = min(bins - 1, max(0, int((v - lo) / (hi - lo) * bins))) if hi > lo else 0
        counts[i] += 1
    return counts


def histogram(values: Sequence[float], *, lo: float, hi: float, bins: int = 10, title: str = "",
              x_label: str = "", y_label: str = "", band: tuple[float, float] | None = None,
              width: int = 460, height: int = 240, color: str = PALETTE[0]) -> str:
    """Histogram of ``values`` over [lo, hi] in ``bins`` bins, with an optional shaded x ``band``."""
    counts = _bin_counts(values, lo, hi, bins)
    step = (hi - lo) / bins

    def draw(ax: Axes) -> None:
        if band is not None:
            ax.axvspan(max(lo, band[0]), min(hi, band[1]), color="#999999", alpha=0.3, linewidth=0,
                       gid="plotdata-band")
        bars = ax.bar([lo + i * step for i in range(bins)], counts, width=step * 0.9, align="edge", color=color)
        for i, patch in enumerate(bars.patches):
            patch.set_gid(f"plotdata-{i}")
        ax.bar_label(bars, labels=[str(c) if c else "" for c in counts], fontsize=8, padding=2)
        ax.set_xlim(lo, hi)
        ax.set_ylim(0, max(max(counts, default=0), 1) * 1.18)
        ax.yaxis.set_major_locator(MaxNLocator(integer=True))
        ax.grid(axis="x", visible=False)
        ax.set_xlabel(x_label)
        ax.set_ylabel(y_label)
    return _render(draw, width, height, title)
