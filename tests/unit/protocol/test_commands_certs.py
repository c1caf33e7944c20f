"""Certificate commands in 1.6 (security extension) and 2.0.1 spelling, and their answers."""

from __future__ import annotations

import pytest

from csms.domain.commands import CommandStatus
from csms.domain.commands_certs import (
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
from csms.errors import CommandNotSupported
from csms.handlers.commands import v16 as commands_v16
from csms.handlers.commands import v201 as commands_v201

HASH = CertificateHash("SHA256", "ab" * 32, "cd" * 32, "1F")
WIRE_HASH = {"hashAlgorithm": "SHA256", "issuerNameHash": "ab" * 32,
             "issuerKeyHash": "cd" * 32, "serialNumber": "1F"}
PEM = "-----BEGIN CERTIFICATE-----\nMII\n-----END CERTIFICATE-----\n"


class TestV16:
    def test_calls(self) -> None:
        """The CSMS root is CentralSystemRootCertificate; one type per query; no type on
        CertificateSigned."""
        assert ("InstallCertificate", {"certificateType": "CentralSystemRootCertificate",
                                       "certificate": PEM}) == commands_v16.to_call(
            "CP", InstallCertificate(CertificateUse.CSMS_ROOT, PEM))
        assert ("GetInstalledCertificateIds", {
            "certificateType": "ManufacturerRootCertificate"}) == commands_v16.to_call(
            "CP", GetInstalledCertificateIds((CertificateUse.MANUFACTURER_ROOT,)))
        assert ("DeleteCertificate", {"certificateHashData": WIRE_HASH}) == (
            commands_v16.to_call("CP", DeleteCertificate(HASH)))
        assert ("CertificateSigned", {"certificateChain": PEM}) == commands_v16.to_call(
            "CP", CertificateSigned(PEM))

    @pytest.mark.parametrize("command", [
        InstallCertificate(CertificateUse.V2G_ROOT, PEM),
        GetInstalledCertificateIds(),
        GetInstalledCertificateIds((CertificateUse.CSMS_ROOT, CertificateUse.MO_ROOT)),
        CertificateSigned(PEM, SignedType.V2G),
        CertificateSigned("x" * 10001),
        InstallCertificate(CertificateUse.CSMS_ROOT, "x" * 5501),
    ])
    def test_what_16_cannot_express(self, command: object) -> None:
        """2.0.1-only uses, several or no types at once, V2G, over-long strings: 422."""
        with pytest.raises(CommandNotSupported):
            commands_v16.to_call("CP", command)  # type: ignore[arg-type]

    def test_installed_ids_answer_takes_the_asked_type(self) -> None:
        """1.6 hash data carry no type: it is the one asked for."""
        command = GetInstalledCertificateIds((CertificateUse.CSMS_ROOT,))
        assert InstalledCertificates("Accepted", (
            InstalledCertificate(CertificateUse.CSMS_ROOT, HASH),)) == commands_v16.from_answer(
            command, {"status": "Accepted", "certificateHashData": [WIRE_HASH]})
        assert InstalledCertificates("NotFound") == commands_v16.from_answer(
            command, {"status": "NotFound"})


class TestV201:
    def test_calls(self) -> None:
        """2.0.1 names; no types asks for all; CertificateSigned says its type."""
        assert ("GetInstalledCertificateIds", {}) == commands_v201.to_call(
            "CP", GetInstalledCertificateIds())
        assert ("GetInstalledCertificateIds", {"certificateType": [
            "V2GRootCertificate", "CSMSRootCertificate"]}) == commands_v201.to_call(
            "CP", GetInstalledCertificateIds((CertificateUse.V2G_ROOT,
                                              CertificateUse.CSMS_ROOT)))
        assert ("CertificateSigned", {"certificateChain": PEM,
                                      "certificateType": "ChargingStationCertificate"}) == (
            commands_v201.to_call("CP", CertificateSigned(PEM)))
        assert ("InstallCertificate", {"certificateType": "MORootCertificate",
                                       "certificate": PEM}) == commands_v201.to_call(
            "CP", InstallCertificate(CertificateUse.MO_ROOT, PEM))

    def test_answers(self) -> None:
        """The chain's types come back; statuses keep their reason."""
        assert InstalledCertificates("Accepted", (
            InstalledCertificate(CertificateUse.V2G_CHAIN, HASH),)) == commands_v201.from_answer(
            GetInstalledCertificateIds(), {"status": "Accepted", "certificateHashDataChain": [
                {"certificateType": "V2GCertificateChain", "certificateHashData": WIRE_HASH}]})
        assert CommandStatus("Rejected", "InvalidCert") == commands_v201.from_answer(
            CertificateSigned(PEM), {"status": "Rejected",
                                     "statusInfo": {"reasonCode": "InvalidCert"}})
        with pytest.raises(CommandNotSupported):
            commands_v201.to_call("CP", InstallCertificate(CertificateUse.V2G_CHAIN, PEM))
