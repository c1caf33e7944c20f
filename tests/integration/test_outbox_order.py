"""The webhook outbox hands out one charger's deliveries in order: only the oldest pending
row of each subscription and charge point can be claimed (both databases)."""

from __future__ import annotations

import asyncio
import uuid
from datetime import timedelta

from sqlalchemy import insert

from csms.app import Csms
from csms.services.sharing.feed import Notice
from csms.store.sharing.outbox import Outbox, enqueue_notifications
from csms.store.sharing.tables import webhook_outbox, webhook_subscriptions
from csms.store.writer import WriteTx
from tests.conftest import until
from tests.integration.test_load_support import EVENING

LEASE = timedelta(seconds=30)


async def queued(csms: Csms, stations: list[str | None]) -> tuple[Outbox, list[str]]:
    """One subscription and a delivery per entry of ``stations``, in that order; their ids."""
    ids = [str(uuid.uuid4()) for _ in stations]
    async with csms.engine.begin() as conn:
        sub = (await conn.execute(insert(webhook_subscriptions).values(
            url="http://127.0.0.1:9/hook", secret="s" * 20, kinds=["connector_status"],
            min_level=3, active=True, created_by="test", created_at=EVENING,
        ).returning(webhook_subscriptions.c.id))).scalar_one()
        await conn.execute(insert(webhook_outbox), [{
            "delivery_id": d, "subscription_id": sub, "kind": "connector_status",
            "station_id": station, "payload": {"n": n}, "status": "pending", "attempts": 0,
            "created_at": EVENING, "next_attempt_at": EVENING,
        } for n, (d, station) in enumerate(zip(ids, stations, strict=True))])
    return Outbox(csms.engine, csms.store.writer), ids


async def test_only_the_oldest_pending_delivery_of_a_charger_is_claimed(csms: Csms) -> None:
    """X1 X2 Y1 X3: the first claim gets X1 and Y1; while they are leased, nothing; once X1
    is delivered, X2; a failure of Y1 (retried later) holds nothing of X back."""
    outbox, (x1, x2, y1, x3) = await queued(csms, ["CP-X", "CP-X", "CP-Y", "CP-X"])
    now = EVENING + timedelta(seconds=1)
    first = await outbox.claim(now, LEASE, 8)
    assert [x1, y1] == [d.delivery_id for d in first]
    assert [] == await outbox.claim(now, LEASE, 8)
    by_id = {d.delivery_id: d.id for d in first}
    await outbox.delivered(by_id[x1], now)
    await outbox.failed(by_id[y1], "HTTP 503", now + timedelta(seconds=5))
    second = await outbox.claim(now, LEASE, 8)
    assert [x2] == [d.delivery_id for d in second]
    await outbox.delivered(second[0].id, now)
    later = now + timedelta(seconds=6)
    assert [y1, x3] == sorted([d.delivery_id for d in await outbox.claim(later, LEASE, 8)],
                              key=[y1, x3].index)


async def test_a_given_up_delivery_no_longer_holds_the_next(csms: Csms) -> None:
    outbox, (x1, x2) = await queued(csms, ["CP-X", "CP-X"])
    now = EVENING + timedelta(seconds=1)
    [first] = await outbox.claim(now, LEASE, 8)
    assert x1 == first.delivery_id
    await outbox.failed(first.id, "HTTP 410", None)  # given up
    assert [x2] == [d.delivery_id for d in await outbox.claim(now, LEASE, 8)]


async def test_a_subscription_ended_mid_batch_gets_no_notice_after_it(csms: Csms) -> None:
    """The active subscriptions are read once a batch (writer rule 6): a notice, the
    subscription deactivated, a notice, all in one batch: only the first is queued for it."""
    outbox, _ = await queued(csms, ["CP-Y"])
    [sub] = await outbox.subscriptions()
    notice = Notice("connector_status", EVENING, "CP-X", None, None, {"status": "Faulted"})
    writer, gate, held = csms.store.writer, asyncio.Event(), asyncio.Event()

    async def hold(tx: WriteTx) -> None:  # the batch before: the next three queue up
        held.set()
        await gate.wait()

    async def notify(tx: WriteTx) -> int:
        return await enqueue_notifications(tx, notice, EVENING)

    blocker = asyncio.create_task(writer.submit(hold))
    await held.wait()
    first = asyncio.create_task(writer.submit(notify, keeps_cache=True))
    ended = asyncio.create_task(outbox.deactivate(sub.id, "test", EVENING))
    second = asyncio.create_task(writer.submit(notify, keeps_cache=True))
    await until(lambda: writer.queued == 3)
    gate.set()
    await blocker
    assert (await first, await ended, await second) == (1, True, 0)
