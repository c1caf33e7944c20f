"""Operator writes of billing: tariff and package versions, subscriptions, wallet movements.

Rules (as in :mod:`csms.store.organisation`):
1. Every write is one group-committed unit with its ``audit_log`` row; a problem is returned
   as a :class:`StoreError` (404, 409, 422 naming the field) and nothing is written.
2. Tariffs and packages are versions (tables_billing Rule 2): "changing" one creates a new
   row. A tariff version needs a unique ``effective_from`` within its site or community.
3. Wallet movements go through the pure ledger (``csms.tariffs.ledger``): a refund or a
   package purchase never takes more than the wallet holds; a negative adjustment never
   takes it below the policy's floor. ``ref`` makes a movement idempotent: the same ref
   again returns the entry already written. A movement that leaves money in the wallet
   settles what the resident owes first (ledger Rule 7).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime, time
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from csms.store import tables as t
from csms.store.access import audit
from csms.store.billing import tables as b
from csms.store.billing.rows import entry_row, fen, ledger
from csms.store.billing.rows import package as to_package
from csms.store.organisation import (
    BadReference,
    Conflict,
    NotFound,
    StoreError,
    bad_reference,
    exists,
    jsonable,
    submit,
)
from csms.store.rows import utc
from csms.store.writer import Writer, WriteTx
from csms.tariffs import ledger as core
from csms.tariffs.packages import subscribe as month_of

Result = Any


@dataclass(frozen=True, slots=True)
class SegmentSpec:
    start: time
    end: time
    period: str
    yuan_per_kwh: Decimal
    day_types: tuple[str, ...] = ("weekday", "weekend", "holiday")


@dataclass(frozen=True, slots=True)
class ScheduleSpec:
    default_yuan_per_kwh: Decimal
    default_period: str = "flat"
    segments: tuple[SegmentSpec, ...] = ()


@dataclass(frozen=True, slots=True)
class TariffSpec:
    """A tariff version; exactly one of ``community_id`` and ``site_id``."""

    name: str
    effective_from: datetime
    zone: str
    electricity: ScheduleSpec
    service: ScheduleSpec
    community_id: int | None = None
    site_id: int | None = None
    holidays: tuple[str, ...] = ()
    workdays: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class PackageSpec:
    code: str
    name: str
    price_yuan: Decimal
    included_kwh: Decimal
    coverage: str
    communities: tuple[int, ...]
    periods: tuple[str, ...] | None = None
    zone: str = "Asia/Shanghai"


class BillingAdmin:
    """The writes behind the billing API and CLI (Rules 1–3)."""

    def __init__(self, writer: Writer,
                 policy: core.WalletPolicy = core.WalletPolicy(),  # noqa: B008 - frozen
                 engine: AsyncEngine | None = None) -> None:
        self._writer = writer
        self._policy = policy
        self._engine = engine

    def _writer_read(self) -> Any:
        """A connection for the reads before a write (committed data)."""
        if self._engine is None:
            raise RuntimeError("BillingAdmin needs its engine for this")
        return self._engine.connect()

    # -- tariffs and packages ----------------------------------------------------------------

    async def create_tariff(self, spec: TariffSpec, at: datetime, actor: str) -> int:
        """A new tariff version; its id. 422 naming an unknown community or site, 409 for a
        second version with the same ``effective_from`` in the same place."""
        async def unit(tx: WriteTx) -> int | StoreError:
            refs = {"community_id": (t.communities.c.id, "community"),
                    "site_id": (t.sites.c.id, "site")}
            problem = await bad_reference(tx.conn, refs, {"community_id": spec.community_id,
                                                          "site_id": spec.site_id})
            if problem is not None:
                return problem
            if await _same_start(tx.conn, spec):
                return Conflict("a version of this tariff already takes effect at "
                                f"{spec.effective_from.isoformat()}")
            tariff_id = await _insert_tariff(tx.conn, spec, at, actor)
            audit(tx, actor, "create", "tariff", tariff_id, jsonable({
                "name": spec.name, "community_id": spec.community_id, "site_id": spec.site_id,
                "effective_from": spec.effective_from}))
            return tariff_id

        return await submit(self._writer, unit)

    async def create_package(self, spec: PackageSpec, at: datetime, actor: str) -> int:
        """A new package, or a new version of the package with the same code; its id."""
        async def unit(tx: WriteTx) -> int | StoreError:
            for community in spec.communities:
                if not await exists(tx.conn, t.communities.c.id, community):
                    return BadReference("communities", community, "community")
            p = b.packages
            latest = (await tx.conn.execute(select(func.max(p.c.version)).where(
                p.c.code == spec.code))).scalar()
            result = await tx.conn.execute(p.insert().values(
                code=spec.code, version=(latest or 0) + 1, name=spec.name,
                price_fen=fen(spec.price_yuan), included_kwh=spec.included_kwh,
                coverage=spec.coverage,
                periods=",".join(spec.periods) if spec.periods else None, zone=spec.zone,
                communities=list(spec.communities), created_by=actor, created_at=at))
            package_id = _key(result)
            audit(tx, actor, "create", "package", package_id, jsonable({
                "code": spec.code, "version": (latest or 0) + 1,
                "price_yuan": spec.price_yuan, "included_kwh": spec.included_kwh}))
            return package_id

        return await submit(self._writer, unit)

    # -- subscriptions -------------------------------------------------------------------------

    async def subscribe(self, resident_id: int, package_id: int, year: int, month: int,
                        at: datetime, actor: str, auto_renew: bool = False,
                        renewal_of: int | None = None) -> int:
        """Buy a package for one local calendar month, paid from the wallet (409 if the
        wallet holds too little, the package does not apply to the resident's community, or
        the resident already has it for that month)."""
        async def unit(tx: WriteTx) -> int | StoreError:
            refs = {"resident_id": (t.residents.c.id, "resident"),
                    "package_id": (b.packages.c.id, "package")}
            problem = await bad_reference(tx.conn, refs, {"resident_id": resident_id,
                                                          "package_id": package_id})
            if problem is not None:
                return problem
            row = (await tx.conn.execute(select(b.packages).where(
                b.packages.c.id == package_id))).one()
            product = to_package(row)
            community = (await tx.conn.execute(select(t.residents.c.community_id).where(
                t.residents.c.id == resident_id))).scalar_one()
            if community not in row.communities:
                return Conflict(f"package {package_id} does not apply to the resident's "
                                f"community {community}")
            months = month_of("new", product, year, month)
            s = b.subscriptions
            if (await tx.conn.execute(select(s.c.id).where(
                    s.c.resident_id == resident_id, s.c.package_id == package_id,
                    s.c.valid_from == months.valid_from))).first() is not None:
                return Conflict("the resident already has this package for that month")
            entries = await ledger(tx.conn, resident_id)
            try:
                paid = [core.buy_package(entries, str(resident_id), product.price_yuan, at,
                                         "pending")] if product.price_yuan > 0 else []
            except ValueError as exc:
                return Conflict(str(exc))
            result = await tx.conn.execute(s.insert().values(
                resident_id=resident_id, package_id=package_id, valid_from=months.valid_from,
                valid_until=months.valid_until, included_kwh=product.included_kwh,
                auto_renew=auto_renew, renewal_of=renewal_of, purchased_at=at))
            subscription_id = _key(result)
            await _insert_entries(tx.conn, [
                replace(e, ref=f"subscription:{subscription_id}") for e in paid],
                resident_id, actor)
            audit(tx, actor, "create", "subscription", subscription_id, {
                "resident_id": resident_id, "package_id": package_id,
                "month": f"{year:04d}-{month:02d}", "auto_renew": auto_renew})
            return subscription_id

        return await submit(self._writer, unit)

    async def renew(self, subscription_id: int, at: datetime, actor: str) -> int:
        """The next calendar month of a subscription, at the latest version of its package
        (same code), paid from the wallet; 404 if there is no such subscription, 409 if it
        was renewed already or the wallet holds too little."""
        s, p = b.subscriptions, b.packages
        async with self._writer_read() as conn:
            row = (await conn.execute(select(s.c.resident_id, s.c.valid_from, s.c.auto_renew,
                                             p.c.code, p.c.zone)
                                      .join(p, p.c.id == s.c.package_id)
                                      .where(s.c.id == subscription_id))).one_or_none()
            if row is None:
                raise NotFound(f"no such subscription {subscription_id}")
            if (await conn.execute(select(s.c.id).where(
                    s.c.renewal_of == subscription_id))).first() is not None:
                raise Conflict(f"subscription {subscription_id} was renewed already")
            latest = (await conn.execute(select(p.c.id).where(p.c.code == row.code)
                                         .order_by(p.c.version.desc()).limit(1))).scalar_one()
        local = utc(row.valid_from).astimezone(ZoneInfo(row.zone))
        year, month = (local.year + 1, 1) if local.month == 12 else (local.year, local.month + 1)
        return await self.subscribe(row.resident_id, latest, year, month, at, actor,
                                    auto_renew=row.auto_renew, renewal_of=subscription_id)

    async def renew_due(self, at: datetime, actor: str) -> list[tuple[int, int | str]]:
        """Renew every auto-renewing subscription that has ended by ``at`` and was not
        renewed: (subscription, new subscription or why not) for each."""
        s = b.subscriptions
        renewed = select(s.c.renewal_of).where(s.c.renewal_of.is_not(None))
        async with self._writer_read() as conn:
            due = (await conn.execute(select(s.c.id).where(
                s.c.auto_renew.is_(True), s.c.valid_until <= at,
                s.c.id.not_in(renewed)).order_by(s.c.id))).scalars().all()
        results: list[tuple[int, int | str]] = []
        for subscription_id in due:
            try:
                results.append((subscription_id, await self.renew(subscription_id, at, actor)))
            except StoreError as exc:
                results.append((subscription_id, str(exc)))
        return results

    # -- wallet --------------------------------------------------------------------------------

    async def top_up(self, resident_id: int, amount_yuan: Decimal, at: datetime, actor: str,
                     ref: str, memo: str = "") -> core.LedgerEntry:
        return await self._move(resident_id, at, actor, "top_up", lambda entries: core.top_up(
            str(resident_id), amount_yuan, at, ref), memo)

    async def refund(self, resident_id: int, amount_yuan: Decimal, at: datetime, actor: str,
                     ref: str, memo: str = "") -> core.LedgerEntry:
        return await self._move(resident_id, at, actor, "refund", lambda entries: core.refund(
            entries, str(resident_id), amount_yuan, at, ref), memo)

    async def adjust(self, resident_id: int, amount_yuan: Decimal, at: datetime, actor: str,
                     ref: str, memo: str = "") -> core.LedgerEntry:
        return await self._move(resident_id, at, actor, "adjust", lambda entries: core.adjust(
            entries, str(resident_id), amount_yuan, at, ref, self._policy), memo)

    async def _move(self, resident_id: int, at: datetime, actor: str, action: str,
                    make: Any, memo: str) -> core.LedgerEntry:
        async def unit(tx: WriteTx) -> core.LedgerEntry | StoreError:
            if not await exists(tx.conn, t.residents.c.id, resident_id):
                return NotFound(f"no such resident {resident_id}")
            entries = await ledger(tx.conn, resident_id)
            try:
                entry = make(entries)
            except ValueError as exc:
                return Conflict(str(exc))
            entry = core.LedgerEntry(entry.kind, entry.at, entry.debit, entry.credit,
                                     entry.amount_yuan, entry.ref, memo)
            done = [e for e in entries if e.ref == entry.ref]
            if done:  # Rule 3: idempotent by ref
                return done[0]
            settled = core.settle_owed([*entries, entry], str(resident_id), at,
                                       f"{entry.ref}:settle")
            await _insert_entries(tx.conn, [entry, *([settled] if settled else [])],
                                  resident_id, actor)
            audit(tx, actor, action, "wallet", resident_id, jsonable({
                "kind": entry.kind, "amount_yuan": entry.amount_yuan, "ref": entry.ref}))
            return entry

        return await submit(self._writer, unit)


def _key(result: Any) -> int:
    key = result.inserted_primary_key
    assert key is not None
    return int(key[0])


async def _same_start(conn: AsyncConnection, spec: TariffSpec) -> bool:
    tr = b.tariffs
    column, value = ((tr.c.site_id, spec.site_id) if spec.site_id is not None
                     else (tr.c.community_id, spec.community_id))
    found = await conn.execute(select(tr.c.id).where(
        column == value, tr.c.effective_from == spec.effective_from))
    return found.first() is not None


async def _insert_tariff(conn: AsyncConnection, spec: TariffSpec, at: datetime,
                         actor: str) -> int:
    result = await conn.execute(b.tariffs.insert().values(
        community_id=spec.community_id, site_id=spec.site_id, name=spec.name,
        effective_from=spec.effective_from, zone=spec.zone,
        electricity_yuan_per_kwh=spec.electricity.default_yuan_per_kwh,
        electricity_period=spec.electricity.default_period,
        service_yuan_per_kwh=spec.service.default_yuan_per_kwh,
        service_period=spec.service.default_period, holidays=list(spec.holidays),
        workdays=list(spec.workdays), created_by=actor, created_at=at))
    tariff_id = _key(result)
    segments = [
        {"tariff_id": tariff_id, "component": component, "position": i, "starts": s.start,
         "ends": s.end, "period": s.period, "yuan_per_kwh": s.yuan_per_kwh,
         "day_types": ",".join(s.day_types)}
        for component, schedule in (("electricity", spec.electricity),
                                    ("service", spec.service))
        for i, s in enumerate(schedule.segments)
    ]
    if segments:
        await conn.execute(b.tariff_segments.insert(), segments)
    return tariff_id


async def _insert_entries(conn: AsyncConnection, entries: Sequence[core.LedgerEntry],
                          resident_id: int, actor: str) -> None:
    if entries:
        await conn.execute(b.wallet_entries.insert(),
                           [entry_row(e, resident_id, actor) for e in entries])
