"""Read-side queries of the operator API about charge points: what is stored of a charge
point, its connectors' current status and history, and station events (faults, reports).

The rules of :mod:`csms.store.queries` apply (scope, frozen records, UTC filters).
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from csms.store import tables as t
from csms.store.queries import Paged, Window, count_and_fetch, scoped_stations, time_range
from csms.store.rows import utc


@dataclass(frozen=True, slots=True)
class ChargePointRecord:
    """What the charge point told us of itself at boot, and when we last heard of it."""

    station_id: str
    site_id: int | None
    registration_status: str
    ocpp_version: str | None
    vendor: str | None
    model: str | None
    serial_number: str | None
    firmware_version: str | None
    last_boot_at: datetime | None
    last_seen_at: datetime | None


@dataclass(frozen=True, slots=True)
class ConnectorRecord:
    """A connector's current status (OCPP 1.6 connector ``n`` is EVSE ``n``, connector 1)."""

    evse_id: int
    connector_id: int
    status: str
    error_code: str | None
    vendor_error_code: str | None
    status_at: datetime


@dataclass(frozen=True, slots=True)
class StatusChange:
    """One StatusNotification as received."""

    id: int
    evse_id: int
    connector_id: int
    status: str
    error_code: str | None
    vendor_error_code: str | None
    info: str | None
    at: datetime
    received_at: datetime


@dataclass(frozen=True, slots=True)
class EventFilter:
    communities: Collection[int] | None = None
    station_id: str | None = None
    kind: str | None = None
    start: datetime | None = None
    end: datetime | None = None


@dataclass(frozen=True, slots=True)
class StationEventRecord:
    """A fault, security event, NotifyEvent, firmware/log status or other report."""

    id: int
    station_id: str
    kind: str
    code: str | None
    evse_id: int | None
    connector_id: int | None
    at: datetime
    received_at: datetime
    details: dict[str, Any]


class StationQueries:
    """Charge points, connector status and its history, station events."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine
        self._dialect = engine.dialect.name

    async def charge_point(self, station_id: str) -> ChargePointRecord | None:
        cp = t.charge_points
        async with self._engine.connect() as conn:
            row = (await conn.execute(select(cp).where(cp.c.id == station_id))).one_or_none()
        return None if row is None else _charge_point(row)

    async def connectors(self, station_id: str) -> tuple[ConnectorRecord, ...]:
        c = t.connectors
        query = select(c).where(c.c.station_id == station_id).order_by(
            c.c.evse_id, c.c.connector_id)
        async with self._engine.connect() as conn:
            rows = (await conn.execute(query)).all()
        return tuple(
            ConnectorRecord(row.evse_id, row.connector_id, row.status, row.error_code,
                            row.vendor_error_code, utc(row.status_at))
            for row in rows
        )

    async def status_history(
        self, station_id: str, window: Window, start: datetime | None = None,
        end: datetime | None = None,
    ) -> Paged[StatusChange]:
        """Newest first; ``start`` inclusive, ``end`` exclusive (the station's time)."""
        h = t.connector_status_history
        query = select(h).where(h.c.station_id == station_id,
                                *time_range(h.c.at, start, end))
        async with self._engine.connect() as conn:
            total, rows = await count_and_fetch(conn, query, window, h.c.at.desc(),
                                                h.c.id.desc())
        return Paged(tuple(_status_change(row) for row in rows), total)

    async def events(self, where: EventFilter, window: Window) -> Paged[StationEventRecord]:
        """Newest first."""
        e = t.station_events
        conditions = time_range(e.c.at, where.start, where.end)
        if where.communities is not None:
            conditions.append(e.c.station_id.in_(scoped_stations(where.communities)))
        if where.station_id is not None:
            conditions.append(e.c.station_id == where.station_id)
        if where.kind is not None:
            conditions.append(e.c.kind == where.kind)
        async with self._engine.connect() as conn:
            total, rows = await count_and_fetch(conn, select(e).where(*conditions), window,
                                                e.c.at.desc(), e.c.id.desc())
        return Paged(tuple(_event(row) for row in rows), total)


def _charge_point(row: Any) -> ChargePointRecord:
    return ChargePointRecord(
        station_id=row.id, site_id=row.site_id, registration_status=row.registration_status,
        ocpp_version=row.ocpp_version, vendor=row.vendor, model=row.model,
        serial_number=row.serial_number, firmware_version=row.firmware_version,
        last_boot_at=None if row.last_boot_at is None else utc(row.last_boot_at),
        last_seen_at=None if row.last_seen_at is None else utc(row.last_seen_at),
    )


def _status_change(row: Any) -> StatusChange:
    return StatusChange(
        id=row.id, evse_id=row.evse_id, connector_id=row.connector_id, status=row.status,
        error_code=row.error_code, vendor_error_code=row.vendor_error_code, info=row.info,
        at=utc(row.at), received_at=utc(row.received_at),
    )


def _event(row: Any) -> StationEventRecord:
    return StationEventRecord(
        id=row.id, station_id=row.station_id, kind=row.kind, code=row.code,
        evse_id=row.evse_id, connector_id=row.connector_id, at=utc(row.at),
        received_at=utc(row.received_at), details=dict(row.details),
    )
