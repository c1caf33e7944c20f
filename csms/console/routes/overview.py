"""Live overview: districts → communities → sites → chargers → connectors, one page of
chargers at a time, refreshed by htmx polling (the table fragment every 5 s)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse

from csms.api.access import Family
from csms.api.routes.city import organisation
from csms.api.routes.commands import live
from csms.api.routes.stations import network
from csms.console.deps import CsmsDep, SessionDep, need
from csms.console.render import page
from csms.console.routes.common import int_or_none, pager, paging
from csms.domain.model import RegistrationStatus
from csms.store.console import overview as bulk
from csms.store.station_queries import ConnectorRecord

router = APIRouter()


@dataclass(frozen=True, slots=True)
class RowState:
    """What a row shows of a charge point without an active session."""

    connected: bool
    connectors: tuple[ConnectorRecord, ...]
    active_sessions: list[Any]

MAX_CHOICES = 500  # entries of a filter's drop-down (the API's largest page)


@router.get("/overview", response_class=HTMLResponse)
async def overview(request: Request, csms: CsmsDep, session: SessionDep,
                   district_id: str | None = None, community_id: str | None = None,
                   site_id: str | None = None, registration: str | None = None,
                   offset: Annotated[int, Query(ge=0)] = 0) -> HTMLResponse:
    need(session, Family.NETWORK)
    principal = session.principal
    district, community = int_or_none(district_id), int_or_none(community_id)
    choices = paging(0, MAX_CHOICES)
    districts = await organisation.list_districts(csms, principal, choices)
    communities = await organisation.list_communities(csms, principal, choices, district)
    sites = (await network.list_sites(csms, principal, choices, community)).items \
        if community is not None else []
    table = await _table(request, csms, session, site_id, community, registration, offset)
    return page(request, "overview.html", session, active="overview",
                districts=districts.items, communities=communities.items, sites=sites,
                chosen={"district_id": district, "community_id": community,
                        "site_id": int_or_none(site_id), "registration": registration},
                **table)


@router.get("/overview/table", response_class=HTMLResponse)
async def overview_table(request: Request, csms: CsmsDep, session: SessionDep,
                         community_id: str | None = None, site_id: str | None = None,
                         registration: str | None = None,
                         offset: Annotated[int, Query(ge=0)] = 0) -> HTMLResponse:
    """The chargers' table alone, for the periodic refresh."""
    need(session, Family.NETWORK)
    table = await _table(request, csms, session, site_id, int_or_none(community_id),
                         registration, offset)
    return page(request, "overview_table.html", session, **table)


async def _table(request: Request, csms: CsmsDep, session: SessionDep, site_id: str | None,
                 community_id: int | None, registration: str | None,
                 offset: int) -> dict[str, Any]:
    principal = session.principal
    window = paging(offset)
    status = RegistrationStatus(registration) if registration in {
        s.value for s in RegistrationStatus} else None
    listed = await network.list_charge_points(csms, principal, window, int_or_none(site_id),
                                              community_id, status)
    ids = [cp.id for cp in listed.items]
    connectors = await bulk.connectors_of(csms.engine, ids)
    charging = await bulk.charging_stations(csms.engine, ids)
    states = [
        # the API's own live state where sessions run; the rest needs only the connectors
        await live.live_state(cp.id, csms, principal) if cp.id in charging
        else RowState(cp.connected, connectors[cp.id], []) for cp in listed.items]
    site_of = await bulk.sites_of(csms.engine, {cp.site_id for cp in listed.items
                                                if cp.site_id is not None})
    return {"rows": list(zip(listed.items, states, strict=True)), "site_of": site_of,
            "pager": pager(request, window, listed.total),
            "query": request.url.query}
