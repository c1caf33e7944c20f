"""The resident page behind the QR code on each charger, and the operator's side of it.

:func:`install` adds it to the API app: the pages under ``/console/r/`` (csms.resident.pages),
their local script and style under ``/console/resident-assets/``, the PIN endpoints and the
QR code (csms.resident.operator). State (throttles, the cookie key) lives on the app.
"""

from __future__ import annotations

import secrets
from pathlib import Path

import structlog
from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from csms.app import Csms
from csms.resident import operator, pages
from csms.resident.cookie import VisitSigner
from csms.resident.portal import ResidentPortal

log = structlog.get_logger(__name__)


def install(app: FastAPI, csms: Csms) -> None:
    """Mount the resident page and its operator endpoints on ``app``."""
    settings = csms.settings.resident
    if settings.cookie_secret is None:
        log.info("resident.cookie_key_random", message="resident.cookie_secret is not set:"
                 " a restart signs residents out (set it when several nodes serve the page)")
        key = secrets.token_bytes(32)
    else:
        key = settings.cookie_secret.encode()
    public = settings.public_url or csms.settings.files.public_url or ""
    app.state.resident = pages.Pages(ResidentPortal(csms, settings), VisitSigner(key),
                                     pages.templates(), public.startswith("https://"))
    app.mount(pages.ASSETS, StaticFiles(directory=Path(__file__).parent / "static"),
              name="resident-assets")
    app.include_router(pages.router)
    app.include_router(operator.router)
