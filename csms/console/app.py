"""The console as a FastAPI sub-application mounted at ``/console`` on the API app: its pages
stay out of the API's OpenAPI, and it has its own error pages and CSRF guard."""

from __future__ import annotations

from fastapi import Depends, FastAPI, HTTPException, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from pydantic import ValidationError

from csms.app import Csms
from csms.console.auth import Sessions
from csms.console.deps import SignInNeeded, csrf_guard, current
from csms.console.render import HERE, page
from csms.console.routes import ROUTERS

PREFIX = "/console"


def create_console(csms: Csms) -> FastAPI:
    console = FastAPI(docs_url=None, redoc_url=None, openapi_url=None,
                      dependencies=[Depends(csrf_guard)])
    console.state.csms = csms
    console.state.sessions = Sessions()
    console.mount("/static", StaticFiles(directory=HERE / "static"), name="static")
    for router in ROUTERS:
        console.include_router(router)

    @console.exception_handler(SignInNeeded)
    async def _sign_in(request: Request, exc: SignInNeeded) -> Response:
        if request.headers.get("hx-request"):
            return Response(status_code=401, headers={"HX-Redirect": f"{PREFIX}/login"})
        return RedirectResponse(f"{PREFIX}/login", status_code=303)

    @console.exception_handler(HTTPException)
    async def _http_error(request: Request, exc: HTTPException) -> HTMLResponse:
        return page(request, "error.html", current(request), code=exc.status_code,
                    status=exc.status_code, detail=exc.detail)

    @console.exception_handler(RequestValidationError)
    @console.exception_handler(ValidationError)
    async def _invalid(request: Request, exc: Exception) -> HTMLResponse:
        errors = exc.errors() if isinstance(exc, (ValidationError, RequestValidationError)) \
            else []
        detail = "; ".join(f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in errors)
        return page(request, "error.html", current(request), code=422, status=422, detail=detail)

    return console


def mount_console(app: FastAPI, csms: Csms) -> None:
    """Serve the console at ``/console/`` on ``app`` (the API's server)."""
    app.mount(PREFIX, create_console(csms), name="console")
