"""SQLite statements in one hand-over each (csms.store.sqlite_hops), against a real file."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiosqlite.core
import pytest
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine

from csms.config import DatabaseSettings
from csms.store.engine import create_engine
from csms.store.sqlite_hops import OneHopCursor


@pytest.fixture
async def engine(tmp_path: Path) -> AsyncIterator[AsyncEngine]:
    made = create_engine(DatabaseSettings(url=f"sqlite+aiosqlite:///{tmp_path / 'h.db'}"))
    async with made.begin() as conn:
        await conn.execute(text(
            "CREATE TABLE t (id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE)"))
    yield made
    await made.dispose()


@pytest.fixture
def jobs(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The names of the functions handed to aiosqlite's thread, in order."""
    seen: list[str] = []
    original = aiosqlite.core.Connection._execute

    async def counted(self: Any, fn: Any, *args: Any, **kwargs: Any) -> Any:
        seen.append(getattr(fn, "__name__", repr(fn)))
        return await original(self, fn, *args, **kwargs)  # type: ignore[no-untyped-call]

    monkeypatch.setattr(aiosqlite.core.Connection, "_execute", counted)
    return seen


class TestOneHop:
    async def test_a_statement_is_one_job(self, engine: AsyncEngine, jobs: list[str]) -> None:
        """A SELECT with rows and an INSERT each take one job in SQLite's thread (the stock
        adapter took three or four: cursor, execute, fetch, close)."""
        async with engine.connect() as conn:
            jobs.clear()
            assert 1 == (await conn.execute(text("SELECT 1"))).scalar_one()
            await conn.execute(text("INSERT INTO t (name) VALUES ('a')"))
            assert ["_run", "_run"] == jobs
            await conn.rollback()

    async def test_results_are_what_the_driver_reported(self, engine: AsyncEngine) -> None:
        """Rows, column names, rowcount and lastrowid come through, executemany too."""
        async with engine.begin() as conn:
            first = await conn.execute(text("INSERT INTO t (name) VALUES ('a')"))
            assert 1 == first.lastrowid
            many = await conn.execute(text("INSERT INTO t (name) VALUES (:n)"),
                                      [{"n": "b"}, {"n": "c"}])
            assert 2 == many.rowcount
            changed = await conn.execute(text("UPDATE t SET name = name || '!' WHERE id > 1"))
            assert 2 == changed.rowcount
            rows = (await conn.execute(text("SELECT id, name FROM t ORDER BY id"))).all()
        assert [(1, "a"), (2, "b!"), (3, "c!")] == [tuple(r) for r in rows]
        assert ("id", "name") == tuple(rows[0]._fields)

    async def test_errors_are_translated_and_savepoints_roll_back(
            self, engine: AsyncEngine) -> None:
        """A unique violation is SQLAlchemy's IntegrityError; a savepoint rolls back alone."""
        async with engine.begin() as conn:
            await conn.execute(text("INSERT INTO t (name) VALUES ('a')"))

            async def twice() -> None:
                async with conn.begin_nested():
                    await conn.execute(text("INSERT INTO t (name) VALUES ('b')"))
                    await conn.execute(text("INSERT INTO t (name) VALUES ('a')"))

            with pytest.raises(IntegrityError):
                await twice()
        async with engine.connect() as conn:
            names = (await conn.execute(text("SELECT name FROM t"))).scalars().all()
        assert ["a"] == list(names)

    async def test_the_engine_uses_it(self, engine: AsyncEngine) -> None:
        """Every SQLite connection of the store's engine has the one-hop cursor."""
        async with engine.connect() as conn:
            raw = await conn.get_raw_connection()
            assert isinstance(raw.dbapi_connection.cursor(), OneHopCursor)  # type: ignore[union-attr]
