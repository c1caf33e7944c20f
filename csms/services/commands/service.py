"""Sending commands to charge points: the typed async API the operator API sits behind.

The transport is pluggable: :class:`~csms.handlers.connection.ConnectionRegistry` delivers to
charge points connected to this node; a cross-node bus (PostgreSQL LISTEN/NOTIFY or Redis)
implements the same :class:`CommandTransport` protocol to reach other nodes.
Every command and its outcome is written to the command log.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import asdict, is_dataclass
from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any, Protocol

import structlog

from csms.domain.commands import Command, CommandResult
from csms.errors import (
    CommandError,
    CommandNotSupported,
    CommandRejected,
    CommandTimeout,
    StationOffline,
)
from csms.store.repository import Store

if TYPE_CHECKING:
    from csms.services.device_model import Batcher

log = structlog.get_logger(__name__)


class CommandTransport(Protocol):
    async def send(self, station_id: str, command: Command, timeout_s: float) -> CommandResult:
        """The charger's answer; raises :class:`~csms.errors.CommandError` subclasses."""
        ...


class CommandService:
    """Send a command, wait for the charger's answer, log both."""

    def __init__(
        self,
        transport: CommandTransport,
        store: Store,
        clock: Callable[[], datetime],
        default_timeout_s: float,
    ) -> None:
        self._transport = transport
        self._store = store
        self._clock = clock
        self._default_timeout_s = default_timeout_s
        # splits GetSettings / SetSettings to the station's limits (csms.services.device_model)
        self.batcher: Batcher | None = None

    async def send(
        self,
        station_id: str,
        command: Command,
        *,
        timeout_s: float | None = None,
        requested_by: str | None = None,
    ) -> CommandResult:
        """The charger's answer to ``command``.

        Raises:
            StationOffline: not connected. CommandTimeout: no answer in ``timeout_s``
            (default: ``server.call_timeout_s``). CommandRejected: a CALLERROR.
            CommandNotSupported, InvalidResponse.
        """
        plan = None if self.batcher is None else await self.batcher.plan(station_id, command)
        if plan is None:
            return await self._send_one(station_id, command, timeout_s, requested_by)
        deadline = time.monotonic() + (timeout_s or self._default_timeout_s)
        results = []
        for part in plan.parts:  # one after the other, in request order
            left = max(deadline - time.monotonic(), 0.001)
            results.append(await self._send_one(station_id, part, left, requested_by))
        return plan.join(results)

    async def _send_one(self, station_id: str, command: Command, timeout_s: float | None,
                        requested_by: str | None) -> CommandResult:
        requested_at = self._clock()
        started = time.monotonic()
        timeout = timeout_s or self._default_timeout_s
        name = type(command).__name__
        try:
            result = await self._transport.send(station_id, command, timeout)
        except CommandError as exc:
            if isinstance(exc, CommandTimeout):
                exc = CommandTimeout(station_id, name, time.monotonic() - started)
            await self._log(station_id, command, _outcome(exc), {"error": str(exc)},
                            requested_by, requested_at)
            log.info("command.failed", station_id=station_id, command=name, error=str(exc))
            raise exc from None
        await self._log(station_id, command, "answered", _plain(result), requested_by,
                        requested_at)
        return result

    async def _log(
        self,
        station_id: str,
        command: Command,
        outcome: str,
        response: Any,
        requested_by: str | None,
        requested_at: datetime,
    ) -> None:
        await self._store.log_command(
            station_id=station_id, action=type(command).__name__, request=_plain(command),
            outcome=outcome, response=response, requested_by=requested_by,
            requested_at=requested_at, answered_at=self._clock(),
        )


def _outcome(exc: CommandError) -> str:
    kinds: list[tuple[type[CommandError], str]] = [
        (StationOffline, "offline"), (CommandTimeout, "timeout"),
        (CommandRejected, "callerror"), (CommandNotSupported, "not_supported"),
    ]
    return next((name for kind, name in kinds if isinstance(exc, kind)), "invalid")


def _plain(value: Any) -> Any:
    """A JSON-able form of a command or result (dataclasses as dicts, times as ISO)."""
    if is_dataclass(value) and not isinstance(value, type):
        return _plain(asdict(value))
    if isinstance(value, dict):
        return {key: _plain(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(item) for item in value]
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, Decimal):  # money (ShowCost): exact, as a string
        return str(value)
    return value
