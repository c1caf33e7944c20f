"""The alarm pipeline end to end: the real server, the simulator, both versions and both
databases. A fault becomes an alarm, a level-1 alarm stops the session and takes the
connector out of service, and the condition's end clears the alarm."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select

from csms.app import Csms, running
from csms.config import SafetyConfig, Settings
from csms.domain.model import AuthorizationStatus
from csms.services.events import AlarmChanged, DomainEvent
from csms.store import tables as t
from csms.store.queries import Window
from csms.store.safety.alarms import StoredAlarm
from csms.store.safety.queries import AlarmFilter, AlarmQueries
from simulators.station import SimStation
from tests.conftest import eventually, make_settings, ocpp_url, until

VERSIONS = ["ocpp1.6", "ocpp2.0.1"]


def safety_settings(database_url: str, heartbeat_interval_s: int = 300,
                    **safety: Any) -> Settings:
    """Test settings with a fast clock scan and the given ``[safety]`` keys."""
    base = make_settings(database_url, heartbeat_interval_s=heartbeat_interval_s)
    section = SafetyConfig.model_validate(
        {**base.safety.model_dump(), "scan_interval_s": 0.05, **safety})
    return base.model_copy(update={"safety": section})


async def alarms(csms: Csms, **where: Any) -> list[StoredAlarm]:
    found = await AlarmQueries(csms.engine).alarms(AlarmFilter(**where), Window(100))
    return list(found.items)


async def one_alarm(csms: Csms, **where: Any) -> StoredAlarm:
    """The single alarm matching ``where``, with its actions."""
    [alarm] = await alarms(csms, **where)
    found = await AlarmQueries(csms.engine).get(alarm.id)
    assert found is not None
    return found


async def audit_rows(csms: Csms, alarm_id: int) -> list[Any]:
    async with csms.engine.connect() as conn:
        return list((await conn.execute(select(t.audit_log).where(
            t.audit_log.c.resource == "alarm",
            t.audit_log.c.resource_id == str(alarm_id)).order_by(t.audit_log.c.id))).all())


async def ground_fault(sim: SimStation) -> None:
    """1.6: StatusNotification Faulted/GroundFailure; 2.0.1: NotifyEvent RCD Tripped."""
    if sim.version.value == "ocpp1.6":
        await sim.send_status(1, "Faulted", error_code="GroundFailure")
        return
    now = datetime.now(UTC).isoformat()
    await sim.call("NotifyEvent", {"generatedAt": now, "seqNo": 0, "eventData": [{
        "eventId": 7, "timestamp": now, "trigger": "Delta", "actualValue": "true",
        "eventNotificationType": "HardWiredMonitor",
        "component": {"name": "RCD", "evse": {"id": 1}}, "variable": {"name": "Tripped"},
    }]})


async def ground_fault_cleared(sim: SimStation) -> None:
    """1.6: Available/NoError; 2.0.1: NotifyEvent cleared=true."""
    if sim.version.value == "ocpp1.6":
        await sim.send_status(1, "Available")
        return
    now = datetime.now(UTC).isoformat()
    await sim.call("NotifyEvent", {"generatedAt": now, "seqNo": 1, "eventData": [{
        "eventId": 8, "timestamp": now, "trigger": "Delta", "actualValue": "false",
        "cleared": True, "eventNotificationType": "HardWiredMonitor",
        "component": {"name": "RCD", "evse": {"id": 1}}, "variable": {"name": "Tripped"},
    }]})


@pytest.fixture
async def charging(database_url: str) -> AsyncIterator[Csms]:
    async with running(safety_settings(database_url)) as app:
        await app.store.put_token("RES-1", AuthorizationStatus.ACCEPTED)
        yield app


@pytest.mark.parametrize("version", VERSIONS)
async def test_ground_fault_stops_the_session_and_takes_the_connector_out(
    charging: Csms, version: str
) -> None:
    """A ground fault during a session: a level-1 alarm within a second naming the session,
    the session stopped (RemoteStop/RequestStop), the connector made inoperative
    (ChangeAvailability), each command's outcome kept with an audit row."""
    csms = charging
    published: list[AlarmChanged] = []

    def listen(event: DomainEvent) -> None:
        if isinstance(event, AlarmChanged):
            published.append(event)

    csms.bus.subscribe(listen)
    sim = SimStation("CP-GF", version, ocpp_url(csms))
    async with sim.running():
        await sim.boot()
        await sim.send_status(1, "Available")
        await sim.start_transaction(1, "RES-1")
        await sim.send_status(1, "Charging")
        await sim.send_meter_values(1, energy_wh=1000, power_w=7000)
        await ground_fault(sim)
        alarm = await eventually(lambda: alarms(csms, code="ground_fault"), timeout_s=1.0)
        stop = "RemoteStopTransaction" if version == "ocpp1.6" else "RequestStopTransaction"
        await sim.wait_received(stop)
        [availability] = await sim.wait_received("ChangeAvailability")
        await eventually(lambda: _session_status(csms, "CP-GF"), lambda s: s == ["ended"])
        await until(lambda: not sim.connector(1).operative)
        full = await eventually(lambda: one_alarm(csms, code="ground_fault"),
                                lambda a: len(a.actions) == 2)
    [raised] = alarm
    connector = 1 if version == "ocpp1.6" else 0  # 2.0.1: the RCD of the whole EVSE
    assert (1, "raised", "CP-GF", 1, connector) == (
        raised.level, raised.state, raised.station_id, raised.evse_id, raised.connector_id)
    assert raised.session_id is not None
    assert "Inoperative" == (availability.get("type") or availability.get("operationalStatus"))
    assert [("stop_session", "answered", "Accepted"),
            ("make_inoperative", "answered", full.actions[1].status)] == [
        (a.action, a.outcome, a.status) for a in full.actions]
    assert full.actions[1].status in ("Accepted", "Scheduled")
    audited = [row.action for row in await audit_rows(csms, raised.id)]
    assert ("raise", 2) == (audited[0], audited.count("command"))
    assert ("raised", raised.id) == (published[0].transition, published[0].alarm_id)


async def _session_status(csms: Csms, station_id: str) -> list[str]:
    async with csms.engine.connect() as conn:
        return list((await conn.execute(select(t.sessions.c.status).where(
            t.sessions.c.station_id == station_id))).scalars().all())


@pytest.mark.parametrize("version", VERSIONS)
async def test_the_end_of_the_fault_clears_it_and_it_stays_one_alarm(
    database_url: str, version: str
) -> None:
    """Without protective actions: the same fault reported twice is one open alarm; its end
    (NoError / NotifyEvent cleared) clears it with the time to clear kept; a new fault is a
    new alarm."""
    settings = safety_settings(database_url, actions_level_1=[])
    async with running(settings) as csms:
        sim = SimStation("CP-CL", version, ocpp_url(csms))
        async with sim.running():
            await sim.boot()
            await ground_fault(sim)
            await ground_fault(sim)
            await eventually(lambda: alarms(csms, code="ground_fault"))
            await ground_fault_cleared(sim)
            [cleared] = await eventually(lambda: alarms(csms, open=False))
            await ground_fault(sim)
            await eventually(lambda: alarms(csms, open=True))
        assert ("cleared", "rule:safety") == (cleared.state, cleared.cleared_by)
        assert cleared.seconds_to_clear is not None
        assert cleared.seconds_to_clear >= 0
        assert 2 == len(await alarms(csms, code="ground_fault"))
        assert [] == sim.received  # no protective action configured


class Clock:
    """A clock the test moves, a day ahead of the wall clock (some store writes, such as
    last_seen_at at boot, use the wall clock; they must look older than the test's)."""

    def __init__(self) -> None:
        self.now = datetime.now(UTC).replace(microsecond=0) + timedelta(days=1)

    def __call__(self) -> datetime:
        return self.now


async def test_lost_communication_is_raised_and_cleared(database_url: str) -> None:
    """Heartbeat interval 60 s: a connected station silent for more than 120 s (by the CSMS
    clock) is lost; its next heartbeat clears the alarm; disconnected and not back within
    120 s, it is lost again."""
    clock = Clock()
    async with running(safety_settings(database_url, 60), clock) as csms:
        sim = SimStation("CP-LC", "ocpp1.6", ocpp_url(csms))
        async with sim.running():
            await sim.boot()
            assert csms.safety is not None
            memory = csms.safety.memory
            await until(lambda: "CP-LC" in memory.frames)
            clock.now += timedelta(seconds=120)
            for _ in range(3):  # exactly two intervals: still in time
                await csms.safety.tick()
            assert [] == await alarms(csms, code="lost_communication")
            clock.now += timedelta(seconds=1)
            [lost] = await eventually(lambda: alarms(csms, code="lost_communication"))
            assert (2, "CP-LC") == (lost.level, lost.station_id)
            await sim.heartbeat()
            await eventually(lambda: alarms(csms, open=False, code="lost_communication"))
        await until(lambda: csms.connections.get("CP-LC") is None)
        clock.now += timedelta(seconds=121)  # disconnected and not back for two intervals
        await eventually(lambda: alarms(csms, open=True, code="lost_communication"))


@pytest.mark.parametrize("charger_behind", [timedelta(0), timedelta(hours=5)])
async def test_no_energy_increase_raises_energy_stalled(
    database_url: str, charger_behind: timedelta
) -> None:
    """A charging session whose register does not rise for more than 15 minutes (by the
    CSMS clock) raises energy_stalled; a rise clears it. A charger whose clock is five
    hours behind is measured on its own clock: it is not stalled from the start."""
    clock = Clock()

    def charger_now() -> datetime:
        return clock.now - charger_behind

    async with running(safety_settings(database_url), clock) as csms:
        assert csms.safety is not None
        await csms.store.put_token("RES-1", AuthorizationStatus.ACCEPTED)
        sim = SimStation("CP-ST", "ocpp1.6", ocpp_url(csms))
        async with sim.running():
            await sim.boot()
            await sim.start_transaction(1, "RES-1", timestamp=charger_now())
            await sim.send_status(1, "Charging", timestamp=charger_now())
            await sim.send_meter_values(1, energy_wh=500, timestamp=charger_now())
            await until(lambda: _charging(csms))
            clock.now += timedelta(minutes=15)
            await csms.safety.tick()
            assert [] == await alarms(csms, code="energy_stalled")
            clock.now += timedelta(seconds=1)
            [stalled] = await eventually(lambda: alarms(csms, code="energy_stalled"))
            assert (3, "CP-ST", stalled.session_id is not None) == (
                stalled.level, stalled.station_id, True)
            await sim.send_meter_values(1, energy_wh=900, timestamp=charger_now())
            await eventually(lambda: alarms(csms, open=False, code="energy_stalled"))


def _charging(csms: Csms) -> bool:
    assert csms.safety is not None
    history = csms.safety.memory.histories.get(("CP-ST", 1, 1))
    return history is not None and history.charging and history.session_ref is not None


async def test_over_temperature_from_the_measurand_stops_the_session(charging: Csms) -> None:
    """A Temperature reading of 85 °C during a 1.6 session raises over_temperature (level
    1) with the reading as evidence and stops the session; 70 °C clears it."""
    csms = charging
    sim = SimStation("CP-OT", "ocpp1.6", ocpp_url(csms))
    async with sim.running():
        await sim.boot()
        await sim.start_transaction(1, "RES-1")
        await sim.send_meter_values(1, energy_wh=500, power_w=7000, temperature_c=85.0)
        [hot] = await eventually(lambda: alarms(csms, code="over_temperature"), timeout_s=1.0)
        await sim.wait_received("RemoteStopTransaction")
        await eventually(lambda: _session_status(csms, "CP-OT"), lambda s: s == ["ended"])
        await sim.send_meter_values(1, temperature_c=70.0, standalone=True)
        await eventually(lambda: alarms(csms, open=False, code="over_temperature"))
    assert (1, 85.0, 80.0) == (hot.level, hot.evidence["temperature_c"], hot.evidence["max_c"])


@pytest.mark.parametrize("version", VERSIONS)
async def test_over_current_and_over_voltage(database_url: str, version: str) -> None:
    """Current.Import above Current.Offered + 10 % for longer than the configured time (0 s
    here: two samples a second apart) raises over_current; a voltage 250 V against 220 V
    nominal raises over_voltage; readings back in range clear both."""
    settings = safety_settings(database_url, over_current_duration_s=0)
    async with running(settings) as csms:
        await csms.store.put_token("RES-1", AuthorizationStatus.ACCEPTED)
        sim = SimStation("CP-OC", version, ocpp_url(csms))
        start = datetime(2026, 11, 28, 9, 0, tzinfo=UTC)
        async with sim.running():
            await sim.boot()
            await sim.start_transaction(1, "RES-1", timestamp=start)
            for second in (1, 2):
                await sim.send_meter_values(1, power_w=30_000, voltage_v=250.0,
                                            timestamp=start + timedelta(seconds=second))
            found = await eventually(lambda: alarms(csms, open=True),
                                     lambda a: len(a) == 2)
            by_code = {a.code: a for a in found}
            await sim.send_meter_values(1, power_w=7000, voltage_v=230.0,
                                        timestamp=start + timedelta(seconds=3))
            await eventually(lambda: alarms(csms, open=False), lambda a: len(a) == 2)
    current = by_code["over_current"]
    assert (2, 32.0) == (current.level, current.evidence["reference_a"])
    assert float(str(current.evidence["current_a"])) > 32.0 * 1.1
    assert 250.0 == by_code["over_voltage"].evidence["readings"][0]["voltage_v"]
