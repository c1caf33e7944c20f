"""Firmware rollouts in waves: which chargers next, and when to stop. Pure: plain data in,
a decision out; the driver (csms.services.files.firmware) does what it says and keeps the state.

Rules:
1. A rollout updates its targets ``wave_size`` at a time, in the order given. A target is
   WAITING (in no wave yet), ASSIGNED (in a wave, not sent yet: a restart between assigning
   and sending sends it then), RUNNING (sent, no final status yet), SUCCEEDED or FAILED.
2. The next wave starts only when every target of the current wave has finished and at most
   ``failure_threshold`` of them failed. As soon as more than ``failure_threshold`` targets
   of a wave have failed, the rollout stops: no further wave, WAITING targets stay unsent
   (what is running finishes on its own and is still recorded).
3. A RUNNING target with no final status ``station_timeout`` after it was sent has failed
   (:func:`overdue`); the driver records it so before asking :func:`next_step`.
4. With no WAITING target left and the last wave finished within the threshold, the rollout
   is complete (``Done(completed=True)``; the reason counts the chargers updated).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum


class TargetState(StrEnum):
    WAITING = "waiting"
    ASSIGNED = "assigned"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"


FINISHED = frozenset({TargetState.SUCCEEDED, TargetState.FAILED})


@dataclass(frozen=True, slots=True)
class Target:
    station_id: str
    state: TargetState
    wave: int | None = None  # 1, 2, ...; None while WAITING
    sent_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class Plan:
    wave_size: int
    failure_threshold: int  # failures a wave may have and the rollout go on


@dataclass(frozen=True, slots=True)
class Wait:
    """Nothing to do until a target of the current wave finishes."""


@dataclass(frozen=True, slots=True)
class Send:
    """Send the update to these targets (assigned to ``wave``)."""

    wave: int
    station_ids: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Done:
    """The rollout is over: ``completed`` (rule 4) or stopped (rule 2, ``reason``)."""

    completed: bool
    reason: str


Step = Wait | Send | Done


def next_step(plan: Plan, targets: Sequence[Target]) -> Step:
    """What the rollout does next (module rules 1, 2 and 4)."""
    if plan.wave_size < 1 or plan.failure_threshold < 0:
        raise ValueError("wave_size must be at least 1 and failure_threshold at least 0")
    waves = [t.wave for t in targets if t.wave is not None]
    current = max(waves, default=0)
    in_wave = [t for t in targets if t.wave == current] if current else []
    failed = sum(1 for t in in_wave if t.state is TargetState.FAILED)
    if failed > plan.failure_threshold:
        return Done(False, f"wave {current}: {failed} of {len(in_wave)} failed"
                           f" (threshold {plan.failure_threshold})")
    assigned = tuple(t.station_id for t in in_wave if t.state is TargetState.ASSIGNED)
    if assigned:
        return Send(current, assigned)
    if any(t.state not in FINISHED for t in in_wave):
        return Wait()
    waiting = [t.station_id for t in targets if t.state is TargetState.WAITING]
    if not waiting:
        return Done(True, f"{sum(t.state is TargetState.SUCCEEDED for t in targets)}"
                          f" of {len(targets)} updated")
    return Send(current + 1, tuple(waiting[:plan.wave_size]))


def overdue(targets: Sequence[Target], now: datetime, timeout: timedelta) -> list[str]:
    """The RUNNING targets sent at least ``timeout`` before ``now`` (rule 3)."""
    return [t.station_id for t in targets if t.state is TargetState.RUNNING
            and t.sent_at is not None and now - t.sent_at >= timeout]


# Firmware statuses after which an update is over (both versions' spellings).
SUCCESS_STATUSES = frozenset({"Installed"})
FAILURE_STATUSES = frozenset({
    "DownloadFailed", "InstallationFailed", "InvalidSignature", "InstallVerificationFailed",
    "InstallRebootFailed",
})
# Answers to UpdateFirmware after which the charger will not update.
REFUSALS = frozenset({"Rejected", "InvalidCertificate", "RevokedCertificate"})


def state_after(status: str) -> TargetState | None:
    """The target state a firmware status notification leads to; None: still running."""
    if status in SUCCESS_STATUSES:
        return TargetState.SUCCEEDED
    if status in FAILURE_STATUSES:
        return TargetState.FAILED
    return None
