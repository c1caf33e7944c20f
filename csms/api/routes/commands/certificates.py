"""Certificates (families ``network`` to read, ``commands`` to act; admin and operator).

Our CA (``certificates.enabled``; 404 otherwise): the certificates it issued to a charger,
asking a charger for a CSR now (issue or renew: 1.6 ExtendedTriggerMessage, 2.0.1
TriggerMessage), revoking (the CRL, and the charger's open connection closed), the CRL
itself. The chargers' trust stores: install a CA certificate (ours by default), ask what is
installed (stored; GET shows the last report), delete one. Commands answer as the other
command endpoints do (csms.api.routes.commands.live): 409 offline, 422 inexpressible, 502, 503, 504.
Every action is recorded in the audit log first.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, HTTPException
from fastapi import status as http_status
from fastapi.responses import JSONResponse, PlainTextResponse
from pydantic import BaseModel, ConfigDict, Field

from csms.api.deps import CsmsDep
from csms.api.models import ONE
from csms.api.routes.commands.common import ERRORS, Commander
from csms.api.routes.commands.common import command_failure as failure
from csms.api.routes.commands.live import Reader
from csms.api.routes.safety.status import visible_charge_point
from csms.api.routes.sessions.records import StationPath
from csms.app import Csms
from csms.domain.commands_certs import CertificateHash, CertificateUse
from csms.errors import CommandError
from csms.services.certificates.service import CertificateService
from csms.services.certificates.trust import CertificateTrust
from csms.store.access import audit
from csms.store.writer import WriteTx

router = APIRouter(tags=["certificates"])
BASE = "/charge-points/{station_id}/certificates"
INSTALLED = "/charge-points/{station_id}/installed-certificates"
_IN = ConfigDict(extra="forbid", allow_inf_nan=False)
Hex = Annotated[str, Field(min_length=1, max_length=128, pattern=r"^[0-9A-Fa-f]+$")]


class IssuedOut(BaseModel):
    serial: str
    station_id: str
    certificate_type: str
    common_name: str | None
    not_before: datetime
    not_after: datetime
    status: str
    sha256: str
    issued_at: datetime
    installed_at: datetime | None
    renewal_requested_at: datetime | None
    revoked_at: datetime | None
    revoked_reason: str | None
    pem: str


class StatusOut(BaseModel):
    status: str
    reason: str | None = None


class RevokeIn(BaseModel):
    model_config = _IN
    reason: str = Field(min_length=1, max_length=200)
    serial: Hex | None = Field(default=None, description="one certificate; none: all valid")


class RevokedOut(BaseModel):
    revoked: list[str]


class InstallIn(BaseModel):
    model_config = _IN
    use: CertificateUse = CertificateUse.CSMS_ROOT
    certificate_pem: str | None = Field(default=None, max_length=5500,
                                        description="PEM; none: our CA's certificate")


class HashIn(BaseModel):
    model_config = _IN
    hash_algorithm: str = Field(default="SHA256", pattern="^SHA(256|384|512)$")
    issuer_name_hash: Hex
    issuer_key_hash: Hex
    serial_number: Annotated[str, Field(min_length=1, max_length=40,
                                        pattern=r"^[0-9A-Fa-f]+$")]


class QueryIn(BaseModel):
    model_config = _IN
    uses: list[CertificateUse] = Field(default_factory=list, max_length=5)


class InstalledOut(BaseModel):
    use: str
    hash_algorithm: str
    issuer_name_hash: str
    issuer_key_hash: str
    serial_number: str
    reported_at: datetime | None = None


class InstalledListOut(BaseModel):
    status: str
    certificates: list[InstalledOut]


def _ca(csms: Csms) -> CertificateService:
    if csms.certificates is None:
        raise HTTPException(http_status.HTTP_404_NOT_FOUND,
                            "no certificate authority (certificates.enabled is false)")
    return csms.certificates


def _trust(csms: Csms) -> CertificateTrust:
    assert csms.certificate_trust is not None, "composed in csms.app.running"
    return csms.certificate_trust


async def audit_command(csms: Csms, actor: str, station_id: str, action: str,
                 details: dict[str, object]) -> None:
    async def unit(tx: WriteTx) -> None:
        audit(tx, actor, action, "charge_point", station_id, details)

    await csms.store.writer.submit(unit)


@router.get(BASE, response_model=list[IssuedOut], responses=ONE)
async def list_issued(station_id: StationPath, csms: CsmsDep,
                      principal: Reader) -> list[IssuedOut]:
    """Every certificate our CA issued to the charge point, oldest first."""
    await visible_charge_point(csms, principal, station_id)
    records = await _ca(csms).store.list_issued(station_id)
    return [IssuedOut.model_validate(r, from_attributes=True) for r in records]


@router.post(f"{BASE}/request", response_model=StatusOut, responses=ERRORS)
async def request_certificate(station_id: StationPath, csms: CsmsDep,
                              principal: Commander) -> StatusOut | JSONResponse:
    """Ask the charger for a CSR now (issue, or renew before the expiry watch would); the
    trigger's answer. The charger then sends SignCertificate and gets CertificateSigned."""
    service = _ca(csms)
    await visible_charge_point(csms, principal, station_id)
    await audit_command(csms, principal.actor, station_id, "certificate_request", {})
    try:
        return StatusOut(status=await service.request_certificate(station_id, principal.actor))
    except CommandError as exc:
        return failure(exc)


@router.post(f"{BASE}/revoke", response_model=RevokedOut, responses=ONE)
async def revoke(station_id: StationPath, body: RevokeIn, csms: CsmsDep,
                 principal: Commander) -> RevokedOut:
    """Revoke one certificate of the charge point (or all its valid ones): on the CRL at
    once, refused at the next handshake, and its open connection is closed."""
    service = _ca(csms)
    await visible_charge_point(csms, principal, station_id)
    await audit_command(csms, principal.actor, station_id, "certificate_revoke",
                 body.model_dump(mode="json"))
    serial = None if body.serial is None else body.serial.upper().lstrip("0")
    return RevokedOut(revoked=await service.revoke(station_id, serial, body.reason,
                                                   principal.actor))


@router.get("/certificates/crl", response_class=PlainTextResponse, responses=ONE)
async def crl(csms: CsmsDep, principal: Reader) -> PlainTextResponse:
    """Our CA's certificate revocation list, PEM, freshly signed."""
    return PlainTextResponse(await _ca(csms).crl_pem(), media_type="application/x-pem-file")


@router.get("/certificates/ca", response_class=PlainTextResponse, responses=ONE)
async def ca_certificate(csms: CsmsDep, principal: Reader) -> PlainTextResponse:
    """Our CA's certificate, PEM (what chargers install as the CSMS root)."""
    return PlainTextResponse(_ca(csms).authority.certificate_pem,
                             media_type="application/x-pem-file")


@router.post(INSTALLED, response_model=StatusOut, responses=ERRORS)
async def install(station_id: StationPath, body: InstallIn, csms: CsmsDep,
                  principal: Commander) -> StatusOut | JSONResponse:
    """InstallCertificate: a root certificate into the charger's trust store (ours unless
    one is given); the list of installed ones is asked for again when Accepted."""
    pem = body.certificate_pem or _ca(csms).authority.certificate_pem
    await visible_charge_point(csms, principal, station_id)
    await audit_command(csms, principal.actor, station_id, "certificate_install",
                 {"use": body.use.value})
    try:
        result = await _trust(csms).install(station_id, body.use, pem, principal.actor)
    except CommandError as exc:
        return failure(exc)
    return StatusOut(status=result.status, reason=result.reason)


@router.post(f"{INSTALLED}/query", response_model=InstalledListOut, responses=ERRORS)
async def query_installed(station_id: StationPath, body: QueryIn, csms: CsmsDep,
                          principal: Commander) -> InstalledListOut | JSONResponse:
    """GetInstalledCertificateIds: what the charger has installed (all uses when none are
    named; 1.6 takes exactly one), stored as its latest report."""
    await visible_charge_point(csms, principal, station_id)
    await audit_command(csms, principal.actor, station_id, "certificate_query",
                 body.model_dump(mode="json"))
    try:
        result = await _trust(csms).installed_ids(station_id, tuple(body.uses),
                                                  principal.actor)
    except CommandError as exc:
        return failure(exc)
    return InstalledListOut(status=result.status, certificates=[InstalledOut(
        use=c.use.value, hash_algorithm=c.certificate.hash_algorithm,
        issuer_name_hash=c.certificate.issuer_name_hash,
        issuer_key_hash=c.certificate.issuer_key_hash,
        serial_number=c.certificate.serial_number) for c in result.certificates])


@router.get(INSTALLED, response_model=list[InstalledOut], responses=ONE)
async def stored_installed(station_id: StationPath, csms: CsmsDep,
                           principal: Reader) -> list[InstalledOut]:
    """What the charger last reported as installed."""
    await visible_charge_point(csms, principal, station_id)
    trust = _trust(csms)
    return [InstalledOut(use=r.certificate_type, hash_algorithm=r.hash_algorithm,
                         issuer_name_hash=r.issuer_name_hash,
                         issuer_key_hash=r.issuer_key_hash, serial_number=r.serial_number,
                         reported_at=r.reported_at)
            for r in await trust.stored(station_id)]


@router.post(f"{INSTALLED}/delete", response_model=StatusOut, responses=ERRORS)
async def delete_installed(station_id: StationPath, body: HashIn, csms: CsmsDep,
                           principal: Commander) -> StatusOut | JSONResponse:
    """DeleteCertificate: the certificate with these hash data leaves the trust store."""
    await visible_charge_point(csms, principal, station_id)
    await audit_command(csms, principal.actor, station_id, "certificate_delete",
                 body.model_dump(mode="json"))
    target = CertificateHash(body.hash_algorithm, body.issuer_name_hash,
                             body.issuer_key_hash, body.serial_number)
    try:
        result = await _trust(csms).delete(station_id, target, principal.actor)
    except CommandError as exc:
        return failure(exc)
    return StatusOut(status=result.status, reason=result.reason)
