"""Reservations: durable before ReserveNow is sent, then answered, used, cancelled, expired.

Rules:
1. A reservation is created ``pending`` and committed before its command is sent (its id
   *is* the ``reservationId``), so a StartTransaction naming it always finds it.
2. A status only moves out of an open state (:data:`csms.domain.reservations.OPEN`): the
   ``status IN open`` guard makes a late answer, a repeated event or a racing cancel change
   nothing once the reservation ended.
3. Consuming checks the charger, the token (:func:`csms.domain.reservations.may_consume`)
   and expiry, and links the session (unique ``session_id``).
4. Rows never leave this package: reads return :class:`ReservationRecord`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from csms.domain.authorization import token_key
from csms.domain.reservations import OPEN, ReservationStatus, current, may_consume
from csms.smartcharging.reservations import awaiting_car as rule_awaiting_car
from csms.store import tables as t
from csms.store.reservations.tables import reservations
from csms.store.rows import utc
from csms.store.writer import Writer, WriteTx

_OPEN = [s.value for s in OPEN]


@dataclass(frozen=True, slots=True)
class ReservationRecord:
    id: int
    station_id: str
    evse_id: int | None
    connector_type: str | None
    id_token: str
    token_kind: str
    group_id: str | None
    expires_at: datetime
    status: ReservationStatus  # as of the read (expiry applied, csms.domain.reservations)
    outcome: str | None
    created_at: datetime
    requested_by: str | None
    ended_at: datetime | None
    session_id: int | None


@dataclass(frozen=True, slots=True)
class NewReservation:
    station_id: str
    evse_id: int | None
    connector_type: str | None
    id_token: str
    token_kind: str
    group_id: str | None
    expires_at: datetime
    requested_by: str | None


class ReservationStore:
    """Reservations and their lifecycle (module rules)."""

    def __init__(self, engine: AsyncEngine, writer: Writer) -> None:
        self._engine = engine
        self._writer = writer

    async def create(self, new: NewReservation, at: datetime) -> int:
        """A pending reservation, committed; its id is the ``reservationId`` to send."""

        async def unit(tx: WriteTx) -> int:
            return int((await tx.conn.execute(insert(reservations).values(
                station_id=new.station_id, evse_id=new.evse_id,
                connector_type=new.connector_type, id_token=new.id_token,
                token_kind=new.token_kind, token_key=token_key(new.id_token),
                group_id=new.group_id, expires_at=new.expires_at,
                status=ReservationStatus.PENDING.value, created_at=at,
                requested_by=new.requested_by,
            ).returning(reservations.c.id))).scalar_one())

        return await self._writer.submit(unit)

    async def move(self, reservation_id: int, status: ReservationStatus, at: datetime,
                   *, outcome: str | None = None, station_id: str | None = None) -> bool:
        """Move an open reservation to ``status`` (rule 2); whether it moved."""
        r = reservations
        values: dict[str, Any] = {"status": status.value}
        if outcome is not None:
            values["outcome"] = outcome
        if status not in OPEN:
            values["ended_at"] = at
        where = [r.c.id == reservation_id, r.c.status.in_(_OPEN)]
        if station_id is not None:
            where.append(r.c.station_id == station_id)

        async def unit(tx: WriteTx) -> bool:
            return bool((await tx.conn.execute(update(r).where(*where).values(**values))
                         ).rowcount)

        return await self._writer.submit(unit)

    async def consume(self, reservation_id: int, station_id: str, token: str | None,
                      session_id: int, at: datetime) -> bool:
        """Rule 3: link the session if it may use the reservation; whether it did."""
        r = reservations

        async def unit(tx: WriteTx) -> bool:
            row = (await tx.conn.execute(select(r).where(
                r.c.id == reservation_id, r.c.station_id == station_id))).one_or_none()
            if row is None or not may_consume(ReservationStatus(row.status),
                                              utc(row.expires_at), at, row.id_token,
                                              row.group_id, token):
                return False
            done = await tx.conn.execute(update(r).where(
                r.c.id == reservation_id, r.c.status == ReservationStatus.ACTIVE.value,
            ).values(status=ReservationStatus.USED.value, session_id=session_id, ended_at=at))
            return bool(done.rowcount)

        return await self._writer.submit(unit)

    async def get(self, reservation_id: int, now: datetime) -> ReservationRecord | None:
        async with self._engine.connect() as conn:
            row = (await conn.execute(select(reservations).where(
                reservations.c.id == reservation_id))).one_or_none()
        return None if row is None else _record(row, now)

    async def of_station(self, station_id: str, now: datetime, *, open_only: bool = False,
                         limit: int = 100) -> list[ReservationRecord]:
        """The charger's reservations, newest first; ``open_only``: pending or active now."""
        r = reservations
        query = select(r).where(r.c.station_id == station_id)
        if open_only:
            query = query.where(r.c.status.in_(_OPEN), r.c.expires_at > now)
        async with self._engine.connect() as conn:
            rows = (await conn.execute(query.order_by(r.c.id.desc()).limit(limit))).all()
        return [_record(row, now) for row in rows]

    async def expire(self, now: datetime) -> int:
        """Mark open reservations past their expiry ``expired``; how many."""
        r = reservations

        async def unit(tx: WriteTx) -> int:
            done = await tx.conn.execute(update(r).where(
                r.c.status.in_(_OPEN), r.c.expires_at <= now,
            ).values(status=ReservationStatus.EXPIRED.value, ended_at=now))
            return int(done.rowcount)

        return await self._writer.submit(unit)


def _record(row: Any, now: datetime) -> ReservationRecord:
    expires = utc(row.expires_at)
    return ReservationRecord(
        int(row.id), row.station_id, row.evse_id, row.connector_type, row.id_token,
        row.token_kind, row.group_id, expires,
        current(ReservationStatus(row.status), expires, now), row.outcome,
        utc(row.created_at), row.requested_by,
        None if row.ended_at is None else utc(row.ended_at), row.session_id)


async def awaiting_car(conn: AsyncConnection, site_id: int) -> set[int]:
    """The site's active sessions held at 0 A until their car arrives
    (:func:`csms.smartcharging.reservations.awaiting_car`): on a connector that reports
    Reserved, or having consumed a reservation while the connector shows no car."""
    s, cp, c, r = t.sessions, t.charge_points, t.connectors, reservations
    rows = (await conn.execute(
        select(s.c.id, c.c.status, r.c.id.label("reservation"))
        .join(cp, cp.c.id == s.c.station_id)
        .outerjoin(c, (c.c.station_id == s.c.station_id) & (c.c.evse_id == s.c.evse_id))
        .outerjoin(r, r.c.session_id == s.c.id)
        .where(cp.c.site_id == site_id, s.c.status == "active"))).all()
    statuses: dict[int, list[str | None]] = {}
    consumed: set[int] = set()
    for row in rows:
        statuses.setdefault(int(row.id), []).append(row.status)
        if row.reservation is not None:
            consumed.add(int(row.id))
    return {sid for sid, found in statuses.items()
            if all(rule_awaiting_car(status, sid in consumed) for status in found)}
