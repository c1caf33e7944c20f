"""Webhook subscriptions and the durable outbox of their deliveries.

Rules:
1. :func:`enqueue_notifications` inserts one outbox row per matching active subscription in
   the caller's transaction: a notice recorded in that transaction is durably queued for
   every subscriber, or not recorded at all.
2. :meth:`Outbox.claim` leases due rows (pushes their ``next_attempt_at`` past the attempt's
   timeout) in one transaction, with ``FOR UPDATE SKIP LOCKED`` on PostgreSQL, so two nodes
   never attempt the same row at once and a crash mid-attempt only delays it to the lease end.
   Only the oldest pending row of each subscription and charge point is ever claimed, so
   one charger's deliveries reach a subscriber in the order they were queued, whichever
   node queued or sends them (a row that keeps failing holds the ones behind it until it
   is delivered or given up).
3. A delivery is sent at least once; its ``delivery_id`` lets the receiver drop repeats.
4. Subscription writes are audited; deletion deactivates (the outbox keeps its owner).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Final

from sqlalchemy import func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from csms.services.sharing.feed import Notice
from csms.store.access import audit
from csms.store.queries import Window, equal_to, newest_first
from csms.store.rows import utc
from csms.store.sharing.tables import webhook_outbox as ob
from csms.store.sharing.tables import webhook_subscriptions as subs
from csms.store.writer import Writer, WriteTx

_ACTIVE: Final = ("sharing.active_subscriptions",)  # WriteTx.cache key

KINDS = ("alarm", "connector_status", "station_event", "report")
PENDING, DELIVERED, FAILED = "pending", "delivered", "failed"


@dataclass(frozen=True, slots=True)
class Subscription:
    id: int
    url: str
    district_id: int | None
    community_id: int | None
    kinds: tuple[str, ...]
    min_level: int
    active: bool
    description: str | None
    created_by: str
    created_at: datetime
    secret: str


@dataclass(frozen=True, slots=True)
class Delivery:
    id: int
    delivery_id: str
    subscription_id: int
    kind: str
    payload: dict[str, Any]
    status: str
    attempts: int
    created_at: datetime
    next_attempt_at: datetime
    delivered_at: datetime | None
    last_error: str | None
    url: str = ""
    secret: str = ""


def matches(sub: Subscription, notice: Notice) -> bool:
    """Whether ``sub`` wants ``notice``: kind, alarm level, and scope (a scoped subscription
    never receives a notice that lies in no community)."""
    if not sub.active or notice.kind not in sub.kinds:
        return False
    if notice.level is not None and notice.level > sub.min_level:
        return False
    if sub.community_id is not None:
        return notice.community_id == sub.community_id
    if sub.district_id is not None:
        return notice.district_id == sub.district_id
    return True


def _subscription(row: Any) -> Subscription:
    return Subscription(row.id, row.url, row.district_id, row.community_id,
                        tuple(row.kinds), row.min_level, bool(row.active), row.description,
                        row.created_by, utc(row.created_at), row.secret)


def _delivery(row: Any) -> Delivery:
    extra = {"url": row.url, "secret": row.secret} if "url" in row._fields else {}
    return Delivery(row.id, row.delivery_id, row.subscription_id, row.kind, row.payload,
                    row.status, row.attempts, utc(row.created_at), utc(row.next_attempt_at),
                    None if row.delivered_at is None else utc(row.delivered_at),
                    row.last_error, **extra)


async def enqueue_notifications(tx: WriteTx, notice: Notice, now: datetime) -> int:
    """Rule 1: queue ``notice`` for every matching subscription; how many rows. The active
    subscriptions are read once a batch (writer rule 6: the units that change them do not
    keep the cache)."""
    active: list[Subscription] | None = tx.cache.get(_ACTIVE)
    if active is None:
        active = tx.cache[_ACTIVE] = [_subscription(row) for row in (await tx.conn.execute(
            select(subs).where(subs.c.active.is_(True)))).all()]
    rows = [{
        "delivery_id": str(uuid.uuid4()), "subscription_id": sub.id, "kind": notice.kind,
        "station_id": notice.station_id, "payload": notice.body(), "status": PENDING,
        "attempts": 0, "created_at": now, "next_attempt_at": now,
    } for sub in active if matches(sub, notice)]
    if rows:
        await tx.conn.execute(insert(ob), rows)
    return len(rows)


class Outbox:
    """Subscriptions (CRUD) and deliveries (claim, record outcome, list)."""

    def __init__(self, engine: AsyncEngine, writer: Writer) -> None:
        self._engine = engine
        self._writer = writer

    async def add(self, values: dict[str, Any], actor: str, now: datetime) -> Subscription:
        """Create a subscription from ``url``, ``secret``, ``district_id``,
        ``community_id``, ``kinds``, ``min_level``, ``description``."""
        async def unit(tx: WriteTx) -> int:
            new_id = (await tx.conn.execute(insert(subs).values(
                **values, created_by=actor, created_at=now, active=True)
                .returning(subs.c.id))).scalar_one()
            shown = {k: v for k, v in values.items() if k != "secret"}
            audit(tx, actor, "create", "webhook_subscription", new_id, shown, at=now)
            return int(new_id)

        found = await self.get(await self._writer.submit(unit))
        assert found is not None
        return found

    async def deactivate(self, sub_id: int, actor: str, now: datetime) -> bool:
        async def unit(tx: WriteTx) -> bool:
            result = await tx.conn.execute(update(subs).where(
                subs.c.id == sub_id, subs.c.active.is_(True)).values(active=False))
            if result.rowcount:
                audit(tx, actor, "delete", "webhook_subscription", sub_id, at=now)
            return bool(result.rowcount)

        return await self._writer.submit(unit)

    async def get(self, sub_id: int) -> Subscription | None:
        async with self._engine.connect() as conn:
            row = (await conn.execute(select(subs).where(subs.c.id == sub_id))).one_or_none()
        return None if row is None else _subscription(row)

    async def subscriptions(self) -> list[Subscription]:
        async with self._engine.connect() as conn:
            return [_subscription(r) for r in await conn.execute(
                select(subs).order_by(subs.c.id))]

    async def deliveries(self, sub_id: int | None, status: str | None, limit: int,
                         offset: int) -> tuple[list[Delivery], int]:
        """Deliveries, newest first, filtered by subscription and status; and the total."""
        total, rows = await newest_first(self._engine, ob, equal_to(
            (ob.c.subscription_id, sub_id), (ob.c.status, status)), Window(limit, offset))
        return [_delivery(r) for r in rows], int(total)

    async def claim(self, now: datetime, lease: timedelta, limit: int) -> list[Delivery]:
        """Rule 2: lease up to ``limit`` due pending deliveries, oldest first, each the
        oldest pending one of its subscription and charge point."""
        heads = (select(func.min(ob.c.id)).where(ob.c.status == PENDING)
                 .group_by(ob.c.subscription_id, ob.c.station_id))

        async def unit(tx: WriteTx) -> list[Delivery]:
            query = (select(ob, subs.c.url, subs.c.secret)
                     .join(subs, subs.c.id == ob.c.subscription_id)
                     .where(ob.c.status == PENDING, ob.c.next_attempt_at <= now,
                            ob.c.id.in_(heads.scalar_subquery()))
                     .order_by(ob.c.next_attempt_at, ob.c.id).limit(limit))
            if tx.conn.dialect.name == "postgresql":
                query = query.with_for_update(of=ob, skip_locked=True)
            rows = (await tx.conn.execute(query)).all()
            if rows:
                await tx.conn.execute(update(ob).where(ob.c.id.in_([r.id for r in rows]))
                                      .values(next_attempt_at=now + lease))
            return [_delivery(r) for r in rows]

        # writes only the outbox, which no batch cache or finisher reads (writer rule 6)
        return await self._writer.submit(unit, keeps_cache=True)

    async def delivered(self, row_id: int, now: datetime) -> None:
        await self._record(row_id, {"status": DELIVERED, "delivered_at": now,
                                    "last_error": None})

    async def failed(self, row_id: int, error: str, retry_at: datetime | None) -> None:
        """Record a failed attempt: retry at ``retry_at``, or give up (None)."""
        values: dict[str, Any] = {"last_error": error[:200]}
        values.update({"status": FAILED} if retry_at is None else {"next_attempt_at": retry_at})
        await self._record(row_id, values)

    async def _record(self, row_id: int, values: dict[str, Any]) -> None:
        async def unit(tx: WriteTx) -> None:
            await tx.conn.execute(update(ob).where(ob.c.id == row_id).values(
                attempts=ob.c.attempts + 1, **values))

        await self._writer.submit(unit, keeps_cache=True)  # as claim

    async def next_due(self) -> datetime | None:
        """When the earliest pending delivery is due (None: nothing pending)."""
        async with self._engine.connect() as conn:
            due = (await conn.execute(select(func.min(ob.c.next_attempt_at))
                                      .where(ob.c.status == PENDING))).scalar_one()
        return None if due is None else utc(due)
