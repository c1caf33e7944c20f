"""Residents of the communities and their id tokens (charging cards), for the operator API
and the command line.

Rules as in :mod:`csms.store.organisation`: checked, audited write units; frozen records out.
An id token lies where its resident lives; one without a resident lies nowhere (only
unscoped principals see it). Tokens are found by any spelling (their key,
:func:`csms.domain.authorization.token_key`) and keep the spelling first registered.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Row, Select, func, select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from csms.domain.authorization import token_key
from csms.store import tables as t
from csms.store.access import NOWHERE, Location, audit
from csms.store.organisation import (
    Conflict,
    Crud,
    Listing,
    NotFound,
    StoreError,
    bad_reference,
    delete_row,
    fetch_one,
    fetch_page,
    insert_row,
    jsonable,
    submit,
    update_row,
)
from csms.store.rows import utc
from csms.store.writer import Writer, WriteTx

TOKEN_FIELDS = ("status", "expires_at", "owner", "group_id", "resident_id")


@dataclass(frozen=True, slots=True)
class Resident:
    id: int
    community_id: int
    name: str
    unit: str | None
    phone: str | None
    created_at: datetime


@dataclass(frozen=True, slots=True)
class IdToken:
    id_token: str
    kind: str
    status: str
    expires_at: datetime | None
    group_id: str | None
    owner: str | None
    resident_id: int | None
    community_id: int | None
    created_at: datetime


@dataclass(frozen=True, slots=True)
class IdTokenFilter:
    """``communities`` is the scope (None: all, including tokens without a resident)."""

    communities: Collection[int] | None = None
    status: str | None = None
    resident_id: int | None = None
    community_id: int | None = None


def _resident(row: Row[Any]) -> Resident:
    return Resident(row.id, row.community_id, row.name, row.unit, row.phone,
                    utc(row.created_at))


def _id_token(row: Row[Any]) -> IdToken:
    return IdToken(row.id_token, row.kind, row.status,
                   None if row.expires_at is None else utc(row.expires_at), row.group_id,
                   row.owner, row.resident_id, row.community_id, utc(row.created_at))


def _token_select() -> Select[Any]:
    tok, r = t.id_tokens, t.residents
    return select(tok, r.c.community_id).select_from(
        tok.outerjoin(r, r.c.id == tok.c.resident_id))


async def _read_resident(conn: AsyncConnection, key: Any) -> Resident:
    r = t.residents
    return _resident((await conn.execute(select(r).where(r.c.id == key))).one())


async def _read_token(conn: AsyncConnection, key: Any) -> IdToken:
    """The token by any spelling of it."""
    query = _token_select().where(t.id_tokens.c.token_key == token_key(key))
    return _id_token((await conn.execute(query)).one())


async def _stored_spelling(conn: AsyncConnection, id_token: str) -> str | None:
    """The spelling ``id_token`` is registered under, if it is (by key)."""
    tok = t.id_tokens
    return (await conn.execute(select(tok.c.id_token).where(
        tok.c.token_key == token_key(id_token)))).scalar_one_or_none()


async def _used_by_sessions(conn: AsyncConnection, id_token: str) -> bool:
    """Whether a session was started with any spelling of the token (sessions keep the one
    the charger sent; both sides are upper-cased by the database)."""
    s = t.sessions
    query = select(s.c.id).where(func.upper(s.c.id_token) == func.upper(token_key(id_token)))
    return (await conn.execute(query.limit(1))).first() is not None


class Residents:
    """Residents and the id tokens they charge with."""

    def __init__(self, engine: AsyncEngine, writer: Writer) -> None:
        self._engine = engine
        self._writer = writer
        r, tok = t.residents, t.id_tokens
        self._residents = Crud(writer, r, "resident", refs={
            "community_id": (t.communities.c.id, "community")},
            referrers=((tok.c.resident_id, "id tokens"),))
        self._tokens = Crud(writer, tok, "id_token", unique=(tok.c.token_key,), refs={
            "resident_id": (r.c.id, "resident")})

    # -- residents ----------------------------------------------------------------------------

    async def residents(self, visible: Collection[int] | None, community_id: int | None,
                        limit: int, offset: int) -> Listing[Resident]:
        """Residents by id, in ``visible`` communities (None: all), of one if given."""
        r = t.residents
        query = select(r)
        if visible is not None:
            query = query.where(r.c.community_id.in_(visible))
        if community_id is not None:
            query = query.where(r.c.community_id == community_id)
        return await fetch_page(self._engine, query, limit, offset, _resident, r.c.id)

    async def resident(self, resident_id: int) -> Resident | None:
        r = t.residents
        return await fetch_one(self._engine, select(r).where(r.c.id == resident_id), _resident)

    async def add_resident(self, values: Mapping[str, Any], actor: str) -> Resident:
        """A new resident: ``community_id``, ``name``, ``created_at``, ``unit``, ``phone``."""
        return await self._residents.create(values, actor, _read_resident)

    async def update_resident(self, resident_id: int, changes: Mapping[str, Any],
                              actor: str) -> Resident:
        return await self._residents.update(resident_id, changes, actor, _read_resident)

    async def delete_resident(self, resident_id: int, actor: str) -> None:
        await self._residents.delete(resident_id, actor)

    async def location_of_resident(self, resident_id: int) -> Location | None:
        """Where a resident lives; None if there is no such resident."""
        r, c = t.residents, t.communities
        query = (select(r.c.community_id, c.c.district_id)
                 .join(c, c.c.id == r.c.community_id).where(r.c.id == resident_id))
        return await fetch_one(self._engine, query,
                               lambda row: Location(row.district_id, row.community_id))

    # -- id tokens ----------------------------------------------------------------------------

    async def id_tokens(self, where: IdTokenFilter, limit: int,
                        offset: int) -> Listing[IdToken]:
        """Id tokens in id order, filtered (see :class:`IdTokenFilter`)."""
        tok, r = t.id_tokens, t.residents
        query = _token_select()
        if where.communities is not None:
            query = query.where(r.c.community_id.in_(where.communities))
        if where.community_id is not None:
            query = query.where(r.c.community_id == where.community_id)
        if where.status is not None:
            query = query.where(tok.c.status == where.status)
        if where.resident_id is not None:
            query = query.where(tok.c.resident_id == where.resident_id)
        return await fetch_page(self._engine, query, limit, offset, _id_token, tok.c.id_token)

    async def id_token(self, id_token: str) -> IdToken | None:
        """The token registered under any spelling of ``id_token``."""
        key = token_key(id_token)
        return await fetch_one(self._engine,
                               _token_select().where(t.id_tokens.c.token_key == key),
                               _id_token)

    async def add_id_token(self, values: Mapping[str, Any], actor: str) -> IdToken:
        """A new id token (409 if it exists under any spelling): ``id_token``, ``kind``,
        ``status``, ``created_at`` and optionally ``expires_at``, ``group_id``, ``owner``,
        ``resident_id``."""
        keyed = {**values, "token_key": token_key(values["id_token"])}
        return await self._tokens.create(keyed, actor, _read_token, details=values)

    async def update_id_token(self, id_token: str, changes: Mapping[str, Any],
                              actor: str) -> IdToken:
        """Change the token registered under any spelling of ``id_token``."""
        async with self._engine.connect() as conn:
            stored = await _stored_spelling(conn, id_token)
        if stored is None:
            raise NotFound("no such id token")
        return await self._tokens.update(stored, changes, actor, _read_token)

    async def put_id_token(self, id_token: str, values: Mapping[str, Any], at: datetime,
                           actor: str) -> IdToken:
        """Create the token, or replace the :data:`TOKEN_FIELDS` of the one registered under
        any spelling of it (those not in ``values`` become null; the spelling stays)."""
        fields = {name: values.get(name) for name in TOKEN_FIELDS}
        refs = {"resident_id": (t.residents.c.id, "resident")}

        async def unit(tx: WriteTx) -> IdToken | StoreError:
            problem = await bad_reference(tx.conn, refs, fields)
            if problem is not None:
                return problem
            stored = await _stored_spelling(tx.conn, id_token)
            if stored is not None:  # the same card under another spelling too
                await update_row(tx, t.id_tokens, stored, fields)
                audit(tx, actor, "update", "id_token", stored, jsonable(fields))
            else:
                await insert_row(tx, t.id_tokens,
                                 {"id_token": id_token, "created_at": at, **fields})
                audit(tx, actor, "create", "id_token", id_token, jsonable(fields))
            return await _read_token(tx.conn, id_token)

        return await submit(self._writer, unit)

    async def delete_id_token(self, id_token: str, actor: str) -> None:
        """Delete a token no session used under any spelling (409 otherwise: block it
        instead)."""

        async def unit(tx: WriteTx) -> StoreError | None:
            stored = await _stored_spelling(tx.conn, id_token)
            if stored is None:
                return NotFound("no such id token")
            if await _used_by_sessions(tx.conn, stored):
                return Conflict(f"id token {stored} still has sessions; block it instead")
            await delete_row(tx, t.id_tokens, stored)
            audit(tx, actor, "delete", "id_token", stored)
            return None

        await submit(self._writer, unit)

    async def location_of_id_token(self, id_token: str) -> Location | None:
        """Where a token's resident lives; None if there is no such token, NOWHERE if it
        has no resident."""
        tok = t.id_tokens
        query = select(tok.c.resident_id).where(tok.c.token_key == token_key(id_token))
        resident = await fetch_one(self._engine, query, lambda row: (row.resident_id,))
        if resident is None:
            return None
        return NOWHERE if resident[0] is None else await self.location_of_resident(resident[0])
