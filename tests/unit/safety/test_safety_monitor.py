"""Which rules run on which event (csms.safety.monitor), condition texts and settling over
them (csms.safety.alarms)."""

from __future__ import annotations

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
from csms.safety import monitor
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
)
from csms.safety.history import ConnectorHistory
from csms.safety.settings import SafetySettings

T0 = datetime(2026, 11, 28, 8, 0, tzinfo=UTC)
S = SafetySettings()
C = AlarmCode


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def raised(decisions: tuple[Decision, ...]) -> list[AlarmCode]:
    return [d.alarm.code for d in decisions if isinstance(d, Raise)]


def cleared(decisions: tuple[Decision, ...]) -> list[AlarmCode]:
    return [d.key.code for d in decisions if isinstance(d, Clear)]


def status(state: ConnectorStatus, error: str | None = None, t: float = 0
           ) -> ConnectorStatusChanged:
    return ConnectorStatusChanged("CP1", 1, 1, state, at(t), error)


def register(wh: float, t: float) -> MeterSample:
    return MeterSample(at(t), (SampledValue(wh, "Energy.Active.Import.Register", "Wh"),))


class TestConditionText:
    def test_connector_and_site_keys(self) -> None:
        """A connector's condition names code, station, EVSE and connector; a site's names
        the site and feeder."""
        assert "ground_fault|CP1|1|2" == condition_text(ConditionKey(C.GROUND_FAULT, "CP1", 1, 2))
        assert "site_overload|site:7/feeder:3" == condition_text(
            ConditionKey(C.SITE_OVERLOAD, "", site_id=7, feeder_id=3))
        assert "site_overload|site:7" == condition_text(
            ConditionKey(C.SITE_OVERLOAD, "", site_id=7))

    def test_settle_conditions_keeps_one_open_per_condition(self) -> None:
        """A second Raise of an open condition and a Clear of a closed one are dropped."""
        key = ConditionKey(C.OVER_VOLTAGE, "CP1", 1, 1)
        up = Raise(Alarm(key, T0))
        down = Clear(key, at(1), "back")
        open_now: set[str] = set()
        assert (up,) == settle_conditions(open_now, [up, up])
        assert {"over_voltage|CP1|1|1"} == open_now
        assert (down,) == settle_conditions(open_now, [down, down])
        assert set() == open_now


class TestStatus:
    def test_v16_fault_raises_and_counts(self) -> None:
        """A GroundFailure raises ground_fault and is counted as a fault."""
        decisions, history = monitor.on_status(
            ConnectorHistory("CP1", 1, 1), status(ConnectorStatus.FAULTED, "GroundFailure"), S)
        assert [C.GROUND_FAULT] == raised(decisions)
        assert (at(0),) == history.fault_times

    def test_third_fault_in_a_day_raises_repeated_faults(self) -> None:
        """Three faults within 24 h on one connector raise repeated_faults."""
        history = ConnectorHistory("CP1", 1, 1)
        found: list[AlarmCode] = []
        for t in (0, 3600, 7200):
            decisions, history = monitor.on_status(
                history, status(ConnectorStatus.FAULTED, "OtherError", t), S)
            found = raised(decisions)
        assert C.REPEATED_FAULTS in found

    def test_v201_status_clears_only_faulted(self) -> None:
        """A 2.0.1 Available clears ``faulted`` but not an alarm that came by NotifyEvent."""
        decisions, _ = monitor.on_status(ConnectorHistory("CP1", 1, 1),
                                         status(ConnectorStatus.AVAILABLE), S,
                                         error_codes=False)
        assert (True, False) == (C.FAULTED in cleared(decisions),
                                  C.GROUND_FAULT in cleared(decisions))
        decisions, _ = monitor.on_status(ConnectorHistory("CP1", 1, 1),
                                         status(ConnectorStatus.AVAILABLE), S)
        assert C.GROUND_FAULT in cleared(decisions)


class TestSession:
    def started(self, t: float = 0) -> SessionEvent:
        return SessionEvent("CP1", SessionEventKind.STARTED, at(t), 1, 1, None, meter_wh=1000,
                            charging_state="Charging")

    def test_session_reference_is_the_callers(self) -> None:
        """The history names the session by the reference the caller gives (its id)."""
        _, history = monitor.on_session(ConnectorHistory("CP1", 1, 1), self.started(), S, "42")
        assert ("42", True, at(0), 1000.0) == (
            history.session_ref, history.charging, history.last_rise_at, history.last_energy_wh)

    def test_stated_stop_register_below_start_raises(self) -> None:
        """A meterStop below the last reading is an energy register going backwards."""
        _, history = monitor.on_session(ConnectorHistory("CP1", 1, 1), self.started(), S, "42")
        ended = SessionEvent("CP1", SessionEventKind.ENDED, at(60), None, None, "42",
                             meter_wh=900)
        decisions, history = monitor.on_session(history, ended, S, "42")
        assert [C.ENERGY_REGISTER_BACKWARDS] == raised(decisions)
        assert (None, False) == (history.session_ref, history.charging)

    def test_stall_on_tick_and_rise_clears(self) -> None:
        """No rise for more than 15 min raises on a tick; exactly 15 min does not; a
        rising sample clears."""
        _, history = monitor.on_session(ConnectorHistory("CP1", 1, 1), self.started(), S, "42")
        assert [] == raised(monitor.on_tick(history, at(900), S))
        assert [C.ENERGY_STALLED] == raised(monitor.on_tick(history, at(901), S))
        decisions, _ = monitor.on_samples(history, (register(1500, 901),), S)
        assert C.ENERGY_STALLED in cleared(decisions)


class TestOtherEvents:
    def test_notify_and_security_events(self) -> None:
        """NotifyEvent and SecurityEventNotification go to their rules; other reports
        decide nothing."""
        notify = StationEventReported("CP2", "notify_event", T0, "RCD.Tripped", 1, None, {
            "component": {"name": "RCD"}, "variable": {"name": "Tripped"},
            "actualValue": "true", "trigger": "Delta"})
        assert [C.GROUND_FAULT] == raised(monitor.on_station_event(notify, S, "7"))
        tamper = StationEventReported("CP2", "security_event", T0, "TamperDetectionActivated")
        assert [C.TAMPER_DETECTED] == raised(monitor.on_station_event(tamper, S))
        firmware = StationEventReported("CP2", "firmware_status", T0, "Installed")
        assert () == monitor.on_station_event(firmware, S)

    def test_site_overload_and_its_end(self) -> None:
        """Load management's overload raises site_overload for the site with its figures;
        its end clears the same condition."""
        up = monitor.site_load_changed(7, None, overloaded=True, measured_w=150e3,
                                       limit_w=140e3, at=T0, since=at(-90))
        assert isinstance(up, Raise)
        assert (7, AlarmLevel.EQUIPMENT, 150e3) == (
            up.key.site_id, up.alarm.level, up.alarm.evidence["measured_w"])
        down = monitor.site_load_changed(7, None, overloaded=False, measured_w=100e3,
                                         limit_w=140e3, at=at(60))
        assert isinstance(down, Clear)
        assert down.key == up.key

    def test_refused_profile_is_level_2(self) -> None:
        """A refused charging profile raises charging_profile_refused for the EVSE."""
        decision = monitor.profile_refused("CP1", 2, "Rejected", T0)
        assert isinstance(decision, Raise)
        assert (AlarmLevel.EQUIPMENT, 2, {"outcome": "Rejected"}) == (
            decision.alarm.level, decision.key.evse_id, decision.alarm.evidence)
