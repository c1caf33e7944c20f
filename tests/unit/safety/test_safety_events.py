"""Which connector and rule each domain event goes to (csms.services.safety.events), without
a database: the monitor's routing, session connectors and the load-management limit."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from csms.domain.model import (
    ConnectorStatus,
    ConnectorStatusChanged,
    MeterSample,
    MeterValuesReported,
    SampledValue,
    SessionEvent,
    SessionEventKind,
)
from csms.safety.alarms import AlarmCode, Decision, Raise
from csms.safety.settings import SafetySettings
from csms.services.events import MeterValuesRecorded, SessionRecorded, StationConnected
from csms.services.safety.events import Memory, decide

T0 = datetime(2026, 11, 28, 8, 0, tzinfo=UTC)
S = SafetySettings(over_current_duration_s=0)


def raised(decisions: tuple[Decision, ...]) -> list[AlarmCode]:
    return [d.alarm.code for d in decisions if isinstance(d, Raise)]


def current(amps: float, t: float, offered: float | None = None) -> MeterSample:
    values = [SampledValue(amps, "Current.Import", "A", "L1")]
    if offered is not None:
        values.append(SampledValue(offered, "Current.Offered", "A"))
    return MeterSample(T0 + timedelta(seconds=t), tuple(values))


def meter(session_id: int | None, *samples: MeterSample, evse: int = 1) -> MeterValuesRecorded:
    return MeterValuesRecorded(MeterValuesReported("CP1", evse, None, None, samples), session_id)


class TestSessions:
    def test_stop_without_evse_finds_the_sessions_connector(self) -> None:
        """A 1.6 start names the connector; the stop (no connector) and meter values of the
        session land on the same history, named by the session id."""
        memory = Memory()
        start = SessionEvent("CP1", SessionEventKind.STARTED, T0, 2, 1, None, meter_wh=100)
        decide(memory, SessionRecorded(start, 42), S)
        assert "42" == memory.histories[("CP1", 2, 1)].session_ref
        decide(memory, meter(42, MeterSample(T0, (SampledValue(50, "Energy.Active.Import."
                                                               "Register", "Wh"),)), evse=2), S)
        stop = SessionEvent("CP1", SessionEventKind.ENDED, T0, None, None, "42")
        decide(memory, SessionRecorded(stop, 42), S)
        history = memory.histories[("CP1", 2, 1)]
        assert (None, 42 in memory.session_where) == (history.session_ref, False)

    def test_register_backwards_in_session_meter_values(self) -> None:
        """A session's register below its start raises energy_register_backwards."""
        memory = Memory()
        start = SessionEvent("CP1", SessionEventKind.STARTED, T0, 1, 1, None, meter_wh=1000)
        decide(memory, SessionRecorded(start, 7), S)
        sample = MeterSample(T0, (SampledValue(0.5, "Energy.Active.Import.Register", "kWh"),))
        assert [AlarmCode.ENERGY_REGISTER_BACKWARDS] == raised(decide(memory, meter(7, sample),
                                                                      S))


class TestStatusVersion:
    def test_v201_status_does_not_clear_notify_alarms(self) -> None:
        """After StationConnected with ocpp2.0.1, an Available status clears only faulted."""
        memory = Memory()
        decide(memory, StationConnected("CP1", "ocpp2.0.1", T0), S)
        available = ConnectorStatusChanged("CP1", 1, 1, ConnectorStatus.AVAILABLE, T0)
        codes = {d.key.code for d in decide(memory, available, S)}
        assert AlarmCode.FAULTED in codes
        assert AlarmCode.GROUND_FAULT not in codes


class TestLoadLimit:
    def test_the_load_limit_is_a_reference(self) -> None:
        """With a load-management limit of 16 A, 20 A drawn (offered 32 A) is over-current;
        without a limit it is not."""
        for limit, expected in ((16.0, [AlarmCode.OVER_CURRENT]), (None, [])):

            def limit_of(station_id: str, evse_id: int, limit: float | None = limit
                         ) -> float | None:
                return limit if (station_id, evse_id) == ("CP1", 1) else None

            memory = Memory(limit_of=limit_of)
            decide(memory, meter(None, current(20, 0, 32)), S)
            assert expected == raised(decide(memory, meter(None, current(20, 1, 32)), S))
