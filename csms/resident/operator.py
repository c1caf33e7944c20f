"""The operator's side of the resident page: residents' PINs (family ``residents``) and the
printable QR code of each connector (family ``network``, read).

A PIN is 4 to 8 digits, stored only as a salted scrypt hash (:mod:`csms.passwords`); it is
never shown again. Scope as for id tokens (csms.api.routes.city.residents): a scoped token may
set PINs only for cards of residents in its communities. Setting or clearing a PIN is
audited (without the PIN) and ends the card's signed-in visits.
"""

from __future__ import annotations

import asyncio
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Path, Query, Request
from fastapi import status as http_status
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field

from csms import passwords
from csms.api.access import Family, Principal
from csms.api.deps import CsmsDep, require
from csms.api.models import ONE, WRITE_ONE, store_errors
from csms.api.routes.safety.status import visible_charge_point
from csms.api.scope import require_location
from csms.app import Csms
from csms.resident.figures import PIN
from csms.resident.qr import page_url, qr_png
from csms.store.resident_pins import PinStore
from csms.store.residents import Residents

router = APIRouter(tags=["resident page"])
Reader = Annotated[Principal, Depends(require(Family.RESIDENTS, "read"))]
Writer = Annotated[Principal, Depends(require(Family.RESIDENTS, "write"))]
NetworkReader = Annotated[Principal, Depends(require(Family.NETWORK, "read"))]
TokenKey = Annotated[str, Path(min_length=1, max_length=36)]
PNG = {200: {"content": {"image/png": {}}, "description": "the QR code"}, **ONE}


class PinIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    pin: str = Field(pattern=PIN.pattern, min_length=4, max_length=8,
                     description="4 to 8 digits; tell the resident, it is not shown again")


class PinOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id_token: str
    set_at: datetime
    set_by: str
    failures: int = Field(description="wrong PINs entered since it was set")
    last_failure_at: datetime | None


def _pins(csms: Csms) -> PinStore:
    return PinStore(csms.engine, csms.store.writer)


async def _visible_token(csms: Csms, principal: Principal, id_token: str) -> None:
    location = await Residents(csms.engine, csms.store.writer).location_of_id_token(id_token)
    require_location(principal, location, "id token")


@router.put("/id-tokens/{id_token}/pin", response_model=PinOut, responses=WRITE_ONE)
async def set_pin(id_token: TokenKey, body: PinIn, csms: CsmsDep,
                  principal: Writer) -> PinOut:
    """Set or replace the card's PIN for the resident page (resets its failure count)."""
    await _visible_token(csms, principal, id_token)
    hashed = await asyncio.to_thread(passwords.hash_password, body.pin)
    with store_errors():
        await _pins(csms).set_pin(id_token, hashed, principal.actor)
        state = await _pins(csms).state(id_token)
    assert state is not None
    return PinOut.model_validate(state)


@router.get("/id-tokens/{id_token}/pin", response_model=PinOut, responses=ONE)
async def get_pin(id_token: TokenKey, csms: CsmsDep, principal: Reader) -> PinOut:
    """When the card's PIN was set and by whom, and the wrong PINs since (404 if none)."""
    await _visible_token(csms, principal, id_token)
    with store_errors():
        state = await _pins(csms).state(id_token)
    if state is None:
        raise _no_pin()
    return PinOut.model_validate(state)


@router.delete("/id-tokens/{id_token}/pin", status_code=http_status.HTTP_204_NO_CONTENT,
               responses=WRITE_ONE)
async def clear_pin(id_token: TokenKey, csms: CsmsDep, principal: Writer) -> None:
    """Remove the card's PIN: it can no longer sign in on the resident page."""
    await _visible_token(csms, principal, id_token)
    with store_errors():
        if not await _pins(csms).clear_pin(id_token, principal.actor):
            raise _no_pin()


def _no_pin() -> HTTPException:
    return HTTPException(http_status.HTTP_404_NOT_FOUND, "the card has no PIN")


def public_base(csms: Csms, request: Request) -> str:
    """``resident.public_url``, else ``files.public_url``, else the address this request
    reached the API at (the operator's own view of the CSMS)."""
    return (csms.settings.resident.public_url or csms.settings.files.public_url
            or str(request.base_url)).rstrip("/")


@router.get("/console/chargers/{station_id}/qr.png", response_class=Response, responses=PNG)
async def qr_code(station_id: Annotated[str, Path(min_length=1, max_length=48)],
                  request: Request, csms: CsmsDep, principal: NetworkReader,
                  connector: Annotated[int, Query(ge=1, le=99)] = 1,
                  scale: Annotated[int, Query(ge=2, le=40)] = 10) -> Response:
    """A printable QR code for one connector (EVSE; 1.6: connector id), pointing at its
    resident page ``<public URL>/console/r/<charge point>/<connector>``."""
    await visible_charge_point(csms, principal, station_id)
    url = page_url(public_base(csms, request), station_id, connector)
    return Response(qr_png(url, scale), media_type="image/png",
                    headers={"Content-Disposition":
                             f'inline; filename="qr-{connector}.png"', "X-Target-URL": url})
