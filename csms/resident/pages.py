"""The resident page behind the QR code (``/console/r/<charge point>/<connector>``), mobile
first, server-rendered; a small local script refreshes the figures from ``live.json``.

Rules:
1. No API token: a resident signs in with card number and PIN (csms.resident.portal) and
   gets a signed, short-lived visit cookie (csms.resident.cookie), HttpOnly, SameSite=Lax,
   Secure when the public URL is https, path ``/console/r``.
2. Every POST carries the visit's CSRF token (form field ``csrf`` or header
   ``X-CSRF-Token``); without it: 403 and nothing done.
3. A form POST answers with a redirect back to the page (303) carrying a notice or error
   key; with ``Accept: application/json`` it answers JSON with ``outcome`` instead. Refused
   sign-ins: 401 (wrong card or PIN), 403 (card may not charge), 429 with Retry-After
   (throttled); a throttled start or stop is 429 too.
4. Pages are never cached and never framed; scripts and styles come only from this server.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Final
from urllib.parse import parse_qsl, urlencode

from fastapi import APIRouter, Depends, Request
from fastapi import Path as PathParam
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates

from csms.resident import cookie as c
from csms.resident import texts, views
from csms.resident.portal import ResidentPortal, SignIn
from csms.resident.qr import PAGE_PREFIX, page_path
from csms.store.resident_pins import Card

ASSETS: Final = "/console/resident-assets"
FORM_MAX_BYTES: Final = 4096
ANONYMOUS_S: Final = 3600
NOTICES: Final = frozenset({"started", "stopped", "stop.sent"})
ERRORS: Final = frozenset({"pin", "locked", "card", "csrf", "expired", "offline", "busy",
                           "rejected", "timeout", "failed", "running", "not_found"})
HEADERS: Final = {
    "Cache-Control": "no-store",
    "Content-Security-Policy": "default-src 'self'; img-src 'self' data:;"
                               " frame-ancestors 'none'; form-action 'self'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}
STATUS: Final = {"pin": 401, "card": 403, "locked": 429, "csrf": 403, "expired": 401,
                 "not_found": 404, "busy": 409, "running": 409, "offline": 409,
                 "rejected": 409, "timeout": 504, "failed": 502}

router = APIRouter(prefix=PAGE_PREFIX, include_in_schema=False)
StationPath = Annotated[str, PathParam(min_length=1, max_length=48)]


@dataclass(frozen=True, slots=True)
class Pages:
    """What the pages need, built once per API app (csms.resident.install)."""

    portal: ResidentPortal
    signer: c.VisitSigner
    templates: Jinja2Templates
    secure: bool

    def lifetime_s(self) -> int:
        return math.ceil(self.portal.settings.session_minutes * 60)

    def now_s(self) -> int:
        return int(self.portal.now().timestamp())


def templates() -> Jinja2Templates:
    return Jinja2Templates(directory=Path(__file__).parent / "templates")


def get_pages(request: Request) -> Pages:
    pages: Pages = request.app.state.resident
    return pages


PagesDep = Annotated[Pages, Depends(get_pages)]


def _visit(pages: Pages, request: Request) -> c.Visit | None:
    return pages.signer.load(request.cookies.get(c.NAME), pages.now_s())


def _set_visit(pages: Pages, response: Response, visit: c.Visit) -> None:
    response.set_cookie(c.NAME, pages.signer.dump(visit), max_age=visit.expires_at
                        - pages.now_s(), path=PAGE_PREFIX, httponly=True, samesite="lax",
                        secure=pages.secure)


async def _card(pages: Pages, visit: c.Visit | None) -> Card | None:
    if visit is None or visit.card is None:
        return None
    return await pages.portal.card_of(visit.card, visit.pin_tag, pages.signer.pin_tag)


async def _form(request: Request) -> dict[str, str]:
    """The urlencoded form; empty (so refused as without CSRF) when over
    :data:`FORM_MAX_BYTES` or with too many fields. Read no further than the limit."""
    body = b""
    async for chunk in request.stream():
        body += chunk
        if len(body) > FORM_MAX_BYTES:
            return {}
    try:
        return dict(parse_qsl(body.decode("utf-8", "replace"), max_num_fields=10))
    except ValueError:
        return {}


def _wants_json(request: Request) -> bool:
    return "application/json" in request.headers.get("accept", "")


def _address(request: Request) -> str:
    """The peer's address (a proxy in front: its address; no forwarded header is trusted)."""
    return request.client.host if request.client else "unknown"


def _csrf(request: Request, form: dict[str, str]) -> str | None:
    return request.headers.get("x-csrf-token") or form.get("csrf")


@router.get("/{station_id}/{evse_id:int}", response_class=HTMLResponse)
async def page(request: Request, station_id: StationPath, evse_id: int,
               pages: PagesDep) -> Response:
    """The connector's page: status and price; sign-in form, or the card's sessions."""
    query = request.query_params
    notice = query.get("notice")
    return await _page(pages, request, station_id, evse_id,
                       notice if notice in NOTICES else None, query.get("error"), 200)


async def _page(pages: Pages, request: Request, station_id: str, evse_id: int,
                notice: str | None, error: str | None, status: int) -> Response:
    query = request.query_params
    lang = texts.language(query.get("lang"), request.cookies.get(texts.COOKIE))
    found = await views.connector(pages.portal, station_id, evse_id)
    t = texts.translator(lang)
    if found is None:
        context = {"t": t, "lang": lang, "assets": ASSETS}
        return _render(pages, request, "missing.html", context, None, 404)
    visit = _visit(pages, request)
    card = await _card(pages, visit)
    if visit is not None and visit.signed_in and card is None:
        visit, error = None, error or "expired"  # blocked card, new PIN, or card gone
    if visit is None:
        visit = pages.signer.anonymous(pages.now_s(), ANONYMOUS_S)
    context = await _context(pages, request, found, card, visit, lang)
    context |= {"notice": notice, "error": error if error in ERRORS else None}
    response = _render(pages, request, "page.html", context, visit, status)
    if query.get("lang") in texts.LANGUAGES:
        response.set_cookie(texts.COOKIE, lang, max_age=365 * 86400, path=PAGE_PREFIX,
                            httponly=True, samesite="lax", secure=pages.secure)
    return response


async def _context(pages: Pages, request: Request, found: views.Connector, card: Card | None,
                   visit: c.Visit, lang: str) -> dict[str, Any]:
    base = page_path(found.place.station_id, found.evse_id)
    return {
        "t": texts.translator(lang), "lang": lang,
        "other_lang": "en" if lang == "zh" else "zh",
        "connector": views.connector_view(found, pages.portal.now(), texts.translator(lang)),
        "account": None if card is None else await views.account_view(
            pages.portal, card, found.place.zone),
        "csrf": pages.signer.csrf(visit), "base": base, "assets": ASSETS,
    }


def _render(pages: Pages, request: Request, name: str, context: dict[str, Any],
            visit: c.Visit | None, status: int) -> Response:
    response = pages.templates.TemplateResponse(request, name, context, status_code=status,
                                                headers=HEADERS)
    if visit is not None:
        _set_visit(pages, response, visit)
    return response


def _done(request: Request, station_id: str, evse_id: int, notice: str) -> Response:
    """Rule 3: a success; JSON for a script, else a redirect to the page."""
    if _wants_json(request):
        return JSONResponse({"outcome": notice}, headers=HEADERS)
    query = "?" + urlencode({"notice": notice}) if notice in NOTICES else ""
    return RedirectResponse(page_path(station_id, evse_id) + query, 303, headers=HEADERS)


async def _refused(pages: Pages, request: Request, station_id: str, evse_id: int,
                   error: str, extra: dict[str, str] | None = None) -> Response:
    """Rule 3: a refusal with its status; JSON for a script, else the page with it."""
    status = STATUS[error]
    if _wants_json(request):
        response: Response = JSONResponse({"outcome": error}, status, headers=HEADERS)
    else:
        response = await _page(pages, request, station_id, evse_id, None, error, status)
    response.headers.update(extra or {})
    return response


@router.post("/{station_id}/{evse_id:int}/sign-in")
async def sign_in(request: Request, station_id: StationPath, evse_id: int,
                  pages: PagesDep) -> Response:
    """Card number and PIN; a signed-in visit cookie when they match (rules 1-3)."""
    form = await _form(request)
    visit = _visit(pages, request)
    if visit is None or not pages.signer.csrf_ok(visit, _csrf(request, form)):
        return await _refused(pages, request, station_id, evse_id, "csrf")
    result: SignIn = await pages.portal.sign_in(form.get("card", "")[:36],
                                                form.get("pin", "")[:64], _address(request))
    if result.outcome == "locked":
        retry = {"Retry-After": str(math.ceil(result.retry_after_s))}
        return await _refused(pages, request, station_id, evse_id, "locked", retry)
    if result.outcome != "ok" or result.card is None or result.card.pin_hash is None:
        key = "pin" if result.outcome == "wrong" else "card"
        return await _refused(pages, request, station_id, evse_id, key)
    signed = pages.signer.signed_in(result.card.id_token, result.card.pin_hash,
                                    pages.now_s(), pages.lifetime_s())
    response = _done(request, station_id, evse_id, "signed_in")
    _set_visit(pages, response, signed)
    return response


@router.post("/{station_id}/{evse_id:int}/sign-out")
async def sign_out(request: Request, station_id: StationPath, evse_id: int,
                   pages: PagesDep) -> Response:
    form = await _form(request)
    visit = _visit(pages, request)
    if visit is None or not pages.signer.csrf_ok(visit, _csrf(request, form)):
        return await _refused(pages, request, station_id, evse_id, "csrf")
    response = _done(request, station_id, evse_id, "signed_out")
    _set_visit(pages, response, pages.signer.anonymous(pages.now_s(), ANONYMOUS_S))
    return response


async def _acting(request: Request, pages: Pages, form: dict[str, str]) -> Card | str:
    """The signed-in card of a POST, or the error key (rules 1-2)."""
    visit = _visit(pages, request)
    if visit is None or not pages.signer.csrf_ok(visit, _csrf(request, form)):
        return "csrf"
    card = await _card(pages, visit)
    return card if card is not None else "expired"


@router.post("/{station_id}/{evse_id:int}/start")
async def start(request: Request, station_id: StationPath, evse_id: int,
                pages: PagesDep) -> Response:
    """Start charging on this connector with the signed-in card."""
    card = await _acting(request, pages, await _form(request))
    found = await views.connector(pages.portal, station_id, evse_id)
    if isinstance(card, str) or found is None:
        key = card if isinstance(card, str) else "not_found"
        return await _refused(pages, request, station_id, evse_id, key)
    outcome = await pages.portal.start(card, found.place.station_id, evse_id, found.status,
                                       _address(request))
    if outcome == "started":
        return _done(request, station_id, evse_id, outcome)
    return await _refused(pages, request, station_id, evse_id, outcome)


@router.post("/{station_id}/{evse_id:int}/stop")
async def stop(request: Request, station_id: StationPath, evse_id: int,
               pages: PagesDep) -> Response:
    """Stop one of the signed-in card's own sessions (form field ``session_id``)."""
    form = await _form(request)
    card = await _acting(request, pages, form)
    if isinstance(card, str):
        return await _refused(pages, request, station_id, evse_id, card)
    session_id = form.get("session_id", "")
    outcome = await pages.portal.stop(card, int(session_id), _address(request)) \
        if session_id.isdigit() and len(session_id) < 19 else "not_found"
    if outcome == "stopped":
        return _done(request, station_id, evse_id, "stop.sent")
    return await _refused(pages, request, station_id, evse_id, outcome)


@router.get("/{station_id}/{evse_id:int}/live.json")
async def live(request: Request, station_id: StationPath, evse_id: int,
               pages: PagesDep) -> Response:
    """The connector and price; signed in, also the card's sessions, wallet and packages."""
    found = await views.connector(pages.portal, station_id, evse_id)
    if found is None:
        return JSONResponse({"detail": "no such charger or connector"}, 404, headers=HEADERS)
    card = await _card(pages, _visit(pages, request))
    t = texts.translator(texts.language(None, request.cookies.get(texts.COOKIE)))
    body = {"connector": views.connector_view(found, pages.portal.now(), t),
            "account": None if card is None else await views.account_view(
                pages.portal, card, found.place.zone)}
    return JSONResponse(body, headers=HEADERS)
