"""A charge point's live state (family ``network``, read) and commands to it (family
``commands``, write).

A command's answers and errors are those of :mod:`csms.api.routes.commands.common`. Every
command is recorded in the audit log before it is sent, and in the command log with its
outcome.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import orjson
from fastapi import APIRouter, Depends, HTTPException, Path
from fastapi import status as http_status
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from csms.api import commands as m
from csms.api.access import Family, Principal
from csms.api.deps import CsmsDep, require
from csms.api.models import MAX_ID, ONE
from csms.api.routes.commands.common import (
    COMMANDS,
    ERRORS,
    Commander,
    CommandReader,
    audit_command,
    command_failure,
    send_command,
)
from csms.api.routes.safety.status import ConnectorStatusOut, visible_charge_point
from csms.api.routes.sessions.records import SessionOut, StationPath
from csms.app import Csms
from csms.services.sessions.remote_starts import RemoteStartFailed, RemoteStarts
from csms.store.cluster import nodes
from csms.store.queries import Queries
from csms.store.station_queries import StationQueries

router = APIRouter(tags=["live state and commands"])
Reader = Annotated[Principal, Depends(require(Family.NETWORK, "read"))]


class ActiveSessionOut(SessionOut):
    power_w: float | None
    power_at: datetime | None


class LiveOut(BaseModel):
    station_id: str
    connected: bool = Field(description="connected to any node of the cluster")
    node: str | None = Field(description="the node that holds its connection")
    ocpp_version: str | None
    connected_at: datetime | None
    last_message_at: datetime | None
    last_seen_at: datetime | None
    registration_status: str
    site_id: int | None
    vendor: str | None
    model: str | None
    serial_number: str | None
    firmware_version: str | None
    last_boot_at: datetime | None
    connectors: list[ConnectorStatusOut]
    active_sessions: list[ActiveSessionOut]


@router.get("/charge-points/{station_id}/live", response_model=LiveOut, responses=ONE)
async def live_state(station_id: StationPath, csms: CsmsDep, principal: Reader) -> LiveOut:
    """Whether the charge point is connected (to whichever node of the cluster), since when
    and when it last sent anything (known on the node that holds it); what it said of itself
    at boot; its connectors' statuses; its active sessions with the energy so far and the
    latest power reading. Every node answers the same."""
    stored = await visible_charge_point(csms, principal, station_id)
    connection = csms.connections.get(station_id)
    state = None if connection is None else connection.live()
    held = None if connection is not None else await nodes.holder(
        csms.engine, station_id, csms.stations.now())
    connectors = await StationQueries(csms.engine).connectors(station_id)
    return LiveOut(
        station_id=station_id, connected=connection is not None or held is not None,
        node=csms.settings.cluster.node() if connection is not None else (
            None if held is None else held.node),
        ocpp_version=stored.ocpp_version if connection is None else connection.version.value,
        connected_at=(state.connected_at if state is not None
                      else None if held is None else held.connected_at),
        last_message_at=None if state is None else state.last_message_at,
        last_seen_at=stored.last_seen_at, registration_status=stored.registration_status,
        site_id=stored.site_id, vendor=stored.vendor, model=stored.model,
        serial_number=stored.serial_number, firmware_version=stored.firmware_version,
        last_boot_at=stored.last_boot_at,
        connectors=[ConnectorStatusOut.model_validate(c) for c in connectors],
        active_sessions=await _active_sessions(csms, station_id),
    )


async def _active_sessions(csms: Csms, station_id: str) -> list[ActiveSessionOut]:
    queries = Queries(csms.engine)
    found = []
    for session in await queries.active_sessions(station_id):
        power = await queries.latest_power(session.id)
        found.append(ActiveSessionOut(
            **SessionOut.model_validate(session).model_dump(),
            power_w=None if power is None else power.value,
            power_at=None if power is None else power.at,
        ))
    return found


@router.post(f"{COMMANDS}/remote-start", response_model=m.RemoteStartOut, responses=ERRORS)
async def remote_start(station_id: StationPath, body: m.RemoteStartIn, csms: CsmsDep,
                       principal: Commander) -> m.RemoteStartOut | JSONResponse:
    """Start charging for an id token (1.6 RemoteStartTransaction, 2.0.1
    RequestStartTransaction), optionally on one EVSE and with a charging profile. Each
    request gets its own ``remoteStartId``; after an Accepted answer the endpoint waits up to
    ``wait_s`` for the session the charger starts for it (``session_id``, else None: GET
    ``poll`` later). A failure's body carries ``remote_start_id`` and ``poll`` too (a charger
    that timed out may still start)."""
    starts = _remote_starts(csms)
    await visible_charge_point(csms, principal, station_id)
    await audit_command(csms, principal.actor, station_id, "remote-start", body)
    try:
        started, result = await starts.start(station_id, body.command(),
                                             timeout_s=body.timeout_s,
                                             requested_by=principal.actor)
    except RemoteStartFailed as failed:
        answer = command_failure(failed.error)
        extra = {"remote_start_id": failed.remote_start_id,
                 "poll": _poll(failed.remote_start_id)}
        return JSONResponse({**orjson.loads(answer.body), **extra}, answer.status_code)
    status = m.CommandStatusOut.model_validate(result)
    wait_s = body.wait_s if status.status == "Accepted" else 0.0
    record = await starts.wait(started, wait_s)
    return m.RemoteStartOut(
        status=status.status, reason=status.reason, remote_start_id=started,
        session_id=None if record is None else record.session_id,
        transaction_id=None if record is None else record.transaction_id,
        poll=_poll(started))


@router.get("/remote-starts/{remote_start_id}", response_model=m.RemoteStartStateOut,
            responses=ONE)
async def remote_start_state(remote_start_id: Annotated[int, Path(ge=1, le=MAX_ID)],
                             csms: CsmsDep,
                             principal: CommandReader) -> m.RemoteStartStateOut:
    """A remote start: the request, the charger's answer (``outcome``) and the session that
    answered it, once seen. Visible to whoever may see its charge point."""
    record = await _remote_starts(csms).get(remote_start_id)
    if record is None:
        raise HTTPException(http_status.HTTP_404_NOT_FOUND, "no such remote start")
    await visible_charge_point(csms, principal, record.station_id)
    return m.RemoteStartStateOut(
        remote_start_id=record.id, station_id=record.station_id, evse_id=record.evse_id,
        id_token=record.id_token, requested_at=record.requested_at,
        requested_by=record.requested_by, outcome=record.outcome,
        session_id=record.session_id, transaction_id=record.transaction_id,
        matched_at=record.matched_at, matched_by=record.matched_by)


def _remote_starts(csms: Csms) -> RemoteStarts:
    assert csms.remote_starts is not None, "composed in csms.app.running"
    return csms.remote_starts


def _poll(remote_start_id: int) -> str:
    return f"/remote-starts/{remote_start_id}"


@router.post(f"{COMMANDS}/remote-stop", response_model=m.CommandStatusOut, responses=ERRORS)
async def remote_stop(station_id: StationPath, body: m.RemoteStopIn, csms: CsmsDep,
                      principal: Commander) -> m.CommandStatusOut | JSONResponse:
    """Stop a transaction (1.6 RemoteStopTransaction, 2.0.1 RequestStopTransaction) by the
    session's ``transaction_id``."""
    return await send_command(csms, principal, station_id, "remote-stop", body, m.CommandStatusOut)


@router.post(f"{COMMANDS}/reset", response_model=m.CommandStatusOut, responses=ERRORS)
async def reset(station_id: StationPath, body: m.ResetIn, csms: CsmsDep,
                principal: Commander) -> m.CommandStatusOut | JSONResponse:
    """Reboot the charge point: Soft (2.0.1 OnIdle) or Hard (2.0.1 Immediate)."""
    return await send_command(csms, principal, station_id, "reset", body, m.CommandStatusOut)


@router.post(f"{COMMANDS}/change-availability", response_model=m.CommandStatusOut,
             responses=ERRORS)
async def change_availability(station_id: StationPath, body: m.ChangeAvailabilityIn, csms: CsmsDep,
                              principal: Commander) -> m.CommandStatusOut | JSONResponse:
    """Make an EVSE (0: the whole charge point) operative or inoperative."""
    return await send_command(csms, principal, station_id, "change-availability", body,
                       m.CommandStatusOut)


@router.post(f"{COMMANDS}/unlock", response_model=m.CommandStatusOut, responses=ERRORS)
async def unlock(station_id: StationPath, body: m.UnlockIn, csms: CsmsDep,
                 principal: Commander) -> m.CommandStatusOut | JSONResponse:
    """Unlock a connector (UnlockConnector)."""
    return await send_command(csms, principal, station_id, "unlock", body, m.CommandStatusOut)


@router.post(f"{COMMANDS}/trigger-message", response_model=m.CommandStatusOut,
             responses=ERRORS)
async def trigger_message(station_id: StationPath, body: m.TriggerMessageIn, csms: CsmsDep,
                          principal: Commander) -> m.CommandStatusOut | JSONResponse:
    """Ask the charger to send a message now (TriggerMessage)."""
    return await send_command(csms, principal, station_id, "trigger-message", body,
                       m.CommandStatusOut)


@router.post(f"{COMMANDS}/get-configuration", response_model=m.SettingsReportOut,
             responses=ERRORS)
async def get_configuration(station_id: StationPath, body: m.GetConfigurationIn, csms: CsmsDep,
                            principal: Commander) -> m.SettingsReportOut | JSONResponse:
    """Read configuration: 1.6 keys (GetConfiguration; no keys: all of them) or 2.0.1
    component/variable pairs (GetVariables; keys required; in messages of at most the
    station's ItemsPerMessageGetVariables, answers in request order)."""
    return await send_command(csms, principal, station_id, "get-configuration", body,
                       m.SettingsReportOut)


@router.post(f"{COMMANDS}/set-configuration", response_model=m.CommandStatusOut,
             responses=ERRORS)
async def set_configuration(station_id: StationPath, body: m.SetConfigurationIn, csms: CsmsDep,
                            principal: Commander) -> m.CommandStatusOut | JSONResponse:
    """Change one setting: 1.6 ChangeConfiguration, 2.0.1 SetVariables."""
    return await send_command(csms, principal, station_id, "set-configuration", body,
                       m.CommandStatusOut)


@router.post(f"{COMMANDS}/set-charging-profile", response_model=m.CommandStatusOut,
             responses=ERRORS)
async def set_charging_profile(station_id: StationPath, body: m.SetChargingProfileIn, csms: CsmsDep,
                               principal: Commander) -> m.CommandStatusOut | JSONResponse:
    """Install a charging profile on an EVSE (0: the whole charge point)."""
    return await send_command(csms, principal, station_id, "set-charging-profile", body,
                       m.CommandStatusOut)


@router.post(f"{COMMANDS}/clear-charging-profile", response_model=m.CommandStatusOut,
             responses=ERRORS)
async def clear_charging_profile(
    station_id: StationPath, body: m.ClearChargingProfileIn, csms: CsmsDep, principal: Commander
) -> m.CommandStatusOut | JSONResponse:
    """Remove charging profiles by id, or by EVSE, purpose and stack level."""
    return await send_command(csms, principal, station_id, "clear-charging-profile", body,
                       m.CommandStatusOut)


@router.post(f"{COMMANDS}/composite-schedule", response_model=m.CompositeScheduleOut,
             responses=ERRORS)
async def composite_schedule(station_id: StationPath, body: m.CompositeScheduleIn, csms: CsmsDep,
                             principal: Commander) -> m.CompositeScheduleOut | JSONResponse:
    """The schedule an EVSE will follow for the next ``duration_s`` seconds
    (GetCompositeSchedule)."""
    return await send_command(csms, principal, station_id, "composite-schedule", body,
                       m.CompositeScheduleOut)
