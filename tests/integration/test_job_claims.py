"""Once-only jobs across nodes (csms.store.cluster.claims): of two nodes on one database,
each with its own engine and writer, one claims a job; a dead holder's claim is taken over;
two report schedulers generate a month once."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select

from csms.app import running
from csms.config import DatabaseSettings
from csms.services.city.monthly_reports import CLAIM_STALE, Reports
from csms.store import migrate
from csms.store.city.tables import monthly_reports
from csms.store.cluster import claims
from csms.store.engine import create_engine
from csms.store.writer import Writer
from tests.conftest import ManualClock, make_settings

T0 = datetime(2026, 12, 21, 1, 0, tzinfo=UTC)
STALE = timedelta(minutes=30)


@asynccontextmanager
async def node(database_url: str) -> AsyncIterator[Writer]:
    """A node's own engine and writer on the shared database."""
    engine = create_engine(DatabaseSettings(url=database_url, sqlite_synchronous="NORMAL"))
    writer = Writer(engine)
    task = asyncio.create_task(writer.run())
    try:
        yield writer
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await engine.dispose()


async def test_one_of_two_nodes_claims_a_job_and_a_done_job_stays_done(
    database_url: str,
) -> None:
    engine = create_engine(DatabaseSettings(url=database_url))
    await migrate.upgrade(engine)
    await engine.dispose()
    async with node(database_url) as a, node(database_url) as b:
        won = await asyncio.gather(claims.claim(a, "job-1", "A", T0, STALE),
                                   claims.claim(b, "job-1", "B", T0, STALE))
        assert sorted(won) == [False, True]
        holder, other = (a, "A") if won[0] else (b, "B")
        loser = "B" if other == "A" else "A"
        assert await claims.claim(holder, "job-1", other, T0, STALE)  # its own, still held
        assert not await claims.claim(a, "job-1", loser, T0 + STALE / 2, STALE)
        await claims.done(holder, "job-1", other, T0 + timedelta(minutes=1))
        assert not await claims.claim(a, "job-1", loser, T0 + 10 * STALE, STALE)


async def test_a_dead_holders_claim_is_taken_over_once(database_url: str) -> None:
    engine = create_engine(DatabaseSettings(url=database_url))
    await migrate.upgrade(engine)
    await engine.dispose()
    async with node(database_url) as a, node(database_url) as b:
        assert await claims.claim(a, "job-2", "DEAD", T0, STALE)  # then it died
        later = T0 + STALE + timedelta(seconds=1)
        won = await asyncio.gather(claims.claim(a, "job-2", "A", later, STALE),
                                   claims.claim(b, "job-2", "B", later, STALE))
        assert sorted(won) == [False, True]


async def test_two_report_schedulers_generate_a_month_once(database_url: str) -> None:
    """Both nodes past the 20th without November's report: exactly one generates it."""
    clock = ManualClock(datetime(2026, 12, 20, 19, 0, tzinfo=UTC))  # 03:00 on the 21st, local
    settings = make_settings(database_url)
    async with running(settings, clock) as app, node(database_url) as other:
        here = Reports(app.engine, app.store.writer, settings, clock, holder="here")
        there = Reports(app.engine, other, settings, clock, holder="there")
        made = await asyncio.gather(here.tick(), there.tick())
        assert sorted(made, key=str) == ["2026-11", None]
        async with app.engine.connect() as conn:
            stored = (await conn.execute(select(func.count()).select_from(monthly_reports)
                                         .where(monthly_reports.c.month == "2026-11"))).scalar()
        assert stored == 3  # the city's report in each format (no districts yet)
        clock.at += CLAIM_STALE * 2
        assert (None, None) == tuple(await asyncio.gather(here.tick(), there.tick()))
