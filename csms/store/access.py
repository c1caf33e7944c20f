"""API tokens, the audit log of operator writes, and scope look-ups."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select, update

from csms.store import tables as t
from csms.store.rows import utc
from csms.store.sharing.audit import append_later
from csms.store.writer import Writer, WriteTx


@dataclass(frozen=True, slots=True)
class ApiTokenRecord:
    token_id: str
    secret_hash: str
    role: str
    district_id: int | None
    community_id: int | None
    expires_at: datetime | None
    revoked_at: datetime | None
    description: str | None
    created_by: str
    created_at: datetime


def audit(tx: WriteTx, actor: str, action: str, resource: str, resource_id: object,
          details: dict[str, Any] | None = None, *, at: datetime | None = None) -> None:
    """Record a write (or a security-relevant fact) in the same transaction as the write
    itself, as the next link of the tamper-evident chain (csms.store.sharing.audit). ``at`` defaults
    to now (UTC).

    Raises:
        ValueError: ``at`` is naive or ``details`` holds NaN.
    """
    append_later(tx, at or tx.now, actor, action, resource,
                 None if resource_id is None else str(resource_id), details)


class AccessStore:
    def __init__(self, writer: Writer, read: Any) -> None:
        self._writer = writer
        self._read = read  # an AsyncEngine: reads see committed data

    async def add_token(self, record: ApiTokenRecord) -> None:
        async def unit(tx: WriteTx) -> None:
            await tx.conn.execute(t.api_tokens.insert().values(
                id=record.token_id, secret_hash=record.secret_hash, role=record.role,
                district_id=record.district_id, community_id=record.community_id,
                description=record.description, created_by=record.created_by,
                created_at=record.created_at, expires_at=record.expires_at,
            ))
            audit(tx, record.created_by, "create", "api_token", record.token_id,
                  {"role": record.role, "district_id": record.district_id,
                   "community_id": record.community_id})

        await self._writer.submit(unit)

    async def get_token(self, token_id: str) -> ApiTokenRecord | None:
        async with self._read.connect() as conn:
            row = (await conn.execute(
                select(t.api_tokens).where(t.api_tokens.c.id == token_id))).one_or_none()
        if row is None:
            return None
        return ApiTokenRecord(
            row.id, row.secret_hash, row.role, row.district_id, row.community_id,
            _aware(row.expires_at), _aware(row.revoked_at), row.description, row.created_by,
            utc(row.created_at),
        )

    async def list_tokens(self) -> list[ApiTokenRecord]:
        async with self._read.connect() as conn:
            ids = (await conn.execute(select(t.api_tokens.c.id).order_by(
                t.api_tokens.c.created_at))).scalars().all()
        return [record for token_id in ids if (record := await self.get_token(token_id))]

    async def revoke_token(self, token_id: str, actor: str) -> bool:
        async def unit(tx: WriteTx) -> bool:
            result = await tx.conn.execute(
                update(t.api_tokens).where(t.api_tokens.c.id == token_id,
                                           t.api_tokens.c.revoked_at.is_(None))
                .values(revoked_at=tx.now))
            if result.rowcount:
                audit(tx, actor, "revoke", "api_token", token_id)
            return bool(result.rowcount)

        return await self._writer.submit(unit)


@dataclass(frozen=True, slots=True)
class Location:
    """Where a resource lies: its community and that community's district (None: nowhere)."""

    district_id: int | None
    community_id: int | None


NOWHERE = Location(None, None)


async def communities_in_district(engine: Any, district_id: int) -> set[int]:
    async with engine.connect() as conn:
        rows = await conn.execute(select(t.communities.c.id).where(
            t.communities.c.district_id == district_id))
        return set(rows.scalars().all())


async def location_of_community(engine: Any, community_id: int | None) -> Location | None:
    """Where a community lies; None if it does not exist (NOWHERE for no community)."""
    if community_id is None:
        return NOWHERE
    async with engine.connect() as conn:
        row = (await conn.execute(select(t.communities.c.district_id).where(
            t.communities.c.id == community_id))).one_or_none()
    return None if row is None else Location(row.district_id, community_id)


async def location_of_site(engine: Any, site_id: int | None) -> Location | None:
    """Where a site lies; None if it does not exist (NOWHERE for no site)."""
    if site_id is None:
        return NOWHERE
    async with engine.connect() as conn:
        row = (await conn.execute(
            select(t.sites.c.community_id, t.communities.c.district_id)
            .join(t.communities, t.communities.c.id == t.sites.c.community_id)
            .where(t.sites.c.id == site_id))).one_or_none()
    return None if row is None else Location(row.district_id, row.community_id)


async def location_of_station(engine: Any, station_id: str) -> Location | None:
    """Where a charge point lies; None if it does not exist, NOWHERE if it has no site."""
    async with engine.connect() as conn:
        row = (await conn.execute(select(t.charge_points.c.site_id).where(
            t.charge_points.c.id == station_id))).one_or_none()
    return None if row is None else await location_of_site(engine, row.site_id)



def _aware(value: datetime | None) -> datetime | None:
    return None if value is None else utc(value)
