"""The municipal platform feed end to end: a real CSMS, the charger simulator and the
platform simulator (simulators.platform), on both databases."""

from __future__ import annotations

import asyncio
import time
from datetime import datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
from sqlalchemy import select

from csms.api.access import Role
from csms.api.tokens import new_token
from csms.app import Csms, running
from csms.config import load_settings
from csms.store.safety import tables as tables_safety
from simulators.platform.sim import PlatformSim, serving
from simulators.station import SimStation
from tests.conftest import eventually, make_settings, ocpp_url
from tests.e2e.conftest import SECRETS, Rig, platform_settings
from tests.e2e.test_billing_flows import drive_session, new_place, yunnan_tariff

SHANGHAI = ZoneInfo("Asia/Shanghai")
def _sum(items: list[dict[str, Any]], key: str) -> Decimal:
    return sum((Decimal(str(i[key])) for i in items), Decimal(0))


def assert_exact(order: dict[str, Any]) -> None:
    details = order["ChargeDetails"]
    assert Decimal(str(order["TotalPower"])) == _sum(details, "DetailPower")
    assert Decimal(str(order["TotalElecMoney"])) == _sum(details, "DetailElecMoney")
    assert Decimal(str(order["TotalSeviceMoney"])) == _sum(details, "DetailSeviceMoney")
    assert Decimal(str(order["TotalMoney"])) == Decimal(str(order["TotalElecMoney"])) + \
        Decimal(str(order["TotalSeviceMoney"]))


async def _statuses(sim: PlatformSim) -> list[int]:
    return [d["ConnectorStatusInfo"]["Status"] for d in sim.of("notification_stationStatus")]


async def _orders(sim: PlatformSim) -> list[dict[str, Any]]:
    return sim.of("notification_charge_order_info")


@pytest.mark.parametrize("version", ["ocpp1.6", "ocpp2.0.1"])
async def test_status_info_and_orders_reach_the_platform(rig: Rig, version: str) -> None:
    """Boot: station info (GCJ-02, 6 decimals); each status within seconds, mapped to its
    code, offline (0) once the charger is gone; an alarm with its level; the session over
    midnight as one order, split at the tariff boundary, its details summing exactly to its
    totals."""
    place = await new_place(rig.csms, "CP-P1", "CARD-P1")
    await yunnan_tariff(rig.csms, place)
    charger = SimStation("CP-P1", version, ocpp_url(rig.csms))
    async with charger.running():
        await charger.boot()
        info = await eventually(lambda: _of(rig.sim, "notification_stationInfo"))
        station = info[0]["StationInfo"]
        assert (str(place.site_id), 1, "MA0000001") == (
            station["StationID"], station["Construction"], station["OperatorID"])
        sent = time.monotonic()
        await charger.send_status(1, "Available")
        await eventually(lambda: _statuses(rig.sim), lambda s: s[-1:] == [1], 10)
        assert time.monotonic() - sent < 10
        await charger.send_status(1, "Reserved")
        await eventually(lambda: _statuses(rig.sim), lambda s: s[-1:] == [4], 10)
        start = datetime(2026, 11, 27, 23, 30, tzinfo=SHANGHAI)
        await drive_session(charger, "CARD-P1", start, 90, 7000, 10_000)
        await charger.send_status(1, "Faulted", error_code="GroundFailure")
        await eventually(lambda: _statuses(rig.sim), lambda s: s[-1:] == [255], 10)
        alarms = await eventually(lambda: _of(rig.sim, "notification_alarmInfo"))
        [alarm] = alarms[0]["AlarmInfos"]
        stored = await _alarm(rig.csms, alarm["AlarmCode"])
        assert ("CP-P1-1-1", stored, 1) == (alarm["ConnectorID"], alarm["AlarmLevel"],
                                            alarm["AlarmStatus"])
    await eventually(lambda: _statuses(rig.sim), lambda s: s[-1:] == [0], 10)  # offline
    [order] = await eventually(lambda: _orders(rig.sim))
    assert_exact(order)
    assert (10.5, 4.31, 4.2, 8.51) == (order["TotalPower"], order["TotalElecMoney"],
                                       order["TotalSeviceMoney"], order["TotalMoney"])
    assert ["2026-11-27 23:30:00", "2026-11-28 00:00:00"] == [
        d["DetailStartTime"] for d in order["ChargeDetails"]]
    assert 1 == rig.sim.tokens_issued  # one token for every push
    assert [] == rig.sim.rejected


async def _alarm(app: Csms, code: str) -> int:
    """The level of the stored alarm with ``code``."""
    async with app.engine.connect() as conn:
        return int((await conn.execute(select(tables_safety.alarms.c.level).where(
            tables_safety.alarms.c.code == code))).scalar_one())


async def _of(sim: PlatformSim, interface: str) -> list[dict[str, Any]]:
    return sim.of(interface)


async def test_busy_platform_gets_it_after_retries_then_parks(rig: Rig) -> None:
    """Busy (-1) twice: delivered on the third attempt. Busy beyond the attempts: parked,
    listed in the API, delivered once retried."""
    place = await new_place(rig.csms, "CP-P2", "CARD-P2")
    charger = SimStation("CP-P2", "ocpp1.6", ocpp_url(rig.csms))
    async with charger.running():
        await charger.boot()
        await eventually(lambda: _of(rig.sim, "notification_stationInfo"))
        rig.sim.busy = 2
        await charger.send_status(1, "Available")
        await eventually(lambda: _statuses(rig.sim), lambda s: s[-1:] == [1], 10)
        assert 0 == rig.sim.busy
        rig.sim.busy = 10
        await charger.send_status(1, "Unavailable")
        assert place.site_id
        parked = await eventually(lambda: _pushes(rig, "parked"), lambda p: len(p) == 1, 20)
        assert 4 == parked[0]["attempts"]
        assert "Ret -1" in parked[0]["last_error"]
        rig.sim.busy = 0
        token = await _token(rig)
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{rig.csms.api_port}") as http:
            answer = await http.post(f"/platform/pushes/{parked[0]['id']}/retry",
                                     headers={"Authorization": f"Bearer {token}"})
            assert 200 == answer.status_code, answer.text
        await eventually(lambda: _statuses(rig.sim), lambda s: s[-1:] == [255], 10)
        assert [] == await _pushes(rig, "parked")
    # once the charger is gone its offline status supersedes anything older still parked
    await eventually(lambda: _statuses(rig.sim), lambda s: s[-1:] == [0], 10)


async def _token(rig: Rig) -> str:
    secret, record = new_token(Role.OPERATOR, created_by="test", now=rig.csms.stations.now())
    await rig.csms.access.add_token(record)
    return secret


async def _pushes(rig: Rig, status: str) -> list[dict[str, Any]]:
    assert rig.csms.platform is not None
    items, _ = await rig.csms.platform.pushes.pushes(status, None, 50, 0)
    return [{"id": p.id, "attempts": p.attempts, "last_error": p.last_error} for p in items]


async def test_token_renewed_when_expiring_and_after_4002(database_url: str) -> None:
    """A 2 s token is renewed before it runs out; a token the platform forgot (4002) is
    replaced and the push retried; every status arrives."""
    sim = PlatformSim(SECRETS, token_lifetime_s=2)
    async with serving(sim) as url:
        base = make_settings(database_url)
        settings = load_settings(None, **{**base.model_dump(mode="json", exclude={"platform"}),
                                          "platform": platform_settings(url)})
        async with running(settings) as app:
            await new_place(app, "CP-T1", "CARD-T1")
            charger = SimStation("CP-T1", "ocpp1.6", ocpp_url(app))
            async with charger.running():
                await charger.boot()
                await charger.send_status(1, "Available")
                await eventually(lambda: _statuses(sim), lambda s: s[-1:] == [1], 10)
                issued = sim.tokens_issued
                await eventually(lambda: _later(sim, issued, 2.5))  # the token's lifetime
                await charger.send_status(1, "Preparing")
                await eventually(lambda: _statuses(sim), lambda s: s[-1:] == [2], 10)
                assert sim.tokens_issued > issued
                sim.tokens.clear()  # the platform forgets every token
                await charger.send_status(1, "Charging")
                await eventually(lambda: _statuses(sim), lambda s: s[-1:] == [3], 10)
    assert ("notification_stationStatus", 4002) in {(i, c) for i, c, _ in sim.rejected}


async def _later(sim: PlatformSim, issued: int, seconds: float) -> bool:
    """Whether ``seconds`` have passed since the last token was issued."""
    last = max(sim.tokens.values(), default=0.0) - sim.token_lifetime_s
    return time.time() - last >= seconds


async def test_every_status_change_arrives_in_order(rig: Rig) -> None:
    """Status changes sent back to back all reach the platform, in order, each mapped."""
    await new_place(rig.csms, "CP-S1", "CARD-S1")
    charger = SimStation("CP-S1", "ocpp1.6", ocpp_url(rig.csms))
    sequence = ["Preparing", "Charging", "SuspendedEV", "Charging", "Finishing", "Available",
                "Reserved", "Available"]
    async with charger.running():
        await charger.boot()
        await eventually(lambda: _of(rig.sim, "notification_stationInfo"))
        before = len(await _statuses(rig.sim))
        await asyncio.gather(*(charger.send_status(1, s) for s in sequence))
        got = await eventually(lambda: _statuses(rig.sim),
                               lambda s: len(s) >= before + len(sequence), 10)
    assert [2, 3, 2, 3, 2, 1, 4, 1] == got[before:before + len(sequence)]


async def test_station_info_after_network_changes(rig: Rig) -> None:
    """A charge point moved to a site through the API: station info for the site it went to
    (with it among its equipment) and for the one it left."""
    place = await new_place(rig.csms, "CP-M1", "CARD-M1")
    token = await _token(rig)
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{rig.csms.api_port}",
                                 headers={"Authorization": f"Bearer {token}"}) as http:
        made = await http.post("/sites", json={"community_id": place.community_id,
                                               "name": "B区车库"})
        assert 201 == made.status_code, made.text
        new_site = made.json()["id"]
        moved = await http.patch("/charge-points/CP-M1", json={"site_id": new_site})
        assert 200 == moved.status_code, moved.text
    infos = await eventually(lambda: _of(rig.sim, "notification_stationInfo"),
                             lambda i: len(i) >= 3)
    last = {i["StationInfo"]["StationID"]: i["StationInfo"] for i in infos}
    assert ["CP-M1"] == [e["EquipmentID"] for e in last[str(new_site)]["EquipmentInfos"]]
    assert [] == last[str(place.site_id)]["EquipmentInfos"]
