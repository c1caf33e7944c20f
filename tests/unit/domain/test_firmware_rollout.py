"""The rollout planner (csms.domain.firmware_rollout): waves, the failure threshold, a
restart between assigning and sending, overdue updates."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from csms.domain.firmware_rollout import (
    Done,
    Plan,
    Send,
    Target,
    TargetState,
    Wait,
    next_step,
    overdue,
    state_after,
)

W, A, R, S, F = (TargetState.WAITING, TargetState.ASSIGNED, TargetState.RUNNING,
                 TargetState.SUCCEEDED, TargetState.FAILED)
T0 = datetime(2027, 1, 31, 15, 59, 50, tzinfo=UTC)


def fleet(*states: tuple[TargetState, int | None]) -> list[Target]:
    return [Target(f"CP-{n}", state, wave) for n, (state, wave) in enumerate(states)]


def test_the_first_wave_is_the_first_wave_size_targets_in_order() -> None:
    assert Send(1, ("CP-0", "CP-1")) == next_step(Plan(2, 0), fleet(*[(W, None)] * 5))


def test_a_wave_with_a_target_still_running_waits() -> None:
    assert Wait() == next_step(Plan(2, 0), fleet((S, 1), (R, 1), (W, None)))


def test_the_next_wave_starts_once_the_current_one_succeeded() -> None:
    step = next_step(Plan(2, 0), fleet((S, 1), (S, 1), (W, None), (W, None), (W, None)))
    assert Send(2, ("CP-2", "CP-3")) == step


def test_failures_within_the_threshold_let_the_rollout_go_on() -> None:
    step = next_step(Plan(2, 1), fleet((S, 1), (F, 1), (W, None)))
    assert Send(2, ("CP-2",)) == step


def test_failures_over_the_threshold_stop_at_once_even_while_others_run() -> None:
    step = next_step(Plan(3, 0), fleet((F, 1), (R, 1), (R, 1), (W, None)))
    assert Done(False, "wave 1: 1 of 3 failed (threshold 0)") == step


def test_only_the_current_wave_counts_against_the_threshold() -> None:
    step = next_step(Plan(1, 0), fleet((F, 1), (S, 2), (W, None)))
    assert Send(3, ("CP-2",)) == step


def test_targets_assigned_but_not_sent_are_sent_first() -> None:
    """A restart between assigning the wave and sending it sends the rest then."""
    assert Send(1, ("CP-1",)) == next_step(Plan(2, 0), fleet((R, 1), (A, 1), (W, None)))


def test_with_nothing_waiting_the_rollout_has_succeeded() -> None:
    assert Done(True, "2 of 3 updated") == next_step(Plan(2, 1), fleet((S, 1), (F, 1), (S, 2)))


def test_bad_plans_are_refused() -> None:
    with pytest.raises(ValueError, match="wave_size"):
        next_step(Plan(0, 0), [])


def test_running_targets_past_the_timeout_are_overdue() -> None:
    targets = [Target("old", R, 1, T0 - timedelta(hours=1)),
               Target("new", R, 1, T0 - timedelta(minutes=59)),
               Target("done", S, 1, T0 - timedelta(hours=2))]
    assert ["old"] == overdue(targets, T0, timedelta(hours=1))


@pytest.mark.parametrize(("status", "state"), [
    ("Installed", S), ("DownloadFailed", F), ("InstallationFailed", F),
    ("InvalidSignature", F), ("InstallVerificationFailed", F), ("Downloading", None),
    ("Installing", None), ("SignatureVerified", None), ("Idle", None)])
def test_status_notifications_end_an_update_only_when_final(
        status: str, state: TargetState | None) -> None:
    assert state == state_after(status)
