"""``database.statement_timeout_s`` on PostgreSQL: a statement the server does not answer in
time fails (a node behind a silent partition stops waiting) rather than hanging."""

from __future__ import annotations

import pytest
from sqlalchemy import text

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
