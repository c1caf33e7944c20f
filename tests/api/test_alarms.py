"""Alarms over the API: list and filters, one alarm, acknowledge and clear with their audit
rows, scope, and the daily safety summary; alarms raised by simulated chargers' faults."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from csms.api.access import Role
from csms.api.tokens import new_token
from csms.app import Csms, running
from csms.services.events import AlarmChanged, DomainEvent
from csms.store import tables as t
from simulators.station import SimStation
from tests.api.conftest import TokenFactory, bearer
from tests.api.test_sessions import Place, get, new_place, place_station
from tests.conftest import eventually, make_settings, ocpp_url

T0 = datetime(2026, 11, 27, 19, 0, tzinfo=UTC)  # 03:00 on 28 November in Shanghai
MINUTE = timedelta(minutes=1)


async def faults(csms: Csms, station_id: str, *steps: tuple[int, str, str | None, datetime],
                 expect: int) -> None:
    """Send 1.6 status notifications (connector, status, error code, time); wait until
    ``expect`` alarms exist in all."""
    sim = SimStation(station_id, "ocpp1.6", ocpp_url(csms), connectors=2)
    async with sim.running():
        await sim.boot()
        for connector, status, error, at in steps:
            await sim.send_status(connector, status, error_code=error, timestamp=at)
        await eventually(lambda: _count(csms), lambda n: n >= expect)


async def _count(csms: Csms) -> int:
    async with csms.engine.connect() as conn:
        return len((await conn.execute(select(t.audit_log.c.id).where(
            t.audit_log.c.resource == "alarm", t.audit_log.c.action == "raise"))).all())


async def two_places_with_alarms(csms: Csms) -> tuple[Place, Place]:
    """CP-A in community A: over-voltage (level 2) and weak signal (3) on connector 1;
    CP-B in community B: a reader failure (3)."""
    a, b = await new_place(csms, "甲"), await new_place(csms, "乙")
    await place_station(csms, "CP-A", a)
    await place_station(csms, "CP-B", b)
    await faults(csms, "CP-A", (1, "Faulted", "OverVoltage", T0),
                 (1, "Available", "WeakSignal", T0 + MINUTE), expect=2)
    await faults(csms, "CP-B", (1, "Available", "ReaderFailure", T0 + 2 * MINUTE), expect=3)
    return a, b


async def test_list_filters_and_one_alarm(
    csms: Csms, http: httpx.AsyncClient, token: TokenFactory
) -> None:
    """Alarms are listed newest first, filtered by state, level, code, station, community,
    district and time raised, paged; one alarm shows its evidence."""
    a, b = await two_places_with_alarms(csms)
    reader = await token(Role.SAFETY_PLATFORM)
    listed = await get(http, reader, "/alarms")
    assert (3, ["reader_failure", "weak_signal", "over_voltage"]) == (
        listed["total"], [x["code"] for x in listed["items"]])
    codes = {x["code"]: x for x in listed["items"]}
    assert (2, "CP-A", 1, 1, a.community_id, a.district_id) == tuple(
        codes["over_voltage"][k] for k in ("level", "station_id", "evse_id", "connector_id",
                                           "community_id", "district_id"))

    async def codes_of(**params: Any) -> list[str]:
        return [x["code"] for x in (await get(http, reader, "/alarms", **params))["items"]]

    assert ["over_voltage"] == await codes_of(level=2)
    assert ["weak_signal"] == await codes_of(code="weak_signal")
    assert ["reader_failure"] == await codes_of(station_id="CP-B")
    assert ["reader_failure"] == await codes_of(community_id=b.community_id)
    assert ["weak_signal", "over_voltage"] == await codes_of(district_id=a.district_id)
    assert ["reader_failure", "weak_signal"] == await codes_of(since=(T0 + MINUTE).isoformat())
    assert ["over_voltage"] == await codes_of(until=(T0 + MINUTE).isoformat())
    assert 3 == len(await codes_of(state="open"))
    assert [] == await codes_of(state="closed")
    paged = await get(http, reader, "/alarms", limit=1, offset=1)
    assert (3, ["weak_signal"]) == (paged["total"], [x["code"] for x in paged["items"]])
    one = await get(http, reader, f"/alarms/{codes['over_voltage']['id']}")
    assert ("OverVoltage", "Faulted") == (one["evidence"]["error_code"],
                                          one["evidence"]["status"])
    assert 422 == (await http.get("/alarms", params={"code": "nonsense"},
                                  headers=bearer(reader))).status_code
    assert 404 == (await http.get("/alarms/999999", headers=bearer(reader))).status_code


async def test_acknowledge_and_clear_with_audit(
    csms: Csms, http: httpx.AsyncClient, token: TokenFactory
) -> None:
    """An operator acknowledges (who, when, comment) and clears an alarm; each step once
    (409 after), each with its audit row and an AlarmChanged on the bus; read-only roles
    get 403 and change nothing."""
    await two_places_with_alarms(csms)
    published: list[AlarmChanged] = []

    def listen(event: DomainEvent) -> None:
        if isinstance(event, AlarmChanged):
            published.append(event)

    csms.bus.subscribe(listen)
    operator = await token(Role.OPERATOR)
    [alarm] = (await get(http, operator, "/alarms", code="weak_signal"))["items"]
    path = f"/alarms/{alarm['id']}"
    platform = bearer(await token(Role.SAFETY_PLATFORM))
    assert 403 == (await http.post(f"{path}/acknowledge", json={}, headers=platform)
                   ).status_code
    acked = await http.post(f"{path}/acknowledge", json={"comment": "on my way"},
                            headers=bearer(operator))
    assert 200 == acked.status_code, acked.text
    body = acked.json()
    assert ("acknowledged", "on my way", True) == (
        body["state"], body["ack_comment"], body["acknowledged_by"].startswith("token:"))
    assert body["seconds_to_acknowledge"] >= 0
    assert 409 == (await http.post(f"{path}/acknowledge", json={},
                                   headers=bearer(operator))).status_code
    cleared = await http.post(f"{path}/clear", json={"comment": "antenna replaced"},
                              headers=bearer(operator))
    assert ("cleared", "antenna replaced") == (cleared.json()["state"],
                                               cleared.json()["clear_reason"])
    assert 409 == (await http.post(f"{path}/clear", json={}, headers=bearer(operator))
                   ).status_code
    assert 422 == (await http.post(f"{path}/clear", json={"comment": "x", "extra": 1},
                                   headers=bearer(operator))).status_code
    assert 404 == (await http.post("/alarms/999999/clear", json={},
                                   headers=bearer(operator))).status_code
    async with csms.engine.connect() as conn:
        rows = (await conn.execute(select(t.audit_log).where(
            t.audit_log.c.resource == "alarm", t.audit_log.c.resource_id == str(alarm["id"]))
            .order_by(t.audit_log.c.id))).all()
    assert ["raise", "acknowledge", "clear"] == [r.action for r in rows]
    assert body["acknowledged_by"] == rows[1].actor == rows[2].actor
    assert ["acknowledged", "cleared"] == [e.transition for e in published]
    assert ("antenna replaced", body["acknowledged_by"]) == (published[1].comment,
                                                            published[1].by)


async def test_scope(csms: Csms, http: httpx.AsyncClient, token: TokenFactory) -> None:
    """A property token lists only its community's alarms and gets 403 for another's alarm
    and summary; a district token likewise; a write role outside scope does not exist."""
    a, b = await two_places_with_alarms(csms)
    prop_a = await token(Role.PROPERTY, community_id=a.community_id)
    assert {"CP-A"} == {x["station_id"] for x in (await get(http, prop_a, "/alarms"))["items"]}
    assert 0 == (await get(http, prop_a, "/alarms", community_id=b.community_id))["total"]
    admin = await token(Role.ADMIN)
    [b_alarm] = (await get(http, admin, "/alarms", station_id="CP-B"))["items"]
    assert 403 == (await http.get(f"/alarms/{b_alarm['id']}", headers=bearer(prop_a))
                   ).status_code
    summary = f"/communities/{b.community_id}/safety-summary"
    assert 403 == (await http.get(summary, params={"date": "2026-11-28"},
                                  headers=bearer(prop_a))).status_code
    district_b = await token(Role.DISTRICT, district_id=b.district_id)
    assert ["CP-B"] == [x["station_id"] for x in
                        (await get(http, district_b, "/alarms"))["items"]]
    assert 404 == (await http.get("/communities/99999/safety-summary",
                                  params={"date": "2026-11-28"},
                                  headers=bearer(admin))).status_code


class Clock:
    def __init__(self, start: datetime) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
async def clocked(database_url: str) -> AsyncIterator[tuple[Csms, Clock, httpx.AsyncClient]]:
    """A CSMS on a clock the test moves (heartbeat interval one day: nobody gets lost)."""
    clock = Clock(T0)
    settings = make_settings(database_url, heartbeat_interval_s=86400)
    async with running(settings, clock) as app, httpx.AsyncClient(
            base_url=f"http://127.0.0.1:{app.api_port}", timeout=10) as client:
        yield app, clock, client


async def test_daily_summary(clocked: tuple[Csms, Clock, httpx.AsyncClient]) -> None:
    """28 November in Shanghai (27 Nov 16:00 to 28 Nov 16:00 UTC): over-voltage raised
    19:00, cleared by NoError 19:10 (600 s); weak signal raised 20:00, acknowledged 21:00
    (3600 s); an under-voltage of the day before still open; both days' figures."""
    csms, clock, http = clocked
    place = await new_place(csms, "丙")
    await place_station(csms, "CP-S", place)
    hour = timedelta(hours=1)
    await faults(csms, "CP-S", (2, "Faulted", "UnderVoltage", T0 - 4 * hour),
                 (1, "Faulted", "OverVoltage", T0), (1, "Available", None, T0 + 10 * MINUTE),
                 (1, "Available", "WeakSignal", T0 + hour), expect=3)
    secret, record = new_token(Role.OPERATOR, created_by="test", now=clock.now)
    await csms.access.add_token(record)
    weak = await get(http, secret, "/alarms", code="weak_signal")
    clock.now = T0 + 2 * hour
    acked = await http.post(f"/alarms/{weak['items'][0]['id']}/acknowledge", json={},
                            headers=bearer(secret))
    assert 200 == acked.status_code, acked.text
    path = f"/communities/{place.community_id}/safety-summary"
    day = await get(http, secret, path, date="2026-11-28")
    assert (datetime(2026, 11, 27, 16, tzinfo=UTC), "Asia/Shanghai") == (
        datetime.fromisoformat(day["start"]), day["timezone"])
    assert (2, 1, 1, {"2": 1, "3": 1}, {"over_voltage": 1, "weak_signal": 1}) == (
        day["raised"], day["acknowledged"], day["cleared"], day["raised_by_level"],
        day["raised_by_code"])
    assert {"count": 1, "mean_s": 3600.0, "max_s": 3600.0} == day["time_to_acknowledge"]
    assert {"count": 1, "mean_s": 600.0, "max_s": 600.0} == day["time_to_clear"]
    assert [{"station_id": "CP-S", "evse_id": 1, "connector_id": 1, "count": 2}] == \
        day["faults_by_connector"]
    assert 2 == day["open_at_end"]
    before = await get(http, secret, path, date="2026-11-27")
    assert (1, {"under_voltage": 1}, 1) == (before["raised"], before["raised_by_code"],
                                            before["open_at_end"])
    bad = await http.get(path, params={"date": "28.11.2026"}, headers=bearer(secret))
    assert 422 == bad.status_code
