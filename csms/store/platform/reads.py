"""What the platform feed reads: sites as platform stations, a session as a charge order.

Rules:
1. A charge point without a site is not on the platform (a station is a site).
2. A site without coordinates stands at its community's (csms.city.coverage does the same).
3. A charger is online if it was heard from within ``online_within`` of ``now``.
4. A connector's power is its EVSE's maximum current × 220 V × phases, else 7 kW.
5. A session's order is its posted charge (csms.store.billing.store, same unit) with its details,
   amounts from the stored fen; a session billing did not price is a zero-price order.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection

from csms.city.tcec.orders import OrderRef, unpriced_order
from csms.city.tcec.stations import Connector, Equipment, Site, connector_ref
from csms.store import tables as t
from csms.store.billing import tables as b
from csms.store.rows import utc
from csms.tariffs.model import Period
from csms.tariffs.rounding import KWH_QUANTUM, PostedDetail, PostedOrder

DEFAULT_KW = 7.0
VOLTS = 220


@dataclass(frozen=True, slots=True)
class Place:
    site_id: int
    community_id: int
    zone: str


async def place_of(conn: AsyncConnection, station_id: str) -> Place | None:
    """Rule 1: the site of a charge point, if any."""
    cp, s = t.charge_points, t.sites
    row = (await conn.execute(select(s.c.id, s.c.community_id, s.c.timezone).join(
        cp, cp.c.site_id == s.c.id).where(cp.c.id == station_id))).one_or_none()
    return None if row is None else Place(row.id, row.community_id, row.timezone)


def _yuan(fen: int) -> Decimal:
    return (Decimal(fen) / 100).quantize(Decimal("0.01"))


def _kwh(value: Any) -> Decimal:
    return Decimal(value).quantize(KWH_QUANTUM)


async def order_of(conn: AsyncConnection, session_id: int, operator_id: str
                   ) -> tuple[OrderRef, PostedOrder, Place] | None:
    """Rule 5: the session's order; None if it is on no site or has not ended."""
    s = t.sessions
    row = (await conn.execute(select(s).where(s.c.id == session_id))).one()
    place = await place_of(conn, row.station_id)
    if place is None or row.ended_at is None:
        return None
    ref = OrderRef(operator_id, session_id, connector_ref(
        row.station_id, row.evse_id or 0, row.connector_id or 1), row.stop_reason, place.zone)
    start, end = utc(row.started_at), max(utc(row.started_at), utc(row.ended_at))
    c, d = b.session_charges, b.session_charge_details
    charge = (await conn.execute(select(c).where(c.c.session_id == session_id))).one_or_none()
    if charge is None:
        energy = Decimal(str(row.energy_wh or 0)) / 1000
        return ref, unpriced_order(start, end, energy), place
    details = tuple(PostedDetail(
        utc(x.starts_at), utc(x.ends_at), Period(x.period), Decimal(x.electricity_yuan_per_kwh),
        Decimal(x.service_yuan_per_kwh), _kwh(x.energy_kwh), _yuan(x.electricity_fen),
        _yuan(x.service_fen)) for x in await conn.execute(
            select(d).where(d.c.session_id == session_id).order_by(d.c.position)))
    return ref, PostedOrder(utc(charge.started_at), utc(charge.ended_at),
                            _kwh(charge.energy_kwh), _yuan(charge.electricity_fen),
                            _yuan(charge.service_fen), details), place


async def sites(conn: AsyncConnection, *, communities: Collection[int] = (),
                site_ids: Collection[int] | None = None, now: datetime,
                online_within: timedelta, fees: tuple[str, str]) -> list[Site]:
    """Every site (of ``communities`` if given; of ``site_ids`` if given) as a station."""
    st, cm, dt = t.sites, t.communities, t.districts
    query = (select(st.c.id, st.c.name, st.c.latitude, st.c.longitude, cm.c.latitude.label(
        "c_lat"), cm.c.longitude.label("c_lon"), cm.c.address, cm.c.name.label("c_name"),
        dt.c.code).join(cm, cm.c.id == st.c.community_id).join(dt, dt.c.id == cm.c.district_id)
        .order_by(st.c.id))
    if communities:
        query = query.where(st.c.community_id.in_(list(communities)))
    if site_ids is not None:
        query = query.where(st.c.id.in_(list(site_ids)))
    rows = (await conn.execute(query)).all()
    equipment = await _equipment(conn, [r.id for r in rows], now, online_within)
    found = []
    for r in rows:
        lat = r.latitude if r.latitude is not None else r.c_lat
        lon = r.longitude if r.longitude is not None else r.c_lon
        found.append(Site(r.id, r.name, r.code or "", r.address or r.c_name,
                          None if lat is None else float(lat),
                          None if lon is None else float(lon), fees[0], fees[1],
                          tuple(equipment.get(r.id, ()))))
    return found


async def _equipment(conn: AsyncConnection, site_ids: list[int], now: datetime,
                     online_within: timedelta) -> dict[int, list[Equipment]]:
    """Rules 3–4: each site's charge points with their connectors."""
    cp, cn, ev = t.charge_points, t.connectors, t.evses
    points = (await conn.execute(select(cp).where(cp.c.site_id.in_(site_ids))
                                 .order_by(cp.c.id))).all()
    ids = [p.id for p in points]
    rows = (await conn.execute(select(cn, ev.c.max_current_a, ev.c.phases).join(
        ev, (ev.c.station_id == cn.c.station_id) & (ev.c.evse_id == cn.c.evse_id)).where(
        cn.c.station_id.in_(ids), cn.c.connector_id > 0, cn.c.evse_id > 0).order_by(
        cn.c.station_id, cn.c.evse_id, cn.c.connector_id))).all()
    connectors: dict[str, list[Connector]] = {}
    for r in rows:
        kw = DEFAULT_KW if r.max_current_a is None else round(
            r.max_current_a * VOLTS * (r.phases or 1) / 1000, 1)
        connectors.setdefault(r.station_id, []).append(
            Connector(r.station_id, r.evse_id, r.connector_id, r.status, kw))
    by_site: dict[int, list[Equipment]] = {}
    for p in points:
        online = p.last_seen_at is not None and now - utc(p.last_seen_at) <= online_within
        by_site.setdefault(p.site_id, []).append(Equipment(
            p.id, p.vendor, p.model, online, tuple(connectors.get(p.id, ()))))
    return by_site


async def connector_energy(conn: AsyncConnection, site_id: int, start: datetime,
                           end: datetime) -> list[tuple[str, int, int, Decimal]]:
    """(charge point, evse, connector, kWh) of the sessions that ended in ``[start, end)``
    on the site's chargers."""
    s, cp = t.sessions, t.charge_points
    rows = await conn.execute(select(s.c.station_id, s.c.evse_id, s.c.connector_id,
                                     s.c.energy_wh).join(cp, cp.c.id == s.c.station_id).where(
        cp.c.site_id == site_id, s.c.ended_at >= start, s.c.ended_at < end))
    total: dict[tuple[str, int, int], Decimal] = {}
    for r in rows:
        key = (r.station_id, r.evse_id or 0, r.connector_id or 1)
        total[key] = total.get(key, Decimal(0)) + Decimal(str(r.energy_wh or 0)) / 1000
    return [(*k, v.quantize(KWH_QUANTUM)) for k, v in sorted(total.items())]


async def connectors_of(conn: AsyncConnection, station_id: str) -> list[Connector]:
    """The charger's connectors (EVSE and connector above 0) with their stored status."""
    cn = t.connectors
    rows = await conn.execute(select(cn).where(
        cn.c.station_id == station_id, cn.c.evse_id > 0, cn.c.connector_id > 0).order_by(
        cn.c.evse_id, cn.c.connector_id))
    return [Connector(r.station_id, r.evse_id, r.connector_id, r.status, DEFAULT_KW)
            for r in rows]
