"""``database.statement_timeout_s`` on PostgreSQL: a statement the server does not answer in
time fails (a node behind a silent partition stops waiting) rather than hanging."""

from __future__ import annotations

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from csms.config import DatabaseSettings
from csms.store.engine import create_engine

pytestmark = pytest.mark.postgres


@pytest.mark.parametrize("database_url", ["postgres"], indirect=True)
async def test_a_statement_unanswered_in_time_fails(database_url: str) -> None:
    engine = create_engine(DatabaseSettings(url=database_url, statement_timeout_s=0.5))
    try:
        async with engine.connect() as conn:
            assert 1 == (await conn.execute(text("SELECT 1"))).scalar_one()
            with pytest.raises(TimeoutError):
                await conn.execute(text("SELECT pg_sleep(5)"))
    finally:
        await engine.dispose()


@pytest.mark.parametrize("database_url", ["postgres"], indirect=True)
async def test_a_session_left_inside_a_transaction_is_ended_and_its_locks_released(
    database_url: str,
) -> None:
    """As a node cut off between its UPDATE and its COMMIT: the server ends that session
    after ``idle_in_transaction_timeout_s``, so another node's UPDATE of the same row goes
    through instead of waiting on the lock for as long as the partition lasts."""
    stuck = create_engine(DatabaseSettings(url=database_url,
                                           idle_in_transaction_timeout_s=0.5))
    other = create_engine(DatabaseSettings(url=database_url, statement_timeout_s=20.0,
                                           idle_in_transaction_timeout_s=0))
    try:
        async with other.begin() as conn:
            await conn.execute(text("CREATE TABLE lock_probe (id int PRIMARY KEY, n int)"))
            await conn.execute(text("INSERT INTO lock_probe VALUES (1, 0)"))
        async with stuck.connect() as cut_off:
            await cut_off.begin()
            await cut_off.execute(text("UPDATE lock_probe SET n = 1 WHERE id = 1"))
            # nothing more from this session: the partition swallows its COMMIT
            async with other.begin() as conn:  # waits on the row lock until it is released
                await conn.execute(text("UPDATE lock_probe SET n = 2 WHERE id = 1"))
            with pytest.raises(DBAPIError):  # the server ended the stuck session
                await cut_off.execute(text("SELECT 1"))
        async with other.connect() as conn:
            assert 2 == (await conn.execute(text("SELECT n FROM lock_probe"))).scalar_one()
    finally:
        await stuck.dispose()
        await other.dispose()
