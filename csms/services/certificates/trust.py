"""The chargers' trust stores (install, list, delete) and the 2.0.1 ISO 15118 hooks.

Rules:
1. GetInstalledCertificateIds' answer is stored (csms.store.certificates tables rule 3)
   and returned; InstallCertificate and DeleteCertificate answered Accepted refresh or
   update what is stored.
2. GetCertificateStatus is answered by the local OCSP responder for certificates our CA
   issued (csms.security.ocsp): Accepted with a signed OCSP response (good, revoked or
   unknown); any other issuer is Failed (no upstream responder is reached).
3. Get15118EVCertificate is answered from ``ev_certificate_responses`` (a prepared Base64
   exiResponse per request, named by the SHA-256 of the exiRequest); without one it is
   Failed with reasonCode ``NoResponder`` or ``NoResponse``: never a CALLERROR.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

import structlog

from csms.config import CertificateSettings
from csms.domain.commands import CommandStatus
from csms.domain.commands_certs import (
    CertificateHash,
    CertificateUse,
    DeleteCertificate,
    GetInstalledCertificateIds,
    InstallCertificate,
    InstalledCertificates,
)
from csms.security import ca, ocsp
from csms.services.commands.service import CommandService
from csms.store.certificates import CertificateStore, InstalledRecord

log = structlog.get_logger(__name__)
Clock = Callable[[], datetime]
OCSP_VALID = timedelta(days=1)


@dataclass(frozen=True, slots=True)
class Answer:
    """A status with an optional payload and reason (the 2.0.1 answers of rules 2-3)."""

    status: str
    value: str | None = None
    reason: str | None = None


class CertificateTrust:
    """Rules 1-3."""

    def __init__(self, authority: ca.Authority | None, store: CertificateStore,
                 commands: CommandService, clock: Clock, settings: CertificateSettings) -> None:
        self._authority = authority
        self._store = store
        self._commands = commands
        self._clock = clock
        self._responses = settings.ev_certificate_responses

    async def installed_ids(self, station_id: str, uses: tuple[CertificateUse, ...] = (),
                            requested_by: str | None = None) -> InstalledCertificates:
        """Ask the charger what it has installed (rule 1)."""
        result = await self._commands.send(station_id, GetInstalledCertificateIds(uses),
                                           requested_by=requested_by)
        assert isinstance(result, InstalledCertificates)
        now = self._clock()
        await self._store.replace_installed(station_id, [u.value for u in uses], [
            InstalledRecord(station_id, c.use.value, c.certificate.hash_algorithm,
                            c.certificate.issuer_name_hash, c.certificate.issuer_key_hash,
                            c.certificate.serial_number, now) for c in result.certificates
        ], now)
        return result

    async def stored(self, station_id: str) -> list[InstalledRecord]:
        """What the charger last reported (rule 1)."""
        return await self._store.list_installed(station_id)

    async def install(self, station_id: str, use: CertificateUse, pem: str,
                      requested_by: str | None = None) -> CommandStatus:
        result = await self._commands.send(station_id, InstallCertificate(use, pem),
                                           requested_by=requested_by)
        assert isinstance(result, CommandStatus)
        if result.status == "Accepted":
            await self._refresh(station_id, use, requested_by)
        return result

    async def delete(self, station_id: str, certificate: CertificateHash,
                     requested_by: str | None = None) -> CommandStatus:
        result = await self._commands.send(station_id, DeleteCertificate(certificate),
                                           requested_by=requested_by)
        assert isinstance(result, CommandStatus)
        if result.status == "Accepted":
            await self._store.forget_installed(station_id, certificate.serial_number,
                                               certificate.issuer_key_hash)
        return result

    async def _refresh(self, station_id: str, use: CertificateUse,
                       requested_by: str | None) -> None:
        try:
            await self.installed_ids(station_id, (use,), requested_by)
        except Exception:  # noqa: BLE001 - the install itself succeeded; the list is a cache
            log.warning("certificates.refresh_failed", station_id=station_id, use=use.value)

    # -- ISO 15118 (rules 2-3) -------------------------------------------------------------

    async def certificate_status(self, request: ca.HashData) -> Answer:
        """Rule 2: (Accepted, Base64 DER OCSP response) or Failed."""
        authority = self._authority
        if authority is None or not ocsp.is_ours(authority, request):
            return Answer("Failed", reason="UnknownIssuer")
        record = await self._store.by_serial(request.serial_number)
        certificate = None if record is None else ca.load_certificate(record.pem)
        revoked_at = None if record is None else record.revoked_at
        der = await asyncio.to_thread(ocsp.response, authority, request, certificate,
                                      revoked_at, self._clock(), OCSP_VALID)
        return Answer("Accepted", base64.b64encode(der).decode())

    async def ev_certificate(self, exi_request: str) -> Answer:
        """Rule 3: (Accepted, exiResponse) or (Failed, "", reason)."""
        if self._responses is None:
            return Answer("Failed", "", "NoResponder")
        name = hashlib.sha256(exi_request.encode()).hexdigest() + ".b64"
        path: Path = self._responses / name
        try:
            text = (await asyncio.to_thread(path.read_text)).strip()
        except OSError:
            return Answer("Failed", "", "NoResponse")
        return Answer("Accepted", text)
