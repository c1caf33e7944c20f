"""Bearer API tokens: ``csms_<id>_<secret>``, shown once, stored as a SHA-256 of the secret.

The secret is 32 random bytes, so a plain SHA-256 is enough (nothing to brute-force); the id
makes the look-up a primary-key read.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import datetime

from csms.api.access import Principal, Role
from csms.store.access import AccessStore, ApiTokenRecord

PREFIX = "csms"


def _hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def new_token(
    role: Role,
    *,
    created_by: str,
    now: datetime,
    district_id: int | None = None,
    community_id: int | None = None,
    expires_at: datetime | None = None,
    description: str | None = None,
) -> tuple[str, ApiTokenRecord]:
    """A new token string (shown once) and the record to store."""
    token_id, secret = secrets.token_hex(8), secrets.token_urlsafe(32)
    record = ApiTokenRecord(
        token_id, _hash(secret), role.value, district_id, community_id, expires_at, None,
        description, created_by, now,
    )
    return f"{PREFIX}_{token_id}_{secret}", record


async def principal_of(token: str, store: AccessStore, now: datetime) -> Principal | None:
    """The principal a bearer token stands for, or None if it is unknown, wrong, revoked or
    expired."""
    prefix, _, rest = token.partition("_")
    token_id, _, secret = rest.partition("_")
    if prefix != PREFIX or not token_id or not secret:
        return None
    record = await store.get_token(token_id)
    if record is None or not hmac.compare_digest(record.secret_hash, _hash(secret)):
        return None
    if record.revoked_at is not None or (record.expires_at and record.expires_at <= now):
        return None
    return Principal(record.token_id, Role(record.role), record.district_id, record.community_id)
