"""Which node allocates which site: owners with leases and fencing tokens, and the memory
an owner leaves for the next (csms.services.load.cluster).

Rules:
1. A site has at most one owner row: the node, a fencing token and the lease's end. A node
   holds a site while ``expires_at`` is in the future by its own clock; it renews by
   pushing ``expires_at`` on, keeping the token.
2. A site with no row, or whose lease has ended, may be taken by any node: the token goes
   up by one. Taking is a compare-and-set on the old token, so of two nodes taking at once
   one wins (on PostgreSQL the row is also locked for the unit).
3. Every write an owner makes about a site (its memory, after a pass) names the token it
   holds; a write with an old token changes nothing and tells the writer that it has lost
   the site (fencing: a node that paused past its lease cannot overwrite its successor).
4. A node that stops releases its sites (their leases end now) so another takes them at
   its next look rather than a lease later.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine

from csms.store.load.tables import load_site_owners as so
from csms.store.rows import utc
from csms.store.writer import Writer, WriteTx


@dataclass(frozen=True, slots=True)
class Ownership:
    """A site held by ``node`` under ``token`` until ``expires_at``."""

    site_id: int
    node: str
    token: int
    expires_at: datetime


class SiteOwners:
    """The ``load_site_owners`` table (module rules)."""

    def __init__(self, engine: AsyncEngine, writer: Writer) -> None:
        self._engine = engine
        self._writer = writer

    async def renew(self, node: str, held: dict[int, int], now: datetime,
                    lease: timedelta) -> dict[int, datetime]:
        """Rule 1 for every site in ``held`` (site -> token): the sites still held, with
        their new lease end. A site whose token moved on is left out (lost)."""
        if not held:
            return {}
        until = now + lease

        async def unit(tx: WriteTx) -> dict[int, datetime]:
            kept: dict[int, datetime] = {}
            for site_id, token in held.items():
                done = await tx.conn.execute(update(so).where(
                    so.c.site_id == site_id, so.c.node == node, so.c.token == token,
                ).values(expires_at=until))
                if int(done.rowcount or 0) == 1:
                    kept[site_id] = until
            return kept

        return await self._writer.submit(unit)

    async def take(self, site_id: int, node: str, now: datetime, lease: timedelta
                   ) -> Ownership | None:
        """Rule 2: the site's new ownership by ``node``, or None if another node holds it
        (or took it at the same moment)."""
        until = now + lease

        async def unit(tx: WriteTx) -> Ownership | None:
            query = select(so.c.node, so.c.token, so.c.expires_at).where(
                so.c.site_id == site_id)
            if tx.conn.dialect.name == "postgresql":
                query = query.with_for_update()
            row = (await tx.conn.execute(query)).first()
            if row is None:
                await tx.conn.execute(insert(so).values(
                    site_id=site_id, node=node, token=1, expires_at=until))
                return Ownership(site_id, node, 1, until)
            if utc(row.expires_at) > now:
                return None
            token = int(row.token) + 1
            done = await tx.conn.execute(update(so).where(
                so.c.site_id == site_id, so.c.token == row.token,
            ).values(node=node, token=token, expires_at=until))
            return Ownership(site_id, node, token, until) if done.rowcount == 1 else None

        try:
            return await self._writer.submit(unit)
        except IntegrityError:  # another node inserted the row first
            return None

    async def remember(self, site_id: int, token: int, state: dict[str, Any],
                       now: datetime) -> bool:
        """Rule 3: store the owner's memory of the site; False if ``token`` is no longer
        the site's (the caller lost it)."""

        async def unit(tx: WriteTx) -> bool:
            done = await tx.conn.execute(update(so).where(
                so.c.site_id == site_id, so.c.token == token,
            ).values(state=state, state_at=now))
            return int(done.rowcount or 0) == 1

        return await self._writer.submit(unit)

    async def memory(self, site_id: int) -> dict[str, Any] | None:
        """What the site's last owner remembered (None: nothing yet)."""
        found = await self.remembered(site_id)
        return None if found is None else found[1]

    async def remembered(self, site_id: int) -> tuple[str, dict[str, Any]] | None:
        """The site's owner (or last owner) and what it remembered, in one read."""
        async with self._engine.connect() as conn:
            row = (await conn.execute(select(so.c.node, so.c.state).where(
                so.c.site_id == site_id))).first()
        return None if row is None or row.state is None else (row.node, dict(row.state))

    async def release(self, node: str, held: dict[int, int], now: datetime) -> None:
        """Rule 4: end the leases of ``held`` (site -> token) now."""
        if not held:
            return

        async def unit(tx: WriteTx) -> None:
            for site_id, token in held.items():
                await tx.conn.execute(update(so).where(
                    so.c.site_id == site_id, so.c.node == node, so.c.token == token,
                ).values(expires_at=now))

        await self._writer.submit(unit)

    async def owners(self) -> list[Ownership]:
        """Every site's current (or last) owner."""
        async with self._engine.connect() as conn:
            rows = (await conn.execute(select(so.c.site_id, so.c.node, so.c.token,
                                              so.c.expires_at).order_by(so.c.site_id))).all()
        return [Ownership(r.site_id, r.node, int(r.token), utc(r.expires_at)) for r in rows]
