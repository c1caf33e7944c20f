"""Protective actions for alarms: stop the session, make the connector inoperative.

Rules:
1. Which actions an alarm gets is configuration per level (``[safety] actions_level_N``);
   by default only level 1 (personal safety) gets any: stop the session, then make the
   connector inoperative, in that order.
2. The actions run as background work of this service (never in a bus listener), one task
   per alarm in the service's task group, so a charger that does not answer delays only its
   own alarm. An error is logged and recorded; it never ends the service.
3. "stop_session" stops every active session on the alarm's EVSE (the whole station for
   EVSE 0) through the command service: RemoteStopTransaction (1.6) or
   RequestStopTransaction (2.0.1). With none running it records ``no_session``.
4. "make_inoperative" sends ChangeAvailability Inoperative for the connector (the station
   for EVSE 0). A site-wide alarm has no charger to act on: nothing is sent.
5. Each command and its outcome (answered with the charger's status, offline, timeout,
   callerror, ...) is kept in ``alarm_actions`` with an audit row.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import datetime

import structlog

from csms.config import ProtectiveAction, SafetyConfig
from csms.domain.commands import ChangeAvailability, Command, CommandStatus, RemoteStop
from csms.errors import CommandError, CommandRejected, CommandTimeout, StationOffline
from csms.services.commands.service import CommandService
from csms.store.safety.alarms import ActionRecord, AlarmStore, StoredAlarm

log = structlog.get_logger(__name__)


def _outcome(exc: CommandError) -> str:
    kinds: list[tuple[type[CommandError], str]] = [
        (StationOffline, "offline"), (CommandTimeout, "timeout"),
        (CommandRejected, "callerror")]
    return next((name for kind, name in kinds if isinstance(exc, kind)), "failed")


class Protector:
    """Runs the configured protective actions of raised alarms (module rules)."""

    def __init__(self, store: AlarmStore, commands: CommandService, config: SafetyConfig,
                 clock: Callable[[], datetime]) -> None:
        self._store = store
        self._commands = commands
        self._config = config
        self._clock = clock
        self._queue: asyncio.Queue[StoredAlarm] = asyncio.Queue()

    def wants(self, alarm: StoredAlarm) -> bool:
        """Whether ``alarm`` has protective actions to run (rules 1 and 4)."""
        return alarm.station_id is not None and bool(self._config.actions(alarm.level))

    def submit(self, alarm: StoredAlarm) -> None:
        """Queue the actions of a raised alarm; returns at once."""
        self._queue.put_nowait(alarm)

    async def run(self) -> None:
        """Take queued alarms until cancelled; each one's actions in a task of its own."""
        async with asyncio.TaskGroup() as group:
            while True:
                alarm = await self._queue.get()
                group.create_task(self._protect(alarm), name=f"alarm-{alarm.id}-actions")

    async def _protect(self, alarm: StoredAlarm) -> None:
        for action in self._config.actions(alarm.level):
            try:
                await self._act(action, alarm)
            except Exception:  # rule 2: log, carry on with the next action and alarm
                log.exception("safety.action_failed", alarm_id=alarm.id, action=action,
                              station_id=alarm.station_id)

    async def _act(self, action: ProtectiveAction, alarm: StoredAlarm) -> None:
        assert alarm.station_id is not None
        if action == "make_inoperative":
            evse = alarm.evse_id or 0
            connector = alarm.connector_id if evse and alarm.connector_id else None
            await self._send(alarm, action, ChangeAvailability(evse, False, connector))
            return
        sessions = await self._store.active_sessions(alarm.station_id, alarm.evse_id)
        if not sessions:
            now = self._clock()
            await self._store.record_action(alarm.id, ActionRecord(
                action, alarm.station_id, {}, "no_session", None,
                "no active session on the connector", now, now))
            return
        for _, transaction_id, _ in sessions:
            await self._send(alarm, action, RemoteStop(transaction_id))

    async def _send(self, alarm: StoredAlarm, action: str, command: Command) -> None:
        assert alarm.station_id is not None
        requested_at = self._clock()
        status: str | None = None
        detail: str | None = None
        try:
            result = await self._commands.send(alarm.station_id, command,
                                               requested_by=f"alarm:{alarm.id}")
            outcome = "answered"
            status = result.status if isinstance(result, CommandStatus) else None
        except CommandError as exc:
            outcome, detail = _outcome(exc), str(exc)[:500]
        log.info("safety.action", alarm_id=alarm.id, action=action,
                 station_id=alarm.station_id, outcome=outcome, status=status)
        await self._store.record_action(alarm.id, ActionRecord(
            action, alarm.station_id, _describe(command), outcome, status, detail,
            requested_at, self._clock()))


def _describe(command: Command) -> dict[str, object]:
    if isinstance(command, RemoteStop):
        return {"type": "RemoteStop", "transaction_id": command.transaction_ref}
    assert isinstance(command, ChangeAvailability)
    return {"type": "ChangeAvailability", "evse_id": command.evse_id,
            "connector_id": command.connector_id, "operative": command.operative}
