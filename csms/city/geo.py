"""Distances and datums.

Rules:
1. Coordinates inside the CSMS are WGS-84 (what a GPS and OpenStreetMap give). Chinese web
   maps and the municipal platform use GCJ-02: convert at that edge with
   :func:`wgs84_to_gcj02` / :func:`gcj02_to_wgs84`, never store a mix.
2. :func:`distance_m` is the geodesic on the WGS-84 ellipsoid (Karney's algorithm, the
   ``geographiclib`` package), accurate to well under a millimetre. :func:`haversine_m` is the
   great circle on a sphere of the mean Earth radius: within 0.6 % of the geodesic, cheap, and
   used only to shortlist candidates before the geodesic decides.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Final

from geographiclib.geodesic import Geodesic

MEAN_EARTH_RADIUS_M: Final = 6_371_008.8  # IUGG mean radius R1
HAVERSINE_ERROR: Final = 0.006  # the sphere's worst relative error (0.56 % N-S at the equator)

_GCJ_A: Final = 6_378_245.0  # the Krasovsky semi-major axis GCJ-02 is defined with
_GCJ_EE: Final = 0.006_693_421_622_965_943


@dataclass(frozen=True, slots=True)
class LatLon:
    """A point in degrees (WGS-84 unless a function says otherwise)."""

    lat: float
    lon: float


def distance_m(a: LatLon, b: LatLon) -> float:
    """The geodesic distance on the WGS-84 ellipsoid, in metres."""
    result = Geodesic.WGS84.Inverse(a.lat, a.lon, b.lat, b.lon, Geodesic.DISTANCE)
    return float(result["s12"])


def haversine_m(a: LatLon, b: LatLon) -> float:
    """The great-circle distance on a sphere of the mean Earth radius, in metres."""
    phi1, phi2 = math.radians(a.lat), math.radians(b.lat)
    dphi, dlmb = phi2 - phi1, math.radians(b.lon - a.lon)
    h = math.sin(dphi / 2) ** 2 + math.cos(phi1) * math.cos(phi2) * math.sin(dlmb / 2) ** 2
    return 2 * MEAN_EARTH_RADIUS_M * math.asin(min(1.0, math.sqrt(h)))


def in_china(point: LatLon) -> bool:
    """The rough box GCJ-02 shifts; outside it GCJ-02 equals WGS-84."""
    return 72.004 <= point.lon <= 137.8347 and 0.8293 <= point.lat <= 55.8271


def wgs84_to_gcj02(point: LatLon) -> LatLon:
    """The published GCJ-02 transform of a WGS-84 point (identity outside China)."""
    if not in_china(point):
        return point
    dlat, dlon = _gcj_offset(point)
    return LatLon(point.lat + dlat, point.lon + dlon)


def gcj02_to_wgs84(point: LatLon, *, tolerance_deg: float = 1e-9) -> LatLon:
    """The WGS-84 point whose GCJ-02 is ``point``, by fixed-point iteration (to ~0.1 mm)."""
    guess = point
    for _ in range(30):
        shifted = wgs84_to_gcj02(guess)
        dlat, dlon = shifted.lat - point.lat, shifted.lon - point.lon
        if abs(dlat) < tolerance_deg and abs(dlon) < tolerance_deg:
            break
        guess = LatLon(guess.lat - dlat, guess.lon - dlon)
    return guess


def _gcj_offset(point: LatLon) -> tuple[float, float]:
    x, y = point.lon - 105.0, point.lat - 35.0
    dlat = (-100.0 + 2.0 * x + 3.0 * y + 0.2 * y * y + 0.1 * x * y
            + 0.2 * math.sqrt(abs(x)))
    dlat += (20.0 * math.sin(6.0 * x * math.pi) + 20.0 * math.sin(2.0 * x * math.pi)) * 2 / 3
    dlat += (20.0 * math.sin(y * math.pi) + 40.0 * math.sin(y / 3.0 * math.pi)) * 2 / 3
    dlat += (160.0 * math.sin(y / 12.0 * math.pi) + 320 * math.sin(y * math.pi / 30.0)) * 2 / 3
    dlon = 300.0 + x + 2.0 * y + 0.1 * x * x + 0.1 * x * y + 0.1 * math.sqrt(abs(x))
    dlon += (20.0 * math.sin(6.0 * x * math.pi) + 20.0 * math.sin(2.0 * x * math.pi)) * 2 / 3
    dlon += (20.0 * math.sin(x * math.pi) + 40.0 * math.sin(x / 3.0 * math.pi)) * 2 / 3
    dlon += (150.0 * math.sin(x / 12.0 * math.pi) + 300.0 * math.sin(x / 30.0 * math.pi)) * 2 / 3
    rad = point.lat / 180.0 * math.pi
    magic = 1 - _GCJ_EE * math.sin(rad) ** 2
    sqrt_magic = math.sqrt(magic)
    dlat = (dlat * 180.0) / ((_GCJ_A * (1 - _GCJ_EE)) / (magic * sqrt_magic) * math.pi)
    dlon = (dlon * 180.0) / (_GCJ_A / sqrt_magic * math.cos(rad) * math.pi)
    return dlat, dlon
