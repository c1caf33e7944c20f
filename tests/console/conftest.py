"""Console test helpers: one headless Debian Chromium per test module (over the DevTools
protocol), a fresh browser context per test, users and screenshots."""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import subprocess
import tempfile
import threading
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest
from playwright.async_api import Browser, BrowserContext, Page, async_playwright

from csms import passwords
from csms.api.access import Role
from csms.api.tokens import new_token
from csms.app import Csms
from csms.store.console import UserStore
from tests.conftest import real_clock_env

CHROMIUM = "/usr/bin/chromium"
ARTIFACTS = Path(os.environ.get("CSMS_CONSOLE_ARTIFACTS",
                                Path(tempfile.gettempdir()) / "csms-console-screenshots"))
DOCS = Path(__file__).parents[2] / "docs" / "console"
PASSWORD = "correct-horse-9"


@pytest.fixture(scope="module")
def cdp_endpoint(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A headless Chromium for the whole module; its DevTools WebSocket URL."""
    profile = tmp_path_factory.mktemp("chromium-profile")
    drain: threading.Thread | None = None
    process = subprocess.Popen(  # noqa: S603 - a fixed command line
        [CHROMIUM, "--headless=new", "--no-sandbox", "--disable-gpu", "--no-first-run",
         "--disable-dev-shm-usage", "--remote-debugging-address=127.0.0.1",
         "--remote-debugging-port=0", f"--user-data-dir={profile}", "about:blank"],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
        env=real_clock_env())  # Chromium loads no page under libfaketime (at-instants)
    try:
        stream = process.stderr
        assert stream is not None
        for line in stream:  # Chromium prints the URL once it listens
            found = re.search(r"DevTools listening on (ws://\S+)", line)
            if found:
                # keep draining stderr so a chatty Chromium never blocks on a full pipe
                drain = threading.Thread(target=lambda: [None for _ in stream], daemon=True)
                drain.start()
                yield found[1]
                break
        else:
            pytest.fail(f"{CHROMIUM} exited ({process.wait()}) without a DevTools URL")
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        if drain is not None:
            drain.join(10)
        if process.stderr is not None:
            process.stderr.close()
        shutil.rmtree(profile, ignore_errors=True)


@pytest.fixture
async def browser(cdp_endpoint: str) -> AsyncIterator[Browser]:
    async with async_playwright() as p:
        connected = await p.chromium.connect_over_cdp(cdp_endpoint)
        yield connected


@pytest.fixture
async def context(browser: Browser, csms: Csms) -> AsyncIterator[BrowserContext]:
    made = await browser.new_context(base_url=f"http://127.0.0.1:{csms.api_port}",
                                     viewport={"width": 1280, "height": 900})
    made.set_default_timeout(15_000)
    try:
        yield made
    finally:
        await made.close()


@pytest.fixture
async def page(context: BrowserContext) -> Page:
    return await context.new_page()


async def add_user(csms: Csms, name: str, role: str, *, district_id: int | None = None,
                   community_id: int | None = None, totp_secret: str | None = None) -> None:
    await UserStore(csms.engine, csms.store.writer).add(
        name, passwords.hash_password(PASSWORD), role, created_by="test",
        district_id=district_id, community_id=community_id, totp_secret=totp_secret)


async def sign_in(page: Page, name: str, password: str = PASSWORD, code: str = "") -> None:
    await page.goto("/console/login")
    await page.fill("#user-login [name=name]", name)
    await page.fill("#user-login [name=password]", password)
    if code:
        await page.fill("#user-login [name=code]", code)
    await page.click("#user-login button")


async def sign_in_token(page: Page, token: str) -> None:
    await page.goto("/console/login")
    await page.fill("#token-login [name=token]", token)
    await page.click("#token-login button")


async def shot(page: Page, name: str, *, docs: bool = False) -> Path:
    """Save a screenshot as a test artifact (and into docs/console/ for the README)."""
    path = ARTIFACTS / f"{name}.png"
    await page.screenshot(path=str(path), full_page=True)  # makes the folder
    if docs and os.environ.get("CSMS_CONSOLE_DOCS_SHOTS"):
        await asyncio.to_thread(_to_docs, path)
    return path


def _to_docs(path: Path) -> None:
    DOCS.mkdir(parents=True, exist_ok=True)
    shutil.copy(path, DOCS / path.name)


@pytest.fixture
async def client(csms: Csms) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{csms.api_port}/console",
                                 timeout=30) as made:
        yield made


async def token_sign_in(csms: Csms, client: httpx.AsyncClient, role: Role,
                  district_id: int | None = None) -> str:
    """Signed in with a token of ``role``; the session's CSRF token."""
    secret, record = new_token(role, created_by="test", now=csms.stations.now(),
                               district_id=district_id)
    await csms.access.add_token(record)
    client.cookies.clear()
    form = (await client.get("/login")).text
    csrf = re.search(r'name="csrf" value="([^"]+)"', form)
    assert csrf is not None
    await client.post("/login/token", data={"csrf": csrf[1], "token": secret})
    page = (await client.get("/reports")).text
    found = re.search(r'name="csrf" value="([^"]+)"', page)
    return "" if found is None else found[1]
