"""Operator writes of load management: site settings, base load, feeders, EVSE limits.

Rules as in :mod:`csms.store.organisation`: one checked, audited unit per write; a problem
is returned by the unit (not raised inside it) and raised to the caller as a StoreError.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import delete, insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from csms.smartcharging.headroom import DayType
from csms.store import tables as t
from csms.store.access import audit
from csms.store.load import tables as tl
from csms.store.organisation import BadReference, Conflict, NotFound, StoreError, submit
from csms.store.rows import utc
from csms.store.writer import Writer, WriteTx

SITE_FIELDS = ("enabled", "transformer_kva", "loading_factor", "power_factor", "margin_w",
               "supply_phases", "voltage_v", "hard_cap_w", "reading_max_age_s")


@dataclass(frozen=True, slots=True)
class SiteLoadRecord:
    site_id: int
    enabled: bool
    transformer_kva: float
    loading_factor: float
    power_factor: float
    margin_w: float
    supply_phases: int
    voltage_v: float
    hard_cap_w: float | None
    reading_max_age_s: int
    updated_at: datetime


@dataclass(frozen=True, slots=True)
class FeederRecord:
    id: int
    site_id: int
    parent_id: int | None
    name: str
    limit_w: float


@dataclass(frozen=True, slots=True)
class EvseLoadRecord:
    station_id: str
    evse_id: int
    feeder_id: int | None
    max_current_a: float | None
    phases: int | None


async def read_site_load(conn: AsyncConnection, site_id: int) -> SiteLoadRecord | None:
    row = (await conn.execute(select(tl.site_load).where(
        tl.site_load.c.site_id == site_id))).one_or_none()
    if row is None:
        return None
    return SiteLoadRecord(
        row.site_id, bool(row.enabled), row.transformer_kva, row.loading_factor,
        row.power_factor, row.margin_w, row.supply_phases, row.voltage_v, row.hard_cap_w,
        row.reading_max_age_s, utc(row.updated_at))


async def read_feeders(conn: AsyncConnection, site_id: int) -> list[FeederRecord]:
    f = tl.site_feeders
    rows = (await conn.execute(select(f).where(f.c.site_id == site_id).order_by(f.c.id))).all()
    return [FeederRecord(r.id, r.site_id, r.parent_id, r.name, r.limit_w) for r in rows]


async def _site_exists(conn: AsyncConnection, site_id: int) -> bool:
    return (await conn.execute(select(t.sites.c.id).where(t.sites.c.id == site_id))
            ).first() is not None


class LoadConfig:
    """Checked, audited writes of the load settings."""

    def __init__(self, writer: Writer) -> None:
        self._writer = writer

    async def put_site(self, site_id: int, values: Mapping[str, Any], actor: str
                       ) -> SiteLoadRecord:
        """Create or change the site's load settings; a new row needs every required field.

        Raises:
            NotFound: no such site. StoreError: a required field is missing on create.
        """
        changes = {k: v for k, v in values.items() if k in SITE_FIELDS}

        async def unit(tx: WriteTx) -> SiteLoadRecord | StoreError:
            if not await _site_exists(tx.conn, site_id):
                return NotFound("no such site")
            current = await read_site_load(tx.conn, site_id)
            stamp = {"updated_at": tx.now}
            if current is None:
                missing = [k for k in ("transformer_kva", "loading_factor", "power_factor",
                                       "margin_w", "supply_phases", "voltage_v",
                                       "reading_max_age_s") if changes.get(k) is None]
                if missing:
                    return StoreError(f"missing for a new site load setting: {missing[0]}")
                await tx.conn.execute(insert(tl.site_load).values(
                    site_id=site_id, **{"enabled": True, **changes}, **stamp))
            else:
                await tx.conn.execute(update(tl.site_load).where(
                    tl.site_load.c.site_id == site_id).values(**changes, **stamp))
            audit(tx, actor, "create" if current is None else "update", "site_load", site_id,
                  dict(changes))
            record = await read_site_load(tx.conn, site_id)
            assert record is not None
            return record

        return await submit(self._writer, unit)

    async def put_profile(self, site_id: int, workday_w: Sequence[float],
                          rest_day_w: Sequence[float] | None, actor: str) -> None:
        """Replace the base-load profile (24 values in W per day type; rest days default to
        the workday values).

        Raises:
            NotFound: no such site. ValueError: not 24 non-negative values.
        """
        days = {DayType.WORKDAY: list(workday_w),
                DayType.REST_DAY: list(rest_day_w if rest_day_w is not None else workday_w)}
        for values in days.values():
            if len(values) != 24 or min(values) < 0:
                raise ValueError("a base-load profile has 24 non-negative values per day")

        async def unit(tx: WriteTx) -> StoreError | None:
            if not await _site_exists(tx.conn, site_id):
                return NotFound("no such site")
            p = tl.site_base_load_profile
            await tx.conn.execute(delete(p).where(p.c.site_id == site_id))
            await tx.conn.execute(insert(p), [
                {"site_id": site_id, "day_type": day.value, "hour": h, "load_w": v}
                for day, values in days.items() for h, v in enumerate(values)])
            audit(tx, actor, "update", "base_load_profile", site_id,
                  {day.value: values for day, values in days.items()})
            return None

        await submit(self._writer, unit)

    async def put_reading(self, site_id: int, load_w: float, at: datetime, actor: str
                          ) -> None:
        """Store the latest live base-load reading (W at ``at``). Raises NotFound."""

        async def unit(tx: WriteTx) -> StoreError | None:
            if not await _site_exists(tx.conn, site_id):
                return NotFound("no such site")
            r = tl.site_base_load_reading
            await tx.conn.execute(delete(r).where(r.c.site_id == site_id))
            await tx.conn.execute(insert(r).values(site_id=site_id, load_w=load_w, at=at,
                                                   received_at=tx.now))
            audit(tx, actor, "update", "base_load_reading", site_id,
                  {"load_w": load_w, "at": at.isoformat()})
            return None

        await submit(self._writer, unit)

    async def add_feeder(self, site_id: int, name: str, limit_w: float,
                         parent_id: int | None, actor: str) -> FeederRecord:
        """A new feeder of the site. Raises NotFound, BadReference (parent)."""

        async def unit(tx: WriteTx) -> FeederRecord | StoreError:
            if not await _site_exists(tx.conn, site_id):
                return NotFound("no such site")
            problem = await _bad_parent(tx.conn, site_id, parent_id)
            if problem is not None:
                return problem
            f = tl.site_feeders
            key = (await tx.conn.execute(insert(f).values(
                site_id=site_id, name=name, limit_w=limit_w, parent_id=parent_id
            ).returning(f.c.id))).scalar_one()
            audit(tx, actor, "create", "feeder", key,
                  {"site_id": site_id, "name": name, "limit_w": limit_w,
                   "parent_id": parent_id})
            return FeederRecord(key, site_id, parent_id, name, limit_w)

        return await submit(self._writer, unit)

    async def delete_feeder(self, site_id: int, feeder_id: int, actor: str) -> None:
        """Remove a feeder nothing hangs under. Raises NotFound, Conflict."""

        async def unit(tx: WriteTx) -> StoreError | None:
            f, le = tl.site_feeders, tl.load_evses
            row = (await tx.conn.execute(select(f.c.id).where(
                f.c.id == feeder_id, f.c.site_id == site_id))).first()
            if row is None:
                return NotFound("no such feeder")
            if (await tx.conn.execute(select(f.c.id).where(f.c.parent_id == feeder_id))
                    ).first() or (await tx.conn.execute(select(le.c.station_id).where(
                        le.c.feeder_id == feeder_id))).first():
                return Conflict(f"feeder {feeder_id} still has feeders or EVSEs under it")
            await tx.conn.execute(delete(f).where(f.c.id == feeder_id))
            audit(tx, actor, "delete", "feeder", feeder_id)
            return None

        await submit(self._writer, unit)

    async def put_evse(self, station_id: str, evse_id: int, values: Mapping[str, Any],
                       actor: str) -> EvseLoadRecord:
        """Set an EVSE's feeder, maximum current and phases (EVSE 0: the whole charge point).

        Raises:
            NotFound: no such charge point. BadReference: a feeder not of its site.
        """

        async def unit(tx: WriteTx) -> EvseLoadRecord | StoreError:
            cp = (await tx.conn.execute(select(t.charge_points.c.site_id).where(
                t.charge_points.c.id == station_id))).one_or_none()
            if cp is None:
                return NotFound("no such charge point")
            feeder = values.get("feeder_id")
            if feeder is not None and (cp.site_id is None or await _bad_parent(
                    tx.conn, cp.site_id, feeder)):
                return BadReference("feeder_id", feeder, "feeder at this charge point's site")
            le = tl.load_evses
            row = {"feeder_id": feeder, "max_current_a": values.get("max_current_a"),
                   "phases": values.get("phases")}
            await tx.conn.execute(delete(le).where(le.c.station_id == station_id,
                                                   le.c.evse_id == evse_id))
            await tx.conn.execute(insert(le).values(station_id=station_id, evse_id=evse_id,
                                                    **row))
            audit(tx, actor, "update", "evse_load", f"{station_id}/{evse_id}", row)
            return EvseLoadRecord(station_id, evse_id, feeder, row["max_current_a"],
                                  row["phases"])

        return await submit(self._writer, unit)

    async def record_need(self, station_id: str, evse_id: int, energy_wh: float,
                          departure_at: datetime, actor: str) -> None:
        """Audit a declared charging need (kept by the load service, not here). Raises
        NotFound for an unknown charge point."""

        async def unit(tx: WriteTx) -> StoreError | None:
            found = (await tx.conn.execute(select(t.charge_points.c.id).where(
                t.charge_points.c.id == station_id))).first()
            if found is None:
                return NotFound("no such charge point")
            audit(tx, actor, "update", "charging_need", f"{station_id}/{evse_id}",
                  {"energy_wh": energy_wh, "departure_at": departure_at.isoformat()})
            return None

        await submit(self._writer, unit)


async def _bad_parent(conn: AsyncConnection, site_id: int, parent_id: int | None
                      ) -> BadReference | None:
    if parent_id is None:
        return None
    f = tl.site_feeders
    found = (await conn.execute(select(f.c.id).where(
        f.c.id == parent_id, f.c.site_id == site_id))).first()
    return None if found is not None else BadReference("parent_id", parent_id,
                                                       "feeder at this site")
