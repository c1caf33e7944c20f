"""Certificate commands as OCPP 1.6 (security extension) and 2.0.1 CALLs, and the answers.

Pure. See :mod:`csms.domain.commands_certs` for what 1.6 cannot express (raised as
:class:`Inexpressible`, which the callers turn into ``CommandNotSupported``). Strings
longer than the schemas allow (a certificate 5500, a chain 10000 characters) are refused
before anything is sent.
"""

from __future__ import annotations

from typing import Any, Final

from csms.domain.commands import CommandResult, CommandStatus
from csms.domain.commands_certs import (
    CertificateCommand,
    CertificateHash,
    CertificateSigned,
    CertificateUse,
    DeleteCertificate,
    GetInstalledCertificateIds,
    InstallCertificate,
    InstalledCertificate,
    InstalledCertificates,
    SignedType,
)

Payload = dict[str, Any]
_V16_USE: Final = {CertificateUse.CSMS_ROOT: "CentralSystemRootCertificate",
                   CertificateUse.MANUFACTURER_ROOT: "ManufacturerRootCertificate"}
_FROM_V16: Final = {wire: use for use, wire in _V16_USE.items()}


class Inexpressible(ValueError):
    """This version has no spelling for the command; the message says why."""


def call_v16(command: CertificateCommand) -> tuple[str, Payload]:
    match command:
        case InstallCertificate():
            return "InstallCertificate", {"certificateType": _use_v16(command.use),
                                          "certificate": _fit(command.certificate_pem, 5500)}
        case GetInstalledCertificateIds():
            if len(command.uses) != 1:
                raise Inexpressible("1.6 asks for exactly one certificate type")
            return "GetInstalledCertificateIds", {"certificateType": _use_v16(command.uses[0])}
        case DeleteCertificate():
            return "DeleteCertificate", {"certificateHashData": _hash(command.certificate)}
        case CertificateSigned():
            if command.certificate_type not in (None, SignedType.CHARGING_STATION):
                raise Inexpressible("1.6 signs charge point certificates only")
            return "CertificateSigned", {"certificateChain": _fit(command.chain_pem, 10000)}


def call_v201(command: CertificateCommand) -> tuple[str, Payload]:
    match command:
        case InstallCertificate():
            if command.use is CertificateUse.V2G_CHAIN:
                raise Inexpressible("a V2G certificate chain is not installed as a root")
            return "InstallCertificate", {"certificateType": command.use.value,
                                          "certificate": _fit(command.certificate_pem, 5500)}
        case GetInstalledCertificateIds():
            types = [use.value for use in command.uses]
            return "GetInstalledCertificateIds", {"certificateType": types} if types else {}
        case DeleteCertificate():
            return "DeleteCertificate", {"certificateHashData": _hash(command.certificate)}
        case CertificateSigned():
            kind = command.certificate_type or SignedType.CHARGING_STATION
            return "CertificateSigned", {"certificateChain": _fit(command.chain_pem, 10000),
                                         "certificateType": kind.value}


def answer_v16(command: CertificateCommand, payload: Payload) -> CommandResult:
    if isinstance(command, GetInstalledCertificateIds):
        use = command.uses[0]
        return InstalledCertificates(payload["status"], tuple(
            InstalledCertificate(use, _parse_hash(item))
            for item in payload.get("certificateHashData") or ()))
    return CommandStatus(payload["status"])


def answer_v201(command: CertificateCommand, payload: Payload) -> CommandResult:
    if isinstance(command, GetInstalledCertificateIds):
        return InstalledCertificates(payload["status"], tuple(
            InstalledCertificate(CertificateUse(item["certificateType"]),
                                 _parse_hash(item["certificateHashData"]))
            for item in payload.get("certificateHashDataChain") or ()))
    info = payload.get("statusInfo")
    return CommandStatus(payload["status"], None if info is None else info.get("reasonCode"))


def use_from_v16(wire: str) -> CertificateUse:
    return _FROM_V16[wire]


def _use_v16(use: CertificateUse) -> str:
    try:
        return _V16_USE[use]
    except KeyError:
        raise Inexpressible(f"{use.value} is OCPP 2.0.1 only") from None


def _hash(data: CertificateHash) -> Payload:
    return {"hashAlgorithm": data.hash_algorithm, "issuerNameHash": data.issuer_name_hash,
            "issuerKeyHash": data.issuer_key_hash, "serialNumber": data.serial_number}


def _parse_hash(raw: Payload) -> CertificateHash:
    return CertificateHash(raw["hashAlgorithm"], raw["issuerNameHash"], raw["issuerKeyHash"],
                           raw["serialNumber"])


def _fit(text: str, max_length: int) -> str:
    if len(text) > max_length:
        raise Inexpressible(f"{len(text)} characters; the schema allows {max_length}")
    return text
