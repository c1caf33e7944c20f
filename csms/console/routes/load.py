"""Site load: the headroom, allocated and measured power of the last 24 h as a chart, the
allocations per connector now, the settings, and editing them (roles that write ``load``)."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Form, HTTPException, Path, Request, status
from fastapi.responses import HTMLResponse, RedirectResponse
from markupsafe import Markup

from csms.api.access import Family
from csms.api.routes.stations import load as api
from csms.api.routes.stations import network
from csms.console.chart import Point, load_chart
from csms.console.deps import CsmsDep, SessionDep, allowed, need
from csms.console.i18n import translate
from csms.console.render import language, page
from csms.console.routes.common import int_or_none, paging

router = APIRouter()
SiteId = Annotated[int, Path(ge=1, le=2**31 - 1)]
WINDOW = timedelta(hours=24)
NO_SETTINGS = "the site has no load settings"  # csms.api.routes.stations.load's 404


@router.get("/load", response_class=HTMLResponse)
async def load(request: Request, csms: CsmsDep, session: SessionDep,
               site_id: str | None = None) -> HTMLResponse:
    need(session, Family.LOAD)
    sites = await network.list_sites(csms, session.principal, paging(0, 500), None) \
        if allowed(session, Family.NETWORK) else None
    chosen = int_or_none(site_id)
    if chosen is None and sites is not None and sites.items:
        chosen = sites.items[0].id
    values: dict[str, Any] = {}
    if chosen is not None:
        values = await _site(request, csms, session, chosen)
    zones = {s.id: s.timezone for s in ([] if sites is None else sites.items)}
    if chosen in zones:
        values["zone"] = zones[chosen]
    return page(request, "load.html", session, active="load",
                sites=[] if sites is None else sites.items, site_id=chosen, **values)


@router.get("/load/{site_id}/live", response_class=HTMLResponse)
async def load_live(request: Request, site_id: SiteId, csms: CsmsDep,
                    session: SessionDep) -> HTMLResponse:
    """The chart, headroom and allocations alone, for the periodic refresh."""
    need(session, Family.LOAD)
    return page(request, "load_live.html", session, site_id=site_id,
                **await _site(request, csms, session, site_id))


async def _site(request: Request, csms: CsmsDep, session: SessionDep,
                site_id: int) -> dict[str, Any]:
    principal = session.principal
    try:
        settings: api.SiteLoadOut | None = await api.get_site_load(site_id, csms, principal)
    except HTTPException as exc:
        if exc.detail != NO_SETTINGS:
            raise
        settings = None
    allocations = await api.get_allocations(site_id, csms, principal)
    end = csms.stations.now()
    series = await api.get_series(site_id, csms, principal, start=end - WINDOW, end=None,
                                  limit=10_000)
    lang = language(request)
    labels = {name: translate(lang, name)
              for name in ("Headroom", "Allocated", "Measured", "Base load")}
    chart = load_chart([Point(p.at, p.limit_w, p.allocated_w, p.measured_w, p.base_load_w)
                        for p in series], end - WINDOW, end, labels)
    try:
        profile: api.ProfileOut | None = await api.get_profile(site_id, csms, principal)
    except HTTPException as exc:
        if exc.status_code != status.HTTP_404_NOT_FOUND:
            raise
        profile = None
    return {"settings": settings, "allocations": allocations, "chart": Markup(chart),  # noqa: S704 - chart.py escapes its text
            "points": len(series), "can_write": allowed(session, Family.LOAD, "write"),
            "profile": profile}


def _kw_list(text: str, field: str) -> list[float]:
    """24 comma- or space-separated kW values as W; 422 naming the field otherwise."""
    try:
        values = [float(v) * 1000 for v in text.replace(",", " ").split()]
    except ValueError:
        values = []
    if len(values) != 24 or min(values) < 0:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT,
                            f"{field}: 24 non-negative values in kW")
    return values


@router.post("/load/{site_id}/profile")
async def save_profile(site_id: SiteId, csms: CsmsDep, session: SessionDep,
                       workday_kw: Annotated[str, Form(max_length=2000)],
                       rest_day_kw: Annotated[str, Form(max_length=2000)] = ""
                       ) -> RedirectResponse:
    """Replace the base-load profile (rest days: the workday values when left empty)."""
    need(session, Family.LOAD, "write")
    body = api.ProfileIn(workday_w=_kw_list(workday_kw, "workday_kw"),
                         rest_day_w=_kw_list(rest_day_kw, "rest_day_kw")
                         if rest_day_kw.strip() else None)
    await api.put_profile(site_id, body, csms, session.principal)
    return RedirectResponse(f"/console/load?site_id={site_id}&saved=1", status_code=303)


@router.post("/load/{site_id}")
async def save(site_id: SiteId, csms: CsmsDep, session: SessionDep,
               transformer_kva: Annotated[float, Form()],
               loading_factor: Annotated[float, Form()] = 0.8,
               margin_w: Annotated[float, Form()] = 0.0,
               hard_cap_w: Annotated[str, Form()] = "",
               enabled: Annotated[str, Form()] = "") -> RedirectResponse:
    """Change the site's main limits; its other settings stay as they are."""
    need(session, Family.LOAD, "write")
    try:
        current = (await api.get_site_load(site_id, csms, session.principal)).model_dump(
            include=set(api.SiteLoadIn.model_fields))
    except HTTPException as exc:
        if exc.detail != NO_SETTINGS:
            raise
        current = {}
    body = api.SiteLoadIn.model_validate({
        **current, "transformer_kva": transformer_kva, "loading_factor": loading_factor,
        "margin_w": margin_w, "enabled": bool(enabled),
        "hard_cap_w": float(hard_cap_w) if hard_cap_w.strip() else None})
    await api.put_site_load(site_id, body, csms, session.principal)
    return RedirectResponse(f"/console/load?site_id={site_id}&saved=1", status_code=303)
