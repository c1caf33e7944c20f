"""Billing in the store (both databases): a session's charge is written with its end and never
recomputed; a later tariff version, whenever it takes effect, cannot reprice it."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from contextlib import suppress
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from csms.app import Csms
from csms.domain.model import (
    IdToken,
    MeterSample,
    SampledValue,
    SessionEvent,
    SessionEventKind,
)
from csms.store import tables as t
from csms.store.billing import batch as billing
from csms.store.billing import tables as b
from csms.store.billing.admin import BillingAdmin, ScheduleSpec, SegmentSpec, TariffSpec
from csms.store.billing.reads import BillingReads, Charge
from csms.store.billing.store import SessionBilling
from csms.store.organisation import Conflict
from tests.conftest import until
from tests.e2e.test_billing_flows import CREATED, new_place, top_up, yunnan_tariff

START = datetime(2026, 11, 27, 15, 30, tzinfo=UTC)  # 23:30 in Shanghai
END = START + timedelta(minutes=90)


def event(kind: SessionEventKind, at: datetime, seq: int, wh: float,
          ref: str = "tx-r", station: str = "CP-R", card: str = "CARD-R", evse: int = 1
          ) -> SessionEvent:
    sample = MeterSample(at, (SampledValue(wh, unit="Wh"),))
    return SessionEvent(station, kind, at, evse, 1, ref, IdToken(card), samples=(sample,),
                        seq_no=seq)


async def ended_session(app: Csms) -> int:
    """The 23:30–01:00 Yunnan session, recorded through the station service, once."""
    async with app.engine.connect() as conn:
        found = (await conn.execute(select(b.session_charges.c.session_id))).scalar()
    if found is not None:
        return int(found)
    place = await new_place(app, "CP-R", "CARD-R")
    await yunnan_tariff(app, place)
    await top_up(app, place, "100", CREATED, "r")
    await app.stations.session_event(event(SessionEventKind.STARTED, START, 0, 10_000))
    middle = START + timedelta(minutes=30)
    await app.stations.session_event(event(SessionEventKind.UPDATED, middle, 1, 13_500))
    verdict = await app.stations.session_event(event(SessionEventKind.ENDED, END, 2, 20_500))
    assert verdict.session_id is not None
    return verdict.session_id


async def ledger_rows(app: Csms) -> Any:
    async with app.engine.connect() as conn:
        return (await conn.execute(select(func.count(), func.sum(b.wallet_entries.c.amount_fen))
                                   )).one()


prices = st.decimals(min_value=0, max_value=5, places=4, allow_nan=False, allow_infinity=False)


@settings(max_examples=15, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(hours=st.integers(min_value=-24 * 800, max_value=24 * 800), electricity=prices,
       service=prices, valley=prices)
async def test_no_tariff_version_reprices_an_ended_session(
    csms: Csms, hours: int, electricity: Decimal, service: Decimal, valley: Decimal
) -> None:
    """Whatever version is added after the session ended (effective before, during or after
    it, any prices), its stored charge and the ledger are unchanged, and replaying the
    end-of-session hook posts nothing."""
    session_id = await ended_session(csms)
    reads = BillingReads(csms.engine)
    before: Charge | None = await reads.charge(session_id)
    assert before is not None
    assert Decimal("8.51") == before.total_yuan
    entries = await ledger_rows(csms)
    spec = TariffSpec(
        "changed", START + timedelta(hours=hours), "Asia/Shanghai",
        ScheduleSpec(electricity, "flat", (SegmentSpec(datetime.min.time(),
                                                       datetime.min.time().replace(hour=8),
                                                       "valley", valley),)),
        ScheduleSpec(service), community_id=await _community(csms))
    with suppress(Conflict):  # a version already starts then: nothing new to check
        await BillingAdmin(csms.store.writer).create_tariff(spec, CREATED, "test")
    await csms.store.writer.submit(lambda tx: SessionBilling().session_ended(tx, session_id))
    assert before == await reads.charge(session_id)
    assert entries == await ledger_rows(csms)


async def _community(app: Csms) -> int:
    async with app.engine.connect() as conn:
        return int((await conn.execute(select(t.communities.c.id))).scalar_one())


async def test_a_tariff_written_within_a_batch_prices_the_ends_after_it(csms: Csms) -> None:
    """Billing reads a site's tariffs once per batch (writer rule 6); a unit that writes a
    tariff empties that memo. One batch holds: session A ends, a site tariff in force since
    before both sessions is added (flat 1.00 + 0.50 yuan/kWh), session B ends. A is priced
    under the community's Yunnan tariff as it stood, B under the new one."""
    place = await new_place(csms, "CP-R", "CARD-R")
    await yunnan_tariff(csms, place)
    await top_up(csms, place, "100", CREATED, "r")
    middle = START + timedelta(minutes=30)
    for ref, evse in (("tx-a", 1), ("tx-b", 2)):
        await csms.stations.session_event(event(SessionEventKind.STARTED, START, 0, 10_000,
                                                ref, evse=evse))
        await csms.stations.session_event(event(SessionEventKind.UPDATED, middle, 1, 13_500,
                                                ref, evse=evse))
    flat = TariffSpec("site flat", CREATED, "Asia/Shanghai", ScheduleSpec(Decimal("1.00")),
                      ScheduleSpec(Decimal("0.50")), site_id=place.site_id)
    writer, running, gate = csms.store.writer, asyncio.Event(), asyncio.Event()

    async def hold(_tx: object) -> None:  # a batch of its own, until the three are queued
        running.set()
        await gate.wait()

    held = asyncio.create_task(writer.submit(hold))
    await asyncio.wait_for(running.wait(), 10)
    work: list[Callable[[], Coroutine[Any, Any, Any]]] = [
        lambda: csms.stations.session_event(event(
            SessionEventKind.ENDED, END, 2, 20_500, "tx-a", evse=1)),
        lambda: BillingAdmin(writer).create_tariff(flat, CREATED, "test"),
        lambda: csms.stations.session_event(event(
            SessionEventKind.ENDED, END, 2, 20_500, "tx-b", evse=2))]
    steps: list[asyncio.Task[Any]] = []
    for step in work:  # queued in this order, in one batch
        steps.append(asyncio.create_task(step()))
        await until(lambda: writer.queued >= len(steps))
    gate.set()
    await held
    ended_a, _, ended_b = await asyncio.gather(*steps)
    reads = BillingReads(csms.engine)
    charges = [await reads.charge(v.session_id) for v in (ended_a, ended_b)]
    assert [Decimal("8.51"), Decimal("15.75")] == [c.total_yuan for c in charges if c]


async def test_a_pricing_failure_never_fails_the_end_of_a_session(
    csms: Csms, monkeypatch: pytest.MonkeyPatch
) -> None:
    """If pricing breaks, only the billing writes roll back: the session still ends (the
    charger is answered and never retries), no charge or ledger entry is half-written, and a
    billing_unpriced station event says why."""
    def broken(*_: object) -> None:
        raise RuntimeError("pricing exploded")

    monkeypatch.setattr(billing, "settle_from_balance", broken)
    await ended_session(csms)
    async with csms.engine.connect() as conn:
        status = (await conn.execute(select(t.sessions.c.status))).scalar_one()
        charges = (await conn.execute(select(func.count()).select_from(
            b.session_charges))).scalar_one()
        events = (await conn.execute(select(t.station_events.c.details).where(
            t.station_events.c.kind == "billing_unpriced"))).scalars().all()
    assert ("ended", 0) == (status, charges)
    assert ["RuntimeError('pricing exploded')"] == [e["error"] for e in events]
    assert (1, 10_000) == tuple(await ledger_rows(csms))  # only the top-up


async def test_a_site_tariff_overrides_the_community_one_from_its_start(csms: Csms) -> None:
    """Community: Yunnan since 2024. Site: 1.00 + 0.50 flat from 00:30 local on 29 Nov.
    The 23:30-01:00 session is priced by the community's tariff up to 00:30 and by the
    site's after: 3.5 x 0.61 + 3.5 x 0.31 + 3.5 x 1.00 = 6.72 electricity, 3.5 x 0.40
    + 3.5 x 0.40 + 3.5 x 0.50 = 4.55 service."""
    await ended_session(csms)  # the place, with the community's Yunnan tariff
    async with csms.engine.connect() as conn:
        site = int((await conn.execute(select(t.sites.c.id))).scalar_one())
    later = START + timedelta(days=1)
    switch = later + timedelta(hours=1)  # 00:30 local, the next night
    await BillingAdmin(csms.store.writer).create_tariff(TariffSpec(
        "site", switch, "Asia/Shanghai", ScheduleSpec(Decimal("1.00")),
        ScheduleSpec(Decimal("0.50")), site_id=site), CREATED, "test")
    await csms.stations.session_event(event(SessionEventKind.STARTED, later, 0, 20_500, "t2"))
    verdict = await csms.stations.session_event(event(
        SessionEventKind.ENDED, later + timedelta(minutes=90), 1, 31_000, "t2"))
    assert verdict.session_id is not None
    charge = await BillingReads(csms.engine).charge(verdict.session_id)
    assert charge is not None
    assert [("flat", "0.61"), ("valley", "0.31"), ("flat", "1.00")] == [
        (d.period, str(d.electricity_yuan_per_kwh)) for d in charge.details]
    assert (Decimal("6.72"), Decimal("1.40") + Decimal("1.40") + Decimal("1.75")) == (
        charge.electricity_yuan, charge.service_yuan)
    first = await BillingReads(csms.engine).charge(await ended_session(csms))
    assert first is not None
    assert Decimal("8.51") == first.total_yuan  # the night before: the community's alone


async def test_a_shortfall_is_owed_and_settled_by_the_next_top_up(csms: Csms) -> None:
    """3.00 yuan in the wallet, a session of 8.51: the wallet pays 3.00 (never below zero),
    5.51 is owed; a top-up of 10.00 settles it first: 4.49 left, nothing owed; the
    statement still reconciles."""
    place = await new_place(csms, "CP-S", "CARD-S")
    await yunnan_tariff(csms, place)
    await top_up(csms, place, "3.00", START - timedelta(hours=1), "s1")
    kw: dict[str, Any] = {"ref": "tx-s", "station": "CP-S", "card": "CARD-S"}
    await csms.stations.session_event(event(SessionEventKind.STARTED, START, 0, 0, **kw))
    verdict = await csms.stations.session_event(event(SessionEventKind.ENDED, END, 1, 10_500,
                                                      **kw))
    assert verdict.session_id is not None
    reads = BillingReads(csms.engine)
    charge = await reads.charge(verdict.session_id)
    assert charge is not None
    assert (Decimal("3.00"), Decimal("5.51")) == (charge.wallet_yuan, charge.shortfall_yuan)
    assert (Decimal("0.00"), Decimal("5.51")) == await reads.balance(place.resident_id)
    await top_up(csms, place, "10.00", END + timedelta(hours=1), "s2")
    assert (Decimal("4.49"), Decimal("0.00")) == await reads.balance(place.resident_id)
    statement = await reads.statement(place.resident_id, 2026, 11)
    wallet_moves = [m.amount_yuan for m in statement.movements if m.account == "wallet"]
    # the wallet pays electricity first (4.31: 3.00 of it), the rest is owed
    assert [Decimal("3.00"), Decimal("-3.00"), Decimal("10.00"), Decimal("-5.51")] == wallet_moves
    assert (Decimal("4.49"), Decimal("0.00")) == (statement.closing_balance_yuan,
                                                  statement.owed_yuan)
    assert statement.opening_balance_yuan + sum(wallet_moves) == statement.closing_balance_yuan
