"""Charging profiles the CSMS installed, version-neutral, over the smart-charging engine.

Rules:
1. The store keeps each :class:`StoredProfile` with its domain form (from ``raw``, the wire
   object, 1.6 or 2.0.1 spelling; 2.0.1's first chargingSchedule). The engine
   (:mod:`simulators.smartcharging.engine`, :mod:`simulators.smartcharging.rules`) decides what an
   installation replaces, what a clear removes, the limits and the composite schedule. A
   profile built without ``raw`` is an open-ended schedule at its lowest limit.
2. TxProfiles belong to one transaction and disappear when it ends.
3. Time is now unless ``at`` is given. Which transaction runs on a connector, and since
   when, comes from :attr:`ProfileStore.transactions` once the station provides it; until
   then a connector holding a TxProfile runs that profile's transaction, started at the
   instant asked about.
4. :meth:`ProfileStore.limit` is what the connector offers and the simulated EV draws: the
   effective limit under the hardware maximum, 0 when that is below 6 A or the schedule's
   minChargingRate (engine rule 8). :meth:`ProfileStore.composite` answers
   GetCompositeSchedule with the profiles' limits as they are.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

from csms.domain.commands import (
    ChargingProfile,
    ChargingSchedule,
    ProfileKind,
    ProfilePurpose,
    SchedulePeriod,
)
from csms.handlers.timefmt import parse_time
from simulators.model import Hardware, Purpose
from simulators.smartcharging import rules
from simulators.smartcharging.engine import (
    EffectiveLimit,
    InstalledProfile,
    Supply,
    composite_schedule,
    effective_limit,
    ev_draw_a,
)

RunningTransaction = tuple[str, datetime | None]  # transaction id, start if known
TransactionLookup = Callable[[int], RunningTransaction | None]


@dataclass(frozen=True, slots=True)
class Limit:
    """One schedule period's limit in its own unit."""

    unit: str  # "A" or "W"
    value: float
    phases: int | None = None


@dataclass(frozen=True, slots=True)
class StoredProfile:
    """A charging profile as the station keeps it; ``raw`` is the wire object received."""

    profile_id: int
    connector_id: int  # 0: the whole station
    stack_level: int
    purpose: Purpose
    limits: tuple[Limit, ...]
    transaction_id: str | None = None
    raw: dict[str, Any] | None = None

    def bound_to(self, transaction_id: str, connector_id: int | None = None) -> StoredProfile:
        """This profile tied to ``transaction_id`` (and moved to ``connector_id`` if given)."""
        where = self.connector_id if connector_id is None else connector_id
        return replace(self, transaction_id=transaction_id, connector_id=where)

    def installed(self) -> InstalledProfile:
        """The engine's view of this profile; raises ``ValueError`` for a bad timestamp."""
        return InstalledProfile(self.connector_id, domain_profile(self))


@dataclass(frozen=True, slots=True)
class CompositeLimit:
    """The answer to GetCompositeSchedule: ``periods`` from ``start`` for ``duration_s``;
    ``limit`` is the first period's."""

    connector_id: int
    unit: str
    limit: float
    duration_s: int
    periods: tuple[SchedulePeriod, ...] = ()
    start: datetime | None = None
    min_rate: float | None = None


def wire_periods(composite: CompositeLimit) -> list[dict[str, Any]]:
    """The composite's periods as ``chargingSchedulePeriod`` entries (limits to 0.1, as
    OCPP 1.6 requires); one period at ``limit`` when the engine gave none."""
    periods = composite.periods or (SchedulePeriod(0, composite.limit),)
    out: list[dict[str, Any]] = []
    for period in periods:
        entry: dict[str, Any] = {"startPeriod": period.start_s, "limit": round(period.limit, 1)}
        if period.number_phases is not None:
            entry["numberPhases"] = period.number_phases
        out.append(entry)
    return out


def domain_profile(stored: StoredProfile) -> ChargingProfile:
    """``stored`` as the domain's charging profile (rule 1)."""
    raw = stored.raw
    purpose = ProfilePurpose(stored.purpose.value)
    if raw is None:
        return ChargingProfile(
            stored.profile_id, stored.stack_level, purpose, ProfileKind.ABSOLUTE,
            _lowest(stored.limits), transaction_ref=stored.transaction_id,
        )
    schedules = raw["chargingSchedule"]
    schedule = schedules[0] if isinstance(schedules, list) else schedules
    return ChargingProfile(
        profile_id=stored.profile_id, stack_level=stored.stack_level, purpose=purpose,
        kind=ProfileKind(raw["chargingProfileKind"]), schedule=_schedule(schedule),
        recurrency=raw.get("recurrencyKind"), valid_from=_time(raw.get("validFrom")),
        valid_to=_time(raw.get("validTo")), transaction_ref=stored.transaction_id,
    )


def _schedule(raw: dict[str, Any]) -> ChargingSchedule:
    min_rate = raw.get("minChargingRate")
    return ChargingSchedule(
        rate_unit=raw["chargingRateUnit"],
        periods=tuple(
            SchedulePeriod(int(p["startPeriod"]), float(p["limit"]), p.get("numberPhases"))
            for p in raw["chargingSchedulePeriod"]
        ),
        duration_s=raw.get("duration"),
        start_at=_time(raw.get("startSchedule")),
        min_rate=None if min_rate is None else float(min_rate),
    )


def _lowest(limits: tuple[Limit, ...]) -> ChargingSchedule:
    unit = limits[0].unit if limits else "A"
    same = [limit for limit in limits if limit.unit == unit]
    low = min(same, key=lambda limit: limit.value, default=Limit(unit, 0.0))
    return ChargingSchedule(unit, (SchedulePeriod(0, low.value, low.phases),))


def _time(value: str | None) -> datetime | None:
    return None if value is None else parse_time(value)


class ProfileStore:
    """The profiles installed on one station."""

    def __init__(self, hardware: Hardware, transactions: TransactionLookup | None = None) -> None:
        self._hardware = hardware
        self._entries: list[tuple[StoredProfile, InstalledProfile]] = []
        self.transactions = transactions

    @property
    def profiles(self) -> list[StoredProfile]:
        """Every installed profile, in installation order."""
        return [stored for stored, _ in self._entries]

    @property
    def installed(self) -> tuple[InstalledProfile, ...]:
        """Every installed profile as the engine sees it, in installation order."""
        return tuple(placed for _, placed in self._entries)

    @property
    def supply(self) -> Supply:
        """The hardware as the engine's supply."""
        hw = self._hardware
        return Supply(hw.voltage_v, hw.phases, hw.max_current_a)

    def install(self, profile: StoredProfile) -> None:
        """Store ``profile``, replacing what it replaces (engine rules)."""
        new = profile.installed()
        kept = {id(placed) for placed in rules.install(self.installed, new)}
        self._entries = [e for e in self._entries if id(e[1]) in kept]
        self._entries.append((profile, new))

    def clear(
        self,
        *,
        profile_id: int | None = None,
        connector_id: int | None = None,
        purpose: Purpose | None = None,
        stack_level: int | None = None,
    ) -> int:
        """Remove the matching profiles and return how many; an id alone decides if given."""
        _, removed = rules.clear(
            self.installed, profile_id=profile_id, connector_id=connector_id,
            purpose=None if purpose is None else ProfilePurpose(purpose.value),
            stack_level=stack_level,
        )
        gone = {id(placed) for placed in removed}
        self._entries = [e for e in self._entries if id(e[1]) not in gone]
        return len(removed)

    def drop_transaction(self, transaction_id: str) -> None:
        """Forget the TxProfiles of a transaction that ended."""
        kept = {id(p) for p in rules.end_transaction(self.installed, transaction_id)}
        self._entries = [e for e in self._entries if id(e[1]) in kept]

    def applicable(self, connector_id: int) -> list[StoredProfile]:
        """The profiles installed on ``connector_id`` or on the whole station."""
        return [stored for stored in self.profiles if stored.connector_id in (0, connector_id)]

    def effective(self, connector_id: int, at: datetime | None = None) -> EffectiveLimit:
        """The engine's limit on ``connector_id`` at ``at`` (default: now)."""
        now = at or datetime.now(UTC)
        tx_start, tx_id = self._transaction(connector_id, now)
        return effective_limit(
            self.installed, connector_id, now, tx_start=tx_start, transaction_id=tx_id,
            supply=self.supply,
        )

    def limit(self, connector_id: int, unit: str, at: datetime | None = None) -> float:
        """What ``connector_id`` offers and the EV draws, in ``unit`` (rule 4)."""
        effective = self.effective(connector_id, at)
        drawn = ev_draw_a(effective, self._hardware.max_current_a)
        return effective.in_unit(unit) if drawn > 0 else 0.0

    def composite(
        self, connector_id: int, duration_s: int, unit: str | None, at: datetime | None = None
    ) -> CompositeLimit:
        """The composite schedule for ``duration_s`` seconds from ``at`` (default: now), in
        ``unit`` (default: amps)."""
        now = at or datetime.now(UTC)
        wanted = unit or "A"
        tx_start, tx_id = self._transaction(connector_id, now)
        schedule = composite_schedule(
            self.installed, connector_id, now, duration_s, wanted, tx_start=tx_start,
            transaction_id=tx_id, supply=self.supply,
        )
        return CompositeLimit(
            connector_id, wanted, schedule.periods[0].limit, duration_s, schedule.periods,
            schedule.start_at, schedule.min_rate,
        )

    def next_change_s(self, connector_id: int, at: datetime, horizon_s: int) -> float | None:
        """Seconds from ``at`` to the next change of ``connector_id``'s limit within
        ``horizon_s``, ``None`` if none (or no profile is installed)."""
        if not self.profiles:
            return None
        starts = [p.start_s for p in self.composite(connector_id, horizon_s, "A", at).periods]
        return next((float(s) for s in starts if s > 0), None)

    def _transaction(self, connector_id: int, now: datetime) -> tuple[datetime | None, str | None]:
        """``(start, id)`` of the transaction on ``connector_id``, ``(None, None)`` if none."""
        if connector_id == 0:
            return None, None
        if self.transactions is not None:
            running = self.transactions(connector_id)
            return (None, None) if running is None else (running[1] or now, running[0])
        bound = next((
            stored.transaction_id for stored in self.profiles
            if stored.purpose is Purpose.TX and stored.connector_id == connector_id
        ), None)
        return (None, None) if bound is None else (now, bound)
