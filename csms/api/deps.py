"""FastAPI dependencies: the running CSMS, the authenticated principal, permission checks."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated

from fastapi import Depends, HTTPException, Request, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from csms.api.access import Family, Principal, permitted
from csms.api.tokens import principal_of
from csms.app import Csms

_bearer = HTTPBearer(auto_error=False, description="csms_<id>_<secret> from `csms token create`")


def get_csms(request: Request) -> Csms:
    csms: Csms = request.app.state.csms
    return csms


CsmsDep = Annotated[Csms, Depends(get_csms)]


async def authenticate(
    csms: CsmsDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Principal:
    """The caller; 401 for a missing, unknown, revoked or expired token."""
    principal = None
    if credentials is not None and credentials.scheme.lower() == "bearer":
        principal = await principal_of(credentials.credentials, csms.access,
                                       csms.stations.now())
    if principal is None:
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED, "missing or invalid API token",
            headers={"WWW-Authenticate": "Bearer"},
        )
    return principal


def require(family: Family, mode: str) -> Callable[..., Awaitable[Principal]]:
    """A dependency that admits principals whose role may ``mode`` the ``family``; 403
    otherwise."""

    async def check(principal: Annotated[Principal, Depends(authenticate)]) -> Principal:
        if not permitted(principal.role, family, mode):
            raise HTTPException(
                status.HTTP_403_FORBIDDEN,
                f"role {principal.role.value} may not {mode} {family.value}",
            )
        return principal

    # Tests enumerate routes and read these to check every endpoint against the policy.
    check.family = family  # type: ignore[attr-defined]
    check.mode = mode  # type: ignore[attr-defined]
    return check

