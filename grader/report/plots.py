"""Small dependency-free inline-SVG charts for the reports (line charts with bands, histograms).

Every function returns one ``<svg>`` element as a string; labels are HTML-escaped here, so templates insert
the result with ``|safe``. Log-scale axes drop non-positive values.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from html import escape

PALETTE = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#17becf", "#8c564b", "#e377c2"]
_M = {"l": 56, "r": 12, "t": 26, "b": 40}


@dataclass
class Series:
    """One polyline: points (x, y), colour, stroke width, opacity."""

    label: str
    xs: Sequence[float]
    ys: Sequence[float]
    color: str = PALETTE[0]
    width: float = 2.0
    opacity: float = 1.0
    markers: bool = False
    legend: bool = True


@dataclass
class Band:
    """A shaded region between ``lo`` and ``hi`` over ``xs``."""

    xs: Sequence[float]
    lo: Sequence[float]
    hi: Sequence[float]
    color: str = "#999999"
    opacity: float = 0.25


@dataclass
class _Axes:
    x0: float
    x1: float
    y0: float
    y1: float
    log_y: bool
    w: int
    h: int
    t: float = _M["t"]

    def fy(self, y: float) -> float:
        if self.log_y:
            y, lo, hi = math.log10(y), math.log10(self.y0), math.log10(self.y1)
        else:
            lo, hi = self.y0, self.y1
        frac = (y - lo) / (hi - lo) if hi > lo else 0.5
        return self.t + (1 - frac) * (self.h - self.t - _M["b"])

    def fx(self, x: float) -> float:
        frac = (x - self.x0) / (self.x1 - self.x0) if self.x1 > self.x0 else 0.5
        return _M["l"] + frac * (self.w - _M["l"] - _M["r"])


def _nice_ticks(lo: float, hi: float, n: int = 5) -> list[float]:
    if hi <= lo:
        return [lo]
    raw = (hi - lo) / n
    mag = 10 ** math.floor(math.log10(raw))
    step = next(m * mag for m in (1, 2, 2.5, 5, 10) if m * mag >= raw)
    first = math.ceil(lo / step - 1e-9) * step
    return [round(first + i * step, 10) for i in range(int((hi - first) / step + 1e-9) + 1)]


def _fmt(v: float) -> str:
    if v != 0 and (abs(v) < 1e-3 or abs(v) >= 1e4):
        return f"{v:.0e}"
    return f"{v:g}"


def _frame(ax: _Axes, x_label: str, y_label: str, x_ticks: Sequence[float], integer_y: bool = False) -> list[str]:
    out = [f'<rect x="{_M["l"]}" y="{ax.t}" width="{ax.w - _M["l"] - _M["r"]}" '
           f'height="{ax.h - ax.t - _M["b"]}" fill="#fff" stroke="#ccc"/>']
    if ax.log_y:
        y_ticks = [10.0 ** e for e in range(math.floor(math.log10(ax.y0)), math.ceil(math.log10(ax.y1)) + 1)]
        y_ticks = [t for t in y_ticks if ax.y0 <= t <= ax.y1]
    else:
        y_ticks = _nice_ticks(ax.y0, ax.y1)
        if integer_y:
            y_ticks = [t for t in y_ticks if t == int(t)]
    for t in y_ticks:
        y = ax.fy(t)
        out.append(f'<line x1="{_M["l"]}" x2="{ax.w - _M["r"]}" y1="{y:.1f}" y2="{y:.1f}" stroke="#eee"/>'
                   f'<text x="{_M["l"] - 4}" y="{y + 4:.1f}" text-anchor="end">{_fmt(t)}</text>')
    for t in x_ticks:
        x = ax.fx(t)
        out.append(f'<text x="{x:.1f}" y="{ax.h - _M["b"] + 15}" text-anchor="middle">{_fmt(t)}</text>')
    out.append(f'<text x="{(ax.w + _M["l"]) / 2:.0f}" y="{ax.h - 6}" text-anchor="middle">{escape(x_label)}</text>'
               f'<text transform="translate(13 {(ax.h + ax.t - _M["b"]) / 2:.0f}) rotate(-90)" '
               f'text-anchor="middle">{escape(y_label)}</text>')
    return out


def _svg(w: int, h: int, title: str, body: list[str]) -> str:
    head = (f'<svg class="plot" viewBox="0 0 {w} {h}" width="{w}" '
            f'height="{h}" role="img" aria-label="{escape(title)}" font-size="11">')
    cap = f'<text x="{_M["l"]}" y="16" font-weight="bold" font-size="12">{escape(title)}</text>'
    return head + cap + "".join(body) + "</svg>"


def _y_range(values: list[float], log_y: bool, y_min: float | None) -> tuple[float, float]:
    if log_y:
        values = [v for v in values if v > 0]
    if not values:
        return (0.1, 1.0) if log_y else (0.0, 1.0)
    lo, hi = min(values), max(values)
    if log_y:
        return 10 ** math.floor(math.log10(lo)), 10 ** math.ceil(math.log10(hi))
    lo = y_min if y_min is not None else lo
    pad = (hi - lo) * 0.05 or 0.5
    return (lo if y_min is not None else lo - pad), hi + pad


def _points(ax: _Axes, xs: Sequence[float], ys: Sequence[float]) -> list[tuple[float, float]]:
    return [(ax.fx(x), ax.fy(y)) for x, y in zip(xs, ys, strict=False)
            if y is not None and math.isfinite(y) and (y > 0 or not ax.log_y)]


def _legend(width: int, series: Sequence[Series]) -> tuple[list[str], float]:
    """Legend entries laid out in rows above the plot area, and the plot's top edge below them."""
    out, x, y = [], float(_M["l"]), _M["t"] + 8
    for s in (s for s in series if s.legend):
        w = 30 + 6.2 * len(s.label)
        if x + w > width - _M["r"] and x > _M["l"]:
            x, y = float(_M["l"]), y + 15
        out.append(f'<line x1="{x:.0f}" x2="{x + 16:.0f}" y1="{y - 4}" y2="{y - 4}" stroke="{s.color}" '
                   f'stroke-width="3"/><text x="{x + 20:.0f}" y="{y}">{escape(s.label)}</text>')
        x += w
    return out, (y + 8 if out else _M["t"])


def line_chart(series: Sequence[Series], bands: Sequence[Band] = (), *, title: str = "", x_label: str = "",
               y_label: str = "", log_y: bool = False, y_min: float | None = None, width: int = 460,
               height: int = 270, x_ticks: Sequence[float] | None = None) -> str:
    """Line chart of ``series`` over shaded ``bands``; x range from the data, y linear or log10."""
    xs = [x for s in series for x in s.xs] + [x for b in bands for x in b.xs]
    ys = [y for s in series for y in s.ys if y is not None and math.isfinite(y)]
    ys += [v for b in bands for v in (*b.lo, *b.hi) if math.isfinite(v)]
    y0, y1 = _y_range(ys, log_y, y_min)
    legend, top = _legend(width, series)
    ax = _Axes(min(xs, default=0), max(xs, default=1), y0, y1, log_y, width, height + int(top - _M["t"]), top)
    ticks = x_ticks if x_ticks is not None else [t for t in _nice_ticks(ax.x0, ax.x1) if t == int(t)]
    body = _frame(ax, x_label, y_label, ticks)
    for b in bands:
        upper = _points(ax, b.xs, b.hi)
        lower = _points(ax, b.xs, [max(v, y0) for v in b.lo])
        if upper and lower:
            poly = " ".join(f"{x:.1f},{y:.1f}" for x, y in upper + lower[::-1])
            body.append(f'<polygon points="{poly}" fill="{b.color}" fill-opacity="{b.opacity}" stroke="none"/>')
    for s in series:
        pts = _points(ax, s.xs, s.ys)
        if len(pts) > 1:
            body.append(f'<polyline points="{" ".join(f"{x:.1f},{y:.1f}" for x, y in pts)}" fill="none" '
                        f'stroke="{s.color}" stroke-width="{s.width}" stroke-opacity="{s.opacity}" '
                        f'stroke-linejoin="round"/>')
        if s.markers or len(pts) == 1:
            body.extend(f'<circle cx="{x:.1f}" cy="{y:.1f}" r="3" fill="{s.color}"/>' for x, y in pts)
    return _svg(width, ax.h, title, body + legend)


def histogram(values: Sequence[float], *, lo: float, hi: float, bins: int = 10, title: str = "",
              x_label: str = "", y_label: str = "", band: tuple[float, float] | None = None,
              width: int = 460, height: int = 240, color: str = PALETTE[0]) -> str:
    """Histogram of ``values`` over [lo, hi] in ``bins`` bins, with an optional shaded x ``band``."""
    counts = [0] * bins
    for v in values:
        i = min(bins - 1, max(0, int((v - lo) / (hi - lo) * bins))) if hi > lo else 0
        counts[i] += 1
    ax = _Axes(lo, hi, 0, max(max(counts, default=0), 1) * 1.1, False, width, height)
    body = _frame(ax, x_label, y_label, _nice_ticks(lo, hi), integer_y=True)
    if band is not None:
        b0, b1 = ax.fx(max(lo, band[0])), ax.fx(min(hi, band[1]))
        body.append(f'<rect x="{b0:.1f}" y="{ax.t}" width="{max(b1 - b0, 1):.1f}" '
                    f'height="{height - ax.t - _M["b"]}" fill="#999" fill-opacity="0.3"/>')
    step = (hi - lo) / bins
    for i, c in enumerate(counts):
        x0, x1 = ax.fx(lo + i * step), ax.fx(lo + (i + 1) * step)
        y = ax.fy(c)
        body.append(f'<rect x="{x0 + 1:.1f}" y="{y:.1f}" width="{max(x1 - x0 - 2, 1):.1f}" '
                    f'height="{ax.fy(0) - y:.1f}" fill="{color}"><title>{c}</title></rect>')
        if c:
            body.append(f'<text x="{(x0 + x1) / 2:.1f}" y="{y - 3:.1f}" text-anchor="middle">{c}</text>')
    return _svg(width, height, title, body)
