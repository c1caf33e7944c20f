"""End to end, both versions, both databases, over real WebSockets with the simulator: a
reservation made through the API holds the connector (Reserved) for its token, other tokens
are refused, the right token's session consumes it (reservationId in the start), and it can
be cancelled or expire."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import httpx
import pytest

from csms.api.access import Role
from csms.api.tokens import new_token
from csms.app import Csms
from csms.domain.model import AuthorizationStatus
from simulators.behaviour.ev import Ev
from simulators.model import Status
from simulators.station import SimStation
from tests.conftest import eventually, ocpp_url, until

VERSIONS = ["ocpp1.6", "ocpp2.0.1"]


@pytest.fixture
async def api(csms: Csms) -> AsyncIterator[httpx.AsyncClient]:
    """An operator's client on the running API."""
    secret, record = new_token(Role.OPERATOR, created_by="test", now=csms.stations.now())
    await csms.access.add_token(record)
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{csms.api_port}", timeout=30,
                                 headers={"Authorization": f"Bearer {secret}"}) as client:
        yield client


def later(csms: Csms, seconds: float) -> str:
    return (csms.stations.now() + timedelta(seconds=seconds)).isoformat()


async def reserve(api: httpx.AsyncClient, station_id: str, **body: Any) -> httpx.Response:
    return await api.post(f"/charge-points/{station_id}/reservations", json=body)


async def reservation(api: httpx.AsyncClient, reservation_id: int) -> Any:
    answer = await api.get(f"/reservations/{reservation_id}")
    assert 200 == answer.status_code, answer.text
    return answer.json()


async def connector_status(api: httpx.AsyncClient, station_id: str) -> str | None:
    live = (await api.get(f"/charge-points/{station_id}/live")).json()
    return next((c["status"] for c in live["connectors"] if c["evse_id"] == 1), None)


@pytest.mark.parametrize("version", VERSIONS)
async def test_a_reservation_holds_the_connector_for_its_token_and_is_consumed(
    csms: Csms, api: httpx.AsyncClient, version: str
) -> None:
    """Accepted and active; the connector reports Reserved; another card is refused at the
    charger and by remote start; the reserved card's session carries the reservationId and
    the reservation becomes used, linked to that session."""
    await csms.store.put_token("RSV-OWNER", AuthorizationStatus.ACCEPTED)
    await csms.store.put_token("RSV-OTHER", AuthorizationStatus.ACCEPTED)
    sim = SimStation("CP-RV1", version, ocpp_url(csms))
    async with sim.running():
        await sim.boot()
        await sim.send_status(1, "Available")
        made = await reserve(api, "CP-RV1", id_token="RSV-OWNER", evse_id=1,
                             expires_at=later(csms, 600))
        assert 200 == made.status_code, made.text
        rid = made.json()["reservation"]["id"]
        await eventually(lambda: connector_status(api, "CP-RV1"), lambda s: s == "Reserved")
        other = await sim.plug_in(1, Ev(), "RSV-OTHER")
        remote = await api.post("/charge-points/CP-RV1/commands/remote-start",
                                json={"id_token": "RSV-OTHER", "evse_id": 1})
        await sim.plug_in(1, Ev(), "rsv-owner")
        used = await eventually(lambda: reservation(api, rid), lambda r: r["status"] == "used")
        tx = sim.transaction(1)
        assert tx is not None
    assert ("Accepted", "active") == (made.json()["answer"], made.json()["reservation"]["status"])
    assert (other.done, other.auth_status) == (True, "Reserved")
    assert "Rejected" == remote.json()["status"]
    assert rid == tx.reservation_id
    assert used["session_id"] is not None
    reserve_calls = [p for a, p in sim.received if a == "ReserveNow"]
    assert 1 == len(reserve_calls)


@pytest.mark.parametrize("version", VERSIONS)
async def test_any_connector_and_cancel(csms: Csms, api: httpx.AsyncClient,
                                        version: str) -> None:
    """No EVSE (1.6 connector 0) reserves any; cancelling through the API is Accepted at the
    charger, ends the reservation, and a second cancel is Rejected."""
    sim = SimStation("CP-RV2", version, ocpp_url(csms), connectors=2)
    async with sim.running():
        await sim.boot()
        made = (await reserve(api, "CP-RV2", id_token="RSV-ANY",
                              expires_at=later(csms, 600))).json()
        rid = made["reservation"]["id"]
        listed = (await api.get("/charge-points/CP-RV2/reservations",
                                params={"open": "true"})).json()
        held = dict(sim.reservations.held)
        cancelled = (await api.post(f"/reservations/{rid}/cancel", json={})).json()
        again = (await api.post(f"/reservations/{rid}/cancel", json={})).json()
    assert "Accepted" == made["answer"]
    assert [rid] == [r["id"] for r in listed]
    assert held[rid].connector_id is None
    wire = next(p for a, p in sim.received if a == "ReserveNow")
    assert (wire.get("connectorId"), wire.get("evseId")) == (
        (0, None) if version == "ocpp1.6" else (None, None))
    assert ("Accepted", "cancelled") == (cancelled["answer"], cancelled["reservation"]["status"])
    assert ("Rejected", "cancelled") == (again["answer"], again["reservation"]["status"])
    assert {} == sim.reservations.held


@pytest.mark.parametrize("version", VERSIONS)
async def test_a_reservation_expires(csms: Csms, api: httpx.AsyncClient, version: str) -> None:
    """At its expiry the charger frees the connector (2.0.1 also sends
    ReservationStatusUpdate Expired) and the API shows the reservation expired."""
    sim = SimStation("CP-RV3", version, ocpp_url(csms))
    async with sim.running():
        await sim.boot()
        await sim.send_status(1, "Available")
        made = (await reserve(api, "CP-RV3", id_token="RSV-EXP", evse_id=1,
                              expires_at=later(csms, 3.0))).json()
        assert "reservation" in made, made
        rid = made["reservation"]["id"]
        await until(lambda: sim.connectors[1].status, lambda s: s is Status.RESERVED)
        await until(lambda: sim.connectors[1].status, lambda s: s is Status.AVAILABLE)
        expired = await eventually(lambda: reservation(api, rid),
                                   lambda r: r["status"] == "expired")
        listed = (await api.get("/charge-points/CP-RV3/reservations",
                                params={"open": "true"})).json()
        ended = await reservation(api, rid)
    assert ("active", "expired") == (made["reservation"]["status"], expired["status"])
    assert ([], "expired") == (listed, ended["status"])
    assert ended["ended_at"] is not None
    updates = [p for a, p in sim.link.sent if a == "ReservationStatusUpdate"]
    assert updates == ([] if version == "ocpp1.6" else [
        {"reservationId": rid, "reservationUpdateStatus": "Expired"}])


@pytest.mark.parametrize("version", VERSIONS)
async def test_a_busy_connector_is_occupied_and_the_reservation_refused(
    csms: Csms, api: httpx.AsyncClient, version: str
) -> None:
    """The charger answers Occupied while a transaction runs: the reservation is refused."""
    sim = SimStation("CP-RV4", version, ocpp_url(csms))
    async with sim.running():
        await sim.boot()
        await sim.start_transaction(1, "RSV-BUSY")
        made = (await reserve(api, "CP-RV4", id_token="RSV-LATE", evse_id=1,
                              expires_at=later(csms, 600))).json()
    assert ("Occupied", "refused", "Occupied") == (
        made["answer"], made["reservation"]["status"], made["reservation"]["outcome"])


async def test_expiry_in_the_past_is_422_and_nothing_is_sent(
    csms: Csms, api: httpx.AsyncClient
) -> None:
    """A reservation must end in the future."""
    sim = SimStation("CP-RV5", "ocpp1.6", ocpp_url(csms))
    async with sim.running():
        await sim.boot()
        answer = await reserve(api, "CP-RV5", id_token="RSV-P", evse_id=1,
                               expires_at=later(csms, -5))
    assert 422 == answer.status_code
    assert [] == [a for a, _ in sim.received if a == "ReserveNow"]


async def test_connector_type_is_2_0_1_only(csms: Csms, api: httpx.AsyncClient) -> None:
    """2.0.1 reserves by connector type; 1.6 cannot express it (422), though the
    reservation was recorded and refused."""
    v201 = SimStation("CP-RV6", "ocpp2.0.1", ocpp_url(csms))
    v16 = SimStation("CP-RV7", "ocpp1.6", ocpp_url(csms))
    async with v201.running(), v16.running():
        await v201.boot()
        await v16.boot()
        typed = await reserve(api, "CP-RV6", id_token="RSV-T", connector_type="cType2",
                              expires_at=later(csms, 600))
        wrong = await reserve(api, "CP-RV6", id_token="RSV-T", connector_type="cCCS2",
                              expires_at=later(csms, 600))
        old = await reserve(api, "CP-RV7", id_token="RSV-T", connector_type="cType2",
                            expires_at=later(csms, 600))
    assert ("Accepted", "Rejected") == (typed.json()["answer"], wrong.json()["answer"])
    assert 422 == old.status_code
    refused = await reservation(api, old.json()["reservation_id"])
    assert ("refused", "not_supported") == (refused["status"], refused["outcome"])
