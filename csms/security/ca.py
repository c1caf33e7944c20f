"""The CSMS's certificate authority, pure: certificates and keys in, certificates out.

No I/O and no clock: every function that needs "now" takes it (aware UTC). Files, file
permissions and passphrases are :mod:`csms.security.ca_files`.

Rules:
1. A CSR is signed only if its own signature verifies, its subject CN is the charge point
   id (the OCPP rule: the CN of a charging station certificate is its identity), its subject
   O is the configured organisation (when one is configured), and its key is RSA of at
   least ``rsa_min_bits`` or EC on one of ``ec_curves``. Anything else raises
   :class:`CsrRefused` naming the reason; nothing is issued.
2. An issued certificate keeps only the CSR's subject and key; its extensions are ours:
   not a CA, digitalSignature + keyAgreement (EC) or keyEncipherment (RSA), clientAuth,
   subject and authority key ids. Validity starts ``backdate`` before ``now`` (clock skew
   between CSMS and charger) and lasts ``validity_days``. Serial numbers are random 159-bit
   integers (RFC 5280: positive, at most 20 octets) unless given.
3. Serial numbers on the wire are upper-case hex without leading zeros (OCPP
   ``serialNumber``, at most 40 characters); :func:`serial_hex` is the one spelling.
4. The revocation list is a CRL signed by the CA, listing each revoked serial with its
   revocation time; it is valid from ``now`` to ``now + next_update``.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Final

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

PrivateKey = ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey
DEFAULT_CURVES: Final = ("secp256r1", "secp384r1")
CURVES: Final = {"secp256r1": ec.SECP256R1, "secp384r1": ec.SECP384R1,
                 "secp521r1": ec.SECP521R1}


class CsrRefused(ValueError):
    """The CSR breaks a signing rule (module rule 1); the message says which."""


@dataclass(frozen=True, slots=True)
class Policy:
    """What a CSR must satisfy and how long what we issue lives."""

    organization: str | None = None  # the subject O a CSR must carry; None: not checked
    validity_days: int = 365
    rsa_min_bits: int = 2048
    ec_curves: tuple[str, ...] = DEFAULT_CURVES
    backdate: timedelta = timedelta(minutes=5)


@dataclass(frozen=True, slots=True)
class Authority:
    """The CA's key and (self-signed) certificate."""

    key: PrivateKey
    certificate: x509.Certificate

    @property
    def certificate_pem(self) -> str:
        return self.certificate.public_bytes(serialization.Encoding.PEM).decode()


@dataclass(frozen=True, slots=True)
class CertificateInfo:
    """What the store keeps about a certificate, read from the certificate itself."""

    serial: str  # rule 3
    common_name: str | None
    not_before: datetime
    not_after: datetime
    sha256: str  # of the DER, hex


@dataclass(frozen=True, slots=True)
class HashData:
    """OCPP CertificateHashDataType / OCSPRequestDataType (without the responder URL)."""

    hash_algorithm: str  # "SHA256" | "SHA384" | "SHA512"
    issuer_name_hash: str  # hex
    issuer_key_hash: str  # hex
    serial_number: str  # rule 3


def create_authority(common_name: str, now: datetime, *, validity_days: int = 3650,
                     organization: str | None = None) -> Authority:
    """A new root CA: a P-256 key and a self-signed certificate valid from ``now``."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = _name(common_name, organization)
    public = key.public_key()
    certificate = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(public)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now).not_valid_after(now + timedelta(days=validity_days))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(x509.KeyUsage(
            digital_signature=True, content_commitment=False, key_encipherment=False,
            data_encipherment=False, key_agreement=False, key_cert_sign=True, crl_sign=True,
            encipher_only=False, decipher_only=False), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public), critical=False)
        .sign(key, hashes.SHA256())
    )
    return Authority(key, certificate)


def sign_csr(authority: Authority, csr_pem: str, station_id: str, policy: Policy,
             now: datetime, serial: int | None = None) -> x509.Certificate:
    """The charging station certificate for ``csr_pem`` (rules 1-2).

    Raises:
        CsrRefused: not a PEM CSR, a bad signature, the wrong CN or O, a weak key.
    """
    csr = _load_csr(csr_pem)
    check_csr(csr, station_id, policy)
    public = csr.public_key()
    assert isinstance(public, ec.EllipticCurvePublicKey | rsa.RSAPublicKey)  # check_csr
    is_ec = isinstance(public, ec.EllipticCurvePublicKey)
    ca_public = authority.certificate.public_key()
    assert isinstance(ca_public, ec.EllipticCurvePublicKey | rsa.RSAPublicKey)
    return (
        x509.CertificateBuilder().subject_name(csr.subject)
        .issuer_name(authority.certificate.subject).public_key(public)
        .serial_number(serial if serial is not None else x509.random_serial_number())
        .not_valid_before(now - policy.backdate)
        .not_valid_after(now + timedelta(days=policy.validity_days))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.KeyUsage(
            digital_signature=True, content_commitment=False, key_encipherment=not is_ec,
            data_encipherment=False, key_agreement=is_ec, key_cert_sign=False,
            crl_sign=False, encipher_only=False, decipher_only=False), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH]),
                       critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_public),
                       critical=False)
        .sign(authority.key, hashes.SHA256())
    )


def check_csr(csr: x509.CertificateSigningRequest, station_id: str, policy: Policy) -> None:
    """Rule 1; raises :class:`CsrRefused`."""
    if not csr.is_signature_valid:
        raise CsrRefused("the CSR's signature does not verify")
    names = csr.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    common_name = str(names[0].value) if names else None
    if common_name != station_id:
        raise CsrRefused(f"subject CN is {common_name!r}, not the charge point id")
    if policy.organization is not None:
        orgs = [str(a.value) for a in
                csr.subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)]
        if orgs != [policy.organization]:
            raise CsrRefused(f"subject O is {orgs or None!r}, not {policy.organization!r}")
    key = csr.public_key()
    if isinstance(key, rsa.RSAPublicKey):
        if key.key_size < policy.rsa_min_bits:
            raise CsrRefused(f"RSA key of {key.key_size} bits; at least "
                             f"{policy.rsa_min_bits} needed")
    elif isinstance(key, ec.EllipticCurvePublicKey):
        if key.curve.name not in policy.ec_curves:
            raise CsrRefused(f"EC curve {key.curve.name} is not one of "
                             f"{', '.join(policy.ec_curves)}")
    else:
        raise CsrRefused(f"key type {type(key).__name__} is not RSA or EC")


def chain_pem(authority: Authority, certificate: x509.Certificate) -> str:
    """The leaf then the CA, PEM (OCPP CertificateSigned ``certificateChain``)."""
    return to_pem(certificate) + authority.certificate_pem


def to_pem(certificate: x509.Certificate) -> str:
    return certificate.public_bytes(serialization.Encoding.PEM).decode()


def load_certificate(pem: str) -> x509.Certificate:
    """The first certificate of ``pem``.

    Raises:
        ValueError: no PEM certificate in it.
    """
    return x509.load_pem_x509_certificate(pem.encode())


def info(certificate: x509.Certificate) -> CertificateInfo:
    names = certificate.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    der = certificate.public_bytes(serialization.Encoding.DER)
    return CertificateInfo(
        serial_hex(certificate.serial_number), str(names[0].value) if names else None,
        certificate.not_valid_before_utc, certificate.not_valid_after_utc,
        hashlib.sha256(der).hexdigest())


def serial_hex(serial: int) -> str:
    """Rule 3."""
    return format(serial, "X")


def hash_data(certificate: x509.Certificate, issuer: x509.Certificate | None = None,
              algorithm: str = "SHA256") -> HashData:
    """OCPP hash data of ``certificate``: hashes of its issuer's DER name and of the issuer's
    public key bits (RFC 6960 issuerKeyHash; ``issuer`` is the certificate itself when
    self-signed, as root certificates are)."""
    issuer = issuer or certificate
    digest = getattr(hashlib, algorithm.lower())
    key_bits = issuer.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    return HashData(
        algorithm, digest(certificate.issuer.public_bytes()).hexdigest(),
        digest(_spki_bits(key_bits)).hexdigest(), serial_hex(certificate.serial_number))


def revocation_list(authority: Authority, revoked: Iterable[tuple[str, datetime]],
                    now: datetime, next_update: timedelta) -> x509.CertificateRevocationList:
    """Rule 4: ``revoked`` is (serial as :func:`serial_hex`, revoked at)."""
    builder = (x509.CertificateRevocationListBuilder()
               .issuer_name(authority.certificate.subject)
               .last_update(now).next_update(now + next_update))
    for serial, at in revoked:
        builder = builder.add_revoked_certificate(
            x509.RevokedCertificateBuilder().serial_number(int(serial, 16))
            .revocation_date(at).build())
    return builder.sign(authority.key, hashes.SHA256())


def crl_pem(crl: x509.CertificateRevocationList) -> str:
    return crl.public_bytes(serialization.Encoding.PEM).decode()


def _load_csr(csr_pem: str) -> x509.CertificateSigningRequest:
    try:
        return x509.load_pem_x509_csr(csr_pem.encode())
    except ValueError:
        raise CsrRefused("not a PEM certificate signing request") from None


def _name(common_name: str, organization: str | None) -> x509.Name:
    parts = [x509.NameAttribute(NameOID.COMMON_NAME, common_name)]
    if organization is not None:
        parts.append(x509.NameAttribute(NameOID.ORGANIZATION_NAME, organization))
    return x509.Name(parts)


def _spki_bits(spki_der: bytes) -> bytes:
    """The subjectPublicKey BIT STRING's content (without its unused-bits octet) of a DER
    SubjectPublicKeyInfo: SEQUENCE { AlgorithmIdentifier, BIT STRING }."""
    _, body = _tlv(spki_der, 0)  # the outer SEQUENCE
    end_algorithm, _ = _tlv(spki_der, body)  # skip the AlgorithmIdentifier
    _, bits = _tlv(spki_der, end_algorithm)
    return spki_der[bits + 1:]


def _tlv(der: bytes, at: int) -> tuple[int, int]:
    """(end of the element at ``at``, start of its content)."""
    length = der[at + 1]
    start = at + 2
    if length & 0x80:
        count = length & 0x7F
        length = int.from_bytes(der[start:start + count], "big")
        start += count
    return start + length, start
