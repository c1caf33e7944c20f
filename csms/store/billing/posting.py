"""What pricing an ended session reads and writes: the batch of a group commit
(csms.store.billing.batch), and the running cost of a session (csms.store.billing.store).

No I/O here: rows in, the pure tariff types out (and back).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from csms.domain.model import StationEventReported
from csms.store.billing import tables as b
from csms.store.billing.rows import entry_row, fen
from csms.store.rows import event_row, utc
from csms.tariffs.ledger import receivable, wallet
from csms.tariffs.pricing import PricedSession, RegisterSample, register_sample
from csms.tariffs.rounding import round_yuan
from csms.tariffs.settlement import Settlement

WH_PER_UNIT = {None: 1, "Wh": 1, "kWh": 1000}
SYSTEM = "system:billing"

# The inserts of every session end, built once (building costs about as much as running).
INSERT_CHARGE = b.session_charges.insert()
INSERT_DETAILS = b.session_charge_details.insert()
INSERT_USAGE = b.package_usage.insert()
INSERT_ENTRIES = b.wallet_entries.insert()


def session_ref(session_id: int) -> str:
    return f"session:{session_id}"


@dataclass(frozen=True, slots=True)
class EndedSession:
    """A session as pricing sees it: its times, token, register readings and flags."""

    id: int
    station_id: str
    started_at: datetime
    ended_at: datetime
    id_token: str | None
    samples: list[RegisterSample]
    ended: bool
    flags: tuple[str, ...] = ()


def session_of(row: Any, readings: list[Any]) -> EndedSession:
    """A ``sessions`` row and its phase-less register readings (``at``, ``value``,
    ``unit``), as pricing sees them (store Rule 3)."""
    start, end = utc(row.started_at), utc(row.ended_at or row.started_at)
    floor = row.meter_start_wh  # a reading below the start (a replaced baseline) is not used
    points = [(utc(r.at), r.value * WH_PER_UNIT[r.unit]) for r in readings
              if r.unit in WH_PER_UNIT
              and (floor is None or r.value * WH_PER_UNIT[r.unit] >= floor)]
    # While a session runs, meter_stop_wh is its latest reading, not one at its end.
    ends = ((start, row.meter_start_wh), (end, row.meter_stop_wh)) if row.ended_at \
        else ((start, row.meter_start_wh),)
    points += [(at, wh) for at, wh in ends if wh is not None]
    return EndedSession(row.id, row.station_id, start, max(start, end), row.id_token,
                        register_samples(points, start), row.ended_at is not None,
                        tuple(row.flags or ()))


def register_samples(points: list[tuple[datetime, float]], start: datetime) -> list[
        RegisterSample]:
    """Readings in time order, one per instant, never going down (store Rule 3)."""
    samples: list[RegisterSample] = []
    for at, wh in sorted(points):
        sample = register_sample(at, wh)
        if samples and sample.energy_wh < samples[-1].energy_wh:
            continue
        if samples and samples[-1].at == at:
            samples[-1] = sample
        else:
            samples.append(sample)
    return samples or [register_sample(start, 0)]


@dataclass(slots=True)
class ChargeRows:
    """The rows that post priced sessions: charges, their details, package usage, ledger
    entries; one statement per table, however many sessions."""

    charges: list[dict[str, Any]] = field(default_factory=list)
    details: list[dict[str, Any]] = field(default_factory=list)
    usage: list[dict[str, Any]] = field(default_factory=list)
    entries: list[dict[str, Any]] = field(default_factory=list)

    def add(self, session: EndedSession, priced: PricedSession, settled: Settlement,
            resident_id: int | None, community_id: int | None, priced_at: datetime) -> None:
        order, packages = settled.order, settled.packages
        user = str(resident_id)
        paid = {wallet(user): 0, receivable(user): 0}
        for entry in settled.entries:
            paid[entry.debit] = paid.get(entry.debit, 0) + fen(entry.amount_yuan)
        self.charges.append({
            "session_id": session.id, "resident_id": resident_id,
            "community_id": community_id,
            "started_at": session.started_at, "ended_at": session.ended_at,
            "energy_kwh": order.energy_kwh, "electricity_fen": fen(order.electricity_yuan),
            "service_fen": fen(order.service_yuan),
            "package_kwh": sum((u.energy_kwh for u in packages.usage), Decimal(0)),
            "due_electricity_fen": fen(round_yuan(packages.electricity_yuan)),
            "due_service_fen": fen(round_yuan(packages.service_yuan)),
            "wallet_fen": paid[wallet(user)], "shortfall_fen": paid[receivable(user)],
            "priced_at": priced_at,
        })
        self.details += [
            {"session_id": session.id, "position": i, "starts_at": d.start, "ends_at": d.end,
             "tariff_id": int(raw.tariff), "period": d.period.value,
             "energy_kwh": d.energy_kwh,
             "electricity_yuan_per_kwh": d.electricity_yuan_per_kwh,
             "service_yuan_per_kwh": d.service_yuan_per_kwh,
             "electricity_fen": fen(d.electricity_yuan), "service_fen": fen(d.service_yuan)}
            for i, (d, raw) in enumerate(zip(order.details, priced.details, strict=True))
        ]
        self.usage += [{"subscription_id": int(u.subscription_id), "session_id": session.id,
                        "detail_index": u.detail_index, "energy_kwh": u.energy_kwh,
                        "at": session.ended_at} for u in packages.usage]
        if resident_id is not None:
            self.entries += [entry_row(e, resident_id, SYSTEM, session.id)
                             for e in settled.entries]

    def statements(self) -> list[tuple[Any, list[dict[str, Any]]]]:
        """Each insert with its rows, charges first; tables without rows left out."""
        return [(insert, rows) for insert, rows in (
            (INSERT_CHARGE, self.charges), (INSERT_DETAILS, self.details),
            (INSERT_USAGE, self.usage), (INSERT_ENTRIES, self.entries)) if rows]


def pending_event(session: EndedSession, received_at: datetime) -> dict[str, Any]:
    """store Rule 5: a ``billing_pending`` station event (an operator decides first)."""
    return event_row(StationEventReported(
        session.station_id, "billing_pending", session.ended_at, code=str(session.id),
        details={"flags": list(session.flags)}), received_at)


def unpriced_event(station_id: str, session_id: int, at: datetime, received_at: datetime,
                   details: dict[str, Any]) -> dict[str, Any]:
    """store Rule 4: a ``billing_unpriced`` station event saying why."""
    return event_row(StationEventReported(station_id, "billing_unpriced", at,
                                          code=str(session_id), details=details), received_at)
