"""SQLite checkpoints off the writer's path (csms.store.checkpoint): commits only append to
the write-ahead log, the checkpointer copies it back, the running CSMS checkpoints."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from csms.app import Csms
from csms.config import DatabaseSettings
from csms.store.checkpoint import Checkpointer, database_file
from csms.store.engine import checkpointer, create_engine
from tests.conftest import until

DATABASES_SQLITE = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
PAGE = 4096


def _settings(path: Path, interval_s: float) -> DatabaseSettings:
    return DatabaseSettings(url=f"sqlite+aiosqlite:///{path}", sqlite_synchronous="NORMAL",
                            sqlite_checkpoint_interval_s=interval_s)


async def _write(engine: AsyncEngine, commits: int, rows: int = 10) -> int:
    """``commits`` commits of ``rows`` rows of 1 KiB each; the engine's wal_autocheckpoint.
    The engine stays open: closing the last connection would fold the log in by itself."""
    async with engine.begin() as conn:
        await conn.execute(text("CREATE TABLE IF NOT EXISTS blobs (b BLOB)"))
    for _ in range(commits):
        async with engine.begin() as conn:
            await conn.execute(text("INSERT INTO blobs VALUES (randomblob(1024))"),
                               [{}] * rows)
    async with engine.connect() as conn:
        return int((await conn.execute(text("PRAGMA wal_autocheckpoint"))).scalar_one())


async def test_commits_only_append_and_the_checkpointer_copies_the_log_back(
        tmp_path: Path) -> None:
    """5 MiB committed with the checkpointer configured: the log passes SQLite's own 1,000
    pages (no commit checkpointed), one checkpoint copies all of it, the log restarts."""
    settings = _settings(tmp_path / "wal.db", 1.0)
    wal = checkpointer(settings)
    assert wal is not None
    engine = create_engine(settings)
    try:
        assert await _write(engine, 500) == 0
        first = await wal.checkpoint()
        assert first.log_frames > 1_100  # 5 MiB of pages: never reset by a commit
        assert first.checkpointed_frames == first.log_frames  # no reader held it back
        await _write(engine, 1, rows=1)  # the next commit starts the log again
        second = await wal.checkpoint()
        assert second.log_frames < 50
        async with engine.connect() as conn:
            assert (await conn.execute(text("SELECT count(*) FROM blobs"))).scalar_one() \
                == 5_001
    finally:
        await wal.stop()
        await engine.dispose()


async def test_a_long_log_is_truncated_after_the_passive_checkpoint(tmp_path: Path) -> None:
    """Rule 3: past ``restart_frames`` the checkpoint empties the log file; below it the
    file keeps its size (SQLite reuses it from the start)."""
    settings = _settings(tmp_path / "long.db", 1.0)
    engine = create_engine(settings)
    try:
        await _write(engine, 500)
        below = Checkpointer(str(tmp_path / "long.db"), 1.0, "NORMAL", restart_frames=10_000)
        above = Checkpointer(str(tmp_path / "long.db"), 1.0, "NORMAL", restart_frames=100)
        try:
            kept = await below.checkpoint()
            assert kept.log_frames > 1_100
            assert (tmp_path / "long.db-wal").stat().st_size > 1_100 * PAGE
            await _write(engine, 500)
            emptied = await above.checkpoint()
            assert emptied.log_frames == 0
            assert (tmp_path / "long.db-wal").stat().st_size == 0
        finally:
            await below.stop()
            await above.stop()
        async with engine.connect() as conn:
            assert (await conn.execute(text("SELECT count(*) FROM blobs"))).scalar_one() \
                == 10_000
    finally:
        await engine.dispose()


async def test_an_interval_of_zero_leaves_the_checkpoints_to_sqlite(tmp_path: Path) -> None:
    settings = _settings(tmp_path / "auto.db", 0)
    assert checkpointer(settings) is None
    engine = create_engine(settings)
    try:
        assert await _write(engine, 500) == 1000  # SQLite's default
        # reset inside the commits: never much more than 1,000 pages
        assert (tmp_path / "auto.db-wal").stat().st_size < 1_200 * PAGE
    finally:
        await engine.dispose()


def test_only_sqlite_files_have_a_checkpointer() -> None:
    assert database_file("sqlite+aiosqlite:////var/lib/csms/csms.db") == "/var/lib/csms/csms.db"
    assert database_file("sqlite+aiosqlite:///./csms.db") == "./csms.db"
    assert database_file("sqlite+aiosqlite:///:memory:") is None
    assert database_file("sqlite+aiosqlite://") is None
    assert database_file("postgresql+asyncpg://postgres@127.0.0.1:5432/test") is None


@DATABASES_SQLITE
async def test_the_running_csms_checkpoints(csms: Csms) -> None:
    assert csms.checkpoints is not None
    await until(lambda: csms.checkpoints is not None and csms.checkpoints.checkpoints >= 2,
                timeout_s=10)
    last = csms.checkpoints.last
    assert last is not None
    assert not last.busy
    async with csms.engine.connect() as conn:  # the commits leave checkpoints to it
        assert (await conn.execute(text("PRAGMA wal_autocheckpoint"))).scalar_one() == 0
