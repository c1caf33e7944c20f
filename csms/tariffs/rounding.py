"""Rounding at posting: half-up to the fen, with details that sum exactly to the totals.

Rules:
1. Money is rounded once, when posted: half-up to 0.01 yuan (``round_yuan``). Energy for
   display is rounded half-up to 0.001 kWh.
2. A posted order's totals are the rounded unrounded totals, per component: electricity
   and service separately; the order's total money is their sum (so TotalMoney =
   TotalElecMoney + TotalSeviceMoney exactly).
3. The rounded details must sum exactly to the rounded totals; rounding each detail on
   its own does not. Largest-remainder method (``allocate_rounded``): every detail is
   first rounded down to the quantum; the units still missing to reach the rounded total
   go one each to the details with the largest remainders, ties to the earlier detail.
   A detail is therefore its exact amount rounded down or up, never further off.
4. Prices are shown as they are (they are already in fen or finer).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import ROUND_FLOOR, ROUND_HALF_UP, Decimal

from csms.tariffs.model import Period
from csms.tariffs.pricing import PricedSession

FEN = Decimal("0.01")
KWH_QUANTUM = Decimal("0.001")


def round_yuan(amount: Decimal) -> Decimal:
    """Half-up to the fen (Rule 1)."""
    return amount.quantize(FEN, rounding=ROUND_HALF_UP)


def allocate_rounded(amounts: Sequence[Decimal], quantum: Decimal = FEN) -> list[Decimal]:
    """``amounts`` rounded to ``quantum`` so they sum to their rounded sum (Rule 3)."""
    total = sum(amounts, Decimal(0)).quantize(quantum, rounding=ROUND_HALF_UP)
    floors = [a.quantize(quantum, rounding=ROUND_FLOOR) for a in amounts]
    missing = int((total - sum(floors, Decimal(0))) / quantum)
    order = sorted(range(len(amounts)), key=lambda i: (floors[i] - amounts[i], i))
    for i in order[:missing]:
        floors[i] += quantum
    return floors


@dataclass(frozen=True, slots=True)
class PostedDetail:
    """A ChargeDetails item as sent: DetailStart/EndTime, prices, power and money."""

    start: datetime
    end: datetime
    period: Period
    electricity_yuan_per_kwh: Decimal
    service_yuan_per_kwh: Decimal
    energy_kwh: Decimal
    electricity_yuan: Decimal
    service_yuan: Decimal


@dataclass(frozen=True, slots=True)
class PostedOrder:
    """A charge order's totals and details, rounded; the details sum to the totals."""

    start: datetime
    end: datetime
    energy_kwh: Decimal
    electricity_yuan: Decimal
    service_yuan: Decimal
    details: tuple[PostedDetail, ...]

    @property
    def total_yuan(self) -> Decimal:
        return self.electricity_yuan + self.service_yuan


def post_order(session: PricedSession) -> PostedOrder:
    """The session rounded for posting (Rules 1–3)."""
    details = session.details
    kwh = allocate_rounded([d.energy_kwh for d in details], KWH_QUANTUM)
    electricity = allocate_rounded([d.electricity_yuan for d in details])
    service = allocate_rounded([d.service_yuan for d in details])
    posted = tuple(
        PostedDetail(
            start=d.start,
            end=d.end,
            period=d.period,
            electricity_yuan_per_kwh=d.electricity_yuan_per_kwh,
            service_yuan_per_kwh=d.service_yuan_per_kwh,
            energy_kwh=kwh[i],
            electricity_yuan=electricity[i],
            service_yuan=service[i],
        )
        for i, d in enumerate(details)
    )
    return PostedOrder(
        start=session.start,
        end=session.end,
        energy_kwh=session.energy_kwh.quantize(KWH_QUANTUM, rounding=ROUND_HALF_UP),
        electricity_yuan=round_yuan(session.electricity_yuan),
        service_yuan=round_yuan(session.service_yuan),
        details=posted,
    )
