"""Pricing and posting a session in the transaction that ends it; credit for authorization.

A thin adapter: read the session, its register readings, the tariff versions of its site,
the resident's subscriptions and wallet balance; call the pure core
(:func:`csms.tariffs.pricing.price_session`,
:func:`csms.tariffs.settlement.settle_from_balance`);
write the charge, its details, the package usage and the ledger entries.

Rules:
1. :meth:`SessionBilling.session_ended` is called by the group-commit unit that ends the
   session (``SessionRecorder.on_ended``); the session is priced with every other the batch
   ends, after its last unit and in its transaction (writer rule 7,
   csms.store.billing.batch), so the session's end and its charge commit together or not
   at all, and every meter value of the batch is stored before it is read. A unit cannot
   read the charge of a session its batch ended: services read it after the commit.
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

from datetime import datetime
from decimal import Decimal

import structlog
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection

from csms.domain.authorization import Credit
from csms.store import tables as t
from csms.store.billing import tables as b
from csms.store.billing.batch import post_ended, read_sessions
from csms.store.billing.posting import (
    EndedSession,
    register_samples,
    session_ref,
    unpriced_event,
)
from csms.store.billing.rows import (
    balances_fen,
    place_of_station,
    resident_of_token,
    subscriptions,
    tariff_versions,
    yuan,
)
from csms.store.writer import WriteTx
from csms.tariffs.ledger import WalletPolicy
from csms.tariffs.packages import apply_packages
from csms.tariffs.pricing import price_session
from csms.tariffs.rounding import round_yuan

__all__ = ["SessionBilling", "credit_of_token", "register_samples", "running_cost_yuan",
           "session_cost_yuan", "session_ref", "wallet_balance_fen"]

log = structlog.get_logger(__name__)


class SessionBilling:
    """The hook that prices and posts a session when it ends (Rules 1–5)."""

    def __init__(self, policy: WalletPolicy = WalletPolicy()) -> None:  # noqa: B008 - frozen
        self._policy = policy

    async def session_ended(self, tx: WriteTx, session_id: int) -> None:
        """Price and post the session with every other the batch ends, after its last unit
        (Rule 1, writer rule 7; csms.store.billing.batch)."""
        tx.at_end(self._post_batch, session_id)

    async def _post_batch(self, tx: WriteTx, session_ids: list[int]) -> None:
        """All the batch's ends set-based, in a savepoint; if the database fails there,
        each session alone in a savepoint of its own, so one bad session fails alone. The
        sessions' ends commit whatever happens here: a charger is never made to retry."""
        try:
            async with tx.conn.begin_nested():
                events = await post_ended(tx, session_ids, self._policy)
        except Exception:  # the ends must commit: try them one by one
            log.exception("billing.batch_failed", sessions=len(session_ids))
            for session_id in dict.fromkeys(session_ids):
                await self._post_alone(tx, session_id)
            return
        if events:
            tx.insert_later(t.station_events, events)

    async def _post_alone(self, tx: WriteTx, session_id: int) -> None:
        """One session, as the batch prices it; whatever goes wrong rolls back only its
        billing writes and is recorded as ``billing_unpriced``."""
        try:
            async with tx.conn.begin_nested():
                events = await post_ended(tx, [session_id], self._policy)
        except Exception as exc:  # the end of a session must always commit
            log.exception("billing.session_failed", session_id=session_id)
            events = [unpriced_event(await _station_of(tx.conn, session_id), session_id,
                                     tx.now, tx.now, {"reason": "error", "error": repr(exc)})]
        if events:
            tx.insert_later(t.station_events, events)


async def _read_session(conn: AsyncConnection, session_id: int) -> EndedSession:
    found = await read_sessions(conn, [session_id])
    if not found:
        raise LookupError(f"no session {session_id}")
    return found[0]


async def _station_of(conn: AsyncConnection, session_id: int) -> str:
    s = t.sessions
    return str((await conn.execute(select(s.c.station_id).where(
        s.c.id == session_id))).scalar_one())


# -- credit, for authorization ---------------------------------------------------------------

async def wallet_balance_fen(conn: AsyncConnection, resident_id: int) -> int:
    """Credits − debits of the resident's wallet, summed in SQL over integer fen."""
    return (await balances_fen(conn, [resident_id]))[resident_id]


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
