"""The site-load chart as an inline SVG: headroom (limit), allocated and measured power and
the base load (the building's, from the profile or a live reading) over a time window.
Pure: points in, markup out; no chart library, no JavaScript."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from html import escape

SERIES = (("limit_w", "#2e7d32", "Headroom"), ("allocated_w", "#1565c0", "Allocated"),
          ("measured_w", "#ef6c00", "Measured"), ("base_load_w", "#757575", "Base load"))


@dataclass(frozen=True, slots=True)
class Point:
    at: datetime
    limit_w: float
    allocated_w: float
    measured_w: float
    base_load_w: float = 0.0


def load_chart(points: Sequence[Point], start: datetime, end: datetime,
               labels: dict[str, str], width: int = 720, height: int = 240) -> str:
    """An SVG of the three series between ``start`` and ``end``; at most one vertex per
    pixel column per series (the last point of each column), so 24 h of 10-second passes
    stay a few hundred vertices. ``labels`` translates the legend."""
    left, right, top, bottom = 56, 10, 10, 28
    plot_w, plot_h = width - left - right, height - top - bottom
    span = max((end - start).total_seconds(), 1.0)
    peak = max([max(p.limit_w, p.allocated_w, p.measured_w, p.base_load_w) for p in points]
               + [1.0])
    top_kw = _nice(peak / 1000)

    def x(at: datetime) -> float:
        return left + plot_w * min(max((at - start).total_seconds() / span, 0.0), 1.0)

    def y(watts: float) -> float:
        return top + plot_h * (1 - min(watts / 1000 / top_kw, 1.0))

    parts = [f'<svg class="chart" xmlns="http://www.w3.org/2000/svg" width="{width}" '
             f'height="{height}" viewBox="0 0 {width} {height}" role="img">',
             f'<rect x="{left}" y="{top}" width="{plot_w}" height="{plot_h}" fill="none" '
             'stroke="#ccc"/>']
    for i in range(5):
        kw = top_kw * i / 4
        parts.append(f'<text x="{left - 4}" y="{y(kw * 1000) + 4:.1f}" font-size="11" '
                     f'text-anchor="end">{kw:g} kW</text>')
    for key, colour, _name in SERIES:
        columns: dict[int, tuple[float, float]] = {}
        for p in points:
            px = x(p.at)
            columns[int(px)] = (px, y(getattr(p, key)))
        if columns:
            path = " ".join(f"{px:.1f},{py:.1f}" for px, py in columns.values())
            parts.append(f'<polyline class="series" data-series="{key}" fill="none" '
                         f'stroke="{colour}" stroke-width="1.5" points="{path}"/>')
    for i, (_key, colour, name) in enumerate(SERIES):
        lx = left + 10 + i * 150
        parts.append(f'<rect x="{lx}" y="{height - 16}" width="12" height="4" '
                     f'fill="{colour}"/><text x="{lx + 16}" y="{height - 11}" '
                     f'font-size="11">{escape(labels.get(name, name))}</text>')
    parts.append("</svg>")
    return "".join(parts)


def _nice(kw: float) -> float:
    """A round axis top at or above ``kw``."""
    step = 1.0
    while step * 10 < kw:
        step *= 10
    for m in (1, 2, 5, 10):
        if step * m >= kw:
            return step * m
    return step * 10
