"""Firmware updates: the file store, single updates, and rollouts in waves.

The rollout driver is one asyncio task (:meth:`FirmwareService.run`). Each pass reads every
running rollout from the database, fails updates that are overdue, asks the pure planner
(:func:`csms.domain.firmware_rollout.next_step`) what to do and does it: assign a wave and
send UpdateFirmware to its chargers (concurrently), or finish the rollout. All state is in
the database, so a restarted CSMS carries on where it stopped (an update assigned but not
sent is sent then). Status notifications (:meth:`FirmwareService.status_reported`) and new
rollouts wake the driver at once; otherwise it looks every ``files.rollout_tick_s``.

With several CSMS nodes, run rollouts from one node only (like orderly charging).
"""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import suppress
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from pathlib import Path
from urllib.parse import quote

import structlog

from csms.config import FilesSettings
from csms.domain import firmware_rollout as plan
from csms.domain.commands import CommandResult, CommandStatus
from csms.domain.commands_files import UpdateFirmware
from csms.domain.firmware_rollout import TargetState
from csms.errors import (
    CommandError,
    CommandNotSupported,
    CommandRejected,
    CommandTimeout,
    StationOffline,
)
from csms.services.commands.service import CommandService
from csms.services.files.vault import FIRMWARE, FileVault, Mismatch, TooLarge
from csms.store.files import FirmwareFile, FirmwareStore, FirmwareUpdate, Rollout

log = structlog.get_logger(__name__)


class FileRejected(ValueError):
    """A firmware file that is not stored: too large, or not the SHA-256 announced."""


class FileTooLarge(FileRejected):
    """Over ``files.firmware_max_bytes``."""


class UpdateFailed(Exception):
    """Update ``update_id`` was recorded but got no usable answer: ``error``."""

    def __init__(self, update_id: int, error: CommandError) -> None:
        super().__init__(str(error))
        self.update_id = update_id
        self.error = error


@dataclass(frozen=True, slots=True)
class UpdateOptions:
    retrieve_at: datetime | None = None  # None: now
    install_at: datetime | None = None
    retries: int | None = None
    retry_interval_s: int | None = None


class FirmwareService:
    """Firmware files, updates and rollouts (module docstring)."""

    def __init__(self, store: FirmwareStore, vault: FileVault, commands: CommandService,
                 clock: Callable[[], datetime], settings: FilesSettings) -> None:
        self.store = store
        self._vault = vault
        self._commands = commands
        self._clock = clock
        self._settings = settings
        self.base_url = settings.public_url or ""
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    async def add_file(self, chunks: AsyncIterator[bytes], name: str, *,
                       version: str | None = None, sha256: str | None = None,
                       uploaded_by: str | None = None) -> FirmwareFile:
        """Store a firmware file. Raises FileRejected (too large, SHA-256 mismatch)."""
        return await store_file(self.store, self._vault, self._settings, chunks, name,
                                version=version, sha256=sha256, at=self._clock(),
                                uploaded_by=uploaded_by)

    async def file_path(self, token: str) -> tuple[FirmwareFile, Path] | None:
        """The file with this download token and its (checked) path; None if unknown.
        Raises csms.services.files.vault.Corrupt, OSError."""
        found = await self.store.file_by_token(token)
        if found is None:
            return None
        return found, await self._vault.verified(FIRMWARE, found.stored_name, found.sha256)

    def location(self, file: FirmwareFile) -> str:
        """The URL chargers download ``file`` from."""
        return f"{self.base_url}/firmware/download/{file.download_token}/{quote(file.name)}"

    async def update(self, station_id: str, file_id: int, options: UpdateOptions, *,
                     timeout_s: float | None = None,
                     requested_by: str | None = None) -> tuple[FirmwareUpdate, CommandResult]:
        """Update one charger now (no rollout); the update's record and the answer.

        Raises:
            LookupError: no such file. UpdateFailed: with the update's id and the
                :class:`CommandError`; the update is recorded as failed.
        """
        file = await self.store.file(file_id)
        if file is None:
            raise LookupError(f"no firmware file {file_id}")
        location = self.location(file)
        update_id = await self.store.create_update(station_id, file_id, location,
                                                   self._clock(), requested_by)
        result = await self._send(update_id, station_id, file, options, timeout_s,
                                  requested_by)
        found = await self.store.update(update_id)
        assert found is not None
        if isinstance(result, CommandError):
            raise UpdateFailed(update_id, result)
        return found, result

    async def start_rollout(self, file_id: int, station_ids: Sequence[str], *,
                            wave_size: int | None = None, failure_threshold: int | None = None,
                            retrieve_at: datetime | None = None,
                            requested_by: str | None = None) -> int:
        """A new rollout, started by the driver at once. Raises LookupError, ValueError."""
        if await self.store.file(file_id) is None:
            raise LookupError(f"no firmware file {file_id}")
        ids = list(dict.fromkeys(station_ids))
        if not ids:
            raise ValueError("a rollout needs at least one charge point")
        rollout_id = await self.store.create_rollout(
            file_id, ids, wave_size or self._settings.rollout_wave_size,
            self._settings.rollout_failure_threshold if failure_threshold is None
            else failure_threshold, retrieve_at, self._clock(), requested_by)
        self._wake.set()
        return rollout_id

    async def stop_rollout(self, rollout_id: int, reason: str) -> None:
        """No further wave for this rollout, if it is running."""
        await self.store.finish_rollout(rollout_id, False, reason, self._clock())

    async def status_reported(self, station_id: str, request_id: int | None,
                              status: str) -> None:
        """A Firmware/SignedFirmwareStatusNotification: recorded on its update."""
        found = await self.store.status(station_id, request_id, status, self._clock())
        log.info("firmware.status", station_id=station_id, status=status,
                 update_id=None if found is None else found.id)
        if found is not None and found.rollout_id is not None:
            self._wake.set()

    def run(self) -> None:
        self._task = asyncio.create_task(self._drive(), name="firmware-rollouts")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with suppress(asyncio.CancelledError):
                await self._task

    async def _drive(self) -> None:
        while True:
            self._wake.clear()
            try:
                for rollout_id in await self.store.running_rollouts():
                    await self.advance(rollout_id)
            except Exception:  # a failed pass must not stop the driver
                log.exception("firmware.rollout_pass_failed")
            with suppress(TimeoutError):
                async with asyncio.timeout(self._settings.rollout_tick_s):
                    await self._wake.wait()

    async def advance(self, rollout_id: int) -> None:
        """One driver pass over one rollout (module docstring)."""
        rollout = await self.store.rollout(rollout_id)
        if rollout is None or rollout.state != "running":
            return
        timeout = timedelta(seconds=self._settings.firmware_timeout_s)
        # an update cannot be late before its retrieve date
        waited = [replace(u.target(), sent_at=max(u.sent_at, rollout.retrieve_at))
                  if u.sent_at is not None and rollout.retrieve_at is not None
                  else u.target() for u in rollout.updates]
        late = set(plan.overdue(waited, self._clock(), timeout))
        if late:
            await self.store.fail(
                [u.id for u in rollout.updates if u.station_id in late],
                f"no final status within {timeout.total_seconds():g} s", self._clock())
        file = await self.store.file(rollout.file_id)
        assert file is not None, "rollouts reference their file"
        while True:
            rollout = await self.store.rollout(rollout_id)
            if rollout is None or rollout.state != "running":
                return  # stopped meanwhile (POST /firmware/rollouts/{id}/stop)
            step = plan.next_step(plan.Plan(rollout.wave_size, rollout.failure_threshold),
                                  [u.target() for u in rollout.updates])
            if isinstance(step, plan.Wait):
                return
            if isinstance(step, plan.Done):
                await self.store.finish_rollout(rollout_id, step.completed, step.reason,
                                                self._clock())
                log.info("firmware.rollout_done", rollout_id=rollout_id,
                         completed=step.completed, reason=step.reason)
                return
            await self._send_wave(rollout, file, step)

    async def _send_wave(self, rollout: Rollout, file: FirmwareFile, step: plan.Send) -> None:
        await self.store.assign(rollout.id, step.wave, step.station_ids)
        wanted = set(step.station_ids)
        updates = [u for u in rollout.updates if u.station_id in wanted]
        log.info("firmware.wave", rollout_id=rollout.id, wave=step.wave,
                 station_ids=list(step.station_ids))
        options = UpdateOptions(retrieve_at=rollout.retrieve_at)
        await asyncio.gather(*(
            self._send(u.id, u.station_id, file, options, None, rollout.created_by)
            for u in updates))

    async def _send(self, update_id: int, station_id: str, file: FirmwareFile,
                    options: UpdateOptions, timeout_s: float | None,
                    requested_by: str | None) -> CommandResult | CommandError:
        """Send UpdateFirmware for the update and record the answer (or the failure)."""
        now = self._clock()
        location = self.location(file)
        command = UpdateFirmware(
            request_id=update_id, location=location, retrieve_at=options.retrieve_at or now,
            install_at=options.install_at, retries=options.retries,
            retry_interval_s=options.retry_interval_s,
            signing_certificate=file.signing_certificate, signature=file.signature)
        try:
            result = await self._commands.send(station_id, command, timeout_s=timeout_s,
                                               requested_by=requested_by)
        except CommandError as exc:
            await self.store.sent(update_id, location, failure_outcome(exc),
                                  TargetState.FAILED, now, str(exc)[:200])
            return exc
        status = result.status if isinstance(result, CommandStatus) else "answered"
        refused = status in plan.REFUSALS
        await self.store.sent(update_id, location, status,
                              TargetState.FAILED if refused else TargetState.RUNNING, now,
                              f"refused: {status}" if refused else None)
        return result


async def store_file(store: FirmwareStore, vault: FileVault, settings: FilesSettings,
                     chunks: AsyncIterator[bytes], name: str, *, version: str | None,
                     sha256: str | None, at: datetime,
                     uploaded_by: str | None) -> FirmwareFile:
    """Store a firmware file on disk and record it (also for the command line).

    Raises:
        FileRejected: over ``files.firmware_max_bytes``, or not the SHA-256 given.
    """
    try:
        stored, size, digest = await vault.put(FIRMWARE, chunks, settings.firmware_max_bytes,
                                               expect=sha256)
    except TooLarge as exc:
        raise FileTooLarge(f"firmware file {exc}") from None
    except Mismatch as exc:
        raise FileRejected(str(exc)) from None
    return await store.add_file({
        "name": name, "version": version, "sha256": digest, "size_bytes": size,
        "stored_name": stored, "download_token": secrets.token_urlsafe(24),
        "uploaded_at": at, "uploaded_by": uploaded_by})


def failure_outcome(exc: CommandError) -> str:
    """What is recorded for a command that got no usable answer."""
    kinds: list[tuple[type[CommandError], str]] = [
        (StationOffline, "offline"), (CommandTimeout, "timeout"),
        (CommandRejected, "callerror"), (CommandNotSupported, "not_supported"),
    ]
    return next((name for kind, name in kinds if isinstance(exc, kind)), "invalid")
