"""Settling a priced session: the order to post, packages first, the wallet second.

Rules:
1. The charge order (what the municipal platform receives) shows the full price of the
   session, rounded at posting (``csms.tariffs.rounding``); packages do not change it.
2. What the user pays is what the packages leave (``apply_packages``), rounded half-up per
   component and charged to the wallet down to its floor; the rest becomes a receivable
   (ledger Rule 4).
3. Pure: the caller stores the returned subscriptions and entries, and passes the time.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from csms.tariffs.ledger import (
    EntryKind,
    LedgerEntry,
    WalletPolicy,
    balance,
    charge_from_balance,
    charged,
    receivable,
    wallet,
)
from csms.tariffs.packages import PackageResult, Subscription, apply_packages
from csms.tariffs.pricing import PricedSession
from csms.tariffs.rounding import PostedOrder, post_order


@dataclass(frozen=True, slots=True)
class Settlement:
    order: PostedOrder
    packages: PackageResult
    entries: tuple[LedgerEntry, ...]

    @property
    def charged_yuan(self) -> Decimal:
        """The money posted for the session, wallet and shortfall together."""
        return sum((e.amount_yuan for e in self.entries), Decimal("0.00"))

    def shortfall_yuan(self, user: str) -> Decimal:
        return sum(
            (e.amount_yuan for e in self.entries
             if e.kind is EntryKind.SESSION_CHARGE and e.debit == receivable(user)),
            Decimal("0.00"),
        )


def settle_session(
    session: PricedSession,
    subscriptions: Sequence[Subscription],
    community: str,
    ledger: Sequence[LedgerEntry],
    user: str,
    ref: str,
    at: datetime,
    policy: WalletPolicy = WalletPolicy(),  # noqa: B008 - frozen, so sharing it is safe
) -> Settlement:
    """Rules 1–3 for one ended session."""
    if charged(ledger, ref):
        return Settlement(post_order(session),
                          apply_packages(session.details, subscriptions, community), ())
    return settle_from_balance(session, subscriptions, community,
                               balance(ledger, wallet(user)), user, ref, at, policy)


def settle_from_balance(
    session: PricedSession,
    subscriptions: Sequence[Subscription],
    community: str,
    wallet_yuan: Decimal,
    user: str,
    ref: str,
    at: datetime,
    policy: WalletPolicy = WalletPolicy(),  # noqa: B008 - frozen, so sharing it is safe
) -> Settlement:
    """:func:`settle_session` from the wallet's balance, for a session not charged yet."""
    packages = apply_packages(session.details, subscriptions, community)
    entries = charge_from_balance(
        wallet_yuan, user, ref, packages.electricity_yuan, packages.service_yuan, at, policy
    )
    return Settlement(post_order(session), packages, entries)
