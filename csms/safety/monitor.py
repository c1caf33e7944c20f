"""Which rules run on which event: the safety monitor's pure core.

The adapter (:mod:`csms.services.safety.monitor`) keeps one :class:`ConnectorHistory` per connector,
calls one function here per domain event or clock tick, keeps the history it gets back,
and applies the decisions (after :func:`csms.safety.alarms.settle`) to the store.

Rules:
1. A status change: the history learns it (history rule 2), then the fault rules decide
   (faults rules 1 and 2); a fault also re-counts repeated faults (faults rule 6).
2. A session event: a start or update is observed before its samples, an end after them,
   so a session's last samples still belong to it; a stated register (1.6 meterStart and
   meterStop) is one more register reading. Every sample goes through every measurement
   rule (measurements rules 1–5).
3. Stand-alone meter values go through the measurement rules in sample order.
4. A station event: NotifyEvent and SecurityEventNotification as faults rules 3–5; a
   transaction anomaly of the session store (TRANSACTION_ANOMALIES) raises a notice
   (transaction_anomaly, one open per connector, cleared by a person); anything else
   decides nothing.
5. Load management's verdicts are final: a site (or feeder) overload raises site_overload
   with its figures, its end clears it; a refused (or unanswered) charging profile raises
   charging_profile_refused for that EVSE, cleared by a person.
6. A clock tick re-evaluates the energy stall and, while fault times remain, the repeated
   faults of each connector.
"""

from __future__ import annotations

from datetime import datetime
from typing import cast

from csms.domain.model import (
    ConnectorStatus,
    ConnectorStatusChanged,
    MeterSample,
    SampledValue,
    SessionEvent,
    SessionEventKind,
    StationEventReported,
)
from csms.domain.sessions import ENERGY_REGISTER
from csms.safety.alarms import (
    Alarm,
    AlarmCode,
    Clear,
    ConditionKey,
    Decision,
    Evidence,
    Json,
    Raise,
)
from csms.safety.faults import notify_event, repeated_faults, security_event, status_fault
from csms.safety.history import ConnectorHistory, observe_session, observe_status
from csms.safety.measurements import energy_stalled, meter_sample
from csms.safety.settings import SafetySettings

# Station events of the session store (csms.store.sessions) that a person should look at:
# a session the CSMS ended because a new one began, or one it will not bill unreviewed.
TRANSACTION_ANOMALIES = frozenset({
    "session_superseded", "stop_conflict", "implausible_baseline",
    "session_energy_implausible", "session_ended_before_started", "start_on_connector_0",
})

Outcome = tuple[tuple[Decision, ...], ConnectorHistory]


def on_status(
    history: ConnectorHistory, event: ConnectorStatusChanged, settings: SafetySettings,
    *, error_codes: bool = True,
) -> Outcome:
    """Rule 1; ``error_codes`` False for an OCPP 2.0.1 station (faults rule 2)."""
    history = observe_status(history, event, settings)
    decisions = list(status_fault(event, settings, history.session_ref,
                                  error_codes=error_codes))
    if event.error_code is not None or event.status is ConnectorStatus.FAULTED:
        decisions.append(repeated_faults(history, event.at, settings))
    stalled = energy_stalled(history, event.at, settings)
    if stalled is not None:
        decisions.append(stalled)
    return tuple(decisions), history


def on_samples(
    history: ConnectorHistory, samples: tuple[MeterSample, ...], settings: SafetySettings
) -> Outcome:
    """Rule 3: every measurement rule on each sample, in order."""
    decisions: list[Decision] = []
    for sample in samples:
        found, history = meter_sample(sample, history, settings)
        decisions.extend(found)
    return tuple(decisions), history


def _stated_register(event: SessionEvent) -> tuple[MeterSample, ...]:
    if event.meter_wh is None:
        return ()
    return (MeterSample(event.at, (SampledValue(event.meter_wh, ENERGY_REGISTER, "Wh"),)),)


def on_session(
    history: ConnectorHistory, event: SessionEvent, settings: SafetySettings,
    session_ref: str | None = None,
) -> Outcome:
    """Rule 2; ``session_ref`` is the caller's reference for the session (its id)."""
    ended = event.kind is SessionEventKind.ENDED
    samples = (*_stated_register(event), *event.samples)
    if ended:
        decisions, history = on_samples(history, samples, settings)
        history = observe_session(history, event, session_ref)
    else:
        history = observe_session(history, event, session_ref)
        decisions, history = on_samples(history, samples, settings)
    stalled = energy_stalled(history, event.at, settings)
    return (*decisions, *([stalled] if stalled is not None else [])), history


def on_station_event(
    event: StationEventReported, settings: SafetySettings, session_ref: str | None = None
) -> tuple[Decision, ...]:
    """Rule 4."""
    decision: Decision | None = None
    if event.kind == "notify_event":
        decision = notify_event(event, session_ref, settings)
    elif event.kind == "security_event":
        decision = security_event(event, settings)
    elif event.kind in TRANSACTION_ANOMALIES:
        key = ConditionKey(AlarmCode.TRANSACTION_ANOMALY, event.station_id,
                           event.evse_id or 0, event.connector_id or 0)
        evidence: Evidence = {"kind": event.kind, "transaction_id": event.code,
                              "details": cast("Json", event.details)}
        session = event.details.get("session_id")  # the session the anomaly is about
        decision = Raise(Alarm(key, event.at, evidence,
                               session_ref if session is None else str(session)))
    return () if decision is None else (decision,)


def site_load_changed(
    site_id: int, feeder_id: int | None, *, overloaded: bool, measured_w: float,
    limit_w: float, at: datetime, since: datetime | None = None,
) -> Decision:
    """Rule 5 for a site (``feeder_id`` None) or one of its feeders; power in W."""
    key = ConditionKey(AlarmCode.SITE_OVERLOAD, "", site_id=site_id, feeder_id=feeder_id)
    evidence: Evidence = {"measured_w": measured_w, "limit_w": limit_w,
                          "feeder_id": feeder_id}
    if not overloaded:
        return Clear(key, at, "site power within limit", evidence)
    if since is not None:
        evidence["since"] = since.isoformat()
    return Raise(Alarm(key, at, evidence))


def profile_refused(station_id: str, evse_id: int, outcome: str, at: datetime) -> Decision:
    """Rule 5 for a charging profile the station refused or did not answer."""
    key = ConditionKey(AlarmCode.CHARGING_PROFILE_REFUSED, station_id, evse_id, 0)
    return Raise(Alarm(key, at, {"outcome": outcome}))


def on_tick(
    history: ConnectorHistory, now: datetime, settings: SafetySettings
) -> tuple[Decision, ...]:
    """Rule 6."""
    decisions: list[Decision] = []
    stalled = energy_stalled(history, now, settings)
    if stalled is not None:
        decisions.append(stalled)
    if history.fault_times:
        decisions.append(repeated_faults(history, now, settings))
    return tuple(decisions)
