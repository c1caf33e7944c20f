"""The resident page's cookie: a short-lived, signed visit bound to one card. Pure: no I/O.

Rules:
1. The cookie is ``<payload>.<mac>``: the payload is base64url JSON ``[nonce, card, pin tag,
   expiry]``, the MAC an HMAC-SHA256 of it under the server's key. A cookie whose MAC does
   not match, that does not parse, or whose expiry (Unix seconds) has passed is no visit.
2. A visit without a card is anonymous (the sign-in form); one with a card is signed in
   until its expiry, which never moves (sign in again after ``session_minutes``).
3. The pin tag is a MAC of the card's PIN hash: a new or cleared PIN ends every visit
   signed in with the old one.
4. The CSRF token of a visit is a MAC of its nonce; every form and every write carries it,
   and signing in starts a new nonce (so a token seen before sign-in is worthless after).
5. Time is a Unix-seconds value the caller passes; nothing here reads a clock.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import secrets
from dataclasses import dataclass

NAME = "csms_resident"


@dataclass(frozen=True, slots=True)
class Visit:
    nonce: str
    card: str | None
    pin_tag: str | None
    expires_at: int  # Unix seconds

    @property
    def signed_in(self) -> bool:
        return self.card is not None


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class VisitSigner:
    """Signs and checks visits and their CSRF tokens (module rules) under one key."""

    def __init__(self, key: bytes) -> None:
        if len(key) < 32:
            raise ValueError("the cookie key must have at least 32 bytes")
        self._key = key

    def _mac(self, purpose: str, data: str) -> str:
        return _b64(hmac.new(self._key, f"{purpose}|{data}".encode(), hashlib.sha256).digest())

    def anonymous(self, now_s: int, lifetime_s: int) -> Visit:
        return Visit(secrets.token_urlsafe(16), None, None, now_s + lifetime_s)

    def signed_in(self, card: str, pin_hash: str, now_s: int, lifetime_s: int) -> Visit:
        """A new visit (a new nonce: rule 4) for ``card`` until ``now_s + lifetime_s``."""
        return Visit(secrets.token_urlsafe(16), card, self.pin_tag(pin_hash),
                     now_s + lifetime_s)

    def pin_tag(self, pin_hash: str) -> str:
        return self._mac("pin", pin_hash)[:16]

    def dump(self, visit: Visit) -> str:
        payload = _b64(json.dumps([visit.nonce, visit.card, visit.pin_tag, visit.expires_at],
                                  separators=(",", ":")).encode())
        return f"{payload}.{self._mac('visit', payload)}"

    def load(self, value: str | None, now_s: int) -> Visit | None:
        """The visit in a cookie value; None for a bad, forged or expired one (rule 1)."""
        if not value or len(value) > 1024 or "." not in value:
            return None
        payload, mac = value.rsplit(".", 1)
        if not hmac.compare_digest(mac.encode(), self._mac("visit", payload).encode()):
            return None
        try:
            nonce, card, tag, expires = json.loads(_unb64(payload))
        except (ValueError, TypeError, binascii.Error):
            return None
        fields_ok = isinstance(nonce, str) and isinstance(expires, int) and all(
            v is None or isinstance(v, str) for v in (card, tag))
        if not fields_ok or expires <= now_s:
            return None
        return Visit(nonce, card, tag, expires)

    def csrf(self, visit: Visit) -> str:
        return self._mac("csrf", visit.nonce)

    def csrf_ok(self, visit: Visit, token: str | None) -> bool:
        return token is not None and hmac.compare_digest(token.encode(),
                                                         self.csrf(visit).encode())
