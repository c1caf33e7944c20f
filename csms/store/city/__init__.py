"""The city's places as the coverage rules see them, and the sample city a demo seeds.

Rules:
1. Reads give :mod:`csms.city.coverage` plain data: every community in scope (``visible``
   ids, None: all), and *every* site of the city, because the nearest site may stand in
   another community or district than the community it serves.
2. The sample seed is idempotent and all or nothing: communities are matched by (district,
   name) and sites by (community, name); what exists is left as it is. Districts must exist
   already (``csms seed districts``); a sample naming an unknown district changes nothing.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from csms.city.coverage import CommunityPlace, SitePlace
from csms.city.geo import LatLon
from csms.store import tables as t
from csms.store.access import audit
from csms.store.organisation import Seeded, StoreError, insert_row, submit
from csms.store.writer import Writer, WriteTx


@dataclass(frozen=True, slots=True)
class SampleSite:
    name: str
    latitude: Decimal | None = None
    longitude: Decimal | None = None


@dataclass(frozen=True, slots=True)
class SampleCommunity:
    district: str  # the district's name
    name: str
    address: str
    latitude: Decimal
    longitude: Decimal
    sites: tuple[SampleSite, ...] = ()


def _position(latitude: Decimal | None, longitude: Decimal | None) -> LatLon | None:
    if latitude is None or longitude is None:
        return None
    return LatLon(float(latitude), float(longitude))


async def places(engine: AsyncEngine, visible: Collection[int] | None
                 ) -> tuple[list[CommunityPlace], list[SitePlace], list[CommunityPlace]]:
    """(communities in scope, every site, every community) for :func:`coverage`.

    Every community is returned too because a site without coordinates stands at its
    community's, which may be outside the caller's scope.
    """
    c, s = t.communities, t.sites
    async with engine.connect() as conn:
        rows = (await conn.execute(select(c.c.id, c.c.name, c.c.district_id, c.c.latitude,
                                          c.c.longitude).order_by(c.c.id))).all()
        site_rows = (await conn.execute(select(s.c.id, s.c.name, s.c.community_id,
                                               s.c.latitude, s.c.longitude)
                                        .order_by(s.c.id))).all()
    every = [CommunityPlace(r.id, r.name, r.district_id, _position(r.latitude, r.longitude))
             for r in rows]
    sites = [SitePlace(r.id, r.name, r.community_id, _position(r.latitude, r.longitude))
             for r in site_rows]
    scoped = every if visible is None else [p for p in every if p.id in visible]
    return scoped, sites, every


async def district_names(engine: AsyncEngine) -> dict[int, tuple[str | None, str]]:
    """District id to (code, name)."""
    d = t.districts
    async with engine.connect() as conn:
        rows = (await conn.execute(select(d.c.id, d.c.code, d.c.name))).all()
    return {r.id: (r.code, r.name) for r in rows}


async def seed_sample(writer: Writer, communities: Sequence[SampleCommunity],
                      actor: str) -> tuple[Seeded, Seeded]:
    """Add the sample communities and their sites that are missing (rule 2)."""

    async def unit(tx: WriteTx) -> tuple[Seeded, Seeded] | StoreError:
        d, c, s = t.districts, t.communities, t.sites
        ids = {r.name: r.id for r in (await tx.conn.execute(select(d.c.id, d.c.name))).all()}
        unknown = sorted({entry.district for entry in communities} - ids.keys())
        if unknown:
            return StoreError(f"no such district: {', '.join(unknown)} "
                              "(run `csms seed districts` first)")
        made, kept, sites_made, sites_kept = 0, 0, 0, 0
        for entry in communities:
            district_id = ids[entry.district]
            community_id = (await tx.conn.execute(select(c.c.id).where(
                c.c.district_id == district_id, c.c.name == entry.name))).scalar()
            if community_id is None:
                values = {"district_id": district_id, "name": entry.name,
                          "address": entry.address, "latitude": entry.latitude,
                          "longitude": entry.longitude}
                community_id = await insert_row(tx, c, values)
                audit(tx, actor, "create", "community", community_id, _plain(values))
                made += 1
            else:
                kept += 1
            for site in entry.sites:
                found = (await tx.conn.execute(select(s.c.id).where(
                    s.c.community_id == community_id, s.c.name == site.name))).scalar()
                if found is not None:
                    sites_kept += 1
                    continue
                values = {"community_id": community_id, "name": site.name,
                          "latitude": site.latitude, "longitude": site.longitude}
                key = await insert_row(tx, s, values)
                audit(tx, actor, "create", "site", key, _plain(values))
                sites_made += 1
        return Seeded(made, 0, kept), Seeded(sites_made, 0, sites_kept)

    return await submit(writer, unit)


def _plain(values: dict[str, object]) -> dict[str, object]:
    return {key: str(value) if isinstance(value, Decimal) else value
            for key, value in values.items()}
