"""SetChargingProfile and ClearChargingProfile as a charging station answers them. Pure.

The profiles are :class:`~simulators.smartcharging.engine.InstalledProfile` tuples, in
installation order; nothing here mutates, every function returns the new collection.

Rules (1.6: OCPP 1.6 edition 2; K01.FR.nn: OCPP 2.0.1 part 2):
1. Rejected (:class:`Rejection`, checked in this order): a connector the station does not
   have (K01.FR.28); a ChargePointMax/ChargingStationMax profile off connector 0 (1.6
   §3.13.1) or Relative (K01.FR.38); a TxProfile on connector 0 (1.6 §3.13.1, K01.FR.16),
   without a transaction on its connector (1.6 §3.13.1, K01.FR.09), naming another
   transaction (K01.FR.33) or, in 2.0.1, none (K01.FR.03); a rate unit the station does not
   allow (1.6 ChargingScheduleAllowedChargingRateUnit, K01.FR.26); more periods than
   allowed (1.6 ChargingScheduleMaxPeriods, 2.0.1 PeriodsPerSchedule); a stack level above
   the maximum (1.6 ChargeProfileMaxStackLevel, 2.0.1 ProfileStackLevel); no periods, a
   first period not at 0 (K01.FR.31) or periods out of order (K01.FR.35); in 2.0.1 a
   missing startSchedule on Absolute/Recurring (K01.FR.40, unless ``lenient_start``) or one
   on Relative (K01.FR.41); Recurring without a recurrency kind or a startSchedule, or
   ``validFrom >= validTo`` (this engine cannot place those in time). The K01 numbers other
   than FR.05/06/39 are as EVerest libocpp's smart-charging notes give them.
2. Installing replaces the profile with the same id (1.6 §5.16.3, K01.FR.05) and the one
   with the same connector, purpose and stack level (1.6 §3.13.2 and §5.16.3; 2.0.1
   K01.FR.06/39 forbid the CSMS to send such a pair, the station replaces). A TxProfile
   occupies its slot for its transaction only.
3. Clearing by id removes that profile alone; otherwise every profile matching all the
   criteria given (connector, purpose, stack level) goes. The caller answers Accepted when
   something was removed, Unknown otherwise.
4. TxProfiles of a transaction go when it ends (1.6 §3.13.1 "SHOULD be deleted").
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from itertools import pairwise

from csms.domain.commands import ChargingProfile, ProfileKind, ProfilePurpose
from simulators.smartcharging.engine import CYCLES, InstalledProfile


class Rejection(StrEnum):
    """Why SetChargingProfile is Rejected (rule 1)."""

    UNKNOWN_CONNECTOR = "UnknownConnector"
    STATION_MAX_OFF_STATION = "StationMaxNotOnConnector0"
    STATION_MAX_RELATIVE = "StationMaxRelative"
    TX_ON_STATION = "TxProfileOnConnector0"
    NO_TRANSACTION = "TxProfileWithoutTransaction"
    OTHER_TRANSACTION = "TxProfileForOtherTransaction"
    MISSING_TRANSACTION_ID = "TxProfileWithoutTransactionId"
    UNIT_NOT_ALLOWED = "RateUnitNotAllowed"
    TOO_MANY_PERIODS = "TooManyPeriods"
    STACK_LEVEL_TOO_HIGH = "StackLevelTooHigh"
    NO_PERIODS = "NoPeriods"
    FIRST_PERIOD_NOT_ZERO = "FirstPeriodNotAtZero"
    PERIODS_OUT_OF_ORDER = "PeriodsOutOfOrder"
    MISSING_START = "MissingStartSchedule"
    EXTRA_START = "StartScheduleOnRelative"
    NO_RECURRENCY = "RecurringWithoutRecurrency"
    EMPTY_VALIDITY = "EmptyValidity"


@dataclass(frozen=True, slots=True)
class StationContext:
    """What SetChargingProfile is checked against: the station's connectors, the
    transaction running on each, its OCPP version and its smart-charging settings."""

    connector_ids: frozenset[int]
    transactions: Mapping[int, str] = field(default_factory=dict)
    version: str = "2.0.1"  # or "1.6"
    rate_units: frozenset[str] = frozenset({"A", "W"})
    max_periods: int | None = None
    max_stack_level: int | None = None
    lenient_start: bool = False  # accept 2.0.1 Absolute/Recurring without startSchedule


def validate(placed: InstalledProfile, context: StationContext) -> Rejection | None:
    """Why a station would answer Rejected to installing ``placed`` (rule 1), or ``None``."""
    checks = (_placement, _transaction, _capabilities, _periods, _timing)
    return next((reason for check in checks if (reason := check(placed, context))), None)


def _placement(placed: InstalledProfile, context: StationContext) -> Rejection | None:
    profile, cid = placed.profile, placed.connector_id
    if cid != 0 and cid not in context.connector_ids:
        return Rejection.UNKNOWN_CONNECTOR
    if profile.purpose is ProfilePurpose.STATION_MAX:
        if cid != 0:
            return Rejection.STATION_MAX_OFF_STATION
        if profile.kind is ProfileKind.RELATIVE:
            return Rejection.STATION_MAX_RELATIVE
    if profile.purpose is ProfilePurpose.TX and cid == 0:
        return Rejection.TX_ON_STATION
    return None


def _transaction(placed: InstalledProfile, context: StationContext) -> Rejection | None:
    profile = placed.profile
    if profile.purpose is not ProfilePurpose.TX:
        return None
    running = context.transactions.get(placed.connector_id)
    if running is None:
        return Rejection.NO_TRANSACTION
    if profile.transaction_ref is None:
        return Rejection.MISSING_TRANSACTION_ID if context.version == "2.0.1" else None
    return None if profile.transaction_ref == running else Rejection.OTHER_TRANSACTION


def _capabilities(placed: InstalledProfile, context: StationContext) -> Rejection | None:
    profile = placed.profile
    if profile.schedule.rate_unit not in context.rate_units:
        return Rejection.UNIT_NOT_ALLOWED
    limit = context.max_periods
    if limit is not None and len(profile.schedule.periods) > limit:
        return Rejection.TOO_MANY_PERIODS
    top = context.max_stack_level
    if top is not None and profile.stack_level > top:
        return Rejection.STACK_LEVEL_TOO_HIGH
    return None


def _periods(placed: InstalledProfile, context: StationContext) -> Rejection | None:
    starts = [period.start_s for period in placed.profile.schedule.periods]
    if not starts:
        return Rejection.NO_PERIODS
    if starts[0] != 0:
        return Rejection.FIRST_PERIOD_NOT_ZERO
    if any(later <= earlier for earlier, later in pairwise(starts)):
        return Rejection.PERIODS_OUT_OF_ORDER
    return None


def _timing(placed: InstalledProfile, context: StationContext) -> Rejection | None:
    profile = placed.profile
    start, kind = profile.schedule.start_at, profile.kind
    strict = context.version == "2.0.1"
    if kind is ProfileKind.RECURRING and profile.recurrency not in CYCLES:
        return Rejection.NO_RECURRENCY
    if start is None and (kind is ProfileKind.RECURRING or (
        strict and kind is ProfileKind.ABSOLUTE and not context.lenient_start
    )):
        return Rejection.MISSING_START
    if strict and kind is ProfileKind.RELATIVE and start is not None:
        return Rejection.EXTRA_START
    since, until = profile.valid_from, profile.valid_to
    if since is not None and until is not None and since >= until:
        return Rejection.EMPTY_VALIDITY
    return None


def _slot(placed: InstalledProfile) -> tuple[int, ProfilePurpose, int, str | None]:
    profile = placed.profile
    tx = profile.transaction_ref if profile.purpose is ProfilePurpose.TX else None
    return placed.connector_id, profile.purpose, profile.stack_level, tx


def install(
    profiles: Sequence[InstalledProfile], new: InstalledProfile
) -> tuple[InstalledProfile, ...]:
    """``profiles`` with ``new`` added and what it replaces removed (rule 2)."""
    kept = tuple(
        p for p in profiles
        if p.profile.profile_id != new.profile.profile_id and _slot(p) != _slot(new)
    )
    return (*kept, new)


def clear(
    profiles: Sequence[InstalledProfile], *, profile_id: int | None = None,
    connector_id: int | None = None, purpose: ProfilePurpose | None = None,
    stack_level: int | None = None,
) -> tuple[tuple[InstalledProfile, ...], tuple[InstalledProfile, ...]]:
    """``(remaining, removed)`` after ClearChargingProfile (rule 3)."""
    def matches(placed: InstalledProfile) -> bool:
        profile = placed.profile
        if profile_id is not None:
            return profile.profile_id == profile_id
        return (
            connector_id in (None, placed.connector_id)
            and purpose in (None, profile.purpose)
            and stack_level in (None, profile.stack_level)
        )

    removed = tuple(p for p in profiles if matches(p))
    return tuple(p for p in profiles if not matches(p)), removed


def end_transaction(
    profiles: Sequence[InstalledProfile], transaction_id: str
) -> tuple[InstalledProfile, ...]:
    """``profiles`` without the TxProfiles of ``transaction_id`` (rule 4)."""
    return tuple(p for p in profiles if not _of_transaction(p.profile, transaction_id))


def _of_transaction(profile: ChargingProfile, transaction_id: str) -> bool:
    return profile.purpose is ProfilePurpose.TX and profile.transaction_ref == transaction_id
