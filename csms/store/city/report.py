"""One month's plain data for the monthly report (csms.city.report), and the stored reports.

Rules:
1. The month is half-open ``[start, end)`` (aware UTC, from :func:`month_bounds` in the
   report's zone). Every read is of committed rows only.
2. Status history: each connector's last change before ``start`` (the state carried in)
   and its changes in the month, by the charger's time ``at``; EVSE 0 / connector 0 (a 1.6
   charger's own status) is read too, for the charger-wide windows, but is not a connector.
3. Sessions: ended (``ended_at`` in the month); energy as whole Wh (rounded); their charge
   details with the charged resident. Alarms: raised before ``end`` and not cleared before
   ``start``. Load: the site series in the month. Sales: subscriptions purchased in the
   month with their package's price and the resident's community.
4. Rated power of an EVSE: ``max_current_a x phases x 230 V`` (``load_evses`` overrides the
   core columns); unknown when the current is. Offline windows come from the connection log
   (csms.services.city.connection_log): each charger's last event before ``start`` and its
   events in the month (:func:`csms.city.report.offline_windows`).
"""

from __future__ import annotations

import hashlib
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import Row, Select, and_, delete, func, insert, or_, select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from csms.city import report as r
from csms.store import tables as t
from csms.store.billing import tables as b
from csms.store.billing.reads import month_bounds
from csms.store.city.tables import charger_connections
from csms.store.city.tables import monthly_reports as mr
from csms.store.load import tables as tl
from csms.store.rows import utc
from csms.store.safety import tables as ts
from csms.store.writer import Writer, WriteTx

VOLTAGE_V = 230


async def month_data(engine: AsyncEngine, year: int, month: int, zone: str) -> r.MonthData:
    """Rules 1-4 (coverage is added by the caller)."""
    start, end = month_bounds(year, month, zone)
    async with engine.connect() as conn:
        return r.MonthData(
            month=f"{year:04d}-{month:02d}", start=start, end=end,
            districts=[r.District(x.id, x.code, x.name, x.short_name, x.pilot_target)
                       for x in await _all(conn, select(t.districts).order_by(t.districts.c.id))],
            communities=[r.Community(x.id, x.district_id, x.name) for x in await _all(
                conn, select(t.communities.c.id, t.communities.c.district_id,
                             t.communities.c.name))],
            sites=[r.Site(x.id, x.community_id) for x in await _all(
                conn, select(t.sites.c.id, t.sites.c.community_id))],
            chargers=[r.Charger(x.id, x.site_id) for x in await _all(
                conn, select(t.charge_points.c.id, t.charge_points.c.site_id))],
            connectors=[r.Connector(x.station_id, x.evse_id, x.connector_id) for x in await _all(
                conn, select(t.connectors).where(t.connectors.c.connector_id >= 1))],
            evses=await _evses(conn),
            status_changes=await _status(conn, start, end),
            offline=r.offline_windows(await _connections(conn, start, end), start, end),
            sessions=await _sessions(conn, start, end),
            details=await _details(conn, start, end),
            alarms=await _alarms(conn, start, end),
            load=[r.LoadPoint(x.site_id, utc(x.at), x.limit_w, x.measured_w)
                  for x in await _all(conn, select(tl.site_load_series).where(
                      tl.site_load_series.c.at >= start, tl.site_load_series.c.at < end))],
            sales=await _sales(conn, start, end),
        )


async def _all(conn: AsyncConnection, query: Select[Any]) -> Sequence[Row[Any]]:
    return list((await conn.execute(query)).all())


async def _evses(conn: AsyncConnection) -> list[r.Evse]:
    e, le = t.evses, tl.load_evses
    query = select(e.c.station_id, e.c.evse_id, func.coalesce(le.c.max_current_a,
                   e.c.max_current_a).label("a"), func.coalesce(le.c.phases, e.c.phases,
                   1).label("phases")).select_from(e.outerjoin(le, and_(
                       le.c.station_id == e.c.station_id, le.c.evse_id == e.c.evse_id)))
    return [r.Evse(x.station_id, x.evse_id,
                   None if x.a is None else round(x.a * x.phases * VOLTAGE_V))
            for x in (await conn.execute(query)).all()]


async def _status(conn: AsyncConnection, start: datetime, end: datetime) -> list[r.StatusChange]:
    h = t.connector_status_history
    last = (select(h.c.station_id, h.c.evse_id, h.c.connector_id,
                   func.max(h.c.at).label("at"))
            .where(h.c.at < start)
            .group_by(h.c.station_id, h.c.evse_id, h.c.connector_id).subquery())
    carried = select(h.c.station_id, h.c.evse_id, h.c.connector_id, h.c.status, h.c.at,
                     h.c.id).join(last, and_(
                         h.c.station_id == last.c.station_id, h.c.evse_id == last.c.evse_id,
                         h.c.connector_id == last.c.connector_id, h.c.at == last.c.at))
    inside = select(h.c.station_id, h.c.evse_id, h.c.connector_id, h.c.status, h.c.at,
                    h.c.id).where(h.c.at >= start, h.c.at < end)
    rows = [*(await conn.execute(carried)).all(), *(await conn.execute(inside)).all()]
    rows.sort(key=lambda x: (utc(x.at), x.id))  # same instant: the later stored wins
    return [r.StatusChange(x.station_id, x.evse_id, x.connector_id, x.status, utc(x.at))
            for x in rows]


async def _connections(conn: AsyncConnection, start: datetime,
                       end: datetime) -> list[r.ConnectionEvent]:
    """Each charger's last connection event before ``start`` and those in the month."""
    c = charger_connections
    last = (select(c.c.station_id, func.max(c.c.at).label("at")).where(c.c.at < start)
            .group_by(c.c.station_id).subquery())
    carried = select(c.c.station_id, c.c.connected, c.c.at, c.c.id).join(last, and_(
        c.c.station_id == last.c.station_id, c.c.at == last.c.at))
    inside = select(c.c.station_id, c.c.connected, c.c.at, c.c.id).where(
        c.c.at >= start, c.c.at < end)
    rows = [*(await conn.execute(carried)).all(), *(await conn.execute(inside)).all()]
    rows.sort(key=lambda x: (utc(x.at), x.id))
    return [r.ConnectionEvent(x.station_id, bool(x.connected), utc(x.at)) for x in rows]


async def _sessions(conn: AsyncConnection, start: datetime, end: datetime) -> list[r.Session]:
    s = t.sessions
    rows = (await conn.execute(select(s.c.id, s.c.station_id, s.c.started_at, s.c.ended_at,
                                      s.c.energy_wh).where(
        s.c.status == "ended", s.c.ended_at >= start, s.c.ended_at < end))).all()
    return [r.Session(x.id, x.station_id, None if x.started_at is None else utc(x.started_at),
                      utc(x.ended_at), round(x.energy_wh or 0)) for x in rows]


async def _details(conn: AsyncConnection, start: datetime,
                   end: datetime) -> list[r.ChargeDetail]:
    s, c, d = t.sessions, b.session_charges, b.session_charge_details
    query = (select(d.c.session_id, c.c.resident_id, d.c.period, d.c.energy_kwh)
             .join(c, c.c.session_id == d.c.session_id).join(s, s.c.id == d.c.session_id)
             .where(s.c.status == "ended", s.c.ended_at >= start, s.c.ended_at < end))
    return [r.ChargeDetail(x.session_id, x.resident_id, x.period, Decimal(x.energy_kwh))
            for x in (await conn.execute(query)).all()]


async def _alarms(conn: AsyncConnection, start: datetime, end: datetime) -> list[r.Alarm]:
    a = ts.alarms
    query = select(a.c.id, a.c.level, a.c.district_id, a.c.raised_at, a.c.cleared_at).where(
        a.c.raised_at < end, or_(a.c.cleared_at.is_(None), a.c.cleared_at >= start))
    return [r.Alarm(x.id, x.level, x.district_id, utc(x.raised_at),
                    None if x.cleared_at is None else utc(x.cleared_at))
            for x in (await conn.execute(query)).all()]


async def _sales(conn: AsyncConnection, start: datetime, end: datetime) -> list[r.Sale]:
    sub, p, res = b.subscriptions, b.packages, t.residents
    query = (select(res.c.community_id, sub.c.purchased_at, p.c.price_fen)
             .join(p, p.c.id == sub.c.package_id).join(res, res.c.id == sub.c.resident_id)
             .where(sub.c.purchased_at >= start, sub.c.purchased_at < end))
    return [r.Sale(x.community_id, utc(x.purchased_at), int(x.price_fen))
            for x in (await conn.execute(query)).all()]


@dataclass(frozen=True, slots=True)
class StoredReport:
    month: str
    district_id: int | None
    format: str
    content: bytes
    sha256: str
    generated_at: datetime
    generated_by: str


def scope_key(month: str, district_id: int | None, fmt: str) -> str:
    return f"{month}:{'city' if district_id is None else district_id}:{fmt}"


async def save(writer: Writer, report: StoredReport,
               also: Callable[[WriteTx], Awaitable[object]] | None = None) -> None:
    """Store (or replace) a report; ``also(tx)`` runs in the same transaction (the webhook
    notices of csms.services.city.monthly_reports)."""

    async def unit(tx: WriteTx) -> None:
        key = scope_key(report.month, report.district_id, report.format)
        await tx.conn.execute(delete(mr).where(mr.c.scope_key == key))
        await tx.conn.execute(insert(mr).values(
            scope_key=key, month=report.month, district_id=report.district_id,
            format=report.format, content=report.content, sha256=report.sha256,
            generated_at=report.generated_at, generated_by=report.generated_by))
        if also is not None:
            await also(tx)

    await writer.submit(unit)


def stored(month: str, district_id: int | None, fmt: str, content: bytes, at: datetime,
           by: str) -> StoredReport:
    return StoredReport(month, district_id, fmt, content, hashlib.sha256(content).hexdigest(),
                        at, by)


async def load(engine: AsyncEngine, month: str, district_id: int | None,
               fmt: str) -> StoredReport | None:
    async with engine.connect() as conn:
        x = (await conn.execute(select(mr).where(
            mr.c.scope_key == scope_key(month, district_id, fmt)))).first()
    if x is None:
        return None
    return StoredReport(x.month, x.district_id, x.format, bytes(x.content), x.sha256,
                        utc(x.generated_at), x.generated_by)


async def listing(engine: AsyncEngine, districts: set[int] | None) -> list[StoredReport]:
    """Every stored report (content empty) the caller may see: ``districts`` None: all."""
    cols = [mr.c.month, mr.c.district_id, mr.c.format, mr.c.sha256, mr.c.generated_at,
            mr.c.generated_by]
    async with engine.connect() as conn:
        rows = (await conn.execute(select(*cols).order_by(
            mr.c.month.desc(), mr.c.district_id, mr.c.format))).all()
    return [StoredReport(x.month, x.district_id, x.format, b"", x.sha256, utc(x.generated_at),
                         x.generated_by) for x in rows
            if districts is None or x.district_id in districts]


async def has_month(engine: AsyncEngine, month: str) -> bool:
    async with engine.connect() as conn:
        return (await conn.execute(select(mr.c.id).where(
            mr.c.month == month, mr.c.district_id.is_(None)).limit(1))).first() is not None
