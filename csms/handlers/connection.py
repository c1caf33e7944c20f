"""One connected charge point, and the registry of all of them on this node.

Rules:
1. Commands to a charge point go through its queue, drained by a task of the connection's
   task group (started when a command arrives, gone when the queue is empty, so an idle
   connection costs no task): never from a message handler (ARCHITECTURE property 3).
2. One connection per charge point id: a newer connection replaces the older one, which is
   closed (code 1000, "replaced") and finished before the newer one is registered.
3. When a connection ends, every queued or waiting command fails with StationOffline.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import structlog

from csms.domain.commands import CloseConnection, Command, CommandResult, CommandStatus
from csms.errors import (
    CommandError,
    CommandRejected,
    CommandTimeout,
    InvalidResponse,
    StationOffline,
)
from csms.handlers.commands import v16 as commands_v16
from csms.handlers.commands import v201 as commands_v201
from csms.handlers.ocppj import OcppError, OcppVersion
from csms.handlers.rpc import CallFailed, ConnectionLost, ResponseInvalid, RpcEndpoint

log = structlog.get_logger(__name__)


@dataclass(slots=True)
class _Job:
    command: Command
    deadline: float
    future: asyncio.Future[CommandResult]


@dataclass(slots=True)
class LiveState:
    """What the node knows of a connected charge point right now."""

    connected_at: datetime
    last_message_at: datetime | None = None
    extra: dict[str, Any] = field(default_factory=dict)


class StationConnection:
    """A connected charge point: its RPC endpoint and its command queue."""

    def __init__(
        self,
        station_id: str,
        endpoint: RpcEndpoint,
        close: Any,
        connected_at: datetime,
        queue_size: int,
    ) -> None:
        self.station_id = station_id
        self.endpoint = endpoint
        self.version = endpoint.version
        self.state = LiveState(connected_at)
        self._close = close
        self._queue: asyncio.Queue[_Job] = asyncio.Queue(queue_size)
        self._group: asyncio.TaskGroup | None = None
        self._drainer: asyncio.Task[None] | None = None
        self.finished = asyncio.Event()

    def live(self) -> LiveState:
        """The live state, ``last_message_at`` being when the last frame arrived."""
        received = self.endpoint.received_at
        if received is not None:
            self.state.last_message_at = datetime.fromtimestamp(received, UTC)
        return self.state

    def attach(self, group: asyncio.TaskGroup) -> None:
        """Run command drainers in ``group`` (the connection's task group) from now on."""
        self._group = group

    async def submit(self, command: Command, timeout_s: float) -> CommandResult:
        """Queue ``command``; the charger's answer as a domain result.

        Raises:
            StationOffline, CommandTimeout, CommandRejected, InvalidResponse,
            CommandNotSupported, CommandError (queue full).
        """
        loop = asyncio.get_running_loop()
        job = _Job(command, loop.time() + timeout_s, loop.create_future())
        if self._group is None or self.finished.is_set():
            raise StationOffline(self.station_id)
        try:
            self._queue.put_nowait(job)
        except asyncio.QueueFull:
            raise CommandError(self.station_id, "command queue is full") from None
        if self._drainer is None or self._drainer.done():
            drain = self._drain()
            try:
                self._drainer = self._group.create_task(drain)
            except RuntimeError:  # the task group is shutting down: the connection is gone
                drain.close()  # never started: close it, or it warns "never awaited"
                self._fail_queued()
        try:
            async with asyncio.timeout(timeout_s):
                return await job.future
        except TimeoutError:
            job.future.cancel()
            raise CommandTimeout(self.station_id, type(command).__name__, timeout_s) from None

    async def _drain(self) -> None:
        """Run queued commands one at a time until the queue is empty."""
        while not self._queue.empty():
            job = self._queue.get_nowait()
            if not job.future.done():
                await self._run(job)

    def closed(self) -> None:
        """The connection ended: fail what is still queued; no new commands."""
        self.finished.set()
        self._fail_queued()

    async def close(self, reason: str) -> None:
        await self._close(1000, reason)

    async def _run(self, job: _Job) -> None:
        translate = commands_v16 if self.version is OcppVersion.V16 else commands_v201
        name = type(job.command).__name__
        try:
            action, payload = translate.to_call(self.station_id, job.command)
            await self.endpoint.answered()  # what the charger asked is answered first
            remaining = job.deadline - asyncio.get_running_loop().time()
            answer = await self.endpoint.call(action, payload, max(remaining, 0.001))
            result: CommandResult | BaseException = translate.from_answer(job.command, answer)
        except CommandError as exc:
            result = exc
        except OcppError as exc:  # our own request broke the schema: refuse, send nothing
            result = CommandError(self.station_id, f"{name}: invalid request: {exc.description}")
        except CallFailed as exc:
            result = CommandRejected(
                self.station_id, exc.action, exc.error.code, exc.error.description,
                exc.error.details,
            )
        except ResponseInvalid as exc:
            result = InvalidResponse(self.station_id, exc.action, exc.problem)
        except TimeoutError:
            result = CommandTimeout(self.station_id, name, 0.0)
        except ConnectionLost:
            result = StationOffline(self.station_id)
        if job.future.done():
            return
        if isinstance(result, BaseException):
            job.future.set_exception(result)
        else:
            job.future.set_result(result)

    def _fail_queued(self) -> None:
        while not self._queue.empty():
            job = self._queue.get_nowait()
            if not job.future.done():
                job.future.set_exception(StationOffline(self.station_id))


class ConnectionRegistry:
    """The charge points connected to this node; also the in-process command transport."""

    def __init__(self, replace_timeout_s: float = 5.0) -> None:
        self._connections: dict[str, StationConnection] = {}
        self._replace_timeout_s = replace_timeout_s

    def get(self, station_id: str) -> StationConnection | None:
        return self._connections.get(station_id)

    def __len__(self) -> int:
        return len(self._connections)

    def version_of(self, station_id: str) -> str | None:
        """The OCPP subprotocol of the station's connection to this node, if any."""
        connection = self._connections.get(station_id)
        return None if connection is None else connection.version.value

    def connected_here(self, station_id: str) -> bool:
        return station_id in self._connections

    def count(self, version: str) -> int:
        """Connected charge points speaking ``version`` (a subprotocol name)."""
        return sum(1 for c in self._connections.values() if c.version.value == version)

    def connected(self) -> list[StationConnection]:
        return list(self._connections.values())

    async def register(self, connection: StationConnection) -> None:
        """Make ``connection`` the one for its id, closing and awaiting any older one."""
        old = self._connections.get(connection.station_id)
        if old is not None:
            log.info("ocpp.connection.replaced", station_id=connection.station_id)
            await old.close("replaced by a new connection")
            started = time.monotonic()
            try:
                async with asyncio.timeout(self._replace_timeout_s):
                    await old.finished.wait()
            except TimeoutError:
                log.warning("ocpp.connection.replace_slow", station_id=connection.station_id,
                            waited_s=round(time.monotonic() - started, 3))
        self._connections[connection.station_id] = connection

    def unregister(self, connection: StationConnection) -> None:
        if self._connections.get(connection.station_id) is connection:
            del self._connections[connection.station_id]

    async def send(self, station_id: str, command: Command, timeout_s: float) -> CommandResult:
        """Deliver ``command`` to a charge point connected to this node.

        Raises:
            StationOffline: not connected here. Others as :meth:`StationConnection.submit`.
        """
        connection = self._connections.get(station_id)
        if connection is None:
            raise StationOffline(station_id)
        if isinstance(command, CloseConnection):  # for a node that does not hold it (bus)
            await connection.close(command.reason)
            return CommandStatus("Accepted")
        return await connection.submit(command, timeout_s)
