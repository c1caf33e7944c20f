"""A resident on a phone, in a real browser (Playwright driving Debian's Chromium): scan the
QR code's page, sign in with card and PIN, start charging, watch the figures update, stop.
Screenshots go to build/screenshots/ (and, asked for, docs/console/ for the README)."""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest
from playwright.async_api import Browser, Page, ViewportSize, async_playwright, expect

from csms import passwords
from csms.app import Csms
from csms.store.resident_pins import PinStore
from simulators.station import SimStation
from tests.conftest import eventually, ocpp_url, real_clock_env
from tests.e2e.test_billing_flows import new_place, top_up, yunnan_tariff

CHROMIUM = "/usr/bin/chromium"
ROOT = Path(__file__).parents[2]
DOCS = ROOT / "docs" / "console"
ARTIFACTS = ROOT / "build" / "screenshots"
PHONE: ViewportSize = {"width": 390, "height": 844}  # a common phone's CSS viewport
T0 = datetime(2026, 11, 1, tzinfo=UTC)
WAIT_MS = 20_000


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    async with async_playwright() as playwright:
        launched = await playwright.chromium.launch(
            executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"],
            env={**real_clock_env()})  # a copy typed as the launcher wants it
        try:
            yield launched
        finally:
            await launched.close()


async def shot(page: Page, name: str) -> None:
    """A full-page screenshot in build/screenshots/ (a test artifact); with DOCS_SCREENSHOTS=1
    also in docs/console/ (the README's pictures), so a test run leaves the tree clean."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / name
    await page.screenshot(path=str(path), full_page=True)
    if os.environ.get("DOCS_SCREENSHOTS") == "1":
        DOCS.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, DOCS / name)


async def test_a_resident_starts_and_stops_a_session_from_the_qr_page(
    csms: Csms, browser: Browser
) -> None:
    """Phone viewport, Chinese by default: sign in, start (the charger gets the remote
    start), energy and power update live without a reload, stop (the charger stops); the
    visit cookie is HttpOnly and SameSite=Lax."""
    place = await new_place(csms, "CP-Q", "RES-Q")
    await yunnan_tariff(csms, place)
    await top_up(csms, place, "80.00", T0, "top-up:q")
    await PinStore(csms.engine, csms.store.writer).set_pin(
        "RES-Q", passwords.hash_password("2468"), "test")
    sim = SimStation("CP-Q", "ocpp2.0.1", ocpp_url(csms))
    context = await browser.new_context(viewport=PHONE, device_scale_factor=2,
                                        is_mobile=True, has_touch=True)
    page = await context.new_page()
    async with sim.running():
        await sim.boot()
        await sim.send_status(1, "Available")
        await page.goto(f"http://127.0.0.1:{csms.api_port}/console/r/CP-Q/1")
        await expect(page.locator("h1")).to_have_text("扫码充电")
        await expect(page.locator("[data-field=status]")).to_have_text("空闲")
        await shot(page, "resident-sign-in.png")

        await page.fill("input[name=card]", "RES-Q")
        await page.fill("input[name=pin]", "2468")
        await page.click("#signin button")
        await expect(page.locator("[data-field=wallet]")).to_contain_text("80.00")
        await page.click("button.start")
        await expect(page.locator(".notice")).to_have_text(re.compile("已发送开始指令"))
        await until_running(sim)
        await sim.send_meter_values(1, energy_wh=2400.0, power_w=7000.0)
        energy = page.locator("[data-session] [data-field=energy]")
        await expect(energy).to_have_text("2.40", timeout=WAIT_MS)  # by the page's script
        await expect(page.locator("[data-session] [data-field=power]")).to_have_text("7.0")
        await expect(page.locator("[data-session] [data-field=cost]")).to_have_text(
            re.compile(r"^\d+\.\d\d$"))
        await shot(page, "resident-charging.png")

        await page.click("button.stop")
        await expect(page.locator(".notice")).to_have_text("已发送停止指令")
        await eventually(_ended(sim))
        await expect(page.locator("#no-session")).to_be_visible(timeout=WAIT_MS)
        await expect(page.locator(".last")).to_contain_text(re.compile(r"\d+\.\d\d 度"))
        await shot(page, "resident-stopped.png")
        cookies = {c["name"]: c for c in await context.cookies()}
    visit = cookies["csms_resident"]
    assert (True, "Lax", "/console/r") == (visit["httpOnly"], visit["sameSite"],
                                           visit["path"])
    await context.close()


async def until_running(sim: SimStation) -> None:
    async def running() -> bool:
        return sim.transaction(1) is not None

    await eventually(running)


def _ended(sim: SimStation) -> Callable[[], Awaitable[bool]]:
    async def probe() -> bool:
        return sim.transaction(1) is None

    return probe
