"""The alembic migrations build exactly the schema the tables describe, on both databases."""

from __future__ import annotations

from alembic import command
from sqlalchemy import Connection

from csms.config import DatabaseSettings
from csms.store import migrate
from csms.store.engine import create_engine


async def test_migrations_match_the_table_definitions(database_url: str) -> None:
    """After upgrade to head, autogenerate finds nothing left to migrate."""
    engine = create_engine(DatabaseSettings(url=database_url))
    try:
        await migrate.upgrade(engine)

        def check(connection: Connection) -> None:
            command.check(migrate.alembic_config(connection))  # raises if models drifted

        async with engine.connect() as conn:
            await conn.run_sync(check)
    finally:
        await engine.dispose()
