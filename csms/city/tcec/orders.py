"""Charge orders, their reconciliation and station statistics for the platform. No I/O.

Rules:
1. A charge order is a posted session (:class:`csms.tariffs.rounding.PostedOrder`): its
   ``ChargeDetails`` are the session's pieces split at every tariff boundary; the rounding
   remainder of each amount went to the details with the largest remainders, ties to the
   earlier one (``csms.tariffs.rounding.allocate_rounded``), so ``TotalPower``,
   ``TotalElecMoney`` and ``TotalSeviceMoney`` are exactly the sums of the details and
   ``TotalMoney`` their sum. :func:`charge_order` refuses an order that breaks this.
2. Amounts are computed in ``Decimal``; they become JSON numbers only here, through the
   shortest float repr, which prints the same decimal digits (2 for money, 3 for kWh).
3. Times are sent as ``yyyy-MM-dd HH:mm:ss`` in the site's local zone.
4. ``StartChargeSeq`` is the operator id and the session id in 18 digits (27 characters).
5. Reconciliation (``check_charge_orders``): an order the platform lists is disputed with
   reason 1 if we have no such order, 2 if its money differs, 3 if its energy differs, 4 if
   both; an order of ours in the period that the platform did not list, with reason 5.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any, Final
from zoneinfo import ZoneInfo

from csms.tariffs.rounding import PostedOrder

MISSING, MONEY, ENERGY, BOTH, UNLISTED = 1, 2, 3, 4, 5
STOP_REASONS: Final = {None: 0, "Local": 0, "EVDisconnected": 1, "Remote": 2,
                       "EmergencyStop": 3, "PowerLoss": 3, "Reboot": 3, "HardReset": 3,
                       "SoftReset": 3, "Other": 4}


def seq_of(operator_id: str, session_id: int) -> str:
    """Rule 4."""
    return f"{operator_id}{session_id:018d}"


def local(at: datetime, zone: str) -> str:
    """Rule 3."""
    return at.astimezone(ZoneInfo(zone)).strftime("%Y-%m-%d %H:%M:%S")


def number(amount: Decimal) -> float:
    """Rule 2: a Decimal as the JSON number with the same digits."""
    return float(amount)


def exact(order: PostedOrder) -> bool:
    """Rule 1: the details sum exactly to the totals."""
    d = order.details
    return (sum((x.energy_kwh for x in d), Decimal(0)) == order.energy_kwh
            and sum((x.electricity_yuan for x in d), Decimal(0)) == order.electricity_yuan
            and sum((x.service_yuan for x in d), Decimal(0)) == order.service_yuan)


@dataclass(frozen=True, slots=True)
class OrderRef:
    """What identifies an order to the platform."""

    operator_id: str
    session_id: int
    connector_ref: str
    stop_reason: str | None
    zone: str


def charge_order(ref: OrderRef, order: PostedOrder) -> dict[str, Any]:
    """The ``notification_charge_order_info`` data (rules 1–4); ``ValueError`` if the
    details do not sum to the totals."""
    if not exact(order):
        raise ValueError("the charge details do not sum to the totals")
    return {
        "StartChargeSeq": seq_of(ref.operator_id, ref.session_id),
        "ConnectorID": ref.connector_ref,
        "StartTime": local(order.start, ref.zone), "EndTime": local(order.end, ref.zone),
        "TotalPower": number(order.energy_kwh),
        "TotalElecMoney": number(order.electricity_yuan),
        "TotalSeviceMoney": number(order.service_yuan),
        "TotalMoney": number(order.total_yuan),
        "StopReason": STOP_REASONS.get(ref.stop_reason, 4),
        "SumPeriod": len(order.details),
        "ChargeDetails": [{
            "DetailStartTime": local(d.start, ref.zone), "DetailEndTime": local(d.end, ref.zone),
            "ElecPrice": number(d.electricity_yuan_per_kwh),
            "SevicePrice": number(d.service_yuan_per_kwh),
            "DetailPower": number(d.energy_kwh),
            "DetailElecMoney": number(d.electricity_yuan),
            "DetailSeviceMoney": number(d.service_yuan)} for d in order.details],
    }


@dataclass(frozen=True, slots=True)
class OrderTotals:
    seq: str
    energy_kwh: Decimal
    total_yuan: Decimal


def _decimal(value: object) -> Decimal:
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise ValueError(f"not a number: {value!r}")
    return Decimal(str(value))


def listed_orders(data: Mapping[str, Any]) -> list[OrderTotals]:
    """The platform's ``ChargeOrders`` of a ``check_charge_orders`` request; ``ValueError``
    (a 4004) if malformed."""
    orders = data.get("ChargeOrders", [])
    if not isinstance(orders, list):
        raise ValueError("ChargeOrders is not a list")
    found = []
    for item in orders:
        if not isinstance(item, dict) or not isinstance(item.get("StartChargeSeq"), str):
            raise ValueError("a ChargeOrders item has no StartChargeSeq")
        found.append(OrderTotals(item["StartChargeSeq"], _decimal(item.get("TotalPower", 0)),
                                 _decimal(item.get("TotalMoney", 0))))
    return found


def _reason(theirs: OrderTotals, ours: OrderTotals | None) -> int | None:
    if ours is None:
        return MISSING
    money = theirs.total_yuan != ours.total_yuan
    energy = theirs.energy_kwh != ours.energy_kwh
    return BOTH if money and energy else MONEY if money else ENERGY if energy else None


def reconcile(data: Mapping[str, Any], ours: Iterable[OrderTotals]) -> dict[str, Any]:
    """The ``check_charge_orders`` answer (rule 5) for the request ``data`` and our orders
    of its period."""
    mine = {o.seq: o for o in ours}
    listed = listed_orders(data)
    disputes: list[tuple[OrderTotals, int]] = []
    for theirs in listed:
        reason = _reason(theirs, mine.get(theirs.seq))
        if reason is not None:
            disputes.append((mine.get(theirs.seq, theirs), reason))
    seen = {o.seq for o in listed}
    disputes += [(o, UNLISTED) for seq, o in mine.items() if seq not in seen]
    return {
        "CheckOrderSeq": data.get("CheckOrderSeq", ""), "StartTime": data.get("StartTime", ""),
        "EndTime": data.get("EndTime", ""), "TotalDisputeOrder": len(disputes),
        "TotalDisputePower": number(sum((o.energy_kwh for o, _ in disputes), Decimal(0))),
        "TotalDisputeMoney": number(sum((o.total_yuan for o, _ in disputes), Decimal(0))),
        "DisputeOrders": [{"StartChargeSeq": o.seq, "TotalPower": number(o.energy_kwh),
                           "TotalMoney": number(o.total_yuan), "DisputeReason": r}
                          for o, r in disputes],
    }


@dataclass(frozen=True, slots=True)
class ConnectorEnergy:
    station_id: str
    connector_ref: str
    energy_kwh: Decimal


def station_stats(site_id: int, start: str, end: str,
                  energy: Sequence[ConnectorEnergy]) -> dict[str, Any]:
    """The ``query_station_stats`` answer: energy per station, equipment and connector."""
    by_equipment: dict[str, list[ConnectorEnergy]] = {}
    for item in energy:
        by_equipment.setdefault(item.station_id, []).append(item)
    total = sum((e.energy_kwh for e in energy), Decimal(0))
    return {"StationStats": {
        "StationID": str(site_id), "StartTime": start, "EndTime": end,
        "StationElectricity": number(total),
        "EquipmentStatsInfos": [{
            "EquipmentID": station,
            "EquipmentElectricity": number(sum((c.energy_kwh for c in items), Decimal(0))),
            "ConnectorStatsInfos": [{"ConnectorID": c.connector_ref,
                                     "ConnectorElectricity": number(c.energy_kwh)}
                                    for c in items]}
            for station, items in sorted(by_equipment.items())]}}


def unpriced_order(start: datetime, end: datetime, energy_kwh: Decimal) -> PostedOrder:
    """An order for a session billing did not price (no tariff, billing off): one detail
    over the whole session at price 0, so the platform still sees the energy."""
    from csms.tariffs.model import Period
    from csms.tariffs.rounding import KWH_QUANTUM, PostedDetail

    kwh = energy_kwh.quantize(KWH_QUANTUM)
    zero = Decimal("0.00")
    detail = PostedDetail(start, end, Period.FLAT, Decimal(0), Decimal(0), kwh, zero, zero)
    return PostedOrder(start, end, kwh, zero, zero, (detail,))
