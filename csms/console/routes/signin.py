"""Sign-in (user account or API token), sign-out and the language switch."""

from __future__ import annotations

import asyncio
import secrets
from typing import Annotated

import structlog
from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from csms import passwords
from csms.api.access import Principal, Role
from csms.api.tokens import principal_of
from csms.console import auth
from csms.console.deps import PRE_CSRF_COOKIE, CsmsDep, SessionDep, sessions_of
from csms.console.i18n import LANGUAGES
from csms.console.render import COOKIE, LANG_COOKIE, page
from csms.store.console import UserStore

router = APIRouter()
log = structlog.get_logger(__name__)
# Checked when the name is unknown, so a wrong name costs what a wrong password does.
_DUMMY_HASH = passwords.hash_password(secrets.token_urlsafe(16))


@router.get("/", include_in_schema=False)
async def home() -> RedirectResponse:
    return RedirectResponse("/console/overview", status_code=303)


@router.get("/login", response_class=HTMLResponse)
async def login_page(request: Request, error: str | None = None) -> HTMLResponse:
    pre = request.cookies.get(PRE_CSRF_COOKIE) or secrets.token_urlsafe(32)
    response = page(request, "login.html", None, pre_csrf=pre, error=error)
    response.set_cookie(PRE_CSRF_COOKIE, pre, max_age=3600, httponly=True, samesite="strict",
                        path="/console", secure=request.url.scheme == "https")
    return response


@router.post("/login")
async def login(request: Request, csms: CsmsDep, name: Annotated[str, Form(max_length=64)],
                password: Annotated[str, Form(max_length=200)],
                code: Annotated[str, Form(max_length=12)] = "") -> Response:
    users = UserStore(csms.engine, csms.store.writer)
    now = csms.stations.now()
    details = {"address": request.client.host if request.client else None}
    user = await users.get(name)
    if user is None or user.disabled:
        await asyncio.to_thread(passwords.verify, password, _DUMMY_HASH)
        return _again("Wrong name, password or code")
    if auth.is_locked(user.locked_until, now):
        return _again("Account locked, try again later")
    # scrypt off the event loop: the chargers' connections share it
    good = await asyncio.to_thread(passwords.verify, password, user.password_hash)
    if good and user.totp_secret is not None:
        good = auth.totp_ok(user.totp_secret, code, now)
    if not good:
        count, locked_until = auth.after_failure(user.failed_count, now)
        await users.failed(name, count, locked_until, details)
        log.info("console_sign_in_failed", user=name, failed_count=count,
                 locked=locked_until is not None)
        return _again("Account locked, try again later" if locked_until
                      else "Wrong name, password or code")
    await users.signed_in(name, details)
    principal = auth.UserPrincipal(user.name, Role(user.role), user.district_id,
                                   user.community_id)
    return _signed_in(request, principal, user.name)


@router.post("/login/token")
async def login_token(request: Request, csms: CsmsDep,
                      token: Annotated[str, Form(max_length=200)]) -> Response:
    principal = await principal_of(token.strip(), csms.access, csms.stations.now())
    if principal is None:
        log.info("console_token_sign_in_failed",
                 address=request.client.host if request.client else None)
        return _again("Invalid API token")
    await UserStore(csms.engine, csms.store.writer).token_signed_in(
        principal.token_id, {"address": request.client.host if request.client else None})
    return _signed_in(request, principal, f"token {principal.token_id}")


def _again(error: str) -> RedirectResponse:
    return RedirectResponse(f"/console/login?error={error.replace(' ', '+')}", status_code=303)


def _signed_in(request: Request, principal: Principal, name: str) -> RedirectResponse:
    csms = request.app.state.csms
    session = sessions_of(request).open(principal, name, csms.stations.now())
    response = RedirectResponse("/console/overview", status_code=303)
    response.set_cookie(COOKIE, session.sid, max_age=int(auth.SESSION_TTL.total_seconds()),
                        httponly=True, samesite="strict", path="/console",
                        secure=request.url.scheme == "https")
    response.delete_cookie(PRE_CSRF_COOKIE, path="/console")
    return response


@router.post("/logout")
async def logout(request: Request, session: SessionDep) -> RedirectResponse:
    sessions_of(request).close(session.sid)
    response = RedirectResponse("/console/login", status_code=303)
    response.delete_cookie(COOKIE, path="/console")
    return response


@router.get("/lang/{code}")
async def switch_language(request: Request, code: str) -> RedirectResponse:
    """Set the language cookie and go back to the page it was chosen on."""
    back = request.headers.get("referer") or "/console/overview"
    if not back.startswith(str(request.base_url)) or "/console/" not in back:
        back = "/console/overview"
    response = RedirectResponse(back, status_code=303)
    if code in LANGUAGES:
        response.set_cookie(LANG_COOKIE, code, max_age=365 * 86400, samesite="lax",
                            path="/console")
    return response


