"""Pricing and posting every session a group commit ended, set-based (issue 18).

A stop burst ends hundreds of sessions in one batch of the writer. Priced one by one, each
end cost about fifteen statements (its charge check, session, readings, place, resident,
subscriptions, packages, usage, balance, four inserts and a savepoint). Here the batch
reads each kind once for all its sessions (``IN`` lists), prices and settles them in
Python with the pure core, and writes each table with one statement.

Rules:
1. The result is the one pricing the sessions one at a time in the batch's order would
   give: a resident's wallet balance and the kWh left in each subscription carry from one
   of the resident's sessions to the next within the batch, exactly (integer fen and
   Decimal kWh).
2. Everything reads the state at the batch's end (the finisher runs after the batch's last
   unit, writer rule 7): a top-up in the same batch counts for a session ended before it.
3. A session whose pure pricing fails (no tariff in force, an error) is left unpriced with
   a ``billing_unpriced`` station event; the others are posted. A failure of the database
   itself is raised: the caller prices the sessions one at a time instead
   (csms.store.billing.store).
"""

from __future__ import annotations

import dataclasses
from collections import defaultdict
from collections.abc import Sequence
from decimal import Decimal
from typing import Any

import structlog
from sqlalchemy import bindparam, select
from sqlalchemy.ext.asyncio import AsyncConnection

from csms.domain.authorization import token_key
from csms.domain.sessions import ENERGY_REGISTER
from csms.domain.transactions import SessionFlag, needs_review
from csms.store import tables as t
from csms.store.billing import tables as b
from csms.store.billing.posting import (
    ChargeRows,
    EndedSession,
    pending_event,
    session_of,
    session_ref,
    unpriced_event,
)
from csms.store.billing.rows import (
    balances_fen,
    fen,
    subscriptions_of,
    tariff_versions,
    yuan,
)
from csms.store.writer import WriteTx
from csms.tariffs.ledger import WalletPolicy, wallet
from csms.tariffs.model import TariffVersion
from csms.tariffs.packages import Subscription
from csms.tariffs.pricing import price_session
from csms.tariffs.settlement import Settlement, settle_from_balance

log = structlog.get_logger(__name__)


def _ids(name: str) -> Any:
    return bindparam(name, expanding=True)


_CHARGED = select(b.session_charges.c.session_id).where(
    b.session_charges.c.session_id.in_(_ids("ids")))
_SESSIONS = select(t.sessions).where(t.sessions.c.id.in_(_ids("ids")))
_READINGS = select(t.meter_values.c.session_id, t.meter_values.c.at,
                   t.meter_values.c.value, t.meter_values.c.unit).where(
    t.meter_values.c.session_id.in_(_ids("ids")),
    t.meter_values.c.measurand == ENERGY_REGISTER, t.meter_values.c.phase.is_(None))
_PLACES = select(t.charge_points.c.id, t.sites.c.id.label("site_id"),
                 t.sites.c.community_id).join(
    t.sites, t.charge_points.c.site_id == t.sites.c.id).where(
    t.charge_points.c.id.in_(_ids("ids")))
_RESIDENTS = select(t.id_tokens.c.token_key, t.id_tokens.c.resident_id).where(
    t.id_tokens.c.token_key.in_(_ids("keys")))

async def post_ended(tx: WriteTx, session_ids: Sequence[int], policy: WalletPolicy
                     ) -> list[dict[str, Any]]:
    """Price and post ``session_ids`` (each once, none charged before) in the batch's
    order; returns the station events to record (pending review, unpriced)."""
    conn, events = tx.conn, []
    charged = set((await conn.execute(_CHARGED, {"ids": list(session_ids)})).scalars())
    todo = [i for i in dict.fromkeys(session_ids) if i not in charged]
    sessions = await read_sessions(conn, todo)
    priceable = []
    for session in sessions:
        if SessionFlag.VOID in session.flags:  # an operator decided: never billed
            continue
        if needs_review(session.flags):  # store Rule 5: an operator decides first
            events.append(pending_event(session, tx.now))
            continue
        priceable.append(session)
    if not priceable:
        return events
    places = await _places(tx, {s.station_id for s in priceable})
    residents = await _residents(conn, [s.id_token for s in priceable])
    ids = sorted(set(residents.values()))
    subs = await subscriptions_of(conn, ids, min(s.started_at for s in priceable),
                                  max(s.ended_at for s in priceable))
    balances = await balances_fen(conn, ids)
    left = {sub.subscription_id: sub.remaining_kwh for owned in subs.values() for sub in owned}
    rows = ChargeRows()
    for session in priceable:  # Rule 1: in order, carrying balances and kWh left
        community_id, versions = places.get(session.station_id, (None, []))
        resident_id = residents.get(token_key(session.id_token)) if session.id_token \
            else None
        try:
            priced = price_session(versions, session.samples, session.started_at,
                                   session.ended_at)
        except LookupError as exc:  # store Rule 4
            events.append(_unpriced(tx, session, "no tariff in force" if versions
                                    else "no tariff", exc))
            continue
        owned = subs.get(resident_id, []) if resident_id is not None else []
        try:
            settled = _settle(priced, session, resident_id, community_id, policy, balances,
                              [dataclasses.replace(s, remaining_kwh=left[s.subscription_id])
                               for s in owned if s.valid_from <= session.ended_at
                               and s.valid_until > session.started_at])
            rows.add(session, priced, settled, resident_id, community_id, tx.now)
        except Exception as exc:  # Rule 3: this session alone stays unpriced
            log.exception("billing.session_failed", session_id=session.id)
            events.append(unpriced_event(session.station_id, session.id, tx.now, tx.now,
                                         {"reason": "error", "error": repr(exc)}))
            continue
        _carry(settled, resident_id, balances, left)
    for insert, values in rows.statements():
        await conn.execute(insert, values)
    return events


def _settle(priced: Any, session: EndedSession, resident_id: int | None,
            community_id: int | None, policy: WalletPolicy, balances: dict[int, int],
            subs: list[Subscription]) -> Settlement:
    if resident_id is None:  # store Rule 4: the order only
        settled = settle_from_balance(priced, [], str(community_id), Decimal("0.00"),
                                      "None", session_ref(session.id), session.ended_at,
                                      policy)
        return Settlement(settled.order, settled.packages, ())
    return settle_from_balance(priced, subs, str(community_id),
                               yuan(balances.get(resident_id, 0)), str(resident_id),
                               session_ref(session.id), session.ended_at, policy)


def _carry(settled: Settlement, resident_id: int | None, balances: dict[int, int],
           left: dict[str, Decimal]) -> None:
    """Rule 1: what this session took from the wallet and the packages, for the next."""
    for use in settled.packages.usage:
        left[use.subscription_id] = max(left[use.subscription_id] - use.energy_kwh,
                                        Decimal(0))
    if resident_id is None:
        return
    account = wallet(str(resident_id))
    for entry in settled.entries:
        if entry.credit == account:
            balances[resident_id] = balances.get(resident_id, 0) + fen(entry.amount_yuan)
        if entry.debit == account:
            balances[resident_id] = balances.get(resident_id, 0) - fen(entry.amount_yuan)


def _unpriced(tx: WriteTx, session: EndedSession, reason: str, exc: Exception
              ) -> dict[str, Any]:
    log.warning("billing.session_unpriced", session_id=session.id, reason=reason,
                error=str(exc))
    return unpriced_event(session.station_id, session.id, session.ended_at, tx.now,
                          {"reason": reason, "error": str(exc)})


async def read_sessions(conn: AsyncConnection, ids: list[int]) -> list[EndedSession]:
    """The sessions of ``ids`` that exist, in that order, as pricing sees them."""
    if not ids:
        return []
    rows = {r.id: r for r in (await conn.execute(_SESSIONS, {"ids": ids})).all()}
    readings: dict[int, list[Any]] = defaultdict(list)
    for reading in (await conn.execute(_READINGS, {"ids": ids})).all():
        readings[reading.session_id].append(reading)
    return [session_of(rows[i], readings[i]) for i in ids if i in rows]


async def _places(tx: WriteTx, stations: set[str]
                  ) -> dict[str, tuple[int | None, list[TariffVersion]]]:
    """Each station's community and the tariff versions of its place; a station without a
    site is left out (no tariff). Versions are read once per place (writer rule 6)."""
    found = (await tx.conn.execute(_PLACES, {"ids": sorted(stations)})).all()
    places = {}
    for row in found:
        place = (row.site_id, row.community_id)
        versions: list[TariffVersion] | None = tx.cache.get(("billing.tariffs", place))
        if versions is None:
            versions = tx.cache[("billing.tariffs", place)] = await tariff_versions(
                tx.conn, *place)
        places[row.id] = (row.community_id, versions)
    return places


async def _residents(conn: AsyncConnection, tokens: list[str | None]) -> dict[str, int]:
    """Token key -> resident, for the tokens that have one (compared by key, as a session
    keeps the spelling the charger sent)."""
    keys = sorted({token_key(token) for token in tokens if token is not None})
    if not keys:
        return {}
    return {row.token_key: row.resident_id
            for row in (await conn.execute(_RESIDENTS, {"keys": keys})).all()
            if row.resident_id is not None}
