"""What the rules remember about one connector between events. Pure.

Rules:
1. :class:`ConnectorHistory` is immutable; the caller keeps one per (station, evse,
   connector) and replaces it with what a rule returns. It never grows without bound:
   fault times older than the repeated-fault window and load points older than the
   over-current duration are dropped.
2. Status changes set ``charging`` (only ``Charging`` counts: an EV that stopped drawing,
   SuspendedEV/SuspendedEVSE, is not a stalled session) and record faults: a status that
   carries an error code, or status Faulted, is one fault.
3. Session events set and end ``session_ref`` (the caller's own reference when it gives
   one, such as the CSMS's session id; else the transaction id); a session start (or the
   start of charging) restarts the energy-stall clock.
4. A load point is (time, measured, limit); a run of consecutive points above
   limit × (1 + tolerance) that reaches the latest point is an excess, lasting from its
   first point to the latest (:func:`excess_duration`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, fields
from datetime import datetime, timedelta
from typing import Any

from csms.domain.model import (
    ConnectorStatus,
    ConnectorStatusChanged,
    SessionEvent,
    SessionEventKind,
)
from csms.safety.settings import SafetySettings


@dataclass(frozen=True, slots=True)
class LoadPoint:
    at: datetime
    measured: float
    limit: float


@dataclass(frozen=True, slots=True)
class ConnectorHistory:
    station_id: str
    evse_id: int
    connector_id: int
    session_ref: str | None = None
    charging: bool = False
    fault_times: tuple[datetime, ...] = ()
    last_energy_wh: float | None = None
    energy_session_ref: str | None = None  # the session last_energy_wh was read in
    meter_per_transaction: bool = False  # the charger restarts its register per transaction
    last_rise_at: datetime | None = None
    load: tuple[LoadPoint, ...] = ()
    limit_a: float | None = None  # the effective smart-charging limit, set by the caller


_FIELDS = tuple(f.name for f in fields(ConnectorHistory))


def evolve(history: ConnectorHistory, **changes: Any) -> ConnectorHistory:
    """``history`` with ``changes``: :func:`dataclasses.replace`, minus its checks (this
    runs for every meter sample)."""
    values = {name: getattr(history, name) for name in _FIELDS}
    values.update(changes)
    return ConnectorHistory(**values)


def excess_duration(points: Sequence[LoadPoint], tolerance_ratio: float) -> timedelta | None:
    """How long the trailing run of points above limit × (1 + tolerance) has lasted.

    ``None`` when the latest point is within its limit (or there are no points).
    """
    start: datetime | None = None
    for point in points:
        if point.measured > point.limit * (1 + tolerance_ratio):
            start = point.at if start is None else start
        else:
            start = None
    if start is None:
        return None
    return points[-1].at - start


def add_load_point(
    history: ConnectorHistory, point: LoadPoint, keep: timedelta
) -> ConnectorHistory:
    """The history with ``point`` appended and points older than ``keep`` (but the one
    just before the window, which may start a run) dropped."""
    points = (*history.load, point)
    horizon = point.at - keep
    first = 0
    for index, old in enumerate(points):
        if old.at < horizon:
            first = index
    return evolve(history, load=points[first:])


def observe_status(
    history: ConnectorHistory, event: ConnectorStatusChanged, settings: SafetySettings
) -> ConnectorHistory:
    """Rule 2: the charging flag and the fault times after a status change."""
    faults = history.fault_times
    if event.error_code is not None or event.status is ConnectorStatus.FAULTED:
        horizon = event.at - timedelta(seconds=settings.repeated_fault_window_s)
        faults = (*(t for t in faults if t > horizon), event.at)
    charging = event.status is ConnectorStatus.CHARGING
    rise_at = history.last_rise_at
    if charging and not history.charging:
        rise_at = event.at
    return evolve(history, charging=charging, fault_times=faults, last_rise_at=rise_at)


def observe_session(
    history: ConnectorHistory, event: SessionEvent, session_ref: str | None = None
) -> ConnectorHistory:
    """Rule 3: the session reference and the stall clock after a session event."""
    if event.kind is SessionEventKind.ENDED:
        return evolve(history, session_ref=None, charging=False)
    charging = history.charging
    if event.charging_state is not None:
        charging = event.charging_state == "Charging"
    rise_at = history.last_rise_at
    if event.kind is SessionEventKind.STARTED or (charging and not history.charging):
        rise_at = event.at
    ref = session_ref or event.transaction_ref or history.session_ref
    return evolve(history, session_ref=ref, charging=charging, last_rise_at=rise_at)
