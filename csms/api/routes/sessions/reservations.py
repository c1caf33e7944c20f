"""Reservations (family ``commands``): reserve an EVSE for a resident's token, see and
cancel reservations.

A reservation is recorded before ReserveNow is sent; its ``id`` is the ``reservationId``.
A failure's body carries ``reservation_id`` too. Errors as for the other commands
(:mod:`csms.api.routes.commands.live`); 422 also for an expiry that is not in the future.
"""

from __future__ import annotations

from typing import Annotated

import orjson
from fastapi import APIRouter, HTTPException, Path, Query
from fastapi import status as http_status
from fastapi.responses import JSONResponse

from csms.api import auth_models as am
from csms.api.deps import CsmsDep
from csms.api.models import MAX_ID, ONE
from csms.api.routes.commands.common import (
    ERRORS,
    Commander,
    CommandReader,
    audit_command,
    command_failure,
)
from csms.api.routes.safety.status import visible_charge_point
from csms.api.routes.sessions.records import StationPath
from csms.app import Csms
from csms.domain.model import IdToken
from csms.errors import CommandError
from csms.services.sessions.reservations import ReservationFailed, Reservations, ReserveRequest
from csms.store.reservations import ReservationRecord

router = APIRouter(tags=["reservations"])
ReservationPath = Annotated[int, Path(ge=1, le=MAX_ID)]


def _service(csms: Csms) -> Reservations:
    assert csms.reservations is not None, "composed in csms.app.running"
    return csms.reservations


def _out(record: ReservationRecord) -> am.ReservationOut:
    return am.ReservationOut.model_validate(record)


@router.post("/charge-points/{station_id}/reservations", response_model=am.ReserveOut,
             responses=ERRORS)
async def reserve(station_id: StationPath, body: am.ReserveIn, csms: CsmsDep,
                  principal: Commander) -> am.ReserveOut | JSONResponse:
    """Reserve an EVSE (none: any; 2.0.1 also by connector type) for ``id_token`` until
    ``expires_at`` (ReserveNow). The charger's answer is ``answer``; only Accepted makes
    the reservation ``active``."""
    await visible_charge_point(csms, principal, station_id)
    await audit_command(csms, principal.actor, station_id, "reserve", body)
    request = ReserveRequest(station_id, IdToken(body.id_token, body.id_token_type),
                             body.expires_at, body.evse_id or None, body.connector_type,
                             body.group_id)
    try:
        record, answer = await _service(csms).reserve(
            request, requested_by=principal.actor, timeout_s=body.timeout_s)
    except ValueError as exc:
        raise HTTPException(http_status.HTTP_422_UNPROCESSABLE_CONTENT, str(exc)) from None
    except ReservationFailed as failed:
        response = command_failure(failed.error)
        return JSONResponse({**orjson.loads(response.body),
                             "reservation_id": failed.reservation_id}, response.status_code)
    return am.ReserveOut(answer=answer, reservation=_out(record))


@router.get("/charge-points/{station_id}/reservations", response_model=list[am.ReservationOut],
            responses=ONE)
async def station_reservations(
    station_id: StationPath, csms: CsmsDep, principal: CommandReader,
    open_only: Annotated[bool, Query(alias="open", description="only pending or active")] = False,
) -> list[am.ReservationOut]:
    """The charge point's reservations, newest first (at most 100)."""
    await visible_charge_point(csms, principal, station_id)
    return [_out(r) for r in await _service(csms).list(station_id, open_only=open_only)]


@router.get("/reservations/{reservation_id}", response_model=am.ReservationOut,
            responses=ONE)
async def reservation(reservation_id: ReservationPath, csms: CsmsDep,
                      principal: CommandReader) -> am.ReservationOut:
    """One reservation; visible to whoever may see its charge point."""
    record = await _service(csms).get(reservation_id)
    if record is None:
        raise HTTPException(http_status.HTTP_404_NOT_FOUND, "no such reservation")
    await visible_charge_point(csms, principal, record.station_id)
    return _out(record)


@router.post("/reservations/{reservation_id}/cancel", response_model=am.CancelOut,
             responses=ERRORS)
async def cancel(reservation_id: ReservationPath, body: am.CancelIn, csms: CsmsDep,
                 principal: Commander) -> am.CancelOut | JSONResponse:
    """Cancel a reservation (CancelReservation). Accepted ends it; so does Rejected (the
    charger no longer holds it)."""
    service = _service(csms)
    record = await service.get(reservation_id)
    if record is None:
        raise HTTPException(http_status.HTTP_404_NOT_FOUND, "no such reservation")
    await visible_charge_point(csms, principal, record.station_id)
    await audit_command(csms, principal.actor, record.station_id, "cancel-reservation", body)
    try:
        answer = await service.cancel(reservation_id, requested_by=principal.actor,
                                      timeout_s=body.timeout_s)
    except CommandError as exc:
        return command_failure(exc)
    after = await service.get(reservation_id)
    assert after is not None
    return am.CancelOut(answer=answer, reservation=_out(after))
