"""Alarms: the open ones by level (level 1 blinks and beeps), acknowledge and clear with a
comment (roles that write ``safety``), one alarm's evidence and protective actions, and the
history of cleared alarms."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Form, Path, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse

from csms.api.access import Family
from csms.api.routes.safety import alarms as api
from csms.console.deps import CsmsDep, SessionDep, allowed, need
from csms.console.render import page
from csms.console.routes.common import pager, paging

router = APIRouter()
AlarmId = Annotated[int, Path(ge=1, le=2**63 - 1)]
OPEN_SHOWN = 200  # open alarms on one page; more means a city-wide incident: filter by level


@router.get("/alarms", response_class=HTMLResponse)
async def alarms(request: Request, csms: CsmsDep, session: SessionDep,
                 level: Annotated[int | None, Query(ge=1, le=3)] = None,
                 offset: Annotated[int, Query(ge=0)] = 0) -> HTMLResponse:
    need(session, Family.SAFETY)
    window = paging(offset)
    history = await api.list_alarms(csms, session.principal, window, state="closed",
                                    level=level, code=None, station_id=None,
                                    community_id=None, district_id=None, since=None,
                                    until=None)
    return page(request, "alarms.html", session, active="alarms", level=level,
                history=history.items, pager=pager(request, window, history.total),
                **await _open(csms, session, level))


@router.get("/alarms/open", response_class=HTMLResponse)
async def open_alarms(request: Request, csms: CsmsDep, session: SessionDep,
                      level: Annotated[int | None, Query(ge=1, le=3)] = None) -> HTMLResponse:
    """The open alarms alone, for the periodic refresh."""
    need(session, Family.SAFETY)
    return page(request, "alarms_open.html", session, level=level,
                **await _open(csms, session, level))


async def _open(csms: CsmsDep, session: SessionDep, level: int | None) -> dict[str, Any]:
    found = await api.list_alarms(csms, session.principal, paging(0, OPEN_SHOWN),
                                  state="open", level=level, code=None, station_id=None,
                                  community_id=None, district_id=None, since=None, until=None)
    by_level = {n: [a for a in found.items if a.level == n] for n in (1, 2, 3)}
    return {"by_level": by_level, "open_total": found.total,
            "can_write": allowed(session, Family.SAFETY, "write")}


@router.get("/alarms/banner", response_class=HTMLResponse)
async def banner(request: Request, csms: CsmsDep, session: SessionDep) -> HTMLResponse:
    """The level 1 banner every page polls for (empty when none is open)."""
    need(session, Family.SAFETY)
    found = await api.list_alarms(csms, session.principal, paging(0, 1), state="open",
                                  level=1, code=None, station_id=None, community_id=None,
                                  district_id=None, since=None, until=None)
    return page(request, "alarm_banner.html", session, count=found.total)


@router.get("/alarms/{alarm_id}", response_class=HTMLResponse)
async def one_alarm(request: Request, alarm_id: AlarmId, csms: CsmsDep,
                    session: SessionDep) -> HTMLResponse:
    need(session, Family.SAFETY)
    alarm = await api.get_alarm(alarm_id, csms, session.principal)
    return page(request, "alarm.html", session, active="alarms", alarm=alarm,
                can_write=allowed(session, Family.SAFETY, "write"))


@router.post("/alarms/{alarm_id}/acknowledge")
async def acknowledge(alarm_id: AlarmId, csms: CsmsDep, session: SessionDep,
                      comment: Annotated[str, Form(max_length=1000)] = "") -> RedirectResponse:
    need(session, Family.SAFETY, "write")
    await api.acknowledge_alarm(alarm_id, api.CommentIn(comment=comment or None), csms,
                                session.principal)
    return RedirectResponse("/console/alarms", status_code=303)


@router.post("/alarms/{alarm_id}/clear")
async def clear(alarm_id: AlarmId, csms: CsmsDep, session: SessionDep,
                comment: Annotated[str, Form(max_length=1000)] = "") -> RedirectResponse:
    need(session, Family.SAFETY, "write")
    await api.clear_alarm(alarm_id, api.CommentIn(comment=comment or None), csms,
                          session.principal)
    return RedirectResponse("/console/alarms", status_code=303)
