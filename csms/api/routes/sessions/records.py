"""Charging sessions and their meter values (family ``sessions``, read)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, HTTPException, Path, Query
from fastapi import status as http_status
from pydantic import BaseModel, ConfigDict, Field

from csms.api.access import Family, Principal
from csms.api.deps import CsmsDep, require
from csms.api.models import (
    FORBIDDEN,
    ONE,
    WRITE_ONE,
    Page,
    Paging,
    PagingDep,
    Printable,
    QueryId,
    UtcTime,
    store_errors,
)
from csms.api.scope import require_station, visible_communities
from csms.app import Csms
from csms.store.queries import Queries, SessionFilter, SessionRecord, Window
from csms.store.sessions.review import Correction, Decision, SessionReviews

router = APIRouter(tags=["sessions"])
Reader = Annotated[Principal, Depends(require(Family.SESSIONS, "read"))]
# Whether a flagged session is billed is a billing decision (operators and admins).
Reviewer = Annotated[Principal, Depends(require(Family.BILLING, "write"))]
MAX_BIG_ID = 2**63 - 1
SessionId = Annotated[int, Path(ge=1, le=MAX_BIG_ID)]
StationId = Annotated[str | None, Query(min_length=1, max_length=48), Printable]
StationPath = Annotated[str, Path(min_length=1, max_length=48), Printable]


def window(page: Paging) -> Window:
    """The store's slice for the API's paging parameters."""
    return Window(page.limit, page.offset)


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
    flags: list[str] = Field(
        default_factory=list,
        description="why the session needs a second look: implausible_baseline, "
                    "implausible_energy, ended_before_started (not billed until reviewed), "
                    "stop_conflict, superseded, unknown_start; reviewed or void once decided")
    needs_review: bool = Field(
        default=False, description="not billed until an operator decides "
                                   "(POST /sessions/{id}/review)")


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
    page: PagingDep,
    station_id: StationId = None,
    site_id: QueryId = None,
    community_id: QueryId = None,
    id_token: Annotated[str | None, Query(min_length=1, max_length=36), Printable] = None,
    status: Literal["active", "ended"] | None = None,
    started_from: Annotated[UtcTime | None,
                            Query(description="started at or after (ISO time with offset)")]
    = None,
    started_to: Annotated[UtcTime | None,
                          Query(description="started before (ISO time with offset)")] = None,
) -> Page[SessionOut]:
    """Sessions, newest first, filtered by charge point, site, community, id token, status
    and start time. A scoped token lists only the sessions of its communities."""
    where = SessionFilter(
        communities=await visible_communities(csms, principal), station_id=station_id,
        site_id=site_id, community_id=community_id, id_token=id_token, status=status,
        started_from=started_from, started_to=started_to,
    )
    found = await Queries(csms.engine).sessions(where, window(page))
    return Page[SessionOut](
        items=[SessionOut.model_validate(s) for s in found.items], total=found.total,
        limit=page.limit, offset=page.offset,
    )


@router.get("/sessions/{session_id}", response_model=SessionOut, responses=ONE)
async def get_session(session_id: SessionId, csms: CsmsDep, principal: Reader) -> SessionOut:
    """One session, with its energy (so far, while it is active)."""
    return SessionOut.model_validate(await _visible_session(csms, principal, session_id))


@router.get("/sessions/{session_id}/meter-values", response_model=Page[MeterValueOut],
            responses=ONE)
async def list_meter_values(
    session_id: SessionId,
    csms: CsmsDep,
    principal: Reader,
    page: PagingDep,
    measurand: Annotated[str | None, Query(
        min_length=1, max_length=50,
        description="e.g. Energy.Active.Import.Register, Power.Active.Import"), Printable]
    = None,
) -> Page[MeterValueOut]:
    """The session's sampled values in time order (one item per value: measurand, phase,
    unit as the charger reported them)."""
    await _visible_session(csms, principal, session_id)
    found = await Queries(csms.engine).meter_values(session_id, window(page), measurand)
    return Page[MeterValueOut](
        items=[MeterValueOut.model_validate(v) for v in found.items], total=found.total,
        limit=page.limit, offset=page.offset,
    )


class ReviewIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    decision: Literal["bill", "correct", "void"] = Field(
        description="bill: price and post it as it is; correct: set the registers read off "
                    "the meter first; void: never bill it")
    comment: Annotated[str, Field(min_length=1, max_length=500)]
    meter_start_wh: float | None = Field(default=None, ge=0, le=1e12)
    meter_stop_wh: float | None = Field(default=None, ge=0, le=1e12)


@router.post("/sessions/{session_id}/review", response_model=SessionOut,
             responses=WRITE_ONE)
async def review_session(session_id: SessionId, body: ReviewIn, csms: CsmsDep,
                         principal: Reviewer) -> SessionOut:
    """Decide on a session that is not billed until reviewed (``needs_review``: an
    implausible start register or energy, a stop before its start). The decision is audited
    with the figures before and after; billing runs in the same commit. 409 if the session
    does not need a review."""
    await _visible_session(csms, principal, session_id)
    reviews = SessionReviews(csms.store.writer, lambda: csms.store.sessions.on_ended)
    with store_errors():
        await reviews.decide(session_id, Decision(body.decision), principal.actor,
                             body.comment, Correction(body.meter_start_wh, body.meter_stop_wh))
    return SessionOut.model_validate(await _visible_session(csms, principal, session_id))


async def _visible_session(csms: Csms, principal: Principal, session_id: int) -> SessionRecord:
    """The session; 404 if there is none, 403 if its charge point is outside the scope."""
    found = await Queries(csms.engine).session(session_id)
    if found is None:
        raise HTTPException(http_status.HTTP_404_NOT_FOUND, "no such session")
    await require_station(csms, principal, found.station_id)
    return found
