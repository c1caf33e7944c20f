"""A local OCSP responder for the certificates our CA issued, pure (2.0.1 GetCertificateStatus).

Rules:
1. Only certificates this CA issued are answered: the request's issuer name and key hashes
   must be this CA's (:func:`is_ours`); anything else is for another responder.
2. The answer is a signed, successful OCSP response (RFC 6960, DER): GOOD for an issued
   certificate, REVOKED (with its time) for a revoked one, UNKNOWN for a serial we never
   issued; valid from ``now`` for ``next_update``.
"""

from __future__ import annotations

import hashlib
from datetime import datetime, timedelta

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.x509 import ocsp

from csms.security.ca import Authority, HashData, hash_data

_HASHES: dict[str, type[hashes.SHA256 | hashes.SHA384 | hashes.SHA512]] = {
    "SHA256": hashes.SHA256, "SHA384": hashes.SHA384, "SHA512": hashes.SHA512}


def is_ours(authority: Authority, request: HashData) -> bool:
    """Rule 1: the request names a certificate issued by ``authority``."""
    # what a certificate we issued names: our subject as its issuer, our key as its issuer's
    own = hash_data(authority.certificate, algorithm=request.hash_algorithm)
    return (request.issuer_name_hash.lower() == _subject_hash(authority, request.hash_algorithm)
            and request.issuer_key_hash.lower() == own.issuer_key_hash)


def response(authority: Authority, request: HashData, certificate: x509.Certificate | None,
             revoked_at: datetime | None, now: datetime, next_update: timedelta) -> bytes:
    """Rule 2: the DER OCSP response for ``request`` (``certificate`` None: never issued)."""
    algorithm = _HASHES[request.hash_algorithm]()
    if certificate is None:
        builder = ocsp.OCSPResponseBuilder().add_response_by_hash(
            issuer_name_hash=bytes.fromhex(request.issuer_name_hash),
            issuer_key_hash=bytes.fromhex(request.issuer_key_hash),
            serial_number=int(request.serial_number, 16), algorithm=algorithm,
            cert_status=ocsp.OCSPCertStatus.UNKNOWN, this_update=now,
            next_update=now + next_update, revocation_time=None, revocation_reason=None)
    else:
        status = ocsp.OCSPCertStatus.GOOD if revoked_at is None else ocsp.OCSPCertStatus.REVOKED
        builder = ocsp.OCSPResponseBuilder().add_response(
            cert=certificate, issuer=authority.certificate, algorithm=algorithm,
            cert_status=status, this_update=now, next_update=now + next_update,
            revocation_time=revoked_at, revocation_reason=None)
    signed = builder.responder_id(ocsp.OCSPResponderEncoding.HASH, authority.certificate).sign(
        authority.key, hashes.SHA256())
    return signed.public_bytes(serialization.Encoding.DER)


def _subject_hash(authority: Authority, algorithm: str) -> str:
    digest = getattr(hashlib, algorithm.lower())
    return str(digest(authority.certificate.subject.public_bytes()).hexdigest())
