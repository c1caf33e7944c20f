"""The CA's key and certificate on disk: created once (``csms ca init``), checked at start.

Rules:
1. The key file must be readable by its owner only: a key readable by group or others is
   refused at start with :class:`CaKeyExposed` naming the file and its mode.
2. The key is written with mode 0600 from the start (never world-readable, not even for
   an instant), PEM PKCS#8, encrypted with the passphrase when one is configured.
3. ``init`` never overwrites an existing key or certificate.
"""

from __future__ import annotations

import os
import stat
from datetime import datetime
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from csms.config import CertificateSettings
from csms.errors import ConfigError
from csms.security.ca import Authority, create_authority


class CaKeyExposed(ConfigError):
    """The CA key file is readable by group or others (rule 1)."""


def load(settings: CertificateSettings) -> Authority:
    """The configured CA.

    Raises:
        ConfigError: a file is missing or unreadable, the passphrase is wrong, the key does
            not match the certificate; :class:`CaKeyExposed` (rule 1).
    """
    key_file, cert_file = _paths(settings)
    check_key_permissions(key_file)
    try:
        key_pem, cert_pem = key_file.read_bytes(), cert_file.read_bytes()
    except OSError as exc:
        raise ConfigError(f"certificates: cannot read {exc.filename}: {exc.strerror}") from None
    passphrase = None if settings.ca_key_passphrase is None else settings.ca_key_passphrase.encode()
    try:
        key = serialization.load_pem_private_key(key_pem, passphrase)
    except (ValueError, TypeError) as exc:
        raise ConfigError(f"certificates.ca_key_file {key_file}: cannot load the key ({exc});"
                          " check certificates.ca_key_passphrase") from None
    if not isinstance(key, ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey):
        raise ConfigError(f"certificates.ca_key_file {key_file}: not an EC or RSA key")
    try:
        certificate = x509.load_pem_x509_certificate(cert_pem)
    except ValueError:
        raise ConfigError(f"certificates.ca_cert_file {cert_file}: not a PEM certificate") from None
    if _public(certificate.public_key()) != _public(key.public_key()):
        raise ConfigError(f"certificates.ca_key_file {key_file} does not belong to "
                          f"certificates.ca_cert_file {cert_file}")
    return Authority(key, certificate)


def init(settings: CertificateSettings, common_name: str, now: datetime,
         validity_days: int) -> Authority:
    """Create the CA's key and certificate files (rules 2-3).

    Raises:
        ConfigError: a file already exists or cannot be written.
    """
    key_file, cert_file = _paths(settings)
    for path, key in ((key_file, "ca_key_file"), (cert_file, "ca_cert_file")):
        if path.exists():
            raise ConfigError(f"certificates.{key} {path} already exists; not overwritten")
    authority = create_authority(common_name, now, validity_days=validity_days,
                                 organization=settings.organization)
    passphrase = settings.ca_key_passphrase
    encryption: serialization.KeySerializationEncryption = (
        serialization.NoEncryption() if passphrase is None
        else serialization.BestAvailableEncryption(passphrase.encode()))
    key_pem = authority.key.private_bytes(serialization.Encoding.PEM,
                                          serialization.PrivateFormat.PKCS8, encryption)
    try:
        fd = os.open(key_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as out:
            out.write(key_pem)
        cert_file.write_text(authority.certificate_pem)
    except OSError as exc:
        raise ConfigError(f"certificates: cannot write {exc.filename}: {exc.strerror}") from None
    return authority


def check_key_permissions(key_file: Path) -> None:
    """Rule 1; raises :class:`CaKeyExposed` or ConfigError (missing)."""
    try:
        mode = key_file.stat().st_mode
    except OSError as exc:
        raise ConfigError(f"certificates.ca_key_file {key_file}: {exc.strerror}") from None
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise CaKeyExposed(
            f"certificates.ca_key_file {key_file} is readable by group or others (mode "
            f"{stat.S_IMODE(mode):04o}); allow its owner only: chmod 600 {key_file}")


def _paths(settings: CertificateSettings) -> tuple[Path, Path]:
    if settings.ca_key_file is None or settings.ca_cert_file is None:
        missing = "ca_key_file" if settings.ca_key_file is None else "ca_cert_file"
        raise ConfigError(f"certificates.{missing} is not set")
    return settings.ca_key_file, settings.ca_cert_file


def _public(key: object) -> bytes:
    assert isinstance(key, ec.EllipticCurvePublicKey | rsa.RSAPublicKey)
    return key.public_bytes(serialization.Encoding.DER,
                            serialization.PublicFormat.SubjectPublicKeyInfo)
