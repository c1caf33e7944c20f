"""The safety monitor's memory of stations and connectors, and which pure rule each domain
event goes to (csms.safety.monitor).

Rules:
1. A connector is (station, EVSE, connector); OCPP 1.6 connector ``n`` arrives as EVSE
   ``n``, connector 1 (domain model rule 3). Meter values without a connector belong to
   their session's connector, else to connector 1 of their EVSE (0 for the station meter).
2. A session's connector is learnt from the first of its events that names an EVSE; later
   events without one (2.0.1 TransactionEvent Updated, 1.6 StopTransaction) use it; an
   event of a session whose connector is unknown is left to the other rules.
3. A connector's session reference is the CSMS's session id (as text), so an alarm names
   the session in the CSMS's own terms.
4. OCPP 2.0.1 status notifications carry no error code: for a station that connected with
   ``ocpp2.0.1`` a status clears only ``faulted`` (csms.safety.faults rule 2).
5. Before samples go through the rules, the connector's effective limit (A) is asked of
   ``limit_of`` (load management's limit sent to that EVSE), when there is one: the
   over-current rule compares with the lower of it and Current.Offered.
6. A connector's history holds the charger's own times. The clock rules compare them with
   "now" on the same clock: the CSMS's now plus how far the station's clock was ahead when
   the monitor took in its latest timestamped message (:meth:`Memory.charger_now`), so a
   charger whose clock is hours off is not taken for a stalled one.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from csms.domain.model import ConnectorStatusChanged, SessionEventKind, StationEventReported
from csms.safety import monitor
from csms.safety.alarms import Decision
from csms.safety.history import ConnectorHistory, evolve
from csms.safety.settings import SafetySettings
from csms.services.events import (
    ChargingProfileRefused,
    DomainEvent,
    MeterValuesRecorded,
    SessionRecorded,
    SiteOverloadCleared,
    SiteOverloaded,
    StationConnected,
)
from csms.store.safety.alarms import Place

Where = tuple[str, int, int]  # station, evse, connector
Decided = tuple[Decision, ...]


@dataclass(slots=True)
class Memory:
    """What the monitor remembers of stations and connectors (in memory, per node)."""

    versions: dict[str, str] = field(default_factory=dict)
    last_seen: dict[str, datetime] = field(default_factory=dict)
    frames: dict[str, float] = field(default_factory=dict)
    histories: dict[Where, ConnectorHistory] = field(default_factory=dict)
    session_where: dict[int, Where] = field(default_factory=dict)
    places: dict[str, tuple[float, Place]] = field(default_factory=dict)
    clock_ahead: dict[str, timedelta] = field(default_factory=dict)  # charger - CSMS (rule 6)
    per_transaction_meters: set[str] = field(default_factory=set)  # stations (measurements 4)
    limit_of: Callable[[str, int], float | None] | None = None

    def heard(self, event: DomainEvent, now: datetime) -> None:
        """Note how far the station's clock is ahead of ours (rule 6), from ``event``'s own
        timestamp received ``now`` (CSMS clock)."""
        stamped = charger_time(event)
        if stamped is not None:
            station_id, at = stamped
            self.clock_ahead[station_id] = at - now

    def charger_now(self, station_id: str, now: datetime) -> datetime:
        """``now`` (CSMS clock) on the station's own clock (rule 6)."""
        return now + self.clock_ahead.get(station_id, timedelta(0))

    def history(self, where: Where) -> ConnectorHistory:
        found = self.histories.get(where)
        if found is None:
            found = self.histories[where] = ConnectorHistory(
                *where, meter_per_transaction=where[0] in self.per_transaction_meters)
        return found

    def keep(self, where: Where, history: ConnectorHistory) -> None:
        """Store ``history``; what it learnt of the station's meter holds for the station."""
        self.histories[where] = history
        if history.meter_per_transaction and where[0] not in self.per_transaction_meters:
            self.per_transaction_meters.add(where[0])
            for (station, evse, connector), other in list(self.histories.items()):
                if station == where[0] and not other.meter_per_transaction:
                    self.histories[station, evse, connector] = evolve(
                        other, meter_per_transaction=True)

    def limited(self, where: Where) -> ConnectorHistory:
        """The history with the connector's current limit (rule 5)."""
        history = self.history(where)
        if self.limit_of is None:
            return history
        return evolve(history, limit_a=self.limit_of(where[0], where[1]))

    def session_on(self, station_id: str, evse_id: int | None) -> str | None:
        """The session reference running on an EVSE of the station, if one is known."""
        if not evse_id:
            return None
        for (station, evse, _), history in self.histories.items():
            if station == station_id and evse == evse_id and history.session_ref:
                return history.session_ref
        return None


def charger_time(event: DomainEvent) -> tuple[str, datetime] | None:
    """The station and its own timestamp on ``event``, for the events that carry one."""
    match event:
        case ConnectorStatusChanged():
            return event.station_id, event.at
        case SessionRecorded():
            return event.event.station_id, event.event.at
        case MeterValuesRecorded() if event.event.samples:
            return event.event.station_id, max(sample.at for sample in event.event.samples)
    return None


def decide(memory: Memory, event: DomainEvent, rules: SafetySettings) -> Decided:
    """The decisions of the rules on ``event``; updates ``memory`` (module rules)."""
    match event:
        case StationConnected():
            memory.versions[event.station_id] = event.ocpp_version
            return ()
        case ConnectorStatusChanged():
            return _status(memory, event, rules)
        case SessionRecorded():
            return _session(memory, event, rules)
        case MeterValuesRecorded():
            return _meter(memory, event, rules)
        case StationEventReported():
            ref = memory.session_on(event.station_id, event.evse_id)
            return monitor.on_station_event(event, rules, ref)
        case SiteOverloaded():
            return (monitor.site_load_changed(
                event.site_id, event.feeder_id, overloaded=True, measured_w=event.measured_w,
                limit_w=event.limit_w, at=event.at, since=event.since),)
        case SiteOverloadCleared():
            return (monitor.site_load_changed(
                event.site_id, event.feeder_id, overloaded=False,
                measured_w=event.measured_w, limit_w=event.limit_w, at=event.at),)
        case ChargingProfileRefused():
            return (monitor.profile_refused(event.station_id, event.evse_id, event.outcome,
                                            event.at),)
    return ()


def _status(memory: Memory, event: ConnectorStatusChanged, rules: SafetySettings) -> Decided:
    where = (event.station_id, event.evse_id, event.connector_id)
    error_codes = memory.versions.get(event.station_id) != "ocpp2.0.1"
    decisions, memory.histories[where] = monitor.on_status(
        memory.history(where), event, rules, error_codes=error_codes)
    return decisions


def _session(memory: Memory, recorded: SessionRecorded, rules: SafetySettings) -> Decided:
    event, session_id = recorded.event, recorded.session_id
    where: Where | None = None
    if event.evse_id is not None:
        where = (event.station_id, event.evse_id, event.connector_id or 1)
        if session_id is not None:
            memory.session_where.setdefault(session_id, where)
            where = memory.session_where[session_id]
    elif session_id is not None:
        where = memory.session_where.get(session_id)
    if where is None:
        return ()
    ref = None if session_id is None else str(session_id)
    decisions, history = monitor.on_session(memory.limited(where), event, rules, ref)
    memory.keep(where, history)
    if event.kind is SessionEventKind.ENDED and session_id is not None:
        memory.session_where.pop(session_id, None)
    return decisions


def _meter(memory: Memory, recorded: MeterValuesRecorded, rules: SafetySettings) -> Decided:
    event, session_id = recorded.event, recorded.session_id
    where = memory.session_where.get(session_id) if session_id is not None else None
    if where is None:
        default = 1 if event.evse_id else 0
        connector = event.connector_id if event.connector_id is not None else default
        where = (event.station_id, event.evse_id, connector)
    decisions, history = monitor.on_samples(memory.limited(where), event.samples, rules)
    memory.keep(where, history)
    return decisions
