"""Read-side queries of the operator API: sessions, their meter values, live figures.

Rules:
1. Reads use their own connection and see committed data only; nothing here writes.
2. ``communities`` is a principal's scope: ``None`` means everything (including charge
   points without a site); a set admits only charge points whose site lies in one of those
   communities.
3. Rows never leave this package: every query returns frozen dataclasses.
4. Times in filters are aware; they are compared in UTC (see :func:`time_range`).
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any, Generic, TypeVar

from sqlalchemy import ColumnElement, Select, func, select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from csms.domain.sessions import ENERGY_REGISTER
from csms.domain.transactions import needs_review
from csms.store import tables as t
from csms.store.rows import utc

T = TypeVar("T")
POWER = "Power.Active.Import"
ACTIVE = "active"
_WH = {None: 1.0, "Wh": 1.0, "kWh": 1000.0}
_W = {None: 1.0, "W": 1.0, "kW": 1000.0}


@dataclass(frozen=True, slots=True)
class Window:
    """Which slice of a list: at most ``limit`` items after skipping ``offset``."""

    limit: int
    offset: int = 0


@dataclass(frozen=True, slots=True)
class Paged(Generic[T]):
    items: tuple[T, ...]
    total: int


@dataclass(frozen=True, slots=True)
class SessionFilter:
    """Session list filters; ``communities`` is the scope (module rule 2)."""

    communities: Collection[int] | None = None
    station_id: str | None = None
    site_id: int | None = None
    community_id: int | None = None
    id_token: str | None = None
    status: str | None = None
    started_from: datetime | None = None
    started_to: datetime | None = None


@dataclass(frozen=True, slots=True)
class SessionRecord:
    """A session; ``energy_wh`` is the final energy once ended, the energy so far (latest
    register reading minus the start) while active."""

    id: int
    station_id: str
    site_id: int | None
    evse_id: int | None
    connector_id: int | None
    transaction_id: str | None
    id_token: str | None
    auth_status: str | None
    status: str
    started_at: datetime | None
    ended_at: datetime | None
    meter_start_wh: float | None
    meter_stop_wh: float | None
    energy_wh: float | None
    stop_reason: str | None
    had_offline_events: bool
    updated_at: datetime
    flags: tuple[str, ...] = ()
    needs_review: bool = False


@dataclass(frozen=True, slots=True)
class MeterValueRecord:
    id: int
    at: datetime
    measurand: str
    value: float
    unit: str | None
    phase: str | None
    context: str | None
    location: str | None
    evse_id: int | None
    connector_id: int | None


@dataclass(frozen=True, slots=True)
class Reading:
    """The latest power reading, in W."""

    value: float
    at: datetime


def time_range(
    column: Any, start: datetime | None, end: datetime | None
) -> list[ColumnElement[bool]]:
    """``start <= column < end`` (either bound may be missing)."""
    conditions: list[ColumnElement[bool]] = []
    if start is not None:
        conditions.append(column >= start.astimezone(UTC))
    if end is not None:
        conditions.append(column < end.astimezone(UTC))
    return conditions


def scoped_stations(communities: Collection[int]) -> Select[Any]:
    """The ids of the charge points whose site lies in ``communities``."""
    cp, sites = t.charge_points, t.sites
    return select(cp.c.id).join(sites, sites.c.id == cp.c.site_id).where(
        sites.c.community_id.in_(communities))


def equal_to(*pairs: tuple[Any, Any]) -> list[ColumnElement[bool]]:
    """``column == value`` for each (column, value) pair whose value is given (None: any)."""
    return [column == value for column, value in pairs if value is not None]


async def newest_first(engine: AsyncEngine, table: Any, where: list[ColumnElement[bool]],
                       window: Window) -> tuple[int, Sequence[Any]]:
    """The rows of ``table`` matching ``where``, newest (highest id) first, in ``window``;
    and how many match in all."""
    async with engine.connect() as conn:
        return await count_and_fetch(conn, select(table).where(*where), window,
                                     table.c.id.desc())


async def count_and_fetch(
    conn: AsyncConnection, query: Select[Any], window: Window, *order: Any
) -> tuple[int, Sequence[Any]]:
    """The number of rows ``query`` matches, and its ``window`` in ``order``."""
    total = (await conn.execute(
        select(func.count()).select_from(query.order_by(None).subquery()))).scalar_one()
    rows = (await conn.execute(
        query.order_by(*order).limit(window.limit).offset(window.offset))).all()
    return int(total), rows


class Queries:
    """Sessions, meter values and the live figures of active sessions."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine
        self._dialect = engine.dialect.name

    async def sessions(self, where: SessionFilter, window: Window) -> Paged[SessionRecord]:
        s = t.sessions
        query = _session_select().where(
            *_session_conditions(where),
            *time_range(s.c.started_at, where.started_from, where.started_to))
        async with self._engine.connect() as conn:
            total, rows = await count_and_fetch(
                conn, query, window, func.coalesce(s.c.started_at, s.c.created_at).desc(),
                s.c.id.desc())
            return Paged(await _with_energy(conn, rows), total)

    async def session(self, session_id: int) -> SessionRecord | None:
        async with self._engine.connect() as conn:
            row = (await conn.execute(
                _session_select().where(t.sessions.c.id == session_id))).one_or_none()
            return None if row is None else (await _with_energy(conn, [row]))[0]

    async def active_sessions(
        self, station_id: str, created_by: datetime | None = None
    ) -> tuple[SessionRecord, ...]:
        """The station's active sessions; with ``created_by``, only those the CSMS had
        created by then (its own clock, not the charger's)."""
        s = t.sessions
        query = _session_select().where(s.c.station_id == station_id, s.c.status == ACTIVE)
        if created_by is not None:
            query = query.where(s.c.created_at <= created_by)
        async with self._engine.connect() as conn:
            rows = (await conn.execute(query.order_by(s.c.id))).all()
            return await _with_energy(conn, rows)

    async def meter_values(
        self, session_id: int, window: Window, measurand: str | None = None
    ) -> Paged[MeterValueRecord]:
        mv = t.meter_values
        query = select(mv).where(mv.c.session_id == session_id)
        if measurand is not None:
            query = query.where(mv.c.measurand == measurand)
        async with self._engine.connect() as conn:
            total, rows = await count_and_fetch(conn, query, window, mv.c.at, mv.c.id)
        return Paged(tuple(_meter_value(row) for row in rows), total)

    async def latest_power(self, session_id: int) -> Reading | None:
        """The latest whole-meter (phase-less) active import power of the session."""
        mv = t.meter_values
        query = select(mv.c.value, mv.c.unit, mv.c.at).where(
            mv.c.session_id == session_id, mv.c.measurand == POWER, mv.c.phase.is_(None),
        ).order_by(mv.c.at.desc(), mv.c.id.desc()).limit(1)
        async with self._engine.connect() as conn:
            row = (await conn.execute(query)).one_or_none()
        scale = None if row is None else _W.get(row.unit)
        if row is None or scale is None:
            return None
        return Reading(row.value * scale, utc(row.at))


def _session_select() -> Select[Any]:
    s, cp = t.sessions, t.charge_points
    return select(s, cp.c.site_id).join(cp, cp.c.id == s.c.station_id)


def _session_conditions(where: SessionFilter) -> list[ColumnElement[bool]]:
    s, cp = t.sessions, t.charge_points
    conditions: list[ColumnElement[bool]] = []
    if where.communities is not None:
        conditions.append(s.c.station_id.in_(scoped_stations(where.communities)))
    if where.community_id is not None:
        conditions.append(s.c.station_id.in_(scoped_stations([where.community_id])))
    equal = {s.c.station_id: where.station_id, cp.c.site_id: where.site_id,
             s.c.id_token: where.id_token, s.c.status: where.status}
    conditions += [column == value for column, value in equal.items() if value is not None]
    return conditions


async def _with_energy(conn: AsyncConnection, rows: Sequence[Any]) -> tuple[SessionRecord, ...]:
    """Session records; active ones get their energy so far from the meter values."""
    records = [_session(row) for row in rows]
    active = [r.id for r in records if r.status == ACTIVE and r.meter_start_wh is not None]
    if not active:
        return tuple(records)
    registers = await _max_registers_wh(conn, active)
    return tuple(
        replace(r, energy_wh=max(0.0, registers[r.id] - r.meter_start_wh))
        if r.id in registers and r.meter_start_wh is not None else r
        for r in records
    )


async def _max_registers_wh(conn: AsyncConnection, session_ids: list[int]) -> dict[int, float]:
    """The highest energy-register reading of each session, in Wh (the register only rises,
    so the highest is the latest)."""
    mv = t.meter_values
    query = select(mv.c.session_id, mv.c.unit, func.max(mv.c.value)).where(
        mv.c.session_id.in_(session_ids), mv.c.measurand == ENERGY_REGISTER,
        mv.c.phase.is_(None),
    ).group_by(mv.c.session_id, mv.c.unit)
    highest: dict[int, float] = {}
    for session_id, unit, value in (await conn.execute(query)).all():
        scale = _WH.get(unit)
        if scale is not None:
            highest[session_id] = max(highest.get(session_id, value * scale), value * scale)
    return highest


def _session(row: Any) -> SessionRecord:
    return SessionRecord(
        id=row.id, station_id=row.station_id, site_id=row.site_id, evse_id=row.evse_id,
        connector_id=row.connector_id, transaction_id=row.transaction_id,
        id_token=row.id_token, auth_status=row.auth_status, status=row.status,
        started_at=_aware(row.started_at), ended_at=_aware(row.ended_at),
        meter_start_wh=row.meter_start_wh, meter_stop_wh=row.meter_stop_wh,
        energy_wh=row.energy_wh, stop_reason=row.stop_reason,
        had_offline_events=bool(row.had_offline_events), updated_at=utc(row.updated_at),
        flags=tuple(row.flags or ()), needs_review=needs_review(row.flags or ()),
    )


def _meter_value(row: Any) -> MeterValueRecord:
    return MeterValueRecord(
        id=row.id, at=utc(row.at), measurand=row.measurand, value=row.value, unit=row.unit,
        phase=row.phase, context=row.context, location=row.location, evse_id=row.evse_id,
        connector_id=row.connector_id,
    )


def _aware(value: datetime | None) -> datetime | None:
    return None if value is None else utc(value)
