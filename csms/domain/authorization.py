"""Who may charge: the verdict on an id token, from its record and the policy. Pure.

Rules:
1. A token the table does not hold is Accepted or Invalid by policy; a stored token has its
   stored status, Expired once past ``expires_at``.
2. Credit (billing): an Accepted token whose record carries a :class:`Credit` is NoCredit
   when its wallet is below ``min_balance_yuan`` and it has no package kWh left. A token
   without credit information (no resident, billing off) is not checked.
3. Id tokens are compared by :func:`token_key`, never as spelt: a card whose hex UID one
   reader sends as ``deadbeef`` and another as ``DEADBEEF`` is one card. OCPP types the
   token as a case-insensitive string (1.6 ``CiString20Type``; 2.0.1 ``idToken`` "is case
   insensitive"), so the rule is not limited to hex UIDs: every ASCII letter is compared
   upper-cased (``res-1`` is ``RES-1``). Nothing else is normalised: non-ASCII characters,
   spaces and separators (``04:A1`` is not ``04A1``) count as they are. The table keeps the
   spelling first registered and holds one row per key.
"""

from __future__ import annotations

import string
from dataclasses import dataclass, replace
from datetime import datetime
from decimal import Decimal
from typing import Final

from csms.domain.model import Authorization, AuthorizationStatus

_ASCII_UPPER: Final = str.maketrans(string.ascii_lowercase, string.ascii_uppercase)


def token_key(value: str) -> str:
    """The form an id token is compared in (Rule 3): ASCII letters upper-cased, every other
    character as it is; the same length as ``value``, and ``token_key`` of a key is itself.
    A hex card UID becomes its upper-case hex."""
    return value.translate(_ASCII_UPPER)


@dataclass(frozen=True, slots=True)
class Credit:
    """What a token's resident can still charge with: wallet yuan and package kWh."""

    balance_yuan: Decimal
    package_kwh_left: Decimal

    def sufficient(self, min_balance_yuan: Decimal) -> bool:
        """Rule 2: enough money, or some package allowance left."""
        return self.balance_yuan >= min_balance_yuan or self.package_kwh_left > 0


@dataclass(frozen=True, slots=True)
class TokenRecord:
    """An id token as the id-token table holds it."""

    id_token: str
    status: AuthorizationStatus
    expires_at: datetime | None = None
    group_id: str | None = None
    credit: Credit | None = None


def decide(
    record: TokenRecord | None,
    *,
    accept_unknown: bool,
    now: datetime,
    min_balance_yuan: Decimal | None = None,
) -> Authorization:
    """The verdict on a token (Rules 1-2); ``min_balance_yuan`` None skips the credit check."""
    verdict = _status(record, accept_unknown=accept_unknown, now=now)
    if (
        record is not None
        and record.credit is not None
        and min_balance_yuan is not None
        and verdict.status is AuthorizationStatus.ACCEPTED
        and not record.credit.sufficient(min_balance_yuan)
    ):
        return replace(verdict, status=AuthorizationStatus.NO_CREDIT)
    return verdict


def _status(record: TokenRecord | None, *, accept_unknown: bool, now: datetime) -> Authorization:
    if record is None:
        status = AuthorizationStatus.ACCEPTED if accept_unknown else AuthorizationStatus.INVALID
        return Authorization(status)
    if (
        record.status is AuthorizationStatus.ACCEPTED
        and record.expires_at is not None
        and record.expires_at < now
    ):
        return Authorization(AuthorizationStatus.EXPIRED, record.expires_at, record.group_id)
    return Authorization(record.status, record.expires_at, record.group_id)
