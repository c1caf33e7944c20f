"""Webhook deliveries survive a crash: the CSMS (a real ``csms run`` process) is SIGKILLed
while deliveries are pending; after a restart every delivery arrives, each delivery id
accepted by the receiver (which drops repeats by id)."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import func, insert, select

from csms.config import DatabaseSettings
from csms.store import migrate
from csms.store import tables as t
from csms.store.engine import create_engine
from csms.store.sharing.tables import webhook_outbox, webhook_subscriptions
from tests.api.test_webhooks import SECRET, Receiver
from tests.conftest import eventually, until

PENDING = 20


def config(tmp_path: Path, database_url: str) -> Path:
    path = tmp_path / "csms.toml"
    path.write_text(f"""
[server]
host = "127.0.0.1"
port = 0
[api]
host = "127.0.0.1"
port = 0
[database]
url = "{database_url}"
sqlite_synchronous = "NORMAL"
[logging]
level = "warning"
format = "json"
[sharing]
webhook_backoff_initial_s = 0.1
webhook_backoff_max_s = 0.5
webhook_poll_interval_s = 0.2
webhook_max_attempts = 1000
# Rows in flight at the kill stay leased for 2 x timeout + 5 s: keep the wait short.
webhook_timeout_s = 1.0
""", encoding="utf-8")
    return path


async def seed(database_url: str, url: str) -> set[str]:
    """A subscription for community A and PENDING deliveries queued for it."""
    engine = create_engine(DatabaseSettings(url=database_url))
    now = datetime.now(UTC)
    ids = {str(uuid.uuid4()) for _ in range(PENDING)}
    try:
        await migrate.upgrade(engine)
        async with engine.begin() as conn:
            district = (await conn.execute(insert(t.districts).values(name="五华区")
                        .returning(t.districts.c.id))).scalar_one()
            community = (await conn.execute(insert(t.communities).values(
                district_id=district, name="A").returning(t.communities.c.id))).scalar_one()
            sub = (await conn.execute(insert(webhook_subscriptions).values(
                url=url, secret=SECRET, community_id=community, kinds=["alarm"],
                min_level=3, active=True, created_by="test", created_at=now)
                .returning(webhook_subscriptions.c.id))).scalar_one()
            await conn.execute(insert(webhook_outbox), [{
                "delivery_id": d, "subscription_id": sub, "kind": "alarm",
                "payload": {"kind": "alarm", "data": {"n": n}}, "status": "pending",
                "attempts": 0, "created_at": now, "next_attempt_at": now,
            } for n, d in enumerate(sorted(ids))])
    finally:
        await engine.dispose()
    return ids


async def delivered(database_url: str) -> int:
    engine = create_engine(DatabaseSettings(url=database_url))
    try:
        async with engine.connect() as conn:
            return int((await conn.execute(select(func.count()).select_from(webhook_outbox)
                        .where(webhook_outbox.c.status == "delivered"))).scalar_one())
    finally:
        await engine.dispose()


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    found = Receiver()
    await found.start()
    yield found
    await found.stop()


async def start(path: Path, log: Path) -> asyncio.subprocess.Process:
    with log.open("ab") as out:
        return await asyncio.create_subprocess_exec(
            sys.executable, "-m", "csms", "--config", str(path), "run",
            stdout=out, stderr=out, env=dict(os.environ))  # a faked clock included


async def test_pending_deliveries_arrive_once_per_id_after_a_kill(
    tmp_path: Path, database_url: str, receiver: Receiver
) -> None:
    """Five accepted, the rest refused (503) and pending when the process is killed; after
    the restart all twenty delivery ids are accepted and marked delivered."""
    ids = await seed(database_url, receiver.url())
    receiver.script = [200] * 5
    receiver.default = 503
    path, log = config(tmp_path, database_url), tmp_path / "csms.log"
    first = await start(path, log)
    try:
        await until(lambda: len(receiver.requests), lambda n: n >= 30,
                         timeout_s=60)
    finally:
        first.send_signal(signal.SIGKILL)
        await first.wait()
    assert 5 == len(receiver.accepted)
    receiver.default = 200
    second = await start(path, log)
    try:
        await until(lambda: set(receiver.accepted),
                         lambda seen: seen == ids, timeout_s=60)
        assert PENDING == await eventually(lambda: delivered(database_url),
                                           lambda n: n == PENDING, timeout_s=30)
    finally:
        second.send_signal(signal.SIGTERM)
        assert 0 == await asyncio.wait_for(second.wait(), 30), log.read_text()
    assert ids == set(receiver.accepted)
    assert all(n == 1 for n in receiver.accepted.values()), receiver.accepted
    assert {r.delivery_id for r in receiver.requests if r.status == 503} <= ids
