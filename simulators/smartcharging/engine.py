"""The charging-profile engine of OCPP 1.6 and 2.0.1: limits in time. Pure, no clock.

Profiles are the domain's :class:`~csms.domain.commands.ChargingProfile` placed on a
connector (:class:`InstalledProfile`; 2.0.1 EVSE ``n`` is connector ``n``, 0 is the whole
station). Times are aware UTC and always an argument. SetChargingProfile and
ClearChargingProfile live in :mod:`simulators.smartcharging.rules`.

Rules:
1. An occurrence of a schedule starts at ``startSchedule`` (Absolute); at ``startSchedule``
   plus whole days or weeks (Recurring Daily/Weekly, none before ``startSchedule``); at the
   transaction start (Relative, and an Absolute one without ``startSchedule``: "if absent
   the schedule will be relative to start of charging", ChargingSchedule in 1.6 and the
   2.0.1 schema). Without a transaction that anchor is the instant asked about, or the
   composite schedule's start: as if a transaction began then.
2. An occurrence lasts ``duration`` seconds (absent or 0: open-ended; a Recurring one ends
   at the next recurrence at the latest). Its limit at offset ``s`` is that of the last
   period with ``startPeriod <= s``. A profile counts only within ``[validFrom, validTo)``.
3. Within a purpose the leading profile at an instant is the one of the highest stack
   level that is valid and has a period then (1.6 §3.13.2); a higher level without a period
   then does not hide a lower one. On equal levels a connector's own TxDefaultProfile beats
   the station-wide one on connector 0, which otherwise applies to every connector (§3.13.1).
4. A TxProfile counts only while a transaction runs on its connector and only for that
   transaction; while one leads it replaces the TxDefaultProfile (§3.13.1). The limit is
   the lowest of that, the leading ChargePointMax/ChargingStationMax profile (connector 0)
   and the supply's maximum current, which is also the limit when no profile applies
   (§3.13.3, §3.13.6).
5. Limits compare as current per phase: W becomes A as ``W / (V x numberPhases)`` with the
   period's own numberPhases, 3 when absent (2.0.1 K01.FR.49, K01.FR.50), ``V`` the nominal
   voltage (230 V unless configured). The phases in use are those of the leading Tx or
   TxDefault period (else the station maximum's, else the supply's), never more than the
   supply has; power is ``A x V x phases``.
6. Connector 0 has only the station maximum (and the supply): its composite schedule is
   what the whole station may draw, not the sum of what its connectors expect to draw.
7. The composite schedule applies rule 4 at ``start`` (truncated to the second) and at every
   later instant where a profile can change (validity bounds, occurrence starts and ends,
   period starts), rounded up to whole seconds, and merges equal neighbours. It reports the
   ``minChargingRate`` leading at its start; the engine never enforces it.
8. The simulated EV draws ``min(its maximum, limit)`` and pauses (0 A) below 6 A, the least
   an AC station can signal (IEC 61851-1), or below the leading ``minChargingRate``.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Final

from csms.domain.commands import (
    ChargingProfile,
    ChargingSchedule,
    ProfileKind,
    ProfilePurpose,
    SchedulePeriod,
)

MIN_AC_CURRENT_A: Final = 6.0
DEFAULT_PHASES: Final = 3
CYCLES: Final = {"Daily": timedelta(days=1), "Weekly": timedelta(weeks=1)}


@dataclass(frozen=True, slots=True)
class InstalledProfile:
    """A profile as installed on ``connector_id`` (0: the whole station)."""

    connector_id: int
    profile: ChargingProfile


@dataclass(frozen=True, slots=True)
class Supply:
    """The electrical side of a connector: nominal voltage, phases wired, hardware maximum."""

    voltage_v: float = 230.0
    phases: int = 3
    max_current_a: float = 32.0


SUPPLY: Final = Supply()


@dataclass(frozen=True, slots=True)
class EffectiveLimit:
    """The limit at one instant, per phase and in total, and the profile that set it."""

    current_a: float
    power_w: float
    phases: int
    source: InstalledProfile | None  # None: the supply maximum
    min_rate_a: float | None = None

    def in_unit(self, unit: str) -> float:
        """``power_w`` for "W", ``current_a`` otherwise."""
        return self.power_w if unit == "W" else self.current_a


@dataclass(frozen=True, slots=True)
class _Lead:
    """A leading profile and its period at one instant."""

    placed: InstalledProfile
    period: SchedulePeriod

    @property
    def unit(self) -> str:
        return self.placed.profile.schedule.rate_unit

    @property
    def phases(self) -> int:
        return self.period.number_phases or DEFAULT_PHASES

    def amps(self, voltage_v: float) -> float:
        return self.to_amps(self.period.limit, voltage_v)

    def to_amps(self, value: float, voltage_v: float) -> float:
        return value / (voltage_v * self.phases) if self.unit == "W" else value


def valid_at(profile: ChargingProfile, at: datetime) -> bool:
    """Whether ``at`` lies in ``[validFrom, validTo)``."""
    return (profile.valid_from is None or profile.valid_from <= at) and (
        profile.valid_to is None or at < profile.valid_to
    )


def occurrence_start(profile: ChargingProfile, at: datetime, anchor: datetime) -> datetime | None:
    """Where the occurrence of the schedule in force at ``at`` begins (rule 1), if any."""
    start = profile.schedule.start_at
    if profile.kind is ProfileKind.RECURRING:
        cycle = CYCLES.get(profile.recurrency or "")
        if cycle is None or start is None or at < start:
            return None
        return start + ((at - start) // cycle) * cycle
    if profile.kind is ProfileKind.ABSOLUTE and start is not None:
        return start
    return anchor


def span(profile: ChargingProfile) -> timedelta | None:
    """How long one occurrence lasts (rule 2); ``None``: open-ended."""
    duration = profile.schedule.duration_s
    length = timedelta(seconds=duration) if duration and duration > 0 else None
    cycle = CYCLES.get(profile.recurrency or "") if profile.kind is ProfileKind.RECURRING else None
    if cycle is None or length is None:
        return length or cycle
    return min(length, cycle)


def period_at(profile: ChargingProfile, at: datetime, anchor: datetime) -> SchedulePeriod | None:
    """The period of ``profile`` in force at ``at``, ``None`` if it says nothing then."""
    start = occurrence_start(profile, at, anchor) if valid_at(profile, at) else None
    if start is None or at < start:
        return None
    length = span(profile)
    if length is not None and at >= start + length:
        return None
    offset = (at - start).total_seconds()
    current = None
    for period in profile.schedule.periods:
        if period.start_s > offset:
            break
        current = period
    return current


def _applies(placed: InstalledProfile, connector_id: int, transaction_id: str | None) -> bool:
    """Whether ``placed`` may constrain ``connector_id`` (rules 3, 4 and 6)."""
    purpose = placed.profile.purpose
    if purpose is ProfilePurpose.STATION_MAX:
        return placed.connector_id == 0
    if connector_id == 0:
        return False
    if purpose is ProfilePurpose.TX_DEFAULT:
        return placed.connector_id in (0, connector_id)
    ref = placed.profile.transaction_ref
    same_tx = ref is None or transaction_id is None or ref == transaction_id
    return placed.connector_id == connector_id and same_tx


def _leading(
    profiles: Iterable[InstalledProfile], connector_id: int, purpose: ProfilePurpose,
    at: datetime, anchor: datetime, transaction_id: str | None,
) -> _Lead | None:
    best: _Lead | None = None
    for placed in profiles:
        if placed.profile.purpose is not purpose:
            continue
        if not _applies(placed, connector_id, transaction_id):
            continue
        period = period_at(placed.profile, at, anchor)
        if period is not None and (best is None or _rank(placed) > _rank(best.placed)):
            best = _Lead(placed, period)
    return best


def _rank(placed: InstalledProfile) -> tuple[int, bool]:
    return placed.profile.stack_level, placed.connector_id != 0


def leading_profile(
    profiles: Iterable[InstalledProfile], connector_id: int, purpose: ProfilePurpose,
    at: datetime, *, tx_start: datetime | None = None, transaction_id: str | None = None,
) -> InstalledProfile | None:
    """The profile of ``purpose`` leading on ``connector_id`` at ``at`` (rule 3), if any."""
    if purpose is ProfilePurpose.TX and tx_start is None:
        return None
    anchor = at if tx_start is None else tx_start
    lead = _leading(profiles, connector_id, purpose, at, anchor, transaction_id)
    return None if lead is None else lead.placed


def _resolve(
    profiles: Sequence[InstalledProfile], connector_id: int, at: datetime, anchor: datetime,
    tx: tuple[bool, str | None], supply: Supply,
) -> EffectiveLimit:
    running, transaction_id = tx
    tx_lead = None
    if running:
        tx_lead = _leading(profiles, connector_id, ProfilePurpose.TX, at, anchor, transaction_id)
    if tx_lead is None:
        tx_lead = _leading(profiles, connector_id, ProfilePurpose.TX_DEFAULT, at, anchor, None)
    station = _leading(profiles, connector_id, ProfilePurpose.STATION_MAX, at, anchor, None)
    shaping = tx_lead or station
    phases = min(supply.phases, supply.phases if shaping is None else shaping.phases)
    options: list[tuple[float, _Lead | None]] = [
        (lead.amps(supply.voltage_v), lead) for lead in (tx_lead, station) if lead is not None
    ]
    current, winner = min([*options, (supply.max_current_a, None)], key=lambda o: o[0])
    if winner is not None and winner.unit == "W" and winner.phases == phases:
        power = winner.period.limit  # exact, not through amps and back
    else:
        power = current * supply.voltage_v * phases
    return EffectiveLimit(
        current, power, phases, None if winner is None else winner.placed,
        None if tx_lead is None else _min_rate_a(tx_lead, supply),
    )


def _min_rate_a(lead: _Lead, supply: Supply) -> float | None:
    min_rate = lead.placed.profile.schedule.min_rate
    return None if min_rate is None else lead.to_amps(min_rate, supply.voltage_v)


def effective_limit(
    profiles: Sequence[InstalledProfile], connector_id: int, at: datetime, *,
    tx_start: datetime | None = None, transaction_id: str | None = None,
    supply: Supply = SUPPLY,
) -> EffectiveLimit:
    """The limit on ``connector_id`` at ``at`` (rules 1-6). A transaction runs when
    ``tx_start`` is given; ``transaction_id`` (if known) selects its TxProfiles."""
    anchor = at if tx_start is None else tx_start
    return _resolve(
        profiles, connector_id, at, anchor, (tx_start is not None, transaction_id), supply
    )


def composite_schedule(
    profiles: Sequence[InstalledProfile], connector_id: int, start: datetime, duration_s: int,
    unit: str = "A", *, tx_start: datetime | None = None, transaction_id: str | None = None,
    supply: Supply = SUPPLY,
) -> ChargingSchedule:
    """The composite schedule of ``connector_id`` for ``duration_s`` seconds from ``start``
    in ``unit`` ("A" per phase or "W"), as GetCompositeSchedule reports it (rule 7)."""
    origin = start.replace(microsecond=0)
    anchor = origin if tx_start is None else tx_start
    tx = (tx_start is not None, transaction_id)
    periods: list[SchedulePeriod] = []
    first: EffectiveLimit | None = None
    for offset in change_offsets(profiles, connector_id, origin, duration_s, anchor):
        at = origin + timedelta(seconds=offset)
        limit = _resolve(profiles, connector_id, at, anchor, tx, supply)
        first = first or limit
        period = SchedulePeriod(offset, limit.in_unit(unit), limit.phases)
        if not periods or (periods[-1].limit, periods[-1].number_phases) != (
            period.limit, period.number_phases
        ):
            periods.append(period)
    min_rate = None if first is None or first.min_rate_a is None else (
        first.min_rate_a * supply.voltage_v * first.phases if unit == "W" else first.min_rate_a
    )
    return ChargingSchedule(unit, tuple(periods), duration_s, origin, min_rate)


def change_offsets(
    profiles: Iterable[InstalledProfile], connector_id: int, origin: datetime,
    duration_s: int, anchor: datetime,
) -> list[int]:
    """0 and every whole second in ``(0, duration_s)`` at which a limit may change."""
    end = origin + timedelta(seconds=duration_s)
    offsets = {0}
    for placed in profiles:
        if placed.connector_id not in (0, connector_id):
            continue
        for instant in _changes(placed.profile, origin, end, anchor):
            offset = math.ceil((instant - origin).total_seconds())
            if 0 < offset < duration_s:
                offsets.add(offset)
    return sorted(offsets)


def _changes(
    profile: ChargingProfile, origin: datetime, end: datetime, anchor: datetime
) -> Iterator[datetime]:
    """Every instant in ``[origin, end)`` at which ``profile`` may start or stop saying
    something or change what it says (over-generating is harmless)."""
    yield from (b for b in (profile.valid_from, profile.valid_to) if b is not None)
    length = span(profile)
    for start in _occurrences(profile, origin, end, anchor):
        yield from (start + timedelta(seconds=p.start_s) for p in profile.schedule.periods)
        if length is not None:
            yield start + length


def _occurrences(
    profile: ChargingProfile, origin: datetime, end: datetime, anchor: datetime
) -> Iterator[datetime]:
    first = occurrence_start(profile, origin, anchor)
    cycle = CYCLES.get(profile.recurrency or "")
    if profile.kind is not ProfileKind.RECURRING:
        if first is not None:
            yield first
        return
    current = first or profile.schedule.start_at
    while cycle is not None and current is not None and current < end:
        yield current
        current += cycle


def ev_draw_a(limit: EffectiveLimit, ev_max_a: float) -> float:
    """The current per phase the simulated EV draws under ``limit`` (rule 8)."""
    offered = min(limit.current_a, ev_max_a)
    floor = max(MIN_AC_CURRENT_A, limit.min_rate_a or 0.0)
    return offered if offered >= floor else 0.0
