"""The coverage map as an SVG picture: communities coloured by verdict, sites with their radius.

Rules:
1. A local equirectangular projection about the centre of what is drawn: metres east and north
   scaled alike, so a radius circle is a circle. Over a city (tens of km) the distortion is
   far below a pixel at the default width.
2. Covered communities are green, uncovered red; unlocated ones cannot be drawn and are only
   counted in the caption. Each mark has a ``<title>`` (its name, nearest site, distance), so
   a browser shows it on hover. Names are XML-escaped.
3. A scale bar of the radius and a legend; no external fonts, scripts or images, so the file
   renders offline and in a report.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Final
from xml.sax.saxutils import escape, quoteattr

from csms.city.coverage import CoverageReport, Verdict
from csms.city.geo import LatLon

COLOURS: Final = {Verdict.COVERED: "#2e9d4f", Verdict.UNCOVERED: "#d43c2f"}
SITE_COLOUR: Final = "#1f4e9c"
_M_PER_DEG_LAT: Final = 111_132.954  # close enough for the picture's scale (rule 1)
_MARGIN_PX: Final = 40
_TOP_PX: Final = 40  # the title line
_MIN_SPAN_M: Final = 200.0


def coverage_svg(report: CoverageReport, *, title: str = "1 km coverage",
                 width_px: int = 900) -> str:
    """The report as a standalone SVG document."""
    drawn = [c for c in report.communities if c.community.position is not None]
    points = [c.community.position for c in drawn if c.community.position is not None]
    points += [position for _, position in report.sites]
    frame = _frame(points, report.radius_m, width_px)
    height_px, project = frame.height_px, frame.project
    radius_px = report.radius_m / frame.m_per_px
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width_px}" height="{height_px + 70}"'
        f' viewBox="0 0 {width_px} {height_px + 70}" font-family="sans-serif" font-size="12">',
        f"<title>{escape(title)}</title>",
        f'<rect width="{width_px}" height="{height_px + 70}" fill="#ffffff"/>',
        f'<text x="{_MARGIN_PX}" y="24" font-size="16">{escape(title)}</text>',
    ]
    for _, position in report.sites:
        x, y = project(position)
        out.append(f'<circle cx="{x:.1f}" cy="{y:.1f}" r="{radius_px:.1f}" fill="{SITE_COLOUR}"'
                   f' fill-opacity="0.08" stroke="{SITE_COLOUR}" stroke-opacity="0.5"/>')
    for site, position in report.sites:
        x, y = project(position)
        out.append(f'<rect x="{x - 4:.1f}" y="{y - 4:.1f}" width="8" height="8"'
                   f' fill="{SITE_COLOUR}"><title>{escape(site.name)}</title></rect>')
    for item in drawn:
        assert item.community.position is not None
        x, y = project(item.community.position)
        tip = item.community.name
        if item.nearest_site is not None and item.distance_m is not None:
            tip += f" — {item.nearest_site.name}, {item.distance_m:.0f} m"
        out.append(f'<circle cx="{x:.1f}" cy="{y:.1f}" r="5" fill="{COLOURS[item.verdict]}"'
                   f' stroke="#000" stroke-width="0.5" data-verdict={quoteattr(item.verdict)}>'
                   f"<title>{escape(tip)}</title></circle>")
    out.extend(_legend(report, height_px, radius_px))
    out.append("</svg>")
    return "\n".join(out) + "\n"


@dataclass(frozen=True, slots=True)
class _Frame:
    """Where a point lands on the picture (rule 1)."""

    lat0: float
    lon0: float
    left_m: float
    top_m: float
    m_per_px: float
    height_px: int

    def metres(self, p: LatLon) -> tuple[float, float]:
        east = (p.lon - self.lon0) * _M_PER_DEG_LAT * math.cos(math.radians(self.lat0))
        return east, (p.lat - self.lat0) * _M_PER_DEG_LAT

    def project(self, p: LatLon) -> tuple[float, float]:
        east, north = self.metres(p)
        return (_MARGIN_PX + (east - self.left_m) / self.m_per_px,
                _TOP_PX + _MARGIN_PX + (self.top_m - north) / self.m_per_px)


def _frame(points: Iterable[LatLon], radius_m: float, width_px: int) -> _Frame:
    pts = list(points) or [LatLon(0.0, 0.0)]
    lat0 = (min(p.lat for p in pts) + max(p.lat for p in pts)) / 2
    lon0 = (min(p.lon for p in pts) + max(p.lon for p in pts)) / 2
    centred = _Frame(lat0, lon0, 0.0, 0.0, 1.0, 0)
    xy = [centred.metres(p) for p in pts]
    left, right = min(x for x, _ in xy) - radius_m, max(x for x, _ in xy) + radius_m
    bottom, top = min(y for _, y in xy) - radius_m, max(y for _, y in xy) + radius_m
    span_m = max(right - left, top - bottom, _MIN_SPAN_M)  # one point: still a picture
    m_per_px = span_m / (width_px - 2 * _MARGIN_PX)
    height_px = int((top - bottom) / m_per_px) + 2 * _MARGIN_PX
    return _Frame(lat0, lon0, left, top, m_per_px, height_px)


def _legend(report: CoverageReport, height_px: int, radius_px: float) -> list[str]:
    counts = dict.fromkeys(Verdict, 0)
    for item in report.communities:
        counts[item.verdict] += 1
    y = height_px + 50
    km = report.radius_m / 1000
    return [
        f'<line x1="{_MARGIN_PX}" y1="{y}" x2="{_MARGIN_PX + radius_px:.1f}" y2="{y}"'
        ' stroke="#000" stroke-width="2"/>',
        f'<text x="{_MARGIN_PX}" y="{y - 6}">{km:g} km</text>',
        f'<circle cx="{_MARGIN_PX + radius_px + 30:.1f}" cy="{y - 4}" r="5"'
        f' fill="{COLOURS[Verdict.COVERED]}"/>',
        f'<text x="{_MARGIN_PX + radius_px + 40:.1f}" y="{y}">covered'
        f" {counts[Verdict.COVERED]}</text>",
        f'<circle cx="{_MARGIN_PX + radius_px + 150:.1f}" cy="{y - 4}" r="5"'
        f' fill="{COLOURS[Verdict.UNCOVERED]}"/>',
        f'<text x="{_MARGIN_PX + radius_px + 160:.1f}" y="{y}">uncovered'
        f" {counts[Verdict.UNCOVERED]}</text>",
        f'<rect x="{_MARGIN_PX + radius_px + 280:.1f}" y="{y - 8}" width="8" height="8"'
        f' fill="{SITE_COLOUR}"/>',
        f'<text x="{_MARGIN_PX + radius_px + 292:.1f}" y="{y}">site ({len(report.sites)})'
        f" · unlocated communities {counts[Verdict.UNLOCATED]}</text>",
    ]
