"""What a station does with certificates, both versions: its key, CSRs, trust store.

Rules:
1. A sign request (the CSMS's ExtendedTriggerMessage SignChargePointCertificate / 2.0.1
   TriggerMessage SignChargingStationCertificate, or :meth:`SimCertificates.request`)
   makes a fresh P-256 key and a CSR with CN = the station id and O =
   :attr:`SimCertificates.organization`, and sends SignCertificate once the trigger is
   answered. The key is kept as pending until a chain for it arrives.
2. CertificateSigned is Accepted when the chain's first certificate carries the pending
   key's public key (then it becomes the station's certificate and key); else Rejected.
3. InstallCertificate stores a PEM root certificate under its use (Rejected if it does not
   parse); GetInstalledCertificateIds reports OCPP hash data (SHA256) of the stored ones,
   NotFound when none match; DeleteCertificate removes the one whose hash data match
   (Accepted) or answers NotFound.
4. :meth:`SimCertificates.tls_context` is the client TLS context of a profile-3 charger:
   the current certificate and key, trusting the given server CA.
"""

from __future__ import annotations

import os
import ssl
import tempfile
from typing import TYPE_CHECKING, Any, Final

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from csms.handlers.ocppj import OcppVersion
from csms.security.ca import hash_data

if TYPE_CHECKING:
    from csms.handlers.rpc import Handler
    from simulators.station import SimStation

Payload = dict[str, Any]
_USE_V16: Final = {"CentralSystemRootCertificate": "CSMSRootCertificate"}
SIGN_TRIGGERS: Final = frozenset({"SignChargePointCertificate",
                                  "SignChargingStationCertificate"})


class SimCertificates:
    """The certificates of one :class:`SimStation` (module rules)."""

    def __init__(self, station: SimStation) -> None:
        self._st = station
        self.organization: str | None = None
        self.key: ec.EllipticCurvePrivateKey | None = None
        self.certificate_pem: str | None = None  # the leaf the CSMS signed
        self.chains: list[str] = []  # every chain accepted, in order
        self._pending: ec.EllipticCurvePrivateKey | None = None
        self.installed: dict[str, list[str]] = {}  # use (2.0.1 name) -> PEM roots
        self.sign_answers: list[str] = []  # the CSMS's answers to SignCertificate

    @property
    def v16(self) -> bool:
        return self._st.version is OcppVersion.V16

    def csr_pem(self) -> str:
        """A CSR for a new pending key (rule 1)."""
        self._pending = ec.generate_private_key(ec.SECP256R1())
        names = [x509.NameAttribute(NameOID.COMMON_NAME, self._st.link.station_id)]
        if self.organization is not None:
            names.append(x509.NameAttribute(NameOID.ORGANIZATION_NAME, self.organization))
        csr = x509.CertificateSigningRequestBuilder().subject_name(x509.Name(names)).sign(
            self._pending, hashes.SHA256())
        return csr.public_bytes(serialization.Encoding.PEM).decode()

    async def request(self) -> str:
        """Send SignCertificate now; the CSMS's status."""
        payload: Payload = {"csr": self.csr_pem()}
        if not self.v16:
            payload["certificateType"] = "ChargingStationCertificate"
        answer = await self._st.call("SignCertificate", payload)
        status = str(answer["status"])
        self.sign_answers.append(status)
        return status

    def triggered(self) -> str:
        """The answer to a sign trigger; the request follows it (rule 1)."""
        async def send() -> None:
            await self.request()

        self._st.link.after_answer("sign-certificate", send)
        return "Accepted"

    def signed(self, chain: str) -> str:
        """Rule 2."""
        try:
            leaf = x509.load_pem_x509_certificate(chain.encode())
        except ValueError:
            return "Rejected"
        if self._pending is None or _spki(leaf.public_key()) != _spki(
                self._pending.public_key()):
            return "Rejected"
        self.key, self._pending = self._pending, None
        self.certificate_pem = leaf.public_bytes(serialization.Encoding.PEM).decode()
        self.chains.append(chain)
        return "Accepted"

    def install(self, use: str, pem: str) -> str:
        try:
            x509.load_pem_x509_certificate(pem.encode())
        except ValueError:
            return "Rejected"
        self.installed.setdefault(use, []).append(pem)
        return "Accepted"

    def ids(self, uses: list[str]) -> list[tuple[str, Payload]]:
        """(use, hash data) of the stored roots of ``uses`` (all when empty)."""
        found = []
        for use, pems in self.installed.items():
            if uses and use not in uses:
                continue
            for pem in pems:
                data = hash_data(x509.load_pem_x509_certificate(pem.encode()))
                found.append((use, {"hashAlgorithm": data.hash_algorithm,
                                    "issuerNameHash": data.issuer_name_hash,
                                    "issuerKeyHash": data.issuer_key_hash,
                                    "serialNumber": data.serial_number}))
        return found

    def delete(self, wanted: Payload) -> str:
        keys = ("issuerNameHash", "issuerKeyHash", "serialNumber")
        for use, pems in self.installed.items():
            for pem, (_, data) in zip(list(pems), self.ids([use]), strict=True):
                if all(data[k].lower() == str(wanted[k]).lower() for k in keys):
                    pems.remove(pem)
                    return "Accepted"
        return "NotFound"

    def tls_context(self, server_ca_file: str | os.PathLike[str]) -> ssl.SSLContext:
        """Rule 4; raises RuntimeError before a certificate was signed."""
        if self.key is None or self.certificate_pem is None:
            raise RuntimeError("no certificate yet")
        context = ssl.create_default_context(cafile=str(server_ca_file))
        key_pem = self.key.private_bytes(serialization.Encoding.PEM,
                                         serialization.PrivateFormat.PKCS8,
                                         serialization.NoEncryption())
        fd, path = tempfile.mkstemp(suffix=".pem")
        try:
            with os.fdopen(fd, "wb") as out:
                out.write(self.certificate_pem.encode() + key_pem)
            context.load_cert_chain(path)
        finally:
            os.unlink(path)
        return context


def handlers(st: SimStation) -> dict[str, Handler]:
    """The certificate commands of both versions (rule 3)."""
    certs = st.certificates

    async def certificate_signed(p: Payload) -> Payload:
        return {"status": certs.signed(p["certificateChain"])}

    async def install_certificate(p: Payload) -> Payload:
        return {"status": certs.install(_use(p["certificateType"]), p["certificate"])}

    async def get_installed_ids(p: Payload) -> Payload:
        asked = p.get("certificateType")
        if certs.v16:
            found = certs.ids([_use(str(asked))])
            if not found:
                return {"status": "NotFound"}
            return {"status": "Accepted", "certificateHashData": [d for _, d in found]}
        found = certs.ids(list(asked or []))
        if not found:
            return {"status": "NotFound"}
        return {"status": "Accepted", "certificateHashDataChain": [
            {"certificateType": use, "certificateHashData": data} for use, data in found]}

    async def delete_certificate(p: Payload) -> Payload:
        return {"status": certs.delete(p["certificateHashData"])}

    return {"CertificateSigned": certificate_signed, "InstallCertificate": install_certificate,
            "GetInstalledCertificateIds": get_installed_ids,
            "DeleteCertificate": delete_certificate}


def _use(wire: str) -> str:
    """The 2.0.1 name of a certificate use (1.6 calls the CSMS root CentralSystem...)."""
    return _USE_V16.get(wire, wire)


def _spki(key: Any) -> bytes:
    return bytes(key.public_bytes(serialization.Encoding.DER,
                                  serialization.PublicFormat.SubjectPublicKeyInfo))
