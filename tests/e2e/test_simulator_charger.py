"""End to end: the simulated charger's behaviour against the real CSMS: Reset reboots with a
new BootNotification; an EV in simulated time draws what the CSMS's profile allows, so the
session's energy is that power integrated over simulated time; costs reach the display."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import select

from csms.app import Csms
from csms.domain.commands import (
    ChargingProfile,
    ChargingSchedule,
    ProfileKind,
    ProfilePurpose,
    Reset,
    ResetKind,
    SchedulePeriod,
    SetChargingProfile,
    ShowCost,
)
from csms.domain.model import AuthorizationStatus, StationBooted
from csms.store import tables as t
from simulators.behaviour.ev import Ev
from simulators.clock import SimClock
from simulators.station import SimStation
from tests.conftest import eventually, ocpp_url

VERSIONS = ["ocpp1.6", "ocpp2.0.1"]
T0 = datetime(2026, 11, 27, 18, 0, tzinfo=UTC)


async def sessions(app: Csms, station_id: str) -> list[Any]:
    async with app.engine.connect() as conn:
        return list((await conn.execute(select(t.sessions).where(
            t.sessions.c.station_id == station_id, t.sessions.c.status == "ended"))).all())


async def _connected(app: Csms, station_id: str) -> bool:
    return app.connections.get(station_id) is not None


@pytest.mark.parametrize("version", VERSIONS)
async def test_hard_reset_ends_the_session_reboots_and_boots_again(
    csms: Csms, version: str
) -> None:
    """Hard Reset: the transaction ends (HardReset / ImmediateReset), the connection closes
    and comes back, and a second BootNotification is recorded (2.0.1 reason RemoteReset)."""
    await csms.store.put_token("RES-1", AuthorizationStatus.ACCEPTED, owner="Room 1")
    boots: list[StationBooted] = []
    csms.bus.subscribe(lambda e: boots.append(e) if isinstance(e, StationBooted) else None)
    sim = SimStation("CP-RST", version, ocpp_url(csms), reboot_delay_s=0.2,
                     rng=random.Random(3))
    async with sim.running():
        await sim.boot()
        await sim.start_transaction(1, "RES-1")
        await eventually(lambda: _connected(csms, "CP-RST"))
        answer = await csms.commands.send("CP-RST", Reset(ResetKind.HARD), timeout_s=5)
        assert "Accepted" == getattr(answer, "status", None)
        await sim.wait_sent("BootNotification", count=2, timeout_s=10)
        await sim.settle()
        assert 1 == sim.link.reconnects
    [session] = await eventually(lambda: sessions(csms, "CP-RST"))
    assert session.stop_reason == ("HardReset" if version == "ocpp1.6" else "ImmediateReset")
    await eventually(lambda: _async(len(boots)), lambda n: n >= 2)
    if version == "ocpp2.0.1":
        assert ["PowerUp", "RemoteReset"] == [b.reason for b in boots]


async def _async(value: int) -> int:
    return value


def overlap_h(a: datetime, b: datetime, c: datetime, d: datetime) -> float:
    """Hours that [a, b] and [c, d] share."""
    return max(0.0, (min(b, d) - max(a, c)).total_seconds()) / 3600


@pytest.mark.parametrize("version", VERSIONS)
async def test_ev_energy_is_the_allowed_power_over_simulated_time(
    csms: Csms, version: str
) -> None:
    """At 600x: the CSMS sets a TxDefault profile of 16 A, then 10 A from 30 simulated
    minutes on; a 32 A three-phase car charging an hour takes exactly that power over
    the simulated time the session lasted."""
    await csms.store.put_token("RES-1", AuthorizationStatus.ACCEPTED, owner="Room 1")
    clock = SimClock(speed=600, start=T0)
    sim = SimStation("CP-EV", version, ocpp_url(csms), clock=clock, rng=random.Random(5))
    async with sim.running():
        await sim.boot()
        await eventually(lambda: _connected(csms, "CP-EV"))
        begin = clock.now().replace(microsecond=0)
        switch = begin + timedelta(minutes=30)
        schedule = ChargingSchedule(
            "A", (SchedulePeriod(0, 16.0), SchedulePeriod(1800, 10.0)), start_at=begin)
        profile = ChargingProfile(1, 0, ProfilePurpose.TX_DEFAULT, ProfileKind.ABSOLUTE,
                                  schedule)
        answer = await csms.commands.send("CP-EV", SetChargingProfile(1, profile), timeout_s=5)
        assert "Accepted" == getattr(answer, "status", None)
        ev = Ev(capacity_wh=100_000, arrival_soc_pct=10, departure=clock.now() + timedelta(hours=1))
        session = await sim.plug_in(1, ev, "RES-1")
        assert sim.draw(1).current_a == 16.0
        await session.wait(timeout_s=15)
    [row] = await eventually(lambda: sessions(csms, "CP-EV"))
    start, end = row.started_at.replace(tzinfo=UTC), row.ended_at.replace(tzinfo=UTC)
    far = T0 + timedelta(days=1)
    expected = 16 * 690 * overlap_h(start, end, begin, switch) + 10 * 690 * overlap_h(
        start, end, switch, far)
    assert start < switch < end  # both periods of the profile were charged under
    assert row.energy_wh == pytest.approx(expected, abs=3)  # meter values are whole Wh in 1.6


@pytest.mark.parametrize("version", VERSIONS)
async def test_costs_from_the_csms_reach_the_display(csms: Csms, version: str) -> None:
    """ShowCost: 1.6 California-pricing DataTransfer RunningCost, 2.0.1 CostUpdated; the
    charger's display shows the amount exactly as sent."""
    await csms.store.put_token("RES-1", AuthorizationStatus.ACCEPTED, owner="Room 1")
    sim = SimStation("CP-COST", version, ocpp_url(csms))
    async with sim.running():
        await sim.boot()
        tx = await sim.start_transaction(1, "RES-1")
        await eventually(lambda: _connected(csms, "CP-COST"))
        await eventually(lambda: sessions_active(csms, "CP-COST"), bool)
        # Through the connection registry (the CSMS's own translation to DataTransfer /
        # CostUpdated): CommandService.send cannot log a ShowCost yet (its Decimal is not
        # JSON-serialisable in command_log), reported as a CSMS bug.
        answer = await csms.connections.send(
            "CP-COST", ShowCost(tx, Decimal("12.30"), text="12.30 CNY"), 5)
        assert "Accepted" == getattr(answer, "status", None)
    expected = "12.30 CNY" if version == "ocpp1.6" else f"Transaction {tx}: total cost 12.3"
    assert [expected] == sim.display


async def sessions_active(app: Csms, station_id: str) -> list[Any]:
    async with app.engine.connect() as conn:
        return list((await conn.execute(select(t.sessions).where(
            t.sessions.c.station_id == station_id))).all())
