"""Availability of connectors (csms.city.report rule 3): usable time from the status history
and the chargers' offline windows from the connection log. Pure."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

USABLE = frozenset({"Available", "Preparing", "Charging", "SuspendedEV", "SuspendedEVSE",
                    "Finishing", "Occupied", "Reserved"})


@dataclass(frozen=True, slots=True)
class StatusChange:
    station_id: str
    evse_id: int
    connector_id: int
    status: str
    at: datetime


@dataclass(frozen=True, slots=True)
class Offline:
    station_id: str
    start: datetime
    end: datetime


@dataclass(frozen=True, slots=True)
class ConnectionEvent:
    station_id: str
    connected: bool  # False: disconnected
    at: datetime


def offline_windows(events: Iterable[ConnectionEvent], start: datetime,
                    end: datetime) -> list[Offline]:
    """Rule 3's offline windows from the connection log: from a disconnect to the next
    connect, within ``[start, end)``; a charger whose last event before ``start`` is a
    disconnect is offline from ``start``. A charger with no event at all is taken as
    online (the log began after it connected)."""
    by_station: dict[str, list[ConnectionEvent]] = {}
    for event in events:
        by_station.setdefault(event.station_id, []).append(event)
    windows = []
    for station, found in sorted(by_station.items()):
        since: datetime | None = None
        for event in sorted(found, key=lambda e: e.at):
            if event.at >= end:
                break
            if not event.connected and since is None:
                since = max(event.at, start)
            elif event.connected and since is not None:
                if event.at > start:
                    windows.append(Offline(station, since, max(event.at, start)))
                since = None
        if since is not None:
            windows.append(Offline(station, since, end))
    return [w for w in windows if w.end > w.start]


def usable_seconds(changes: Iterable[StatusChange], offline: Iterable[Offline],
                   start: datetime, end: datetime) -> float:
    """Rule 3 for one connector: its changes (any order; those before ``start`` carry the
    state in) and its charger's offline windows."""
    ordered = sorted(changes, key=lambda c: c.at)
    windows = sorted((max(o.start, start), min(o.end, end)) for o in offline
                     if o.end > start and o.start < end)
    total = 0.0
    for index, change in enumerate(ordered):
        if change.status not in USABLE:
            continue
        following = ordered[index + 1].at if index + 1 < len(ordered) else end
        a, b = max(change.at, start), min(following, end)
        if b <= a:
            continue
        span = (b - a).total_seconds()
        for w_start, w_end in windows:
            overlap = (min(b, w_end) - max(a, w_start)).total_seconds()
            span -= max(0.0, overlap)
        total += span
    return total


def status_at(changes: Iterable[StatusChange], instant: datetime) -> str:
    """The connector's last status before ``instant`` ("Unknown" if none)."""
    before = [c for c in changes if c.at < instant]
    return max(before, key=lambda c: c.at).status if before else "Unknown"
