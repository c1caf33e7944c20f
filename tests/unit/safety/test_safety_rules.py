"""Alarm rules (csms.safety.faults, measurements, timers) with concrete numbers.

Default settings throughout: 80 °C (clear at 75), 220 V +7 %/−10 %, current +10 % for
> 60 s, 3 faults in 24 h, 15 min stall, 2 heartbeat intervals, site +5 % for > 60 s.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

from csms.domain.model import (
    ConnectorStatus,
    ConnectorStatusChanged,
    MeterSample,
    SampledValue,
    SessionEvent,
    SessionEventKind,
    StationEventReported,
)
from csms.safety.alarms import (
    Alarm,
    AlarmCode,
    AlarmLevel,
    Clear,
    ConditionKey,
    Decision,
    Raise,
    condition_text,
    settle_conditions,
    stations_with_open,
    would_change,
)
from csms.safety.faults import notify_event, repeated_faults, security_event, status_fault
from csms.safety.history import (
    ConnectorHistory,
    LoadPoint,
    evolve,
    observe_session,
    observe_status,
)
from csms.safety.measurements import (
    Outcome,
    energy_register,
    energy_stalled,
    meter_sample,
    over_current,
    over_temperature,
    voltage,
)
from csms.safety.settings import SafetySettings
from csms.safety.timers import lost_communication, silence_allowed, site_overload

T0 = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)
S = SafetySettings()
H = ConnectorHistory("CP1", 1, 1, session_ref="tx-9")
C = AlarmCode


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def sample(seconds: float, *values: SampledValue) -> MeterSample:
    return MeterSample(at(seconds), values)


def sv(
    value: float, measurand: str, unit: str | None = None, phase: str | None = None
) -> SampledValue:
    return SampledValue(value, measurand, unit, phase)


def raised(decision: Decision | None) -> AlarmCode:
    assert isinstance(decision, Raise), decision
    return decision.alarm.code


def cleared(decision: Decision | None) -> AlarmCode:
    assert isinstance(decision, Clear), decision
    return decision.key.code


def status(
    error: str | None, state: ConnectorStatus = ConnectorStatus.FAULTED, *,
    vendor: str | None = None, info: str | None = None, t: float = 0,
) -> ConnectorStatusChanged:
    return ConnectorStatusChanged("CP1", 1, 1, state, at(t), error, vendor, info)


def notify(component: str, variable: str, **data: object) -> Decision | None:
    """The decision on one 2.0.1 NotifyEvent eventData."""
    details: dict[str, object] = {"component": {"name": component, "evse": {"id": 1}},
                                  "variable": {"name": variable}, **data}
    return notify_event(StationEventReported(
        "CP2", "notify_event", T0, f"{component}.{variable}", 1, 1, details))


class TestGroundFault:
    def test_v16_ground_failure_raises_level_1(self) -> None:
        """1.6 GroundFailure raises ground_fault, personal safety, with the codes as evidence."""
        (decision,) = status_fault(status("GroundFailure", vendor="RCD-30mA"), S, "tx-9")
        assert isinstance(decision, Raise)
        assert (C.GROUND_FAULT, AlarmLevel.PERSONAL_SAFETY, "tx-9") == (
            decision.alarm.code, decision.alarm.level, decision.alarm.session_ref)
        assert ConditionKey(C.GROUND_FAULT, "CP1", 1, 1) == decision.key
        assert "RCD-30mA" == decision.alarm.evidence["vendor_error_code"]

    def test_v16_no_error_clears_it(self) -> None:
        """NoError (stored as None) with status Available clears every status alarm."""
        decisions = status_fault(status(None, ConnectorStatus.AVAILABLE), S)
        assert C.GROUND_FAULT in {cleared(d) for d in decisions}

    def test_v201_rcd_tripped_raises(self) -> None:
        """2.0.1 NotifyEvent RCD.Tripped = true raises ground_fault."""
        assert C.GROUND_FAULT == raised(notify("RCD", "Tripped", trigger="Delta",
                                               actualValue="true"))

    def test_v201_techcode_names_ground_fault(self) -> None:
        """An Alerting event of an unlisted component whose techCode says earth fault."""
        assert C.GROUND_FAULT == raised(notify("EVSE", "Problem", trigger="Alerting",
                                               actualValue="true", techCode="EARTH_LEAKAGE"))

    def test_v201_cleared_or_false_clears(self) -> None:
        """cleared=true, or Tripped = false, clears the ground fault."""
        assert C.GROUND_FAULT == cleared(notify("RCD", "Tripped", trigger="Alerting",
                                                actualValue="true", cleared=True))
        assert C.GROUND_FAULT == cleared(notify("RCD", "Tripped", trigger="Delta",
                                                actualValue="false"))

    def test_v201_telemetry_is_not_an_alarm(self) -> None:
        """A Periodic event of a non-problem variable decides nothing."""
        assert notify("RCD", "Enabled", trigger="Periodic", actualValue="true") is None




class TestEmergencyStopAndOtherFaults:
    def test_v16_vendor_code_emergency_stop(self) -> None:
        """1.6 OtherError with vendorErrorCode "EmergencyStop" raises emergency_stop (level 1)."""
        (decision,) = status_fault(status("OtherError", vendor="EmergencyStop"), S)
        assert C.EMERGENCY_STOP == raised(decision)

    def test_v16_info_e_stop(self) -> None:
        """The emergency-stop word may come in info ("E-Stop pressed")."""
        (decision,) = status_fault(status("OtherError", info="E-Stop pressed"), S)
        assert C.EMERGENCY_STOP == raised(decision)

    def test_v16_other_codes_map_one_to_one(self) -> None:
        """HighTemperature, OverVoltage, PowerSwitchFailure, WeakSignal map to their codes."""
        pairs = {"HighTemperature": C.OVER_TEMPERATURE, "OverVoltage": C.OVER_VOLTAGE,
                 "UnderVoltage": C.UNDER_VOLTAGE, "OverCurrentFailure": C.OVER_CURRENT,
                 "PowerSwitchFailure": C.POWER_SWITCH_FAILURE, "WeakSignal": C.WEAK_SIGNAL,
                 "OtherError": C.OTHER_ERROR}
        for error, code in pairs.items():
            assert code == raised(status_fault(status(error), S)[0])

    def test_faulted_without_code(self) -> None:
        """The 2.0.1 Faulted status (error_code "Faulted") raises the generic faulted."""
        assert C.FAULTED == raised(status_fault(status("Faulted"), S)[0])

    def test_v201_emergency_stop_sensor(self) -> None:
        """EmergencyStopSensor.Tripped = true raises; cleared=true clears."""
        assert C.EMERGENCY_STOP == raised(notify("EmergencyStopSensor", "Tripped",
                                                 trigger="Delta", actualValue="true"))
        assert C.EMERGENCY_STOP == cleared(notify("EmergencyStopSensor", "Tripped",
                                                  trigger="Delta", cleared=True))

    def test_v201_unknown_problem(self) -> None:
        """An Alerting event nothing recognises is station_problem, level 2."""
        decision = notify("Controller", "Problem", trigger="Alerting", actualValue="true")
        assert C.STATION_PROBLEM == raised(decision)


class TestSecurityEvents:
    def event(self, kind: str) -> StationEventReported:
        return StationEventReported("CP2", "security_event", T0, kind,
                                    details={"type": kind, "techInfo": "door"})

    def test_tamper_is_level_1(self) -> None:
        """TamperDetectionActivated raises tamper_detected, personal safety."""
        decision = security_event(self.event("TamperDetectionActivated"), S)
        assert isinstance(decision, Raise)
        assert (C.TAMPER_DETECTED, AlarmLevel.PERSONAL_SAFETY) == (
            decision.alarm.code, decision.alarm.level)

    def test_listed_type_is_a_notice(self) -> None:
        """SecurityLogWasCleared raises security_event with the type as evidence."""
        decision = security_event(self.event("SecurityLogWasCleared"), S)
        assert isinstance(decision, Raise)
        assert "SecurityLogWasCleared" == decision.alarm.evidence["type"]

    def test_routine_type_is_ignored(self) -> None:
        """StartupOfTheDevice is routine: no alarm."""
        assert security_event(self.event("StartupOfTheDevice"), S) is None


class TestOverTemperature:
    def temp(self, celsius: float, unit: str | None = "Celsius") -> Decision | None:
        return over_temperature(sample(0, sv(celsius, "Temperature", unit)), H, S)

    def test_above_80_raises(self) -> None:
        """80.1 °C raises over_temperature with the reading as evidence."""
        decision = self.temp(80.1)
        assert C.OVER_TEMPERATURE == raised(decision)
        assert isinstance(decision, Raise)
        assert 80.1 == decision.alarm.evidence["temperature_c"]

    def test_exactly_80_does_not(self) -> None:
        """80.0 °C is the boundary and, being above the clear level, decides nothing."""
        assert self.temp(80.0) is None

    def test_fahrenheit_is_converted(self) -> None:
        """185 °F = 85 °C raises."""
        assert C.OVER_TEMPERATURE == raised(self.temp(185.0, "Fahrenheit"))

    def test_clears_at_75(self) -> None:
        """75 °C (max − 5 °C hysteresis) clears; 76 °C does not."""
        assert C.OVER_TEMPERATURE == cleared(self.temp(75.0))
        assert self.temp(76.0) is None


class TestVoltage:
    def volts(self, *readings: tuple[float, str | None]) -> tuple[Decision, ...]:
        return voltage(sample(0, *(sv(v, "Voltage", "V", p) for v, p in readings)), H, S)

    def test_over_voltage_above_235_4(self) -> None:
        """220 V + 7 % = 235.4 V: 236 V raises over_voltage and clears under_voltage."""
        over, under = self.volts((236.0, "L1-N"))
        assert (C.OVER_VOLTAGE, C.UNDER_VOLTAGE) == (raised(over), cleared(under))

    def test_under_voltage_below_198(self) -> None:
        """220 V − 10 % = 198 V: 197 V raises under_voltage."""
        _, under = self.volts((197.0, None))
        assert C.UNDER_VOLTAGE == raised(under)

    def test_boundaries_and_back_in_range_clear(self) -> None:
        """235.4 V and 198 V are in range: both sides clear."""
        assert all(isinstance(d, Clear) for d in self.volts((235.4, "L1"), (198.0, "L2")))

    def test_phase_to_phase_uses_sqrt3(self) -> None:
        """380 V between L1 and L2 is nominal for 220 V phases."""
        assert all(isinstance(d, Clear) for d in self.volts((380.0, "L1-L2")))

    def test_absent_phase_is_not_under_voltage(self) -> None:
        """A 0 V phase (not connected) decides nothing."""
        assert () == self.volts((0.0, "L2"))


class TestOverCurrent:
    def run(self, *points: tuple[float, float, float]) -> Outcome:
        history: ConnectorHistory = H
        decisions: tuple[Decision, ...] = ()
        for t, measured, offered in points:
            s = sample(t, sv(measured, "Current.Import", "A"), sv(offered, "Current.Offered", "A"))
            decisions, history = over_current(s, history, S)
        return decisions, history

    def test_above_offered_for_over_60_s_raises(self) -> None:
        """35.3 A against 32 A offered (> 35.2 A) from 0 s to 61 s raises."""
        decisions, _ = self.run((0, 35.3, 32), (30, 35.3, 32), (61, 35.3, 32))
        assert [C.OVER_CURRENT] == [raised(d) for d in decisions]

    def test_exactly_60_s_does_not(self) -> None:
        """The same excess for exactly 60 s decides nothing yet."""
        assert () == self.run((0, 35.3, 32), (60, 35.3, 32))[0]

    def test_within_tolerance_clears(self) -> None:
        """35.2 A (32 A + 10 %) is within tolerance: clear, and the run restarts."""
        decisions, _ = self.run((0, 35.3, 32), (50, 35.2, 32), (100, 35.3, 32))
        assert () == decisions
        assert [C.OVER_CURRENT] == [cleared(d) for d in self.run((0, 35.2, 32))[0]]

    def test_effective_limit_is_a_reference(self) -> None:
        """With a 16 A smart-charging limit, 20 A for 90 s raises even if 32 A is offered."""
        history = replace(H, limit_a=16.0)
        for t in (0, 45, 90):
            s = sample(t, sv(20.0, "Current.Import", "A"), sv(32.0, "Current.Offered", "A"))
            decisions, history = over_current(s, history, S)
        assert [C.OVER_CURRENT] == [raised(d) for d in decisions]

    def test_history_stays_bounded(self) -> None:
        """Hours of samples keep only the points of the last minute (and one before)."""
        _, history = self.run(*((t, 10.0, 32.0) for t in range(0, 3600, 10)))
        assert len(history.load) <= 8


class TestEnergyRegister:
    def reading(self, history: ConnectorHistory, t: float, wh: float, unit: str = "Wh"
                ) -> Outcome:
        return energy_register(sample(t, sv(wh, "Energy.Active.Import.Register", unit)),
                               history, S)

    def test_going_backwards_raises(self) -> None:
        """1000 Wh then 998 Wh raises energy_register_backwards with both readings."""
        _, h = self.reading(H, 0, 1000.0)
        decisions, _ = self.reading(h, 60, 998.0)
        assert [C.ENERGY_REGISTER_BACKWARDS] == [raised(d) for d in decisions]
        assert isinstance(decisions[0], Raise)
        assert {"previous_wh": 1000.0, "reading_wh": 998.0} == decisions[0].alarm.evidence

    def test_a_fraction_then_a_whole_wh_stop_is_rounding(self) -> None:
        """12.44 Wh then 12 Wh (1.6 meterStop is whole Wh): under 1 Wh, nothing; 12.44 then
        11.9 (not whole) with no tolerance raises."""
        _, h = self.reading(H, 0, 12.44)
        assert () == self.reading(h, 60, 12.0)[0]
        assert [C.ENERGY_REGISTER_BACKWARDS] == [
            raised(d) for d in self.reading(h, 60, 11.9)[0]]

    def in_session(self, history: ConnectorHistory, ref: str) -> ConnectorHistory:
        return evolve(history, session_ref=ref)

    def test_a_meter_that_restarts_per_transaction_is_learnt(self) -> None:
        """Session a ends at 5000 Wh, session b starts at 0: no alarm, and the station's
        meter is known to restart; a later boundary fall is no alarm either."""
        _, h = self.reading(self.in_session(H, "a"), 0, 5000.0)
        decisions, h = self.reading(self.in_session(h, "b"), 60, 0.0)
        assert ((), True) == (decisions, h.meter_per_transaction)
        _, h = self.reading(h, 120, 7000.0)
        assert () == self.reading(self.in_session(h, "c"), 180, 3000.0)[0]

    def test_a_fall_within_a_transaction_still_raises(self) -> None:
        """Learnt or not, a register that falls inside one transaction raises."""
        learnt = evolve(self.in_session(H, "a"), meter_per_transaction=True)
        _, h = self.reading(learnt, 0, 800.0)
        assert [C.ENERGY_REGISTER_BACKWARDS] == [raised(d) for d in self.reading(h, 60, 300.0)[0]]

    def test_a_boundary_fall_to_non_zero_on_a_cumulative_meter_raises(self) -> None:
        """Not learnt, and the new transaction does not start near 0: a real fall."""
        _, h = self.reading(self.in_session(H, "a"), 0, 5000.0)
        decisions, _ = self.reading(self.in_session(h, "b"), 60, 4000.0)
        assert [C.ENERGY_REGISTER_BACKWARDS] == [raised(d) for d in decisions]

    def test_equal_reading_does_not(self) -> None:
        """1.0 kWh then 1000 Wh is the same reading: nothing."""
        _, h = self.reading(H, 0, 1.0, "kWh")
        assert () == self.reading(h, 60, 1000.0)[0]

    def test_rise_clears_stall_and_restarts_clock(self) -> None:
        """A rise of 1 Wh clears energy_stalled and sets the last rise time."""
        _, h = self.reading(H, 0, 1000.0)
        decisions, h = self.reading(h, 60, 1001.0)
        assert [C.ENERGY_STALLED] == [cleared(d) for d in decisions]
        assert at(60) == h.last_rise_at


class TestEnergyStalled:
    def charging(self) -> ConnectorHistory:
        started = SessionEvent("CP1", SessionEventKind.STARTED, T0, 1, 1, "tx-9",
                               charging_state="Charging")
        return observe_session(ConnectorHistory("CP1", 1, 1), started)

    def test_no_rise_for_over_15_min_raises(self) -> None:
        """Charging since 12:00 with no rise: at 12:15:01 energy_stalled is raised."""
        assert C.ENERGY_STALLED == raised(energy_stalled(self.charging(), at(901), S))

    def test_exactly_15_min_does_not(self) -> None:
        """At 12:15:00 exactly, nothing yet."""
        assert energy_stalled(self.charging(), at(900), S) is None

    def test_suspended_ev_clears(self) -> None:
        """An EV that stopped drawing (SuspendedEV) is not stalled: clear."""
        history = observe_status(self.charging(), status(None, ConnectorStatus.SUSPENDED_EV), S)
        assert C.ENERGY_STALLED == cleared(energy_stalled(history, at(3600), S))

    def test_rising_register_in_samples_prevents_it(self) -> None:
        """Samples every 5 min with a rising register never stall."""
        history = self.charging()
        decisions: tuple[Decision, ...] = ()
        for minute in range(0, 60, 5):
            s = sample(minute * 60, sv(1000.0 + minute * 100, "Energy.Active.Import.Register"))
            decisions, history = meter_sample(s, history, S)
        assert not any(isinstance(d, Raise) for d in decisions)


class TestRepeatedFaults:
    def history(self, *hours: float) -> ConnectorHistory:
        history = H
        for hour in hours:
            history = observe_status(history, status("GroundFailure", t=hour * 3600), S)
        return history

    def test_three_in_24_h_raise(self) -> None:
        """Faults at 0 h, 12 h, 23 h 59 min: three within 24 h raise repeated_faults."""
        assert C.REPEATED_FAULTS == raised(repeated_faults(self.history(0, 12, 23.99),
                                                           at(23.99 * 3600), S))

    def test_first_fault_exactly_24_h_old_does_not_count(self) -> None:
        """Faults at 0 h, 12 h, 24 h: the first is exactly one window old, two remain: clear."""
        assert C.REPEATED_FAULTS == cleared(repeated_faults(self.history(0, 12, 24),
                                                            at(24 * 3600), S))

    def test_non_fault_status_is_not_counted(self) -> None:
        """Available/Charging statuses add no fault time."""
        history = observe_status(H, status(None, ConnectorStatus.CHARGING), S)
        assert () == history.fault_times


class TestLostCommunication:
    def test_silence_over_two_intervals_raises(self) -> None:
        """Heartbeat 300 s, last message at 12:00: at 12:10:01 the station is lost."""
        assert C.LOST_COMMUNICATION == raised(lost_communication("CP1", T0, 300, at(601), S))

    def test_exactly_two_intervals_clears(self) -> None:
        """At 12:10:00 exactly it is still in time (a Clear, dropped if nothing is open)."""
        assert C.LOST_COMMUNICATION == cleared(lost_communication("CP1", T0, 300, at(600), S))

    def test_message_received_clears(self) -> None:
        """A message at 12:20 moves last_seen: clear."""
        assert C.LOST_COMMUNICATION == cleared(
            lost_communication("CP1", at(1200), 300, at(1200), S))

    def test_two_intervals_are_allowed(self) -> None:
        assert timedelta(seconds=600) == silence_allowed(300, S)


class TestWhatChanges:
    """Only a raise of a closed condition or a clear of an open one changes anything; the
    tick keeps just those (a clear for every station heard in time would be thrown away)."""

    KEY = ConditionKey(AlarmCode.LOST_COMMUNICATION, "CP|1")

    def test_would_change_agrees_with_settle(self) -> None:
        raise_ = Raise(Alarm(self.KEY, T0))
        clear = Clear(self.KEY, T0, "message received")
        for open_ in (set(), {condition_text(self.KEY)}):
            for decision in (raise_, clear):
                expected = bool(settle_conditions(set(open_), [decision]))
                assert expected == would_change(open_, decision)

    def test_stations_with_open_reads_station_ids_back(self) -> None:
        """Ids containing "|" survive; other codes and site conditions are not stations."""
        texts = {condition_text(self.KEY), condition_text(ConditionKey(C.LOST_COMMUNICATION, "B")),
                 condition_text(ConditionKey(C.GROUND_FAULT, "X", 1, 1)),
                 condition_text(ConditionKey(C.LOST_COMMUNICATION, "", site_id=3))}
        assert {"CP|1", "B"} == stations_with_open(texts, C.LOST_COMMUNICATION)


class TestSiteOverload:
    def series(self, *points: tuple[float, float]) -> list[LoadPoint]:
        return [LoadPoint(at(t), w, 140_000.0) for t, w in points]

    def test_above_147_kw_for_over_60_s_raises(self) -> None:
        """Limit 140 kW + 5 % = 147 kW: 150 kW from 0 s to 61 s raises for the site."""
        decision = site_overload(7, self.series((0, 150e3), (61, 150e3)), S)
        assert isinstance(decision, Raise)
        assert (C.SITE_OVERLOAD, 7) == (decision.alarm.code, decision.key.site_id)

    def test_exactly_60_s_or_147_kw_does_not(self) -> None:
        """60 s of excess, or 147 kW for 2 min, decides no Raise."""
        assert site_overload(3, self.series((0, 150e3), (60, 150e3)), S) is None
        within = self.series((0, 147e3), (120, 147e3))
        assert C.SITE_OVERLOAD == cleared(site_overload(3, within, S))

    def test_dip_restarts_the_run(self) -> None:
        """A dip within the limit at 30 s restarts the clock: 150 kW at 0, 140 at 30, 150 at 61."""
        assert site_overload(3, self.series((0, 150e3), (30, 140e3), (61, 150e3)), S) is None

    def test_back_in_range_clears(self) -> None:
        """The latest point within the limit clears."""
        back = self.series((0, 150e3), (90, 100e3))
        assert C.SITE_OVERLOAD == cleared(site_overload(3, back, S))
        assert site_overload(3, [], S) is None
