"""End to end: every kind of fault the simulator injects reaches the CSMS and is recorded
(status history with the error code, NotifyEvent station events, meter values with the
fault's measurand), and clearing it is recorded too."""

from __future__ import annotations

import random
from typing import Any

from sqlalchemy import select

from csms.app import Csms
from csms.domain.model import AuthorizationStatus
from csms.store import tables as t
from simulators.behaviour.faults import TRIPPING, FaultKind
from simulators.behaviour.offline import Backoff
from simulators.station import SimStation
from tests.conftest import eventually, ocpp_url

K = FaultKind
REGISTER = "Energy.Active.Import.Register"


async def rows(app: Csms, query: Any) -> list[Any]:
    async with app.engine.connect() as conn:
        return list((await conn.execute(query)).all())


async def history(app: Csms, station_id: str) -> list[tuple[Any, ...]]:
    """(EVSE (1.6: connector), status, error code, vendor error code) in arrival order."""
    h = t.connector_status_history.c
    return [tuple(r) for r in await rows(app, select(
        h.evse_id, h.status, h.error_code, h.vendor_error_code)
        .where(h.station_id == station_id).order_by(h.id))]


async def meter(app: Csms, station_id: str, measurand: str) -> list[float]:
    m = t.meter_values.c
    return [r.value for r in await rows(app, select(m.value).where(
        m.station_id == station_id, m.measurand == measurand).order_by(m.id))]


async def test_v16_tripping_faults_are_recorded_with_their_codes(csms: Csms) -> None:
    """Each tripping fault on its own connector: Faulted with errorCode and vendorErrorCode
    in the status history, then NoError Available once cleared."""
    kinds = sorted(TRIPPING)
    sim = SimStation("CP-F16", "ocpp1.6", ocpp_url(csms), connectors=len(kinds))
    async with sim.running():
        assert "Accepted" == await sim.boot()
        for cid, kind in enumerate(kinds, start=1):
            await sim.faults.inject(kind, cid)
        for cid, kind in enumerate(kinds, start=1):
            await sim.faults.clear(kind, cid)
    expected = [(cid, "Faulted", kind.value, f"SIM-{kind.value}")
                for cid, kind in enumerate(kinds, start=1)]
    got = await eventually(lambda: history(csms, "CP-F16"),
                           lambda h: len(h) >= 2 * len(kinds))
    assert expected == [row for row in got if row[1] == "Faulted"]
    last = {evse: (status, code) for evse, status, code, _ in got}
    # the CSMS's safety actions may have made a connector inoperative meanwhile
    assert all(status in ("Available", "Unavailable") and code in (None, "NoError")
               for status, code in last.values())
    assert len(kinds) == len(last)


async def test_v16_fault_measurands_are_recorded(csms: Csms) -> None:
    """HighTemperature: Temperature 70 °C; OverVoltage: Voltage 264.5 V; OverCurrentFailure:
    Current.Import above Current.Offered; EnergyBackwards: the register drops 1 kWh;
    EnergyStall: the register stays put while power is reported."""
    await csms.store.put_token("RES-1", AuthorizationStatus.ACCEPTED, owner="Room 1")
    sim = SimStation("CP-M16", "ocpp1.6", ocpp_url(csms), connectors=2, meter_start_wh=5000)
    async with sim.running():
        await sim.boot()
        await sim.faults.inject(K.HIGH_TEMPERATURE, 2)
        await sim.faults.inject(K.OVER_VOLTAGE, 2)
        await sim.faults.inject(K.OVER_CURRENT, 2)
        await sim.start_transaction(1, "RES-1")
        await sim.faults.inject(K.ENERGY_BACKWARDS, 1)
        await sim.faults.inject(K.ENERGY_STALL, 1)
        await sim.send_meter_values(1, power_w=7000)
        await sim.send_meter_values(1, power_w=7000)
    temperatures = await eventually(lambda: meter(csms, "CP-M16", "Temperature"), bool)
    assert 70.0 in temperatures
    voltages = await meter(csms, "CP-M16", "Voltage")
    assert 264.5 in voltages
    imported = await meter(csms, "CP-M16", "Current.Import")
    offered = await meter(csms, "CP-M16", "Current.Offered")
    assert any(i > o for i, o in zip(imported, offered, strict=True))
    registers = await eventually(lambda: meter(csms, "CP-M16", REGISTER),
                                 lambda r: len(r) >= 6)
    assert [5000.0, 4000.0, 4000.0, 4000.0] == registers[-4:]  # back 1 kWh, then stalled


async def test_v201_faults_are_recorded_as_notify_events(csms: Csms) -> None:
    """2.0.1: Faulted in the status history plus a NotifyEvent per fault naming the
    component's problem variable (RCD.Tripped, OverCurrentProtection.Operated, ...) with the
    techCode; clearing records the cleared event. HighTemperature also reports the
    temperature (TemperatureSensor.Temperature)."""
    kinds = sorted(TRIPPING)
    sim = SimStation("CP-F201", "ocpp2.0.1", ocpp_url(csms), connectors=len(kinds))
    async with sim.running():
        await sim.boot()
        for cid, kind in enumerate(kinds, start=1):
            await sim.faults.inject(kind, cid)
            await sim.faults.clear(kind, cid)
    e = t.station_events.c
    events = await eventually(lambda: rows(csms, select(e.code, e.evse_id, e.details).where(
        e.station_id == "CP-F201", e.kind == "notify_event").order_by(e.id)),
        lambda r: len(r) >= 2 * len(kinds) + 1)
    problems = [(r.code, r.evse_id, r.details["techCode"], r.details["actualValue"],
                 r.details.get("cleared", False))
                for r in events if r.code != "TemperatureSensor.Temperature"]
    expected = []
    for cid, kind in enumerate(kinds, start=1):
        component, variable = {
            K.GROUND_FAILURE: ("RCD", "Tripped"), K.HIGH_TEMPERATURE: ("TemperatureSensor",
            "Problem"), K.OVER_CURRENT: ("OverCurrentProtection", "Operated"),
            K.POWER_METER: ("ControlMetering", "Problem"),
        }.get(kind, ("EVSE", "Problem"))
        code = f"{component}.{variable}"
        expected += [(code, cid, kind.value, "true", False), (code, cid, kind.value, "false", True)]
    assert expected == problems
    assert "70.0" in [r.details["actualValue"] for r in events
                      if r.code == "TemperatureSensor.Temperature"]
    statuses = [s for _, s, _, _ in await history(csms, "CP-F201")]
    assert len(kinds) == statuses.count("Faulted")


async def test_a_lost_connection_does_not_come_back(csms: Csms) -> None:
    """ConnectionLost: the CSMS sees the station go and it stays gone, reconnect or not."""
    sim = SimStation("CP-GONE", "ocpp1.6", ocpp_url(csms), rng=random.Random(1),
                     reconnect=Backoff(base_s=0.01, cap_s=0.05))
    async with sim.running():
        await sim.boot()
        await eventually(lambda: _connected(csms, "CP-GONE"))
        await sim.faults.inject(K.CONNECTION_LOST)
        await eventually(lambda: _connected(csms, "CP-GONE"), lambda up: not up)
        assert 0 == sim.link.reconnects
        assert not sim.connected


async def _connected(app: Csms, station_id: str) -> bool:
    return app.connections.get(station_id) is not None
