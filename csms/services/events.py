"""Domain events: what happened, published after it is durable, for whoever reacts to it.

The station service publishes one event per charger-reported fact once it has committed
(the charger's answer does not wait for listeners). Reactions live elsewhere and subscribe:
safety rules (csms.safety), load management (csms.smartcharging), billing (csms.tariffs),
the live feed. Events are the domain model's own dataclasses plus a few that only the
CSMS knows (a connection opened or closed, the session id a message resolved to), and the
CSMS's own conclusions (a site overloaded, a profile refused, an alarm changed), which other
parts publish on the same bus.

Listeners are plain callables run synchronously, in subscription order, on the event
loop. A listener must be quick and must not block: anything slow (a database write, a
command to a charger) it queues to its own task. A listener that raises is logged and
skipped; the others still run and the publisher never sees the error, because the message
that caused the event has already been acknowledged.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

import structlog

from csms.domain.model import (
    ConnectorStatusChanged,
    MeterValuesReported,
    SessionEvent,
    StationBooted,
    StationEventReported,
)

log = structlog.get_logger(__name__)


@dataclass(frozen=True, slots=True)
class StationConnected:
    station_id: str
    ocpp_version: str  # the subprotocol, "ocpp1.6" or "ocpp2.0.1"
    at: datetime


@dataclass(frozen=True, slots=True)
class StationDisconnected:
    station_id: str
    at: datetime


@dataclass(frozen=True, slots=True)
class SessionRecorded:
    """A session event was stored; ``session_id`` is None for a stop the CSMS never knew."""

    event: SessionEvent
    session_id: int | None


@dataclass(frozen=True, slots=True)
class MeterValuesRecorded:
    """Meter values were stored; ``session_id`` is the session they belong to, if any."""

    event: MeterValuesReported
    session_id: int | None


# -- events the CSMS itself raises -------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SiteOverloaded:
    """Load management saw a site (or one of its feeders) above its limit plus tolerance for
    longer than the configured time. ``feeder_id`` is None for the site itself."""

    site_id: int
    feeder_id: int | None
    measured_w: float
    limit_w: float
    since: datetime
    at: datetime


@dataclass(frozen=True, slots=True)
class SiteOverloadCleared:
    site_id: int
    feeder_id: int | None
    measured_w: float
    limit_w: float
    at: datetime


@dataclass(frozen=True, slots=True)
class ChargingProfileRefused:
    """A charger refused (or failed to answer) a charging profile load management sent; it
    is now counted at its full maximum. ``outcome`` is the answer or error name."""

    station_id: str
    evse_id: int
    outcome: str
    at: datetime


@dataclass(frozen=True, slots=True)
class AlarmChanged:
    """An alarm was raised, acknowledged or cleared (committed). For live feeds and
    webhooks: ``community_id``/``district_id`` say who may see it (None: not assigned)."""

    alarm_id: int
    transition: str  # "raised" | "acknowledged" | "cleared"
    level: int  # 1 personal safety, 2 equipment, 3 notice
    code: str
    station_id: str | None
    evse_id: int | None
    connector_id: int | None
    session_id: int | None
    site_id: int | None
    community_id: int | None
    district_id: int | None
    at: datetime
    by: str | None = None  # actor of an acknowledgement or manual clear
    comment: str | None = None
    evidence: dict[str, object] = field(default_factory=dict)


DomainEvent = (
    StationConnected
    | StationDisconnected
    | StationBooted
    | ConnectorStatusChanged
    | SessionRecorded
    | MeterValuesRecorded
    | StationEventReported
    | SiteOverloaded
    | SiteOverloadCleared
    | ChargingProfileRefused
    | AlarmChanged
)

Listener = Callable[[DomainEvent], None]


class EventBus:
    """In-process publish/subscribe of :data:`DomainEvent`."""

    __slots__ = ("_listeners",)

    def __init__(self) -> None:
        self._listeners: list[Listener] = []

    def subscribe(self, listener: Listener) -> Callable[[], None]:
        """Add ``listener``; returns a function that removes it again."""
        self._listeners.append(listener)

        def unsubscribe() -> None:
            if listener in self._listeners:
                self._listeners.remove(listener)

        return unsubscribe

    def publish(self, event: DomainEvent) -> None:
        for listener in self._listeners:
            try:
                listener(event)
            except Exception:  # one listener's bug must not hide the event from the others
                name = getattr(listener, "__qualname__", repr(listener))
                log.exception("events.listener_failed", listener=name,
                              event_type=type(event).__name__)


class ClusterBroadcast(Protocol):
    """Messages to the other nodes of a cluster (csms.services.commands.bus rule 6): what
    crosses is plain JSON, never a domain event object."""

    def on_broadcast(self, topic: str, receiver: Callable[[dict[str, Any]], None]
                     ) -> Callable[[], None]: ...

    async def broadcast(self, topic: str, body: dict[str, Any]) -> bool: ...
