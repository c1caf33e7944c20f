"""Bulk reads for one page of the console's live overview: the connectors, the charge points
with an active session, and the sites of a page's charge points, one query each.

Rules:
1. The station ids come from a scoped list (``GET /charge-points``' route function), so
   these reads apply no scope of their own; never call them with ids a principal typed.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from csms.store import tables as t
from csms.store.queries import ACTIVE
from csms.store.rows import utc
from csms.store.station_queries import ConnectorRecord


@dataclass(frozen=True, slots=True)
class SiteName:
    id: int
    name: str
    timezone: str


async def connectors_of(engine: AsyncEngine, station_ids: Collection[str]
                        ) -> dict[str, tuple[ConnectorRecord, ...]]:
    """Each station's connectors in EVSE and connector order (none: an empty tuple)."""
    c = t.connectors
    query = select(c).where(c.c.station_id.in_(list(station_ids))).order_by(
        c.c.station_id, c.c.evse_id, c.c.connector_id)
    async with engine.connect() as conn:
        rows = (await conn.execute(query)).all()
    found: dict[str, list[ConnectorRecord]] = {s: [] for s in station_ids}
    for row in rows:
        found[row.station_id].append(ConnectorRecord(
            row.evse_id, row.connector_id, row.status, row.error_code, row.vendor_error_code,
            utc(row.status_at)))
    return {s: tuple(records) for s, records in found.items()}


async def charging_stations(engine: AsyncEngine, station_ids: Collection[str]) -> set[str]:
    """Which of the stations have an active session."""
    s = t.sessions
    query = select(s.c.station_id).distinct().where(
        s.c.station_id.in_(list(station_ids)), s.c.status == ACTIVE)
    async with engine.connect() as conn:
        return set((await conn.execute(query)).scalars())


async def sites_of(engine: AsyncEngine, site_ids: Collection[int]) -> dict[int, SiteName]:
    query = select(t.sites.c.id, t.sites.c.name, t.sites.c.timezone).where(
        t.sites.c.id.in_(list(site_ids)))
    async with engine.connect() as conn:
        return {r.id: SiteName(r.id, r.name, r.timezone) for r in await conn.execute(query)}
