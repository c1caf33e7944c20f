"""The outbox of pushes to the municipal platform: queue in a unit, claim, record outcomes.

Rules (and those of :mod:`csms.store.platform.tables`):
1. :func:`queue` adds a row to the caller's unit of work (it commits with its cause).
2. :meth:`PushStore.claim` leases due rows, oldest first (pushes ``next_attempt_at`` past
   the attempt's timeout), with ``FOR UPDATE SKIP LOCKED`` on PostgreSQL: two nodes never
   send the same row at once, and a crash mid-attempt only delays it to the lease end. At
   most one charge order is claimed at a time: delivery is at least once, and a crash can
   repeat only what was in flight, so at most one order (its StartChargeSeq tells the
   platform it is a repeat); statuses are repeated harmlessly.
3. Pushes of one ``push_key`` (a connector's status) are sent in order, each of them, one
   after the other; once a status or station push is delivered, the older ones of its key
   still pending or parked (waiting for a retry) are superseded: the platform never gets
   an older status after a newer one.
4. A parked push goes back to pending with :meth:`PushStore.retry` (attempts reset).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from csms.store.platform.tables import platform_pushes as pp
from csms.store.queries import Window, equal_to, newest_first
from csms.store.rows import utc
from csms.store.writer import Writer, WriteTx

PENDING, DELIVERED, PARKED, SUPERSEDED = "pending", "delivered", "parked", "superseded"
STATUSES = (PENDING, DELIVERED, PARKED, SUPERSEDED)
STATION_INFO = "notification_stationInfo"
STATION_STATUS = "notification_stationStatus"
CHARGE_ORDER = "notification_charge_order_info"
ALARM_INFO = "notification_alarmInfo"  # safety-platform extension (platform.send_alarms)
LATEST_WINS = frozenset({STATION_INFO, STATION_STATUS})  # only the newest of a key matters


@dataclass(frozen=True, slots=True)
class Push:
    id: int
    interface: str
    push_key: str
    payload: dict[str, Any]
    status: str
    attempts: int
    created_at: datetime
    next_attempt_at: datetime
    delivered_at: datetime | None
    last_error: str | None


def _push(row: Any) -> Push:
    return Push(row.id, row.interface, row.push_key, row.payload, row.status, row.attempts,
                utc(row.created_at), utc(row.next_attempt_at),
                None if row.delivered_at is None else utc(row.delivered_at), row.last_error)


def queue(tx: WriteTx, interface: str, key: str, payload: dict[str, Any]) -> None:
    """Rule 1: a pending push, inserted with the unit's other writes."""
    tx.insert_later(pp, [{"interface": interface, "push_key": key, "payload": payload,
                          "status": PENDING, "attempts": 0, "created_at": tx.now,
                          "next_attempt_at": tx.now}])


async def has_order(tx: WriteTx, key: str) -> bool:
    """Whether an order push with ``key`` exists (queued earlier, or earlier in the batch)."""
    await tx.flush()
    found = await tx.conn.execute(select(pp.c.id).where(pp.c.push_key == key).limit(1))
    return found.first() is not None


class PushStore:
    """Claims, outcomes and listings of the outbox (rules 2–4)."""

    def __init__(self, engine: AsyncEngine, writer: Writer) -> None:
        self._engine = engine
        self._writer = writer

    async def claim(self, now: datetime, lease: timedelta, limit: int) -> list[Push]:
        """Rule 2, oldest first. Pushes of one key are sent one after the other (rule 3), so
        the k-th of a key in the claim is leased k times ``lease``."""
        async def unit(tx: WriteTx) -> list[Push]:
            due = select(pp).where(pp.c.status == PENDING, pp.c.next_attempt_at <= now)
            rows: list[Any] = []
            for query in (due.where(pp.c.interface == CHARGE_ORDER).order_by(pp.c.id).limit(1),
                          due.where(pp.c.interface != CHARGE_ORDER).order_by(pp.c.id)
                          .limit(limit - 1)):
                if tx.conn.dialect.name == "postgresql":
                    query = query.with_for_update(skip_locked=True)
                rows += (await tx.conn.execute(query)).all()
            rows.sort(key=lambda r: r.id)
            place: dict[int, list[int]] = {}
            seen: dict[str, int] = {}
            for r in rows:
                seen[r.push_key] = seen.get(r.push_key, 0) + 1
                place.setdefault(seen[r.push_key], []).append(r.id)
            for k, ids in place.items():
                await tx.conn.execute(update(pp).where(pp.c.id.in_(ids)).values(
                    next_attempt_at=now + lease * k))
            return [_push(r) for r in rows]

        return await self._writer.submit(unit)

    async def delivered(self, push: Push, now: datetime) -> None:
        """Record a delivery; rule 3 for status pushes."""
        async def unit(tx: WriteTx) -> None:
            await tx.conn.execute(update(pp).where(pp.c.id == push.id).values(
                status=DELIVERED, delivered_at=now, last_error=None,
                attempts=pp.c.attempts + 1))
            if push.interface in LATEST_WINS:
                await tx.conn.execute(update(pp).where(
                    pp.c.push_key == push.push_key, pp.c.id < push.id,
                    pp.c.status.in_((PENDING, PARKED))).values(status=SUPERSEDED))

        await self._writer.submit(unit)

    async def failed(self, push_id: int, error: str, retry_at: datetime | None) -> None:
        """Record a failed attempt: retry at ``retry_at``, or park it (None)."""
        values: dict[str, Any] = {"last_error": error[:200], "attempts": pp.c.attempts + 1}
        values.update({"status": PARKED} if retry_at is None else {"next_attempt_at": retry_at})

        async def unit(tx: WriteTx) -> None:
            await tx.conn.execute(update(pp).where(pp.c.id == push_id).values(**values))

        await self._writer.submit(unit)

    async def retry(self, push_id: int | None, now: datetime) -> int:
        """Rule 4: one parked push (or all, ``push_id`` None) back to pending; how many."""
        async def unit(tx: WriteTx) -> int:
            where = [pp.c.status == PARKED] + ([] if push_id is None else [pp.c.id == push_id])
            result = await tx.conn.execute(update(pp).where(*where).values(
                status=PENDING, attempts=0, next_attempt_at=now))
            return int(result.rowcount or 0)

        return await self._writer.submit(unit)

    async def pushes(self, status: str | None, interface: str | None, limit: int,
                     offset: int) -> tuple[list[Push], int]:
        """Pushes, newest first, filtered by status and interface; and the total."""
        total, rows = await newest_first(self._engine, pp, equal_to(
            (pp.c.status, status), (pp.c.interface, interface)), Window(limit, offset))
        return [_push(r) for r in rows], int(total)

    async def get(self, push_id: int) -> Push | None:
        async with self._engine.connect() as conn:
            row = (await conn.execute(select(pp).where(pp.c.id == push_id))).one_or_none()
        return None if row is None else _push(row)

    async def next_due(self) -> datetime | None:
        """When the earliest pending push is due (None: nothing pending)."""
        async with self._engine.connect() as conn:
            due = (await conn.execute(select(func.min(pp.c.next_attempt_at))
                                      .where(pp.c.status == PENDING))).scalar_one()
        return None if due is None else utc(due)

    async def sent_orders(self) -> list[dict[str, Any]]:
        """The data of every charge order queued (what the platform is told)."""
        async with self._engine.connect() as conn:
            rows = await conn.execute(select(pp.c.payload).where(
                pp.c.interface == CHARGE_ORDER).order_by(pp.c.id))
            return [dict(r.payload) for r in rows]
