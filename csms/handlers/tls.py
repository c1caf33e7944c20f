"""TLS for the OCPP server: the suites OCPP requires, two certificates, client certificates.

Rules:
1. TLS 1.2 offers exactly the four suites the OCPP security whitepaper requires
   (:data:`OCPP_TLS12_CIPHERS`); TLS 1.3 keeps OpenSSL's suites; nothing older than 1.2.
2. An RSA and an ECDSA certificate may be configured side by side (``tls_cert_file`` /
   ``tls_key_file`` and ``tls_cert_file_2`` / ``tls_key_file_2``): OpenSSL keeps one per key
   type and picks the one the client's suites allow.
3. :func:`reload` loads the files again into the *same* context: new handshakes get the new
   certificates, open connections keep theirs, nothing restarts.
4. Security profile 3: with ``tls_client_ca_file`` the server asks for a client certificate
   and OpenSSL verifies its chain and validity against that CA (an untrusted or expired one
   fails the handshake); whether one is *required* is decided per charge point after the
   handshake (:func:`peer_common_name`), because a profile-2 charger on the same port has none.
"""

from __future__ import annotations

import ssl
from typing import Any, Final

from csms.config import ServerSettings

OCPP_TLS12_CIPHERS: Final = ":".join([
    "ECDHE-ECDSA-AES128-GCM-SHA256",  # TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256
    "ECDHE-ECDSA-AES256-GCM-SHA384",  # TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384
    "AES128-GCM-SHA256",  # TLS_RSA_WITH_AES_128_GCM_SHA256
    "AES256-GCM-SHA384",  # TLS_RSA_WITH_AES_256_GCM_SHA384
])


def server_context(settings: ServerSettings) -> ssl.SSLContext | None:
    """The server's context for profile 2 and 3 or a ``tls_port``; None without (ws://)."""
    if settings.security_profile < 2 and settings.tls_port is None:
        return None
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.set_ciphers(OCPP_TLS12_CIPHERS)
    context.options |= ssl.OP_CIPHER_SERVER_PREFERENCE | ssl.OP_NO_COMPRESSION
    reload(context, settings)
    return context


def reload(context: ssl.SSLContext, settings: ServerSettings) -> None:
    """Load the certificates, keys and client CA into ``context`` (rule 3).

    Raises:
        OSError, ssl.SSLError: a file is missing or does not hold what it should; the
        context keeps what it had.
    """
    pairs = [(settings.tls_cert_file, settings.tls_key_file),
             (settings.tls_cert_file_2, settings.tls_key_file_2)]
    for cert, key in pairs:
        if cert is not None:
            context.load_cert_chain(cert, key)
    if settings.tls_client_ca_file is not None:
        context.load_verify_locations(cafile=settings.tls_client_ca_file)
        context.verify_mode = ssl.CERT_OPTIONAL


def peer_common_name(ssl_object: Any) -> str | None:
    """The subject CN of the verified client certificate, or None when none was presented."""
    if ssl_object is None:
        return None
    cert = ssl_object.getpeercert()
    if not cert:
        return None
    for rdn in cert.get("subject", ()):
        for name, value in rdn:
            if name == "commonName":
                return str(value)
    return None


def peer_serial(ssl_object: Any) -> str | None:
    """The serial number (upper-case hex, no leading zeros) of the client certificate."""
    if ssl_object is None:
        return None
    cert = ssl_object.getpeercert()
    serial = cert.get("serialNumber") if cert else None
    return None if not serial else str(serial).upper().lstrip("0") or "0"
