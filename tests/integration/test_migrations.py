"""The alembic migrations build exactly the schema the tables describe, on both databases."""

from __future__ import annotations

from alembic import command
from sqlalchemy import Connection, inspect

from csms.config import DatabaseSettings
from csms.store import migrate
from csms.store.engine import create_engine


async def test_migrations_match_the_table_definitions(empty_database_url: str) -> None:
    """After upgrade from an empty database to head, autogenerate finds nothing left to
    migrate."""
    engine = create_engine(DatabaseSettings(url=empty_database_url))
    try:
        await migrate.upgrade(engine)

        def check(connection: Connection) -> None:
            command.check(migrate.alembic_config(connection))  # raises if models drifted

        async with engine.connect() as conn:
            await conn.run_sync(check)
    finally:
        await engine.dispose()


async def test_every_migration_downgrades_and_upgrades_again(empty_database_url: str) -> None:
    """Head, down to an empty schema, and back to head: every downgrade undoes its upgrade
    (triggers included), so a later upgrade does not trip over leftovers."""
    engine = create_engine(DatabaseSettings(url=empty_database_url))
    try:
        await migrate.upgrade(engine)

        def down(connection: Connection) -> None:
            command.downgrade(migrate.alembic_config(connection), "base")

        async with engine.begin() as conn:
            await conn.run_sync(down)
        async with engine.connect() as conn:
            left = await conn.run_sync(
                lambda sync: set(inspect(sync).get_table_names()) - {"alembic_version"})
        assert set() == left
        await migrate.upgrade(engine)
    finally:
        await engine.dispose()
