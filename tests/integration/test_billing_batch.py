"""The session ends of one batch are priced together (csms.store.billing.batch): the same
charges as one at a time, a resident's wallet and package carried from one end to the
next, and a database failure there falls back to one session at a time."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine, Sequence
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import delete, func, select
from sqlalchemy.exc import OperationalError

from csms.app import Csms
from csms.domain.model import SessionEventKind
from csms.store import tables as t
from csms.store.billing import batch as billing_batch
from csms.store.billing import store as billing
from csms.store.billing import tables as b
from csms.store.billing.admin import BillingAdmin, PackageSpec
from csms.store.writer import WriteTx
from csms.tariffs.ledger import WalletPolicy
from tests.conftest import until
from tests.e2e.test_billing_flows import CREATED, Place, new_place, top_up, yunnan_tariff
from tests.integration.test_billing_store import END, START, ended_session, event

_Charge = tuple[int, int, int, int, Decimal]  # due electricity, due service, wallet, owed, kWh


async def _resident(app: Csms, station: str, card: str, name: str) -> Place:
    """A place with the Yunnan tariff, 12 yuan in the wallet and a 5 kWh package for
    November 2026, when the sessions run."""
    place = await new_place(app, station, card, name)
    await yunnan_tariff(app, place)
    await top_up(app, place, "12", CREATED, f"top-up {name}")
    admin = BillingAdmin(app.store.writer)
    package = await admin.create_package(PackageSpec(
        f"five-{name}", "5度", Decimal("0"), Decimal("5"), "both", (place.community_id,)),
        CREATED, "test")
    await admin.subscribe(place.resident_id, package, 2026, 11, CREATED, "test")
    return place


async def _start_two(app: Csms, station: str, card: str) -> None:
    """Two sessions of the same card, on EVSEs 1 and 2: 10.5 kWh each, 23:30 to 01:00."""
    for evse in (1, 2):
        ref = f"{station}-{evse}"
        await app.stations.session_event(event(SessionEventKind.STARTED, START, 0, 10_000, ref,
                                               station, card, evse))


def _ends(app: Csms, station: str, card: str) -> list[Callable[[], Coroutine[Any, Any, Any]]]:
    return [
        lambda evse=evse: app.stations.session_event(event(  # type: ignore[misc]
            SessionEventKind.ENDED, END, 1, 20_500, f"{station}-{evse}", station, card, evse))
        for evse in (1, 2)]


async def _in_one_batch(app: Csms, work: Sequence[Callable[[], Coroutine[Any, Any, Any]]]
                        ) -> list[Any]:
    """Run ``work`` in one batch of the writer: held behind a unit until all are queued."""
    writer, running, gate = app.store.writer, asyncio.Event(), asyncio.Event()

    async def hold(_tx: WriteTx) -> None:
        running.set()
        await gate.wait()

    held = asyncio.create_task(writer.submit(hold))
    await asyncio.wait_for(running.wait(), 10)
    steps: list[asyncio.Task[Any]] = []
    for step in work:
        steps.append(asyncio.create_task(step()))
        await until(lambda: writer.queued >= len(steps))
    gate.set()
    await held
    return list(await asyncio.gather(*steps))


async def _charges(app: Csms, station: str) -> list[_Charge]:
    c, s = b.session_charges, t.sessions
    async with app.engine.connect() as conn:
        rows = (await conn.execute(
            select(c.c.due_electricity_fen, c.c.due_service_fen, c.c.wallet_fen,
                   c.c.shortfall_fen, c.c.package_kwh)
            .join(s, s.c.id == c.c.session_id).where(s.c.station_id == station)
            .order_by(s.c.evse_id))).all()
    return [(r[0], r[1], r[2], r[3], Decimal(str(r[4]))) for r in rows]


async def _wallet_debits(app: Csms, place: Place) -> int:
    w = b.wallet_entries
    async with app.engine.connect() as conn:
        return int((await conn.execute(select(func.coalesce(func.sum(w.c.amount_fen), 0)).where(
            w.c.resident_id == place.resident_id, w.c.session_id.is_not(None),
            w.c.debit == f"wallet:{place.resident_id}"))).scalar_one())


async def test_two_ends_of_one_resident_in_one_batch_are_charged_as_one_after_the_other(
        csms: Csms) -> None:
    """Resident A's two sessions end in one batch, resident B's (the same sessions, the same
    wallet and package) one batch each. The charges are the same: the package's 5 kWh go to
    the first session only, the wallet's 12 yuan are taken once, the rest is owed."""
    together = await _resident(csms, "CP-A", "CARD-A", "甲")
    alone = await _resident(csms, "CP-B", "CARD-B", "乙")
    await _start_two(csms, "CP-A", "CARD-A")
    await _start_two(csms, "CP-B", "CARD-B")
    await _in_one_batch(csms, _ends(csms, "CP-A", "CARD-A"))
    for end in _ends(csms, "CP-B", "CARD-B"):
        await end()
    one_after_the_other = await _charges(csms, "CP-B")
    assert [Decimal(5), Decimal(0)] == [c[4] for c in one_after_the_other]
    assert one_after_the_other[1][3] > 0  # the wallet ran out: the second owes
    assert one_after_the_other == await _charges(csms, "CP-A")
    assert 1200 == await _wallet_debits(csms, together) == await _wallet_debits(csms, alone)


async def test_a_database_failure_in_the_batch_prices_each_session_alone(
        csms: Csms, monkeypatch: pytest.MonkeyPatch) -> None:
    """The database fails halfway through the set-based writes (the charge written, its
    ledger entries not): the savepoint rolls the charge back, and the session is priced
    alone, once, with its entries (a charge left behind would have been taken as posted)."""
    calls: list[list[int]] = []
    real = billing_batch.post_ended

    async def fails_after_writing(tx: WriteTx, ids: Sequence[int], policy: WalletPolicy
                                  ) -> list[dict[str, Any]]:
        calls.append(list(ids))
        if len(calls) > 1:  # the database fails once
            return await real(tx, ids, policy)
        await real(tx, ids, policy)  # the charge is written; its ledger entries then fail:
        w = b.wallet_entries
        await tx.conn.execute(delete(w).where(w.c.session_id.in_(list(ids))))
        raise OperationalError("INSERT", {}, Exception("disk I/O error"))

    monkeypatch.setattr(billing, "post_ended", fails_after_writing)
    session_id = await ended_session(csms)
    assert [[session_id], [session_id]] == calls  # the batch, then the session alone
    c, w = b.session_charges, b.wallet_entries
    async with csms.engine.connect() as conn:
        charges = (await conn.execute(select(c.c.due_electricity_fen + c.c.due_service_fen)
                                      .where(c.c.session_id == session_id))).scalars().all()
        posted = (await conn.execute(select(func.sum(w.c.amount_fen))
                                     .where(w.c.session_id == session_id))).scalar_one()
        unpriced = (await conn.execute(select(func.count()).select_from(t.station_events)
                                       .where(t.station_events.c.kind == "billing_unpriced"))
                    ).scalar_one()
    assert ([851], 851, 0) == (charges, posted, unpriced)  # 8.51 yuan, posted once
