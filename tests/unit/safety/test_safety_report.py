"""The daily safety summary (csms.safety.report)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from csms.safety.report import AlarmFacts, ConnectorFaults, Durations, daily_summary

START = datetime(2026, 11, 27, 16, 0, tzinfo=UTC)  # 28 November, Shanghai
END = START + timedelta(days=1)
H = timedelta(hours=1)


def alarm(code: str, level: int, raised: datetime, acked: datetime | None = None,
          cleared: datetime | None = None, station: str | None = "CP1", connector: int = 1
          ) -> AlarmFacts:
    return AlarmFacts(code, level, station, 1 if station else None,
                      connector if station else None, raised, acked, cleared)


class TestDailySummary:
    def test_counts_each_step_on_its_own_day(self) -> None:
        """Raised the day before and cleared today counts as cleared today only."""
        old = alarm("ground_fault", 1, START - H, START + H, START + 2 * H)
        summary = daily_summary([old], START, END)
        assert (0, 1, 1) == (summary.raised, summary.acknowledged, summary.cleared)
        assert Durations(1, 7200.0, 7200.0) == summary.time_to_acknowledge
        assert Durations(1, 10800.0, 10800.0) == summary.time_to_clear

    def test_levels_codes_connectors_and_open_at_end(self) -> None:
        """By level and code, faults per connector (site alarms excluded), and alarms still
        open at the end of the day."""
        alarms = [
            alarm("over_voltage", 2, START + H, cleared=START + H + 600 * timedelta(seconds=1)),
            alarm("weak_signal", 3, START + 2 * H, acked=START + 3 * H),
            alarm("weak_signal", 3, START + 4 * H, connector=2),
            alarm("site_overload", 2, START + 5 * H, station=None),
            alarm("over_voltage", 2, END + H),  # tomorrow: ignored
        ]
        summary = daily_summary(alarms, START, END)
        assert (4, {2: 2, 3: 2}, {"over_voltage": 1, "site_overload": 1, "weak_signal": 2}) == (
            summary.raised, summary.raised_by_level, summary.raised_by_code)
        assert (ConnectorFaults("CP1", 1, 1, 2), ConnectorFaults("CP1", 1, 2, 1)) == \
            summary.faults_by_connector
        assert Durations(1, 600.0, 600.0) == summary.time_to_clear
        assert 3 == summary.open_at_end

    def test_an_empty_day(self) -> None:
        """No alarms: zeros, and no mean or max."""
        summary = daily_summary([], START, END)
        assert (0, Durations(0, None, None), ()) == (
            summary.raised, summary.time_to_acknowledge, summary.faults_by_connector)
