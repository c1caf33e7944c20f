"""Clock rules: lost communication and site overload. Pure: ``now`` is an argument.

Rules:
1. Lost communication: a station silent for longer than ``lost_communication_intervals``
   heartbeat intervals (any message counts, not only Heartbeat) raises; otherwise — in
   particular as soon as a message arrives and ``last_seen`` moves to it — it clears.
   Exactly two intervals of silence is still in time.
2. Site overload: over a series of (time, measured_w, limit_w) points in time order, a run of
   points above limit × (1 + tolerance) that reaches the latest point and has lasted longer
   than ``site_overload_duration_s`` raises; a latest point within its limit clears; an
   excess not yet long enough decides nothing. The alarm carries the site id (alarms rule
   5). The running CSMS takes load management's own verdict instead
   (:func:`csms.safety.monitor.site_load_changed`); this rule serves a site series.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from csms.safety.alarms import Alarm, AlarmCode, Clear, ConditionKey, Decision, Evidence, Raise
from csms.safety.history import LoadPoint, excess_duration
from csms.safety.settings import SafetySettings


def silence_allowed(heartbeat_interval_s: float, settings: SafetySettings) -> timedelta:
    """Rule 1: how long a station may be silent before it counts as lost."""
    return timedelta(seconds=heartbeat_interval_s * settings.lost_communication_intervals)


def lost_communication(
    station_id: str,
    last_seen: datetime,
    heartbeat_interval_s: float,
    now: datetime,
    settings: SafetySettings,
) -> Decision:
    """Rule 1. A station seen within :func:`silence_allowed` always gets a clear."""
    key = ConditionKey(AlarmCode.LOST_COMMUNICATION, station_id)
    silent = now - last_seen
    if silent > silence_allowed(heartbeat_interval_s, settings):
        evidence: Evidence = {
            "last_seen": last_seen.isoformat(), "silent_s": silent.total_seconds(),
            "heartbeat_interval_s": heartbeat_interval_s,
        }
        return Raise(Alarm(key, now, evidence))
    return Clear(key, now, "message received", {"last_seen": last_seen.isoformat()})


def site_overload(
    site_id: int, series: Sequence[LoadPoint], settings: SafetySettings
) -> Decision | None:
    """Rule 2 (``LoadPoint.measured``/``limit`` in W)."""
    if not series:
        return None
    latest = series[-1]
    key = ConditionKey(AlarmCode.SITE_OVERLOAD, "", site_id=site_id)
    lasted = excess_duration(series, settings.site_overload_tolerance_ratio)
    if lasted is None:
        return Clear(key, latest.at, "site power within limit", {"measured_w": latest.measured})
    if lasted > timedelta(seconds=settings.site_overload_duration_s):
        evidence: Evidence = {
            "measured_w": latest.measured, "limit_w": latest.limit,
            "tolerance_ratio": settings.site_overload_tolerance_ratio,
            "duration_s": lasted.total_seconds(),
        }
        return Raise(Alarm(key, latest.at, evidence))
    return None
