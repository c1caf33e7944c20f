"""Remote starts that know what they started: a unique ``remoteStartId`` per request, and
the session that answers it.

:meth:`RemoteStarts.start` records the request (its id is the ``remoteStartId``), sends it
through the command service and records the answer. A listener on the event bus links a
session to its request when the session's event carries that id back (2.0.1
``transactionInfo.remoteStartId``); a transaction start without one (1.6 has no id) is
linked to the oldest open request of that charge point for that token (by key), on that
EVSE or an unnamed one, made at most ``server.remote_start_match_s`` earlier.
:meth:`RemoteStarts.wait` waits for the link up to a bound.

The listener only queues; one worker task does the database work, in order. Several
nodes: the node holding the charger links (its bus sees the event) and the node that sent
the request sees the link in the database; :meth:`wait` re-reads it every
:data:`POLL_S` and at once when this node linked it.
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from collections.abc import Callable
from contextlib import suppress
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Final

import structlog

from csms.domain.commands import CommandResult, CommandStatus, RemoteStart
from csms.domain.model import SessionEventKind
from csms.errors import (
    CommandError,
    CommandNotSupported,
    CommandRejected,
    CommandTimeout,
    StationOffline,
)
from csms.services.commands.service import CommandService
from csms.services.events import DomainEvent, EventBus, SessionRecorded
from csms.store.remote_starts import RemoteStartRecord, RemoteStartStore

log = structlog.get_logger(__name__)

POLL_S: Final = 0.5  # how often a waiter re-reads a request another node may link
QUEUE_SIZE: Final = 10_000
SEEN_MAX: Final = 10_000  # (station, remoteStartId) already tried, newest kept


class RemoteStartFailed(Exception):
    """Remote start ``remote_start_id`` was recorded but got no usable answer: ``error``."""

    def __init__(self, remote_start_id: int, error: CommandError) -> None:
        super().__init__(str(error))
        self.remote_start_id = remote_start_id
        self.error = error


class RemoteStarts:
    """Send remote starts with their own id and find the sessions they start."""

    def __init__(self, store: RemoteStartStore, commands: CommandService, bus: EventBus,
                 clock: Callable[[], datetime], match_window_s: float) -> None:
        self._store = store
        self._commands = commands
        self._clock = clock
        self._window = timedelta(seconds=match_window_s)
        self._queue: asyncio.Queue[SessionRecorded] = asyncio.Queue(QUEUE_SIZE)
        self._waiters: dict[int, set[asyncio.Event]] = {}
        # Firmware may repeat remoteStartId on every event of a transaction: one try each.
        self._seen: OrderedDict[tuple[str, int], None] = OrderedDict()
        self._task: asyncio.Task[None] | None = None
        self._unsubscribe = bus.subscribe(self._on_event)

    async def start(self, station_id: str, command: RemoteStart, *,
                    timeout_s: float | None = None,
                    requested_by: str | None = None) -> tuple[int, CommandResult]:
        """(the request's id, the charger's answer); the command's own ``remote_start_id``
        is replaced by the request's id.

        Raises:
            RemoteStartFailed: with the request's id and the :class:`CommandError` of
                :meth:`CommandService.send`; the request keeps the outcome.
        """
        remote_start_id = await self._store.create(
            station_id, command.evse_id, command.id_token.value, self._clock(), requested_by)
        try:
            result = await self._commands.send(
                station_id, replace(command, remote_start_id=remote_start_id),
                timeout_s=timeout_s, requested_by=requested_by)
        except CommandError as exc:
            await self._store.answered(remote_start_id, _failure(exc))
            raise RemoteStartFailed(remote_start_id, exc) from exc
        status = result.status if isinstance(result, CommandStatus) else "answered"
        await self._store.answered(remote_start_id, status)
        return remote_start_id, result

    async def get(self, remote_start_id: int) -> RemoteStartRecord | None:
        return await self._store.get(remote_start_id)

    async def wait(self, remote_start_id: int, wait_s: float) -> RemoteStartRecord | None:
        """The request once a session answers it, or as it is after ``wait_s`` seconds;
        None if there is no such request."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + wait_s
        woken = asyncio.Event()
        self._waiters.setdefault(remote_start_id, set()).add(woken)
        try:
            while True:
                record = await self._store.get(remote_start_id)
                left = deadline - loop.time()
                if record is None or record.session_id is not None or left <= 0:
                    return record
                with suppress(TimeoutError):
                    async with asyncio.timeout(min(left, POLL_S)):
                        await woken.wait()
                woken.clear()
        finally:
            waiting = self._waiters.get(remote_start_id, set())
            waiting.discard(woken)
            if not waiting:
                self._waiters.pop(remote_start_id, None)

    def run(self) -> None:
        """Start the worker that links sessions to requests."""
        self._task = asyncio.create_task(self._work(), name="remote-starts")

    async def stop(self) -> None:
        self._unsubscribe()
        if self._task is not None:
            self._task.cancel()
            with suppress(asyncio.CancelledError):
                await self._task

    def _on_event(self, event: DomainEvent) -> None:
        if not isinstance(event, SessionRecorded) or event.session_id is None:
            return
        fact = event.event
        if fact.remote_start_id is None and (
                fact.kind is not SessionEventKind.STARTED or fact.id_token is None):
            return
        if fact.remote_start_id is not None:
            seen = (fact.station_id, fact.remote_start_id)
            if seen in self._seen:
                return
            self._seen[seen] = None
            if len(self._seen) > SEEN_MAX:
                self._seen.popitem(last=False)
        try:
            self._queue.put_nowait(event)
        except asyncio.QueueFull:
            log.warning("remote_starts.queue_full", station_id=fact.station_id,
                        session_id=event.session_id)

    async def _work(self) -> None:
        while True:
            event = await self._queue.get()
            try:
                linked = await self._link(event)
            except Exception:  # a failed link must not stop the worker
                log.exception("remote_starts.link_failed", session_id=event.session_id)
                continue
            for woken in self._waiters.get(linked, set()) if linked is not None else ():
                woken.set()

    async def _link(self, recorded: SessionRecorded) -> int | None:
        """Link the session to its request (module docstring); the request's id if done."""
        event, session_id = recorded.event, recorded.session_id
        assert session_id is not None
        now = self._clock()
        if event.remote_start_id is not None:
            done = await self._store.link_by_id(event.remote_start_id, event.station_id,
                                                session_id, now)
            linked = event.remote_start_id if done else None
        else:
            assert event.id_token is not None
            linked = await self._store.link_by_window(
                event.station_id, event.evse_id, event.id_token.value, session_id,
                now - self._window, now)
        if linked is not None:
            log.info("remote_starts.linked", station_id=event.station_id,
                     remote_start_id=linked, session_id=session_id)
        return linked


def _failure(exc: CommandError) -> str:
    """The outcome recorded for a request that got no usable answer."""
    kinds: list[tuple[type[CommandError], str]] = [
        (StationOffline, "offline"), (CommandTimeout, "timeout"),
        (CommandRejected, "callerror"), (CommandNotSupported, "not_supported"),
    ]
    return next((name for kind, name in kinds if isinstance(exc, kind)), "invalid")
