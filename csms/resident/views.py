"""The figures the resident page and its JSON show: the connector, the price now, and (signed
in) the card's sessions, wallet and packages. Money, energy and times formatted by
:mod:`csms.resident.figures`; only the card's own data (csms.resident.portal, rule 4)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from csms.resident import figures as f
from csms.resident.portal import ResidentPortal
from csms.store.billing.reads import BillingReads
from csms.store.queries import Queries, SessionRecord
from csms.store.resident_pins import Card
from csms.store.resident_pins.reads import Place, cost_yuan, place
from csms.store.station_queries import StationQueries
from csms.tariffs.model import tariff_at

MAX_CONNECTOR = 99  # the largest connector (EVSE) number a QR code names


@dataclass(frozen=True, slots=True)
class Connector:
    """The connector a QR code names: where it is, whether its charger is online."""

    place: Place
    evse_id: int
    status: str | None  # None: the charger never reported it
    online: bool


async def connector(portal: ResidentPortal, station_id: str, evse_id: int) -> Connector | None:
    """The connector, or None if there is no such charge point or it reported no such
    connector (a charger that reported nothing yet has its connector 1)."""
    csms = portal.csms
    if not 1 <= evse_id <= MAX_CONNECTOR:
        return None
    where = await place(csms.engine, station_id)
    if where is None:
        return None
    reported = await StationQueries(csms.engine).connectors(station_id)
    mine = [c for c in reported if c.evse_id == evse_id]
    if not mine and (reported or evse_id != 1):
        return None
    status = mine[0].status if mine else None
    return Connector(where, evse_id, status, csms.connections.get(station_id) is not None)


def price(where: Place, at: datetime) -> dict[str, Any] | None:
    """The price now and today's prices, or None without a tariff in force."""
    try:
        version = tariff_at(where.versions, at)
    except LookupError:
        return None
    now = f.price_now(version, at)
    today = at.astimezone(version.tz).date()
    return {
        "period": now.period.value,
        "electricity_yuan_per_kwh": f.unit_price(now.electricity_yuan_per_kwh),
        "service_yuan_per_kwh": f.unit_price(now.service_yuan_per_kwh),
        "total_yuan_per_kwh": f.unit_price(now.total_yuan_per_kwh),
        "until": f.local_time(now.until, where.zone),
        "today": [{"start": p.start.strftime("%H:%M"),
                   "end": "24:00" if p.end.hour == p.end.minute == 0
                   else p.end.strftime("%H:%M"),
                   "period": p.period.value,
                   "total_yuan_per_kwh": f.unit_price(p.total_yuan_per_kwh)}
                  for p in f.day_prices(version, today)],
    }


def connector_view(found: Connector, at: datetime, t: Callable[[str], str]
                   ) -> dict[str, Any]:
    status = found.status or "Unknown"
    return {"station_id": found.place.station_id, "evse_id": found.evse_id,
            "status": status, "status_text": t(f"status.{status}"), "online": found.online,
            "zone": found.place.zone, "price": price(found.place, at),
            "at": f.local_time(at, found.place.zone)}


async def _session_view(portal: ResidentPortal, session: SessionRecord,
                        zone: str) -> dict[str, Any]:
    ended = session.status != "active"
    power = None if ended else await Queries(portal.csms.engine).latest_power(session.id)
    cost = await cost_yuan(portal.csms.engine, session.id, ended=ended)
    return {
        "id": session.id, "station_id": session.station_id, "evse_id": session.evse_id,
        "active": not ended,
        "started": f.local_time(session.started_at, zone, with_date=True),
        "ended": f.local_time(session.ended_at, zone),
        "energy_kwh": f.kwh(session.energy_wh),
        "power_kw": None if power is None else f.kw(power.value),
        "cost_yuan": None if cost is None else f.money(cost),
    }


async def account_view(portal: ResidentPortal, card: Card, zone: str) -> dict[str, Any]:
    """The card's running sessions, its last ended one, wallet and packages."""
    active = await portal.sessions(card)
    last = await portal.last_session(card)
    view: dict[str, Any] = {
        "card": card.id_token,
        "sessions": [await _session_view(portal, s, zone) for s in active],
        "last": None if last is None or last.status == "active"
        else await _session_view(portal, last, zone),
        "wallet_yuan": None, "owed_yuan": None, "packages": [],
    }
    if card.resident_id is not None:
        reads = BillingReads(portal.csms.engine)
        balance, owed = await reads.balance(card.resident_id)
        now = portal.now()
        view |= {"wallet_yuan": f.money(balance), "owed_yuan": f.money(owed), "packages": [
            {"name": p.name, "remaining_kwh": f"{p.remaining_kwh:.2f}",
             "included_kwh": f"{p.included_kwh:.2f}",
             "until": f.local_time(p.valid_until, zone, with_date=True)}
            for p in await reads.subscriptions(card.resident_id)
            if p.valid_from <= now < p.valid_until]}
    return view
