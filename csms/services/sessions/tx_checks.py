"""Ask a 2.0.1 station before trusting (or dropping) a transaction: GetTransactionStatus.

Rules (issue 20 defect 5, issue 13 point 7):
1. After a 2.0.1 station reconnects, every session still active in the database for it
   (created before the connection) is asked about (GetTransactionStatus with its
   transactionId). One the station no longer knows (``ongoingIndicator`` false and
   ``messagesInQueue`` false) is ended with the reason recorded
   (:func:`csms.store.sessions.checks.end_unknown`). Queued messages mean the station
   will still report it: left as it is. No answer (offline, timeout, CALLERROR,
   not supported): left as it is, and the outcome recorded.
2. After a 2.0.1 session was superseded (a new transaction began on its EVSE; the store
   ends the older one at once), the station is asked about the older transaction. Ongoing:
   a ``superseded_still_ongoing`` station event (a notice for a person; the session stays
   ended and flagged ``superseded``, so the EVSE never carries two active sessions and
   billing waits for a review). Not ongoing, or no answer: it stays ended; the outcome is
   recorded as ``superseded_confirmed`` / ``superseded_unconfirmed``.
3. All of it runs as background work of this service, never in a bus listener and never
   on the message path: the listener only queues, one task per check in the service's
   task group, so a charger that does not answer delays only its own check.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from contextlib import suppress
from dataclasses import dataclass
from datetime import datetime
from typing import Final

import structlog

from csms.domain.commands_tx import GetTransactionStatus, TransactionStatus
from csms.domain.model import SessionVerdict, StationEventReported
from csms.errors import CommandError
from csms.handlers.ocppj import OcppVersion
from csms.services.commands.service import CommandService
from csms.services.events import (
    DomainEvent,
    EventBus,
    SessionRecorded,
    StationConnected,
)
from csms.store.queries import Queries
from csms.store.repository import Store
from csms.store.sessions import checks

log = structlog.get_logger(__name__)

QUEUE_SIZE: Final = 10_000
SUPERSEDED: Final = "session_superseded"


@dataclass(frozen=True, slots=True)
class _Check:
    station_id: str
    transaction_ref: str | None  # None: every active session of the station (rule 1)
    connected_at: datetime | None = None  # rule 1: sessions created by then, not since


def not_ongoing(status: TransactionStatus) -> bool:
    """Whether the station has forgotten the transaction (rule 1)."""
    return status.ongoing is False and not status.messages_in_queue


class TransactionChecks:
    """Rules 1-3 of the module."""

    def __init__(self, store: Store, commands: CommandService, bus: EventBus,
                 version_of: Callable[[str], str | None], clock: Callable[[], datetime],
                 timeout_s: float | None = None) -> None:
        self._store = store
        self._commands = commands
        self._bus = bus
        self._version_of = version_of
        self._clock = clock
        self._timeout_s = timeout_s
        self._queue: asyncio.Queue[_Check] = asyncio.Queue(QUEUE_SIZE)
        self._task: asyncio.Task[None] | None = None
        self._unsubscribe = bus.subscribe(self._on_event)

    def run(self) -> None:
        self._task = asyncio.create_task(self._work(), name="transaction-checks")

    async def stop(self) -> None:
        self._unsubscribe()
        if self._task is not None:
            self._task.cancel()
            with suppress(asyncio.CancelledError):
                await self._task

    def _on_event(self, event: DomainEvent) -> None:
        check = None
        if isinstance(event, StationConnected) and event.ocpp_version == OcppVersion.V201:
            check = _Check(event.station_id, None, event.at)
        elif (isinstance(event, StationEventReported) and event.kind == SUPERSEDED
              and event.code is not None
              and self._version_of(event.station_id) == OcppVersion.V201):
            check = _Check(event.station_id, event.code)
        if check is not None:
            try:
                self._queue.put_nowait(check)
            except asyncio.QueueFull:
                log.warning("tx_checks.queue_full", station_id=check.station_id)

    async def _work(self) -> None:
        async with asyncio.TaskGroup() as group:
            while True:
                check = await self._queue.get()
                group.create_task(self._guarded(check), name=f"tx-check-{check.station_id}")

    async def _guarded(self, check: _Check) -> None:
        try:
            if check.transaction_ref is None:
                await self.reconnected(check.station_id, check.connected_at)
            else:
                await self.superseded(check.station_id, check.transaction_ref)
        except Exception:  # rule 3: log, never end the service
            log.exception("tx_checks.failed", station_id=check.station_id,
                          transaction_ref=check.transaction_ref)

    async def reconnected(self, station_id: str, connected_at: datetime | None = None) -> None:
        """Rule 1. A session begun on the new connection is not asked about: the station has
        just reported it, and the check reads the database only after that may have
        committed."""
        queries = Queries(self._store.engine)
        for session in await queries.active_sessions(station_id, created_by=connected_at):
            ref = session.transaction_id
            if ref is None:
                continue
            status = await self._ask(station_id, ref)
            if isinstance(status, TransactionStatus) and not_ongoing(status):
                limits = self._store.sessions.limits
                verdict = await checks.end_unknown(
                    self._store.writer, limits, self._store.sessions.on_ended, station_id,
                    ref, self._clock(), _answer(status))
                self._publish(verdict)
            elif not isinstance(status, TransactionStatus):
                self._publish(await checks.note(
                    self._store.writer, station_id, ref, self._clock(),
                    "transaction_status_unknown", error=status))

    async def superseded(self, station_id: str, ref: str) -> None:
        """Rule 2."""
        status = await self._ask(station_id, ref)
        details: dict[str, object]
        if not isinstance(status, TransactionStatus):
            kind, details = "superseded_unconfirmed", {"error": status}
        elif status.ongoing:
            kind, details = "superseded_still_ongoing", _answer(status)
        else:
            kind, details = "superseded_confirmed", _answer(status)
        self._publish(await checks.note(self._store.writer, station_id, ref, self._clock(),
                                        kind, **details))

    async def _ask(self, station_id: str, ref: str) -> TransactionStatus | str:
        """The station's answer, or the error's text."""
        try:
            result = await self._commands.send(station_id, GetTransactionStatus(ref),
                                               timeout_s=self._timeout_s,
                                               requested_by="csms:tx-checks")
        except CommandError as exc:
            return f"{type(exc).__name__}: {exc}"
        if not isinstance(result, TransactionStatus):
            return f"unexpected answer {result!r}"
        return result

    def _publish(self, verdict: SessionVerdict | None) -> None:
        if verdict is None:
            return
        for change in verdict.changes:
            self._bus.publish(SessionRecorded(change.event, change.session_id))
        for notice in verdict.notices:
            self._bus.publish(notice)


def _answer(status: TransactionStatus) -> dict[str, object]:
    return {"ongoing_indicator": status.ongoing, "messages_in_queue": status.messages_in_queue}
