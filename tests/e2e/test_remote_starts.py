"""End to end, both versions, both databases: remote starts through the API name the session
the charger started for them, each request has its own remoteStartId, and a card registered
lower-case authorizes when the charger sends it upper-case."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from csms.api.access import Role
from csms.api.tokens import new_token
from csms.app import Csms
from csms.domain.model import AuthorizationStatus, RegistrationStatus
from csms.store import tables as t
from simulators.station import SimStation
from tests.conftest import eventually, ocpp_url

VERSIONS = ["ocpp1.6", "ocpp2.0.1"]
T0 = datetime(2026, 12, 2, 20, 0, tzinfo=UTC)


@pytest.fixture
async def api(csms: Csms) -> AsyncIterator[httpx.AsyncClient]:
    """An operator's client on the running API."""
    secret, record = new_token(Role.OPERATOR, created_by="test", now=csms.stations.now())
    await csms.access.add_token(record)
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{csms.api_port}", timeout=30,
                                 headers={"Authorization": f"Bearer {secret}"}) as client:
        yield client


async def remote_start(api: httpx.AsyncClient, station_id: str, **body: Any) -> Any:
    answer = await api.post(f"/charge-points/{station_id}/commands/remote-start", json=body)
    assert 200 == answer.status_code, answer.text
    return answer.json()


async def sessions_of(csms: Csms, station_id: str) -> dict[int, Any]:
    s = t.sessions
    async with csms.engine.connect() as conn:
        found = (await conn.execute(select(s).where(s.c.station_id == station_id))).all()
    return {row.id: row for row in found}


@pytest.mark.parametrize("version", VERSIONS)
async def test_the_answer_names_the_session_the_charger_started(
    csms: Csms, api: httpx.AsyncClient, version: str
) -> None:
    """Accepted, with its remote_start_id and, after waiting, the session and transaction the
    charger started for it; the poll URL says the same."""
    await csms.store.put_token("RES-9", AuthorizationStatus.ACCEPTED)
    sim = SimStation("CP-RS", version, ocpp_url(csms))
    async with sim.running():
        await sim.boot()
        await sim.send_status(1, "Available")
        answer = await remote_start(api, "CP-RS", id_token="RES-9", evse_id=1, wait_s=20)
        [session] = (await sessions_of(csms, "CP-RS")).values()
        polled = (await api.get(answer["poll"])).json()
    assert ("Accepted", session.id, session.transaction_id) == (
        answer["status"], answer["session_id"], answer["transaction_id"])
    assert isinstance(answer["remote_start_id"], int)
    assert (answer["remote_start_id"], "CP-RS", "Accepted", session.id,
            "window" if version == "ocpp1.6" else "remote_start_id") == (
        polled["remote_start_id"], polled["station_id"], polled["outcome"],
        polled["session_id"], polled["matched_by"])


@pytest.mark.parametrize("version", VERSIONS)
async def test_two_remote_starts_get_their_own_ids_and_sessions(
    csms: Csms, api: httpx.AsyncClient, version: str
) -> None:
    """Two requests on two connectors: different remoteStartIds (on the wire too, 2.0.1),
    each answered by its own session."""
    sim = SimStation("CP-RS2", version, ocpp_url(csms), connectors=2)
    async with sim.running():
        await sim.boot()
        first = await remote_start(api, "CP-RS2", id_token="RES-1", evse_id=1, wait_s=20)
        second = await remote_start(api, "CP-RS2", id_token="RES-2", evse_id=2, wait_s=20)
        sessions = await sessions_of(csms, "CP-RS2")
    assert first["remote_start_id"] != second["remote_start_id"]
    assert {first["session_id"], second["session_id"]} == set(sessions)
    assert ("RES-1", "RES-2") == (sessions[first["session_id"]].id_token,
                                  sessions[second["session_id"]].id_token)
    if version == "ocpp2.0.1":
        sent = [p["remoteStartId"] for a, p in sim.received if a == "RequestStartTransaction"]
        assert [first["remote_start_id"], second["remote_start_id"]] == sent


@pytest.mark.parametrize("version", VERSIONS)
async def test_without_waiting_the_poll_url_gets_the_session(
    csms: Csms, api: httpx.AsyncClient, version: str
) -> None:
    """wait_s 0 (the default) answers at once; GET poll shows the session once started."""
    sim = SimStation("CP-RS3", version, ocpp_url(csms))
    async with sim.running():
        await sim.boot()
        answer = await remote_start(api, "CP-RS3", id_token="RES-3")
        polled = await eventually(lambda: _poll(api, answer["poll"]),
                                  lambda state: state["session_id"] is not None)
        [session] = (await sessions_of(csms, "CP-RS3")).values()
    assert (session.id, session.transaction_id) == (polled["session_id"],
                                                     polled["transaction_id"])


async def test_a_refused_remote_start_is_recorded_and_matches_nothing(
    csms: Csms, api: httpx.AsyncClient
) -> None:
    """The charger says Rejected (connector busy): no wait, no session; a later local start
    with that card is not taken for it."""
    sim = SimStation("CP-RS4", "ocpp1.6", ocpp_url(csms))
    async with sim.running():
        await sim.boot()
        await sim.start_transaction(1, "RES-4", timestamp=T0)
        refused = await remote_start(api, "CP-RS4", id_token="RES-4", evse_id=1, wait_s=20)
        polled = (await api.get(refused["poll"])).json()
    assert ("Rejected", None, "Rejected", None) == (
        refused["status"], refused["session_id"], polled["outcome"], polled["session_id"])


async def test_a_failed_remote_start_keeps_its_id_and_state_is_for_commanders(
    csms: Csms, api: httpx.AsyncClient
) -> None:
    """Offline: 409 with the remote_start_id and poll URL, whose state says offline. A
    role without commands gets 403 there; an unknown id is 404."""
    await csms.store.add_station("CP-OFF", RegistrationStatus.ACCEPTED)
    offline = await api.post("/charge-points/CP-OFF/commands/remote-start",
                             json={"id_token": "RES-5"})
    body = offline.json()
    assert (409, f"/remote-starts/{body['remote_start_id']}") == (offline.status_code,
                                                                 body["poll"])
    assert "offline" == (await _poll(api, body["poll"]))["outcome"]
    secret, record = new_token(Role.SAFETY_PLATFORM, created_by="test",
                               now=csms.stations.now())
    await csms.access.add_token(record)
    other = await api.get(body["poll"], headers={"Authorization": f"Bearer {secret}"})
    assert 403 == other.status_code
    assert 404 == (await api.get("/remote-starts/999999")).status_code


@pytest.mark.parametrize("version", VERSIONS)
async def test_a_card_registered_lower_case_authorizes_upper_case(
    csms: Csms, version: str
) -> None:
    """deadbeef is registered; the charger sends DEADBEEF: Authorize Accepted, and the
    transaction it starts is Accepted (unknown tokens are refused in these tests)."""
    await csms.store.put_token("deadbeef", AuthorizationStatus.ACCEPTED)
    sim = SimStation("CP-CASE", version, ocpp_url(csms))
    async with sim.running():
        await sim.boot()
        assert "Accepted" == await sim.authorize("DEADBEEF")
        assert "Invalid" == await sim.authorize("DEADBEEF00")
        await sim.start_transaction(1, "DEADBEEF", timestamp=T0)
        [session] = (await sessions_of(csms, "CP-CASE")).values()
    assert ("DEADBEEF", "Accepted") == (session.id_token, session.auth_status)


async def _poll(api: httpx.AsyncClient, url: str) -> Any:
    answer = await api.get(url)
    assert 200 == answer.status_code, answer.text
    return answer.json()
