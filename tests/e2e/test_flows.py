"""End to end: the real server and the project's simulator, both versions, both databases."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import func, select
from websockets.asyncio.client import connect
from websockets.typing import Subprotocol

from csms.app import Csms
from csms.domain.commands import (
    ChangeAvailability,
    ClearChargingProfile,
    CommandStatus,
    CompositeSchedule,
    GetCompositeSchedule,
    GetSettings,
    ProfileKind,
    ProfilePurpose,
    RemoteStart,
    RemoteStop,
    Reset,
    SchedulePeriod,
    SetChargingProfile,
    SetSetting,
    SettingKey,
    SettingsReport,
    TriggerableMessage,
    TriggerMessage,
    UnlockConnector,
)
from csms.domain.commands import ChargingProfile as Profile
from csms.domain.commands import ChargingSchedule as Schedule
from csms.domain.model import AuthorizationStatus, IdToken
from csms.errors import CommandTimeout, StationOffline
from csms.store import tables as t
from simulators.station import SimStation
from tests.conftest import eventually, ocpp_url

VERSIONS = ["ocpp1.6", "ocpp2.0.1"]
T0 = datetime(2026, 11, 27, 19, 0, tzinfo=UTC)


async def scalar(app: Csms, query: Any) -> Any:
    async with app.engine.connect() as conn:
        return (await conn.execute(query)).scalar_one()


async def sessions_of(app: Csms, station_id: str) -> list[Any]:
    async with app.engine.connect() as conn:
        return list((await conn.execute(select(t.sessions).where(
            t.sessions.c.station_id == station_id))).all())


@pytest.mark.parametrize("version", VERSIONS)
async def test_a_charging_session_lands_once_with_the_right_energy(
    csms: Csms, version: str
) -> None:
    """Boot, status, authorize, start, three meter values, stop: one ended session whose energy
    is the register delta, its meter values linked, the status history kept."""
    await csms.store.put_token("RES-1", AuthorizationStatus.ACCEPTED, owner="Room 3-201")
    sim = SimStation("CP-E2E", version, ocpp_url(csms), meter_start_wh=10_000)
    async with sim.running():
        assert "Accepted" == await sim.boot()
        await sim.send_status(1, "Available")
        assert "Accepted" == await sim.authorize("RES-1")
        tx = await sim.start_transaction(1, "RES-1", timestamp=T0)
        for minute, wh in ((10, 11_200), (20, 12_400), (30, 13_500)):
            await sim.send_meter_values(1, energy_wh=wh, power_w=7000,
                                        timestamp=T0 + timedelta(minutes=minute))
        await sim.stop_transaction(1, "EVDisconnected" if version == "ocpp2.0.1" else "Local",
                                   energy_wh=14_000, timestamp=T0 + timedelta(minutes=35))
        await sim.send_status(1, "Available")
    [session] = await sessions_of(csms, "CP-E2E")
    assert (tx, "ended", 4000.0, "RES-1") == (
        session.transaction_id, session.status, session.energy_wh, session.id_token)
    linked = await scalar(csms, select(func.count()).select_from(t.meter_values).where(
        t.meter_values.c.session_id == session.id))
    assert linked >= 3 * 3
    history = await scalar(csms, select(func.count()).select_from(t.connector_status_history)
                           .where(t.connector_status_history.c.station_id == "CP-E2E"))
    assert history >= 2


def profile(purpose: ProfilePurpose, tx: str | None = None) -> Profile:
    return Profile(
        profile_id=7, stack_level=1, purpose=purpose, kind=ProfileKind.ABSOLUTE,
        schedule=Schedule("A", (SchedulePeriod(0, 16.0),), start_at=T0), transaction_ref=tx,
    )


@pytest.mark.parametrize("version", VERSIONS)
async def test_every_command_gets_the_chargers_answer(csms: Csms, version: str) -> None:
    """Each command of the service API returns the simulator's answer, and is logged."""
    sim = SimStation("CP-CMD", version, ocpp_url(csms))
    send = csms.commands.send
    async with sim.running():
        await sim.boot()
        await eventually(lambda: _connected(csms, "CP-CMD"))
        key = SettingKey("HeartbeatInterval") if version == "ocpp1.6" else \
            SettingKey("HeartbeatInterval", "OCPPCommCtrlr")
        report = await send("CP-CMD", GetSettings((key,)))
        assert isinstance(report, SettingsReport)
        assert [key] == [v.key for v in report.values]
        assert "Accepted" == _status(await send("CP-CMD", SetSetting(key, "120")))
        assert "Accepted" == _status(await send("CP-CMD", ChangeAvailability(1, operative=True)))
        assert "Unlocked" == _status(await send("CP-CMD", UnlockConnector(1)))
        assert "Accepted" == _status(await send(
            "CP-CMD", TriggerMessage(TriggerableMessage.HEARTBEAT)))
        assert "Accepted" == _status(await send(
            "CP-CMD", SetChargingProfile(1, profile(ProfilePurpose.TX_DEFAULT))))
        schedule = await send("CP-CMD", GetCompositeSchedule(1, 3600, "A"))
        assert isinstance(schedule, CompositeSchedule)
        assert "Accepted" == schedule.status
        assert "Accepted" == _status(await send("CP-CMD", ClearChargingProfile(profile_id=7)))
        assert "Accepted" == _status(await send(
            "CP-CMD", RemoteStart(IdToken("RES-9"), evse_id=1)))
        tx = await eventually(lambda: _active_tx(csms, "CP-CMD"), timeout_s=10)
        assert tx is not None
        assert "Accepted" == _status(await send("CP-CMD", RemoteStop(tx)))
        await eventually(lambda: _active_tx(csms, "CP-CMD"), lambda ref: ref is None)
        assert "Accepted" == _status(await send("CP-CMD", Reset()))
    logged = await scalar(csms, select(func.count()).select_from(t.command_log).where(
        t.command_log.c.station_id == "CP-CMD", t.command_log.c.outcome == "answered"))
    assert 11 == logged


async def test_offline_and_silent_stations_get_clear_errors(csms: Csms) -> None:
    """Offline: StationOffline at once. Connected but silent: CommandTimeout with the wait."""
    with pytest.raises(StationOffline):
        await csms.commands.send("NOBODY", Reset())
    async with connect(ocpp_url(csms) + "CP-MUTE", subprotocols=[Subprotocol("ocpp1.6")]):
        await eventually(lambda: _connected(csms, "CP-MUTE"))
        with pytest.raises(CommandTimeout) as waited:
            await csms.commands.send("CP-MUTE", Reset(), timeout_s=0.3)
        assert waited.value.waited_s >= 0.3
    outcomes = await scalar(csms, select(func.count()).select_from(t.command_log).where(
        t.command_log.c.outcome.in_(["offline", "timeout"])))
    assert 2 == outcomes


def _status(result: object) -> str:
    assert isinstance(result, CommandStatus), result
    return result.status


async def _connected(app: Csms, station_id: str) -> bool:
    return app.connections.get(station_id) is not None


async def _active_tx(app: Csms, station_id: str) -> str | None:
    active = [s for s in await sessions_of(app, station_id) if s.status == "active"]
    return active[0].transaction_id if active else None


@pytest.mark.parametrize("version", VERSIONS)
async def test_composite_schedule_reports_the_stacked_profiles(
    csms: Csms, version: str
) -> None:
    """A TxDefault of 16 A for 10 minutes then 10 A, under a station maximum of 12 A from
    minute 5: the charger's composite schedule (through the command service) is 16, 12, 10 A
    in that order (period boundaries are the charger's, measured from its own clock)."""
    sim = SimStation("CP-CS", version, ocpp_url(csms))
    now = datetime.now(UTC).replace(microsecond=0)
    tx_default = Profile(
        profile_id=1, stack_level=0, purpose=ProfilePurpose.TX_DEFAULT,
        kind=ProfileKind.ABSOLUTE, schedule=Schedule(
            "A", (SchedulePeriod(0, 16.0), SchedulePeriod(600, 10.0)), start_at=now))
    station_max = Profile(
        profile_id=2, stack_level=0, purpose=ProfilePurpose.STATION_MAX,
        kind=ProfileKind.ABSOLUTE, schedule=Schedule(
            "A", (SchedulePeriod(0, 32.0), SchedulePeriod(300, 12.0)), start_at=now))
    async with sim.running():
        await sim.boot()
        await eventually(lambda: _connected(csms, "CP-CS"))
        for evse, chosen in ((1, tx_default), (0, station_max)):
            answer = await csms.commands.send("CP-CS", SetChargingProfile(evse, chosen))
            assert "Accepted" == _status(answer)
        result = await csms.commands.send("CP-CS", GetCompositeSchedule(1, 1800, "A"))
    assert isinstance(result, CompositeSchedule)
    assert result.schedule is not None
    assert [16.0, 12.0, 10.0] == [p.limit for p in result.schedule.periods]
