"""Is a charger's clock plausible? Pure: times are arguments.

Rule: a timestamp a charger reports is implausible when it is more than a tolerance before
the charger was registered with this CSMS (a dead RTC reporting 1970), or more than the
tolerance after the CSMS's own time of receipt. Retention never uses the charger's clock
(csms.store.retention rule 5); this only flags it, so an operator can fix the charger.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum


class ClockProblem(StrEnum):
    BEFORE_REGISTRATION = "before_registration"
    IN_THE_FUTURE = "in_the_future"


@dataclass(frozen=True, slots=True)
class ClockAnomaly:
    problem: ClockProblem
    reported_at: datetime
    received_at: datetime
    skew_s: float  # reported minus received, seconds (negative: the charger is behind)


def clock_anomaly(
    reported_at: datetime,
    received_at: datetime,
    registered_at: datetime | None,
    tolerance: timedelta,
) -> ClockAnomaly | None:
    """The anomaly of ``reported_at`` (the charger's clock) against ``received_at`` (the
    CSMS's) and the charger's registration, or None if it is plausible."""
    skew_s = (reported_at - received_at).total_seconds()
    if registered_at is not None and reported_at < registered_at - tolerance:
        return ClockAnomaly(ClockProblem.BEFORE_REGISTRATION, reported_at, received_at, skew_s)
    if reported_at > received_at + tolerance:
        return ClockAnomaly(ClockProblem.IN_THE_FUTURE, reported_at, received_at, skew_s)
    return None
