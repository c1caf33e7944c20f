"""Charging packages: prepaid kWh that a session consumes before the wallet pays.

Rules:
1. A ``Package`` is a product: price, included kWh, coverage (electricity, service or
   both), an optional window of tariff periods (for example valley only; ``None`` = any
   period) and the communities where it applies. A clock window is expressed as a tariff
   period, so a charge detail (which lies in one period) is either inside it or not.
2. A ``Subscription`` is one purchase of a package, valid for one calendar month in the
   package's local time zone: ``[valid_from, valid_until)`` in aware UTC, with the kWh
   remaining. A detail is in the validity when its start is (a detail lies in one local
   day, pricing Rule 3, so in one month).
3. ``apply_packages`` goes through the details in time order; for each detail the
   applicable subscriptions (community, validity, window) are used earliest expiry
   first, ties by subscription id, so the kWh about to lapse are used first.
4. Each kWh of a detail has an open electricity part and an open service part. A
   subscription takes ``x = min(remaining, open kWh of the covered part with the most
   open)`` and closes ``min(x, open)`` of each covered part. So a "both" package after an
   "electricity only" one still takes full kWh for the service it covers.
5. Remaining kWh never goes below zero. The money left to charge is, per part, the open
   kWh × that part's price, unrounded; it is rounded only when posted.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime
from decimal import Decimal
from enum import StrEnum
from zoneinfo import ZoneInfo

from csms.tariffs.model import Period, require_aware
from csms.tariffs.pricing import ChargeDetail


class Coverage(StrEnum):
    ELECTRICITY = "electricity"
    SERVICE = "service"
    BOTH = "both"


@dataclass(frozen=True, slots=True)
class Package:
    """A package product (Rule 1)."""

    package_id: str
    price_yuan: Decimal
    included_kwh: Decimal
    coverage: Coverage
    communities: frozenset[str]
    zone: str = "Asia/Shanghai"
    periods: frozenset[Period] | None = None

    def __post_init__(self) -> None:
        if self.price_yuan < 0 or self.included_kwh < 0:
            raise ValueError("price and included kWh cannot be negative")
        ZoneInfo(self.zone)


@dataclass(frozen=True, slots=True)
class Subscription:
    """One purchase of a package for one local calendar month (Rule 2)."""

    subscription_id: str
    package: Package
    valid_from: datetime
    valid_until: datetime
    remaining_kwh: Decimal

    def __post_init__(self) -> None:
        require_aware(self.valid_from, "valid_from")
        require_aware(self.valid_until, "valid_until")
        if self.remaining_kwh < 0:
            raise ValueError("remaining kWh cannot be negative")

    def applies_to(self, detail: ChargeDetail, community: str) -> bool:
        periods = self.package.periods
        return (
            community in self.package.communities
            and self.valid_from <= detail.start < self.valid_until
            and (periods is None or detail.period in periods)
        )


def subscribe(subscription_id: str, package: Package, year: int, month: int) -> Subscription:
    """A subscription for the local calendar month ``year-month``, full (Rule 2)."""
    tz = ZoneInfo(package.zone)
    first = date(year, month, 1)
    following = date(year + month // 12, month % 12 + 1, 1)
    return Subscription(
        subscription_id=subscription_id,
        package=package,
        valid_from=datetime.combine(first, datetime.min.time(), tz).astimezone(UTC),
        valid_until=datetime.combine(following, datetime.min.time(), tz).astimezone(UTC),
        remaining_kwh=package.included_kwh,
    )


@dataclass(frozen=True, slots=True)
class PackageUsage:
    """What one subscription covered in one detail; money unrounded."""

    subscription_id: str
    detail_index: int
    energy_kwh: Decimal
    electricity_yuan: Decimal
    service_yuan: Decimal


@dataclass(frozen=True, slots=True)
class PackageResult:
    """The money still to charge, the usage, and the subscriptions afterwards."""

    electricity_yuan: Decimal
    service_yuan: Decimal
    usage: tuple[PackageUsage, ...]
    subscriptions: tuple[Subscription, ...]

    @property
    def total_yuan(self) -> Decimal:
        return self.electricity_yuan + self.service_yuan


def _covers(coverage: Coverage) -> tuple[bool, bool]:
    return coverage is not Coverage.SERVICE, coverage is not Coverage.ELECTRICITY


def _consume(
    sub: Subscription, index: int, detail: ChargeDetail, open_kwh: list[Decimal]
) -> tuple[Subscription, PackageUsage | None]:
    """Rule 4 for one subscription and one detail; ``open_kwh`` is [electricity, service]."""
    covers = _covers(sub.package.coverage)
    wanted = max(kwh for kwh, covered in zip(open_kwh, covers, strict=True) if covered)
    take = min(sub.remaining_kwh, wanted)
    if take <= 0:
        return sub, None
    closed = [min(take, kwh) if covered else Decimal(0)
              for kwh, covered in zip(open_kwh, covers, strict=True)]
    open_kwh[0] -= closed[0]
    open_kwh[1] -= closed[1]
    usage = PackageUsage(
        subscription_id=sub.subscription_id,
        detail_index=index,
        energy_kwh=take,
        electricity_yuan=closed[0] * detail.electricity_yuan_per_kwh,
        service_yuan=closed[1] * detail.service_yuan_per_kwh,
    )
    return replace(sub, remaining_kwh=sub.remaining_kwh - take), usage


def apply_packages(
    details: Sequence[ChargeDetail], subscriptions: Sequence[Subscription], community: str
) -> PackageResult:
    """Package kWh first (Rules 3–5); what is left is for the wallet."""
    current = list(subscriptions)
    order = sorted(range(len(current)),
                   key=lambda i: (current[i].valid_until, current[i].subscription_id))
    usage: list[PackageUsage] = []
    electricity = service = Decimal(0)
    for index, detail in sorted(enumerate(details), key=lambda pair: pair[1].start):
        open_kwh = [detail.energy_kwh, detail.energy_kwh]
        for i in order:
            if current[i].applies_to(detail, community):
                current[i], used = _consume(current[i], index, detail, open_kwh)
                if used is not None:
                    usage.append(used)
        electricity += open_kwh[0] * detail.electricity_yuan_per_kwh
        service += open_kwh[1] * detail.service_yuan_per_kwh
    return PackageResult(electricity, service, tuple(usage), tuple(current))
