"""Charge-point passwords (OCPP security profiles 1 and 2): salted scrypt hashes only.

The stored form is ``scrypt$<log2 n>$<r>$<p>$<salt b64>$<hash b64>``, so the cost can be
raised later without invalidating stored hashes. OCPP passwords are random strings of 16 to
40 characters that the operator generates (:func:`generate`), so a moderate scrypt cost is
enough, and it keeps a reconnect storm of thousands of chargers affordable.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets

_LOG2_N, _R, _P = 13, 8, 1
_SALT_BYTES, _KEY_BYTES = 16, 32


def generate() -> str:
    """A new random password: 24 URL-safe characters (about 144 bits)."""
    return secrets.token_urlsafe(18)


def hash_password(password: str) -> str:
    salt = secrets.token_bytes(_SALT_BYTES)
    key = _derive(password, salt, _LOG2_N, _R, _P)
    return f"scrypt${_LOG2_N}${_R}${_P}${_b64(salt)}${_b64(key)}"


def verify(password: str, stored: str) -> bool:
    """Whether ``password`` matches ``stored``; False for a malformed stored hash."""
    try:
        scheme, log2_n, r, p, salt, key = stored.split("$")
        if scheme != "scrypt":
            return False
        derived = _derive(password, base64.b64decode(salt), int(log2_n), int(r), int(p))
        return hmac.compare_digest(derived, base64.b64decode(key))
    except (ValueError, TypeError, OverflowError, MemoryError):
        return False


def _derive(password: str, salt: bytes, log2_n: int, r: int, p: int) -> bytes:
    return hashlib.scrypt(
        password.encode(), salt=salt, n=1 << log2_n, r=r, p=p, dklen=_KEY_BYTES,
        maxmem=256 * 1024 * 1024,
    )


def _b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode()
