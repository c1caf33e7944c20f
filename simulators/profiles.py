"""Charging profiles the CSMS installed, version-neutral, and a trivial composite schedule.

Rules:
1. A new profile replaces one with the same id, and one with the same connector, purpose
   and stack level (OCPP 1.6 §3.13.2 / 2.0.1 K01.FR.05).
2. TxProfiles belong to one transaction and disappear when it ends.
3. The composite schedule is deliberately simple: the lowest limit of every applicable
   profile (the connector's own and the station-wide ones on connector 0), capped by the
   hardware, as one period. A faithful stacking engine replaces :meth:`ProfileStore.limit`
   later without changing its callers.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from simulators.model import Hardware, Purpose


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


@dataclass(frozen=True, slots=True)
class CompositeLimit:
    """The answer to GetCompositeSchedule: one period of ``limit`` for ``duration_s``."""

    connector_id: int
    unit: str
    limit: float
    duration_s: int


class ProfileStore:
    """The profiles installed on one station."""

    def __init__(self, hardware: Hardware) -> None:
        self._hardware = hardware
        self._profiles: dict[int, StoredProfile] = {}

    @property
    def profiles(self) -> list[StoredProfile]:
        """Every installed profile, in installation order."""
        return list(self._profiles.values())

    def install(self, profile: StoredProfile) -> None:
        """Store ``profile``, replacing what rule 1 says it replaces."""
        for key, old in list(self._profiles.items()):
            same_slot = (old.connector_id, old.purpose, old.stack_level) == (
                profile.connector_id, profile.purpose, profile.stack_level
            )
            if key == profile.profile_id or same_slot:
                del self._profiles[key]
        self._profiles[profile.profile_id] = profile

    def clear(
        self,
        *,
        profile_id: int | None = None,
        connector_id: int | None = None,
        purpose: Purpose | None = None,
        stack_level: int | None = None,
    ) -> int:
        """Remove the matching profiles and return how many; an id alone decides if given."""
        def matches(p: StoredProfile) -> bool:
            if profile_id is not None:
                return p.profile_id == profile_id
            return (
                connector_id in (None, p.connector_id)
                and purpose in (None, p.purpose)
                and stack_level in (None, p.stack_level)
            )

        doomed = [p.profile_id for p in self._profiles.values() if matches(p)]
        for key in doomed:
            del self._profiles[key]
        return len(doomed)

    def drop_transaction(self, transaction_id: str) -> None:
        """Forget the TxProfiles of a transaction that ended."""
        for key, profile in list(self._profiles.items()):
            if profile.purpose is Purpose.TX and profile.transaction_id == transaction_id:
                del self._profiles[key]

    def applicable(self, connector_id: int) -> list[StoredProfile]:
        """The profiles that constrain ``connector_id``: its own and the station-wide ones."""
        return [p for p in self._profiles.values() if p.connector_id in (0, connector_id)]

    def limit(self, connector_id: int, unit: str) -> float:
        """The lowest applicable limit in ``unit`` ("A" per phase or "W"), hardware-capped."""
        hardware_cap = (
            self._hardware.max_current_a if unit == "A"
            else self._hardware.watts(self._hardware.max_current_a)
        )
        values = [
            self._convert(limit, unit)
            for profile in self.applicable(connector_id)
            for limit in profile.limits
        ]
        return min([hardware_cap, *values])

    def composite(self, connector_id: int, duration_s: int, unit: str | None) -> CompositeLimit:
        """The schedule for the next ``duration_s`` seconds, in ``unit`` (default: amps)."""
        wanted = unit or "A"
        return CompositeLimit(connector_id, wanted, self.limit(connector_id, wanted), duration_s)

    def _convert(self, limit: Limit, unit: str) -> float:
        if limit.unit == unit:
            return limit.value
        if unit == "W":
            return self._hardware.watts(limit.value, limit.phases)
        return self._hardware.amps(limit.value, limit.phases)
