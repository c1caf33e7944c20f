"""Billing reads: tariff and package versions, subscriptions, wallets, session charges and a
resident's monthly statement. Frozen records out; reads see committed data only.

Statement rules:
1. The month is a calendar month in the zone of the resident's community's sites (Asia/
   Shanghai if they have none or differ): ``[first day 00:00, next month's first day
   00:00)`` local, as aware UTC.
2. The opening balance is the wallet's balance from every entry before the month, the
   closing balance from every entry before its end; so opening + the month's movements =
   closing, exactly (integer fen).
3. Sessions are those whose charge was posted in the month (posted at their end); each
   lists its charge details; package use is the kWh each subscription gave in the month.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Row, select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from csms.store import tables as t
from csms.store.billing import tables as b
from csms.store.billing.rows import plain, yuan
from csms.store.billing.store import wallet_balance_fen
from csms.store.organisation import Listing, fetch_page
from csms.store.rows import utc
from csms.tariffs.ledger import receivable, wallet

DEFAULT_ZONE = "Asia/Shanghai"


@dataclass(frozen=True, slots=True)
class Movement:
    """A wallet entry as the resident sees it: ``amount_yuan`` signed (+ in, − out)."""

    id: int
    at: datetime
    kind: str
    amount_yuan: Decimal
    ref: str
    memo: str
    session_id: int | None
    account: str  # "wallet" or "owed"


@dataclass(frozen=True, slots=True)
class Detail:
    starts_at: datetime
    ends_at: datetime
    period: str
    tariff_id: int
    energy_kwh: Decimal
    electricity_yuan_per_kwh: Decimal
    service_yuan_per_kwh: Decimal
    electricity_yuan: Decimal
    service_yuan: Decimal


@dataclass(frozen=True, slots=True)
class Charge:
    """A session's posted charge: full price, package kWh, what the resident paid."""

    session_id: int
    resident_id: int | None
    started_at: datetime
    ended_at: datetime
    energy_kwh: Decimal
    electricity_yuan: Decimal
    service_yuan: Decimal
    total_yuan: Decimal
    package_kwh: Decimal
    due_yuan: Decimal
    wallet_yuan: Decimal
    shortfall_yuan: Decimal
    details: tuple[Detail, ...]


@dataclass(frozen=True, slots=True)
class PackageUse:
    subscription_id: int
    package_id: int
    code: str
    name: str
    valid_from: datetime
    valid_until: datetime
    included_kwh: Decimal
    used_in_month_kwh: Decimal
    remaining_kwh: Decimal


@dataclass(frozen=True, slots=True)
class Statement:
    resident_id: int
    month: str
    zone: str
    period_start: datetime
    period_end: datetime
    opening_balance_yuan: Decimal
    closing_balance_yuan: Decimal
    owed_yuan: Decimal
    movements: tuple[Movement, ...]
    sessions: tuple[Charge, ...]
    packages: tuple[PackageUse, ...]

    @property
    def charged_yuan(self) -> Decimal:
        return sum((s.due_yuan for s in self.sessions), Decimal("0.00"))


def month_bounds(year: int, month: int, zone: str) -> tuple[datetime, datetime]:
    """Statement Rule 1."""
    tz = ZoneInfo(zone)
    first = datetime.combine(date(year, month, 1), datetime.min.time(), tz)
    following = datetime.combine(date(year + month // 12, month % 12 + 1, 1),
                                 datetime.min.time(), tz)
    return first.astimezone(UTC), following.astimezone(UTC)


def _movement(row: Row[Any]) -> Movement:
    """Seen from the wallet when the entry touches it (a settlement moves money from the
    wallet to what is owed: −), else from what is owed (a shortfall: −)."""
    user = str(row.resident_id)
    account, mine = ("wallet", wallet(user)) if wallet(user) in (row.debit, row.credit) \
        else ("owed", receivable(user))
    sign = 1 if row.credit == mine else -1
    return Movement(row.id, utc(row.at), row.kind, sign * yuan(row.amount_fen), row.ref,
                    row.memo, row.session_id, account)


def _owed(rows: Sequence[Any], resident_id: int) -> Decimal:
    account = receivable(str(resident_id))
    return yuan(sum(r.amount_fen for r in rows if r.debit == account)
                - sum(r.amount_fen for r in rows if r.credit == account))


def _detail(row: Row[Any]) -> Detail:
    return Detail(utc(row.starts_at), utc(row.ends_at), row.period, row.tariff_id,
                  plain(row.energy_kwh), plain(row.electricity_yuan_per_kwh),
                  plain(row.service_yuan_per_kwh), yuan(row.electricity_fen),
                  yuan(row.service_fen))


def _charge(row: Row[Any], details: list[Row[Any]]) -> Charge:
    return Charge(
        row.session_id, row.resident_id, utc(row.started_at), utc(row.ended_at),
        plain(row.energy_kwh), yuan(row.electricity_fen), yuan(row.service_fen),
        yuan(row.electricity_fen + row.service_fen), plain(row.package_kwh),
        yuan(row.due_electricity_fen + row.due_service_fen), yuan(row.wallet_fen),
        yuan(row.shortfall_fen),
        tuple(_detail(d) for d in sorted(details, key=lambda d: d.position)))


async def _charges(conn: AsyncConnection, where: Any) -> list[Charge]:
    c, d = b.session_charges, b.session_charge_details
    rows = (await conn.execute(select(c).where(where).order_by(c.c.ended_at,
                                                               c.c.session_id))).all()
    if not rows:
        return []
    ids = [r.session_id for r in rows]
    details = (await conn.execute(select(d).where(d.c.session_id.in_(ids)))).all()
    return [_charge(r, [x for x in details if x.session_id == r.session_id]) for r in rows]


class BillingReads:
    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    async def charge(self, session_id: int) -> Charge | None:
        async with self._engine.connect() as conn:
            found = await _charges(conn, b.session_charges.c.session_id == session_id)
        return found[0] if found else None

    async def balance(self, resident_id: int) -> tuple[Decimal, Decimal]:
        """(wallet balance, owed) in yuan."""
        w = b.wallet_entries
        async with self._engine.connect() as conn:
            balance = await wallet_balance_fen(conn, resident_id)
            rows = (await conn.execute(select(w.c.debit, w.c.credit, w.c.amount_fen).where(
                w.c.resident_id == resident_id))).all()
        return yuan(balance), _owed(rows, resident_id)

    async def movements(self, resident_id: int, limit: int, offset: int) -> Listing[Movement]:
        w = b.wallet_entries
        return await fetch_page(self._engine, select(w).where(w.c.resident_id == resident_id),
                                limit, offset, _movement, w.c.id)

    async def tariffs(self, communities: Collection[int] | None, sites: Collection[int] | None,
                      limit: int, offset: int) -> Listing[Row[Any]]:
        """Tariff versions (rows, for the API to shape), in the given communities/sites."""
        tr = b.tariffs
        query = select(tr)
        if communities is not None:
            query = query.where(tr.c.community_id.in_(communities) | tr.c.site_id.in_(
                sites or ()))
        return await fetch_page(self._engine, query, limit, offset, lambda r: r, tr.c.id)

    async def tariff(self, tariff_id: int) -> tuple[Row[Any], list[Row[Any]]] | None:
        tr, seg = b.tariffs, b.tariff_segments
        async with self._engine.connect() as conn:
            row = (await conn.execute(select(tr).where(tr.c.id == tariff_id))).one_or_none()
            if row is None:
                return None
            segments = (await conn.execute(select(seg).where(seg.c.tariff_id == tariff_id)
                                           .order_by(seg.c.component, seg.c.position))).all()
        return row, list(segments)

    async def packages(self, limit: int, offset: int) -> Listing[Row[Any]]:
        p = b.packages
        return await fetch_page(self._engine, select(p), limit, offset, lambda r: r, p.c.id)

    async def package(self, package_id: int) -> Row[Any] | None:
        p = b.packages
        async with self._engine.connect() as conn:
            return (await conn.execute(select(p).where(p.c.id == package_id))).one_or_none()

    async def subscriptions(self, resident_id: int) -> list[PackageUse]:
        """Every subscription of the resident, oldest first; ``used_in_month_kwh`` is its
        whole use."""
        async with self._engine.connect() as conn:
            return await _package_use(conn, resident_id, datetime.min.replace(tzinfo=UTC),
                                      datetime.max.replace(tzinfo=UTC))

    async def statement(self, resident_id: int, year: int, month: int,
                        zone: str | None = None) -> Statement:
        """The resident's statement for ``year-month`` (module rules 1–3), in ``zone`` or
        else the time zone of their community's sites (Asia/Shanghai if they differ)."""
        w, c = b.wallet_entries, b.session_charges
        async with self._engine.connect() as conn:
            zone = zone or await _community_zone(conn, resident_id)
            start, end = month_bounds(year, month, zone)
            rows = (await conn.execute(select(w).where(w.c.resident_id == resident_id,
                                                       w.c.at < end).order_by(w.c.at,
                                                                              w.c.id))).all()
            charges = await _charges(conn, (c.c.resident_id == resident_id)
                                     & (c.c.ended_at >= start) & (c.c.ended_at < end))
            packages = await _package_use(conn, resident_id, start, end)
        moves = [_movement(r) for r in rows]
        before = [m for m in moves if m.at < start]
        month_moves = tuple(m for m in moves if m.at >= start)

        def wallet_sum(items: Collection[Movement]) -> Decimal:
            return sum((m.amount_yuan for m in items if m.account == "wallet"), Decimal("0.00"))

        return Statement(resident_id, f"{year:04d}-{month:02d}", zone, start, end,
                         wallet_sum(before), wallet_sum(before) + wallet_sum(month_moves),
                         _owed(rows, resident_id), month_moves, tuple(charges),
                         tuple(packages))


async def _community_zone(conn: AsyncConnection, resident_id: int) -> str:
    r, site = t.residents, t.sites
    zones = set((await conn.execute(select(site.c.timezone).join(
        r, r.c.community_id == site.c.community_id).where(r.c.id == resident_id))).scalars())
    return zones.pop() if len(zones) == 1 else DEFAULT_ZONE


async def _package_use(conn: AsyncConnection, resident_id: int, start: datetime,
                       end: datetime) -> list[PackageUse]:
    s, p, u = b.subscriptions, b.packages, b.package_usage
    subs = (await conn.execute(select(s, p.c.code, p.c.name).join(
        p, p.c.id == s.c.package_id).where(
        s.c.resident_id == resident_id, s.c.valid_from < end, s.c.valid_until > start)
        .order_by(s.c.valid_from, s.c.id))).all()
    used = (await conn.execute(select(u).where(
        u.c.subscription_id.in_([r.id for r in subs])))).all()
    found = []
    for r in subs:
        mine = [x for x in used if x.subscription_id == r.id]
        in_month = [x for x in mine if start <= utc(x.at) < end]
        total = sum((Decimal(x.energy_kwh) for x in mine), Decimal(0))
        found.append(PackageUse(
            r.id, r.package_id, r.code, r.name, utc(r.valid_from), utc(r.valid_until),
            plain(r.included_kwh),
            plain(sum((Decimal(x.energy_kwh) for x in in_month), Decimal(0))),
            plain(Decimal(r.included_kwh) - total)))
    return found
