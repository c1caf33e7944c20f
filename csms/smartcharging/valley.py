"""Valley shifting: a session with a declared departure and energy need waits for the
valley (cheaper, lower-load hours) when the valley before its departure still meets it.

Rules:
1. The valley is a daily window of local hours ``[start_hour, end_hour)``; it may wrap
   midnight (23 → 7). Local time is the window's time zone.
2. Outside the valley, a session is deferred (limit 0 now) when the valley time between now
   and its departure, at ``assumed_w`` (what it expects to get there), delivers at least
   ``safety_factor`` × its need. Inside the valley nothing is deferred.
3. A session without a need, without a departure, or whose departure has passed is never
   deferred. Deferral is decided again at every pass, so a need that grows, a departure
   that moves closer or the valley starting ends it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, time, timedelta, tzinfo

from csms.smartcharging.headroom import CHINA_STANDARD_TIME


@dataclass(frozen=True, slots=True)
class ValleyWindow:
    start_hour: int = 0
    end_hour: int = 8
    tz: tzinfo = CHINA_STANDARD_TIME

    def __post_init__(self) -> None:
        if not (0 <= self.start_hour < 24 and 0 <= self.end_hour < 24):
            raise ValueError("valley hours are 0..23")
        if self.start_hour == self.end_hour:
            raise ValueError("the valley needs a start and an end hour that differ")

    def contains(self, at: datetime) -> bool:
        hour = at.astimezone(self.tz).hour
        if self.start_hour < self.end_hour:
            return self.start_hour <= hour < self.end_hour
        return hour >= self.start_hour or hour < self.end_hour

    def periods(self, start: datetime, end: datetime) -> list[tuple[datetime, datetime]]:
        """The valley's parts inside ``[start, end)``, in order."""
        out: list[tuple[datetime, datetime]] = []
        day = start.astimezone(self.tz).date() - timedelta(days=1)
        while True:
            begin = datetime.combine(day, time(self.start_hour), self.tz)
            length = (self.end_hour - self.start_hour) % 24
            finish = begin + timedelta(hours=length)
            if begin >= end:
                return out
            if finish > start:
                out.append((max(begin, start), min(finish, end)))
            day += timedelta(days=1)


@dataclass(frozen=True, slots=True)
class ValleyPlan:
    deferred: bool
    resume_at: datetime | None = None  # the next valley start when deferred
    valley_wh: float = 0.0  # what the valley before departure delivers at assumed_w


def plan(now: datetime, departure_at: datetime | None, energy_needed_wh: float | None,
         assumed_w: float, window: ValleyWindow, safety_factor: float = 1.25) -> ValleyPlan:
    """Whether to defer a session now (module rules).

    Raises:
        ValueError: ``now`` is naive.
    """
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    if (departure_at is None or energy_needed_wh is None or energy_needed_wh <= 0
            or departure_at <= now or window.contains(now)):
        return ValleyPlan(False)
    periods = window.periods(now, departure_at)
    valley_wh = sum((b - a).total_seconds() for a, b in periods) / 3600.0 * assumed_w
    if periods and valley_wh >= safety_factor * energy_needed_wh:
        return ValleyPlan(True, periods[0][0], valley_wh)
    return ValleyPlan(False, None, valley_wh)
