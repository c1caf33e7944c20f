"""Diagnostics and logs from chargers: ask (1.6 GetDiagnostics / GetLog, 2.0.1 GetLog),
take the upload, track the status notifications, hand the file to operators.

:meth:`LogService.request` records the request first (its id is the ``requestId``) with
the SHA-256 of a fresh random token, and sends the upload URL ``<base>/uploads/<token>``:
whoever holds the URL may upload once the request exists and until it expires
(``files.upload_url_valid_s``), nobody else. Uploads are limited to
``files.upload_max_bytes`` (more: refused, nothing kept).
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import AsyncIterator, Callable
from datetime import datetime, timedelta
from pathlib import Path

import structlog

from csms.config import FilesSettings
from csms.domain.commands import CommandResult, CommandStatus
from csms.domain.commands_files import GetLog, LogAnswer, LogKind
from csms.errors import CommandError
from csms.services.commands.service import CommandService
from csms.services.files.firmware import failure_outcome
from csms.services.files.vault import LOGS, FileVault
from csms.store.files import LogRequest, LogStore

log = structlog.get_logger(__name__)


class LogRequestFailed(Exception):
    """Log request ``request_id`` was recorded but got no usable answer: ``error``."""

    def __init__(self, request_id: int, error: CommandError) -> None:
        super().__init__(str(error))
        self.request_id = request_id
        self.error = error


class UnknownUpload(LookupError):
    """No live log request has this upload token."""


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class LogService:
    """Log requests and their uploads (module docstring)."""

    def __init__(self, store: LogStore, vault: FileVault, commands: CommandService,
                 clock: Callable[[], datetime], settings: FilesSettings) -> None:
        self.store = store
        self._vault = vault
        self._commands = commands
        self._clock = clock
        self._settings = settings
        self.base_url = settings.public_url or ""

    async def request(self, station_id: str, kind: LogKind, *,
                      oldest: datetime | None = None, latest: datetime | None = None,
                      security_extension: bool = False, retries: int | None = None,
                      retry_interval_s: int | None = None, timeout_s: float | None = None,
                      requested_by: str | None = None) -> tuple[LogRequest, CommandResult]:
        """Ask the charger to upload a log; the request and the charger's answer.

        Raises:
            LogRequestFailed: with the request's id and the :class:`CommandError`.
        """
        now = self._clock()
        token = secrets.token_urlsafe(32)
        request_id = await self.store.create(
            station_id, kind.value, token_hash(token), now,
            now + timedelta(seconds=self._settings.upload_url_valid_s), requested_by)
        command = GetLog(request_id, f"{self.base_url}/uploads/{token}", kind, oldest, latest,
                         retries, retry_interval_s, security_extension)
        try:
            result = await self._commands.send(station_id, command, timeout_s=timeout_s,
                                               requested_by=requested_by)
        except CommandError as exc:
            await self.store.answered(request_id, failure_outcome(exc), None)
            raise LogRequestFailed(request_id, exc) from exc
        if isinstance(result, LogAnswer):
            await self.store.answered(request_id, result.status, result.filename)
        elif isinstance(result, CommandStatus):
            await self.store.answered(request_id, result.status, None)
        found = await self.store.get(request_id)
        assert found is not None
        return found, result

    async def status_reported(self, station_id: str, request_id: int | None,
                              status: str) -> None:
        """A LogStatusNotification / DiagnosticsStatusNotification, on its request."""
        found = await self.store.status(station_id, request_id, status, self._clock())
        log.info("logs.status", station_id=station_id, status=status, request_id=found)

    async def receive(self, token: str, chunks: AsyncIterator[bytes],
                      upload_name: str | None, content_type: str | None) -> LogRequest:
        """Store an upload for the request of ``token``.

        Raises:
            UnknownUpload: no live request has this token.
            csms.services.files.vault.TooLarge: over ``files.upload_max_bytes``.
        """
        found = await self.store.by_token_hash(token_hash(token), self._clock())
        if found is None:
            raise UnknownUpload("no such upload URL, or it expired")
        stored, size, sha = await self._vault.put(
            LOGS, chunks, self._settings.upload_max_bytes, prefix=f"{found.id}-")
        await self.store.uploaded(found.id, {
            "stored_name": stored, "upload_name": (upload_name or found.filename or "")[:255]
            or None, "content_type": (content_type or "")[:100] or None, "size_bytes": size,
            "sha256": sha, "uploaded_at": self._clock()})
        log.info("logs.uploaded", station_id=found.station_id, request_id=found.id,
                 size_bytes=size)
        updated = await self.store.get(found.id)
        assert updated is not None
        return updated

    async def file_path(self, record: LogRequest) -> Path | None:
        """The uploaded file's (checked) path; None if nothing was uploaded.
        Raises csms.services.files.vault.Corrupt, OSError."""
        if record.stored_name is None or record.sha256 is None:
            return None
        return await self._vault.verified(LOGS, record.stored_name, record.sha256)



