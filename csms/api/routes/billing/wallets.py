"""Residents' wallets, package subscriptions and monthly statements (family ``billing``).

A wallet is a double-entry ledger (csms.tariffs.ledger): entries are never changed; a
balance is derived. Top-ups, refunds and adjustments are idempotent by ``ref`` (the same ref
again returns the entry already made). Scope: a resident's community. Admin and operator
write, each write audited; money is decimal yuan as a string, whole fen.
"""

from __future__ import annotations

import re
import uuid
from datetime import datetime
from decimal import Decimal
from typing import Annotated, Literal
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Depends, HTTPException, Path, Query, Response
from fastapi import status as http_status
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, ConfigDict, Field

from csms.api.access import Family, Principal
from csms.api.deps import CsmsDep, require
from csms.api.models import (
    MAX_ID,
    MONTH,
    ONE,
    WRITE_ONE,
    Id,
    Page,
    PagingDep,
    Printable,
    page_of,
    store_errors,
)
from csms.api.routes.billing.tariffs import ChargeOut, charge_out
from csms.api.scope import require_location
from csms.app import Csms
from csms.services.billing.statement import statement_csv
from csms.store.billing.admin import BillingAdmin
from csms.store.billing.reads import BillingReads
from csms.store.residents import Residents
from csms.tariffs.ledger import LedgerEntry

router = APIRouter(tags=["billing: wallets and statements"])
Reader = Annotated[Principal, Depends(require(Family.BILLING, "read"))]
Writer = Annotated[Principal, Depends(require(Family.BILLING, "write"))]
ResidentId = Annotated[int, Path(ge=1, le=MAX_ID)]
SubscriptionId = Annotated[int, Path(ge=1, le=MAX_ID)]
Month = Annotated[str, Path(pattern=MONTH, description="YYYY-MM, 1970-01 to 2999-12")]
Amount = Annotated[Decimal, Field(gt=0, le=Decimal("1000000"), decimal_places=2,
                                  allow_inf_nan=False, description="yuan, whole fen")]
Signed = Annotated[Decimal, Field(ge=Decimal("-1000000"), le=Decimal("1000000"),
                                  decimal_places=2, allow_inf_nan=False)]
Ref = Annotated[str, Field(min_length=1, max_length=60, pattern=r"^[A-Za-z0-9:._-]+$")]
Memo = Annotated[str, Field(max_length=200), Printable]


class MoneyIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    amount_yuan: Amount
    ref: Ref | None = Field(default=None, description="idempotency key; generated if left out")
    memo: Memo = ""


class AdjustmentIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    amount_yuan: Signed = Field(description="signed: + credits the wallet, − debits it")
    ref: Ref | None = None
    memo: Annotated[str, Field(min_length=1, max_length=200), Printable] = Field(
        description="why (required)")


class EntryOut(BaseModel):
    kind: str
    at: datetime
    debit: str
    credit: str
    amount_yuan: Decimal
    ref: str
    memo: str


class WalletOut(BaseModel):
    resident_id: int
    balance_yuan: Decimal
    owed_yuan: Decimal = Field(description="shortfalls of sessions beyond the wallet")


class MovementOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    at: datetime
    kind: str
    amount_yuan: Decimal = Field(description="signed: + into the wallet, − out of it")
    ref: str
    memo: str
    session_id: int | None
    account: str


class SubscriptionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    package_id: Id
    month: str = Field(pattern=MONTH, description="YYYY-MM, local, 1970-01 to 2999-12")
    auto_renew: bool = False


class SubscriptionOut(BaseModel):
    id: int
    resident_id: int
    package_id: int
    month: str


class PackageUseOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    subscription_id: int
    package_id: int
    code: str
    name: str
    valid_from: datetime
    valid_until: datetime
    included_kwh: Decimal
    used_in_month_kwh: Decimal
    remaining_kwh: Decimal


class StatementOut(BaseModel):
    """Opening + movements = closing; sessions with their details; package use."""

    model_config = ConfigDict(from_attributes=True)

    resident_id: int
    month: str
    zone: str
    period_start: datetime
    period_end: datetime
    opening_balance_yuan: Decimal
    closing_balance_yuan: Decimal
    owed_yuan: Decimal
    charged_yuan: Decimal
    movements: list[MovementOut]
    sessions: list[ChargeOut]
    packages: list[PackageUseOut]


async def _resident(csms: Csms, principal: Principal, resident_id: int) -> None:
    location = await Residents(csms.engine, csms.store.writer).location_of_resident(resident_id)
    require_location(principal, location, "resident")


def _entry(entry: LedgerEntry) -> EntryOut:
    return EntryOut(kind=entry.kind.value, at=entry.at, debit=entry.debit, credit=entry.credit,
                    amount_yuan=entry.amount_yuan, ref=entry.ref, memo=entry.memo)


def _split(month: str) -> tuple[int, int]:
    found = re.fullmatch(r"(\d{4})-(\d{2})", month)
    assert found is not None  # the path or body pattern checked it
    return int(found[1]), int(found[2])


@router.get("/residents/{resident_id}/wallet", response_model=WalletOut, responses=ONE)
async def get_wallet(resident_id: ResidentId, csms: CsmsDep, principal: Reader) -> WalletOut:
    """The wallet balance and what is owed, derived from the ledger."""
    await _resident(csms, principal, resident_id)
    balance, owed = await BillingReads(csms.engine).balance(resident_id)
    return WalletOut(resident_id=resident_id, balance_yuan=balance, owed_yuan=owed)


@router.get("/residents/{resident_id}/wallet/entries", response_model=Page[MovementOut],
            responses=ONE)
async def list_wallet_entries(resident_id: ResidentId, csms: CsmsDep, principal: Reader,
                              page: PagingDep) -> Page[MovementOut]:
    """The resident's ledger entries in order, signed as the resident sees them."""
    await _resident(csms, principal, resident_id)
    listed = await BillingReads(csms.engine).movements(resident_id, page.limit, page.offset)
    return page_of([MovementOut.model_validate(m) for m in listed.items], listed.total, page)


async def _move(csms: Csms, principal: Principal, resident_id: int, kind: str,
                amount: Decimal, ref: str | None, memo: str) -> EntryOut:
    await _resident(csms, principal, resident_id)
    admin = BillingAdmin(csms.store.writer)
    move = {"top_up": admin.top_up, "refund": admin.refund, "adjust": admin.adjust}[kind]
    with store_errors():
        entry = await move(resident_id, amount, csms.stations.now(), principal.actor,
                           ref or f"{kind}:{uuid.uuid4().hex}", memo)
    return _entry(entry)


@router.post("/residents/{resident_id}/wallet/top-ups", status_code=http_status.HTTP_201_CREATED,
             response_model=EntryOut, responses=WRITE_ONE)
async def top_up(resident_id: ResidentId, body: MoneyIn, csms: CsmsDep,
                 principal: Writer) -> EntryOut:
    """Money into the wallet (from the payment channel)."""
    return await _move(csms, principal, resident_id, "top_up", body.amount_yuan, body.ref,
                       body.memo)


@router.post("/residents/{resident_id}/wallet/refunds", status_code=http_status.HTTP_201_CREATED,
             response_model=EntryOut, responses=WRITE_ONE)
async def refund(resident_id: ResidentId, body: MoneyIn, csms: CsmsDep,
                 principal: Writer) -> EntryOut:
    """Money back out of the wallet; 409 if it holds less."""
    return await _move(csms, principal, resident_id, "refund", body.amount_yuan, body.ref,
                       body.memo)


@router.post("/residents/{resident_id}/wallet/adjustments",
             status_code=http_status.HTTP_201_CREATED, response_model=EntryOut,
             responses=WRITE_ONE)
async def adjust(resident_id: ResidentId, body: AdjustmentIn, csms: CsmsDep,
                 principal: Writer) -> EntryOut:
    """A signed correction (a new entry; entries are never changed); 409 if it would take
    the wallet below its floor, 422 for zero."""
    if body.amount_yuan == 0:
        raise RequestValidationError([{"type": "value_error", "loc": ("body", "amount_yuan"),
                                       "msg": "an adjustment is not zero", "input": "0"}])
    return await _move(csms, principal, resident_id, "adjust", body.amount_yuan, body.ref,
                       body.memo)


@router.post("/residents/{resident_id}/subscriptions", status_code=http_status.HTTP_201_CREATED,
             response_model=SubscriptionOut, responses=WRITE_ONE)
async def subscribe(resident_id: ResidentId, body: SubscriptionIn, csms: CsmsDep,
                    principal: Writer) -> SubscriptionOut:
    """Buy a package for a calendar month, paid from the wallet (409 if it holds too
    little, or the resident has it for that month already; 422 naming an unknown package)."""
    await _resident(csms, principal, resident_id)
    year, month = _split(body.month)
    with store_errors():
        made = await BillingAdmin(csms.store.writer).subscribe(
            resident_id, body.package_id, year, month, csms.stations.now(), principal.actor,
            body.auto_renew)
    return SubscriptionOut(id=made, resident_id=resident_id, package_id=body.package_id,
                           month=body.month)


@router.get("/residents/{resident_id}/subscriptions", response_model=list[PackageUseOut],
            responses=ONE)
async def list_subscriptions(resident_id: ResidentId, csms: CsmsDep,
                             principal: Reader) -> list[PackageUseOut]:
    """The resident's subscriptions (valid from/until, kWh included, used, left), oldest
    first; ``used_in_month_kwh`` here is the whole use."""
    await _resident(csms, principal, resident_id)
    found = await BillingReads(csms.engine).subscriptions(resident_id)
    return [PackageUseOut.model_validate(p) for p in found]


@router.post("/residents/{resident_id}/subscriptions/{subscription_id}/renewals",
             status_code=http_status.HTTP_201_CREATED, response_model=SubscriptionOut,
             responses=WRITE_ONE)
async def renew(resident_id: ResidentId, subscription_id: SubscriptionId, csms: CsmsDep,
                principal: Writer) -> SubscriptionOut:
    """The next calendar month of the subscription at the package's latest version, paid
    from the wallet (409 if renewed already or the wallet holds too little)."""
    await _resident(csms, principal, resident_id)
    mine = [p for p in await BillingReads(csms.engine).subscriptions(resident_id)
            if p.subscription_id == subscription_id]
    if not mine:
        raise HTTPException(http_status.HTTP_404_NOT_FOUND, "no such subscription")
    with store_errors():
        made = await BillingAdmin(csms.store.writer, engine=csms.engine).renew(
            subscription_id, csms.stations.now(), principal.actor)
    renewed = next(p for p in await BillingReads(csms.engine).subscriptions(resident_id)
               if p.subscription_id == made)
    month = renewed.valid_from.astimezone(ZoneInfo("Asia/Shanghai")).strftime("%Y-%m")
    return SubscriptionOut(id=made, resident_id=resident_id, package_id=renewed.package_id,
                           month=month)


@router.get("/residents/{resident_id}/statements/{month}", response_model=StatementOut,
            responses={**ONE, 200: {"content": {"text/csv": {}}}})
async def get_statement(
    resident_id: ResidentId, month: Month, csms: CsmsDep, principal: Reader,
    format: Annotated[Literal["json", "csv"], Query()] = "json",
) -> StatementOut | Response:
    """The resident's monthly statement (a calendar month in their sites' time zone):
    opening and closing balance, wallet movements, sessions with charge details, package
    use; JSON or CSV."""
    await _resident(csms, principal, resident_id)
    year, number = _split(month)
    statement = await BillingReads(csms.engine).statement(resident_id, year, number)
    if format == "csv":
        return Response(statement_csv(statement), media_type="text/csv; charset=utf-8")
    return StatementOut(
        resident_id=statement.resident_id, month=statement.month, zone=statement.zone,
        period_start=statement.period_start, period_end=statement.period_end,
        opening_balance_yuan=statement.opening_balance_yuan,
        closing_balance_yuan=statement.closing_balance_yuan, owed_yuan=statement.owed_yuan,
        charged_yuan=statement.charged_yuan,
        movements=[MovementOut.model_validate(m) for m in statement.movements],
        sessions=[charge_out(c) for c in statement.sessions],
        packages=[PackageUseOut.model_validate(p) for p in statement.packages])
