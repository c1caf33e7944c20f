"""Access tokens the operator side issues in ``query_token``: stateless, so every node and
a restarted CSMS accept them. No I/O.

Rules:
1. A token is ``<platform operator id>.<expiry, Unix seconds>.<mac>``, the mac the hex
   HMAC-SHA256 of the first two parts with the platform's ``SigSecret``.
2. It is valid until its expiry; a platform renews it by calling ``query_token`` again.
"""

from __future__ import annotations

import hashlib
import hmac
from datetime import datetime


def _mac(secret: str, body: str) -> str:
    return hmac.new(secret.encode(), body.encode(), hashlib.sha256).hexdigest()


def issue(secret: str, operator_id: str, expires: datetime) -> str:
    """Rule 1."""
    body = f"{operator_id}.{int(expires.timestamp())}"
    return f"{body}.{_mac(secret, body)}"


def valid(secret: str, token: str, operator_id: str, now: datetime) -> bool:
    """Rules 1–2: ``token`` was issued to ``operator_id`` with ``secret`` and is unexpired."""
    body, _, mac = token.rpartition(".")
    who, _, expiry = body.rpartition(".")
    if who != operator_id or not expiry.isdigit():
        return False
    return hmac.compare_digest(_mac(secret, body), mac) and int(expiry) > now.timestamp()
