"""What load management reads: a site's model, its active sessions; and the site series.

Rules:
1. Reads return the pure types of :mod:`csms.smartcharging.site`; rows stay here.
2. An EVSE's maximum current and phases come from ``load_evses``, else from the core
   ``evses`` row, else from the defaults the caller passes; EVSE 0 of ``load_evses``
   applies to every EVSE of its charge point.
3. The series is written by the load service (no audit: it is measurement, not an
   operator's change).
4. :meth:`LoadStore.samples` reads sessions' recent meter values back as samples, for a
   cluster's site owner, which does not see the meter values of other nodes' chargers.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import and_, select, text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from csms.domain.model import MeterSample, SampledValue
from csms.smartcharging.headroom import CHINA_STANDARD_TIME, BaseLoadProfile, DayType
from csms.smartcharging.site import BaseReading, EvseSpec, Feeder, SiteLimits
from csms.store import tables as t
from csms.store.load import tables as tl
from csms.store.reservations import awaiting_car
from csms.store.rows import utc
from csms.store.writer import Writer, WriteTx

ACTIVE = "active"


@dataclass(frozen=True, slots=True)
class SiteModel:
    limits: SiteLimits
    enabled: bool
    profile: BaseLoadProfile | None
    reading: BaseReading | None
    feeders: tuple[Feeder, ...]
    evses: tuple[EvseSpec, ...]
    zone: Any = CHINA_STANDARD_TIME  # the site's time zone (tzinfo)


@dataclass(frozen=True, slots=True)
class ActiveSession:
    session_id: int
    station_id: str
    evse_id: int
    transaction_ref: str
    started_at: datetime


@dataclass(frozen=True, slots=True)
class SeriesPoint:
    at: datetime
    limit_w: float
    allocated_w: float
    measured_w: float
    base_load_w: float


@dataclass(frozen=True, slots=True)
class EvseDefaults:
    max_current_a: float = 32.0
    phases: int = 1


class LoadStore:
    """Reads for the load service and the API; series writes through the writer."""

    def __init__(self, engine: AsyncEngine, writer: Writer) -> None:
        self._engine = engine
        self._writer = writer

    async def sites(self) -> list[int]:
        """Ids of the sites with load settings that are enabled."""
        async with self._engine.connect() as conn:
            rows = await conn.execute(select(tl.site_load.c.site_id).where(
                tl.site_load.c.enabled.is_(True)).order_by(tl.site_load.c.site_id))
            return list(rows.scalars().all())

    async def site_of_station(self, station_id: str) -> int | None:
        async with self._engine.connect() as conn:
            row = (await conn.execute(select(t.charge_points.c.site_id).where(
                t.charge_points.c.id == station_id))).one_or_none()
        return None if row is None else row.site_id

    async def stations(self, site_id: int) -> list[str]:
        async with self._engine.connect() as conn:
            rows = await conn.execute(select(t.charge_points.c.id).where(
                t.charge_points.c.site_id == site_id).order_by(t.charge_points.c.id))
            return list(rows.scalars().all())

    async def base_load_profile(self, site_id: int) -> BaseLoadProfile | None:
        """The site's base-load profile by local hour; None when none is set."""
        async with self._engine.connect() as conn:
            return await _profile(conn, site_id, None)

    async def site_model(self, site_id: int, defaults: EvseDefaults) -> SiteModel | None:
        """The site's load model; None if it has no load settings."""
        async with self._engine.connect() as conn:
            row = (await conn.execute(
                select(tl.site_load, t.sites.c.timezone)
                .join(t.sites, t.sites.c.id == tl.site_load.c.site_id)
                .where(tl.site_load.c.site_id == site_id))).one_or_none()
            if row is None:
                return None
            limits = SiteLimits(
                site_id, row.transformer_kva, row.loading_factor, row.power_factor,
                row.margin_w, row.voltage_v, row.supply_phases, row.hard_cap_w,
                float(row.reading_max_age_s))
            return SiteModel(
                limits, bool(row.enabled), await _profile(conn, site_id, row.timezone),
                await _reading(conn, site_id), await _feeders(conn, site_id),
                await _evses(conn, site_id, defaults), site_zone(row.timezone))

    async def awaiting_car(self, site_id: int) -> set[int]:
        """Sessions held at 0 A until their car arrives (csms.store.reservations)."""
        async with self._engine.connect() as conn:
            return await awaiting_car(conn, site_id)

    async def active_sessions(self, site_id: int) -> list[ActiveSession]:
        """The site's active sessions with a known EVSE, oldest first."""
        s, cp = t.sessions, t.charge_points
        query = (select(s.c.id, s.c.station_id, s.c.evse_id, s.c.transaction_id,
                        s.c.started_at, s.c.created_at)
                 .join(cp, cp.c.id == s.c.station_id)
                 .where(cp.c.site_id == site_id, s.c.status == ACTIVE,
                        s.c.evse_id.is_not(None), s.c.transaction_id.is_not(None))
                 .order_by(s.c.id))
        async with self._engine.connect() as conn:
            rows = (await conn.execute(query)).all()
        return [ActiveSession(r.id, r.station_id, r.evse_id, r.transaction_id,
                              utc(r.started_at or r.created_at)) for r in rows]

    async def samples(self, session_ids: Sequence[int], since: datetime
                      ) -> dict[int, list[MeterSample]]:
        """Rule 4: each session's samples taken at or after ``since``, oldest first."""
        if not session_ids:
            return {}
        mv = t.meter_values
        query = (select(mv.c.session_id, mv.c.at, mv.c.measurand, mv.c.phase, mv.c.unit,
                        mv.c.value)
                 .where(mv.c.session_id.in_(list(session_ids)), mv.c.at >= since)
                 .order_by(mv.c.session_id, mv.c.at, mv.c.id))
        async with self._engine.connect() as conn:
            rows = (await conn.execute(query)).all()
        grouped: dict[int, dict[datetime, list[SampledValue]]] = {}
        for r in rows:
            grouped.setdefault(r.session_id, {}).setdefault(utc(r.at), []).append(
                SampledValue(r.value, r.measurand, r.unit, r.phase))
        return {sid: [MeterSample(at, tuple(values)) for at, values in by_at.items()]
                for sid, by_at in grouped.items()}

    async def add_series(self, site_id: int, points: Sequence[SeriesPoint]) -> None:
        rows = [{"site_id": site_id, "at": p.at, "limit_w": p.limit_w,
                 "allocated_w": p.allocated_w, "measured_w": p.measured_w,
                 "base_load_w": p.base_load_w} for p in points]

        async def unit(tx: WriteTx) -> None:
            tx.insert_later(tl.site_load_series, rows)

        await self._writer.submit(unit)

    async def series(self, site_id: int, start: datetime | None, end: datetime | None,
                     limit: int) -> list[SeriesPoint]:
        """Points in ``[start, end)``, oldest first, at most ``limit``."""
        ls = tl.site_load_series
        query = select(ls).where(ls.c.site_id == site_id)
        if start is not None:
            query = query.where(ls.c.at >= start)
        if end is not None:
            query = query.where(ls.c.at < end)
        async with self._engine.connect() as conn:
            rows = (await conn.execute(query.order_by(ls.c.at, ls.c.id).limit(limit))).all()
        return [SeriesPoint(utc(r.at), r.limit_w, r.allocated_w, r.measured_w, r.base_load_w)
                for r in rows]

    async def try_site_lock(self, conn: AsyncConnection, site_id: int) -> bool:
        """Take the PostgreSQL transaction-level advisory lock of the site (ARCHITECTURE
        property 6); always True on SQLite (one node)."""
        if conn.dialect.name != "postgresql":
            return True
        got = await conn.execute(text("SELECT pg_try_advisory_xact_lock(5005, :site)"),
                                 {"site": site_id})
        return bool(got.scalar_one())

    @property
    def engine(self) -> AsyncEngine:
        return self._engine


def site_zone(name: str | None) -> Any:
    """The site's time zone; China Standard Time for an unknown name."""
    try:
        return ZoneInfo(name) if name else CHINA_STANDARD_TIME
    except (ZoneInfoNotFoundError, ValueError):
        return CHINA_STANDARD_TIME


async def _profile(conn: AsyncConnection, site_id: int, zone: str | None
                   ) -> BaseLoadProfile | None:
    p = tl.site_base_load_profile
    rows = (await conn.execute(select(p).where(p.c.site_id == site_id))).all()
    values = {(r.day_type, r.hour): r.load_w for r in rows}
    if not values:
        return None
    work = tuple(values.get((DayType.WORKDAY.value, h), 0.0) for h in range(24))
    rest = tuple(values.get((DayType.REST_DAY.value, h), work[h]) for h in range(24))
    return BaseLoadProfile(work, rest, site_zone(zone))


async def _reading(conn: AsyncConnection, site_id: int) -> BaseReading | None:
    r = tl.site_base_load_reading
    row = (await conn.execute(select(r).where(r.c.site_id == site_id))).one_or_none()
    return None if row is None else BaseReading(row.load_w, utc(row.at))


async def _feeders(conn: AsyncConnection, site_id: int) -> tuple[Feeder, ...]:
    f = tl.site_feeders
    rows = (await conn.execute(select(f).where(f.c.site_id == site_id).order_by(f.c.id))).all()
    return tuple(Feeder(r.id, r.limit_w, r.parent_id) for r in rows)


async def _evses(conn: AsyncConnection, site_id: int, defaults: EvseDefaults
                 ) -> tuple[EvseSpec, ...]:
    e, cp, le = t.evses, t.charge_points, tl.load_evses
    core = (await conn.execute(
        select(e.c.station_id, e.c.evse_id, e.c.max_current_a, e.c.phases)
        .join(cp, cp.c.id == e.c.station_id)
        .where(cp.c.site_id == site_id, e.c.evse_id > 0))).all()
    overrides = {(r.station_id, r.evse_id): r for r in (await conn.execute(
        select(le).join(cp, and_(cp.c.id == le.c.station_id))
        .where(cp.c.site_id == site_id))).all()}
    found: dict[tuple[str, int], Any] = {(r.station_id, r.evse_id): r for r in core}
    for station_id, evse_id in overrides:
        if evse_id > 0:
            found.setdefault((station_id, evse_id), None)
    feeders = set((await conn.execute(select(tl.site_feeders.c.id).where(
        tl.site_feeders.c.site_id == site_id))).scalars().all())
    specs = []
    for (station_id, evse_id), row in sorted(found.items()):
        own = overrides.get((station_id, evse_id)) or overrides.get((station_id, 0))
        max_a = _first(own and own.max_current_a, row and row.max_current_a,
                       defaults.max_current_a)
        phases = int(_first(own and own.phases, row and row.phases, defaults.phases))
        feeder = own.feeder_id if own is not None else None
        specs.append(EvseSpec(station_id, evse_id, float(max_a), phases,
                              feeder if feeder in feeders else None))  # moved: the root
    return tuple(specs)


def _first(*values: Any) -> Any:
    return next(v for v in values if v is not None)
