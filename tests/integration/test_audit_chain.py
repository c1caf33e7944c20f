"""The audit log in the database: chained on every write, append-only, and ``csms audit
verify`` naming a record an attacker with database rights altered or deleted."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import pytest
import sqlalchemy as sa
from sqlalchemy import select, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine

from csms.api.access import Role
from csms.api.tokens import new_token
from csms.config import DatabaseSettings
from csms.safety.audit import GENESIS
from csms.store import migrate
from csms.store import tables as t
from csms.store.access import AccessStore, audit
from csms.store.engine import create_engine
from csms.store.sharing.audit import verify_stored
from csms.store.writer import Writer, WriteTx

T0 = datetime(2026, 11, 28, 8, 0, tzinfo=UTC)


@pytest.fixture
async def engine(database_url: str) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(DatabaseSettings(url=database_url))
    try:
        await migrate.upgrade(engine)
        yield engine
    finally:
        await engine.dispose()


@pytest.fixture
async def writer(engine: AsyncEngine) -> AsyncIterator[Writer]:
    writer = Writer(engine)
    task = asyncio.create_task(writer.run())
    yield writer
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task


async def write_tokens(writer: Writer, engine: AsyncEngine, n: int) -> None:
    access = AccessStore(writer, engine)
    records = [new_token(Role.ADMIN, created_by=f"test-{i}", now=T0)[1] for i in range(n)]
    await asyncio.gather(*(access.add_token(r) for r in records))


def verify_cli(database_url: str, *extra: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CSMS_")}
    env["CSMS_DATABASE__URL"] = database_url
    return subprocess.run(  # noqa: S603 - our own CLI, fixed arguments
        [sys.executable, "-m", "csms", "audit", "verify", *extra], env=env,
        capture_output=True, text=True, timeout=60, check=False)


async def id_of(engine: AsyncEngine, seq: int) -> int:
    async with engine.connect() as conn:
        return int((await conn.execute(
            select(t.audit_log.c.id).where(t.audit_log.c.seq == seq))).scalar_one())


async def as_attacker(engine: AsyncEngine, statement: str,
                      params: dict[str, str] | None = None) -> None:
    """Drop the append-only triggers (as someone with database rights could) and run
    ``statement``."""
    async with engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            await conn.execute(text("DROP TRIGGER audit_log_append_only ON audit_log"))
        else:
            await conn.execute(text("DROP TRIGGER audit_log_no_update"))
            await conn.execute(text("DROP TRIGGER audit_log_no_delete"))
        await conn.execute(text(statement), params or {})


class TestChaining:
    async def test_concurrent_writes_form_one_gapless_chain(
        self, engine: AsyncEngine, writer: Writer
    ) -> None:
        """40 concurrent audited writes: seq 1..40, each linked to the one before."""
        await write_tokens(writer, engine, 40)
        assert (40, None) == ((v := await verify_stored(engine, 7)).count, v.broken)
        async with engine.connect() as conn:
            rows = (await conn.execute(select(t.audit_log).order_by(t.audit_log.c.seq))).all()
        assert list(range(1, 41)) == [r.seq for r in rows]
        assert [GENESIS.hash] + [r.hash for r in rows[:-1]] == [r.prev_hash for r in rows]
        verdict = await verify_stored(engine)
        assert (40, None) == (verdict.count, verdict.broken)

    async def test_one_transaction_may_append_several_records(
        self, engine: AsyncEngine, writer: Writer
    ) -> None:
        """Two audit rows in one unit are chained in the order written, details intact."""
        async def unit(tx: WriteTx) -> None:
            audit(tx, "cli:root", "create", "site", 1, {"name": "东区", "limit": 1.5}, at=T0)
            audit(tx, "cli:root", "update", "site", 1, {"tags": ("a", "b")}, at=T0)

        await writer.submit(unit)
        async with engine.connect() as conn:
            rows = (await conn.execute(select(t.audit_log).order_by(t.audit_log.c.seq))).all()
        assert ["create", "update"] == [r.action for r in rows]
        assert {"tags": ["a", "b"]} == rows[1].details
        assert (await verify_stored(engine)).broken is None

    async def test_a_naive_time_is_refused(self, writer: Writer) -> None:
        """An audit entry without a time zone fails its unit."""
        async def unit(tx: WriteTx) -> None:
            audit(tx, "x", "create", "site", 1, at=datetime(2026, 1, 1))  # noqa: DTZ001

        with pytest.raises(ValueError, match="timezone-aware"):
            await writer.submit(unit)


class TestAppendOnly:
    @pytest.mark.parametrize("statement", [
        "UPDATE audit_log SET actor = 'mallory'", "DELETE FROM audit_log"])
    async def test_update_and_delete_are_refused(
        self, engine: AsyncEngine, writer: Writer, statement: str
    ) -> None:
        """The database itself refuses to change or remove audit rows."""
        await write_tokens(writer, engine, 2)
        with pytest.raises(DBAPIError, match="append-only"):
            async with engine.begin() as conn:
                await conn.execute(text(statement))
        assert (await verify_stored(engine)).count == 2


class TestVerifyCommand:
    async def test_intact_chain_is_ok(self, engine: AsyncEngine, writer: Writer,
                                      database_url: str) -> None:
        """``csms audit verify`` says ok and the count, exit 0."""
        await write_tokens(writer, engine, 3)
        done = await asyncio.to_thread(verify_cli, database_url)
        ok, head = done.stdout.splitlines()
        assert (0, "ok 3 records") == (done.returncode, ok)
        async with engine.connect() as conn:
            last = (await conn.execute(select(t.audit_log).where(t.audit_log.c.seq == 3))).one()
        assert f"head 3:{last.hash}" == head

    async def test_deleting_the_last_records_is_caught_with_a_kept_head(
        self, engine: AsyncEngine, writer: Writer, database_url: str
    ) -> None:
        """The chain alone cannot show its tail was cut; the head kept from an earlier run
        can: records 4-5 removed, exit 1. A head of a still-intact, grown chain passes."""
        await write_tokens(writer, engine, 3)
        kept = (await asyncio.to_thread(verify_cli, database_url)).stdout.splitlines()[1]
        await write_tokens(writer, engine, 2)
        grown = await asyncio.to_thread(verify_cli, database_url, "--head", kept[5:])
        assert (0, "ok 5 records") == (grown.returncode, grown.stdout.splitlines()[0])
        newest = grown.stdout.splitlines()[1][5:]
        await as_attacker(engine, "DELETE FROM audit_log WHERE seq >= 4")
        assert 0 == (await asyncio.to_thread(verify_cli, database_url)).returncode
        cut = await asyncio.to_thread(verify_cli, database_url, "--head", newest)
        assert 1 == cut.returncode
        assert "audit log broken at record seq 4 (row missing): removed" in cut.stdout

    async def test_an_edited_row_is_named(self, engine: AsyncEngine, writer: Writer,
                                          database_url: str) -> None:
        """An actor changed in place: exit 1, naming that record's seq and id, altered."""
        await write_tokens(writer, engine, 5)
        await as_attacker(engine, "UPDATE audit_log SET actor = 'mallory' WHERE seq = 3")
        done = await asyncio.to_thread(verify_cli, database_url)
        assert 1 == done.returncode
        assert (f"audit log broken at record seq 3 (id {await id_of(engine, 3)}): altered"
                in done.stdout)

    async def test_a_deleted_row_is_named(self, engine: AsyncEngine, writer: Writer,
                                          database_url: str) -> None:
        """A row deleted from the middle: exit 1, naming its seq as removed."""
        await write_tokens(writer, engine, 5)
        await as_attacker(engine, "DELETE FROM audit_log WHERE seq = 2")
        done = await asyncio.to_thread(verify_cli, database_url)
        assert 1 == done.returncode
        assert "audit log broken at record seq 2 (row missing): removed" in done.stdout

    async def test_a_rewritten_row_with_a_fresh_hash_is_named(
        self, engine: AsyncEngine, writer: Writer
    ) -> None:
        """Details rewritten and the hash recomputed: the next record's link names it."""
        from csms.safety.audit import AuditEntry, digest

        await write_tokens(writer, engine, 3)
        async with engine.connect() as conn:
            row = (await conn.execute(select(t.audit_log).where(t.audit_log.c.seq == 2))).one()
        forged = digest(2, AuditEntry(row.at.replace(tzinfo=UTC), "mallory", row.action,
                                      row.resource, row.details, row.resource_id),
                        row.prev_hash)
        await as_attacker(engine, "UPDATE audit_log SET actor = 'mallory', hash = :forged"
                          " WHERE seq = 2", {"forged": forged})
        for chunk in (2, 1000):  # record 2 ends the first chunk of 2: still named
            verdict = await verify_stored(engine, chunk)
            assert verdict.broken is not None
            assert (2, "altered", await id_of(engine, 2), 1) == (
                verdict.broken.seq, verdict.broken.problem.value, verdict.row_id,
                verdict.count)


class TestMigration:
    async def test_rows_from_before_the_chain_are_chained(
        self, empty_database_url: str
    ) -> None:
        """Audit rows written at revision 0003 are numbered and linked by the upgrade."""
        engine = create_engine(DatabaseSettings(url=empty_database_url))
        try:
            await migrate.upgrade(engine, "0003")
            old_shape = sa.table(
                "audit_log", sa.column("at", sa.DateTime(timezone=True)), sa.column("actor"),
                sa.column("action"), sa.column("resource"), sa.column("resource_id"),
                sa.column("details", sa.JSON()))
            async with engine.begin() as conn:
                await conn.execute(old_shape.insert(), [
                    {"at": T0, "actor": "cli:old", "action": "create", "resource": "site",
                     "resource_id": str(i), "details": {"n": i, "名": "东"}} for i in range(3)])
            await migrate.upgrade(engine)
            verdict = await verify_stored(engine)
            assert (3, None) == (verdict.count, verdict.broken)
        finally:
            await engine.dispose()
