"""The city's side (family ``organisation``): stored monthly district reports to download
(and generate, for roles that write it), and the 1 km coverage with its map. A district
officer sees only their district; a property manager's role has no reports."""

from __future__ import annotations

import re
from typing import Annotated, Literal
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Form, HTTPException, Path, Query, Request, status
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from csms.api.access import Family
from csms.api.models import MONTH
from csms.api.routes.city import coverage as coverage_api
from csms.api.routes.city import reports as reports_api
from csms.console.deps import CsmsDep, SessionDep, allowed, need
from csms.console.render import page
from csms.console.routes.common import int_or_none
from csms.services.city.monthly_reports import previous_month
from csms.store.city import district_names

router = APIRouter()
Scope = Annotated[str, Path(pattern=r"^(city|[1-9][0-9]{0,8})$")]
Format = Literal["xlsx", "csv", "json"]
MONTH_RE = re.compile(MONTH)


@router.get("/reports", response_class=HTMLResponse)
async def reports(request: Request, csms: CsmsDep, session: SessionDep,
                  district_id: Annotated[str | None, Query()] = None) -> HTMLResponse:
    need(session, Family.ORGANISATION)
    principal = session.principal
    stored = [] if principal.community_id is not None else (
        await reports_api.stored_reports(csms, principal))
    district = int_or_none(district_id)
    cover = await coverage_api.scoped_report(csms, principal, district, None)
    names = await district_names(csms.engine)
    uncovered = [c for c in cover.communities if c.verdict.value == "uncovered"]
    return page(request, "reports.html", session, active="reports", stored=stored,
                cover=cover, names=names, uncovered=uncovered[:50], district_id=district,
                can_generate=allowed(session, Family.ORGANISATION, "write")
                and principal.district_id is None and principal.community_id is None,
                month=_last_month(csms))


def _last_month(csms: CsmsDep) -> str:
    """The month before this one, in the reports' zone: what is usually generated."""
    local = csms.stations.now().astimezone(ZoneInfo(csms.settings.reports.timezone))
    year, month = previous_month(local.year, local.month)
    return f"{year:04d}-{month:02d}"


@router.get("/reports/{month}/{scope}.{fmt}")
async def download(month: str, scope: Scope, fmt: Format, csms: CsmsDep,
                   session: SessionDep) -> Response:
    """A stored report, as the API serves it (scoped the same way)."""
    need(session, Family.ORGANISATION)
    if not MONTH_RE.fullmatch(month):
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, "month: YYYY-MM")
    district = None if scope == "city" else int(scope)
    if district is None and session.principal.district_id is not None:  # the API would
        raise HTTPException(status.HTTP_403_FORBIDDEN, "the city's report")  # answer its own
    return await reports_api.monthly_stored(csms, session.principal, month, district, fmt)


@router.post("/reports/generate")
async def generate(csms: CsmsDep, session: SessionDep,
                   month: Annotated[str, Form(max_length=7)]) -> Response:
    need(session, Family.ORGANISATION, "write")
    if not MONTH_RE.fullmatch(month):
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, "month: YYYY-MM")
    await reports_api.generate(csms, session.principal, month)
    return RedirectResponse(f"/console/reports?generated={month}", status_code=303)


@router.get("/coverage/map.svg")
async def coverage_map(csms: CsmsDep, session: SessionDep,
                       district_id: Annotated[str | None, Query()] = None) -> Response:
    need(session, Family.ORGANISATION)
    return await coverage_api.coverage_map(csms, session.principal,
                                           int_or_none(district_id), None)
