"""Limits as charging profiles: the static safe share and the leased dynamic limit.

Rules:
1. The safe share is a TxDefaultProfile at stack level 0 with no validTo: what a charger
   does when it hears nothing from us (ARCHITECTURE property 5).
2. A dynamic limit is a TxProfile bound to the transaction, valid until ``now + lease_s``:
   when the CSMS stops renewing it, the charger falls back to its safe share.
3. A limit is sent again when it is lower than the last one the charger accepted (by more
   than rounding: the sum of what chargers may draw never exceeds what was allocated), when
   it is higher by more than ``deadband_a`` or leaves 0, or when the lease ends within
   ``renew_before_s``.
4. Profile ids are fixed per EVSE and purpose, so each new profile replaces the old one.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from csms.domain.commands import (
    ChargingProfile,
    ChargingSchedule,
    ProfileKind,
    ProfilePurpose,
    SchedulePeriod,
)

SAFE_PROFILE_BASE = 7_100_000
LEASE_PROFILE_BASE = 7_200_000
_ROUNDING_A = 0.05


@dataclass(frozen=True, slots=True)
class LeasePolicy:
    lease_s: float = 600.0
    renew_before_s: float = 120.0
    deadband_a: float = 1.0

    def __post_init__(self) -> None:
        if not 0 < self.renew_before_s < self.lease_s:
            raise ValueError("renew_before_s must be positive and below lease_s")
        if self.deadband_a < 0:
            raise ValueError("deadband_a cannot be negative")


@dataclass(frozen=True, slots=True)
class Lease:
    """A TxProfile limit the charger accepted, valid until ``valid_to``; ``since``: when
    this limit value was first sent (renewals keep it)."""

    transaction_ref: str
    limit_a: float
    valid_to: datetime
    since: datetime | None = None

    def settled(self, sample_at: datetime, settle_s: float) -> bool:
        """Whether a meter sample taken at ``sample_at`` reflects this limit."""
        return self.since is None or (sample_at - self.since).total_seconds() >= settle_s


def safe_profile(evse_id: int, limit_a: float, phases: int) -> ChargingProfile:
    """The TxDefaultProfile with the static safe share (Rule 1), in A per phase."""
    return ChargingProfile(
        SAFE_PROFILE_BASE + evse_id, 0, ProfilePurpose.TX_DEFAULT, ProfileKind.ABSOLUTE,
        ChargingSchedule("A", (SchedulePeriod(0, limit_a, phases),)),
        valid_from=None, valid_to=None,
    )


def lease_profile(evse_id: int, transaction_ref: str, limit_a: float, phases: int,
                  now: datetime, policy: LeasePolicy,
                  periods: tuple[SchedulePeriod, ...] | None = None) -> ChargingProfile:
    """The TxProfile for ``transaction_ref`` at ``limit_a`` until the lease ends (Rule 2);
    ``periods`` (from ``now``) replaces the flat limit when given (valley shifting)."""
    schedule = ChargingSchedule(
        "A", periods or (SchedulePeriod(0, limit_a, phases),), start_at=now)
    return ChargingProfile(
        LEASE_PROFILE_BASE + evse_id, 1, ProfilePurpose.TX, ProfileKind.ABSOLUTE, schedule,
        valid_from=now, valid_to=now + timedelta(seconds=policy.lease_s),
        transaction_ref=transaction_ref,
    )


def renewed(previous: Lease | None, transaction_ref: str, limit_a: float, now: datetime,
            policy: LeasePolicy) -> Lease:
    """The lease after ``limit_a`` was accepted at ``now``."""
    keep = (previous is not None and previous.transaction_ref == transaction_ref
            and previous.limit_a == limit_a)
    since = previous.since if keep and previous is not None else now
    return Lease(transaction_ref, limit_a, now + timedelta(seconds=policy.lease_s), since)


def needs_sending(lease: Lease | None, transaction_ref: str, limit_a: float, now: datetime,
                  policy: LeasePolicy) -> bool:
    """Whether ``limit_a`` must be (re)sent (Rule 3)."""
    if lease is None or lease.transaction_ref != transaction_ref:
        return True
    if (lease.valid_to - now).total_seconds() <= policy.renew_before_s:
        return True
    if limit_a < lease.limit_a - _ROUNDING_A or (lease.limit_a == 0 < limit_a):
        return True
    return limit_a - lease.limit_a > policy.deadband_a
