"""Console sign-in: who a session stands for, the lockout rule, TOTP, server-side sessions.

Rules:
1. A session is a random id in an HttpOnly, SameSite=Strict cookie; everything else (the
   principal, the CSRF token, the expiry) stays on the server, in this process. A restart
   signs everyone out, and several nodes need a sticky load balancer (docs/decisions.md).
2. A session lasts :data:`SESSION_TTL` from sign-in, however busy; expired ones are dropped
   when met and on each sign-in.
3. A user signs in as a :class:`UserPrincipal`, a :class:`csms.api.access.Principal` with the
   user's role and scope, so every page applies the API's own access rules; its audit actor
   is ``user:<name>``. A token signs in as the token's own principal.
4. :data:`MAX_FAILURES` wrong passwords (or codes) in a row lock the account for
   :data:`LOCK_FOR`; a locked account refuses even the right password until then.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import pyotp

from csms.api.access import Principal, Role

SESSION_TTL = timedelta(hours=8)
MAX_FAILURES = 5
LOCK_FOR = timedelta(minutes=15)
MAX_SESSIONS = 10_000
TOTP_ROLES = frozenset({Role.ADMIN, Role.OPERATOR})


@dataclass(frozen=True, slots=True)
class UserPrincipal(Principal):
    """A console user: ``token_id`` holds the user's name."""

    @property
    def actor(self) -> str:
        return f"user:{self.token_id}"


@dataclass(slots=True)
class ConsoleSession:
    sid: str
    principal: Principal
    name: str  # what the header shows: the user's name or the token id
    csrf: str
    expires_at: datetime
    flash: list[str] = field(default_factory=list)


def after_failure(failed_count: int, now: datetime) -> tuple[int, datetime | None]:
    """The new failure count and the lock (None: not locked) after one more failure."""
    count = failed_count + 1
    return count, (now + LOCK_FOR if count >= MAX_FAILURES else None)


def is_locked(locked_until: datetime | None, now: datetime) -> bool:
    return locked_until is not None and now < locked_until


def totp_ok(secret: str, code: str, now: datetime) -> bool:
    """Whether ``code`` is the RFC 6238 code of ``secret`` at ``now`` (one step either side
    for clock drift)."""
    return pyotp.TOTP(secret).verify(code.strip(), for_time=now, valid_window=1)


def new_totp_secret() -> str:
    return pyotp.random_base32()


def totp_uri(secret: str, name: str) -> str:
    return pyotp.TOTP(secret).provisioning_uri(name=name, issuer_name="CSMS console")


class Sessions:
    """The signed-in sessions of this process."""

    def __init__(self) -> None:
        self._by_id: dict[str, ConsoleSession] = {}

    def open(self, principal: Principal, name: str, now: datetime) -> ConsoleSession:
        self._drop_expired(now)
        while len(self._by_id) >= MAX_SESSIONS:  # oldest first (dicts keep insertion order)
            self._by_id.pop(next(iter(self._by_id)))
        session = ConsoleSession(secrets.token_urlsafe(32), principal, name,
                                 secrets.token_urlsafe(32), now + SESSION_TTL)
        self._by_id[session.sid] = session
        return session

    def get(self, sid: str | None, now: datetime) -> ConsoleSession | None:
        session = None if sid is None else self._by_id.get(sid)
        if session is None:
            return None
        if session.expires_at <= now:
            del self._by_id[session.sid]
            return None
        return session

    def close(self, sid: str | None) -> None:
        if sid is not None:
            self._by_id.pop(sid, None)

    def _drop_expired(self, now: datetime) -> None:
        for sid in [s.sid for s in self._by_id.values() if s.expires_at <= now]:
            del self._by_id[sid]
