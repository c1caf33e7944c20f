"""Service-radius coverage: the nearest public charging site of each community, per district.

Rules:
1. Read with the organisation family. A scoped token sees its own communities (a district
   token: its district's) and, as their nearest sites, any site of the city (public sites
   are public); asking for a district outside the scope is 403.
2. ``radius_m`` overrides ``[city] service_radius_m`` for one answer, so "what if 800 m"
   needs no restart. Distances are geodesics on the WGS-84 ellipsoid, in metres (0.1 m).
3. The JSON lists the communities page by page (``verdict`` filters them); the district
   summary always covers every community in scope. The SVG map is one standalone picture.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Query, Response, status
from pydantic import BaseModel

from csms.api.access import Family, Principal
from csms.api.deps import CsmsDep, require
from csms.api.models import FORBIDDEN, MAX_ID, Page, PagingDep, page_of
from csms.api.routes.city.organisation import visible_districts
from csms.api.scope import visible_communities
from csms.app import Csms
from csms.city.coverage import CommunityCoverage, CoverageReport, Verdict, coverage
from csms.city.coverage_map import coverage_svg
from csms.store.city import district_names, places

router = APIRouter(tags=["city: coverage"])
Reader = Annotated[Principal, Depends(require(Family.ORGANISATION, "read"))]
DistrictQuery = Annotated[int | None, Query(ge=1, le=MAX_ID, description="one district")]
RadiusQuery = Annotated[float | None, Query(
    ge=1, le=100_000, description="metres (1 to 100,000); default [city] service_radius_m")]
METHOD = "geodesic on the WGS-84 ellipsoid (Karney, geographiclib)"


class NearestSiteOut(BaseModel):
    id: int
    name: str
    community_id: int
    latitude: float
    longitude: float


class CommunityCoverageOut(BaseModel):
    community_id: int
    name: str
    district_id: int
    verdict: Verdict
    distance_m: float | None
    nearest_site: NearestSiteOut | None


class DistrictCoverageOut(BaseModel):
    district_id: int
    code: str | None
    name: str
    communities: int
    covered: int
    uncovered: int
    unlocated: int
    covered_share: float | None


class CoverageOut(BaseModel):
    radius_m: float
    method: str
    sites: int
    districts: list[DistrictCoverageOut]
    communities: Page[CommunityCoverageOut]


async def scoped_report(csms: Csms, principal: Principal, district_id: int | None,
                        radius_m: float | None) -> CoverageReport:
    """The coverage of the communities the principal sees (of one district if given)."""
    if district_id is not None:
        districts = await visible_districts(csms, principal)
        if districts is not None and district_id not in districts:
            raise HTTPException(status.HTTP_403_FORBIDDEN, "outside the token's scope")
    visible = await visible_communities(csms, principal)
    scoped, sites, every = await places(csms.engine, visible)
    if district_id is not None:
        scoped = [c for c in scoped if c.district_id == district_id]
    radius = radius_m if radius_m is not None else csms.settings.city.service_radius_m
    return coverage(scoped, sites, radius, anchors=every)


@router.get("/coverage", response_model=CoverageOut, responses=FORBIDDEN)
async def get_coverage(csms: CsmsDep, principal: Reader, page: PagingDep,
                       district_id: DistrictQuery = None, radius_m: RadiusQuery = None,
                       verdict: Verdict | None = None) -> CoverageOut:
    """Each community's nearest public charging site and whether it lies within the radius;
    the summary per district."""
    report = await scoped_report(csms, principal, district_id, radius_m)
    names = await district_names(csms.engine)
    listed = [c for c in report.communities if verdict is None or c.verdict is verdict]
    window = listed[page.offset:page.offset + page.limit]
    return CoverageOut(
        radius_m=report.radius_m, method=METHOD, sites=len(report.sites),
        districts=[DistrictCoverageOut(
            district_id=d.district_id, code=names.get(d.district_id, (None, ""))[0],
            name=names.get(d.district_id, (None, ""))[1], communities=d.communities,
            covered=d.covered, uncovered=d.uncovered, unlocated=d.unlocated,
            covered_share=d.covered_share) for d in report.districts],
        communities=page_of([_community(c) for c in window], len(listed), page),
    )


@router.get("/coverage/map.svg", response_class=Response, responses={
    200: {"content": {"image/svg+xml": {}}, "description": "the coverage map"}, **FORBIDDEN})
async def coverage_map(csms: CsmsDep, principal: Reader, district_id: DistrictQuery = None,
                       radius_m: RadiusQuery = None) -> Response:
    """The coverage as an SVG map: communities green (covered) or red, sites with their
    radius circles."""
    report = await scoped_report(csms, principal, district_id, radius_m)
    title = f"{report.radius_m:g} m service radius"
    if district_id is not None:
        title = f"{(await district_names(csms.engine)).get(district_id, (None, ''))[1]} · {title}"
    return Response(coverage_svg(report, title=title), media_type="image/svg+xml")


def _community(item: CommunityCoverage) -> CommunityCoverageOut:
    site = None
    if item.nearest_site is not None and item.nearest_site_position is not None:
        position = item.nearest_site_position
        site = NearestSiteOut(id=item.nearest_site.id, name=item.nearest_site.name,
                              community_id=item.nearest_site.community_id,
                              latitude=round(position.lat, 6), longitude=round(position.lon, 6))
    return CommunityCoverageOut(
        community_id=item.community.id, name=item.community.name,
        district_id=item.community.district_id, verdict=item.verdict,
        distance_m=None if item.distance_m is None else round(item.distance_m, 1),
        nearest_site=site)
