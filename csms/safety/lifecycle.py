"""The alarm lifecycle as an explicit state table. Pure.

Rules:
1. States: raised → acknowledged → cleared, or raised → cleared. :data:`TRANSITIONS` is the
   whole table; any (state, action) pair not in it is refused with
   :class:`RefusedTransition`. Cleared is final: a condition that returns is a new alarm.
2. An action may not be dated before the alarm was raised (nor before its acknowledgement).
3. Acknowledging records who; clearing records who (or "rule" for an automatic clear) and why.
4. Time to acknowledge = acknowledged_at − raised_at; time to clear = cleared_at − raised_at;
   ``None`` while the step has not happened.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from enum import StrEnum

from csms.errors import CsmsError
from csms.safety.alarms import Alarm


class AlarmState(StrEnum):
    RAISED = "raised"
    ACKNOWLEDGED = "acknowledged"
    CLEARED = "cleared"


class AlarmAction(StrEnum):
    ACKNOWLEDGE = "acknowledge"
    CLEAR = "clear"


TRANSITIONS: Mapping[tuple[AlarmState, AlarmAction], AlarmState] = {
    (AlarmState.RAISED, AlarmAction.ACKNOWLEDGE): AlarmState.ACKNOWLEDGED,
    (AlarmState.RAISED, AlarmAction.CLEAR): AlarmState.CLEARED,
    (AlarmState.ACKNOWLEDGED, AlarmAction.CLEAR): AlarmState.CLEARED,
}


class RefusedTransition(CsmsError):
    """An alarm cannot take this action in its state, or at this time."""


def next_state(state: AlarmState, action: AlarmAction) -> AlarmState:
    """Rule 1: the state after ``action``, or :class:`RefusedTransition`."""
    try:
        return TRANSITIONS[(state, action)]
    except KeyError:
        raise RefusedTransition(f"cannot {action.value} an alarm that is {state.value}") from None


@dataclass(frozen=True, slots=True)
class AlarmRecord:
    alarm: Alarm
    state: AlarmState = AlarmState.RAISED
    acknowledged_at: datetime | None = None
    acknowledged_by: str | None = None
    cleared_at: datetime | None = None
    cleared_by: str | None = None
    clear_reason: str | None = None

    @property
    def time_to_acknowledge(self) -> timedelta | None:
        if self.acknowledged_at is None:
            return None
        return self.acknowledged_at - self.alarm.raised_at

    @property
    def time_to_clear(self) -> timedelta | None:
        if self.cleared_at is None:
            return None
        return self.cleared_at - self.alarm.raised_at


def _not_before(record: AlarmRecord, at: datetime) -> None:
    earliest = record.acknowledged_at or record.alarm.raised_at
    if at < earliest:
        raise RefusedTransition(f"{at.isoformat()} is before {earliest.isoformat()}")


def acknowledge(record: AlarmRecord, at: datetime, actor: str) -> AlarmRecord:
    """Rules 1–3: the record acknowledged by ``actor`` at ``at``."""
    state = next_state(record.state, AlarmAction.ACKNOWLEDGE)
    _not_before(record, at)
    return replace(record, state=state, acknowledged_at=at, acknowledged_by=actor)


def clear(record: AlarmRecord, at: datetime, actor: str, reason: str) -> AlarmRecord:
    """Rules 1–3: the record cleared by ``actor`` ("rule" when automatic) at ``at``."""
    state = next_state(record.state, AlarmAction.CLEAR)
    _not_before(record, at)
    return replace(record, state=state, cleared_at=at, cleared_by=actor, clear_reason=reason)
