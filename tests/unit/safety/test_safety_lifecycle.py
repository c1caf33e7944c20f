"""The alarm lifecycle table (csms.safety.lifecycle), alarm keys and settling decisions."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from csms.safety.alarms import (
    LEVELS,
    Alarm,
    AlarmCode,
    AlarmLevel,
    Clear,
    ConditionKey,
    Raise,
    settle,
)
from csms.safety.lifecycle import (
    TRANSITIONS,
    AlarmAction,
    AlarmRecord,
    AlarmState,
    RefusedTransition,
    acknowledge,
    clear,
    next_state,
)
from tests.unit.test_purity import ROOT, direct_imports, forbidden_in, loaded_with, module_name

T0 = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)
KEY = ConditionKey(AlarmCode.GROUND_FAULT, "CP1", 1, 1)
ALLOWED = {
    (AlarmState.RAISED, AlarmAction.ACKNOWLEDGE): AlarmState.ACKNOWLEDGED,
    (AlarmState.RAISED, AlarmAction.CLEAR): AlarmState.CLEARED,
    (AlarmState.ACKNOWLEDGED, AlarmAction.CLEAR): AlarmState.CLEARED,
}
REFUSED = sorted(set(itertools.product(AlarmState, AlarmAction)) - set(ALLOWED))


class TestStateTable:
    def test_table_is_exactly_the_three_transitions(self) -> None:
        """raised→acknowledged, raised→cleared, acknowledged→cleared; nothing else."""
        assert ALLOWED == dict(TRANSITIONS)

    @pytest.mark.parametrize(("state", "action"), sorted(ALLOWED))
    def test_allowed_transition(self, state: AlarmState, action: AlarmAction) -> None:
        """Each allowed pair leads to its state."""
        assert ALLOWED[(state, action)] == next_state(state, action)

    @pytest.mark.parametrize(("state", "action"), REFUSED)
    def test_refused_transition(self, state: AlarmState, action: AlarmAction) -> None:
        """Acknowledging twice, and anything after cleared, is refused."""
        assert {(AlarmState.ACKNOWLEDGED, AlarmAction.ACKNOWLEDGE),
                (AlarmState.CLEARED, AlarmAction.ACKNOWLEDGE),
                (AlarmState.CLEARED, AlarmAction.CLEAR)} == set(REFUSED)
        with pytest.raises(RefusedTransition, match=f"cannot {action.value}"):
            next_state(state, action)


class TestAlarmRecord:
    def record(self) -> AlarmRecord:
        return AlarmRecord(Alarm(KEY, T0, {"error_code": "GroundFailure"}))

    def test_acknowledge_then_clear_times_both_steps(self) -> None:
        """Acknowledged after 90 s, cleared after 10 min: both durations from raised_at."""
        acked = acknowledge(self.record(), T0 + timedelta(seconds=90), "op1")
        done = clear(acked, T0 + timedelta(minutes=10), "op2", "RCD reset")
        assert (AlarmState.CLEARED, "op1", "op2", "RCD reset") == (
            done.state, done.acknowledged_by, done.cleared_by, done.clear_reason)
        assert timedelta(seconds=90) == done.time_to_acknowledge
        assert timedelta(minutes=10) == done.time_to_clear

    def test_clear_without_acknowledge(self) -> None:
        """A rule may clear an alarm nobody acknowledged; it then has no acknowledge time."""
        done = clear(self.record(), T0 + timedelta(seconds=5), "rule", "NoError")
        assert (AlarmState.CLEARED, None) == (done.state, done.time_to_acknowledge)
        assert timedelta(seconds=5) == done.time_to_clear

    def test_open_alarm_has_no_times(self) -> None:
        """Neither duration exists before the step happens."""
        assert (None, None) == (self.record().time_to_acknowledge, self.record().time_to_clear)

    def test_action_before_raise_is_refused(self) -> None:
        """Acknowledging before the alarm was raised is refused."""
        with pytest.raises(RefusedTransition, match="before"):
            acknowledge(self.record(), T0 - timedelta(seconds=1), "op")

    def test_clear_before_acknowledge_time_is_refused(self) -> None:
        """Clearing dated before the acknowledgement is refused."""
        acked = acknowledge(self.record(), T0 + timedelta(minutes=5), "op")
        with pytest.raises(RefusedTransition, match="before"):
            clear(acked, T0 + timedelta(minutes=4), "op", "x")

    def test_cleared_alarm_cannot_be_acknowledged(self) -> None:
        """Cleared is final."""
        done = clear(self.record(), T0, "rule", "NoError")
        with pytest.raises(RefusedTransition):
            acknowledge(done, T0, "op")


class TestAlarmsAndSettle:
    def test_every_code_has_a_level(self) -> None:
        """Every alarm code has a level; ground fault and emergency stop are level 1."""
        assert set(AlarmCode) == set(LEVELS)
        assert AlarmLevel.PERSONAL_SAFETY == Alarm(KEY, T0).level
        assert 1 == LEVELS[AlarmCode.EMERGENCY_STOP]
        assert 3 == LEVELS[AlarmCode.ENERGY_STALLED]

    def test_one_open_alarm_per_condition(self) -> None:
        """A second Raise of an open key is dropped; a Clear of a closed key is dropped."""
        first = Raise(Alarm(KEY, T0))
        again = Raise(Alarm(KEY, T0 + timedelta(seconds=1)))
        other = Raise(Alarm(ConditionKey(AlarmCode.GROUND_FAULT, "CP1", 2, 1), T0))
        stray = Clear(ConditionKey(AlarmCode.OVER_VOLTAGE, "CP1", 1, 1), T0, "in range")
        effective, open_keys = settle(frozenset(), [first, again, other, stray])
        assert (first, other) == effective
        assert {KEY, other.key} == open_keys

    def test_clear_closes_and_a_new_raise_reopens(self) -> None:
        """After a Clear, the same condition raises again."""
        done = Clear(KEY, T0, "NoError")
        effective, open_keys = settle(frozenset({KEY}), [done, Raise(Alarm(KEY, T0))])
        assert 2 == len(effective)
        assert {KEY} == open_keys


SAFETY_FILES = sorted((ROOT / "csms" / "safety").glob("*.py"))


class TestPurity:
    @pytest.mark.parametrize("path", SAFETY_FILES, ids=module_name)
    def test_safety_modules_load_no_io_library(self, path: Path) -> None:
        """No safety module, nor any csms module it loads, imports an I/O library."""
        assert set() == forbidden_in(direct_imports(path))
        assert {} == {n: i for n, i in loaded_with(path).items() if forbidden_in(i)}
