"""The group-commit writer against a real database."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, insert, select, text

from csms.app import Csms
from csms.store import tables as t
from csms.store.writer import WriteTx

AT = datetime(2026, 11, 27, 19, 0, 0, 123456, tzinfo=UTC)


def event(kind: str) -> dict[str, object]:
    return {"station_id": "CP-W", "kind": kind, "code": None, "evse_id": None,
            "connector_id": None, "at": AT, "received_at": AT, "details": {"k": kind}}


class TestWriter:
    async def test_bulk_and_ordinary_inserts_store_times_alike(self, csms: Csms) -> None:
        """A row from the bulk path and one from a plain INSERT hold the same instant the same
        way: a time filter finds both, and they read back equal and aware."""

        async def unit(tx: WriteTx) -> None:
            tx.insert_later(t.station_events, [event("bulk")])
            await tx.conn.execute(insert(t.station_events).values(**event("plain")))

        await csms.store.writer.submit(unit)
        async with csms.engine.connect() as conn:
            found = (await conn.execute(select(t.station_events.c.kind).where(
                t.station_events.c.at >= AT, t.station_events.c.at < AT + timedelta(seconds=1),
            ).order_by(t.station_events.c.kind))).scalars().all()
            stored = (await conn.execute(text("SELECT at FROM station_events"))).scalars().all()
        assert ["bulk", "plain"] == list(found)
        assert 1 == len(set(map(str, stored)))

    async def test_bulk_rows_keep_their_order_values_and_the_first_of_a_key(
        self, csms: Csms
    ) -> None:
        """Rows queued by several units of one batch are stored in the order queued, with
        their values (NULLs, floats, JSON) as given; of rows sharing a unique key, within
        the batch or with an earlier one, the first is kept (writer rule 4)."""

        def sample(key: str, value: float, session: int | None = None) -> dict[str, object]:
            return {"station_id": "CP-W", "session_id": session, "evse_id": 1,
                    "connector_id": None, "at": AT, "measurand": "Power.Active.Import",
                    "phase": None, "unit": "W", "context": None, "location": None,
                    "value": value, "sample_key": key, "received_at": AT}

        def unit(*rows: dict[str, object]) -> Callable[[WriteTx], Awaitable[None]]:
            async def queue(tx: WriteTx) -> None:
                tx.insert_later(t.meter_values, list(rows))
                tx.insert_later(t.station_events, [event(f"after {rows[0]['sample_key']}")])
            return queue

        await csms.store.writer.submit(unit(sample("k0", 0.5)))
        await asyncio.gather(*(csms.store.writer.submit(u) for u in (
            unit(sample("k1", 1.25), sample("k2", 2.0)),
            unit(sample("k1", 99.0), sample("k0", 98.0), sample("k3", -3.5)))))
        mv, e = t.meter_values, t.station_events
        async with csms.engine.connect() as conn:
            stored = (await conn.execute(select(mv.c.sample_key, mv.c.value, mv.c.session_id,
                                                mv.c.connector_id).order_by(mv.c.id))).all()
            kinds = (await conn.execute(select(e.c.kind, e.c.details)
                                        .order_by(e.c.id))).all()
        assert [("k0", 0.5, None, None), ("k1", 1.25, None, None), ("k2", 2.0, None, None),
                ("k3", -3.5, None, None)] == [tuple(row) for row in stored]
        assert [("after k0", {"k": "after k0"}), ("after k1", {"k": "after k1"}),
                ("after k1", {"k": "after k1"})] == [tuple(row) for row in kinds]

    async def test_a_failing_unit_fails_alone(self, csms: Csms) -> None:
        """In one batch, a unit that breaks a constraint fails; the others commit."""

        async def good(tx: WriteTx) -> str:
            tx.insert_later(t.station_events, [event("good")])
            return "ok"

        async def bad(tx: WriteTx) -> str:
            await tx.conn.execute(insert(t.sessions).values(station_id=None))
            return "unreachable"

        results = await asyncio.gather(
            csms.store.writer.submit(good), csms.store.writer.submit(bad),
            csms.store.writer.submit(good), return_exceptions=True)
        assert "ok" == results[0] == results[2]
        assert isinstance(results[1], Exception)
        async with csms.engine.connect() as conn:
            kept = (await conn.execute(select(func.count()).select_from(t.station_events)
                                       .where(t.station_events.c.kind == "good"))).scalar_one()
        assert 2 == kept

    @pytest.mark.parametrize("units", [1, 50])
    async def test_results_arrive_after_commit(self, csms: Csms, units: int) -> None:
        """Every unit's result is delivered, and its rows are visible to a new connection."""

        async def unit(tx: WriteTx) -> int:
            tx.insert_later(t.station_events, [event("n")])
            return 1

        assert units == sum(await asyncio.gather(
            *(csms.store.writer.submit(unit) for _ in range(units))))
        async with csms.engine.connect() as conn:
            assert units == (await conn.execute(
                select(func.count()).select_from(t.station_events))).scalar_one()
