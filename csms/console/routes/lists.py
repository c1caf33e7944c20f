"""Sessions, residents (with wallet and monthly statement as CSV) and the audit log: lists
with filters, one page at a time."""

from __future__ import annotations

import re
from typing import Annotated
from zoneinfo import ZoneInfo

from fastapi import APIRouter, HTTPException, Path, Query, Request, status
from fastapi.responses import HTMLResponse, Response

from csms.api import models as api_models
from csms.api.access import Family
from csms.api.routes.admin import audit as audit_api
from csms.api.routes.billing import wallets as billing_wallets
from csms.api.routes.city import residents
from csms.api.routes.sessions import records as sessions
from csms.console.deps import CsmsDep, SessionDep, allowed, need
from csms.console.render import page
from csms.console.routes.common import blank_none, int_or_none, pager, paging
from csms.console.routes.wallets import new_ref

router = APIRouter()
ResidentId = Annotated[int, Path(ge=1, le=2**31 - 1)]
Offset = Annotated[int, Query(ge=0)]
MONTH = re.compile(api_models.MONTH)  # 1970-01 to 2999-12, as the API takes it


@router.get("/sessions", response_class=HTMLResponse)
async def session_list(request: Request, csms: CsmsDep, session: SessionDep,
                       station_id: str | None = None, id_token: str | None = None,
                       state: str | None = None, community_id: str | None = None,
                       offset: Offset = 0) -> HTMLResponse:
    need(session, Family.SESSIONS)
    window = paging(offset)
    wanted = state if state in ("active", "ended") else None
    listed = await sessions.list_sessions(
        csms, session.principal, window, station_id=blank_none(station_id), site_id=None,
        community_id=int_or_none(community_id), id_token=blank_none(id_token),
        status=wanted, started_from=None, started_to=None)  # type: ignore[arg-type]
    return page(request, "sessions.html", session, active="sessions", rows=listed.items,
                pager=pager(request, window, listed.total), filters=request.query_params)


@router.get("/residents", response_class=HTMLResponse)
async def resident_list(request: Request, csms: CsmsDep, session: SessionDep,
                        community_id: str | None = None, offset: Offset = 0) -> HTMLResponse:
    need(session, Family.RESIDENTS)
    window = paging(offset)
    listed = await residents.list_residents(csms, session.principal, window,
                                            int_or_none(community_id))
    return page(request, "residents.html", session, active="residents", rows=listed.items,
                pager=pager(request, window, listed.total), filters=request.query_params)


@router.get("/residents/{resident_id}", response_class=HTMLResponse)
async def resident(request: Request, resident_id: ResidentId, csms: CsmsDep,
                   session: SessionDep, offset: Offset = 0) -> HTMLResponse:
    need(session, Family.RESIDENTS)
    found = await residents.get_resident(resident_id, csms, session.principal)
    wallet = entries = uses = None
    window = paging(offset)
    cards = await residents.list_id_tokens(csms, session.principal, paging(0, 50), None,
                                           resident_id, None)
    if allowed(session, Family.BILLING):
        uses = await billing_wallets.list_subscriptions(resident_id, csms, session.principal)
        wallet = await billing_wallets.get_wallet(resident_id, csms, session.principal)
        entries = await billing_wallets.list_wallet_entries(resident_id, csms,
                                                            session.principal, window)
    # this month in the city's zone (statement months are local), not UTC's: at 00:30 on
    # the 1st in Kunming it is still the previous month in UTC
    month = csms.stations.now().astimezone(
        ZoneInfo(csms.settings.reports.timezone)).strftime("%Y-%m")
    return page(request, "resident.html", session, active="residents", resident=found,
                cards=cards.items, uses=uses,
                wallet=wallet, entries=None if entries is None else entries.items,
                pager=None if entries is None else pager(request, window, entries.total),
                month=month, can_move=allowed(session, Family.BILLING, "write"),
                refs={kind: new_ref(kind) for kind in ("top-up", "refund")})


@router.get("/residents/{resident_id}/statements/{month}.csv")
async def statement_csv(resident_id: ResidentId, month: str, csms: CsmsDep,
                        session: SessionDep) -> Response:
    need(session, Family.BILLING)
    if not MONTH.fullmatch(month):
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, "month is YYYY-MM")
    answer = await billing_wallets.get_statement(resident_id, month, csms, session.principal,
                                                 format="csv")
    assert isinstance(answer, Response)
    answer.headers["content-disposition"] = (
        f'attachment; filename="statement-{resident_id}-{month}.csv"')
    return answer


@router.get("/audit", response_class=HTMLResponse)
async def audit(request: Request, csms: CsmsDep, session: SessionDep,
                actor: str | None = None, action: str | None = None,
                resource: str | None = None, verify: str | None = None,
                offset: Offset = 0) -> HTMLResponse:
    need(session, Family.ADMIN)
    window = paging(offset)
    listed = await audit_api.list_audit(
        csms, session.principal, window, since=None, until=None,
        actor=blank_none(actor), action=blank_none(action), resource=blank_none(resource),
        resource_id=None)
    verdict = await audit_api.verify_audit(csms, session.principal) if verify else None
    return page(request, "audit.html", session, active="audit", rows=listed.items,
                pager=pager(request, window, listed.total), verdict=verdict,
                filters=request.query_params)
