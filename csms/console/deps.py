"""The console's request plumbing: the signed-in session, the CSRF guard, the role checks.

Rules:
1. Every page but sign-in needs a session (else a redirect to the sign-in page).
2. Every request that is not GET/HEAD carries the CSRF token, as the form field ``csrf``
   or the ``X-CSRF-Token`` header (htmx sends it), or is refused with 403. Before sign-in
   the token is the ``csms_csrf`` cookie's (double submit); after, the session's.
3. What a role may see and do is :func:`csms.api.access.permitted`, the API's own policy;
   scope (district, community) is applied by the API route functions the pages call.
"""

from __future__ import annotations

import hmac
from typing import Annotated

from fastapi import Depends, HTTPException, Request, status

from csms.api.access import Family, permitted
from csms.app import Csms
from csms.console.auth import ConsoleSession, Sessions
from csms.console.render import COOKIE

PRE_CSRF_COOKIE = "csms_csrf"
SAFE = frozenset({"GET", "HEAD", "OPTIONS"})


class SignInNeeded(Exception):
    """No valid session: the handler redirects to the sign-in page."""


def csms_of(request: Request) -> Csms:
    csms: Csms = request.app.state.csms
    return csms


def sessions_of(request: Request) -> Sessions:
    sessions: Sessions = request.app.state.sessions
    return sessions


def current(request: Request) -> ConsoleSession | None:
    return sessions_of(request).get(request.cookies.get(COOKIE), csms_of(request).stations.now())


async def session_of(request: Request) -> ConsoleSession:
    session = current(request)
    if session is None:
        raise SignInNeeded
    return session


SessionDep = Annotated[ConsoleSession, Depends(session_of)]
CsmsDep = Annotated[Csms, Depends(csms_of)]


async def csrf_guard(request: Request) -> None:
    """Rule 2; a dependency of the whole console app."""
    if request.method in SAFE:
        return
    session = current(request)
    expected = session.csrf if session is not None else request.cookies.get(PRE_CSRF_COOKIE)
    sent = request.headers.get("x-csrf-token")
    if sent is None and request.headers.get("content-type", "").startswith(
            ("application/x-www-form-urlencoded", "multipart/form-data")):
        value = (await request.form()).get("csrf")
        sent = value if isinstance(value, str) else None
    if not expected or not sent or not hmac.compare_digest(expected, sent):
        raise HTTPException(status.HTTP_403_FORBIDDEN, "missing or wrong CSRF token")


def allowed(session: ConsoleSession, family: Family, mode: str = "read") -> bool:
    return permitted(session.principal.role, family, mode)


def need(session: ConsoleSession, family: Family, mode: str = "read") -> None:
    """403 unless the session's role may ``mode`` the ``family`` (the API's policy)."""
    if not allowed(session, family, mode):
        raise HTTPException(status.HTTP_403_FORBIDDEN,
                            f"role {session.principal.role.value} may not {mode} {family.value}")
