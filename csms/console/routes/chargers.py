"""Chargers: the list (pending ones first to accept), registering one, a charger's page with
its live state, a new password, and commands (reset, unlock, availability, remote start and
stop, trigger message) with the charger's answer shown as it came."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated, Any

from fastapi import APIRouter, Form, HTTPException, Path, Query, Request, status
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import BaseModel

from csms.api import commands as m
from csms.api.access import Family, Principal
from csms.api.routes.commands import live
from csms.api.routes.stations import network
from csms.app import Csms
from csms.console.deps import CsmsDep, SessionDep, allowed, need
from csms.console.render import page
from csms.console.routes.common import answer_of, blank_none, int_or_none, pager, paging
from csms.domain.commands import TriggerableMessage
from csms.domain.model import RegistrationStatus

router = APIRouter()
StationId = Annotated[str, Path(min_length=1, max_length=48)]
Send = Callable[[str, Any, Csms, Principal], Awaitable[Any]]
# command name -> (API route function, request model, form fields it takes)
COMMANDS: dict[str, tuple[Send, type[BaseModel]]] = {
    "reset": (live.reset, m.ResetIn),
    "unlock": (live.unlock, m.UnlockIn),
    "change-availability": (live.change_availability, m.ChangeAvailabilityIn),
    "remote-start": (live.remote_start, m.RemoteStartIn),
    "remote-stop": (live.remote_stop, m.RemoteStopIn),
    "trigger-message": (live.trigger_message, m.TriggerMessageIn),
}
FIELDS = ("kind", "evse_id", "connector_id", "operative", "id_token", "transaction_id",
          "message")


@router.get("/chargers", response_class=HTMLResponse)
async def chargers(request: Request, csms: CsmsDep, session: SessionDep,
                   registration: str | None = None,
                   offset: Annotated[int, Query(ge=0)] = 0) -> HTMLResponse:
    need(session, Family.NETWORK)
    window = paging(offset)
    chosen = RegistrationStatus(registration) if registration in {
        s.value for s in RegistrationStatus} else None
    listed = await network.list_charge_points(csms, session.principal, window, None, None,
                                              chosen)
    return page(request, "chargers.html", session, active="chargers", rows=listed.items,
                registration=registration, pager=pager(request, window, listed.total),
                can_write=allowed(session, Family.NETWORK, "write"))


@router.post("/chargers")
async def register(csms: CsmsDep, session: SessionDep,
                   station_id: Annotated[str, Form(min_length=1, max_length=48)],
                   site_id: Annotated[str, Form()] = "") -> RedirectResponse:
    need(session, Family.NETWORK, "write")
    body = network.ChargePointIn(id=station_id.strip(), site_id=int_or_none(site_id))
    created = await network.create_charge_point(body, csms, session.principal)
    return RedirectResponse(f"/console/chargers/{created.id}", status_code=303)


@router.post("/chargers/{station_id}/registration")
async def set_registration(station_id: StationId, csms: CsmsDep, session: SessionDep,
                           registration: Annotated[RegistrationStatus, Form()]
                           ) -> RedirectResponse:
    need(session, Family.NETWORK, "write")
    await network.set_registration(station_id, network.RegistrationIn(status=registration),
                                   csms, session.principal)
    return RedirectResponse(f"/console/chargers/{station_id}", status_code=303)


@router.get("/chargers/{station_id}", response_class=HTMLResponse)
async def charger(request: Request, station_id: StationId, csms: CsmsDep,
                  session: SessionDep) -> HTMLResponse:
    return await _charger_page(request, station_id, csms, session)


@router.post("/chargers/{station_id}/password", response_class=HTMLResponse)
async def new_password(request: Request, station_id: StationId, csms: CsmsDep,
                       session: SessionDep) -> HTMLResponse:
    """Generate a new Basic-auth password; it is shown once, on the page this answers."""
    need(session, Family.NETWORK, "write")
    made = await network.set_password(station_id, csms, session.principal, None)
    return await _charger_page(request, station_id, csms, session,
                               answer=("password", 200, {"password": made.password}))


@router.post("/chargers/{station_id}/commands/{command}", response_class=HTMLResponse)
async def command(request: Request, station_id: StationId, command: str, csms: CsmsDep,
                  session: SessionDep) -> Response:
    need(session, Family.COMMANDS, "write")
    if command not in COMMANDS:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "no such command")
    send, model = COMMANDS[command]
    form = await request.form()
    values: dict[str, object] = {
        k: v for k in FIELDS if isinstance(v := form.get(k), str) and blank_none(v)}
    if "operative" in values:
        values["operative"] = values["operative"] == "true"
    if command == "remote-start":
        values["wait_s"] = "5"
    body = model.model_validate(values)
    code, answer = answer_of(await send(station_id, body, csms, session.principal))
    return await _charger_page(request, station_id, csms, session,
                               answer=(command, code, answer))


async def _charger_page(request: Request, station_id: str, csms: CsmsDep,
                        session: SessionDep,
                        answer: tuple[str, int, Any] | None = None) -> HTMLResponse:
    need(session, Family.NETWORK)
    state = await live.live_state(station_id, csms, session.principal)
    site = None if state.site_id is None else await network.get_site(state.site_id, csms,
                                                                     session.principal)
    return page(request, "charger.html", session, active="chargers", state=state,
                zone=csms.settings.reports.timezone if site is None else site.timezone,
                answer=answer, can_write=allowed(session, Family.NETWORK, "write"),
                can_command=allowed(session, Family.COMMANDS, "write"),
                messages=[x.value for x in TriggerableMessage])
