"""Alarms: list, one alarm with its protective actions, acknowledge, clear, and a
community's daily safety summary (family ``safety``; acknowledge and clear are writes).

Scope: an alarm lies where it happened (its community and district when raised); a scoped
token lists only its own, and gets 403 for another's (404 for none at all).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from datetime import datetime
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Depends, HTTPException, Path, Query
from fastapi import status as http_status
from pydantic import BaseModel, ConfigDict, Field

from csms.api.access import Family, Principal
from csms.api.deps import CsmsDep, require
from csms.api.models import (
    FORBIDDEN,
    ONE,
    Page,
    PagingDep,
    Printable,
    QueryId,
    UtcTime,
    page_of,
)
from csms.api.routes.sessions.records import StationId, window
from csms.api.scope import require_community, require_location, visible_communities
from csms.app import Csms
from csms.safety.alarms import AlarmCode
from csms.safety.lifecycle import RefusedTransition
from csms.safety.report import daily_summary
from csms.services.safety.monitor import SafetyMonitor
from csms.store.access import Location
from csms.store.organisation import NotFound
from csms.store.safety.alarms import StoredAlarm
from csms.store.safety.queries import AlarmFilter, AlarmQueries

router = APIRouter(tags=["alarms"])
Reader = Annotated[Principal, Depends(require(Family.SAFETY, "read"))]
Writer = Annotated[Principal, Depends(require(Family.SAFETY, "write"))]
MAX_BIG_ID = 2**63 - 1
AlarmId = Annotated[int, Path(ge=1, le=MAX_BIG_ID)]
CONFLICT_ONE = {**ONE, 409: {"description": "the alarm is already acknowledged or cleared"}}


class ActionOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    action: str = Field(description="stop_session or make_inoperative")
    station_id: str
    command: dict[str, Any]
    outcome: str = Field(description="answered, offline, timeout, callerror, failed, "
                                     "no_session")
    status: str | None = Field(description="the charger's answer, e.g. Accepted")
    detail: str | None
    requested_at: datetime
    answered_at: datetime


class AlarmOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    code: str
    level: int = Field(description="1 personal safety, 2 equipment, 3 notice")
    state: str = Field(description="raised, acknowledged or cleared")
    station_id: str | None
    evse_id: int | None
    connector_id: int | None
    session_id: int | None
    site_id: int | None
    feeder_id: int | None
    community_id: int | None
    district_id: int | None
    evidence: dict[str, Any] = Field(description="the values that triggered the alarm")
    raised_at: datetime
    acknowledged_at: datetime | None
    acknowledged_by: str | None
    ack_comment: str | None
    cleared_at: datetime | None
    cleared_by: str | None = Field(description="who cleared it; rule:safety when the "
                                               "condition ended by itself")
    clear_reason: str | None
    seconds_to_acknowledge: float | None
    seconds_to_clear: float | None
    actions: list[ActionOut] = Field(description="protective actions (one alarm only)")


class CommentIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    comment: Annotated[str | None, Field(max_length=1000), Printable] = None


class DurationsOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    count: int
    mean_s: float | None
    max_s: float | None


class ConnectorFaultsOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    station_id: str
    evse_id: int | None
    connector_id: int | None
    count: int


class SafetySummaryOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    community_id: int
    date: dt.date
    timezone: str
    start: datetime
    end: datetime
    raised: int
    acknowledged: int
    cleared: int
    raised_by_level: dict[int, int]
    raised_by_code: dict[str, int]
    time_to_acknowledge: DurationsOut
    time_to_clear: DurationsOut
    faults_by_connector: list[ConnectorFaultsOut]
    open_at_end: int


def _monitor(csms: Csms) -> SafetyMonitor:
    assert csms.safety is not None, "the safety monitor is part of every running CSMS"
    return csms.safety


def _out(alarm: StoredAlarm) -> AlarmOut:
    return AlarmOut.model_validate(alarm)


async def _visible_alarm(csms: Csms, principal: Principal, alarm_id: int) -> StoredAlarm:
    """The alarm with its actions; 404 if there is none, 403 outside the scope."""
    found = await AlarmQueries(csms.engine).get(alarm_id)
    location = None if found is None else Location(found.district_id, found.community_id)
    require_location(principal, location, "alarm")
    assert found is not None
    return found


@router.get("/alarms", response_model=Page[AlarmOut], responses=FORBIDDEN)
async def list_alarms(
    csms: CsmsDep, principal: Reader, page: PagingDep,
    state: Annotated[Literal["open", "closed"] | None, Query(
        description="open: raised or acknowledged; closed: cleared")] = None,
    level: Annotated[int | None, Query(ge=1, le=3)] = None,
    code: AlarmCode | None = None,
    station_id: StationId = None,
    community_id: QueryId = None,
    district_id: QueryId = None,
    since: Annotated[UtcTime | None, Query(description="raised at or after")] = None,
    until: Annotated[UtcTime | None, Query(description="raised before")] = None,
) -> Page[AlarmOut]:
    """Alarms, newest first, filtered by state, level, code, charge point, community,
    district and time raised. A scoped token lists only the alarms of its communities."""
    where = AlarmFilter(
        communities=await visible_communities(csms, principal),
        open=None if state is None else state == "open", level=level,
        code=None if code is None else code.value, station_id=station_id,
        community_id=community_id, district_id=district_id, since=since, until=until)
    found = await AlarmQueries(csms.engine).alarms(where, window(page))
    return page_of([_out(a) for a in found.items], found.total, page)


@router.get("/alarms/{alarm_id}", response_model=AlarmOut, responses=ONE)
async def get_alarm(alarm_id: AlarmId, csms: CsmsDep, principal: Reader) -> AlarmOut:
    """One alarm with its evidence and the protective actions taken, with their outcome."""
    return _out(await _visible_alarm(csms, principal, alarm_id))


async def _transition(csms: Csms, principal: Principal, alarm_id: int, to: str,
                      comment: str | None) -> AlarmOut:
    await _visible_alarm(csms, principal, alarm_id)
    monitor = _monitor(csms)
    try:
        if to == "acknowledged":
            await monitor.acknowledge(alarm_id, principal.actor, comment)
        else:
            await monitor.clear(alarm_id, principal.actor, comment)
    except NotFound as exc:
        raise HTTPException(http_status.HTTP_404_NOT_FOUND, str(exc)) from exc
    except RefusedTransition as exc:
        raise HTTPException(http_status.HTTP_409_CONFLICT, str(exc)) from exc
    return _out(await _visible_alarm(csms, principal, alarm_id))


@router.post("/alarms/{alarm_id}/acknowledge", response_model=AlarmOut,
             responses=CONFLICT_ONE)
async def acknowledge_alarm(alarm_id: AlarmId, body: CommentIn, csms: CsmsDep,
                            principal: Writer) -> AlarmOut:
    """Acknowledge a raised alarm, with a comment; 409 if it is not raised any more."""
    return await _transition(csms, principal, alarm_id, "acknowledged", body.comment)


@router.post("/alarms/{alarm_id}/clear", response_model=AlarmOut, responses=CONFLICT_ONE)
async def clear_alarm(alarm_id: AlarmId, body: CommentIn, csms: CsmsDep,
                      principal: Writer) -> AlarmOut:
    """Clear an open alarm (raised or acknowledged), with a comment; 409 if it is already
    cleared."""
    return await _transition(csms, principal, alarm_id, "cleared", body.comment)


@router.get("/communities/{community_id}/safety-summary", response_model=SafetySummaryOut,
            responses=ONE)
async def safety_summary(
    community_id: Annotated[int, Path(ge=1, le=2**31 - 1)], csms: CsmsDep, principal: Reader,
    date: Annotated[dt.date, Query(description="the local day (safety.summary_timezone)")],
) -> SafetySummaryOut:
    """The community's alarms of one local day: raised by level and code, acknowledged,
    cleared, mean and max time to acknowledge and to clear, faults by connector, and how
    many were still open at the end of the day."""
    await require_community(csms, principal, community_id)
    zone_name = csms.settings.safety.summary_timezone
    zone = ZoneInfo(zone_name)
    try:
        start = datetime.combine(date, dt.time(), zone).astimezone(dt.UTC)
        end = datetime.combine(date + dt.timedelta(days=1), dt.time(), zone).astimezone(dt.UTC)
    except OverflowError:
        raise HTTPException(http_status.HTTP_422_UNPROCESSABLE_CONTENT,
                            [{"loc": ["query", "date"], "msg": "out of range",
                              "type": "value_error"}]) from None
    facts = await AlarmQueries(csms.engine).day_facts(community_id, start, end)
    summary = daily_summary(facts, start, end)
    return SafetySummaryOut.model_validate({
        **{f.name: getattr(summary, f.name) for f in dataclasses.fields(summary)},
        "community_id": community_id, "date": date, "timezone": zone_name,
        "faults_by_connector": list(summary.faults_by_connector),
    })
