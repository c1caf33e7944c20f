"""Reports a command asks for and the charger sends later in parts: ReportChargingProfiles
(after GetChargingProfiles) and NotifyCustomerInformation (after CustomerInformation).

Rules:
1. The parts arrive as charger-initiated messages, stored as station events by their
   handlers (the raw payload in ``details``) whether or not anyone waits; the collector
   listens on the bus and joins the parts of one ``(station, kind, requestId)``.
2. A waiter is registered before the command is sent, so a part that arrives before the
   command's answer is processed is not missed. A report is complete with the part whose
   ``tbc`` is false (absent: false) and, for NotifyCustomerInformation, every seqNo before
   it; those parts are ordered by seqNo, ReportChargingProfiles parts as they came.
3. :meth:`ReportCollector.request` sends the command; when the answer is ``Accepted`` it
   waits up to ``wait_s`` for the report to complete and returns what came (``complete``
   False if it did not finish in time: the parts stay in the station events). Every other
   answer (NoProfiles, Rejected, Invalid) returns at once with no parts.
4. Request ids are unique per request on this node (a counter seeded from the clock, kept
   within 31 bits), so two requests to one station never share one.
5. Only this node's bus is heard: with several nodes the parts reach the node holding the
   charger's connection; the waiter of another node gets ``complete`` False and the parts
   remain readable as station events.
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Callable
from contextlib import suppress
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Final

from csms.domain.commands import CommandStatus
from csms.domain.commands_tx import CustomerInformation, GetChargingProfiles
from csms.domain.model import StationEventReported
from csms.services.commands.service import CommandService
from csms.services.events import DomainEvent, EventBus

PROFILES: Final = "report_charging_profiles"
CUSTOMER: Final = "notify_customer_information"
MAX_REQUEST_ID: Final = 2**31 - 1

Key = tuple[str, str, int]


@dataclass(slots=True)
class Collected:
    """The parts of one report so far."""

    parts: list[dict[str, Any]] = field(default_factory=list)
    complete: bool = False
    done: asyncio.Event = field(default_factory=asyncio.Event)

    def ordered(self, kind: str) -> list[dict[str, Any]]:
        if kind == CUSTOMER:
            return sorted(self.parts, key=lambda part: int(part.get("seqNo", 0)))
        return list(self.parts)


@dataclass(frozen=True, slots=True)
class ReportAnswer:
    status: CommandStatus
    request_id: int
    complete: bool
    parts: tuple[dict[str, Any], ...] = ()


def _finished(kind: str, parts: list[dict[str, Any]]) -> bool:
    """Rule 2: the last part came and, for seqNo-numbered parts, every one before it."""
    last = [part for part in parts if not part.get("tbc", False)]
    if not last:
        return False
    if kind != CUSTOMER:
        return True
    final = int(last[0].get("seqNo", 0))
    return set(range(final + 1)) <= {int(part.get("seqNo", 0)) for part in parts}


class ReportCollector:
    """Rules 1-5 of the module."""

    def __init__(self, commands: CommandService, bus: EventBus,
                 clock: Callable[[], datetime]) -> None:
        self._commands = commands
        self._waiting: dict[Key, Collected] = {}
        seed = int(clock().timestamp() * 1000) % (MAX_REQUEST_ID // 2)
        self._ids = itertools.count(seed + 1)
        self._unsubscribe = bus.subscribe(self._on_event)

    def stop(self) -> None:
        self._unsubscribe()

    def next_request_id(self) -> int:
        return (next(self._ids) - 1) % MAX_REQUEST_ID + 1

    def _on_event(self, event: DomainEvent) -> None:
        if not isinstance(event, StationEventReported) or event.kind not in (PROFILES, CUSTOMER):
            return
        request_id = event.details.get("requestId")
        if not isinstance(request_id, int):
            return
        collected = self._waiting.get((event.station_id, event.kind, request_id))
        if collected is None or collected.complete:
            return
        collected.parts.append(dict(event.details))
        if _finished(event.kind, collected.parts):
            collected.complete = True
            collected.done.set()

    async def request(self, station_id: str, command: GetChargingProfiles | CustomerInformation,
                      *, wait_s: float, timeout_s: float | None = None,
                      requested_by: str | None = None) -> ReportAnswer:
        """Rule 3. Raises what :meth:`CommandService.send` raises."""
        kind = PROFILES if isinstance(command, GetChargingProfiles) else CUSTOMER
        key = (station_id, kind, command.request_id)
        collected = self._waiting.setdefault(key, Collected())
        try:
            result = await self._commands.send(station_id, command, timeout_s=timeout_s,
                                               requested_by=requested_by)
            assert isinstance(result, CommandStatus)
            if result.status != "Accepted":
                return ReportAnswer(result, command.request_id, False)
            with suppress(TimeoutError):
                async with asyncio.timeout(wait_s):
                    await collected.done.wait()
            return ReportAnswer(result, command.request_id, collected.complete,
                                tuple(collected.ordered(kind)))
        finally:
            self._waiting.pop(key, None)
