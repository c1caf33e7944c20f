"""Records a ``clock_anomaly`` station event when a charger's timestamps are implausible
(csms.domain.clock): before its registration, or in the future beyond a tolerance.

Rules:
1. The bus listener only takes the newest timestamp of each event and queues it (bounded:
   when the queue is full, checks are dropped, never the charger's messages).
2. One event per charger and problem per ``repeat_s``: a charger whose clock is dead sends
   every message with it, and the log must not grow by one row per message.
3. What it keeps per charger (registration time, last report) is bounded in size.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import OrderedDict
from collections.abc import Callable
from datetime import datetime, timedelta

import structlog
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from csms.domain.clock import ClockAnomaly, clock_anomaly
from csms.domain.model import ConnectorStatusChanged, StationEventReported
from csms.services.events import (
    DomainEvent,
    EventBus,
    MeterValuesRecorded,
    SessionRecorded,
)
from csms.store import tables as t
from csms.store.repository import Store
from csms.store.rows import utc

log = structlog.get_logger(__name__)
QUEUE_MAX = 10_000
STATIONS_MAX = 50_000


def reported_time(event: DomainEvent) -> tuple[str, datetime] | None:
    """The charger and the latest charger-clock timestamp an event carries, if any."""
    if isinstance(event, ConnectorStatusChanged):
        return event.station_id, event.at
    if isinstance(event, SessionRecorded):
        return event.event.station_id, event.event.at
    if isinstance(event, MeterValuesRecorded) and event.event.samples:
        return event.event.station_id, max(s.at for s in event.event.samples)
    if isinstance(event, StationEventReported) and event.kind != "clock_anomaly":
        return event.station_id, event.at
    return None


class ClockWatch:
    """Subscribe with :meth:`start`; :meth:`stop` ends the worker."""

    def __init__(self, store: Store, engine: AsyncEngine, bus: EventBus,
                 clock: Callable[[], datetime], tolerance_s: float,
                 repeat_s: float = 3600.0) -> None:
        self._store = store
        self._engine = engine
        self._bus = bus
        self._clock = clock
        self._tolerance = timedelta(seconds=tolerance_s)
        self._repeat = timedelta(seconds=repeat_s)
        self._queue: asyncio.Queue[tuple[str, datetime, datetime]] = asyncio.Queue(QUEUE_MAX)
        self._registered: OrderedDict[str, datetime | None] = OrderedDict()
        self._reported: OrderedDict[tuple[str, str], datetime] = OrderedDict()
        self._task: asyncio.Task[None] | None = None
        self._unsubscribe: Callable[[], None] | None = None

    async def start(self) -> None:
        self._unsubscribe = self._bus.subscribe(self._on_event)
        self._task = asyncio.get_running_loop().create_task(self._work(), name="clock-watch")

    async def stop(self) -> None:
        if self._unsubscribe is not None:
            self._unsubscribe()
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)

    def _on_event(self, event: DomainEvent) -> None:
        found = reported_time(event)
        if found is not None:
            with contextlib.suppress(asyncio.QueueFull):  # rule 1: drop the check
                self._queue.put_nowait((*found, self._clock()))

    async def _work(self) -> None:
        while True:
            station_id, reported_at, received_at = await self._queue.get()
            try:
                await self._check(station_id, reported_at, received_at)
            except Exception:  # a task's outermost loop: log, carry on with the next
                log.exception("clock_watch.failed", station_id=station_id)

    async def _check(self, station_id: str, reported_at: datetime,
                     received_at: datetime) -> None:
        registered_at = await self._registration(station_id)
        anomaly = clock_anomaly(reported_at, received_at, registered_at, self._tolerance)
        if anomaly is None or not self._due(station_id, anomaly):
            return
        log.warning("station.clock_anomaly", station_id=station_id,
                    problem=anomaly.problem.value, reported_at=reported_at.isoformat(),
                    skew_s=round(anomaly.skew_s, 3))
        await self._store.record_events([_event(station_id, anomaly, registered_at)])

    def _due(self, station_id: str, anomaly: ClockAnomaly) -> bool:
        key = (station_id, anomaly.problem.value)
        last = self._reported.get(key)
        if last is not None and anomaly.received_at - last < self._repeat:
            return False
        self._reported[key] = anomaly.received_at
        self._reported.move_to_end(key)
        while len(self._reported) > STATIONS_MAX:
            self._reported.popitem(last=False)
        return True

    async def _registration(self, station_id: str) -> datetime | None:
        if station_id in self._registered:
            self._registered.move_to_end(station_id)
            return self._registered[station_id]
        c = t.charge_points.c
        async with self._engine.connect() as conn:
            found = (await conn.execute(
                select(c.created_at).where(c.id == station_id))).scalar_one_or_none()
        registered = None if found is None else utc(found)
        self._registered[station_id] = registered
        while len(self._registered) > STATIONS_MAX:
            self._registered.popitem(last=False)
        return registered


def _event(station_id: str, anomaly: ClockAnomaly,
           registered_at: datetime | None) -> StationEventReported:
    return StationEventReported(
        station_id, "clock_anomaly", anomaly.received_at, code=anomaly.problem.value,
        details={"reported_at": anomaly.reported_at.isoformat(),
                 "received_at": anomaly.received_at.isoformat(),
                 "skew_s": round(anomaly.skew_s, 3),
                 "registered_at": None if registered_at is None else registered_at.isoformat()})
