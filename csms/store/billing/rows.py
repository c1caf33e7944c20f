"""Billing rows to the pure tariff types (csms.tariffs) and back; reads shared by the billing
store modules. No writes here.

Rules:
1. A tariff version read from the store is named by its row id (``TariffVersion.name``), so
   a priced detail names the version that priced it.
2. Money in the tables is integer fen; the pure core works in yuan ``Decimal``:
   :func:`fen` and :func:`yuan` convert exactly (the core rounds to the fen before posting).
3. Accounts of a resident are the ledger's ``wallet:<id>`` and ``receivable:<id>``.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import Row, bindparam, func, or_, select
from sqlalchemy.ext.asyncio import AsyncConnection

from csms.domain.authorization import token_key
from csms.store import tables as t
from csms.store.billing import tables as b
from csms.store.rows import utc
from csms.tariffs.ledger import EntryKind, LedgerEntry, receivable, wallet
from csms.tariffs.model import DayType, Period, TariffVersion, TouRate, TouSchedule
from csms.tariffs.packages import Coverage, Package, Subscription

FEN_PER_YUAN = Decimal(100)


def fen(amount_yuan: Decimal) -> int:
    """Yuan in whole fen to integer fen (Rule 2); ``ValueError`` for a fraction of a fen."""
    value = amount_yuan * FEN_PER_YUAN
    if value != value.to_integral_value():
        raise ValueError(f"{amount_yuan} yuan is not a whole number of fen")
    return int(value)


def yuan(amount_fen: int) -> Decimal:
    return (Decimal(amount_fen) / FEN_PER_YUAN).quantize(Decimal("0.01"))


def plain(value: Decimal | int | float | str) -> Decimal:
    """A stored price or kWh as written (``0.610000`` -> ``0.61``), at least 2 places."""
    number = Decimal(str(value)).normalize()
    exponent = number.as_tuple().exponent
    return number.quantize(Decimal("0.01")) if isinstance(exponent, int) and exponent > -2 \
        else number


# -- tariffs ---------------------------------------------------------------------------------

def _schedule(default: Decimal, period: str, segments: Iterable[Row[Any]]) -> TouSchedule:
    rates = tuple(
        TouRate(s.starts, s.ends, Period(s.period), Decimal(s.yuan_per_kwh),
                frozenset(DayType(d) for d in s.day_types.split(",")))
        for s in sorted(segments, key=lambda s: s.position)
    )
    return TouSchedule(Decimal(default), Period(period), rates)


def tariff_version(row: Row[Any], segments: Sequence[Row[Any]]) -> TariffVersion:
    """One stored tariff as the pure type (Rule 1)."""
    def of(component: str) -> list[Row[Any]]:
        return [s for s in segments if s.component == component]

    return TariffVersion(
        name=str(row.id),
        effective_from=utc(row.effective_from),
        zone=row.zone,
        electricity=_schedule(row.electricity_yuan_per_kwh, row.electricity_period,
                              of("electricity")),
        service=_schedule(row.service_yuan_per_kwh, row.service_period, of("service")),
        holidays=frozenset(date.fromisoformat(d) for d in row.holidays),
        workdays=frozenset(date.fromisoformat(d) for d in row.workdays),
    )


async def tariff_versions(conn: AsyncConnection, site_id: int | None,
                          community_id: int | None) -> list[TariffVersion]:
    """The versions that price a session at the site: the site's own from its first one on,
    its community's before that (a site tariff overrides the community's)."""
    tr, seg = b.tariffs, b.tariff_segments
    found: dict[str, list[TariffVersion]] = {}
    for name, column, key in (("site", tr.c.site_id, site_id),
                              ("community", tr.c.community_id, community_id)):
        rows = [] if key is None else (await conn.execute(select(tr).where(column == key))).all()
        ids = [r.id for r in rows]
        segments = (await conn.execute(select(seg).where(seg.c.tariff_id.in_(ids)))).all() \
            if ids else []
        found[name] = [tariff_version(r, [s for s in segments if s.tariff_id == r.id])
                       for r in rows]
    if not found["site"]:
        return found["community"]
    first = min(v.effective_from for v in found["site"])
    return [v for v in found["community"] if v.effective_from < first] + found["site"]


# -- packages and subscriptions ----------------------------------------------------------

def package(row: Row[Any]) -> Package:
    periods = frozenset(Period(p) for p in row.periods.split(",")) if row.periods else None
    return Package(
        package_id=str(row.id), price_yuan=yuan(row.price_fen),
        included_kwh=Decimal(row.included_kwh), coverage=Coverage(row.coverage),
        communities=frozenset(str(c) for c in row.communities), zone=row.zone,
        periods=periods,
    )


# The reads of every session end, built once (building costs about as much as running).
_USED = select(b.package_usage.c.subscription_id, b.package_usage.c.energy_kwh).where(
    b.package_usage.c.subscription_id.in_(bindparam("ids", expanding=True)))
_SUBSCRIPTIONS = select(b.subscriptions).where(
    b.subscriptions.c.resident_id.in_(bindparam("ids", expanding=True)),
    b.subscriptions.c.valid_from <= bindparam("end"),
    b.subscriptions.c.valid_until > bindparam("start")).order_by(b.subscriptions.c.id)
_PACKAGES = select(b.packages).where(b.packages.c.id.in_(bindparam("ids", expanding=True)))
_RESIDENT = select(t.id_tokens.c.resident_id).where(t.id_tokens.c.token_key == bindparam("key"))
_PLACE = select(t.sites.c.id, t.sites.c.community_id).join(
    t.charge_points, t.charge_points.c.site_id == t.sites.c.id).where(
    t.charge_points.c.id == bindparam("station_id"))


async def used_kwh(conn: AsyncConnection, subscription_ids: Sequence[int]) -> dict[int, Decimal]:
    if not subscription_ids:
        return {}
    rows = (await conn.execute(_USED, {"ids": list(subscription_ids)})).all()
    used: dict[int, Decimal] = {}
    for row in rows:  # summed in Decimal, not in SQL (SQLite would sum floats)
        used[row.subscription_id] = used.get(row.subscription_id, Decimal(0)) + Decimal(
            row.energy_kwh)
    return used


async def subscriptions(conn: AsyncConnection, resident_id: int, start: datetime,
                        end: datetime) -> list[Subscription]:
    """The resident's subscriptions valid at some time in ``[start, end]``, with the kWh
    each has left."""
    return (await subscriptions_of(conn, [resident_id], start, end)).get(resident_id, [])


async def subscriptions_of(conn: AsyncConnection, resident_ids: Sequence[int], start: datetime,
                           end: datetime) -> dict[int, list[Subscription]]:
    """:func:`subscriptions` of many residents at once, by resident (none: left out)."""
    if not resident_ids:
        return {}
    rows = (await conn.execute(_SUBSCRIPTIONS, {
        "ids": list(resident_ids), "start": start, "end": end})).all()
    if not rows:
        return {}
    products = {r.id: package(r) for r in (await conn.execute(_PACKAGES, {
        "ids": sorted({r.package_id for r in rows})})).all()}
    used = await used_kwh(conn, [r.id for r in rows])
    found: dict[int, list[Subscription]] = {}
    for r in rows:
        found.setdefault(r.resident_id, []).append(Subscription(
            subscription_id=str(r.id), package=products[r.package_id],
            valid_from=utc(r.valid_from), valid_until=utc(r.valid_until),
            remaining_kwh=max(Decimal(r.included_kwh) - used.get(r.id, Decimal(0)),
                              Decimal(0))))
    return found


# -- ledger ------------------------------------------------------------------------------------

_W = b.wallet_entries
_MOVES = select(_W.c.resident_id, _W.c.debit, _W.c.credit,
                func.sum(_W.c.amount_fen).label("fen")).where(
    _W.c.resident_id.in_(bindparam("ids", expanding=True))).group_by(
    _W.c.resident_id, _W.c.debit, _W.c.credit)


async def balances_fen(conn: AsyncConnection, resident_ids: Sequence[int]) -> dict[int, int]:
    """Each resident's wallet balance, credits − debits of ``wallet:<id>`` summed in SQL
    over integer fen (Rule 3); 0 for a resident without entries."""
    balances = dict.fromkeys(resident_ids, 0)
    if not balances:
        return balances
    for row in (await conn.execute(_MOVES, {"ids": list(balances)})).all():
        account = wallet(str(row.resident_id))
        if row.credit == account:
            balances[row.resident_id] += int(row.fen)
        if row.debit == account:
            balances[row.resident_id] -= int(row.fen)
    return balances


def ledger_entry(row: Row[Any]) -> LedgerEntry:
    return LedgerEntry(EntryKind(row.kind), utc(row.at), row.debit, row.credit,
                       yuan(row.amount_fen), row.ref, row.memo)


async def ledger(conn: AsyncConnection, resident_id: int) -> list[LedgerEntry]:
    """Every entry touching the resident's wallet or receivable, in order."""
    w = b.wallet_entries
    user = str(resident_id)
    rows = (await conn.execute(select(w).where(
        w.c.resident_id == resident_id,
        or_(w.c.debit.in_([wallet(user), receivable(user)]),
            w.c.credit.in_([wallet(user), receivable(user)])),
    ).order_by(w.c.id))).all()
    return [ledger_entry(r) for r in rows]


def entry_row(entry: LedgerEntry, resident_id: int, actor: str,
              session_id: int | None = None) -> dict[str, Any]:
    return {
        "resident_id": resident_id, "kind": entry.kind.value, "at": entry.at,
        "debit": entry.debit, "credit": entry.credit, "amount_fen": fen(entry.amount_yuan),
        "ref": entry.ref, "memo": entry.memo, "session_id": session_id, "created_by": actor,
    }


async def resident_of_token(conn: AsyncConnection, id_token: str | None) -> int | None:
    if id_token is None:
        return None
    # a session keeps the spelling the charger sent: compare by key
    return (await conn.execute(_RESIDENT, {"key": token_key(id_token)})).scalar_one_or_none()


async def place_of_station(conn: AsyncConnection, station_id: str) -> tuple[int | None,
                                                                           int | None]:
    """(site id, community id) of a charge point; (None, None) if it has no site."""
    row = (await conn.execute(_PLACE, {"station_id": station_id})).one_or_none()
    return (None, None) if row is None else (row.id, row.community_id)
