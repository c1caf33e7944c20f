"""Retention: ``[retention]`` minimums, and ``csms db prune`` deleting only expired rows
(dry run by default), never the audit log."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, insert, select
from sqlalchemy.ext.asyncio import AsyncEngine

from csms.config import DatabaseSettings, RetentionSettings, load_settings
from csms.errors import ConfigError
from csms.store import migrate, retention
from csms.store import tables as t
from csms.store.city.tables import charger_connections
from csms.store.engine import create_engine
from csms.store.sharing.audit import verify_stored
from csms.store.writer import Writer, WriteTx

NOW = datetime(2030, 6, 1, tzinfo=UTC)
OLD_SAFETY = NOW - timedelta(days=184)  # past 183 days
FRESH = NOW - timedelta(days=182)
OLD_SESSION = NOW - timedelta(days=1097)  # past 1096 days
KEPT_SESSION = NOW - timedelta(days=1095)


class TestSettings:
    @pytest.mark.parametrize(("key", "value"), [("safety_logs_days", 182),
                                                ("sessions_days", 1095)])
    def test_shorter_than_the_minimum_is_refused_naming_the_key(
        self, clean_env: None, key: str, value: int
    ) -> None:
        """Six months of safety logs and three years of sessions are the least allowed."""
        with pytest.raises(ConfigError, match=f"retention.{key}"):
            load_settings(None, retention={key: value})

    def test_defaults_are_the_minimums(self) -> None:
        assert (183, 1096) == (RetentionSettings().safety_logs_days,
                               RetentionSettings().sessions_days)


@pytest.fixture
async def engine(database_url: str) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(DatabaseSettings(url=database_url))
    try:
        await migrate.upgrade(engine)
        await seed(engine)
        yield engine
    finally:
        await engine.dispose()


async def seed(engine: AsyncEngine) -> None:
    """Two of everything: one past its retention, one not; plus an old active session."""
    async with engine.begin() as conn:
        await conn.execute(insert(t.charge_points).values(
            id="CP-1", registration_status="Accepted", created_at=OLD_SESSION))
        for at in (OLD_SAFETY, FRESH):
            await conn.execute(insert(t.station_events).values(
                station_id="CP-1", kind="security_event", at=at, received_at=at, details={}))
            await conn.execute(insert(t.connector_status_history).values(
                station_id="CP-1", evse_id=1, connector_id=1, status="Faulted", at=at,
                received_at=at))
            await conn.execute(insert(t.command_log).values(
                station_id="CP-1", action="Reset", request={}, outcome="answered",
                requested_at=at))
            await conn.execute(insert(charger_connections).values(
                station_id="CP-1", connected=at == FRESH, at=at))
        # quiet for half a year: the only (so the newest) row of each is kept (rule 6)
        await conn.execute(insert(t.connector_status_history).values(
            station_id="CP-1", evse_id=2, connector_id=1, status="Unavailable", at=OLD_SAFETY,
            received_at=OLD_SAFETY))
        await conn.execute(insert(charger_connections).values(
            station_id="CP-QUIET", connected=True, at=OLD_SAFETY))
        for n, (status, ended) in enumerate([("ended", OLD_SESSION), ("ended", KEPT_SESSION),
                                             ("active", None)]):
            sid = (await conn.execute(insert(t.sessions).values(
                station_id="CP-1", transaction_id=str(n), status=status,
                started_at=OLD_SESSION - timedelta(hours=1), ended_at=ended,
                created_at=OLD_SESSION, updated_at=ended or OLD_SESSION
            ).returning(t.sessions.c.id))
                ).scalar_one()
            await conn.execute(insert(t.transaction_events).values(
                session_id=sid, seq_no=0, fingerprint="f0", event_type="Started", offline=False,
                at=OLD_SESSION, received_at=OLD_SESSION))
            await conn.execute(insert(t.meter_values).values(
                station_id="CP-1", session_id=sid, at=OLD_SESSION, measurand="Energy", value=1))
        for at in (OLD_SESSION, KEPT_SESSION):
            await conn.execute(insert(t.meter_values).values(
                station_id="CP-1", session_id=None, at=at, measurand="Energy", value=1,
                received_at=at))


EXPECTED = {"station_events": 1, "connector_status_history": 1, "charger_connections": 1,
            "command_log": 1,
            "meter_values (no session)": 1, "meter_values (expired sessions)": 1,
            "transaction_events": 1, "sessions": 1}


async def counts(engine: AsyncEngine) -> dict[str, int]:
    tables = (t.station_events, t.connector_status_history, charger_connections, t.command_log,
              t.sessions, t.meter_values, t.transaction_events, t.audit_log)
    async with engine.connect() as conn:
        return {table.name: int((await conn.execute(
            select(func.count()).select_from(table))).scalar_one()) for table in tables}


class TestPrune:
    async def test_counts_then_deletes_only_expired_rows(self, engine: AsyncEngine) -> None:
        """The dry run counts one of each; pruning deletes exactly those; the old active
        session, the kept session, fresh logs and the newest (if old) status and connection
        rows of a quiet connector and charger stay; a second prune finds nothing."""
        cut = retention.Cutoffs.of(RetentionSettings(), NOW)
        assert EXPECTED == await retention.count(engine, cut)
        writer = Writer(engine)
        task = asyncio.create_task(writer.run())
        try:
            async def audited(tx: WriteTx) -> None:
                from csms.store.access import audit
                audit(tx, "cli:test", "create", "site", 1, at=OLD_SESSION)

            await writer.submit(audited)
            assert EXPECTED == await retention.prune(writer, cut)
            assert all(n == 0 for n in (await retention.prune(writer, cut)).values())
        finally:
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
        after = await counts(engine)
        assert {"station_events": 1, "connector_status_history": 2, "charger_connections": 2,
                "command_log": 1,
                "sessions": 2, "meter_values": 3, "transaction_events": 2,
                "audit_log": 1} == after
        assert (await verify_stored(engine)).broken is None

    async def test_the_command_is_a_dry_run_unless_applied(
        self, engine: AsyncEngine, database_url: str
    ) -> None:
        """``csms db prune`` prints what it would delete and deletes nothing; ``--apply``
        deletes it."""
        def prune(*extra: str) -> subprocess.CompletedProcess[str]:
            env = {k: v for k, v in os.environ.items() if not k.startswith("CSMS_")}
            env["CSMS_DATABASE__URL"] = database_url
            return subprocess.run(  # noqa: S603 - our own CLI, fixed arguments
                [sys.executable, "-m", "csms", "db", "prune", "--now", NOW.isoformat(),
                 *extra], env=env, capture_output=True, text=True, timeout=60, check=False)

        before = await counts(engine)
        dry = await asyncio.to_thread(prune)
        assert 0 == dry.returncode, dry.stderr
        assert "would delete 8 rows" in dry.stdout
        assert "  sessions: 1" in dry.stdout
        assert before == await counts(engine)
        done = await asyncio.to_thread(prune, "--apply")
        assert "deleted 8 rows; the audit log is never pruned" in done.stdout
        assert 8 == sum(before.values()) - sum((await counts(engine)).values())


DEAD_CLOCK = datetime(1970, 1, 1, tzinfo=UTC)


class TestTheChargersClockDoesNotCount:
    async def test_rows_received_now_with_1970_timestamps_are_kept(
        self, engine: AsyncEngine
    ) -> None:
        """A charger with a dead RTC reports 1970: its GroundFailure status, events, meter
        values and a whole session received just now are not expired; retention goes by
        the CSMS's receive time."""
        received = NOW - timedelta(seconds=5)
        async with engine.begin() as conn:
            await conn.execute(insert(t.connector_status_history).values(
                station_id="CP-1", evse_id=1, connector_id=1, status="Faulted",
                error_code="GroundFailure", at=DEAD_CLOCK, received_at=received))
            await conn.execute(insert(t.station_events).values(
                station_id="CP-1", kind="security_event", at=DEAD_CLOCK, received_at=received,
                details={}))
            await conn.execute(insert(t.meter_values).values(
                station_id="CP-1", session_id=None, at=DEAD_CLOCK, measurand="Energy",
                value=1, received_at=received))
            sid = (await conn.execute(insert(t.sessions).values(
                station_id="CP-1", transaction_id="RTC", status="ended",
                started_at=DEAD_CLOCK, ended_at=DEAD_CLOCK + timedelta(hours=1),
                created_at=received, updated_at=received).returning(t.sessions.c.id))
                ).scalar_one()
            await conn.execute(insert(t.meter_values).values(
                station_id="CP-1", session_id=sid, at=DEAD_CLOCK, measurand="Energy",
                value=1, received_at=received))
        cut = retention.Cutoffs.of(RetentionSettings(), NOW)
        assert EXPECTED == await retention.count(engine, cut)  # the seed's, nothing more

    async def test_an_end_received_lately_keeps_an_old_session(
        self, engine: AsyncEngine
    ) -> None:
        """A session started long ago whose last transaction event arrived recently (an
        offline charger's queue) is kept, even with an old end time and update."""
        async with engine.begin() as conn:
            sid = (await conn.execute(insert(t.sessions).values(
                station_id="CP-1", transaction_id="LATE", status="ended",
                started_at=OLD_SESSION, ended_at=OLD_SESSION, created_at=OLD_SESSION,
                updated_at=OLD_SESSION).returning(t.sessions.c.id))).scalar_one()
            await conn.execute(insert(t.transaction_events).values(
                session_id=sid, seq_no=1, fingerprint="f1", event_type="Ended", offline=True,
                at=OLD_SESSION, received_at=FRESH))
        cut = retention.Cutoffs.of(RetentionSettings(), NOW)
        assert EXPECTED == await retention.count(engine, cut)
