"""Alembic environment: run against the connection :func:`csms.store.migrate.upgrade` passes."""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection, create_engine

from csms.store.schema import metadata


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection, target_metadata=metadata, render_as_batch=True,
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


connection = context.config.attributes.get("connection")
if connection is not None:
    _run(connection)
else:  # the plain `alembic` command line, with a synchronous URL in sqlalchemy.url
    url = context.config.get_main_option("sqlalchemy.url")
    assert url, "set sqlalchemy.url, or use `csms db upgrade`"
    with create_engine(url).connect() as sync_connection:
        _run(sync_connection)
