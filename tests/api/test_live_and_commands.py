"""A charge point's live state and commands through the API: the charger's answer (both
versions), 409 offline, 504 silent, 502 CALLERROR, 422 inexpressible, who may send them,
and the audit and command logs."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime, timedelta
from typing import Any

import httpx
import orjson
import pytest
from sqlalchemy import func, select
from websockets.asyncio.client import ClientConnection, connect
from websockets.typing import Subprotocol

from csms.api.access import Role
from csms.app import Csms
from csms.domain.model import AuthorizationStatus, RegistrationStatus
from csms.store import tables as t
from simulators.station import SimStation
from tests.api.conftest import TokenFactory, bearer
from tests.api.test_sessions import T0, VERSIONS, get, new_place, place_station
from tests.conftest import eventually, ocpp_url

PROFILE = {
    "profile_id": 7, "stack_level": 1, "purpose": "TxDefaultProfile", "kind": "Absolute",
    "schedule": {"rate_unit": "A", "periods": [{"start_s": 0, "limit": 16.0}],
                 "start_at": T0.isoformat()},
}


async def connected(csms: Csms, station_id: str) -> bool:
    return csms.connections.get(station_id) is not None


async def post(http: httpx.AsyncClient, secret: str, station_id: str, name: str,
               body: dict[str, Any] | None = None) -> httpx.Response:
    return await http.post(f"/charge-points/{station_id}/commands/{name}", json=body or {},
                           headers=bearer(secret))


async def answered(http: httpx.AsyncClient, secret: str, station_id: str, name: str,
                   body: dict[str, Any] | None = None) -> Any:
    answer = await post(http, secret, station_id, name, body)
    assert 200 == answer.status_code, (name, answer.text)
    return answer.json()


@asynccontextmanager
async def raw_station(csms: Csms, station_id: str) -> AsyncIterator[ClientConnection]:
    """A connected 1.6 charge point that answers nothing unless the test does; yielded once
    the CSMS has it connected and registered (it is stored just after it is connected)."""
    async with connect(ocpp_url(csms) + station_id,
                       subprotocols=[Subprotocol("ocpp1.6")]) as ws:
        await eventually(lambda: connected(csms, station_id))
        await eventually(lambda: csms.store.get_station(station_id),
                         lambda record: record is not None)
        yield ws


@pytest.mark.parametrize("version", VERSIONS)
async def test_live_state_while_charging_and_after_disconnect(
    csms: Csms, http: httpx.AsyncClient, token: TokenFactory, version: str
) -> None:
    """Connected, version, times, boot identity, connector statuses, the active session with
    its energy so far and latest power; after disconnect: not connected, data kept."""
    await csms.store.put_token("RES-1", AuthorizationStatus.ACCEPTED)
    sim = SimStation("CP-LIVE", version, ocpp_url(csms), meter_start_wh=10_000,
                     firmware="fw-2.3")
    reader = await token(Role.PROPERTY, community_id=(await _placed(csms, "CP-LIVE")))
    async with sim.running():
        await sim.boot()
        await sim.send_status(1, "Charging", timestamp=T0)
        tx = await sim.start_transaction(1, "RES-1", timestamp=T0)
        await sim.send_meter_values(1, energy_wh=11_500, power_w=7000,
                                    timestamp=T0 + timedelta(minutes=10))
        live = await get(http, reader, "/charge-points/CP-LIVE/live")
    assert (True, version, "fw-2.3", "SimVendor", "SimModel") == (
        live["connected"], live["ocpp_version"], live["firmware_version"], live["vendor"],
        live["model"])
    assert _time(live["connected_at"]) <= _time(live["last_message_at"])
    assert [(1, 1, "Charging" if version == "ocpp1.6" else "Occupied")] == [
        (c["evse_id"], c["connector_id"], c["status"]) for c in live["connectors"]]
    [session] = live["active_sessions"]
    assert (tx, 1500.0, 7000.0, T0 + timedelta(minutes=10)) == (
        session["transaction_id"], session["energy_wh"], session["power_w"],
        _time(session["power_at"]))
    gone = await eventually(lambda: get(http, reader, "/charge-points/CP-LIVE/live"),
                            lambda state: not state["connected"])
    assert (None, None, version, 1) == (gone["connected_at"], gone["last_message_at"],
                                        gone["ocpp_version"], len(gone["active_sessions"]))


@pytest.mark.parametrize("version", VERSIONS)
async def test_every_command_gets_the_chargers_answer(
    csms: Csms, http: httpx.AsyncClient, token: TokenFactory, version: str
) -> None:
    """Each command endpoint answers 200 with the simulator's answer; each is audited and
    logged with who sent it."""
    secret = await token(Role.OPERATOR)
    key = {"variable": "HeartbeatInterval"} | (
        {} if version == "ocpp1.6" else {"component": "OCPPCommCtrlr"})
    sim = SimStation("CP-CMD", version, ocpp_url(csms))
    async with sim.running():
        await sim.boot()
        await _simple_commands(http, secret, key)
        report = await answered(http, secret, "CP-CMD", "get-configuration", {"keys": [key]})
        assert [key["variable"]] == [v["key"]["variable"] for v in report["values"]]
        schedule = await answered(http, secret, "CP-CMD", "composite-schedule",
                                  {"evse_id": 1, "duration_s": 3600, "rate_unit": "A"})
        assert "Accepted" == schedule["status"]
        tx = await _remote_start(csms, http, secret)
        assert {"status": "Accepted", "reason": None} == await answered(
            http, secret, "CP-CMD", "remote-stop", {"transaction_id": tx})
        await eventually(lambda: _active(csms, "CP-CMD"), lambda active: not active)
        assert "Accepted" == (await answered(http, secret, "CP-CMD", "reset"))["status"]
    assert 11 == await _count(csms, t.audit_log, t.audit_log.c.action == "command")
    actors = await _count(csms, t.command_log,
                          t.command_log.c.requested_by == f"token:{secret.split('_')[1]}")
    assert 11 == actors


async def _simple_commands(http: httpx.AsyncClient, secret: str, key: dict[str, str]) -> None:
    """The commands whose answer is a plain status."""
    expected: list[tuple[str, dict[str, Any], str]] = [
        ("set-configuration", {"key": key, "value": "120"}, "Accepted"),
        ("change-availability", {"evse_id": 1, "operative": True}, "Accepted"),
        ("unlock", {"evse_id": 1}, "Unlocked"),
        ("trigger-message", {"message": "Heartbeat"}, "Accepted"),
        ("set-charging-profile", {"evse_id": 1, "profile": PROFILE}, "Accepted"),
        ("clear-charging-profile", {"profile_id": 7}, "Accepted"),
    ]
    for name, body, status in expected:
        assert status == (await answered(http, secret, "CP-CMD", name, body))["status"], name


async def _remote_start(csms: Csms, http: httpx.AsyncClient, secret: str) -> str:
    answer = await answered(http, secret, "CP-CMD", "remote-start",
                            {"id_token": "RES-9", "evse_id": 1})
    assert "Accepted" == answer["status"]
    [tx] = await eventually(lambda: _active(csms, "CP-CMD"))
    return tx


@pytest.mark.parametrize("version", VERSIONS)
async def test_inexpressible_commands_are_422(
    csms: Csms, http: httpx.AsyncClient, token: TokenFactory, version: str
) -> None:
    """What the station's version cannot say is refused before anything is sent."""
    secret = await token(Role.ADMIN)
    name, body = (("trigger-message", {"message": "TransactionEvent"}) if version == "ocpp1.6"
                  else ("get-configuration", {}))
    sim = SimStation("CP-422", version, ocpp_url(csms))
    async with sim.running():
        await sim.boot()
        answer = await post(http, secret, "CP-422", name, body)
    assert 422 == answer.status_code
    assert "has no OCPP" in answer.json()["detail"]
    assert [] == [action for action, _ in sim.received]


async def test_offline_silent_and_refusing_stations(
    csms: Csms, http: httpx.AsyncClient, token: TokenFactory
) -> None:
    """Offline: 409. Connected but silent: 504 with the time waited. CALLERROR: 502 with
    its code. No such charge point: 404. A timeout over 120 s: 422."""
    secret = await token(Role.OPERATOR)
    await csms.store.add_station("CP-OFF", RegistrationStatus.ACCEPTED)
    offline = await post(http, secret, "CP-OFF", "reset")
    assert (409, "CP-OFF: charge point is not connected") == (
        offline.status_code, offline.json()["detail"])
    async with raw_station(csms, "CP-MUTE"):
        silent = await post(http, secret, "CP-MUTE", "reset", {"timeout_s": 0.3})
    assert 504 == silent.status_code
    assert 0.3 <= silent.json()["waited_s"] < 5
    async with raw_station(csms, "CP-NO") as ws:
        refusing = asyncio.create_task(_refuse_one(ws))
        rejected = await post(http, secret, "CP-NO", "unlock", {"evse_id": 1})
        await refusing
    assert (502, "NotImplemented", "not on this charger") == (
        rejected.status_code, rejected.json()["code"], rejected.json()["description"])
    assert 404 == (await post(http, secret, "NOBODY", "reset")).status_code
    assert 422 == (await post(http, secret, "CP-OFF", "reset", {"timeout_s": 121})).status_code
    assert 422 == (await post(http, secret, "CP-OFF", "reset", {"kind": "Warm"})).status_code


async def _refuse_one(ws: ClientConnection) -> None:
    call = orjson.loads(await ws.recv())
    await ws.send(orjson.dumps([4, call[1], "NotImplemented", "not on this charger", {}])
                  .decode())


async def test_who_may_send_commands_and_see_live_state(
    csms: Csms, http: httpx.AsyncClient, token: TokenFactory
) -> None:
    """Read-only roles get 403 on commands and send nothing; a property token of A reads
    A's live state but gets 403 for B's live state and commands."""
    a, b = await new_place(csms, "甲"), await new_place(csms, "乙")
    await place_station(csms, "CP-A", a)
    await place_station(csms, "CP-B", b)
    readers = [await token(Role.DISTRICT, district_id=a.district_id),
               await token(Role.PROPERTY, community_id=a.community_id),
               await token(Role.SAFETY_PLATFORM)]
    async with raw_station(csms, "CP-A"):
        for secret in readers:
            assert 403 == (await post(http, secret, "CP-A", "reset")).status_code
    assert 0 == await _count(csms, t.command_log, t.command_log.c.station_id == "CP-A")
    prop = readers[1]
    assert "CP-A" == (await get(http, prop, "/charge-points/CP-A/live"))["station_id"]
    assert 403 == (await http.get("/charge-points/CP-B/live", headers=bearer(prop))).status_code
    assert 403 == (await post(http, prop, "CP-B", "reset")).status_code
    operator = await post(http, await token(Role.OPERATOR), "CP-B", "reset")
    assert 409 == operator.status_code  # unscoped, so B is reachable; it is offline


async def _placed(csms: Csms, station_id: str) -> int:
    place = await new_place(csms, station_id)
    await place_station(csms, station_id, place)
    return place.community_id


async def _active(csms: Csms, station_id: str) -> list[str]:
    s = t.sessions
    async with csms.engine.connect() as conn:
        return list((await conn.execute(select(s.c.transaction_id).where(
            s.c.station_id == station_id, s.c.status == "active"))).scalars().all())


async def _count(csms: Csms, table: Any, *where: Any) -> int:
    async with csms.engine.connect() as conn:
        return int((await conn.execute(
            select(func.count()).select_from(table).where(*where))).scalar_one())


def _time(value: str) -> datetime:
    return datetime.fromisoformat(value)
