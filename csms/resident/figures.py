"""What the resident page shows, computed from plain data. Pure: no I/O.

Rules:
1. Money is yuan with exactly 2 decimals, rounded half-up (the tariffs' own rounding); a
   price per kWh keeps the decimals it was set with, at least 2.
2. Energy is kWh with 2 decimals, power kW with 1; an unknown figure is ``None``.
3. Times are shown in the site's zone; every instant that comes in is aware UTC.
4. A PIN is 4 to 8 ASCII digits.
"""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from csms.tariffs.model import Period, TariffVersion, require_aware
from csms.tariffs.rounding import round_yuan

PIN = re.compile(r"[0-9]{4,8}")
CENT = Decimal("0.01")


def valid_pin(pin: str) -> bool:
    """Rule 4."""
    return PIN.fullmatch(pin) is not None


def money(amount_yuan: Decimal) -> str:
    """Rule 1: ``Decimal("3.456")`` -> ``"3.46"``."""
    return str(round_yuan(amount_yuan).quantize(CENT))


def unit_price(yuan_per_kwh: Decimal) -> str:
    """Rule 1: ``0.6`` -> ``"0.60"``, ``0.6125`` -> ``"0.6125"``."""
    value = yuan_per_kwh.normalize()
    exponent = value.as_tuple().exponent
    if isinstance(exponent, int) and exponent > -2:
        value = value.quantize(CENT)
    return f"{value:f}"


def kwh(energy_wh: float | None) -> str | None:
    """Rule 2: Wh in, kWh out."""
    return None if energy_wh is None else f"{energy_wh / 1000:.2f}"


def kw(power_w: float | None) -> str | None:
    return None if power_w is None else f"{power_w / 1000:.1f}"


def local_time(at: datetime | None, zone: str, *, with_date: bool = False) -> str | None:
    """Rule 3: ``HH:MM`` (with ``YYYY-MM-DD`` before it if asked) in ``zone``."""
    if at is None:
        return None
    require_aware(at)
    local = at.astimezone(ZoneInfo(zone))
    return local.strftime("%Y-%m-%d %H:%M" if with_date else "%H:%M")


@dataclass(frozen=True, slots=True)
class PriceNow:
    """The prices at an instant and until when they hold (within the next day)."""

    period: Period
    electricity_yuan_per_kwh: Decimal
    service_yuan_per_kwh: Decimal
    until: datetime | None  # aware UTC; None: unchanged for at least a day

    @property
    def total_yuan_per_kwh(self) -> Decimal:
        return self.electricity_yuan_per_kwh + self.service_yuan_per_kwh


@dataclass(frozen=True, slots=True)
class PricePiece:
    """A stretch of a local day at one price: ``[start, end)`` local wall times."""

    start: time
    end: time  # 00:00: midnight at the end of the day
    period: Period
    total_yuan_per_kwh: Decimal


def price_now(version: TariffVersion, at: datetime) -> PriceNow:
    """The version's prices at ``at`` and the next instant within a day they change."""
    rate = version.rate_at(at)
    key = (rate.electricity_yuan_per_kwh, rate.service_yuan_per_kwh, rate.period)
    until = None
    for boundary in version.boundaries_between(at, at + timedelta(days=1)):
        then = version.rate_at(boundary)
        if (then.electricity_yuan_per_kwh, then.service_yuan_per_kwh, then.period) != key:
            until = boundary
            break
    return PriceNow(rate.period, rate.electricity_yuan_per_kwh, rate.service_yuan_per_kwh,
                    until)


def day_prices(version: TariffVersion, day: date) -> list[PricePiece]:
    """The local day ``day`` cut where the total price or the period changes."""
    tz = version.tz
    start = datetime.combine(day, time(0), tz)
    end = datetime.combine(day + timedelta(days=1), time(0), tz)
    cuts = [start, *version.boundaries_between(start, end), end]
    pieces: list[PricePiece] = []
    for at, following in itertools.pairwise(cuts):
        rate = version.rate_at(at)
        total = rate.electricity_yuan_per_kwh + rate.service_yuan_per_kwh
        stop = following.astimezone(tz).time().replace(tzinfo=None)
        if pieces and (pieces[-1].period, pieces[-1].total_yuan_per_kwh) == (rate.period,
                                                                              total):
            pieces[-1] = PricePiece(pieces[-1].start, stop, rate.period, total)
        else:
            pieces.append(PricePiece(at.astimezone(tz).time().replace(tzinfo=None), stop,
                                     rate.period, total))
    return pieces
