"""The platform outbox (csms.store.platform) on both databases: claim order and leases, one
order at a time, parking, retry and superseding."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest

from csms.config import DatabaseSettings
from csms.store.engine import create_engine
from csms.store.platform import (
    CHARGE_ORDER,
    DELIVERED,
    PARKED,
    PENDING,
    STATION_STATUS,
    SUPERSEDED,
    PushStore,
    queue,
)
from csms.store.writer import Writer, WriteTx

AT = datetime(2027, 3, 10, 15, 59, 30, tzinfo=UTC)
LEASE = timedelta(seconds=10)


@pytest.fixture
async def pushes(database_url: str) -> AsyncIterator[PushStore]:
    engine = create_engine(DatabaseSettings(url=database_url))
    writer = Writer(engine, 100, clock=lambda: AT)
    import asyncio

    task = asyncio.create_task(writer.run())
    try:
        yield PushStore(engine, writer)
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await engine.dispose()


async def _queue(store: PushStore, *items: tuple[str, str]) -> None:
    async def unit(tx: WriteTx) -> None:
        for interface, key in items:
            queue(tx, interface, key, {"k": key})

    await store._writer.submit(unit)


async def _statuses(store: PushStore) -> list[str]:
    items, _ = await store.pushes(None, None, 100, 0)
    return [p.status for p in reversed(items)]


async def test_claims_one_order_and_leases_by_place_in_key(pushes: PushStore) -> None:
    """Oldest first, one charge order per claim; the second push of a key is leased twice
    as long; claimed pushes are not claimed again within their lease."""
    await _queue(pushes, (CHARGE_ORDER, "order:1"), (CHARGE_ORDER, "order:2"),
                 (STATION_STATUS, "status:A"), (STATION_STATUS, "status:A"),
                 (STATION_STATUS, "status:B"))
    got = await pushes.claim(AT, LEASE, 8)
    assert ["order:1", "status:A", "status:A", "status:B"] == [p.push_key for p in got]
    assert [] == [p.push_key for p in await pushes.claim(AT, LEASE, 8)
                  if p.push_key != "order:2"]
    stored = {p.id: p for p in (await pushes.pushes(None, None, 100, 0))[0]}
    leases = [stored[p.id].next_attempt_at - AT for p in got]
    assert [LEASE, LEASE, 2 * LEASE, LEASE] == leases


async def test_park_retry_and_supersede(pushes: PushStore) -> None:
    """The last failed attempt parks a push; retry makes it pending with no attempts; a
    newer status delivered supersedes an older one waiting."""
    await _queue(pushes, (STATION_STATUS, "status:A"), (STATION_STATUS, "status:A"))
    old, new = await pushes.claim(AT, LEASE, 8)
    await pushes.failed(old.id, "Ret -1: busy", None)
    assert [PARKED, PENDING] == await _statuses(pushes)
    assert 1 == await pushes.retry(None, AT)
    assert (PENDING, 0) == ((p := await pushes.get(old.id)) and (p.status, p.attempts))
    await pushes.delivered(new, AT)
    assert [SUPERSEDED, DELIVERED] == await _statuses(pushes)
    assert None is await pushes.next_due()
