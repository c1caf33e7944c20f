"""The console in a real browser (Debian's Chromium through Playwright): each role sees only
its scope, cookie flags and CSRF, a simulated GroundFailure's alarm acknowledged, a
connector going Charging after a remote start from the charger's page, the load chart."""

from __future__ import annotations

from datetime import timedelta

import pyotp
import pytest
from playwright.async_api import BrowserContext, Page, expect
from sqlalchemy import select

from csms.api.access import Role
from csms.api.tokens import new_token
from csms.app import Csms
from csms.console import auth
from csms.console.auth import new_totp_secret
from csms.console.render import NAV
from csms.domain.model import AuthorizationStatus
from csms.store import tables as t
from csms.store.load.store import LoadStore, SeriesPoint
from csms.store.load.tables import site_load
from simulators.station import SimStation
from tests.api.test_sessions import new_place, place_station
from tests.conftest import eventually, ocpp_url
from tests.console.conftest import add_user, shot, sign_in, sign_in_token

pytestmark = pytest.mark.timeout(120)


async def a_token(csms: Csms, role: Role) -> str:
    secret, record = new_token(role, created_by="test", now=csms.stations.now())
    await csms.access.add_token(record)
    return secret


async def test_each_role_sees_only_its_scope(csms: Csms, context: BrowserContext,
                                             page: Page) -> None:
    """A property manager sees their community's charger only, no audit and no commands;
    the outside charger is a 403 page; an operator (by API token) sees both. The session
    cookie is HttpOnly, SameSite=Strict and expires; a POST without the CSRF token is 403."""
    a, b = await new_place(csms, "甲"), await new_place(csms, "乙")
    await place_station(csms, "CP-A", a)
    await place_station(csms, "CP-B", b)
    await add_user(csms, "manager-a", "property", community_id=a.community_id)
    await sign_in(page, "manager-a")
    await expect(page.locator("#chargers")).to_contain_text("CP-A")
    assert "CP-B" not in await page.locator("#chargers").inner_text()
    assert await page.locator("header nav a[href='/console/audit']").count() == 0
    await shot(page, "overview-property", docs=True)
    assert 403 == (await page.goto("/console/chargers/CP-B")).status  # type: ignore[union-attr]
    assert 403 == (await page.goto("/console/audit")).status  # type: ignore[union-attr]
    await page.goto("/console/chargers/CP-A")
    assert await page.locator("#cmd-reset").count() == 0  # property may not send commands

    cookie = next(c for c in await context.cookies() if c["name"] == "csms_console")
    assert (True, "Strict") == (cookie["httpOnly"], cookie["sameSite"])
    # the browser dates it by its own clock (Max-Age), which may not be the CSMS's fake one
    browser_now = await page.evaluate("Date.now() / 1000")
    ttl = auth.SESSION_TTL.total_seconds()
    assert browser_now < cookie["expires"] <= browser_now + ttl + 60
    refused = await page.request.post("/console/logout", form={"x": "1"})
    assert 403 == refused.status
    csrf = await page.locator("#logout").evaluate("b => b.form.csrf.value")
    assert 200 == (await page.request.post("/console/logout", form={"csrf": csrf})).status

    await sign_in_token(page, await a_token(csms, Role.OPERATOR))
    await expect(page.locator("#chargers")).to_contain_text("CP-B")
    await expect(page.locator("#chargers")).to_contain_text("CP-A")
    await page.click("text=English")
    await expect(page.locator("header nav")).to_contain_text("Alarms")


async def test_acknowledge_a_ground_failure_alarm(csms: Csms, page: Page) -> None:
    """A simulated GroundFailure raises a level 1 alarm: the alarms page shows the level 1
    banner; the operator acknowledges it with a comment and then clears it; the audit log
    names the user."""
    place = await new_place(csms, "丙")
    await place_station(csms, "CP-G", place)
    await add_user(csms, "duty", "operator")
    sim = SimStation("CP-G", "ocpp1.6", ocpp_url(csms), connectors=2)
    async with sim.running():
        await sim.boot()
        await sim.send_status(1, "Faulted", error_code="GroundFailure")
        await sign_in(page, "duty")
        await page.goto("/console/alarms")
        await expect(page.locator("#level1")).to_be_visible()
        row = page.locator("table.open-alarms tr", has_text="ground_fault")
        await expect(row.locator(".state")).to_have_text("raised")
        await shot(page, "alarms-level1", docs=True)
        assert await page.evaluate("csmsIdle('open-alarms')")
        await row.locator("[name=comment]").fill("电工已到场")
        # the 5 s refresh holds off while a comment is being written
        assert not await page.evaluate("csmsIdle('open-alarms')")
        await row.locator("button").click()
        await expect(row.locator(".state")).to_have_text("acknowledged")
        await row.locator("[name=comment]").fill("绝缘已修复")
        await row.locator("button").click()
        await expect(page.locator("#no-open")).to_be_visible()
        await expect(page.locator("#history")).to_contain_text("电工已到场")
    async with csms.engine.connect() as conn:
        actors = (await conn.execute(select(t.audit_log.c.actor, t.audit_log.c.action).where(
            t.audit_log.c.resource == "alarm"))).all()
    assert {("user:duty", "acknowledge"), ("user:duty", "clear")} <= set(actors)


async def test_remote_start_turns_the_connector_charging(csms: Csms, page: Page) -> None:
    """From the charger's page the operator sends a remote start; the charger's answer is
    shown, and the overview's live table (htmx refresh) shows connector 1 Charging."""
    place = await new_place(csms, "丁")
    await place_station(csms, "CP-S", place)
    await csms.store.put_token("CARD-1", AuthorizationStatus.ACCEPTED)
    await add_user(csms, "ops", "operator")
    sim = SimStation("CP-S", "ocpp1.6", ocpp_url(csms), connectors=2)
    async with sim.running():
        await sim.boot()
        await sim.send_status(1, "Available")
        await sign_in(page, "ops")
        await expect(page.locator("#cp-CP-S [data-connector='1']")).to_have_class(
            "badge s-Available")
        await page.goto("/console/chargers/CP-S")
        await page.fill("#cmd-start [name=id_token]", "CARD-1")
        await page.click("#cmd-start button")
        await expect(page.locator("#answer")).to_contain_text("Accepted")
        await page.goto("/console/overview")
        await expect(page.locator("#cp-CP-S [data-connector='1']")).to_have_class(
            "badge s-Charging", timeout=20_000)
        await expect(page.locator("#cp-CP-S .session")).to_have_count(1)
        await shot(page, "overview-charging", docs=True)


async def test_load_chart_shows_the_series(csms: Csms, page: Page) -> None:
    """A site with load settings and a day of series points: the chart draws the three
    series; an operator changes the transformer size through the form."""
    place = await new_place(csms, "戊")
    await add_user(csms, "ops", "operator")
    now = csms.stations.now().replace(microsecond=0)
    await LoadStore(csms.engine, csms.store.writer).add_series(place.site_id, [
        SeriesPoint(now - timedelta(minutes=10 * k), 60_000.0, 20_000.0 + 100 * k,
                    18_000.0 + 80 * k, 5_000.0) for k in range(100)])
    await sign_in(page, "ops")
    await page.goto(f"/console/load?site_id={place.site_id}")
    await expect(page.locator("#no-settings")).to_be_visible()
    for series in ("limit_w", "allocated_w", "measured_w"):
        points = await page.locator(f"polyline[data-series={series}]").get_attribute("points")
        assert points is not None
        assert len(points.split()) > 50
    await page.fill("#limits [name=transformer_kva]", "250")
    await page.click("#limits button")
    await expect(page.locator("#saved")).to_be_visible()
    await expect(page.locator("#headroom")).to_be_visible()
    await shot(page, "load", docs=True)
    await eventually(lambda: _kva(csms, place.site_id), lambda kva: kva == 250)


async def _kva(csms: Csms, site_id: int) -> float | None:
    async with csms.engine.connect() as conn:
        value = (await conn.execute(select(site_load.c.transformer_kva).where(
            site_load.c.site_id == site_id))).scalar_one_or_none()
    return None if value is None else float(value)


async def test_every_page_as_admin_with_a_second_factor(csms: Csms, page: Page) -> None:
    """An admin signs in with password and TOTP code and opens every page of the header:
    none is an error page; each is saved as a screenshot."""
    place = await new_place(csms, "庚")
    await place_station(csms, "CP-W", place)
    secret = new_totp_secret()
    await add_user(csms, "root", "admin", totp_secret=secret)
    await sign_in(page, "root", code=pyotp.TOTP(secret).at(csms.stations.now()))
    await expect(page.locator("#who")).to_contain_text("root")
    links = await page.locator("header nav a").evaluate_all("as => as.map(a => a.href)")
    assert len(links) == len(NAV)
    for href in links:
        answer = await page.goto(href)
        assert answer is not None
        assert 200 == answer.status, href
        await shot(page, f"page-{href.rstrip('/').rsplit('/', 1)[-1]}")
    await page.goto("/console/audit?verify=1")
    await expect(page.locator("#verdict")).to_have_class("ok")
