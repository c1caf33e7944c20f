"""Certificate commands (the CSMS's CA and the charger's trust store), version-neutral.

Rules:
1. ``CertificateUse`` names the 2.0.1 values; 1.6 (security extension) knows only the CSMS
   root (``CentralSystemRootCertificate``) and the manufacturer root: the other uses cannot
   be expressed there.
2. ``GetInstalledCertificateIds`` with no ``uses`` asks for all (2.0.1); 1.6 asks for exactly
   one type per request.
3. ``CertificateSigned`` carries the PEM chain, leaf first; ``certificate_type`` None is the
   charging station certificate (1.6 has no other).
4. Hash data is as OCPP spells it: hex hashes of the issuer's name and key, the serial in
   upper-case hex (csms.security.ca rule 3).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class CertificateUse(StrEnum):
    CSMS_ROOT = "CSMSRootCertificate"  # 1.6 CentralSystemRootCertificate
    MANUFACTURER_ROOT = "ManufacturerRootCertificate"
    V2G_ROOT = "V2GRootCertificate"  # 2.0.1 only
    MO_ROOT = "MORootCertificate"  # 2.0.1 only
    V2G_CHAIN = "V2GCertificateChain"  # 2.0.1 GetInstalledCertificateIds only


class SignedType(StrEnum):
    CHARGING_STATION = "ChargingStationCertificate"
    V2G = "V2GCertificate"  # 2.0.1 only


@dataclass(frozen=True, slots=True)
class CertificateHash:
    hash_algorithm: str  # SHA256 | SHA384 | SHA512
    issuer_name_hash: str
    issuer_key_hash: str
    serial_number: str


@dataclass(frozen=True, slots=True)
class InstallCertificate:
    use: CertificateUse
    certificate_pem: str


@dataclass(frozen=True, slots=True)
class GetInstalledCertificateIds:
    uses: tuple[CertificateUse, ...] = ()


@dataclass(frozen=True, slots=True)
class DeleteCertificate:
    certificate: CertificateHash


@dataclass(frozen=True, slots=True)
class CertificateSigned:
    chain_pem: str
    certificate_type: SignedType | None = None


@dataclass(frozen=True, slots=True)
class InstalledCertificate:
    use: CertificateUse
    certificate: CertificateHash


@dataclass(frozen=True, slots=True)
class InstalledCertificates:
    """The answer to GetInstalledCertificateIds: Accepted (with the list) or NotFound."""

    status: str
    certificates: tuple[InstalledCertificate, ...] = ()


CertificateCommand = (InstallCertificate | GetInstalledCertificateIds | DeleteCertificate
                      | CertificateSigned)
