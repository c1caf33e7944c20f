"""Engine construction: SQLite (WAL, foreign keys on) or PostgreSQL (asyncpg) by URL."""

from __future__ import annotations

from typing import Any

from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from csms.config import DatabaseSettings
from csms.store.checkpoint import Checkpointer, database_file
from csms.store.sqlite_hops import OneHopDbapi


def create_engine(settings: DatabaseSettings) -> AsyncEngine:
    """An async engine for ``settings.url``; SQLite connections get the pragmas we rely on
    and run each statement in one hand-over to their thread (csms.store.sqlite_hops), and
    leave checkpoints to :func:`checkpointer` unless its interval is 0."""
    if settings.url.startswith("sqlite"):
        engine = create_async_engine(settings.url, pool_size=settings.pool_size,
                                     module=OneHopDbapi.load())
        synchronous = settings.sqlite_synchronous
        own_checkpoints = settings.sqlite_checkpoint_interval_s > 0  # csms.store.checkpoint

        @event.listens_for(engine.sync_engine, "connect")
        def _pragmas(dbapi_connection: Any, _record: Any) -> None:
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute(f"PRAGMA synchronous={synchronous}")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA busy_timeout=10000")
            if own_checkpoints:
                cursor.execute("PRAGMA wal_autocheckpoint=0")
            cursor.close()

        return engine
    limit = settings.statement_timeout_s or None
    idle_ms = round(settings.idle_in_transaction_timeout_s * 1000)
    return create_async_engine(
        settings.url, pool_size=settings.pool_size, max_overflow=settings.pool_size,
        pool_pre_ping=True,
        connect_args={"command_timeout": limit, "timeout": limit or 60.0,
                      "server_settings": {"idle_in_transaction_session_timeout": str(idle_ms)}},
    )


def checkpointer(settings: DatabaseSettings) -> Checkpointer | None:
    """The WAL checkpointer of a SQLite database file (csms.store.checkpoint rule 1), not
    started; None for PostgreSQL, in-memory databases and an interval of 0."""
    path = database_file(settings.url)
    if path is None or settings.sqlite_checkpoint_interval_s <= 0:
        return None
    return Checkpointer(path, settings.sqlite_checkpoint_interval_s,
                        settings.sqlite_synchronous)
