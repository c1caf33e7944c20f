"""The alarm store and the monitor's bus wiring on both databases: one open alarm per
condition (in the code and in the database), load management's events as alarms with
their place resolved."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import insert, select
from sqlalchemy.exc import IntegrityError

from csms.app import Csms, running
from csms.domain.model import ConnectorStatus, ConnectorStatusChanged, RegistrationStatus
from csms.safety.alarms import Alarm, AlarmCode, Clear, ConditionKey, Raise
from csms.services.events import (
    AlarmChanged,
    ChargingProfileRefused,
    DomainEvent,
    SiteOverloadCleared,
    SiteOverloaded,
)
from csms.store import tables as t
from csms.store.queries import Window
from csms.store.safety.alarms import AlarmStore, Placed
from csms.store.safety.queries import AlarmFilter, AlarmQueries
from csms.store.safety.tables import alarms
from tests.api.test_sessions import new_place, place_station
from tests.conftest import eventually, make_settings

T0 = datetime(2026, 11, 28, 8, 0, tzinfo=UTC)
KEY = ConditionKey(AlarmCode.OVER_VOLTAGE, "CP-1", 1, 1)


def store_of(csms: Csms) -> AlarmStore:
    assert csms.safety is not None
    return csms.safety.store


async def listed(csms: Csms, **where: Any) -> list[tuple[str, str]]:
    found = await AlarmQueries(csms.engine).alarms(AlarmFilter(**where), Window(50))
    return [(a.code, a.state) for a in found.items]


async def test_a_condition_is_open_once_in_the_code(csms: Csms) -> None:
    """Raising an open condition again changes nothing; after its clear, it is a new alarm;
    each transition has its audit row."""
    store = store_of(csms)
    up = Placed(Raise(Alarm(KEY, T0, {"voltage_v": 250.0})))
    assert ["raised"] == [c.transition for c in await store.apply([up])]
    assert [] == await store.apply([up, up])
    down = Placed(Clear(KEY, T0 + timedelta(minutes=1), "voltage back in range"))
    [change] = await store.apply([down, down])
    assert ("cleared", 60.0) == (change.transition, change.alarm.seconds_to_clear)
    assert ["raised"] == [c.transition for c in await store.apply([up])]
    assert [("over_voltage", "raised"), ("over_voltage", "cleared")] == await listed(csms)
    async with csms.engine.connect() as conn:
        actions = (await conn.execute(select(t.audit_log.c.action).where(
            t.audit_log.c.resource == "alarm").order_by(t.audit_log.c.id))).scalars().all()
    assert ["raise", "clear", "raise"] == list(actions)


async def test_a_condition_is_open_once_in_the_database(csms: Csms) -> None:
    """The database itself refuses a second open alarm for a condition (another node), and
    keeps any number of cleared ones."""
    row = {"code": "over_voltage", "level": 2, "state": "raised",
           "condition_key": "over_voltage|CP-1|1|1", "evidence": {}, "raised_at": T0}
    async with csms.engine.begin() as conn:
        await conn.execute(insert(alarms).values(open_key=None, **row))
        await conn.execute(insert(alarms).values(open_key=None, **row))
        await conn.execute(insert(alarms).values(open_key=row["condition_key"], **row))
    with pytest.raises(IntegrityError):
        async with csms.engine.begin() as conn:
            await conn.execute(insert(alarms).values(open_key=row["condition_key"], **row))


async def test_site_overload_and_refused_profile_from_the_bus(csms: Csms) -> None:
    """SiteOverloaded raises a site alarm placed in the site's community and district, and
    AlarmChanged says so; SiteOverloadCleared clears it; a refused profile is a level-2
    alarm of the charger's EVSE."""
    place = await new_place(csms, "丁")
    await place_station(csms, "CP-P", place)
    seen: list[AlarmChanged] = []

    def listen(event: DomainEvent) -> None:
        if isinstance(event, AlarmChanged):
            seen.append(event)

    csms.bus.subscribe(listen)
    csms.bus.publish(SiteOverloaded(place.site_id, None, 150e3, 140e3, T0, T0))
    await eventually(lambda: listed(csms, code="site_overload"))
    csms.bus.publish(SiteOverloadCleared(place.site_id, None, 100e3, 140e3,
                                         T0 + timedelta(minutes=5)))
    await eventually(lambda: listed(csms, open=False))
    csms.bus.publish(ChargingProfileRefused("CP-P", 1, "Rejected", T0))
    [refused] = await eventually(lambda: listed(csms, code="charging_profile_refused"))
    assert ("charging_profile_refused", "raised") == refused
    await eventually(lambda: _count(seen), lambda n: n == 3)
    raised, cleared, profile = seen
    assert ("raised", place.site_id, place.community_id, place.district_id, None) == (
        raised.transition, raised.site_id, raised.community_id, raised.district_id,
        raised.station_id)
    assert (150e3, "cleared", 300.0) == (raised.evidence["measured_w"], cleared.transition,
                                         (cleared.at - raised.at).total_seconds())
    assert (2, "CP-P", 1, place.community_id) == (
        profile.level, profile.station_id, profile.evse_id, profile.community_id)


async def _count(items: list[AlarmChanged]) -> int:
    return len(items)


class Clock:
    def __init__(self) -> None:
        self.now = datetime.now(UTC).replace(microsecond=0) + timedelta(days=1)

    def __call__(self) -> datetime:
        return self.now


async def test_lost_communication_across_restarts_and_nodes(database_url: str) -> None:
    """After a restart a known charger has two heartbeat intervals to come back, then is
    lost; a charger another node hears from (its last_seen_at in the store moves on) is not
    lost on this one."""
    clock = Clock()
    settings = make_settings(database_url, heartbeat_interval_s=60)
    async with running(settings, clock) as csms:
        for station_id in ("CP-GONE", "CP-ELSEWHERE"):
            await csms.store.add_station(station_id, RegistrationStatus.ACCEPTED)
            await csms.store.record_seen(station_id, clock.now)
    clock.now += timedelta(hours=1)
    async with running(settings, clock) as csms:
        assert csms.safety is not None
        clock.now += timedelta(seconds=120)
        await csms.safety.tick()
        assert [] == await listed(csms, code="lost_communication")
        clock.now += timedelta(seconds=1)
        await csms.store.record_seen("CP-ELSEWHERE", clock.now)  # as another node would
        await csms.safety.tick()
        found = await AlarmQueries(csms.engine).alarms(
            AlarmFilter(code="lost_communication"), Window(10))
        assert ["CP-GONE"] == [a.station_id for a in found.items]


async def test_a_charger_clock_ahead_does_not_block_a_person(csms: Csms) -> None:
    """An alarm dated by the charger an hour ahead of the CSMS can still be acknowledged
    and cleared now; the times kept are zero, never negative."""
    store = store_of(csms)
    ahead = datetime.now(UTC) + timedelta(hours=1)
    [change] = await store.apply([Placed(Raise(Alarm(KEY, ahead)))])
    now = datetime.now(UTC)
    acked = await store.acknowledge(change.alarm.id, "token:t1", "seen", now)
    cleared = await store.clear(change.alarm.id, "token:t1", "fixed", now)
    assert (0.0, 0.0, "cleared") == (acked.alarm.seconds_to_acknowledge,
                                     cleared.alarm.seconds_to_clear, cleared.alarm.state)


async def test_actions_for_an_offline_charger_are_recorded(csms: Csms) -> None:
    """A level-1 alarm of a charger that is not connected: no session to stop and the
    ChangeAvailability fails as offline; both outcomes are kept and the monitor carries
    on (a later fault still becomes an alarm)."""
    csms.bus.publish(ConnectorStatusChanged("CP-OFF", 1, 1, ConnectorStatus.FAULTED, T0,
                                            "GroundFailure"))

    async def alarm_with_actions() -> list[tuple[str, str]]:
        found = await AlarmQueries(csms.engine).alarms(AlarmFilter(code="ground_fault"),
                                                      Window(5))
        if not found.items:
            return []
        full = await AlarmQueries(csms.engine).get(found.items[0].id)
        return [] if full is None else [(a.action, a.outcome) for a in full.actions]

    outcomes = await eventually(alarm_with_actions, lambda a: len(a) == 2)
    assert [("stop_session", "no_session"), ("make_inoperative", "offline")] == outcomes
    csms.bus.publish(ConnectorStatusChanged("CP-OFF", 2, 1, ConnectorStatus.FAULTED, T0,
                                            "PowerMeterFailure"))
    await eventually(lambda: listed(csms, code="power_meter_failure"))
