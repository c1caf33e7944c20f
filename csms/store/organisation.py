"""Districts and communities; also what the operator API's repositories share: their errors,
paging, and the checked create/update/delete steps of a write unit.

Rules:
1. Every write is one unit on the group-commit writer and records an audit row with the
   caller's ``actor`` in the same unit.
2. A unit checks before it writes (references exist, unique values are free, nothing still
   refers to a row being deleted) and *returns* the problem instead of raising it, so an
   expected refusal does not make the writer roll back and retry a whole batch. A unique
   or foreign-key violation that slips past the checks (another node) is a :class:`Conflict`.
3. Rows never leave ``csms.store``: reads return frozen dataclasses.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from enum import Enum
from typing import Any, Generic, TypeVar

from sqlalchemy import Column, Row, Select, Table, delete, func, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from csms.store import tables as t
from csms.store.access import audit
from csms.store.writer import Writer, WriteTx

T = TypeVar("T")


class StoreError(Exception):
    """A write the store refused; the message says why."""


class NotFound(StoreError):
    pass


class Conflict(StoreError):
    pass


class BadReference(StoreError):
    """``field`` names a row (``value``) that does not exist."""

    def __init__(self, field: str, value: object, what: str) -> None:
        super().__init__(f"there is no {what} {value}")
        self.field = field
        self.value = value


@dataclass(frozen=True, slots=True)
class Listing(Generic[T]):
    items: tuple[T, ...]
    total: int


# A reference check: body field -> (the primary key it must name, what that row is).
References = Mapping[str, tuple["Column[Any]", str]]
# A delete check: (a column that refers to the row, what those rows are called).
Referrers = Sequence[tuple["Column[Any]", str]]


async def fetch_page(engine: AsyncEngine, query: Select[Any], limit: int, offset: int,
                     make: Callable[[Row[Any]], T], *order: Any) -> Listing[T]:
    """``query``'s rows ``offset`` to ``offset + limit`` in ``order``, and how many match."""
    async with engine.connect() as conn:
        total = (await conn.execute(
            select(func.count()).select_from(query.order_by(None).subquery()))).scalar_one()
        rows = (await conn.execute(query.order_by(*order).limit(limit).offset(offset))).all()
    return Listing(tuple(make(row) for row in rows), int(total))


async def fetch_one(engine: AsyncEngine, query: Select[Any],
                    make: Callable[[Row[Any]], T]) -> T | None:
    async with engine.connect() as conn:
        row = (await conn.execute(query)).one_or_none()
    return None if row is None else make(row)


async def submit(writer: Writer, unit: Callable[[WriteTx], Awaitable[T | StoreError]]) -> T:
    """Run ``unit``; raise the problem it returned (rule 2) or a concurrent conflict."""
    try:
        result = await writer.submit(unit)
    except IntegrityError as exc:
        raise Conflict("conflicts with a concurrent change; try again") from exc
    if isinstance(result, StoreError):
        raise result
    return result


def jsonable(values: Mapping[str, Any]) -> dict[str, Any]:
    """``values`` as JSON can hold them (for audit details)."""
    def plain(value: Any) -> Any:
        if isinstance(value, Decimal):
            return str(value)
        if isinstance(value, datetime):
            return value.isoformat()
        return value.value if isinstance(value, Enum) else value
    return {key: plain(value) for key, value in values.items()}


async def exists(conn: AsyncConnection, column: Column[Any], value: Any) -> bool:
    found = await conn.execute(select(column).where(column == value).limit(1))
    return found.first() is not None


async def bad_reference(conn: AsyncConnection, refs: References,
                        values: Mapping[str, Any]) -> BadReference | None:
    """The first field of ``values`` that names a row that does not exist."""
    for field, (column, what) in refs.items():
        value = values.get(field)
        if value is not None and not await exists(conn, column, value):
            return BadReference(field, value, what)
    return None


async def still_referenced(conn: AsyncConnection, referrers: Referrers, value: Any,
                           what: str, advice: str) -> Conflict | None:
    for column, name in referrers:
        if await exists(conn, column, value):
            return Conflict(f"{what} {value} still has {name}; {advice}")
    return None


async def taken(conn: AsyncConnection, unique: Sequence[Column[Any]],
                values: Mapping[str, Any], key: Column[Any], own: Any = None) -> Conflict | None:
    """A conflict if another row (not ``own``) already holds one of the unique values."""
    for column in unique:
        value = values.get(column.name)
        if value is None:
            continue
        query = select(key).where(column == value)
        if own is not None:
            query = query.where(key != own)
        if (await conn.execute(query.limit(1))).first() is not None:
            return Conflict(f"{column.name} {value!r} is already taken")
    return None


async def insert_row(tx: WriteTx, table: Table, values: Mapping[str, Any]) -> Any:
    """Insert one row; its primary key (a generated one comes back from the database)."""
    [key] = table.primary_key.columns
    if key.name in values:
        await tx.conn.execute(insert(table).values(**values))
        return values[key.name]
    return (await tx.conn.execute(insert(table).values(**values).returning(key))).scalar_one()


async def update_row(tx: WriteTx, table: Table, key: Any, changes: Mapping[str, Any]) -> bool:
    """Update one row by primary key; whether it exists."""
    [column] = table.primary_key.columns
    if not changes:
        return await exists(tx.conn, column, key)
    result = await tx.conn.execute(update(table).where(column == key).values(**changes))
    return bool(result.rowcount)


async def delete_row(tx: WriteTx, table: Table, key: Any) -> bool:
    [column] = table.primary_key.columns
    return bool((await tx.conn.execute(delete(table).where(column == key))).rowcount)


class Crud:
    """Create, update and delete of one table, checked (rule 2) and audited (rule 1)."""

    def __init__(self, writer: Writer, table: Table, resource: str, *,
                 refs: References | None = None, unique: Sequence[Column[Any]] = (),
                 referrers: Referrers = (),
                 advice: str = "delete or move them first") -> None:
        self._writer = writer
        self._table = table
        self._resource = resource
        self._refs = refs or {}
        self._unique = unique
        self._referrers = referrers
        self._advice = advice
        [self._key] = table.primary_key.columns

    async def create(self, values: Mapping[str, Any], actor: str,
                     read: Callable[[AsyncConnection, Any], Awaitable[T]],
                     details: Mapping[str, Any] | None = None) -> T:
        """Insert the row; the audit row records ``details`` (default: the values)."""

        async def unit(tx: WriteTx) -> T | StoreError:
            problem = (await bad_reference(tx.conn, self._refs, values)
                       or await taken(tx.conn, self._unique, values, self._key))
            if problem is not None:
                return problem
            key = await insert_row(tx, self._table, values)
            audit(tx, actor, "create", self._resource, key,
                  jsonable(values if details is None else details))
            return await read(tx.conn, key)

        return await submit(self._writer, unit)

    async def update(self, key: Any, changes: Mapping[str, Any], actor: str,
                     read: Callable[[AsyncConnection, Any], Awaitable[T]],
                     action: str = "update", details: Mapping[str, Any] | None = None) -> T:
        """Change the row; the audit row records ``details`` (default: the changes)."""

        async def unit(tx: WriteTx) -> T | StoreError:
            problem = (await bad_reference(tx.conn, self._refs, changes)
                       or await taken(tx.conn, self._unique, changes, self._key, key))
            if problem is not None:
                return problem
            if not await update_row(tx, self._table, key, changes):
                return NotFound(f"no such {self._resource.replace('_', ' ')}")
            if changes:
                audit(tx, actor, action, self._resource, key,
                      jsonable(changes if details is None else details))
            return await read(tx.conn, key)

        return await submit(self._writer, unit)

    async def delete(self, key: Any, actor: str,
                     before: Callable[[WriteTx], Awaitable[None]] | None = None) -> None:
        """Delete the row unless something still refers to it; ``before`` runs first (to
        remove dependent rows that go with it)."""
        what = self._resource.replace("_", " ")

        async def unit(tx: WriteTx) -> StoreError | None:
            if not await exists(tx.conn, self._key, key):
                return NotFound(f"no such {what}")
            problem = await still_referenced(tx.conn, self._referrers, key, what,
                                             self._advice)
            if problem is not None:
                return problem
            if before is not None:
                await before(tx)
            await delete_row(tx, self._table, key)
            audit(tx, actor, "delete", self._resource, key)
            return None

        await submit(self._writer, unit)


# -- districts and communities ----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class District:
    id: int
    code: str | None
    name: str
    short_name: str | None = None
    pilot_target: int | None = None


@dataclass(frozen=True, slots=True)
class DistrictSeed:
    """A district as a seed file gives it; None leaves a stored value as it is."""

    name: str
    code: str | None = None
    short_name: str | None = None
    pilot_target: int | None = None


@dataclass(frozen=True, slots=True)
class Community:
    id: int
    district_id: int
    name: str
    address: str | None
    latitude: Decimal | None
    longitude: Decimal | None


@dataclass(frozen=True, slots=True)
class Seeded:
    added: int
    updated: int
    unchanged: int


def _district(row: Row[Any]) -> District:
    return District(row.id, row.code, row.name, row.short_name, row.pilot_target)


def _community(row: Row[Any]) -> Community:
    return Community(row.id, row.district_id, row.name, row.address, row.latitude,
                     row.longitude)


async def _read_district(conn: AsyncConnection, key: Any) -> District:
    d = t.districts
    return _district((await conn.execute(select(d).where(d.c.id == key))).one())


async def _read_community(conn: AsyncConnection, key: Any) -> Community:
    c = t.communities
    return _community((await conn.execute(select(c).where(c.c.id == key))).one())


class Organisation:
    """Districts and the communities in them."""

    def __init__(self, engine: AsyncEngine, writer: Writer) -> None:
        self._engine = engine
        self._writer = writer
        d, c = t.districts, t.communities
        self._districts = Crud(writer, d, "district", unique=(d.c.name, d.c.code), referrers=(
            (c.c.district_id, "communities"), (t.api_tokens.c.district_id, "API tokens")))
        self._communities = Crud(writer, c, "community", refs={
            "district_id": (d.c.id, "district")}, referrers=(
            (t.sites.c.community_id, "sites"), (t.residents.c.community_id, "residents"),
            (t.api_tokens.c.community_id, "API tokens")))

    async def districts(self, visible: Collection[int] | None, limit: int,
                        offset: int) -> Listing[District]:
        """Districts by id; ``visible`` (None: all) limits them to those ids."""
        d = t.districts
        query = select(d) if visible is None else select(d).where(d.c.id.in_(visible))
        return await fetch_page(self._engine, query, limit, offset, _district, d.c.id)

    async def district(self, district_id: int) -> District | None:
        d = t.districts
        return await fetch_one(self._engine, select(d).where(d.c.id == district_id), _district)

    async def add_district(self, values: Mapping[str, Any], actor: str) -> District:
        return await self._districts.create(values, actor, _read_district)

    async def update_district(self, district_id: int, changes: Mapping[str, Any],
                              actor: str) -> District:
        return await self._districts.update(district_id, changes, actor, _read_district)

    async def delete_district(self, district_id: int, actor: str) -> None:
        await self._districts.delete(district_id, actor)

    async def communities(self, visible: Collection[int] | None, district_id: int | None,
                          limit: int, offset: int) -> Listing[Community]:
        """Communities by id, in ``visible`` (None: all), of one district if given."""
        c = t.communities
        query = select(c)
        if visible is not None:
            query = query.where(c.c.id.in_(visible))
        if district_id is not None:
            query = query.where(c.c.district_id == district_id)
        return await fetch_page(self._engine, query, limit, offset, _community, c.c.id)

    async def community(self, community_id: int) -> Community | None:
        c = t.communities
        return await fetch_one(self._engine, select(c).where(c.c.id == community_id),
                               _community)

    async def add_community(self, values: Mapping[str, Any], actor: str) -> Community:
        return await self._communities.create(values, actor, _read_community)

    async def update_community(self, community_id: int, changes: Mapping[str, Any],
                               actor: str) -> Community:
        return await self._communities.update(community_id, changes, actor, _read_community)

    async def delete_community(self, community_id: int, actor: str) -> None:
        await self._communities.delete(community_id, actor)

    async def seed_districts(self, entries: Sequence[DistrictSeed], actor: str) -> Seeded:
        """Add each district that is missing (by name) and set the code, short name and pilot
        target of those where the entry gives another; all or nothing. Running it again
        changes nothing."""

        async def unit(tx: WriteTx) -> Seeded | StoreError:
            d = t.districts
            counts = [0, 0, 0]
            for entry in entries:
                row = (await tx.conn.execute(
                    select(d).where(d.c.name == entry.name))).one_or_none()
                given = {key: value for key, value in (
                    ("code", entry.code), ("short_name", entry.short_name),
                    ("pilot_target", entry.pilot_target)) if value is not None}
                changes = given if row is None else {
                    key: value for key, value in given.items() if getattr(row, key) != value}
                if row is not None and not changes:
                    counts[2] += 1
                    continue
                values = {"name": entry.name, **changes}
                problem = await taken(tx.conn, (d.c.code,), values, d.c.id,
                                      None if row is None else row.id)
                if problem is not None:
                    raise problem  # after earlier inserts: roll them back too
                if row is None:
                    key = await insert_row(tx, d, values)
                    audit(tx, actor, "create", "district", key, values)
                else:
                    await update_row(tx, d, row.id, changes)
                    audit(tx, actor, "update", "district", row.id, changes)
                counts[0 if row is None else 1] += 1
            return Seeded(*counts)

        return await submit(self._writer, unit)
