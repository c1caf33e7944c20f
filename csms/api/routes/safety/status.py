"""Connector status and its history, and station events such as faults (family ``safety``,
read)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Query
from fastapi import status as http_status
from pydantic import BaseModel, ConfigDict

from csms.api.access import Family, Principal
from csms.api.deps import CsmsDep, require
from csms.api.models import FORBIDDEN, ONE, Page, PagingDep, Printable, UtcTime
from csms.api.routes.sessions.records import StationId, StationPath, window
from csms.api.scope import require_station, visible_communities
from csms.app import Csms
from csms.store.station_queries import ChargePointRecord, EventFilter, StationQueries

router = APIRouter(tags=["safety"])
Reader = Annotated[Principal, Depends(require(Family.SAFETY, "read"))]
From = Annotated[UtcTime | None,
                 Query(alias="from", description="at or after (ISO time with offset)")]
To = Annotated[UtcTime | None, Query(alias="to", description="before (ISO time with offset)")]


class ConnectorStatusOut(BaseModel):
    """OCPP 1.6 connector ``n`` is EVSE ``n``, connector 1; connector 0 is EVSE 0."""

    model_config = ConfigDict(from_attributes=True)

    evse_id: int
    connector_id: int
    status: str
    error_code: str | None
    vendor_error_code: str | None
    status_at: datetime


class StatusChangeOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    evse_id: int
    connector_id: int
    status: str
    error_code: str | None
    vendor_error_code: str | None
    info: str | None
    at: datetime
    received_at: datetime


class StationEventOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    station_id: str
    kind: str
    code: str | None
    evse_id: int | None
    connector_id: int | None
    at: datetime
    received_at: datetime
    details: dict[str, Any]


async def visible_charge_point(
    csms: Csms, principal: Principal, station_id: str
) -> ChargePointRecord:
    """The charge point; 403 if it is outside the scope, 404 if there is none."""
    await require_station(csms, principal, station_id)
    found = await StationQueries(csms.engine).charge_point(station_id)
    if found is None:
        raise HTTPException(http_status.HTTP_404_NOT_FOUND, "no such charge point")
    return found


@router.get("/charge-points/{station_id}/status", response_model=list[ConnectorStatusOut],
            responses=ONE)
async def connector_status(
    station_id: StationPath, csms: CsmsDep, principal: Reader
) -> list[ConnectorStatusOut]:
    """The current status of each connector, as last reported by the charge point."""
    await visible_charge_point(csms, principal, station_id)
    found = await StationQueries(csms.engine).connectors(station_id)
    return [ConnectorStatusOut.model_validate(c) for c in found]


@router.get("/charge-points/{station_id}/status-history", response_model=Page[StatusChangeOut],
            responses=ONE)
async def status_history(
    station_id: StationPath, csms: CsmsDep, principal: Reader, page: PagingDep,
    start: From = None, end: To = None,
) -> Page[StatusChangeOut]:
    """Every status notification of the charge point, newest first, optionally between
    ``from`` (inclusive) and ``to`` (exclusive), by the charger's timestamp."""
    await visible_charge_point(csms, principal, station_id)
    found = await StationQueries(csms.engine).status_history(station_id, window(page),
                                                                 start, end)
    return Page[StatusChangeOut](
        items=[StatusChangeOut.model_validate(c) for c in found.items], total=found.total,
        limit=page.limit, offset=page.offset,
    )


@router.get("/events", response_model=Page[StationEventOut], responses=FORBIDDEN)
async def list_events(
    csms: CsmsDep, principal: Reader, page: PagingDep,
    station_id: StationId = None,
    kind: Annotated[str | None, Printable, Query(
        min_length=1, max_length=40,
        description="e.g. connector_fault, security_event, notify_event, firmware_status")]
    = None,
    start: From = None, end: To = None,
) -> Page[StationEventOut]:
    """Station events, newest first: connector faults, security events, NotifyEvent,
    firmware and log status and other reports. A scoped token lists only its communities'."""
    where = EventFilter(communities=await visible_communities(csms, principal),
                        station_id=station_id, kind=kind, start=start, end=end)
    found = await StationQueries(csms.engine).events(where, window(page))
    return Page[StationEventOut](
        items=[StationEventOut.model_validate(e) for e in found.items], total=found.total,
        limit=page.limit, offset=page.offset,
    )
