"""Tariffs and packages (family ``billing``, read): the versions in the principal's scope."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse

from csms.api.access import Family
from csms.api.routes.billing import tariffs as api
from csms.console.deps import CsmsDep, SessionDep, need
from csms.console.render import page
from csms.console.routes.common import pager, paging

router = APIRouter()


@router.get("/tariffs", response_class=HTMLResponse)
async def tariffs(request: Request, csms: CsmsDep, session: SessionDep,
                  offset: Annotated[int, Query(ge=0)] = 0) -> HTMLResponse:
    need(session, Family.BILLING)
    window = paging(offset)
    listed = await api.list_tariffs(csms, session.principal, window)
    packages = await api.list_packages(csms, session.principal, paging(0, 100), None)
    return page(request, "tariffs.html", session, active="tariffs", tariffs=listed.items,
                pager=pager(request, window, listed.total), packages=packages.items)
