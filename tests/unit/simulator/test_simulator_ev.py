"""The EV model (pure curve and draw) and EV sessions in simulated time against the loopback
CSMS: energy is the allowed power integrated over simulated time; profiles cap the draw."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import pytest

from csms.handlers.ocppj import OcppVersion
from csms.handlers.timefmt import parse_time
from simulators.behaviour.ev import (
    MIN_CURRENT_A,
    Ev,
    charged_soc,
    draw,
    evening_evs,
    own_max_current_a,
)
from simulators.clock import SimClock
from simulators.protocol.loopback import station_on_loopback
from simulators.waiting import wait_until

V16, V201 = OcppVersion.V16, OcppVersion.V201
T0 = datetime(2026, 11, 27, 18, 0, tzinfo=UTC)


class TestCurve:
    def test_full_current_until_the_taper_then_less_never_below_6_a(self) -> None:
        """32 A up to 80 %, 16 A at 90 %, 6 A floor near full, nothing when full."""
        ev = Ev(max_current_a=32, taper_from_soc_pct=80)
        assert [own_max_current_a(ev, soc) for soc in (10, 80, 90, 99, 100)] == [
            32.0, 32.0, 16.0, MIN_CURRENT_A, 0.0]

    def test_draw_is_the_smaller_of_the_ev_and_the_limit(self) -> None:
        """A 16 A single-phase car under a 32 A limit draws 16 A on one phase."""
        ev = Ev(max_current_a=16, phases=1)
        d = draw(ev, 50, limit_a=32, limit_w=22_080, voltage_v=230, charger_phases=3)
        assert (d.current_a, d.phases, d.power_w) == (16.0, 1, 3680.0)

    def test_a_limit_below_6_a_pauses_the_car(self) -> None:
        """5 A offered: the car pauses rather than charging below the IEC minimum."""
        d = draw(Ev(), 50, limit_a=5, limit_w=3450, voltage_v=230, charger_phases=3)
        assert (d.current_a, d.power_w, d.paused) == (0.0, 0.0, True)

    def test_a_watt_limit_caps_the_current(self) -> None:
        """A 6.9 kW limit on three phases is 10 A."""
        d = draw(Ev(), 50, limit_a=32, limit_w=6900, voltage_v=230, charger_phases=3)
        assert d.current_a == pytest.approx(10.0)

    def test_soc_grows_by_energy_over_capacity(self) -> None:
        """6 kWh into a 60 kWh battery is 10 points."""
        assert charged_soc(Ev(capacity_wh=60_000), 20, 6000) == pytest.approx(30)

    def test_evening_arrivals_repeat_with_a_seed(self) -> None:
        """Same seed, same cars, sorted by arrival within the window."""
        def make() -> list[Ev]:
            return evening_evs(30, random.Random(5), start=T0, arrival_window_s=3 * 3600,
                               dwell_min_s=3600, dwell_max_s=7200)

        cars = make()
        assert cars == make()
        arrivals = [c.arrival for c in cars if c.arrival is not None]
        assert arrivals == sorted(arrivals)
        assert all(T0 <= a <= T0 + timedelta(hours=3) for a in arrivals)


def _energy_and_hours(start: dict[str, object], stop: dict[str, object]) -> tuple[float, float]:
    hours = (parse_time(str(stop["timestamp"])) - parse_time(str(start["timestamp"])))
    return float(stop["meterStop"]) - float(start["meterStart"]), hours.total_seconds() / 3600  # type: ignore[arg-type]


async def test_energy_is_the_allowed_power_over_simulated_time() -> None:
    """At 1200x, a 22 kW car charging one simulated hour: the register grows by power x
    the simulated time between the Start and Stop timestamps."""
    clock = SimClock(speed=1200, start=T0)
    async with station_on_loopback(V16, clock=clock) as (csms, st):
        ev = Ev(arrival_soc_pct=20, departure=clock.now() + timedelta(hours=1))
        session = await st.plug_in(1, ev, "TAG-1")
        assert st.draw(1).power_w == pytest.approx(22_080)
        await session.wait(timeout_s=10)
        [start], [stop] = csms.messages("CP-1", "StartTransaction"), csms.messages(
            "CP-1", "StopTransaction")
    energy, hours = _energy_and_hours(start, stop)
    assert 0.9 < hours < 1.01  # departure was set before the plug-in took its (simulated) time
    assert energy == pytest.approx(22_080 * hours, abs=2)
    assert stop["reason"] == "EVDisconnected"
    assert timedelta(0) <= parse_time(str(start["timestamp"])) - T0 < timedelta(minutes=10)


async def test_a_profile_caps_the_draw_and_below_6_a_pauses() -> None:
    """A 10 A TxDefault profile lowers the draw at once; 4 A suspends it (SuspendedEVSE)."""
    clock = SimClock(speed=60, start=T0)
    async with station_on_loopback(V16, clock=clock) as (csms, st):
        session = await st.plug_in(1, Ev(), "TAG-1")
        for limit, amps in ((10.0, 10.0), (4.0, 0.0)):
            profile = {"chargingProfileId": 1, "stackLevel": 0,
                       "chargingProfilePurpose": "TxDefaultProfile",
                       "chargingProfileKind": "Relative", "chargingSchedule": {
                           "chargingRateUnit": "A",
                           "chargingSchedulePeriod": [{"startPeriod": 0, "limit": limit}]}}
            answer = await csms.call("CP-1", "SetChargingProfile",
                                     {"connectorId": 1, "csChargingProfiles": profile})
            assert answer == {"status": "Accepted"}
            await wait_until(lambda a=amps: st.draw(1).current_a == a, timeout_s=5)  # type: ignore[misc]
            assert st.draw(1).limit_a == (limit if limit >= 6 else 0.0)  # the engine: 0 < 6 A
        await wait_until(lambda: any(
            m["status"] == "SuspendedEVSE" for m in csms.messages("CP-1", "StatusNotification")))
        assert st.stats.charging == 0
        await csms.call("CP-1", "RemoteStopTransaction", {"transactionId": 1})
        await session.wait(timeout_s=5)


async def test_v201_reports_soc_and_charging_state() -> None:
    """2.0.1 TransactionEvent Updated carries SoC and the chargingState; timestamps are
    simulated."""
    clock = SimClock(speed=1200, start=T0)
    async with station_on_loopback(V201, clock=clock) as (csms, st):
        st.settings.change(("SampledDataCtrlr", "TxUpdatedInterval"), "600")
        ev = Ev(arrival_soc_pct=40, departure=clock.now() + timedelta(hours=1))
        session = await st.plug_in(1, ev, "TAG-1")
        await session.wait(timeout_s=10)
        updates = [e for e in csms.messages("CP-1", "TransactionEvent")
                   if e["eventType"] == "Updated"]
    assert len(updates) >= 3
    socs = [sv["value"] for e in updates for sv in e["meterValue"][0]["sampledValue"]
            if sv["measurand"] == "SoC"]
    assert socs == sorted(socs)
    assert socs[0] > 40
    assert {e["transactionInfo"]["chargingState"] for e in updates} == {"Charging"}
    assert parse_time(updates[-1]["timestamp"]) > parse_time(updates[0]["timestamp"])


async def test_an_ev_without_departure_leaves_when_full() -> None:
    """A nearly full car tapers, fills up and the transaction ends by itself."""
    clock = SimClock(speed=3600, start=T0)
    async with station_on_loopback(V16, clock=clock) as (csms, st):
        session = await st.plug_in(1, Ev(capacity_wh=10_000, arrival_soc_pct=95), "TAG-1")
        await session.wait(timeout_s=10)
        assert session.soc_pct == pytest.approx(100, abs=0.5)
        assert csms.messages("CP-1", "StopTransaction")[0]["reason"] == "EVDisconnected"
        assert csms.messages("CP-1", "StatusNotification")[-1]["status"] == "Available"
