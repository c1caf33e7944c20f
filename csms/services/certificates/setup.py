"""Composing the certificate services (called by csms.app; keeps the composition root short)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from csms.clock import Clock
from csms.security import ca_files
from csms.services.certificates.disconnect import disconnect
from csms.services.certificates.service import CertificateService
from csms.services.certificates.trust import CertificateTrust
from csms.store.certificates import CertificateStore
from csms.store.writer import Writer

if TYPE_CHECKING:
    from csms.app import Csms


def compose_certificates(csms: Csms, writer: Writer,
                         clock: Clock) -> tuple[CertificateService | None, CertificateTrust]:
    """The trust-store service always; the CA, hooked into the charger messages and the
    OCPP handshake, and its expiry watch running (``run_watch``), when certificates.enabled.

    Raises:
        ConfigError: the CA's files are missing, exposed or wrong (csms.security.ca_files).
    """
    settings = csms.settings.certificates
    store = CertificateStore(csms.engine, writer)
    authority = ca_files.load(settings) if settings.enabled else None
    trust = CertificateTrust(authority, store, csms.commands, clock, settings)
    if authority is None:
        return None, trust

    async def close(station_id: str, reason: str, actor: str) -> bool:
        return await disconnect(csms.commands, csms.stations, csms.store, station_id,
                                reason, actor)

    service = CertificateService(authority, store, csms.commands, csms.stations, clock,
                                 settings, close, trust)
    csms.stations.certificates = service
    csms.ocpp.revoked = service.is_revoked
    if settings.run_watch:
        service.run()
    return service, trust
