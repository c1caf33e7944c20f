"""Service-radius coverage: is there a public charging site within the radius of each community?

Rules:
1. A community's position is its coordinates; a site's is its own coordinates, or, when it has
   none, its community's (a site belongs to the community it stands in).
2. Distances are geodesics on the WGS-84 ellipsoid (:func:`csms.city.geo.distance_m`). The
   nearest site is found by shortlisting with the haversine (every site within 1.2 % of the
   best haversine distance) and deciding with the geodesic, so the answer is the geodesic's.
3. A community is *covered* when its nearest site is at most ``radius_m`` away (the boundary
   counts as covered). A community without coordinates, or a city without located sites,
   cannot be judged: it is *unlocated*, listed apart and neither covered nor uncovered.
4. Districts are summarised in the order of their ids; each community counts in its own
   district, while the nearest site may stand anywhere in the city.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from enum import StrEnum

from csms.city.geo import HAVERSINE_ERROR, LatLon, distance_m, haversine_m


class Verdict(StrEnum):
    COVERED = "covered"
    UNCOVERED = "uncovered"
    UNLOCATED = "unlocated"


@dataclass(frozen=True, slots=True)
class CommunityPlace:
    id: int
    name: str
    district_id: int
    position: LatLon | None


@dataclass(frozen=True, slots=True)
class SitePlace:
    id: int
    name: str
    community_id: int
    position: LatLon | None  # None: at its community (rule 1)


@dataclass(frozen=True, slots=True)
class CommunityCoverage:
    community: CommunityPlace
    verdict: Verdict
    nearest_site: SitePlace | None = None
    nearest_site_position: LatLon | None = None
    distance_m: float | None = None


@dataclass(frozen=True, slots=True)
class DistrictCoverage:
    district_id: int
    communities: int
    covered: int
    uncovered: int
    unlocated: int

    @property
    def covered_share(self) -> float | None:
        """Covered among the judged communities (None when none could be judged)."""
        judged = self.covered + self.uncovered
        return None if judged == 0 else self.covered / judged


@dataclass(frozen=True, slots=True)
class CoverageReport:
    radius_m: float
    communities: tuple[CommunityCoverage, ...]
    districts: tuple[DistrictCoverage, ...]
    sites: tuple[tuple[SitePlace, LatLon], ...]  # every located site, with its position

    def uncovered(self) -> tuple[CommunityCoverage, ...]:
        return tuple(c for c in self.communities if c.verdict is Verdict.UNCOVERED)


def site_positions(sites: Iterable[SitePlace],
                   communities: Iterable[CommunityPlace]) -> tuple[tuple[SitePlace, LatLon], ...]:
    """Every site that has a position (its own or its community's), by site id."""
    at = {c.id: c.position for c in communities}
    located = []
    for site in sorted(sites, key=lambda s: s.id):
        position = site.position or at.get(site.community_id)
        if position is not None:
            located.append((site, position))
    return tuple(located)


def nearest(point: LatLon, sites: Sequence[tuple[SitePlace, LatLon]]
            ) -> tuple[SitePlace, LatLon, float] | None:
    """The site nearest ``point`` by geodesic distance (ties: the lower site id)."""
    if not sites:
        return None
    rough = [haversine_m(point, position) for _, position in sites]
    bound = min(rough) * (1 + 2 * HAVERSINE_ERROR) + 1.0
    best: tuple[SitePlace, LatLon, float] | None = None
    for (site, position), approx in zip(sites, rough, strict=True):
        if approx > bound:
            continue
        exact = distance_m(point, position)
        if best is None or exact < best[2]:
            best = (site, position, exact)
    return best


def coverage(communities: Sequence[CommunityPlace], sites: Sequence[SitePlace],
             radius_m: float, *, anchors: Sequence[CommunityPlace] | None = None
             ) -> CoverageReport:
    """Each community's nearest site and verdict, and the summary per district.

    ``anchors`` are the communities that place sites without coordinates of their own
    (rule 1); default ``communities``. Pass every community when judging only some.
    """
    located = site_positions(sites, communities if anchors is None else anchors)
    results = []
    for community in sorted(communities, key=lambda c: c.id):
        found = None if community.position is None else nearest(community.position, located)
        if found is None:
            results.append(CommunityCoverage(community, Verdict.UNLOCATED))
            continue
        site, position, metres = found
        verdict = Verdict.COVERED if metres <= radius_m else Verdict.UNCOVERED
        results.append(CommunityCoverage(community, verdict, site, position, metres))
    return CoverageReport(radius_m, tuple(results), summarise(results), located)


def summarise(results: Sequence[CommunityCoverage]) -> tuple[DistrictCoverage, ...]:
    """The verdicts counted per district (rule 4)."""
    counts: dict[int, dict[Verdict, int]] = {}
    for result in results:
        tally = counts.setdefault(result.community.district_id, dict.fromkeys(Verdict, 0))
        tally[result.verdict] += 1
    return tuple(
        DistrictCoverage(district_id, sum(tally.values()), tally[Verdict.COVERED],
                         tally[Verdict.UNCOVERED], tally[Verdict.UNLOCATED])
        for district_id, tally in sorted(counts.items()))
