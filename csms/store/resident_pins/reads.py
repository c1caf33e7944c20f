"""Reads for the resident page: where a charge point stands, its tariff, session costs.
Committed data only; frozen records out."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from csms.store import tables as t
from csms.store.billing.rows import tariff_versions
from csms.store.billing.store import running_cost_yuan, session_cost_yuan
from csms.tariffs.model import TariffVersion

DEFAULT_ZONE = "Asia/Shanghai"


@dataclass(frozen=True, slots=True)
class Place:
    """A charge point, its site's zone and the tariff versions that price it."""

    station_id: str
    site_id: int | None
    community_id: int | None
    zone: str
    versions: tuple[TariffVersion, ...]


async def place(engine: AsyncEngine, station_id: str) -> Place | None:
    """The charge point's place; None if there is no such charge point. A charger without a
    site is in :data:`DEFAULT_ZONE` with no tariff."""
    cp, site = t.charge_points, t.sites
    async with engine.connect() as conn:
        row = (await conn.execute(
            select(cp.c.id, site.c.id.label("site_id"), site.c.community_id, site.c.timezone)
            .select_from(cp.outerjoin(site, site.c.id == cp.c.site_id))
            .where(cp.c.id == station_id))).one_or_none()
        if row is None:
            return None
        versions = await tariff_versions(conn, row.site_id, row.community_id) \
            if row.site_id is not None else []
    return Place(row.id, row.site_id, row.community_id, row.timezone or DEFAULT_ZONE,
                 tuple(versions))


async def cost_yuan(engine: AsyncEngine, session_id: int, *, ended: bool) -> Decimal | None:
    """What the session's user pays: as posted once ended, else as it would be now."""
    async with engine.connect() as conn:
        if ended:
            return await session_cost_yuan(conn, session_id)
        return await running_cost_yuan(conn, session_id)
