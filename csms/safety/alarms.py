"""Alarms: what a safety rule decides, keyed so each condition is open at most once. Pure.

Rules:
1. An alarm has a level (1 personal safety, 2 equipment, 3 notice, as the city safety
   platforms number them), a stable code (:class:`AlarmCode`, a lower-case string that is
   never renamed), a station, an EVSE/connector (0/0 for the whole station or site), an
   optional session, JSON-able evidence (the values that triggered it) and ``raised_at``.
2. The level of a code is fixed by :data:`LEVELS`; rules never choose a level themselves.
3. The condition key is (code, station, evse, connector): at most one alarm per key is open.
4. A rule answers with decisions: :class:`Raise` (the condition holds) or :class:`Clear` (it
   no longer holds: NoError, NotifyEvent cleared=true, value back in range, message
   received). Rules may repeat themselves; :func:`settle` drops a Raise for a key already
   open and a Clear for a key not open, and returns the new set of open keys
   (:func:`settle_conditions` does the same over condition texts, as a store keeps them).
5. Site-wide alarms (site overload) carry ``site_id`` (and ``feeder_id`` for a feeder of
   the site), an empty ``station_id`` and 0/0 as EVSE/connector.
6. :func:`condition_text` spells a key as one stable string (the store's uniqueness key).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from collections.abc import Set as AbstractSet
from dataclasses import dataclass, field
from datetime import datetime
from enum import IntEnum, StrEnum
from typing import TypeAlias

Json: TypeAlias = "str | int | float | bool | list[Json] | dict[str, Json] | None"
Evidence: TypeAlias = "dict[str, Json]"


class AlarmLevel(IntEnum):
    PERSONAL_SAFETY = 1
    EQUIPMENT = 2
    NOTICE = 3


class AlarmCode(StrEnum):
    GROUND_FAULT = "ground_fault"
    OVER_TEMPERATURE = "over_temperature"
    OVER_CURRENT = "over_current"
    OVER_VOLTAGE = "over_voltage"
    UNDER_VOLTAGE = "under_voltage"
    EMERGENCY_STOP = "emergency_stop"
    POWER_SWITCH_FAILURE = "power_switch_failure"
    TAMPER_DETECTED = "tamper_detected"
    CONNECTOR_LOCK_FAILURE = "connector_lock_failure"
    POWER_METER_FAILURE = "power_meter_failure"
    INTERNAL_ERROR = "internal_error"
    OTHER_ERROR = "other_error"
    FAULTED = "faulted"
    STATION_PROBLEM = "station_problem"
    REPEATED_FAULTS = "repeated_faults"
    ENERGY_REGISTER_BACKWARDS = "energy_register_backwards"
    LOST_COMMUNICATION = "lost_communication"
    SITE_OVERLOAD = "site_overload"
    EV_COMMUNICATION_ERROR = "ev_communication_error"
    READER_FAILURE = "reader_failure"
    RESET_FAILURE = "reset_failure"
    LOCAL_LIST_CONFLICT = "local_list_conflict"
    WEAK_SIGNAL = "weak_signal"
    ENERGY_STALLED = "energy_stalled"
    SECURITY_EVENT = "security_event"
    CHARGING_PROFILE_REFUSED = "charging_profile_refused"
    TRANSACTION_ANOMALY = "transaction_anomaly"  # a session the CSMS had to end or flag


_P, _E, _N = AlarmLevel.PERSONAL_SAFETY, AlarmLevel.EQUIPMENT, AlarmLevel.NOTICE
LEVELS: Mapping[AlarmCode, AlarmLevel] = {
    AlarmCode.GROUND_FAULT: _P,
    AlarmCode.OVER_TEMPERATURE: _P,
    AlarmCode.EMERGENCY_STOP: _P,
    AlarmCode.POWER_SWITCH_FAILURE: _P,  # a welded contactor leaves the connector live
    AlarmCode.TAMPER_DETECTED: _P,  # an opened case exposes live parts
    AlarmCode.OVER_CURRENT: _E,
    AlarmCode.OVER_VOLTAGE: _E,
    AlarmCode.UNDER_VOLTAGE: _E,
    AlarmCode.CONNECTOR_LOCK_FAILURE: _E,
    AlarmCode.POWER_METER_FAILURE: _E,
    AlarmCode.INTERNAL_ERROR: _E,
    AlarmCode.OTHER_ERROR: _E,
    AlarmCode.FAULTED: _E,
    AlarmCode.STATION_PROBLEM: _E,
    AlarmCode.REPEATED_FAULTS: _E,
    AlarmCode.ENERGY_REGISTER_BACKWARDS: _E,
    AlarmCode.LOST_COMMUNICATION: _E,
    AlarmCode.SITE_OVERLOAD: _E,
    AlarmCode.CHARGING_PROFILE_REFUSED: _E,  # the charger may draw more than its share
    AlarmCode.EV_COMMUNICATION_ERROR: _N,
    AlarmCode.READER_FAILURE: _N,
    AlarmCode.RESET_FAILURE: _N,
    AlarmCode.LOCAL_LIST_CONFLICT: _N,
    AlarmCode.WEAK_SIGNAL: _N,
    AlarmCode.ENERGY_STALLED: _N,
    AlarmCode.SECURITY_EVENT: _N,
    AlarmCode.TRANSACTION_ANOMALY: _N,
}


@dataclass(frozen=True, slots=True)
class ConditionKey:
    code: AlarmCode
    station_id: str
    evse_id: int = 0
    connector_id: int = 0
    site_id: int | None = None
    feeder_id: int | None = None


def condition_text(key: ConditionKey) -> str:
    """Rule 6: ``code|station|evse|connector`` or ``code|site:<id>[/feeder:<id>]``."""
    if key.site_id is not None:
        feeder = "" if key.feeder_id is None else f"/feeder:{key.feeder_id}"
        return f"{key.code.value}|site:{key.site_id}{feeder}"
    return f"{key.code.value}|{key.station_id}|{key.evse_id}|{key.connector_id}"


@dataclass(frozen=True, slots=True)
class Alarm:
    key: ConditionKey
    raised_at: datetime
    evidence: Evidence = field(default_factory=dict)
    session_ref: str | None = None

    @property
    def code(self) -> AlarmCode:
        return self.key.code

    @property
    def level(self) -> AlarmLevel:
        return LEVELS[self.key.code]


@dataclass(frozen=True, slots=True)
class Raise:
    alarm: Alarm

    @property
    def key(self) -> ConditionKey:
        return self.alarm.key


@dataclass(frozen=True, slots=True)
class Clear:
    key: ConditionKey
    at: datetime
    reason: str
    evidence: Evidence = field(default_factory=dict)


Decision: TypeAlias = Raise | Clear


def _changes(decision: Decision, is_open: bool) -> bool:
    """Rule 6: a raise changes something when its condition is not open, a clear when it is."""
    return is_open if isinstance(decision, Clear) else not is_open


def settle(
    open_keys: frozenset[ConditionKey], decisions: Iterable[Decision]
) -> tuple[tuple[Decision, ...], frozenset[ConditionKey]]:
    """The decisions that change something, in order, and the open keys afterwards."""
    effective: list[Decision] = []
    current = set(open_keys)
    for decision in decisions:
        if _changes(decision, decision.key in current):
            if isinstance(decision, Raise):
                current.add(decision.key)
            else:
                current.discard(decision.key)
            effective.append(decision)
    return tuple(effective), frozenset(current)


def stations_with_open(open_conditions: Iterable[str], code: AlarmCode) -> set[str]:
    """The stations with an open condition of ``code`` (not site conditions), read back
    from the texts of rule 6 (a station id may itself contain ``|``)."""
    prefix = f"{code.value}|"
    return {text[len(prefix):].rsplit("|", 2)[0] for text in open_conditions
            if text.startswith(prefix) and not text.startswith(f"{prefix}site:")}


def would_change(open_conditions: AbstractSet[str], decision: Decision) -> bool:
    """Whether ``decision`` changes anything, given the open condition texts."""
    return _changes(decision, condition_text(decision.key) in open_conditions)


def settle_conditions(
    open_conditions: set[str], decisions: Iterable[Decision]
) -> tuple[Decision, ...]:
    """:func:`settle` over condition texts (rule 6); updates ``open_conditions`` in place."""
    effective: list[Decision] = []
    for decision in decisions:
        text = condition_text(decision.key)
        if _changes(decision, text in open_conditions):
            if isinstance(decision, Raise):
                open_conditions.add(text)
            else:
                open_conditions.discard(text)
            effective.append(decision)
    return tuple(effective)
