"""Connector status, its history and station events over the API, after status
notifications and faults from simulated chargers of both OCPP versions."""

from __future__ import annotations

from datetime import datetime, timedelta

import httpx
import pytest

from csms.api.access import Role
from csms.app import Csms
from simulators.station import SimStation
from tests.api.conftest import TokenFactory, bearer
from tests.api.test_sessions import T0, VERSIONS, get, new_place, place_station
from tests.conftest import ocpp_url

MINUTE = timedelta(minutes=1)


async def statuses(csms: Csms, station_id: str, version: str) -> None:
    """Available at T0, Unavailable a minute later, Available again at two minutes."""
    sim = SimStation(station_id, version, ocpp_url(csms))
    async with sim.running():
        await sim.boot()
        for minute, state in enumerate(("Available", "Unavailable", "Available")):
            await sim.send_status(1, state, timestamp=T0 + minute * MINUTE)


async def fault(csms: Csms, station_id: str, version: str) -> None:
    """1.6: a Faulted StatusNotification with an error code. 2.0.1 has no error code in
    StatusNotification; its faults come as NotifyEvent."""
    sim = SimStation(station_id, version, ocpp_url(csms))
    async with sim.running():
        await sim.boot()
        if version == "ocpp1.6":
            await sim.send_status(1, "Faulted", error_code="GroundFailure", timestamp=T0)
            return
        await sim.call("NotifyEvent", {
            "generatedAt": T0.isoformat(), "seqNo": 0, "eventData": [{
                "eventId": 1, "timestamp": T0.isoformat(), "trigger": "Alerting",
                "actualValue": "true", "eventNotificationType": "HardWiredNotification",
                "component": {"name": "EVSE", "evse": {"id": 1}},
                "variable": {"name": "Problem"},
            }],
        })


@pytest.mark.parametrize("version", VERSIONS)
async def test_status_and_its_history(
    csms: Csms, http: httpx.AsyncClient, token: TokenFactory, version: str
) -> None:
    """The current status is the last one reported; the history has every change, newest
    first, between ``from`` and ``to``, paged."""
    await statuses(csms, "CP-ST", version)
    reader = await token(Role.SAFETY_PLATFORM)
    [connector] = await get(http, reader, "/charge-points/CP-ST/status")
    assert (1, 1, "Available", T0 + 2 * MINUTE) == (
        connector["evse_id"], connector["connector_id"], connector["status"],
        _time(connector["status_at"]))
    history = await get(http, reader, "/charge-points/CP-ST/status-history")
    assert ["Available", "Unavailable", "Available"] == [h["status"] for h in history["items"]]
    assert 3 == history["total"]
    window = {"from": (T0 + MINUTE).isoformat(), "to": (T0 + 2 * MINUTE).isoformat()}
    between = await get(http, reader, "/charge-points/CP-ST/status-history", **window)
    assert ["Unavailable"] == [h["status"] for h in between["items"]]
    paged = await get(http, reader, "/charge-points/CP-ST/status-history", limit=1, offset=2)
    assert (3, [T0]) == (paged["total"], [_time(h["at"]) for h in paged["items"]])


@pytest.mark.parametrize("version", VERSIONS)
async def test_a_fault_becomes_an_event(
    csms: Csms, http: httpx.AsyncClient, token: TokenFactory, version: str
) -> None:
    """A fault is listed among the station events, filtered by station, kind and time."""
    await fault(csms, "CP-F", version)
    await statuses(csms, "CP-OK", version)
    reader = await token(Role.OPERATOR)
    kind, code = (("connector_fault", "GroundFailure") if version == "ocpp1.6"
                  else ("notify_event", "EVSE.Problem"))
    events = await get(http, reader, "/events", kind=kind)
    assert [("CP-F", code, 1, T0)] == [
        (e["station_id"], e["code"], e["evse_id"], _time(e["at"])) for e in events["items"]]
    assert 1 == (await get(http, reader, "/events", station_id="CP-F"))["total"]
    assert 0 == (await get(http, reader, "/events", station_id="CP-OK"))["total"]
    later = {"from": (T0 + MINUTE).isoformat()}
    assert 0 == (await get(http, reader, "/events", **later))["total"]
    assert 1 == (await get(http, reader, "/events", to=(T0 + MINUTE).isoformat()))["total"]
    if version == "ocpp1.6":
        [faulted] = await get(http, reader, "/charge-points/CP-F/status")
        assert ("Faulted", "GroundFailure") == (faulted["status"], faulted["error_code"])


async def test_scope_and_missing_charge_points(
    csms: Csms, http: httpx.AsyncClient, token: TokenFactory
) -> None:
    """A property token sees only its community's status and events: 403 for another's
    charge point, and an unassigned charge point is outside every scope. 404 for no such
    charge point."""
    a, b = await new_place(csms, "甲"), await new_place(csms, "乙")
    await place_station(csms, "CP-A", a)
    await place_station(csms, "CP-B", b)
    for station_id in ("CP-A", "CP-B", "CP-LOOSE"):
        await fault(csms, station_id, "ocpp1.6")
    prop = await token(Role.PROPERTY, community_id=a.community_id)
    events = await get(http, prop, "/events")
    assert ["CP-A"] == [e["station_id"] for e in events["items"]]
    assert 1 == len(await get(http, prop, "/charge-points/CP-A/status"))
    for station_id in ("CP-B", "CP-LOOSE"):
        for path in ("status", "status-history"):
            answer = await http.get(f"/charge-points/{station_id}/{path}", headers=bearer(prop))
            assert 403 == answer.status_code, (station_id, path)
    admin = bearer(await token(Role.ADMIN))
    assert 3 == (await http.get("/events", headers=admin)).json()["total"]
    assert 404 == (await http.get("/charge-points/NOBODY/status", headers=admin)).status_code


def _time(value: str) -> datetime:
    return datetime.fromisoformat(value)
