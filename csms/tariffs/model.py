"""The tariff model: time-of-use electricity and service prices, versioned in time.

Rules:
1. A price is yuan per kWh as ``Decimal``; never ``float``. Nothing here rounds.
2. A ``TouSchedule`` prices one component (electricity or service): a list of ``TouRate``
   windows in local wall-clock time, ``[start, end)``; ``end == 00:00`` means 24:00. A
   window never wraps midnight (write 22:00–06:00 as two windows). The first window that
   matches the local time and day type wins; no match gives the schedule's default.
3. Day type: a listed holiday is ``HOLIDAY``; a listed make-up workday (调休) is
   ``WEEKDAY``; otherwise Saturday and Sunday are ``WEEKEND``, the rest ``WEEKDAY``.
4. A ``TariffVersion`` holds both schedules, the site's IANA zone and ``effective_from``
   (aware UTC). The version in force at an instant is the one with the latest
   ``effective_from`` not after it (``tariff_at``).
5. A session is priced with the versions in force during it, split at each
   ``effective_from`` inside it (``versions_during``). A version published later never
   changes the price of a session that ended before its ``effective_from``.
6. Local wall time is used only to find segment boundaries and rates; every instant that
   leaves this package is aware UTC. Boundaries are found through ``zoneinfo``, so zones
   with daylight saving work although China has none: a wall time repeated at fall-back
   is a boundary twice, a skipped one is passed at the jump, and every change of UTC
   offset is itself a boundary.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from enum import StrEnum
from zoneinfo import ZoneInfo

MIDNIGHT = time(0)


class Period(StrEnum):
    PEAK = "peak"
    FLAT = "flat"
    VALLEY = "valley"


class DayType(StrEnum):
    WEEKDAY = "weekday"
    WEEKEND = "weekend"
    HOLIDAY = "holiday"


ALL_DAY_TYPES = frozenset(DayType)


def require_aware(at: datetime, what: str = "time") -> None:
    if at.tzinfo is None or at.utcoffset() is None:
        raise ValueError(f"{what} must be timezone-aware")


@dataclass(frozen=True, slots=True)
class TouRate:
    """One window of a schedule (Rule 2)."""

    start: time
    end: time
    period: Period
    yuan_per_kwh: Decimal
    day_types: frozenset[DayType] = ALL_DAY_TYPES

    def __post_init__(self) -> None:
        if self.start.tzinfo is not None or self.end.tzinfo is not None:
            raise ValueError("window times are naive local wall-clock times")
        if not (self.start < self.end or self.end == MIDNIGHT):
            raise ValueError("a window must not wrap midnight; split it in two")
        if self.yuan_per_kwh < 0:
            raise ValueError("a price cannot be negative")

    def matches(self, local_time: time, day_type: DayType) -> bool:
        if day_type not in self.day_types or local_time < self.start:
            return False
        return self.end == MIDNIGHT or local_time < self.end


@dataclass(frozen=True, slots=True)
class TouSchedule:
    """The time-of-use prices of one component (Rule 2)."""

    default_yuan_per_kwh: Decimal
    default_period: Period = Period.FLAT
    rates: tuple[TouRate, ...] = ()

    def rate_at(self, local_time: time, day_type: DayType) -> tuple[Period, Decimal]:
        for rate in self.rates:
            if rate.matches(local_time, day_type):
                return rate.period, rate.yuan_per_kwh
        return self.default_period, self.default_yuan_per_kwh

    def boundaries(self) -> set[time]:
        """Every local time of day where a price may change."""
        return {t for rate in self.rates for t in (rate.start, rate.end)}


@dataclass(frozen=True, slots=True)
class Rate:
    """The prices in force for one piece of a session."""

    period: Period
    electricity_yuan_per_kwh: Decimal
    service_yuan_per_kwh: Decimal


@dataclass(frozen=True, slots=True)
class TariffVersion:
    """Electricity and service schedules of a site from ``effective_from`` on (Rule 4)."""

    name: str
    effective_from: datetime
    zone: str
    electricity: TouSchedule
    service: TouSchedule
    holidays: frozenset[date] = frozenset()
    workdays: frozenset[date] = frozenset()

    def __post_init__(self) -> None:
        require_aware(self.effective_from, "effective_from")
        ZoneInfo(self.zone)  # an unknown zone fails here, not at pricing time

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.zone)

    def day_type(self, local_day: date) -> DayType:
        """Rule 3."""
        if local_day in self.holidays:
            return DayType.HOLIDAY
        if local_day in self.workdays or local_day.weekday() < 5:
            return DayType.WEEKDAY
        return DayType.WEEKEND

    def rate_at(self, at: datetime) -> Rate:
        """The prices at the instant ``at``; the period is the electricity period."""
        require_aware(at)
        local = at.astimezone(self.tz)
        day_type = self.day_type(local.date())
        wall = local.time().replace(tzinfo=None)
        period, electricity = self.electricity.rate_at(wall, day_type)
        _, service = self.service.rate_at(wall, day_type)
        return Rate(period, electricity, service)

    def boundaries_between(self, start: datetime, end: datetime) -> list[datetime]:
        """UTC instants strictly inside ``(start, end)`` where a rate or the day may change.

        Local midnight is always a boundary (the day type may change there). Each wall
        time is tried with both ``fold`` values, keeping those that exist, so a repeated
        wall time (DST fall-back) is cut twice; every change of UTC offset is cut too, so
        inside a piece the wall clock runs straight and a rate is constant (Rule 6).
        """
        tz = self.tz
        times = self.electricity.boundaries() | self.service.boundaries() | {MIDNIGHT}
        day = start.astimezone(tz).date() - timedelta(days=1)
        last = end.astimezone(tz).date() + timedelta(days=1)
        found: set[datetime] = set()
        while day <= last:
            found.update(at for t in times for at in _wall_instants(day, t, tz)
                         if start < at < end)
            day += timedelta(days=1)
        for a, b in itertools.pairwise(sorted({start, end} | found)):
            if a.astimezone(tz).utcoffset() != b.astimezone(tz).utcoffset():
                shift = _offset_change(a, b, tz)
                if shift < end:
                    found.add(shift)
        return sorted(found)


def _wall_instants(day: date, t: time, tz: ZoneInfo) -> set[datetime]:
    """The UTC instants when the wall clock shows ``day t``: none, one, or two (DST)."""
    naive = datetime.combine(day, t)
    found: set[datetime] = set()
    for fold in (0, 1):
        at = naive.replace(tzinfo=tz, fold=fold).astimezone(UTC)
        if at.astimezone(tz).replace(tzinfo=None) == naive:
            found.add(at)
    return found


def _offset_change(low: datetime, high: datetime, tz: ZoneInfo) -> datetime:
    """The first instant in ``(low, high]`` with ``high``'s UTC offset (one change there;
    the pieces between midnights are shorter than the time between two DST changes)."""
    target = high.astimezone(tz).utcoffset()
    while high - low > datetime.resolution:
        mid = low + (high - low) // 2
        if mid.astimezone(tz).utcoffset() == target:
            high = mid
        else:
            low = mid
    return high


def _ordered(versions: Iterable[TariffVersion]) -> list[TariffVersion]:
    ordered = sorted(versions, key=lambda v: v.effective_from)
    for before, after in itertools.pairwise(ordered):
        if before.effective_from == after.effective_from:
            raise ValueError(f"two versions take effect at {after.effective_from.isoformat()}")
    return ordered


def tariff_at(versions: Iterable[TariffVersion], at: datetime) -> TariffVersion:
    """The version in force at ``at`` (Rule 4); ``LookupError`` if none is yet."""
    require_aware(at)
    current: TariffVersion | None = None
    for version in _ordered(versions):
        if version.effective_from > at:
            break
        current = version
    if current is None:
        raise LookupError(f"no tariff in force at {at.isoformat()}")
    return current


def versions_during(
    versions: Sequence[TariffVersion], start: datetime, end: datetime
) -> list[tuple[datetime, datetime, TariffVersion]]:
    """``[start, end)`` cut at every ``effective_from`` inside it, with its version (Rule 5)."""
    require_aware(start, "start")
    require_aware(end, "end")
    if end < start:
        raise ValueError("a session cannot end before it starts")
    pieces: list[tuple[datetime, datetime, TariffVersion]] = []
    cursor, current = start, tariff_at(versions, start)
    for version in _ordered(versions):
        if start < version.effective_from < end:
            pieces.append((cursor, version.effective_from, current))
            cursor, current = version.effective_from, version
    pieces.append((cursor, end, current))
    return pieces
