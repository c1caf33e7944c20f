"""Pricing and posting a session in the transaction that ends it; credit for authorization.

A thin adapter: read the session, its register readings, the tariff versions of its site,
the resident's subscriptions and wallet balance; call the pure core
(:func:`csms.tariffs.pricing.price_session`,
:func:`csms.tariffs.settlement.settle_from_balance`);
write the charge, its details, the package usage and the ledger entries.

Rules:
1. :meth:`SessionBilling.session_ended` runs inside the group-commit unit that ends the
   session (``SessionRecorder.on_ended``), so the session's end and its charge commit
   together or not at all. It first flushes the batch's deferred rows, so the meter values
   queued earlier in the same batch are read too.
2. A session is charged once: a stored charge is never recomputed (a later tariff version
   cannot reprice it), and the ledger refuses a second charge with the same ref.
3. Register readings are the session's phase-less ``Energy.Active.Import.Register`` values
   plus its meter start and stop; readings below an earlier one (a register going backwards,
   recorded as a safety event elsewhere) are left out, so pricing never fails on them.
4. A session on a charger without a site, or with no tariff in force, is not priced: a
   ``billing_unpriced`` station event says why. A session without a resident is priced (the
   order for the platform) but posts nothing to any wallet.
5. A session flagged for review (csms.domain.transactions.REVIEW_FLAGS: an implausible
   baseline or energy, a stop before its start) is not posted: a ``billing_pending`` station
   event says so, and the operator's decision (csms.store.sessions.review) posts it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

import structlog
from sqlalchemy import bindparam, case, func, select
from sqlalchemy.ext.asyncio import AsyncConnection

from csms.domain.authorization import Credit
from csms.domain.model import StationEventReported
from csms.domain.sessions import ENERGY_REGISTER
from csms.domain.transactions import SessionFlag, needs_review
from csms.store import tables as t
from csms.store.billing import tables as b
from csms.store.billing.rows import (
    entry_row,
    fen,
    place_of_station,
    resident_of_token,
    subscriptions,
    tariff_versions,
    yuan,
)
from csms.store.rows import SESSION_BY_ID, event_row, utc
from csms.store.writer import WriteTx
from csms.tariffs.ledger import WalletPolicy, receivable, wallet
from csms.tariffs.model import TariffVersion
from csms.tariffs.packages import apply_packages
from csms.tariffs.pricing import PricedSession, RegisterSample, price_session, register_sample
from csms.tariffs.rounding import round_yuan
from csms.tariffs.settlement import Settlement, settle_from_balance

log = structlog.get_logger(__name__)
_WH_PER_UNIT = {None: 1, "Wh": 1, "kWh": 1000}
SYSTEM = "system:billing"


def session_ref(session_id: int) -> str:
    return f"session:{session_id}"


@dataclass(frozen=True, slots=True)
class _Session:
    id: int
    station_id: str
    started_at: datetime
    ended_at: datetime
    id_token: str | None
    samples: list[RegisterSample]
    ended: bool
    flags: tuple[str, ...] = ()


# The statements of every session end, built once (building costs about as much as running).
_REGISTER = select(t.meter_values.c.at, t.meter_values.c.value, t.meter_values.c.unit).where(
    t.meter_values.c.session_id == bindparam("session_id"),
    t.meter_values.c.measurand == ENERGY_REGISTER, t.meter_values.c.phase.is_(None))
_CHARGED = select(b.session_charges.c.session_id).where(
    b.session_charges.c.session_id == bindparam("session_id"))
_SIGNED = case((b.wallet_entries.c.credit == bindparam("account"), b.wallet_entries.c.amount_fen),
               (b.wallet_entries.c.debit == bindparam("account"), -b.wallet_entries.c.amount_fen),
               else_=0)
_BALANCE = select(func.coalesce(func.sum(_SIGNED), 0)).where(
    b.wallet_entries.c.resident_id == bindparam("resident_id"))
_INSERT_CHARGE = b.session_charges.insert()
_INSERT_DETAILS = b.session_charge_details.insert()
_INSERT_USAGE = b.package_usage.insert()
_INSERT_ENTRIES = b.wallet_entries.insert()


async def _read_session(conn: AsyncConnection, session_id: int) -> _Session:
    row = (await conn.execute(SESSION_BY_ID, {"session_id": session_id})).one()
    readings = (await conn.execute(_REGISTER, {"session_id": session_id})).all()
    start, end = utc(row.started_at), utc(row.ended_at or row.started_at)
    floor = row.meter_start_wh  # a reading below the start (a replaced baseline) is not used
    points = [(utc(r.at), r.value * _WH_PER_UNIT[r.unit]) for r in readings
              if r.unit in _WH_PER_UNIT
              and (floor is None or r.value * _WH_PER_UNIT[r.unit] >= floor)]
    # While a session runs, meter_stop_wh is its latest reading, not one at its end.
    ends = ((start, row.meter_start_wh), (end, row.meter_stop_wh)) if row.ended_at \
        else ((start, row.meter_start_wh),)
    points += [(at, wh) for at, wh in ends if wh is not None]
    return _Session(row.id, row.station_id, start, max(start, end), row.id_token,
                    register_samples(points, start), row.ended_at is not None,
                    tuple(row.flags or ()))


def register_samples(points: list[tuple[datetime, float]], start: datetime) -> list[
        RegisterSample]:
    """Readings in time order, one per instant, never going down (Rule 3)."""
    samples: list[RegisterSample] = []
    for at, wh in sorted(points):
        sample = register_sample(at, wh)
        if samples and sample.energy_wh < samples[-1].energy_wh:
            continue
        if samples and samples[-1].at == at:
            samples[-1] = sample
        else:
            samples.append(sample)
    return samples or [register_sample(start, 0)]


class SessionBilling:
    """The hook that prices and posts a session when it ends (Rules 1–4)."""

    def __init__(self, policy: WalletPolicy = WalletPolicy()) -> None:  # noqa: B008 - frozen
        self._policy = policy

    async def session_ended(self, tx: WriteTx, session_id: int) -> None:
        """Price and post the session (Rules 1–4). Whatever goes wrong here rolls back only
        the billing writes (a savepoint) and is recorded as ``billing_unpriced``: the
        session's end still commits, so the charger is never made to retry it."""
        await tx.flush()
        try:
            async with tx.conn.begin_nested():
                await self._post(tx, session_id)
        except Exception as exc:  # the end of a session must always commit
            log.exception("billing.session_failed", session_id=session_id)
            tx.insert_later(t.station_events, [event_row(StationEventReported(
                await _station_of(tx.conn, session_id), "billing_unpriced", tx.now,
                code=str(session_id), details={"reason": "error", "error": repr(exc)}), tx.now)])

    async def _post(self, tx: WriteTx, session_id: int) -> None:
        conn = tx.conn
        if await _charged(conn, session_id):
            return
        session = await _read_session(conn, session_id)
        if SessionFlag.VOID in session.flags:  # an operator decided: never billed
            return
        if needs_review(session.flags):  # Rule 5: an operator decides first
            tx.insert_later(t.station_events, [event_row(StationEventReported(
                session.station_id, "billing_pending", session.ended_at, code=str(session.id),
                details={"flags": list(session.flags)}), tx.now)])
            return
        community_id, versions = await _tariffs_of(tx, session.station_id)
        try:
            priced = price_session(versions, session.samples, session.started_at,
                                   session.ended_at)
        except LookupError as exc:
            _unpriced(tx, session, "no tariff in force" if versions else "no tariff", exc)
            return
        resident_id = await resident_of_token(conn, session.id_token)
        settlement = await self._settle(conn, priced, session, resident_id, community_id)
        await _write(conn, session, priced, settlement, resident_id, community_id, tx.now)

    async def _settle(self, conn: AsyncConnection, priced: PricedSession, session: _Session,
                      resident_id: int | None, community_id: int | None) -> Settlement:
        subs, balance = [], Decimal("0.00")
        if resident_id is not None:  # the wallet's balance, summed in SQL (Rule 2 keeps the
            # charge once: _charged above, and the charge's row commits with its entries)
            subs = await subscriptions(conn, resident_id, session.started_at, session.ended_at)
            balance = yuan(await wallet_balance_fen(conn, resident_id))
        settled = settle_from_balance(priced, subs, str(community_id), balance,
                                      str(resident_id), session_ref(session.id),
                                      session.ended_at, self._policy)
        if resident_id is None:  # Rule 4: the order only
            return Settlement(settled.order, settled.packages, ())
        return settled


async def _tariffs_of(tx: WriteTx, station_id: str) -> tuple[int | None, list[TariffVersion]]:
    """The community of the station's site and the tariff versions that price its sessions,
    each read once per batch (writer rule 6: a stop burst prices a site's ends on one read
    of its tariffs, and a charger's on one read of its place)."""
    place: tuple[int | None, int | None] | None = tx.cache.get(("billing.place", station_id))
    if place is None:
        place = tx.cache[("billing.place", station_id)] = await place_of_station(
            tx.conn, station_id)
    versions: list[TariffVersion] | None = tx.cache.get(("billing.tariffs", place))
    if versions is None:
        versions = tx.cache[("billing.tariffs", place)] = await tariff_versions(
            tx.conn, *place)
    return place[1], versions


async def _station_of(conn: AsyncConnection, session_id: int) -> str:
    s = t.sessions
    return str((await conn.execute(select(s.c.station_id).where(
        s.c.id == session_id))).scalar_one())


async def _charged(conn: AsyncConnection, session_id: int) -> bool:
    return (await conn.execute(_CHARGED, {"session_id": session_id})).first() is not None


def _unpriced(tx: WriteTx, session: _Session, reason: str, exc: Exception) -> None:
    log.warning("billing.session_unpriced", session_id=session.id, reason=reason,
                error=str(exc))
    tx.insert_later(t.station_events, [event_row(StationEventReported(
        session.station_id, "billing_unpriced", session.ended_at, code=str(session.id),
        details={"reason": reason, "error": str(exc)}), tx.now)])


async def _write(conn: AsyncConnection, session: _Session, priced: PricedSession,
                 settled: Settlement, resident_id: int | None,
                 community_id: int | None, priced_at: datetime) -> None:
    order, packages = settled.order, settled.packages
    user = str(resident_id)
    paid = {wallet(user): 0, receivable(user): 0}
    for entry in settled.entries:
        paid[entry.debit] = paid.get(entry.debit, 0) + fen(entry.amount_yuan)
    await conn.execute(_INSERT_CHARGE, {
        "session_id": session.id, "resident_id": resident_id, "community_id": community_id,
        "started_at": session.started_at, "ended_at": session.ended_at,
        "energy_kwh": order.energy_kwh, "electricity_fen": fen(order.electricity_yuan),
        "service_fen": fen(order.service_yuan),
        "package_kwh": sum((u.energy_kwh for u in packages.usage), Decimal(0)),
        "due_electricity_fen": fen(round_yuan(packages.electricity_yuan)),
        "due_service_fen": fen(round_yuan(packages.service_yuan)),
        "wallet_fen": paid[wallet(user)], "shortfall_fen": paid[receivable(user)],
        "priced_at": priced_at,
    })
    details: list[dict[str, Any]] = [
        {"session_id": session.id, "position": i, "starts_at": d.start, "ends_at": d.end,
         "tariff_id": int(raw.tariff), "period": d.period.value, "energy_kwh": d.energy_kwh,
         "electricity_yuan_per_kwh": d.electricity_yuan_per_kwh,
         "service_yuan_per_kwh": d.service_yuan_per_kwh,
         "electricity_fen": fen(d.electricity_yuan), "service_fen": fen(d.service_yuan)}
        for i, (d, raw) in enumerate(zip(order.details, priced.details, strict=True))
    ]
    if details:
        await conn.execute(_INSERT_DETAILS, details)
    usage = [{"subscription_id": int(u.subscription_id), "session_id": session.id,
              "detail_index": u.detail_index, "energy_kwh": u.energy_kwh,
              "at": session.ended_at} for u in packages.usage]
    if usage:
        await conn.execute(_INSERT_USAGE, usage)
    if settled.entries and resident_id is not None:
        await conn.execute(_INSERT_ENTRIES, [
            entry_row(e, resident_id, SYSTEM, session.id) for e in settled.entries])


# -- credit, for authorization ---------------------------------------------------------------

async def wallet_balance_fen(conn: AsyncConnection, resident_id: int) -> int:
    """Credits − debits of the resident's wallet, summed in SQL over integer fen."""
    total = (await conn.execute(_BALANCE, {"account": wallet(str(resident_id)),
                                           "resident_id": resident_id})).scalar_one()
    return int(total)


async def credit_of_token(conn: AsyncConnection, id_token: str, at: datetime) -> Credit | None:
    """The wallet balance and package kWh left of the token's resident at ``at``; None for
    a token without a resident (billing does not apply to it)."""
    resident_id = await resident_of_token(conn, id_token)
    if resident_id is None:
        return None
    balance = yuan(await wallet_balance_fen(conn, resident_id))
    subs = await subscriptions(conn, resident_id, at, at)
    left = sum((s.remaining_kwh for s in subs), Decimal(0))
    return Credit(balance, left)


async def session_cost_yuan(conn: AsyncConnection, session_id: int) -> Decimal | None:
    """What the session's user pays (after packages), as posted; None if not priced."""
    c = b.session_charges
    row = (await conn.execute(select(c.c.due_electricity_fen, c.c.due_service_fen).where(
        c.c.session_id == session_id))).one_or_none()
    return None if row is None else yuan(row.due_electricity_fen + row.due_service_fen)


async def running_cost_yuan(conn: AsyncConnection, session_id: int) -> Decimal | None:
    """What the session's user would pay if it ended at its last reading (packages first,
    rounded half-up per component); nothing is posted. None once it has ended (its cost
    is posted), or without a tariff or a site."""
    session = await _read_session(conn, session_id)
    if session.ended:
        return None
    end = max(session.samples[-1].at, session.started_at)
    site_id, community_id = await place_of_station(conn, session.station_id)
    versions = await tariff_versions(conn, site_id, community_id)
    try:
        priced = price_session(versions, session.samples, session.started_at, end)
    except LookupError:
        return None
    resident_id = await resident_of_token(conn, session.id_token)
    subs = [] if resident_id is None else await subscriptions(
        conn, resident_id, session.started_at, end)
    left = apply_packages(priced.details, subs, str(community_id))
    return round_yuan(left.electricity_yuan) + round_yuan(left.service_yuan)
