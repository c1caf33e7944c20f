"""The chargers' connection log: a row each time a charger connects or disconnects.

Rules:
1. Listens to StationConnected / StationDisconnected on the bus and stores them in order
   (csms.store.city.tables.charger_connections), batched by the group-commit writer; the
   monthly report derives offline windows from them (csms.city.report rule 3).
2. Best effort, like the events: a row lost to a crash only makes the report count the
   charger in its last known state. While the CSMS itself is down nothing is logged.
3. Each row names this node, and the node's heartbeat is written every
   :data:`csms.store.cluster.nodes.HEARTBEAT_S`, so any node can tell which node holds a
   charger (csms.store.cluster.nodes rule 2).
"""

from __future__ import annotations

import asyncio
from contextlib import suppress

import structlog
from sqlalchemy import insert

from csms.clock import Clock
from csms.services.events import DomainEvent, EventBus, StationConnected, StationDisconnected
from csms.store.city.tables import charger_connections
from csms.store.cluster import nodes
from csms.store.writer import Writer, WriteTx

log = structlog.get_logger(__name__)
QUEUE = 10_000


class ConnectionLog:
    def __init__(self, bus: EventBus, writer: Writer, node: str, clock: Clock) -> None:
        self._writer = writer
        self.node = node
        self._clock = clock
        self._queue: asyncio.Queue[dict[str, object] | None] = asyncio.Queue(QUEUE)
        self._unsubscribe = bus.subscribe(self._on_event)
        self._task = asyncio.create_task(self._write_forever(), name="connection-log")
        self._beat = asyncio.create_task(self._heartbeats(), name="node-heartbeat")

    async def _heartbeats(self) -> None:
        while True:
            try:
                await nodes.heartbeat(self._writer, self.node, self._clock())
            except Exception:
                log.exception("cluster.heartbeat_failed", node=self.node)
            await asyncio.sleep(nodes.HEARTBEAT_S)

    def _on_event(self, event: DomainEvent) -> None:
        if isinstance(event, StationConnected | StationDisconnected):
            row = {"station_id": event.station_id, "node": self.node,
                   "connected": isinstance(event, StationConnected), "at": event.at}
            try:
                self._queue.put_nowait(row)
            except asyncio.QueueFull:
                log.error("connection_log.queue_full", station_id=event.station_id)

    async def _write_forever(self) -> None:
        stopping = False
        while not stopping:
            got = [await self._queue.get()]
            while not self._queue.empty():
                got.append(self._queue.get_nowait())
            stopping = None in got
            rows = [row for row in got if row is not None]
            if not rows:
                continue

            async def unit(tx: WriteTx, rows: list[dict[str, object]] = rows) -> None:
                await tx.conn.execute(insert(charger_connections), rows)

            try:
                await self._writer.submit(unit)
            except Exception:
                log.exception("connection_log.write_failed", rows=len(rows))

    async def stop(self) -> None:
        """Write what is queued (the writer must still run), then stop."""
        self._unsubscribe()
        self._beat.cancel()
        with suppress(asyncio.CancelledError):
            await self._beat
        with suppress(asyncio.QueueFull):
            self._queue.put_nowait(None)
        try:
            async with asyncio.timeout(5.0):
                await self._task
        except TimeoutError:
            self._task.cancel()
            with suppress(asyncio.CancelledError):
                await self._task
