"""The wallet ledger: immutable double-entry records, balances derived from them.

Rules:
1. An entry moves a positive amount, in whole fen, from its ``debit`` account to its
   ``credit`` account; entries are never changed or deleted (a mistake is corrected by
   an ``ADJUSTMENT``). So the sum of all balances is zero.
2. Balances are credit-normal: ``balance(entries, account)`` = credits − debits. A
   wallet's balance is the money the operator holds for the user; cash (the payment
   channel) is negative; a receivable is negative by what the user owes.
3. Money arrives unrounded and is rounded half-up to the fen here, once, per component
   (electricity and service separately).
4. A session charge takes from the wallet only down to the policy's floor
   (``credit_floor_yuan`` ≤ 0; 0 = prepaid only), electricity first, then service; the
   rest is booked to the user's receivable (a shortfall), to be settled at the next
   top-up by the operator. A wallet never goes below the floor.
5. A session is charged once: a second charge with the same ``ref`` posts nothing.
6. Refunds and package purchases need the money in the wallet (no credit); a negative
   adjustment may not take the wallet below the floor.
7. What is owed is settled from the wallet as soon as it holds money (``settle_owed``,
   after a top-up): as much as the wallet holds above zero, never more than is owed.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from enum import StrEnum

from csms.tariffs.model import require_aware
from csms.tariffs.rounding import round_yuan

CASH = "cash"
REVENUE_ELECTRICITY = "revenue:electricity"
REVENUE_SERVICE = "revenue:service"
REVENUE_PACKAGES = "revenue:packages"
ADJUSTMENTS = "adjustments"
ZERO = Decimal("0.00")


def wallet(user: str) -> str:
    return f"wallet:{user}"


def receivable(user: str) -> str:
    return f"receivable:{user}"


class EntryKind(StrEnum):
    TOP_UP = "top_up"
    SESSION_CHARGE = "session_charge"
    REFUND = "refund"
    ADJUSTMENT = "adjustment"
    PACKAGE_PURCHASE = "package_purchase"
    SETTLEMENT = "settlement"


@dataclass(frozen=True, slots=True)
class WalletPolicy:
    credit_floor_yuan: Decimal = ZERO

    def __post_init__(self) -> None:
        if self.credit_floor_yuan > 0 or round_yuan(self.credit_floor_yuan) != (
            self.credit_floor_yuan
        ):
            raise ValueError("the credit floor is zero or negative, in whole fen")


@dataclass(frozen=True, slots=True)
class LedgerEntry:
    """One double-entry record (Rule 1)."""

    kind: EntryKind
    at: datetime
    debit: str
    credit: str
    amount_yuan: Decimal
    ref: str
    memo: str = ""

    def __post_init__(self) -> None:
        require_aware(self.at)
        if self.debit == self.credit:
            raise ValueError("an entry moves money between two different accounts")
        if self.amount_yuan <= 0 or round_yuan(self.amount_yuan) != self.amount_yuan:
            raise ValueError("an entry's amount is positive, in whole fen")


def balance(entries: Iterable[LedgerEntry], account: str) -> Decimal:
    """Credits − debits of ``account`` (Rule 2)."""
    total = ZERO
    for entry in entries:
        if entry.credit == account:
            total += entry.amount_yuan
        if entry.debit == account:
            total -= entry.amount_yuan
    return total


def owed_yuan(entries: Iterable[LedgerEntry], user: str) -> Decimal:
    """What the user owes from shortfalls (Rule 4); zero or positive."""
    return -balance(entries, receivable(user))


def top_up(user: str, amount_yuan: Decimal, at: datetime, ref: str) -> LedgerEntry:
    return LedgerEntry(EntryKind.TOP_UP, at, CASH, wallet(user), round_yuan(amount_yuan), ref)


def refund(
    entries: Sequence[LedgerEntry], user: str, amount_yuan: Decimal, at: datetime, ref: str
) -> LedgerEntry:
    """Money back out of the wallet; never more than it holds (Rule 6)."""
    amount = round_yuan(amount_yuan)
    if amount > balance(entries, wallet(user)):
        raise ValueError("a refund cannot exceed the wallet balance")
    return LedgerEntry(EntryKind.REFUND, at, wallet(user), CASH, amount, ref)


def adjust(
    entries: Sequence[LedgerEntry],
    user: str,
    amount_yuan: Decimal,
    at: datetime,
    ref: str,
    policy: WalletPolicy = WalletPolicy(),
) -> LedgerEntry:
    """A signed correction of the wallet, from or to ``ADJUSTMENTS`` (Rule 6)."""
    amount = round_yuan(amount_yuan)
    if amount >= 0:
        return LedgerEntry(EntryKind.ADJUSTMENT, at, ADJUSTMENTS, wallet(user), amount, ref)
    if balance(entries, wallet(user)) + amount < policy.credit_floor_yuan:
        raise ValueError("the adjustment would take the wallet below its floor")
    return LedgerEntry(EntryKind.ADJUSTMENT, at, wallet(user), ADJUSTMENTS, -amount, ref)


def buy_package(
    entries: Sequence[LedgerEntry], user: str, price_yuan: Decimal, at: datetime, ref: str
) -> LedgerEntry:
    """A package paid from the wallet, never on credit (Rule 6)."""
    price = round_yuan(price_yuan)
    if price > balance(entries, wallet(user)):
        raise ValueError("not enough money in the wallet for the package")
    return LedgerEntry(EntryKind.PACKAGE_PURCHASE, at, wallet(user), REVENUE_PACKAGES, price, ref)


def charged(entries: Iterable[LedgerEntry], ref: str) -> bool:
    """Whether the session ``ref`` was charged already (Rule 5)."""
    return any(e.kind is EntryKind.SESSION_CHARGE and e.ref == ref for e in entries)


def charge_session(
    entries: Sequence[LedgerEntry],
    user: str,
    ref: str,
    electricity_yuan: Decimal,
    service_yuan: Decimal,
    at: datetime,
    policy: WalletPolicy = WalletPolicy(),
) -> tuple[LedgerEntry, ...]:
    """The entries charging a session (Rules 3–5); empty when ``ref`` was charged."""
    if charged(entries, ref):
        return ()
    return charge_from_balance(balance(entries, wallet(user)), user, ref, electricity_yuan,
                               service_yuan, at, policy)


def charge_from_balance(
    wallet_yuan: Decimal,
    user: str,
    ref: str,
    electricity_yuan: Decimal,
    service_yuan: Decimal,
    at: datetime,
    policy: WalletPolicy = WalletPolicy(),
) -> tuple[LedgerEntry, ...]:
    """:func:`charge_session` from the wallet's balance alone, for a caller that knows
    ``ref`` was not charged (Rules 3–4): the store, which sums the balance in SQL instead of
    reading a resident's whole ledger for every session."""
    available = max(wallet_yuan - policy.credit_floor_yuan, ZERO)
    posted: list[LedgerEntry] = []
    for revenue, unrounded in ((REVENUE_ELECTRICITY, electricity_yuan),
                               (REVENUE_SERVICE, service_yuan)):
        amount = round_yuan(unrounded)
        from_wallet = min(amount, available)
        available -= from_wallet
        for debit, part in ((wallet(user), from_wallet), (receivable(user), amount - from_wallet)):
            if part > 0:
                posted.append(LedgerEntry(EntryKind.SESSION_CHARGE, at, debit, revenue, part, ref))
    return tuple(posted)


def settle_owed(
    entries: Sequence[LedgerEntry], user: str, at: datetime, ref: str
) -> LedgerEntry | None:
    """Pay what the user owes from the wallet, as far as it holds money (Rule 7); None if
    nothing is owed or the wallet is empty."""
    amount = min(owed_yuan(entries, user), balance(entries, wallet(user)))
    if amount <= 0:
        return None
    return LedgerEntry(EntryKind.SETTLEMENT, at, wallet(user), receivable(user), amount, ref)
