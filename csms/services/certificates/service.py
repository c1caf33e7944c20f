"""The CSMS's certificate authority at work: signing chargers' CSRs, renewal, revocation.

Rules:
1. SignCertificate (both versions) is answered Accepted once the CSR passed the CA's checks
   (csms.security.ca rule 1) and the certificate is stored (status issued); Rejected
   otherwise, with the reason logged and recorded as a security event. The chain is sent
   in CertificateSigned after the answer (a task of this service, never inside the
   handler); the charger's answer marks it installed or rejected.
2. Only charging station certificates are signed; a 2.0.1 V2GCertificate request is
   Rejected (no V2G sub-CA here).
3. The expiry watch (:meth:`CertificateService.tick`, every ``watch_interval_s``) looks at
   the injected clock: an installed certificate expiring within ``renew_before_days`` that
   is its charger's newest gets a trigger (1.6 ExtendedTriggerMessage
   SignChargePointCertificate, 2.0.1 TriggerMessage SignChargingStationCertificate), once;
   a charger that is offline is asked at a later tick.
4. Revoking puts the certificate on the CRL (``crl_file`` rewritten when configured), and
   closes the charger's open connection on this node, recorded as a disconnect with the
   reason. The OCPP server refuses a revoked certificate at the handshake
   (:meth:`is_revoked`).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta

import structlog

from csms.config import CertificateSettings
from csms.domain.commands import CommandStatus
from csms.domain.commands_certs import CertificateSigned, SignedType
from csms.domain.commands_tx import ExtendedTrigger, ExtendedTriggerable
from csms.domain.model import StationEventReported
from csms.errors import CommandError
from csms.security import ca
from csms.services.certificates.trust import Answer, CertificateTrust
from csms.services.commands.service import CommandService
from csms.services.stations import StationService
from csms.store.certificates import CertificateStore, IssuedRecord, NewCertificate

log = structlog.get_logger(__name__)
Clock = Callable[[], datetime]
Disconnect = Callable[[str, str, str], Awaitable[bool]]  # station id, reason, actor


class CertificateService:
    """Signing, renewal and revocation (module rules)."""

    def __init__(self, authority: ca.Authority, store: CertificateStore,
                 commands: CommandService, stations: StationService, clock: Clock,
                 settings: CertificateSettings, disconnect: Disconnect,
                 trust: CertificateTrust) -> None:
        self.authority = authority
        self.trust = trust
        self.store = store
        self._commands = commands
        self._stations = stations
        self._clock = clock
        self._settings = settings
        self._disconnect = disconnect
        self.policy = ca.Policy(settings.organization, settings.validity_days,
                                settings.rsa_min_bits, settings.ec_curves)
        self._sending: set[asyncio.Task[None]] = set()
        self._watch: asyncio.Task[None] | None = None

    # -- signing (rules 1-2) -------------------------------------------------------------

    async def sign_requested(self, station_id: str, csr_pem: str,
                             certificate_type: str | None) -> bool:
        """Whether the request is Accepted; the chain follows in CertificateSigned."""
        kind = SignedType(certificate_type or SignedType.CHARGING_STATION)
        if kind is not SignedType.CHARGING_STATION:
            await self._refused(station_id, "V2G certificates are not signed by this CSMS")
            return False
        now = self._clock()
        try:
            certificate = await asyncio.to_thread(
                ca.sign_csr, self.authority, csr_pem, station_id, self.policy, now)
        except ca.CsrRefused as exc:
            await self._refused(station_id, str(exc))
            return False
        facts = ca.info(certificate)
        await self.store.issued(NewCertificate(
            station_id, facts.serial, kind.value, facts.common_name, facts.not_before,
            facts.not_after, ca.to_pem(certificate), facts.sha256), now)
        log.info("certificates.issued", station_id=station_id, serial=facts.serial,
                 not_after=facts.not_after.isoformat())
        chain = ca.chain_pem(self.authority, certificate)
        task = asyncio.create_task(self._send_signed(station_id, facts.serial, chain),
                                   name=f"certificate-signed:{station_id}")
        self._sending.add(task)
        task.add_done_callback(self._sending.discard)
        return True

    async def _send_signed(self, station_id: str, serial: str, chain: str) -> None:
        try:
            await self._deliver(station_id, serial, chain)
        except Exception:  # a task's outermost frame: logged (the certificate stays issued)
            log.exception("certificates.deliver_failed", station_id=station_id, serial=serial)

    async def _deliver(self, station_id: str, serial: str, chain: str) -> None:
        try:
            result = await self._commands.send(station_id, CertificateSigned(chain),
                                               requested_by="certificates")
        except CommandError as exc:  # the charger asks again (it retries SignCertificate)
            log.warning("certificates.send_failed", station_id=station_id, serial=serial,
                        error=str(exc))
            return
        accepted = isinstance(result, CommandStatus) and result.status == "Accepted"
        await self.store.answered(serial, accepted, self._clock())
        log.info("certificates.answered", station_id=station_id, serial=serial,
                 accepted=accepted)

    async def _refused(self, station_id: str, reason: str) -> None:
        log.warning("certificates.csr_refused", station_id=station_id, reason=reason)
        await self._stations.reported([StationEventReported(
            station_id, "certificate_refused", self._clock(), code="CsrRefused",
            details={"reason": reason})])

    async def request_certificate(self, station_id: str,
                                  requested_by: str | None = None) -> str:
        """Ask the charger for a CSR now (issue or renew); its answer's status."""
        result = await self._commands.send(
            station_id, ExtendedTrigger(ExtendedTriggerable.SIGN_CERTIFICATE),
            requested_by=requested_by)
        return result.status if isinstance(result, CommandStatus) else "Accepted"

    async def certificate_status(self, request: ca.HashData) -> Answer:
        return await self.trust.certificate_status(request)

    async def ev_certificate(self, exi_request: str) -> Answer:
        return await self.trust.ev_certificate(exi_request)

    # -- expiry watch (rule 3) -------------------------------------------------------------

    async def tick(self) -> list[str]:
        """One look at expiring certificates; the chargers asked for a new CSR."""
        now = self._clock()
        due = await self.store.due_for_renewal(
            now + timedelta(days=self._settings.renew_before_days))
        asked: list[IssuedRecord] = []
        for record in due:
            try:
                status = await self.request_certificate(record.station_id, "expiry-watch")
            except CommandError as exc:
                log.info("certificates.renewal_deferred", station_id=record.station_id,
                         serial=record.serial, error=str(exc))
                continue
            log.info("certificates.renewal_requested", station_id=record.station_id,
                     serial=record.serial, not_after=record.not_after.isoformat(),
                     status=status)
            asked.append(record)
        if asked:
            await self.store.renewal_requested([r.id for r in asked], now)
        return [r.station_id for r in asked]

    def run(self) -> None:
        self._watch = asyncio.create_task(self._watch_loop(), name="certificate-watch")

    async def _watch_loop(self) -> None:
        while True:
            try:
                await self.tick()
            except Exception:  # the watch's outermost loop: logged, it carries on
                log.exception("certificates.watch_failed")
            await asyncio.sleep(self._settings.watch_interval_s)

    async def stop(self) -> None:
        tasks = [*self._sending, *([self._watch] if self._watch else [])]
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task

    # -- revocation (rule 4) ---------------------------------------------------------------

    async def revoke(self, station_id: str, serial: str | None, reason: str,
                     actor: str) -> list[str]:
        """Revoke one (or every valid) certificate of the charger; the serials revoked."""
        serials = await self.store.revoke(station_id, serial, reason, self._clock())
        if not serials:
            return serials
        log.warning("certificates.revoked", station_id=station_id, serials=serials,
                    reason=reason, by=actor)
        await self.write_crl()
        await self._disconnect(station_id, f"certificate revoked: {reason}", actor)
        return serials

    async def crl_pem(self) -> str:
        now = self._clock()
        crl = ca.revocation_list(self.authority, await self.store.revoked(), now,
                                 timedelta(days=self._settings.crl_next_update_days))
        return ca.crl_pem(crl)

    async def write_crl(self) -> None:
        if self._settings.crl_file is None:
            return
        pem = await self.crl_pem()
        path = self._settings.crl_file
        temporary = path.with_name(path.name + ".tmp")
        await asyncio.to_thread(temporary.write_text, pem)
        await asyncio.to_thread(temporary.replace, path)

    async def is_revoked(self, serial: str) -> bool:
        """Whether our CA revoked the certificate with this serial (hex, any case)."""
        record = await self.store.by_serial(serial)
        return record is not None and record.revoked_at is not None
