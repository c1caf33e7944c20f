"""Page rendering: the Jinja2 environment, its filters (money, local time, power) and the
response helpers. Filters are pure."""

from __future__ import annotations

from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal
from functools import partial
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from fastapi import Request
from fastapi.responses import HTMLResponse
from jinja2 import Environment, FileSystemLoader, select_autoescape

from csms.api.access import Family, permitted
from csms.console.auth import ConsoleSession
from csms.console.i18n import pick, translate

HERE = Path(__file__).parent
COOKIE, LANG_COOKIE = "csms_console", "csms_lang"
NAV = (("overview", "Overview", Family.NETWORK), ("alarms", "Alarms", Family.SAFETY),
       ("load", "Site load", Family.LOAD), ("chargers", "Chargers", Family.NETWORK),
       ("sessions", "Sessions", Family.SESSIONS), ("residents", "Residents", Family.RESIDENTS),
       ("tariffs", "Tariffs", Family.BILLING), ("reports", "Reports", Family.ORGANISATION),
       ("audit", "Audit", Family.ADMIN))


def yuan(amount: Decimal | int | str | None) -> str:
    """Money with 2 decimals (half up): ``Decimal("3.456")`` -> ``"3.46"``."""
    if amount is None:
        return "–"
    return str(Decimal(amount).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP))


def local(at: datetime | None, zone: str = "Asia/Shanghai") -> str:
    """An aware instant as ``YYYY-MM-DD HH:MM:SS`` in ``zone``."""
    if at is None:
        return "–"
    return at.astimezone(ZoneInfo(zone)).strftime("%Y-%m-%d %H:%M:%S")


def kw(watts: float | None) -> str:
    return "–" if watts is None else f"{watts / 1000:.1f} kW"


def kwh(wh: float | None) -> str:
    return "–" if wh is None else f"{wh / 1000:.2f} kWh"


ENV = Environment(loader=FileSystemLoader(HERE / "templates"),
                  autoescape=select_autoescape(("html", "svg")), trim_blocks=True,
                  lstrip_blocks=True)
def kw_plain(watts: float) -> str:
    """Watts as kW for a form field: ``12500.0`` -> ``"12.5"``."""
    return f"{watts / 1000:g}"


ENV.filters.update(yuan=yuan, local=local, kw=kw, kwh=kwh, kw_plain=kw_plain)


def language(request: Request) -> str:
    return pick(request.cookies.get(LANG_COOKIE))


def page(request: Request, name: str, session: ConsoleSession | None, *, code: int = 200,
         **values: Any) -> HTMLResponse:
    """Render template ``name`` for this request's language and session; times show in
    ``values["zone"]`` (a site's), else in the city's zone."""
    lang = language(request)
    csms = request.app.state.csms
    nav = [] if session is None else [
        (href, label, permitted(session.principal.role, family, "read"))
        for href, label, family in NAV]
    html = ENV.get_template(name).render(
        request=request, session=session, lang=lang, t=partial(translate, lang), nav=nav,
        watch_alarms=session is not None
        and permitted(session.principal.role, Family.SAFETY, "read"),
        **{"zone": csms.settings.reports.timezone, **values})
    return HTMLResponse(html, code)
