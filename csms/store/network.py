"""Sites and charge points (with their connectors), for the operator API.

Rules as in :mod:`csms.store.organisation`: checked, audited write units; frozen records out.
A charge point's password leaves this module only as ``has_password``; its hash is never
audited.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import Row, Select, delete, select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from csms.store import tables as t
from csms.store.organisation import Crud, Listing, fetch_one, fetch_page
from csms.store.rows import utc
from csms.store.writer import Writer, WriteTx


@dataclass(frozen=True, slots=True)
class Site:
    id: int
    community_id: int
    name: str
    transformer_kva: Decimal | None
    max_power_w: int | None
    timezone: str
    latitude: Decimal | None = None
    longitude: Decimal | None = None


@dataclass(frozen=True, slots=True)
class ChargePoint:
    id: str
    site_id: int | None
    community_id: int | None
    registration_status: str
    has_password: bool
    ocpp_version: str | None
    vendor: str | None
    model: str | None
    serial_number: str | None
    firmware_version: str | None
    created_at: datetime
    last_boot_at: datetime | None
    last_seen_at: datetime | None
    security_profile: int | None = None


@dataclass(frozen=True, slots=True)
class Connector:
    evse_id: int
    connector_id: int
    status: str
    error_code: str | None
    vendor_error_code: str | None
    status_at: datetime
    max_current_a: float | None
    phases: int | None


@dataclass(frozen=True, slots=True)
class ChargePointFilter:
    """``communities`` is the scope (None: all, including charge points without a site)."""

    communities: Collection[int] | None = None
    site_id: int | None = None
    community_id: int | None = None
    registration_status: str | None = None


def _site(row: Row[Any]) -> Site:
    return Site(row.id, row.community_id, row.name, row.transformer_kva, row.max_power_w,
                row.timezone, row.latitude, row.longitude)


def _charge_point(row: Row[Any]) -> ChargePoint:
    def aware(value: datetime | None) -> datetime | None:
        return None if value is None else utc(value)

    return ChargePoint(
        row.id, row.site_id, row.community_id, row.registration_status,
        row.password_hash is not None, row.ocpp_version, row.vendor, row.model,
        row.serial_number, row.firmware_version, utc(row.created_at),
        aware(row.last_boot_at), aware(row.last_seen_at), row.security_profile,
    )


def _charge_point_select() -> Select[Any]:
    cp, s = t.charge_points, t.sites
    return select(cp, s.c.community_id).select_from(
        cp.outerjoin(s, s.c.id == cp.c.site_id))


async def _read_site(conn: AsyncConnection, key: Any) -> Site:
    s = t.sites
    return _site((await conn.execute(select(s).where(s.c.id == key))).one())


async def _read_charge_point(conn: AsyncConnection, key: Any) -> ChargePoint:
    query = _charge_point_select().where(t.charge_points.c.id == key)
    return _charge_point((await conn.execute(query)).one())


async def _delete_connectors(tx: WriteTx, station_id: str) -> None:
    await tx.conn.execute(delete(t.connectors).where(t.connectors.c.station_id == station_id))
    await tx.conn.execute(delete(t.evses).where(t.evses.c.station_id == station_id))


class Network:
    """Sites of the communities, and the charge points on them."""

    def __init__(self, engine: AsyncEngine, writer: Writer) -> None:
        self._engine = engine
        s, cp = t.sites, t.charge_points
        self._sites = Crud(writer, s, "site", refs={
            "community_id": (t.communities.c.id, "community")},
            referrers=((cp.c.site_id, "charge points"),))
        self._charge_points = Crud(writer, cp, "charge_point", unique=(cp.c.id,), refs={
            "site_id": (s.c.id, "site")}, referrers=(
            (t.sessions.c.station_id, "sessions"),
            (t.connector_status_history.c.station_id, "status history"),
            (t.meter_values.c.station_id, "meter values"),
            (t.station_events.c.station_id, "events"),
            (t.command_log.c.station_id, "logged commands")),
            advice="reject its registration instead")

    # -- sites --------------------------------------------------------------------------------

    async def sites(self, visible: Collection[int] | None, community_id: int | None,
                    limit: int, offset: int) -> Listing[Site]:
        """Sites by id, in ``visible`` communities (None: all), of one community if given."""
        s = t.sites
        query = select(s)
        if visible is not None:
            query = query.where(s.c.community_id.in_(visible))
        if community_id is not None:
            query = query.where(s.c.community_id == community_id)
        return await fetch_page(self._engine, query, limit, offset, _site, s.c.id)

    async def site(self, site_id: int) -> Site | None:
        return await fetch_one(self._engine, select(t.sites).where(t.sites.c.id == site_id),
                               _site)

    async def add_site(self, values: Mapping[str, Any], actor: str) -> Site:
        return await self._sites.create(values, actor, _read_site)

    async def update_site(self, site_id: int, changes: Mapping[str, Any], actor: str) -> Site:
        return await self._sites.update(site_id, changes, actor, _read_site)

    async def delete_site(self, site_id: int, actor: str) -> None:
        await self._sites.delete(site_id, actor)

    # -- charge points ------------------------------------------------------------------------

    async def charge_points(self, where: ChargePointFilter, limit: int,
                            offset: int) -> Listing[ChargePoint]:
        """Charge points by id, filtered (see :class:`ChargePointFilter`)."""
        cp, s = t.charge_points, t.sites
        query = _charge_point_select()
        if where.communities is not None:
            query = query.where(s.c.community_id.in_(where.communities))
        if where.community_id is not None:
            query = query.where(s.c.community_id == where.community_id)
        if where.site_id is not None:
            query = query.where(cp.c.site_id == where.site_id)
        if where.registration_status is not None:
            query = query.where(cp.c.registration_status == where.registration_status)
        return await fetch_page(self._engine, query, limit, offset, _charge_point, cp.c.id)

    async def charge_point(self, station_id: str) -> ChargePoint | None:
        query = _charge_point_select().where(t.charge_points.c.id == station_id)
        return await fetch_one(self._engine, query, _charge_point)

    async def add_charge_point(self, values: Mapping[str, Any], actor: str) -> ChargePoint:
        """Register a charge point: ``id``, ``registration_status``, ``created_at`` and
        optionally ``site_id``, ``vendor``, ``model``, ``password_hash`` (not audited)."""
        audited = {k: v for k, v in values.items() if k != "password_hash"}
        return await self._charge_points.create(values, actor, _read_charge_point,
                                                details=audited)

    async def update_charge_point(self, station_id: str, changes: Mapping[str, Any],
                                  actor: str) -> ChargePoint:
        """Change ``site_id``, ``vendor``, ``model``, ``registration_status`` or
        ``security_profile``."""
        return await self._charge_points.update(station_id, changes, actor,
                                                _read_charge_point)

    async def set_password(self, station_id: str, password_hash: str,
                           actor: str) -> ChargePoint:
        """Replace the charge point's password hash (audited without it)."""
        return await self._charge_points.update(
            station_id, {"password_hash": password_hash}, actor, _read_charge_point,
            action="set_password", details={})

    async def delete_charge_point(self, station_id: str, actor: str) -> None:
        """Delete a charge point that never charged or reported (409 otherwise), with its
        EVSEs and connectors."""

        async def before(tx: WriteTx) -> None:
            await _delete_connectors(tx, station_id)

        await self._charge_points.delete(station_id, actor, before)

    async def connectors(self, station_id: str) -> list[Connector]:
        """The charge point's connectors with their latest status, by EVSE and connector."""
        c, e = t.connectors, t.evses
        query = (select(c, e.c.max_current_a, e.c.phases)
                 .join(e, (e.c.station_id == c.c.station_id) & (e.c.evse_id == c.c.evse_id))
                 .where(c.c.station_id == station_id)
                 .order_by(c.c.evse_id, c.c.connector_id))
        async with self._engine.connect() as conn:
            rows = (await conn.execute(query)).all()
        return [Connector(r.evse_id, r.connector_id, r.status, r.error_code,
                          r.vendor_error_code, utc(r.status_at), r.max_current_a, r.phases)
                for r in rows]
