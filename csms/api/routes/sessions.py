"""Charging sessions and their meter values (family ``sessions``, read).

Also home of the list envelope (:class:`Page`) and the ``limit``/``offset`` dependency the
other read-side routers of this batch share, until the API has one common models module.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Generic, Literal, TypeVar

from fastapi import APIRouter, Depends, HTTPException, Query
from fastapi import status as http_status
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from csms.api.access import Family, Principal
from csms.api.deps import CsmsDep, require
from csms.api.scope import require_station, visible_communities
from csms.app import Csms
from csms.store.queries import Queries, SessionFilter, SessionRecord, Window

router = APIRouter(tags=["sessions"])
Reader = Annotated[Principal, Depends(require(Family.SESSIONS, "read"))]
T = TypeVar("T")
DEFAULT_PAGE_SIZE = 50
Responses = dict[int | str, dict[str, Any]]
FORBIDDEN: Responses = {
    403: {"description": "the role may not do this, or it is outside the token's scope"}}
ONE: Responses = {**FORBIDDEN, 404: {"description": "no such resource"}}


class Page(BaseModel, Generic[T]):
    """One slice of a list: ``items`` from ``offset``, at most ``limit``; ``total`` matched."""

    items: list[T]
    total: int
    limit: int
    offset: int


def window(
    csms: CsmsDep,
    limit: Annotated[int, Query(ge=1, description="page size; capped at the server's "
                                                  "api.page_size_max")] = DEFAULT_PAGE_SIZE,
    offset: Annotated[int, Query(ge=0, description="items to skip")] = 0,
) -> Window:
    """The requested page, its size capped at ``api.page_size_max``."""
    return Window(min(limit, csms.settings.api.page_size_max), offset)


WindowDep = Annotated[Window, Depends(window)]


class SessionOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    station_id: str
    site_id: int | None
    evse_id: int | None
    connector_id: int | None
    transaction_id: str | None
    id_token: str | None
    auth_status: str | None
    status: str = Field(description="active or ended")
    started_at: datetime | None
    ended_at: datetime | None
    meter_start_wh: float | None
    meter_stop_wh: float | None
    energy_wh: float | None = Field(
        description="ended: the energy delivered; active: so far (latest register reading "
                    "minus the start)")
    stop_reason: str | None
    had_offline_events: bool
    updated_at: datetime


class MeterValueOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    at: datetime
    measurand: str
    value: float
    unit: str | None
    phase: str | None
    context: str | None
    location: str | None
    evse_id: int | None
    connector_id: int | None


@router.get("/sessions", response_model=Page[SessionOut], responses=FORBIDDEN)
async def list_sessions(
    csms: CsmsDep,
    principal: Reader,
    page: WindowDep,
    station_id: str | None = None,
    site_id: int | None = None,
    community_id: int | None = None,
    id_token: str | None = None,
    status: Literal["active", "ended"] | None = None,
    started_from: Annotated[AwareDatetime | None,
                            Query(description="started at or after (ISO time with offset)")]
    = None,
    started_to: Annotated[AwareDatetime | None,
                          Query(description="started before (ISO time with offset)")] = None,
) -> Page[SessionOut]:
    """Sessions, newest first, filtered by charge point, site, community, id token, status
    and start time. A scoped token lists only the sessions of its communities."""
    where = SessionFilter(
        communities=await visible_communities(csms, principal), station_id=station_id,
        site_id=site_id, community_id=community_id, id_token=id_token, status=status,
        started_from=started_from, started_to=started_to,
    )
    found = await Queries(csms.engine).sessions(where, page)
    return Page[SessionOut](
        items=[SessionOut.model_validate(s) for s in found.items], total=found.total,
        limit=page.limit, offset=page.offset,
    )


@router.get("/sessions/{session_id}", response_model=SessionOut,
            responses=ONE)
async def get_session(session_id: int, csms: CsmsDep, principal: Reader) -> SessionOut:
    """One session, with its energy (so far, while it is active)."""
    return SessionOut.model_validate(await _visible_session(csms, principal, session_id))


@router.get("/sessions/{session_id}/meter-values", response_model=Page[MeterValueOut],
            responses=ONE)
async def list_meter_values(
    session_id: int,
    csms: CsmsDep,
    principal: Reader,
    page: WindowDep,
    measurand: Annotated[str | None, Query(
        description="e.g. Energy.Active.Import.Register, Power.Active.Import")] = None,
) -> Page[MeterValueOut]:
    """The session's sampled values in time order (one item per value: measurand, phase,
    unit as the charger reported them)."""
    await _visible_session(csms, principal, session_id)
    found = await Queries(csms.engine).meter_values(session_id, page, measurand)
    return Page[MeterValueOut](
        items=[MeterValueOut.model_validate(v) for v in found.items], total=found.total,
        limit=page.limit, offset=page.offset,
    )


async def _visible_session(csms: Csms, principal: Principal, session_id: int) -> SessionRecord:
    """The session; 404 if there is none, 403 if its charge point is outside the scope."""
    found = await Queries(csms.engine).session(session_id)
    if found is None:
        raise HTTPException(http_status.HTTP_404_NOT_FOUND, "no such session")
    await require_station(csms, principal, found.station_id)
    return found
