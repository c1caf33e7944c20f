"""The monthly district report (csms.services.city.monthly_reports): computed now, or as stored.

Rules:
1. Read with the organisation family. A district token reads only its own district's
   report (asking for no district means its own; another district or the city is 403); a
   community token reads none (a report covers a whole district); unscoped tokens read all.
2. ``GET /reports/monthly/{month}`` computes the report from the database now;
   ``.../stored`` returns the file the scheduler (or ``POST .../generate``) stored, with its
   ``X-Content-SHA256``; 404 until it exists. ``format`` is xlsx (default), csv or json.
3. ``POST /reports/monthly/{month}/generate`` (organisation write) stores every scope and
   format of the month and notifies webhook subscribers of kind ``report``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, HTTPException, Path, Query, Response, status
from pydantic import BaseModel

from csms.api.access import Family, Principal
from csms.api.deps import CsmsDep, require
from csms.api.models import FORBIDDEN, MAX_ID, MONTH, ONE, WRITE, Responses
from csms.app import Csms
from csms.city.report_out import MEDIA
from csms.services.city.monthly_reports import Reports, parse_month, report_path
from csms.store.city.report import listing, load

router = APIRouter(tags=["city: reports"])
Reader = Annotated[Principal, Depends(require(Family.ORGANISATION, "read"))]
Writer = Annotated[Principal, Depends(require(Family.ORGANISATION, "write"))]
MonthPath = Annotated[str, Path(pattern=MONTH, examples=["2026-11"],
                                description="YYYY-MM, 1970-01 to 2999-12")]
DistrictQuery = Annotated[int | None, Query(ge=1, le=MAX_ID, description="one district;"
                                            " default: the city (a district token: its own)")]
Format = Literal["xlsx", "csv", "json"]
FILE: Responses = {200: {"content": {m: {} for m in MEDIA.values()}, "description": "the report"}}


class StoredReportOut(BaseModel):
    month: str
    district_id: int | None
    format: str
    sha256: str
    generated_at: datetime
    generated_by: str
    path: str


class GeneratedOut(BaseModel):
    month: str
    reports: list[StoredReportOut]


def _scope(principal: Principal, district_id: int | None) -> int | None:
    """Rule 1: the district the caller may read (None: the city)."""
    if principal.community_id is not None:
        raise HTTPException(status.HTTP_403_FORBIDDEN, "reports cover whole districts")
    if principal.district_id is None:
        return district_id
    if district_id not in (None, principal.district_id):
        raise HTTPException(status.HTTP_403_FORBIDDEN, "outside the token's scope")
    return principal.district_id


def _reports(csms: Csms) -> Reports:
    if csms.monthly_reports is None:
        raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, "reports are not running")
    return csms.monthly_reports


def _file(content: bytes, month: str, district_id: int | None, fmt: str,
          sha256: str | None = None) -> Response:
    name = f"monthly-{month}-{'city' if district_id is None else district_id}.{fmt}"
    headers = {"Content-Disposition": f'attachment; filename="{name}"'}
    if sha256 is not None:
        headers["X-Content-SHA256"] = sha256
    return Response(content, media_type=MEDIA[fmt], headers=headers)


@router.get("/reports/monthly", response_model=list[StoredReportOut], responses=FORBIDDEN)
async def stored_reports(csms: CsmsDep, principal: Reader) -> list[StoredReportOut]:
    """The stored reports the caller may read, newest month first."""
    if principal.community_id is not None:
        return []
    visible = None if principal.district_id is None else {principal.district_id}
    return [StoredReportOut(month=r.month, district_id=r.district_id, format=r.format,
                            sha256=r.sha256, generated_at=r.generated_at,
                            generated_by=r.generated_by,
                            path=report_path(r.month, r.district_id, r.format))
            for r in await listing(csms.engine, visible)]


@router.get("/reports/monthly/{month}", response_class=Response,
            responses={**FILE, **FORBIDDEN})
async def monthly(csms: CsmsDep, principal: Reader, month: MonthPath,
                  district_id: DistrictQuery = None, format: Format = "xlsx") -> Response:
    """The month's report computed from the database now."""
    scope = _scope(principal, district_id)
    year, number = parse_month(month)
    content = await _reports(csms).render(year, number, scope, format)
    return _file(content, month, scope, format)


@router.get("/reports/monthly/{month}/stored", response_class=Response,
            responses={**FILE, **ONE})
async def monthly_stored(csms: CsmsDep, principal: Reader, month: MonthPath,
                         district_id: DistrictQuery = None,
                         format: Format = "xlsx") -> Response:
    """The month's report as generated and stored (by the scheduler or ``generate``)."""
    scope = _scope(principal, district_id)
    found = await load(csms.engine, month, scope, format)
    if found is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "no such stored report")
    return _file(found.content, month, scope, format, found.sha256)


@router.post("/reports/monthly/{month}/generate", response_model=GeneratedOut,
             responses=WRITE)
async def generate(csms: CsmsDep, principal: Writer, month: MonthPath) -> GeneratedOut:
    """Generate, store and notify every scope and format of the month."""
    year, number = parse_month(month)
    made = await _reports(csms).generate(year, number, principal.actor)
    return GeneratedOut(month=month, reports=[StoredReportOut(
        month=r.month, district_id=r.district_id, format=r.format, sha256=r.sha256,
        generated_at=r.generated_at, generated_by=r.generated_by,
        path=report_path(r.month, r.district_id, r.format)) for r in made])
