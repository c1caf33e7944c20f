"""Domain events: what happened, published after it is durable, for whoever reacts to it.

The station service publishes one event per charger-reported fact once it has committed
(the charger's answer does not wait for listeners). Reactions live elsewhere and subscribe:
safety rules (csms.safety), load management (csms.smartcharging), billing (csms.tariffs),
the live feed. Events are the domain model's own dataclasses plus a few that only the
CSMS knows (a connection opened or closed, the session id a message resolved to).

Listeners are plain callables run synchronously, in subscription order, on the event
loop. A listener must be quick and must not block: anything slow (a database write, a
command to a charger) it queues to its own task. A listener that raises is logged and
skipped; the others still run and the publisher never sees the error, because the message
that caused the event has already been acknowledged.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

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


DomainEvent = (
    StationConnected
    | StationDisconnected
    | StationBooted
    | ConnectorStatusChanged
    | SessionRecorded
    | MeterValuesRecorded
    | StationEventReported
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
