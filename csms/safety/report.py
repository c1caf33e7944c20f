"""The daily safety summary of a community. Pure.

Rules:
1. The day is ``[start, end)`` (a local day, converted to UTC by the caller). An alarm is
   counted as raised, acknowledged or cleared on the day its step happened, so one alarm
   may be raised on one day and cleared on the next.
2. Times to acknowledge and to clear (seconds) are those of the alarms acknowledged or
   cleared on the day; mean and max are None when there are none.
3. Faults by connector count the alarms raised on the day per (station, EVSE, connector);
   site-wide alarms (no station) are not connector faults.
4. ``open_at_end`` counts alarms raised before the end and not cleared before it.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True, slots=True)
class AlarmFacts:
    code: str
    level: int
    station_id: str | None
    evse_id: int | None
    connector_id: int | None
    raised_at: datetime
    acknowledged_at: datetime | None = None
    cleared_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class Durations:
    count: int
    mean_s: float | None
    max_s: float | None


@dataclass(frozen=True, slots=True)
class ConnectorFaults:
    station_id: str
    evse_id: int | None
    connector_id: int | None
    count: int


@dataclass(frozen=True, slots=True)
class DailySummary:
    start: datetime
    end: datetime
    raised: int
    acknowledged: int
    cleared: int
    raised_by_level: dict[int, int]
    raised_by_code: dict[str, int]
    time_to_acknowledge: Durations
    time_to_clear: Durations
    faults_by_connector: tuple[ConnectorFaults, ...]
    open_at_end: int


def _within(at: datetime | None, start: datetime, end: datetime) -> bool:
    return at is not None and start <= at < end


def durations(seconds: Sequence[float]) -> Durations:
    """Rule 2 over a list of durations in seconds."""
    if not seconds:
        return Durations(0, None, None)
    return Durations(len(seconds), sum(seconds) / len(seconds), max(seconds))


def _connector_faults(raised: Iterable[AlarmFacts]) -> tuple[ConnectorFaults, ...]:
    counts = Counter((a.station_id, a.evse_id, a.connector_id)
                     for a in raised if a.station_id is not None)
    return tuple(ConnectorFaults(station, evse, conn, n)
                 for (station, evse, conn), n in sorted(
                     counts.items(), key=lambda item: (item[0][0] or "", item[0][1] or 0,
                                                       item[0][2] or 0)))


def daily_summary(alarms: Iterable[AlarmFacts], start: datetime, end: datetime
                  ) -> DailySummary:
    """Rules 1–4 over every alarm that may touch the day (others are ignored)."""
    facts = list(alarms)
    raised = [a for a in facts if _within(a.raised_at, start, end)]
    acked = [a for a in facts if _within(a.acknowledged_at, start, end)]
    cleared = [a for a in facts if _within(a.cleared_at, start, end)]
    to_ack = [(a.acknowledged_at - a.raised_at).total_seconds()
              for a in acked if a.acknowledged_at is not None]
    to_clear = [(a.cleared_at - a.raised_at).total_seconds()
                for a in cleared if a.cleared_at is not None]
    open_at_end = sum(1 for a in facts if a.raised_at < end
                      and (a.cleared_at is None or a.cleared_at >= end))
    return DailySummary(
        start=start, end=end, raised=len(raised), acknowledged=len(acked),
        cleared=len(cleared),
        raised_by_level=dict(sorted(Counter(a.level for a in raised).items())),
        raised_by_code=dict(sorted(Counter(a.code for a in raised).items())),
        time_to_acknowledge=durations(to_ack), time_to_clear=durations(to_clear),
        faults_by_connector=_connector_faults(raised), open_at_end=open_at_end,
    )
