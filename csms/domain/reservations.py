"""Reservations: their lifecycle and who may use one. Pure.

Rules:
1. A reservation is ``pending`` from its durable creation until the charger answers
   ReserveNow; ``active`` after Accepted, ``refused`` after anything else (Occupied,
   Faulted, Rejected, Unavailable, or no usable answer).
2. An open (pending or active) reservation is ``expired`` once ``now`` reaches
   ``expires_at``, whether or not the charger said so; ended states never change again.
3. A session consumes an active, unexpired reservation when it names the reservation's
   id (1.6 StartTransaction / 2.0.1 TransactionEvent ``reservationId``) on the reserved
   charger and its token is the reserved one (by :func:`token_key`) or carries the
   reservation's group; the reservation is then ``used``.
4. A reservation must end in the future: :func:`check_request` refuses one that does not.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from csms.domain.authorization import token_key


class ReservationStatus(StrEnum):
    PENDING = "pending"
    ACTIVE = "active"
    REFUSED = "refused"
    CANCELLED = "cancelled"
    EXPIRED = "expired"
    USED = "used"
    REMOVED = "removed"  # 2.0.1 ReservationStatusUpdate Removed


OPEN = frozenset({ReservationStatus.PENDING, ReservationStatus.ACTIVE})


def after_answer(outcome: str) -> ReservationStatus:
    """Rule 1: the status a ReserveNow answer (or failure) leaves."""
    return ReservationStatus.ACTIVE if outcome == "Accepted" else ReservationStatus.REFUSED


def current(status: ReservationStatus, expires_at: datetime,
            now: datetime) -> ReservationStatus:
    """Rule 2: the status at ``now``."""
    if status in OPEN and now >= expires_at:
        return ReservationStatus.EXPIRED
    return status


def may_consume(status: ReservationStatus, expires_at: datetime, now: datetime,
                reserved_token: str, reserved_group: str | None, token: str | None,
                group: str | None = None) -> bool:
    """Rule 3: whether a session with ``token`` (and ``group``) may use the reservation."""
    if current(status, expires_at, now) is not ReservationStatus.ACTIVE or token is None:
        return False
    if token_key(token) == token_key(reserved_token):
        return True
    return reserved_group is not None and group is not None and \
        token_key(group) == token_key(reserved_group)


def check_request(expires_at: datetime, now: datetime) -> None:
    """Rule 4.

    Raises:
        ValueError: ``expires_at`` is not after ``now`` (or not aware).
    """
    if expires_at.tzinfo is None:
        raise ValueError("expires_at must be an aware UTC time")
    if expires_at <= now:
        raise ValueError("a reservation must expire in the future")
