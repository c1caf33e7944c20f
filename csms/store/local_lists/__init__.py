"""Local authorization lists: the list each charger should hold, and what it was sent.

Rules:
1. A charger's list is derived from the id-token table: the tokens of the residents of its
   community (charge point, site, community) and the tokens that belong to no resident
   (operators' and service cards). A charger on no site gets only the latter.
2. An entry's authorization is the token's stored status, ``Expired`` once past its
   expiry (as :func:`csms.domain.authorization` decides at Authorize), with its expiry and
   group.
3. :meth:`LocalListStore.record` stores, per accepted message, the version and the
   entries the charger then holds, in one transaction.
4. Rows never leave this package: reads return domain types.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import delete, insert, or_, select, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from csms.domain.authorization import token_key
from csms.domain.commands_auth import LocalAuthEntry, SendLocalList
from csms.domain.local_list import applied, keyed
from csms.domain.model import Authorization, AuthorizationStatus, IdToken
from csms.store import tables as t
from csms.store.local_lists.tables import local_list_entries, local_list_state
from csms.store.rows import utc
from csms.store.writer import Writer, WriteTx


@dataclass(frozen=True, slots=True)
class SentList:
    """What the charger was last sent: its version and entries by token key."""

    version: int
    entries: dict[str, LocalAuthEntry]
    synced_at: datetime | None = None
    reported_version: int | None = None
    reported_at: datetime | None = None
    last_outcome: str | None = None


class LocalListStore:
    """The wanted and the sent local lists (module rules)."""

    def __init__(self, engine: AsyncEngine, writer: Writer) -> None:
        self._engine = engine
        self._writer = writer

    async def wanted(self, station_id: str, now: datetime) -> dict[str, LocalAuthEntry]:
        """The list the charger should hold (rules 1-2), by token key."""
        async with self._engine.connect() as conn:
            community = await _community_of(conn, station_id)
            tok, r = t.id_tokens, t.residents
            query = select(tok).select_from(tok.outerjoin(r, r.c.id == tok.c.resident_id))
            query = query.where(or_(tok.c.resident_id.is_(None), r.c.community_id == community)
                                if community is not None else tok.c.resident_id.is_(None))
            rows = (await conn.execute(query.order_by(tok.c.token_key))).all()
        return keyed([_wanted_entry(row, now) for row in rows])

    async def sent(self, station_id: str) -> SentList:
        """What the charger holds as far as the CSMS knows (version 0: nothing sent)."""
        s, e = local_list_state, local_list_entries
        async with self._engine.connect() as conn:
            state = (await conn.execute(select(s).where(s.c.station_id == station_id))
                     ).one_or_none()
            rows = (await conn.execute(select(e).where(e.c.station_id == station_id))).all()
        entries = {row.token_key: _stored_entry(row) for row in rows}
        if state is None:
            return SentList(0, entries)
        return SentList(state.version, entries, _aware(state.synced_at),
                        state.reported_version, _aware(state.reported_at), state.last_outcome)

    async def stations(self, community_id: int, *, keeping_lists: bool) -> list[str]:
        """The community's charge points (sorted); ``keeping_lists``: only those that were
        sent a list."""
        cp, site, s = t.charge_points, t.sites, local_list_state
        query = select(cp.c.id).select_from(cp.join(site, site.c.id == cp.c.site_id)).where(
            site.c.community_id == community_id)
        if keeping_lists:
            query = query.where(cp.c.id.in_(select(s.c.station_id).where(s.c.version > 0)))
        async with self._engine.connect() as conn:
            return list((await conn.execute(query.order_by(cp.c.id))).scalars())

    async def reported(self, station_id: str, version: int, at: datetime) -> None:
        """The charger said its list has ``version``."""
        await self._writer.submit(
            lambda tx: _upsert_state(tx, station_id, reported_version=version, reported_at=at))

    async def outcome(self, station_id: str, outcome: str) -> None:
        """How the last sync went (Accepted, VersionMismatch, too_long, offline, ...)."""
        await self._writer.submit(
            lambda tx: _upsert_state(tx, station_id, last_outcome=outcome))

    async def record(self, station_id: str, message: SendLocalList, at: datetime) -> None:
        """The charger accepted ``message`` (rule 3)."""
        e = local_list_entries

        async def unit(tx: WriteTx) -> None:
            rows = (await tx.conn.execute(select(e).where(e.c.station_id == station_id))).all()
            held = applied({row.token_key: _stored_entry(row) for row in rows}, message)
            await tx.conn.execute(delete(e).where(e.c.station_id == station_id))
            if held:
                await tx.conn.execute(insert(e), [_entry_row(station_id, k, v)
                                                  for k, v in held.items()])
            await _upsert_state(tx, station_id, version=message.version, synced_at=at,
                                reported_version=message.version, reported_at=at,
                                last_outcome="Accepted")

        await self._writer.submit(unit)


async def _community_of(conn: AsyncConnection, station_id: str) -> int | None:
    cp, site = t.charge_points, t.sites
    return (await conn.execute(select(site.c.community_id).select_from(
        cp.join(site, site.c.id == cp.c.site_id)).where(cp.c.id == station_id))
    ).scalar_one_or_none()


async def _upsert_state(tx: WriteTx, station_id: str, **values: Any) -> None:
    s = local_list_state
    found = (await tx.conn.execute(select(s.c.station_id).where(s.c.station_id == station_id))
             ).first()
    if found is None:
        await tx.conn.execute(insert(s).values(station_id=station_id,
                                               **{"version": 0, **values}))
    else:
        await tx.conn.execute(update(s).where(s.c.station_id == station_id).values(**values))


def _wanted_entry(row: Any, now: datetime) -> LocalAuthEntry:
    expires = _aware(row.expires_at)
    status = AuthorizationStatus(row.status)
    if expires is not None and now >= expires and status is AuthorizationStatus.ACCEPTED:
        status = AuthorizationStatus.EXPIRED
    return LocalAuthEntry(IdToken(row.id_token, row.kind),
                          Authorization(status, expires, row.group_id))


def _stored_entry(row: Any) -> LocalAuthEntry:
    return LocalAuthEntry(IdToken(row.id_token, row.kind), Authorization(
        AuthorizationStatus(row.status), _aware(row.expires_at), row.group_id))


def _entry_row(station_id: str, key: str, entry: LocalAuthEntry) -> dict[str, Any]:
    auth = entry.authorization
    assert auth is not None, "applied() keeps no removals"
    return {"station_id": station_id, "token_key": key or token_key(entry.id_token.value),
            "id_token": entry.id_token.value, "kind": entry.id_token.kind,
            "status": auth.status.value, "expires_at": auth.expires_at,
            "group_id": auth.group_id}


def _aware(value: datetime | None) -> datetime | None:
    return None if value is None else utc(value)
