"""What every command route shares: the permissions, the error answers, and sending a
command (audited first, then sent, its failure as the HTTP answer the API documents).

A command's answer is the charger's, as JSON (200). Otherwise: 409 if the charge point is
not connected, 504 (with ``waited_s``) if it did not answer in time, 502 for a CALLERROR
(with its code and description) or an answer that breaks the schema, 422 if the station's
OCPP version cannot express the command, 503 if it could not be sent (queue full, or the
request breaks the OCPP schema).
"""

from __future__ import annotations

from typing import Annotated, TypeVar

from fastapi import Depends
from fastapi import status as http_status
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from csms.api import commands as m
from csms.api.access import Family, Principal
from csms.api.deps import require
from csms.api.models import ONE, Responses
from csms.api.routes.safety.status import visible_charge_point
from csms.app import Csms
from csms.errors import (
    CommandError,
    CommandNotSupported,
    CommandRejected,
    CommandTimeout,
    InvalidResponse,
    StationOffline,
)
from csms.store.access import audit
from csms.store.writer import WriteTx

Commander = Annotated[Principal, Depends(require(Family.COMMANDS, "write"))]
CommandReader = Annotated[Principal, Depends(require(Family.COMMANDS, "read"))]
Answer = TypeVar("Answer", bound=BaseModel)
COMMANDS = "/charge-points/{station_id}/commands"
ERRORS: Responses = {
    **ONE,
    409: {"model": m.ErrorOut, "description": "the charge point is not connected"},
    422: {"description": "invalid body, or the station's OCPP version cannot express it"},
    502: {"model": m.CallErrorOut,
          "description": "the charger answered with a CALLERROR or an invalid answer"},
    503: {"model": m.ErrorOut,
          "description": "not sent: the command queue is full, or the request breaks the"
                         " OCPP schema"},
    504: {"model": m.TimeoutOut, "description": "the charger did not answer in time"},
}


async def send_command(
    csms: Csms, principal: Principal, station_id: str, name: str, body: m.CommandIn,
    answer: type[Answer],
) -> Answer | JSONResponse:
    """Audit, send, and the charger's answer as ``answer`` or the failure as an error."""
    await visible_charge_point(csms, principal, station_id)
    command = body.command()
    await audit_command(csms, principal.actor, station_id, name, body)
    try:
        result = await csms.commands.send(station_id, command, timeout_s=body.timeout_s,
                                          requested_by=principal.actor)
    except CommandError as exc:
        return command_failure(exc)
    return answer.model_validate(result)


async def audit_command(csms: Csms, actor: str, station_id: str, name: str,
                        body: m.CommandIn) -> None:
    """Rule: a command is in the audit log before it is sent."""
    details = {"command": name, "request": body.model_dump(mode="json", exclude={"timeout_s"})}

    async def unit(tx: WriteTx) -> None:
        audit(tx, actor, "command", "charge_point", station_id, details)

    await csms.store.writer.submit(unit)


def command_failure(exc: CommandError) -> JSONResponse:
    """The HTTP answer to a command that got no usable answer."""
    detail = str(exc)
    if isinstance(exc, StationOffline):
        return JSONResponse({"detail": detail}, http_status.HTTP_409_CONFLICT)
    if isinstance(exc, CommandTimeout):
        return JSONResponse({"detail": detail, "waited_s": round(exc.waited_s, 3)},
                            http_status.HTTP_504_GATEWAY_TIMEOUT)
    if isinstance(exc, CommandNotSupported):
        return JSONResponse({"detail": detail}, http_status.HTTP_422_UNPROCESSABLE_CONTENT)
    if isinstance(exc, CommandRejected):
        return JSONResponse({"detail": detail, "code": exc.code,
                             "description": exc.description}, http_status.HTTP_502_BAD_GATEWAY)
    if isinstance(exc, InvalidResponse):
        return JSONResponse({"detail": detail}, http_status.HTTP_502_BAD_GATEWAY)
    return JSONResponse({"detail": detail}, http_status.HTTP_503_SERVICE_UNAVAILABLE)
