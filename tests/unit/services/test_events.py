"""The in-process event bus: every listener sees every event, a failing one hides nothing."""

from __future__ import annotations

from datetime import UTC, datetime

from csms.services.events import DomainEvent, EventBus, StationConnected, StationDisconnected

AT = datetime(2026, 11, 28, tzinfo=UTC)


def test_listeners_see_events_in_order_and_a_failing_listener_hides_nothing() -> None:
    bus = EventBus()
    seen: list[tuple[str, DomainEvent]] = []

    def broken(event: DomainEvent) -> None:
        raise RuntimeError("listener bug")

    bus.subscribe(lambda e: seen.append(("first", e)))
    bus.subscribe(broken)
    bus.subscribe(lambda e: seen.append(("last", e)))
    up, down = StationConnected("CP1", "ocpp1.6", AT), StationDisconnected("CP1", AT)
    bus.publish(up)
    bus.publish(down)
    assert seen == [("first", up), ("last", up), ("first", down), ("last", down)]


def test_unsubscribe_stops_delivery() -> None:
    bus = EventBus()
    seen: list[DomainEvent] = []
    unsubscribe = bus.subscribe(seen.append)
    bus.publish(StationDisconnected("CP1", AT))
    unsubscribe()
    unsubscribe()  # idempotent
    bus.publish(StationDisconnected("CP2", AT))
    assert [e.station_id for e in seen if isinstance(e, StationDisconnected)] == ["CP1"]
