"""Diagnostics and logs (family ``commands``): ask a charger for a log, follow the request,
download the file it uploaded (operator and admin tokens only: ``commands`` read).

The charger uploads to the URL the CSMS sent it (csms.api.routes.files.transfer). A
command's failure maps as for the other commands (csms.api.routes.commands.live).
"""

from __future__ import annotations

from typing import Annotated

import orjson
from fastapi import APIRouter, Depends, HTTPException, Path
from fastapi import status as http_status
from fastapi.responses import FileResponse, JSONResponse, Response

from csms.api import files_models as m
from csms.api.access import Family, Principal
from csms.api.deps import CsmsDep, require
from csms.api.models import MAX_ID, ONE
from csms.api.routes.commands.common import ERRORS, command_failure
from csms.api.routes.safety.status import visible_charge_point
from csms.api.routes.sessions.records import StationPath
from csms.app import Csms
from csms.domain.commands_files import LogKind
from csms.services.files.logs import LogRequestFailed, LogService
from csms.services.files.vault import Corrupt
from csms.store.access import audit
from csms.store.files import LogRequest
from csms.store.writer import WriteTx

router = APIRouter(tags=["diagnostics and logs"])
Commander = Annotated[Principal, Depends(require(Family.COMMANDS, "write"))]
CommandReader = Annotated[Principal, Depends(require(Family.COMMANDS, "read"))]
Id = Annotated[int, Path(ge=1, le=MAX_ID)]
_KINDS = {"diagnostics": LogKind.DIAGNOSTICS, "security": LogKind.SECURITY}


@router.post("/charge-points/{station_id}/commands/get-log",
             response_model=m.LogRequestOut, responses=ERRORS)
async def get_log(station_id: StationPath, body: m.GetLogIn, csms: CsmsDep,
                  principal: Commander) -> m.LogRequestOut | JSONResponse:
    """Ask for a diagnostics or security log (1.6 GetDiagnostics, or GetLog of the
    security extension; 2.0.1 GetLog) to be uploaded to a URL of its own; the answer is
    the request with the charger's answer. Follow it at ``GET /logs/{id}``."""
    await visible_charge_point(csms, principal, station_id)
    details = {"command": "get-log",
               "request": body.model_dump(mode="json", exclude={"timeout_s"})}

    async def unit(tx: WriteTx) -> None:
        audit(tx, principal.actor, "command", "charge_point", station_id, details)

    await csms.store.writer.submit(unit)
    try:
        found, _ = await log_service(csms).request(
            station_id, _KINDS[body.kind], oldest=body.oldest, latest=body.latest,
            security_extension=body.security_extension, retries=body.retries,
            retry_interval_s=body.retry_interval_s, timeout_s=body.timeout_s,
            requested_by=principal.actor)
    except LogRequestFailed as failed:
        answer = command_failure(failed.error)
        extra = {"request_id": failed.request_id, "poll": f"/logs/{failed.request_id}"}
        return JSONResponse({**orjson.loads(answer.body), **extra}, answer.status_code)
    return log_out(found)


@router.get("/logs/{request_id}", response_model=m.LogRequestOut, responses=ONE)
async def log_request(request_id: Id, csms: CsmsDep,
                      principal: CommandReader) -> m.LogRequestOut:
    """A log request: the charger's answer, its status notifications, the upload."""
    return log_out(await _visible(csms, principal, request_id))


@router.get("/charge-points/{station_id}/logs", response_model=list[m.LogRequestOut],
            responses=ONE)
async def charge_point_logs(station_id: StationPath, csms: CsmsDep,
                            principal: CommandReader) -> list[m.LogRequestOut]:
    """The charger's latest 100 log requests, newest first."""
    await visible_charge_point(csms, principal, station_id)
    return [log_out(r) for r in await log_service(csms).store.of_station(station_id)]


@router.get("/logs/{request_id}/file", responses={
    **ONE, 200: {"content": {"application/octet-stream": {}},
                 "description": "the uploaded file"}})
async def log_file(request_id: Id, csms: CsmsDep, principal: CommandReader) -> Response:
    """The file the charger uploaded (404 while there is none), checked against its
    SHA-256 (500 if the stored copy no longer matches)."""
    found = await _visible(csms, principal, request_id)
    try:
        path = await log_service(csms).file_path(found)
    except (Corrupt, OSError) as exc:
        raise HTTPException(http_status.HTTP_500_INTERNAL_SERVER_ERROR, str(exc)) from None
    if path is None:
        raise HTTPException(http_status.HTTP_404_NOT_FOUND, "nothing uploaded yet")
    name = found.upload_name or found.filename or f"log-{found.id}"
    return FileResponse(path, media_type="application/octet-stream", filename=name,
                        headers={"X-Content-SHA256": found.sha256 or ""})


def log_service(csms: Csms) -> LogService:
    assert csms.logs is not None, "composed in csms.app.running"
    return csms.logs


def log_out(record: LogRequest) -> m.LogRequestOut:
    out = m.LogRequestOut.model_validate(record)
    if record.stored_name is not None:
        out.download = f"/logs/{record.id}/file"
    return out


async def _visible(csms: Csms, principal: Principal, request_id: int) -> LogRequest:
    found = await log_service(csms).store.get(request_id)
    if found is None:
        raise HTTPException(http_status.HTTP_404_NOT_FOUND, "no such log request")
    await visible_charge_point(csms, principal, found.station_id)
    return found
