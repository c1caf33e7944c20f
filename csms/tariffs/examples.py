"""Example tariffs as data.

Rules:
1. Yunnan residential EV charging from 2024-01-01 (Asia/Shanghai): electricity 0.31
   yuan/kWh in the valley, 0.61 yuan/kWh otherwise. The valley hours are the operator's
   choice; 00:00–08:00 local is the default here. The service fee is the operator's
   (default 0.40 yuan/kWh, the same at every hour).
2. Every part is an argument, so an operator's variant is a call, not a code change.
"""

from __future__ import annotations

from datetime import datetime, time
from decimal import Decimal
from zoneinfo import ZoneInfo

from csms.tariffs.model import Period, TariffVersion, TouRate, TouSchedule

SHANGHAI = "Asia/Shanghai"
YUNNAN_VALLEY_YUAN_PER_KWH = Decimal("0.31")
YUNNAN_NON_VALLEY_YUAN_PER_KWH = Decimal("0.61")
YUNNAN_EFFECTIVE_FROM = datetime(2024, 1, 1, tzinfo=ZoneInfo(SHANGHAI))


def yunnan_residential(
    *,
    service_yuan_per_kwh: Decimal = Decimal("0.40"),
    valley_start: time = time(0),
    valley_end: time = time(8),
    effective_from: datetime = YUNNAN_EFFECTIVE_FROM,
    name: str = "yunnan-residential-2024",
) -> TariffVersion:
    """The Yunnan residential tariff (Rule 1); a valley across midnight is split in two."""
    valley = YUNNAN_VALLEY_YUAN_PER_KWH
    windows: tuple[tuple[time, time], ...]
    if valley_start < valley_end or valley_end == time(0):
        windows = ((valley_start, valley_end),)
    else:
        windows = ((valley_start, time(0)), (time(0), valley_end))
    rates = tuple(TouRate(s, e, Period.VALLEY, valley) for s, e in windows)
    return TariffVersion(
        name=name,
        effective_from=effective_from,
        zone=SHANGHAI,
        electricity=TouSchedule(YUNNAN_NON_VALLEY_YUAN_PER_KWH, Period.FLAT, rates),
        service=TouSchedule(service_yuan_per_kwh),
    )
