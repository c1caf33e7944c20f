"""Reservations: ReserveNow / CancelReservation, and the sessions that use them.

A reservation is recorded (``pending``) before ReserveNow is sent, its id being the
``reservationId``; the answer makes it ``active`` or ``refused``. A session that names it
(1.6 StartTransaction, 2.0.1 TransactionEvent ``reservationId``) with the reserved token
consumes it (:mod:`csms.domain.reservations`); a 2.0.1 ReservationStatusUpdate (Expired,
Removed) ends it; past its expiry it reads as ``expired`` and :meth:`Reservations.list`
marks it so.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from contextlib import suppress
from dataclasses import dataclass
from datetime import datetime

import structlog

from csms.domain.commands import CommandStatus
from csms.domain.commands_auth import CancelReservation, ReserveNow
from csms.domain.model import IdToken, SessionEventKind, StationEventReported
from csms.domain.reservations import ReservationStatus, after_answer, check_request
from csms.errors import (
    CommandError,
    CommandNotSupported,
    CommandRejected,
    CommandTimeout,
    StationOffline,
)
from csms.services.commands.service import CommandService
from csms.services.events import DomainEvent, EventBus, SessionRecorded
from csms.store.reservations import NewReservation, ReservationRecord, ReservationStore

log = structlog.get_logger(__name__)

_UPDATES = {"Expired": ReservationStatus.EXPIRED, "Removed": ReservationStatus.REMOVED}


class ReservationFailed(Exception):
    """Reservation ``reservation_id`` was recorded but got no usable answer: ``error``."""

    def __init__(self, reservation_id: int, error: CommandError) -> None:
        super().__init__(str(error))
        self.reservation_id = reservation_id
        self.error = error


@dataclass(frozen=True, slots=True)
class ReserveRequest:
    station_id: str
    id_token: IdToken
    expires_at: datetime
    evse_id: int | None = None
    connector_type: str | None = None
    group_id: str | None = None


class Reservations:
    """The reservation service (module docstring)."""

    def __init__(self, store: ReservationStore, commands: CommandService, bus: EventBus,
                 clock: Callable[[], datetime]) -> None:
        self._store = store
        self._commands = commands
        self._clock = clock
        self._queue: asyncio.Queue[DomainEvent] = asyncio.Queue(maxsize=10_000)
        self._task: asyncio.Task[None] | None = None
        self._unsubscribe = bus.subscribe(self._on_event)

    async def reserve(self, request: ReserveRequest, *, requested_by: str | None = None,
                      timeout_s: float | None = None) -> tuple[ReservationRecord, str]:
        """The reservation and the charger's answer (Accepted, Occupied, Faulted, ...).

        Raises:
            ValueError: it would not expire in the future. ReservationFailed: recorded,
            but the command failed (its ``error`` says how).
        """
        now = self._clock()
        check_request(request.expires_at, now)
        reservation_id = await self._store.create(NewReservation(
            request.station_id, request.evse_id, request.connector_type,
            request.id_token.value, request.id_token.kind, request.group_id,
            request.expires_at, requested_by), now)
        command = ReserveNow(reservation_id, request.id_token, request.expires_at,
                             request.evse_id, request.connector_type, request.group_id)
        try:
            result = await self._commands.send(request.station_id, command,
                                               timeout_s=timeout_s, requested_by=requested_by)
        except CommandError as exc:
            await self._store.move(reservation_id, ReservationStatus.REFUSED, self._clock(),
                                   outcome=_failure(exc))
            raise ReservationFailed(reservation_id, exc) from exc
        status = result.status if isinstance(result, CommandStatus) else "Invalid"
        await self._store.move(reservation_id, after_answer(status), self._clock(),
                               outcome=status)
        record = await self.get(reservation_id)
        assert record is not None, "just created"
        return record, status

    async def cancel(self, reservation_id: int, *, requested_by: str | None = None,
                     timeout_s: float | None = None) -> str:
        """CancelReservation; the charger's answer (Accepted, Rejected). An Accepted answer,
        or a Rejected one for a reservation the charger no longer holds, ends it.

        Raises:
            KeyError: no such reservation. CommandError: the command failed.
        """
        record = await self.get(reservation_id)
        if record is None:
            raise KeyError(reservation_id)
        result = await self._commands.send(record.station_id,
                                           CancelReservation(reservation_id),
                                           timeout_s=timeout_s, requested_by=requested_by)
        status = result.status if isinstance(result, CommandStatus) else "Invalid"
        if status in ("Accepted", "Rejected"):
            await self._store.move(reservation_id, ReservationStatus.CANCELLED, self._clock())
        return status

    async def get(self, reservation_id: int) -> ReservationRecord | None:
        return await self._store.get(reservation_id, self._clock())

    async def list(self, station_id: str, *, open_only: bool = False
                   ) -> list[ReservationRecord]:
        """The charger's reservations, newest first; expired ones are marked so first."""
        now = self._clock()
        await self._store.expire(now)
        return await self._store.of_station(station_id, now, open_only=open_only)

    def run(self) -> None:
        """Start the worker that links sessions and status updates to reservations."""
        self._task = asyncio.create_task(self._work(), name="reservations")

    async def stop(self) -> None:
        self._unsubscribe()
        if self._task is not None:
            self._task.cancel()
            with suppress(asyncio.CancelledError):
                await self._task

    def _on_event(self, event: DomainEvent) -> None:
        relevant = (
            isinstance(event, SessionRecorded) and event.session_id is not None
            and event.event.reservation_id is not None
            and event.event.kind is not SessionEventKind.ENDED
        ) or (isinstance(event, StationEventReported) and event.kind == "reservation_status")
        if relevant:
            with suppress(asyncio.QueueFull):
                self._queue.put_nowait(event)

    async def _work(self) -> None:
        while True:
            event = await self._queue.get()
            try:
                await self._apply(event)
            except Exception:  # a failed link must not stop the worker
                log.exception("reservations.apply_failed", event=type(event).__name__)

    async def _apply(self, event: DomainEvent) -> None:
        now = self._clock()
        if isinstance(event, SessionRecorded):
            fact, session_id = event.event, event.session_id
            assert fact.reservation_id is not None
            assert session_id is not None
            token = None if fact.id_token is None else fact.id_token.value
            used = await self._store.consume(fact.reservation_id, fact.station_id, token,
                                             session_id, now)
            log.info("reservations.consumed" if used else "reservations.not_consumed",
                     station_id=fact.station_id, reservation_id=fact.reservation_id,
                     session_id=session_id)
        elif isinstance(event, StationEventReported):
            details = event.details
            status = _UPDATES.get(str(details.get("reservationUpdateStatus")))
            reservation_id = details.get("reservationId")
            if status is not None and isinstance(reservation_id, int):
                await self._store.move(reservation_id, status, now,
                                       station_id=event.station_id)


def _failure(exc: CommandError) -> str:
    """The outcome recorded for a reservation that got no usable answer."""
    kinds: list[tuple[type[CommandError], str]] = [
        (StationOffline, "offline"), (CommandTimeout, "timeout"),
        (CommandRejected, "callerror"), (CommandNotSupported, "not_supported"),
    ]
    return next((name for kind, name in kinds if isinstance(exc, kind)), "invalid")
