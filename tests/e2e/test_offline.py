"""End to end: a simulated charger loses its connection mid-session, queues its transaction
messages, reconnects with backoff and replays them; the CSMS ends up with one whole session."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import func, select

from csms.app import Csms
from csms.domain.model import AuthorizationStatus
from csms.store import tables as t
from simulators.behaviour.offline import Backoff
from simulators.station import SimStation
from tests.conftest import eventually, ocpp_url

T0 = datetime(2026, 11, 27, 19, 0, tzinfo=UTC)
FAST = Backoff(base_s=0.05, cap_s=0.5, max_attempts=50)


def minutes(n: int) -> datetime:
    return T0 + timedelta(minutes=n)


def station(csms: Csms, station_id: str, version: str) -> SimStation:
    return SimStation(station_id, version, ocpp_url(csms), meter_start_wh=10_000,
                      rng=random.Random(7), reconnect=FAST)


async def rows(app: Csms, query: Any) -> list[Any]:
    async with app.engine.connect() as conn:
        return list((await conn.execute(query)).all())


async def ended_sessions(app: Csms, station_id: str) -> list[Any]:
    return await rows(app, select(t.sessions).where(
        t.sessions.c.station_id == station_id, t.sessions.c.status == "ended"))


async def test_v201_offline_events_replay_with_continuous_seq_nos(csms: Csms) -> None:
    """Started and one Updated online; two Updated and the Ended queued while the connection
    is down: after the reconnect they arrive marked offline, seqNo 0..4 without a gap."""
    await csms.store.put_token("RES-1", AuthorizationStatus.ACCEPTED, owner="Room 3-201")
    sim = station(csms, "CP-OFF-201", "ocpp2.0.1")
    async with sim.running():
        assert "Accepted" == await sim.boot()
        await sim.send_status(1, "Available")
        tx = await sim.start_transaction(1, "RES-1", timestamp=T0)
        await sim.send_meter_values(1, energy_wh=11_000, power_w=7000, timestamp=minutes(10))
        await sim.drop_connection()
        await sim.send_meter_values(1, energy_wh=12_000, power_w=7000, timestamp=minutes(20))
        await sim.send_meter_values(1, energy_wh=13_000, power_w=7000, timestamp=minutes(30))
        await sim.stop_transaction(1, "EVDisconnected", energy_wh=13_500,
                                   timestamp=minutes(35))
        assert 3 == len(sim.outbox.queue)
        await sim.wait_online()
        await sim.settle()
    [session] = await eventually(lambda: ended_sessions(csms, "CP-OFF-201"))
    assert (tx, 3500.0, True, 4) == (
        session.transaction_id, session.energy_wh, session.had_offline_events,
        session.last_seq_no)
    events = await rows(csms, select(t.transaction_events.c.seq_no, t.transaction_events.c.offline)
                        .where(t.transaction_events.c.session_id == session.id)
                        .order_by(t.transaction_events.c.seq_no))
    assert [(0, False), (1, False), (2, True), (3, True), (4, True)] == [tuple(e) for e in events]
    [gaps] = await rows(csms, select(func.count()).select_from(t.station_events).where(
        t.station_events.c.kind == "transaction_seq_gap"))
    assert 0 == gaps[0]


async def test_v16_stop_made_offline_ends_the_session_once(csms: Csms) -> None:
    """Start and a meter value online, StopTransaction while offline: replayed after the
    reconnect, the session ends once with the register delta."""
    await csms.store.put_token("RES-1", AuthorizationStatus.ACCEPTED, owner="Room 3-201")
    sim = station(csms, "CP-OFF-16", "ocpp1.6")
    async with sim.running():
        assert "Accepted" == await sim.boot()
        tx = await sim.start_transaction(1, "RES-1", timestamp=T0)
        await sim.send_meter_values(1, energy_wh=12_000, power_w=7000, timestamp=minutes(15))
        await sim.drop_connection()
        assert await sim.stop_transaction(1, "Local", energy_wh=14_000,
                                          timestamp=minutes(30)) is None
        await sim.wait_online()
        await sim.settle()
    [session] = await eventually(lambda: ended_sessions(csms, "CP-OFF-16"))
    assert (tx, 4000.0) == (session.transaction_id, session.energy_wh)
    assert 1 == len(await rows(csms, select(t.sessions).where(
        t.sessions.c.station_id == "CP-OFF-16")))


async def test_v16_transaction_started_offline_uses_the_csms_id_on_replay(csms: Csms) -> None:
    """Start, meter value and stop all made offline: the StartTransaction replayed first gets
    the CSMS's id, and the MeterValues and StopTransaction after it carry that id."""
    await csms.store.put_token("RES-1", AuthorizationStatus.ACCEPTED, owner="Room 3-201")
    sim = station(csms, "CP-OFF-16B", "ocpp1.6")
    async with sim.running():
        assert "Accepted" == await sim.boot()
        await sim.drop_connection()
        provisional = await sim.start_transaction(1, "RES-1", timestamp=T0)
        await sim.send_meter_values(1, energy_wh=11_000, power_w=7000, timestamp=minutes(10))
        await sim.stop_transaction(1, "Local", energy_wh=12_500, timestamp=minutes(20))
        await sim.wait_online()
        await sim.settle()
    assert int(provisional) < 0
    [session] = await eventually(lambda: ended_sessions(csms, "CP-OFF-16B"))
    assert 2500.0 == session.energy_wh
    [stop] = [p for a, p in sim.sent if a == "StopTransaction"]
    [meter] = [p for a, p in sim.sent if a == "MeterValues"]
    assert session.transaction_id == str(stop["transactionId"]) == str(meter["transactionId"])


@pytest.mark.parametrize("version", ["ocpp1.6", "ocpp2.0.1"])
async def test_statuses_follow_the_reconnect_and_live_messages_are_dropped(
    csms: Csms, version: str
) -> None:
    """A StatusNotification made offline is dropped; after the reconnect (no new boot) the
    station reports every connector's status."""
    sim = station(csms, "CP-OFF-ST", version)
    async with sim.running():
        await sim.boot()
        await sim.drop_connection()
        await sim.send_status(1, "Unavailable")
        await sim.wait_online()
        await sim.settle()
    statuses = [p for a, p in sim.sent if a == "StatusNotification"]
    assert 1 == len(statuses)
    assert 1 == sum(1 for a, _ in sim.sent if a == "BootNotification")
    assert 1 == sim.link.reconnects
