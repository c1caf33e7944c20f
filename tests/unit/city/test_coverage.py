"""Service-radius coverage over hand-made points with distances known without the library:
arcs of the equator (exactly a × Δλ on the WGS-84 ellipsoid), and the ellipsoid's flattening
that makes a degree of latitude shorter than a degree of longitude there."""

from __future__ import annotations

import math
import xml.etree.ElementTree as ET

import pytest
from hypothesis import given
from hypothesis import strategies as st

from csms.city.coverage import CommunityPlace, SitePlace, Verdict, coverage, nearest
from csms.city.coverage_map import coverage_svg
from csms.city.geo import (
    HAVERSINE_ERROR,
    LatLon,
    distance_m,
    gcj02_to_wgs84,
    haversine_m,
    in_china,
    wgs84_to_gcj02,
)

A = 6_378_137.0  # WGS-84 semi-major axis


def equator_m(degrees: float) -> float:
    """The length of an arc of the equator: the geodesic along it, exactly."""
    return A * math.radians(degrees)


def community(key: int, lat: float | None, lon: float | None, district: int = 1
              ) -> CommunityPlace:
    at = None if lat is None or lon is None else LatLon(lat, lon)
    return CommunityPlace(key, f"community {key}", district, at)


def site(key: int, community_id: int, lat: float | None = None, lon: float | None = None
         ) -> SitePlace:
    at = None if lat is None or lon is None else LatLon(lat, lon)
    return SitePlace(key, f"site {key}", community_id, at)


class TestDistance:
    def test_an_arc_of_the_equator(self) -> None:
        assert equator_m(0.01) == pytest.approx(1113.1949, abs=1e-3)
        assert distance_m(LatLon(0, 0), LatLon(0, 0.01)) == pytest.approx(equator_m(0.01),
                                                                         abs=1e-6)

    def test_a_degree_of_latitude_is_shorter_than_one_of_longitude_at_the_equator(self) -> None:
        """The ellipsoid, not a sphere: the haversine has both the same."""
        north = distance_m(LatLon(0, 0), LatLon(0.01, 0))
        east = distance_m(LatLon(0, 0), LatLon(0, 0.01))
        assert north == pytest.approx(1105.74, abs=0.05)  # 110,574.3 m a degree there
        assert east - north > 7
        assert haversine_m(LatLon(0, 0), LatLon(0.01, 0)) == pytest.approx(
            haversine_m(LatLon(0, 0), LatLon(0, 0.01)))

    @given(st.floats(-60, 60), st.floats(-179, 179), st.floats(-0.05, 0.05),
           st.floats(-0.05, 0.05))
    def test_the_haversine_is_within_its_stated_error(self, lat: float, lon: float, dlat: float,
                                                     dlon: float) -> None:
        a, b = LatLon(lat, lon), LatLon(lat + dlat, lon + dlon)
        exact = distance_m(a, b)
        assert abs(haversine_m(a, b) - exact) <= HAVERSINE_ERROR * exact + 1e-6


class TestGcj02:
    def test_kunming_is_shifted_by_a_few_hundred_metres_and_back(self) -> None:
        wgs = LatLon(25.0430, 102.7040)
        gcj = wgs84_to_gcj02(wgs)
        assert 100 < distance_m(wgs, gcj) < 1000
        back = gcj02_to_wgs84(gcj)
        assert distance_m(wgs, back) < 0.01

    def test_outside_china_nothing_moves(self) -> None:
        paris = LatLon(48.8566, 2.3522)
        assert not in_china(paris)
        assert paris == wgs84_to_gcj02(paris) == gcj02_to_wgs84(paris)


class TestCoverage:
    def test_the_radius_decides_and_its_boundary_counts_as_covered(self) -> None:
        communities = [community(1, 0, 0), community(2, 0, 0.02), community(3, 0, 0.0089)]
        sites = [site(10, 3)]  # no coordinates: at community 3
        report = coverage(communities, sites, equator_m(0.0089))
        verdicts = {c.community.id: (c.verdict, c.distance_m) for c in report.communities}
        assert verdicts[1][0] is Verdict.COVERED  # exactly on the radius
        assert verdicts[1][1] == pytest.approx(equator_m(0.0089), abs=1e-6)
        assert verdicts[2][0] is Verdict.UNCOVERED
        assert verdicts[2][1] == pytest.approx(equator_m(0.0111), abs=1e-6)
        assert verdicts[3] == (Verdict.COVERED, 0.0)
        shorter = coverage(communities, sites, equator_m(0.0089) - 0.01)
        assert shorter.communities[0].verdict is Verdict.UNCOVERED

    def test_the_geodesic_not_the_haversine_picks_the_nearest_site(self) -> None:
        """North 0.01° is 1105.7 m, east 0.00995° is 1107.6 m: the sphere says east."""
        north, east = LatLon(0.01, 0), LatLon(0, 0.00995)
        origin = LatLon(0, 0)
        assert haversine_m(origin, east) < haversine_m(origin, north)
        sites = [(site(1, 9, east.lat, east.lon), east), (site(2, 9, north.lat, north.lon), north)]
        found = nearest(origin, sites)
        assert found is not None
        assert found[0].id == 2
        assert found[2] == pytest.approx(distance_m(origin, north))

    def test_a_site_in_another_district_covers_a_community(self) -> None:
        communities = [community(1, 0, 0, district=1), community(2, 0, 0.005, district=2)]
        report = coverage(communities[:1], [site(5, 2)], 1000, anchors=communities)
        [only] = report.communities
        assert only.verdict is Verdict.COVERED
        assert only.nearest_site is not None
        assert only.nearest_site.id == 5
        assert only.distance_m == pytest.approx(equator_m(0.005), abs=1e-6)

    def test_what_cannot_be_judged_is_unlocated(self) -> None:
        report = coverage([community(1, None, None), community(2, 0, 0)], [], 1000)
        assert [Verdict.UNLOCATED, Verdict.UNLOCATED] == [c.verdict for c in report.communities]
        no_site_position = coverage([community(1, 0, 0), community(2, None, None)],
                                    [site(1, 2)], 1000)
        assert no_site_position.communities[0].verdict is Verdict.UNLOCATED
        assert () == no_site_position.sites

    def test_districts_are_summarised(self) -> None:
        communities = [community(1, 0, 0, 1), community(2, 0, 0.05, 1), community(3, None, 0, 2),
                       community(4, 0, 0.001, 2)]
        report = coverage(communities, [site(1, 1)], 1000)
        [one, two] = report.districts
        assert (one.district_id, one.communities, one.covered, one.uncovered) == (1, 2, 1, 1)
        assert (two.district_id, two.covered, two.unlocated) == (2, 1, 1)
        assert one.covered_share == 0.5
        assert two.covered_share == 1.0
        assert [2] == [c.community.id for c in report.uncovered()]


class TestMap:
    def test_every_located_community_is_drawn_in_its_colour_and_names_are_escaped(self) -> None:
        communities = [community(1, 25.04, 102.70), community(2, 25.10, 102.70),
                       CommunityPlace(3, "<A & B>", 1, LatLon(25.041, 102.701)),
                       community(4, None, None)]
        report = coverage(communities, [site(1, 1)], 1000)
        svg = coverage_svg(report, title="五华区 <1 km>")
        root = ET.fromstring(svg)  # noqa: S314 - our own SVG
        ns = "{http://www.w3.org/2000/svg}"
        marks = [c.get("data-verdict", "") for c in root.iter(f"{ns}circle")
                 if c.get("data-verdict")]
        assert sorted(marks) == ["covered", "covered", "uncovered"]
        titles = [t.text for t in root.iter(f"{ns}title")]
        assert "五华区 <1 km>" in titles
        assert any(text and text.startswith("<A & B>") for text in titles)

    def test_the_radius_circle_has_the_radius_on_the_scale(self) -> None:
        """Rule 1: metres east and north are scaled alike; the scale bar is the radius."""
        report = coverage([community(1, 25.0, 102.7), community(2, 25.0, 102.8)],
                          [site(1, 1), site(2, 2)], 1000)
        root = ET.fromstring(coverage_svg(report, width_px=900))  # noqa: S314 - our own SVG
        ns = "{http://www.w3.org/2000/svg}"
        rings = [c for c in root.iter(f"{ns}circle") if c.get("fill-opacity")]
        [bar] = list(root.iter(f"{ns}line"))
        bar_px = float(bar.get("x2", 0)) - float(bar.get("x1", 0))
        assert 2 == len(rings)
        assert float(rings[0].get("r", 0)) == pytest.approx(bar_px, abs=0.1)
        centres = sorted(float(r.get("cx", 0)) for r in rings)
        apart_m = distance_m(LatLon(25.0, 102.7), LatLon(25.0, 102.8))
        assert (centres[1] - centres[0]) / bar_px * 1000 == pytest.approx(apart_m, rel=0.01)
