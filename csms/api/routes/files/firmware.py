"""Firmware (family ``commands``): files the CSMS serves, updates of one charger, rollouts
to many in waves, and each charger's outcome.

``POST /firmware/files`` takes the file as the raw request body (``name``, ``version`` and
an optional ``sha256`` to check it against in the query); chargers download it from the URL
the CSMS sends them (csms.api.routes.files.transfer). A command's failure maps as for the
other commands (csms.api.routes.commands.live): 409 offline, 504 no answer, 502 CALLERROR, 422 the
version cannot express it. Every write is in the audit log.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Depends, HTTPException, Path, Query, Request
from fastapi import status as http_status
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from csms.api import files_models as m
from csms.api.access import Family, Principal
from csms.api.deps import CsmsDep, require
from csms.api.models import MAX_ID, ONE
from csms.api.routes.commands.common import ERRORS, command_failure
from csms.api.routes.safety.status import visible_charge_point
from csms.api.routes.sessions.records import StationPath
from csms.app import Csms
from csms.services.files.firmware import (
    FileRejected,
    FileTooLarge,
    FirmwareService,
    UpdateFailed,
    UpdateOptions,
)
from csms.store.access import audit
from csms.store.files import FirmwareFile, FirmwareUpdate, Rollout
from csms.store.station_queries import StationQueries
from csms.store.writer import WriteTx

router = APIRouter(tags=["firmware"])
Commander = Annotated[Principal, Depends(require(Family.COMMANDS, "write"))]
CommandReader = Annotated[Principal, Depends(require(Family.COMMANDS, "read"))]
Id = Annotated[int, Path(ge=1, le=MAX_ID)]
RAW_BODY: dict[str, Any] = {"requestBody": {"required": True, "content": {
    "application/octet-stream": {"schema": {"type": "string", "format": "binary"}}}}}


class UpdateFirmwareOut(BaseModel):
    status: str
    reason: str | None = None
    update_id: int
    poll: str


@router.post("/firmware/files", response_model=m.FirmwareFileOut, status_code=201,
             responses={**ONE, 413: {"description": "over files.firmware_max_bytes"},
                        422: {"description": "the body is not the SHA-256 given"}},
             openapi_extra=RAW_BODY)
async def upload_firmware(
    request: Request, csms: CsmsDep, principal: Commander,
    name: Annotated[str, Query(min_length=1, max_length=100, pattern=r"^[\w.\-+]+$")],
    version: Annotated[str | None, Query(min_length=1, max_length=50)] = None,
    sha256: Annotated[str | None, Query(pattern=r"^[0-9a-fA-F]{64}$")] = None,
) -> m.FirmwareFileOut:
    """Store a firmware file (the raw body) for updates and rollouts."""
    service = firmware_service(csms)
    try:
        file = await service.add_file(_body(request), name, version=version, sha256=sha256,
                                      uploaded_by=principal.actor)
    except FileTooLarge as exc:
        raise HTTPException(http_status.HTTP_413_CONTENT_TOO_LARGE, str(exc)) from None
    except FileRejected as exc:
        raise HTTPException(http_status.HTTP_422_UNPROCESSABLE_CONTENT, str(exc)) from None
    await audit_command(csms, principal.actor, "firmware_file", file.id,
                 {"name": name, "version": version, "sha256": file.sha256})
    return file_out(file)


@router.get("/firmware/files", response_model=list[m.FirmwareFileOut], responses=ONE)
async def firmware_files(csms: CsmsDep, _: CommandReader) -> list[m.FirmwareFileOut]:
    """Every firmware file, oldest first."""
    return [file_out(f) for f in await firmware_service(csms).store.files()]


@router.get("/firmware/files/{file_id}", response_model=m.FirmwareFileOut, responses=ONE)
async def firmware_file(file_id: Id, csms: CsmsDep, _: CommandReader) -> m.FirmwareFileOut:
    return file_out(await _file(csms, file_id))


@router.put("/firmware/files/{file_id}/signing", response_model=m.FirmwareFileOut,
            responses=ONE)
async def sign_firmware(file_id: Id, body: m.SigningIn, csms: CsmsDep,
                        principal: Commander) -> m.FirmwareFileOut:
    """Attach the signing certificate and signature: updates with this file are then 1.6
    SignedUpdateFirmware, and 2.0.1 UpdateFirmware carries both."""
    await _file(csms, file_id)
    await firmware_service(csms).store.set_signing(file_id, body.signing_certificate,
                                                   body.signature)
    await audit_command(csms, principal.actor, "firmware_file", file_id, {"signed": True})
    return file_out(await _file(csms, file_id))


@router.post("/charge-points/{station_id}/commands/update-firmware",
             response_model=UpdateFirmwareOut, responses=ERRORS)
async def update_firmware(station_id: StationPath, body: m.UpdateFirmwareIn, csms: CsmsDep,
                          principal: Commander) -> UpdateFirmwareOut | JSONResponse:
    """Update one charger now (1.6 UpdateFirmware or SignedUpdateFirmware, 2.0.1
    UpdateFirmware); follow it at ``poll``."""
    await visible_charge_point(csms, principal, station_id)
    await _file(csms, body.file_id)
    await audit_command(csms, principal.actor, "charge_point", station_id,
                 {"command": "update-firmware",
                  "request": body.model_dump(mode="json", exclude={"timeout_s"})})
    options = UpdateOptions(body.retrieve_at, body.install_at, body.retries,
                            body.retry_interval_s)
    try:
        found, result = await firmware_service(csms).update(
            station_id, body.file_id, options, timeout_s=body.timeout_s,
            requested_by=principal.actor)
    except UpdateFailed as failed:
        answer = command_failure(failed.error)
        extra = {"update_id": failed.update_id, "poll": _poll(failed.update_id)}
        return JSONResponse({**orjson.loads(answer.body), **extra}, answer.status_code)
    return UpdateFirmwareOut(status=getattr(result, "status", "answered"),
                             reason=getattr(result, "reason", None), update_id=found.id,
                             poll=_poll(found.id))


@router.get("/firmware/updates/{update_id}", response_model=m.FirmwareUpdateOut,
            responses=ONE)
async def firmware_update(update_id: Id, csms: CsmsDep,
                          principal: CommandReader) -> m.FirmwareUpdateOut:
    """One charger's update: its state, the charger's answer and latest status."""
    found = await firmware_service(csms).store.update(update_id)
    if found is None:
        raise HTTPException(http_status.HTTP_404_NOT_FOUND, "no such firmware update")
    await visible_charge_point(csms, principal, found.station_id)
    return (await updates_out(csms, [found]))[0]


@router.get("/charge-points/{station_id}/firmware-updates",
            response_model=list[m.FirmwareUpdateOut], responses=ONE)
async def charge_point_updates(station_id: StationPath, csms: CsmsDep,
                               principal: CommandReader) -> list[m.FirmwareUpdateOut]:
    """The charger's latest 100 firmware updates, newest first."""
    await visible_charge_point(csms, principal, station_id)
    return await updates_out(csms, await firmware_service(csms).store.updates_of(station_id))


@router.post("/firmware/rollouts", response_model=m.RolloutOut, status_code=201,
             responses=ONE)
async def start_rollout(body: m.RolloutIn, csms: CsmsDep,
                        principal: Commander) -> m.RolloutOut:
    """Update these chargers ``wave_size`` at a time, in order: the next wave once every
    charger of the current one has finished; the rollout stops when more than
    ``failure_threshold`` of a wave failed (an update without a final status within
    ``files.firmware_timeout_s`` failed). State survives a restart."""
    for station_id in dict.fromkeys(body.station_ids):
        await visible_charge_point(csms, principal, station_id)
    await _file(csms, body.file_id)
    await audit_command(csms, principal.actor, "firmware_rollout", body.file_id,
                 body.model_dump(mode="json"))
    service = firmware_service(csms)
    rollout_id = await service.start_rollout(
        body.file_id, body.station_ids, wave_size=body.wave_size,
        failure_threshold=body.failure_threshold, retrieve_at=body.retrieve_at,
        requested_by=principal.actor)
    return await _rollout(csms, rollout_id)


@router.get("/firmware/rollouts", response_model=list[m.RolloutOut], responses=ONE)
async def rollouts(csms: CsmsDep, _: CommandReader) -> list[m.RolloutOut]:
    """The latest 100 rollouts, newest first."""
    return [await rollout_out(csms, r) for r in await firmware_service(csms).store.rollouts()]


@router.get("/firmware/rollouts/{rollout_id}", response_model=m.RolloutOut, responses=ONE)
async def rollout(rollout_id: Id, csms: CsmsDep, _: CommandReader) -> m.RolloutOut:
    """A rollout and every charger's outcome."""
    return await _rollout(csms, rollout_id)


@router.post("/firmware/rollouts/{rollout_id}/stop", response_model=m.RolloutOut,
             responses=ONE)
async def stop_rollout(rollout_id: Id, csms: CsmsDep, principal: Commander) -> m.RolloutOut:
    """Stop a running rollout: no further wave is sent (updates already sent finish on the
    chargers and are still recorded). A finished rollout stays as it is."""
    await _rollout(csms, rollout_id)
    await audit_command(csms, principal.actor, "firmware_rollout", rollout_id, {"stop": True})
    await firmware_service(csms).stop_rollout(rollout_id, f"stopped by {principal.actor}")
    return await _rollout(csms, rollout_id)


def firmware_service(csms: Csms) -> FirmwareService:
    assert csms.firmware is not None, "composed in csms.app.running"
    return csms.firmware


def file_out(file: FirmwareFile) -> m.FirmwareFileOut:
    return m.FirmwareFileOut(
        id=file.id, name=file.name, version=file.version, sha256=file.sha256,
        size_bytes=file.size_bytes,
        signed=file.signing_certificate is not None and file.signature is not None,
        uploaded_at=file.uploaded_at, uploaded_by=file.uploaded_by)


async def updates_out(csms: Csms, updates: list[FirmwareUpdate]) -> list[m.FirmwareUpdateOut]:
    queries = StationQueries(csms.engine)
    versions: dict[str, str | None] = {}
    for station_id in {u.station_id for u in updates}:
        stored = await queries.charge_point(station_id)
        versions[station_id] = None if stored is None else stored.firmware_version
    return [m.FirmwareUpdateOut.model_validate(u).model_copy(
        update={"firmware_version": versions[u.station_id]}) for u in updates]


async def rollout_out(csms: Csms, found: Rollout) -> m.RolloutOut:
    return m.RolloutOut(
        id=found.id, file_id=found.file_id, wave_size=found.wave_size,
        failure_threshold=found.failure_threshold, state=found.state, reason=found.reason,
        retrieve_at=found.retrieve_at, created_at=found.created_at,
        created_by=found.created_by, finished_at=found.finished_at,
        updates=await updates_out(csms, list(found.updates)))


async def _rollout(csms: Csms, rollout_id: int) -> m.RolloutOut:
    found = await firmware_service(csms).store.rollout(rollout_id)
    if found is None:
        raise HTTPException(http_status.HTTP_404_NOT_FOUND, "no such rollout")
    return await rollout_out(csms, found)


async def _file(csms: Csms, file_id: int) -> FirmwareFile:
    found = await firmware_service(csms).store.file(file_id)
    if found is None:
        raise HTTPException(http_status.HTTP_404_NOT_FOUND, "no such firmware file")
    return found


def _poll(update_id: int) -> str:
    return f"/firmware/updates/{update_id}"


async def _body(request: Request) -> AsyncIterator[bytes]:
    async for chunk in request.stream():
        if chunk:
            yield chunk


async def audit_command(csms: Csms, actor: str, resource: str, resource_id: object,
                 details: dict[str, Any]) -> None:
    async def unit(tx: WriteTx) -> None:
        audit(tx, actor, "firmware", resource, resource_id, details)

    await csms.store.writer.submit(unit)
