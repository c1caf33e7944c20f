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


def merged(windows: Iterable[tuple[datetime, datetime]], start: datetime,
           end: datetime) -> list[tuple[datetime, datetime]]:
    """``windows`` clipped to ``[start, end)`` and joined where they overlap or touch."""
    joined: list[tuple[datetime, datetime]] = []
    for a, b in sorted((max(a, start), min(b, end)) for a, b in windows):
        if b <= a:
            continue
        if joined and a <= joined[-1][1]:
            joined[-1] = (joined[-1][0], max(joined[-1][1], b))
        else:
            joined.append((a, b))
    return joined


def usable_seconds(changes: Iterable[StatusChange], offline: Iterable[Offline],
                   start: datetime, end: datetime) -> float:
    """Rule 3 for one connector: its changes (any order; those before ``start`` carry the
    state in) and its charger's offline (or charger-wide unavailable) windows, which may
    overlap."""
    ordered = sorted(changes, key=lambda c: c.at)
    windows = merged(((o.start, o.end) for o in offline), start, end)
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
            span -= max(0.0, (min(b, w_end) - max(a, w_start)).total_seconds())
        total += span
    return total


def charger_down(changes: Iterable[StatusChange], start: datetime,
                 end: datetime) -> list[Offline]:
    """Windows in which a charger's own status (EVSE 0, connector 0: OCPP 1.6 connectorId 0)
    was Unavailable or Faulted; each of its connectors is unusable then."""
    ordered = sorted((c for c in changes if c.evse_id == 0 and c.connector_id == 0),
                     key=lambda c: c.at)
    windows = []
    for index, change in enumerate(ordered):
        if change.status in USABLE:
            continue
        following = ordered[index + 1].at if index + 1 < len(ordered) else end
        if min(following, end) > max(change.at, start):
            windows.append(Offline(change.station_id, max(change.at, start),
                                   min(following, end)))
    return windows


def status_at(changes: Iterable[StatusChange], instant: datetime) -> str:
    """The connector's last status before ``instant`` ("Unknown" if none)."""
    before = [c for c in changes if c.at < instant]
    return max(before, key=lambda c: c.at).status if before else "Unknown"
