"""Keeping chargers' local authorization lists in step with the id-token table.

:meth:`LocalLists.sync` asks the charger its list version (GetLocalListVersion), reads the
list it should hold and what it was sent (:mod:`csms.store.local_lists`), plans the
messages (:func:`csms.domain.local_list.plan`) and sends them one by one, recording each
accepted one. A differential update the charger refuses with VersionMismatch is followed by
a full one. A charger that boots and was sent a list before is synced (its version may be
behind: a list changed while it was away, or it lost its list), in a worker task; a charger
gets its first list from an operator's sync (API or CLI), so one that never asked for local
lists sees no unexpected CALLs.

The charger's limits are read from it once per boot: 1.6 ``SendLocalListMaxLength`` (items
per message) and ``LocalAuthListMaxLength``; 2.0.1 ``LocalAuthListCtrlr.ItemsPerMessage``
(the 2.0.1 maximum length is the ``maxLimit`` of ``Entries``, which only a device-model
report carries); a key it does not report keeps the safe default.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from contextlib import suppress
from dataclasses import dataclass
from datetime import datetime

import structlog

from csms.domain.commands import CommandResult, CommandStatus, GetSettings, SettingKey
from csms.domain.commands_auth import ClearCache, GetLocalListVersion, LocalListVersion
from csms.domain.local_list import (
    DEFAULT_MAX_LENGTH,
    DEFAULT_PER_MESSAGE,
    ListLimits,
    applied,
    plan,
)
from csms.domain.model import StationBooted
from csms.errors import CommandError, CommandNotSupported, InvalidResponse
from csms.services.commands.service import CommandService
from csms.services.events import DomainEvent, EventBus
from csms.store.local_lists import LocalListStore, SentList

log = structlog.get_logger(__name__)

_V16_KEYS = (SettingKey("SendLocalListMaxLength"), SettingKey("LocalAuthListMaxLength"))
_V201_KEYS = (SettingKey("ItemsPerMessage", "LocalAuthListCtrlr"),)
_PER_MESSAGE = frozenset({"SendLocalListMaxLength", "ItemsPerMessage"})
_MAX_LENGTH = frozenset({"LocalAuthListMaxLength"})


@dataclass(frozen=True, slots=True)
class SyncResult:
    """How a sync went: ``outcome`` Accepted (or UpToDate), the charger's refusal
    (Failed, VersionMismatch, NotSupported) or ``too_long``; the version it now has."""

    outcome: str
    version: int
    reported_version: int
    messages: int
    entries: int
    detail: str | None = None


class LocalLists:
    """Local-list sync (module docstring)."""

    def __init__(self, store: LocalListStore, commands: CommandService, bus: EventBus,
                 clock: Callable[[], datetime]) -> None:
        self._store = store
        self._commands = commands
        self._clock = clock
        self._limits: dict[str, ListLimits] = {}
        self._locks: dict[str, asyncio.Lock] = {}
        self._queue: asyncio.Queue[str] = asyncio.Queue(maxsize=10_000)
        self._task: asyncio.Task[None] | None = None
        self._unsubscribe = bus.subscribe(self._on_event)

    async def version(self, station_id: str, *, requested_by: str | None = None) -> int:
        """The charger's list version (0 none, -1 not supported), recorded."""
        result = await self._commands.send(station_id, GetLocalListVersion(),
                                           requested_by=requested_by)
        if not isinstance(result, LocalListVersion):
            raise InvalidResponse(station_id, "GetLocalListVersion", "no version")
        await self._store.reported(station_id, result.version, self._clock())
        return result.version

    async def clear_cache(self, station_id: str, *, requested_by: str | None = None
                          ) -> CommandResult:
        return await self._commands.send(station_id, ClearCache(), requested_by=requested_by)

    async def state(self, station_id: str) -> tuple[SentList, int]:
        """What the charger was sent, and how many entries it should hold now."""
        return (await self._store.sent(station_id),
                len(await self._store.wanted(station_id, self._clock())))

    async def sync(self, station_id: str, *, full: bool = False,
                   requested_by: str | None = None) -> SyncResult:
        """Bring the charger's list up to date (module docstring).

        Raises:
            CommandError: the charger is offline, did not answer, or answered a CALLERROR.
        """
        lock = self._locks.setdefault(station_id, asyncio.Lock())
        async with lock:
            result = await self._sync(station_id, full, requested_by)
        await self._store.outcome(station_id, result.outcome)
        log.info("local_list.synced", station_id=station_id, outcome=result.outcome,
                 version=result.version, messages=result.messages)
        return result

    async def sync_community(self, community_id: int, *, full: bool = False,
                             keeping_lists: bool = True, requested_by: str | None = None
                             ) -> dict[str, SyncResult | CommandError]:
        """Sync every charge point of the community (``keeping_lists``: those that keep a
        list), one after another; each one's result or the error that stopped it."""
        out: dict[str, SyncResult | CommandError] = {}
        for station_id in await self._store.stations(community_id,
                                                     keeping_lists=keeping_lists):
            try:
                out[station_id] = await self.sync(station_id, full=full,
                                                  requested_by=requested_by)
            except CommandError as exc:
                out[station_id] = exc
        return out

    async def _sync(self, station_id: str, full: bool, requested_by: str | None
                    ) -> SyncResult:
        reported = await self.version(station_id, requested_by=requested_by)
        if reported < 0:
            return SyncResult("NotSupported", reported, reported, 0, 0)
        limits = await self._limits_of(station_id, requested_by)
        sent = await self._store.sent(station_id)
        wanted = await self._store.wanted(station_id, self._clock())
        try:
            messages = plan(wanted, sent.entries, sent.version, reported, limits,
                            force_full=full)
        except ValueError as exc:  # LocalListTooLong
            return SyncResult("too_long", sent.version, reported, 0, len(wanted), str(exc))
        if not messages:
            return SyncResult("UpToDate", sent.version, reported, 0, len(wanted))
        held, version = dict(sent.entries), sent.version
        for n, message in enumerate(messages):
            answer = await self._commands.send(station_id, message, requested_by=requested_by)
            status = answer.status if isinstance(answer, CommandStatus) else "Invalid"
            if status != "Accepted":
                if status == "VersionMismatch" and not message.full and not full and n == 0:
                    return await self._sync(station_id, True, requested_by)
                return SyncResult(status, version, reported, n, len(held))
            await self._store.record(station_id, message, self._clock())
            held, version = applied(held, message), message.version
        return SyncResult("Accepted", version, reported, len(messages), len(held))

    async def _limits_of(self, station_id: str, requested_by: str | None) -> ListLimits:
        known = self._limits.get(station_id)
        if known is not None:
            return known
        per_message, max_length = DEFAULT_PER_MESSAGE, DEFAULT_MAX_LENGTH
        for keys in (_V16_KEYS, _V201_KEYS):
            try:
                report = await self._commands.send(station_id, GetSettings(keys),
                                                   requested_by=requested_by)
            except CommandNotSupported:
                continue  # the other version's keys
            except CommandError:
                break
            for value in getattr(report, "values", ()):
                number = _positive(value.value) if value.status == "Accepted" else None
                if number is None:
                    continue
                if value.key.variable in _PER_MESSAGE:
                    per_message = number
                elif value.key.variable in _MAX_LENGTH:
                    max_length = number
            break
        limits = ListLimits(per_message, max_length)
        self._limits[station_id] = limits
        return limits

    def run(self) -> None:
        """Start the worker that syncs chargers when they boot."""
        self._task = asyncio.create_task(self._work(), name="local-lists")

    async def stop(self) -> None:
        self._unsubscribe()
        if self._task is not None:
            self._task.cancel()
            with suppress(asyncio.CancelledError):
                await self._task

    def _on_event(self, event: DomainEvent) -> None:
        if isinstance(event, StationBooted):
            self._limits.pop(event.station_id, None)  # a new firmware may differ
            with suppress(asyncio.QueueFull):
                self._queue.put_nowait(event.station_id)

    async def _work(self) -> None:
        while True:
            station_id = await self._queue.get()
            try:
                if (await self._store.sent(station_id)).version > 0:  # it keeps a list
                    await self.sync(station_id)
            except CommandError as exc:
                log.info("local_list.sync_failed", station_id=station_id, error=str(exc))
            except Exception:  # a failed sync must not stop the worker
                log.exception("local_list.sync_crashed", station_id=station_id)


def _positive(value: str | None) -> int | None:
    try:
        number = int(value) if value is not None else 0
    except ValueError:
        return None
    return number if number > 0 else None
