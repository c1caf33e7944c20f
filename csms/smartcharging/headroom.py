"""How much power a site has for charging now (see DOMAIN.md, "Orderly charging numbers").

Rules:
1. ``available_w = k × transformer_kva × 1000 × power_factor − base_load_w − margin_w``,
   at most ``hard_cap_w`` when one is set, never negative. Every term is configuration.
2. The base load is a live reading from a building meter when there is one; otherwise a
   profile: one value per local hour, for work days and for rest days (weekends and the
   listed holidays). Local time is the profile's fixed UTC offset (China: +08:00, no DST).
3. Times are timezone-aware; a naive time is an error.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone, tzinfo
from enum import StrEnum

CHINA_STANDARD_TIME = timezone(timedelta(hours=8))


def available_w(
    transformer_kva: float,
    loading_factor: float,
    power_factor: float,
    base_load_w: float,
    margin_w: float,
    hard_cap_w: float | None = None,
) -> float:
    """The power left for charging under the transformer, in W (Rule 1)."""
    headroom = loading_factor * transformer_kva * 1000.0 * power_factor - base_load_w - margin_w
    if hard_cap_w is not None:
        headroom = min(headroom, hard_cap_w)
    return max(0.0, headroom)


class DayType(StrEnum):
    WORKDAY = "workday"
    REST_DAY = "rest_day"


@dataclass(frozen=True, slots=True)
class BaseLoadProfile:
    """The building's load by local hour (index 0 = 00:00–01:00), in W, per day type."""

    workday_w: tuple[float, ...]
    rest_day_w: tuple[float, ...]
    tz: tzinfo = CHINA_STANDARD_TIME
    holidays: frozenset[date] = frozenset()

    def __post_init__(self) -> None:
        if len(self.workday_w) != 24 or len(self.rest_day_w) != 24:
            raise ValueError("a base-load profile has 24 hourly values per day type")
        if min(*self.workday_w, *self.rest_day_w) < 0:
            raise ValueError("base load cannot be negative")

    def day_type(self, local_day: date) -> DayType:
        if local_day.weekday() >= 5 or local_day in self.holidays:
            return DayType.REST_DAY
        return DayType.WORKDAY

    def base_load_w(self, at: datetime) -> float:
        """The profile's base load at ``at`` (Rule 2)."""
        if at.tzinfo is None:
            raise ValueError("time must be timezone-aware")
        local = at.astimezone(self.tz)
        values = self.workday_w if self.day_type(local.date()) is DayType.WORKDAY else (
            self.rest_day_w
        )
        return values[local.hour]


def residential_profile(peak_w: float) -> BaseLoadProfile:
    """A typical residential shape scaled to ``peak_w``: low after midnight, evening peak."""
    shape = (
        0.35, 0.30, 0.28, 0.27, 0.27, 0.30, 0.40, 0.55, 0.55, 0.50, 0.50, 0.55,
        0.60, 0.55, 0.50, 0.50, 0.55, 0.70, 0.90, 1.00, 1.00, 0.90, 0.70, 0.50,
    )
    rest = (
        0.40, 0.33, 0.30, 0.28, 0.28, 0.30, 0.35, 0.45, 0.60, 0.65, 0.65, 0.70,
        0.70, 0.65, 0.60, 0.60, 0.65, 0.75, 0.90, 1.00, 1.00, 0.90, 0.75, 0.55,
    )
    return BaseLoadProfile(
        tuple(peak_w * f for f in shape), tuple(peak_w * f for f in rest)
    )


def site_available_w(
    transformer_kva: float,
    loading_factor: float,
    power_factor: float,
    margin_w: float,
    at: datetime,
    profile: BaseLoadProfile,
    measured_base_w: float | None = None,
    hard_cap_w: float | None = None,
) -> float:
    """Headroom at ``at``: the live building reading when given, else the profile."""
    base = measured_base_w if measured_base_w is not None else profile.base_load_w(at)
    return available_w(
        transformer_kva, loading_factor, power_factor, base, margin_w, hard_cap_w
    )
