"""Who may charge: the verdict on an id token, from its record and the policy. Pure."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from csms.domain.model import Authorization, AuthorizationStatus


@dataclass(frozen=True, slots=True)
class TokenRecord:
    """An id token as the id-token table holds it."""

    id_token: str
    status: AuthorizationStatus
    expires_at: datetime | None = None
    group_id: str | None = None


def decide(record: TokenRecord | None, *, accept_unknown: bool, now: datetime) -> Authorization:
    """The verdict on a token: its stored status, Expired once past ``expires_at``, and
    Accepted or Invalid for a token the table does not hold, by policy."""
    if record is None:
        status = AuthorizationStatus.ACCEPTED if accept_unknown else AuthorizationStatus.INVALID
        return Authorization(status)
    if (
        record.status is AuthorizationStatus.ACCEPTED
        and record.expires_at is not None
        and record.expires_at < now
    ):
        return Authorization(AuthorizationStatus.EXPIRED, record.expires_at, record.group_id)
    return Authorization(record.status, record.expires_at, record.group_id)
