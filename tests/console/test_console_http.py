"""The console over plain HTTP against the real server: lockout and its audit rows, TOTP,
the CSRF guard on every form route, and page times with 2,000 chargers."""

from __future__ import annotations

import re
import time
from collections.abc import AsyncIterator

import httpx
import pyotp
import pytest
from fastapi.routing import APIRoute
from sqlalchemy import insert, select

from csms.api.access import Family, Role, permitted
from csms.api.tokens import new_token
from csms.app import Csms
from csms.console import auth
from csms.console.render import NAV
from csms.console.routes import ROUTERS
from csms.domain.model import RegistrationStatus
from csms.store import tables as t
from tests.api.test_sessions import new_place
from tests.console.conftest import PASSWORD, add_user

pytestmark = pytest.mark.timeout(120)


@pytest.fixture
async def client(csms: Csms) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{csms.api_port}/console",
                                 timeout=10) as made:
        yield made


async def login(client: httpx.AsyncClient, name: str, password: str = PASSWORD,
                code: str = "") -> httpx.Response:
    form = (await client.get("/login")).text
    csrf = re.search(r'name="csrf" value="([^"]+)"', form)
    assert csrf is not None
    return await client.post("/login", data={"csrf": csrf[1], "name": name,
                                             "password": password, "code": code})


async def audited(csms: Csms, name: str) -> list[str]:
    async with csms.engine.connect() as conn:
        return list((await conn.execute(select(t.audit_log.c.action).where(
            t.audit_log.c.resource == "console_user", t.audit_log.c.resource_id == name)
            .order_by(t.audit_log.c.seq))).scalars())


async def test_lockout_after_repeated_failures(csms: Csms, client: httpx.AsyncClient) -> None:
    """Five wrong passwords lock the account: then even the right one is refused. Each
    failure and the lockout are audit rows; an unknown name is refused the same way."""
    await add_user(csms, "duty", "operator")
    for _ in range(auth.MAX_FAILURES):
        answer = await login(client, "duty", "wrong-password")
        assert "/console/login?error=" in answer.headers["location"]
    locked = await login(client, "duty")
    assert "locked" in locked.headers["location"]
    assert "csms_console" not in client.cookies
    assert ["create", *["sign-in-failed"] * 4, "sign-in-failed", "lockout"] == \
        await audited(csms, "duty")
    assert "Wrong" in (await login(client, "nobody")).headers["location"]


async def test_totp_is_required_when_set(csms: Csms, client: httpx.AsyncClient) -> None:
    """An admin with a second factor: the password alone is refused; with the current code
    the session opens and the sign-in is audited."""
    secret = auth.new_totp_secret()
    await add_user(csms, "root", "admin", totp_secret=secret)
    assert "error" in (await login(client, "root")).headers["location"]
    code = pyotp.TOTP(secret).at(csms.stations.now())
    signed = await login(client, "root", code=code)
    assert "/console/overview" == signed.headers["location"]
    assert "csms_console" in client.cookies
    assert 200 == (await client.get("/audit")).status_code  # admin reads the audit log
    assert "sign-in" in await audited(csms, "root")


async def test_every_form_route_needs_the_csrf_token(csms: Csms,
                                                     client: httpx.AsyncClient) -> None:
    """Signed in, each POST route of the console without the token is 403; the sign-in
    forms refuse a POST without the pre-sign-in token too."""
    assert 403 == (await client.post("/login", data={"name": "x", "password": "y"})
                   ).status_code
    assert 403 == (await client.post("/login/token", data={"token": "x"})).status_code
    secret, record = new_token(Role.ADMIN, created_by="test", now=csms.stations.now())
    await csms.access.add_token(record)
    form = (await client.get("/login")).text
    csrf = re.search(r'name="csrf" value="([^"]+)"', form)
    assert csrf is not None
    await client.post("/login/token", data={"csrf": csrf[1], "token": secret})
    assert "csms_console" in client.cookies
    async with csms.engine.connect() as conn:
        signed = (await conn.execute(select(t.audit_log.c.actor).where(
            t.audit_log.c.resource == "console", t.audit_log.c.action == "sign-in"))).all()
    assert [(f"token:{record.token_id}",)] == [tuple(r) for r in signed]
    posts = [r.path for router in ROUTERS for r in router.routes
             if isinstance(r, APIRoute) and "POST" in (r.methods or ())]
    assert len(posts) >= 10
    for path in posts:
        concrete = re.sub(r"\{[^}]+\}", "1", path)
        answer = await client.post(concrete, data={"comment": "x"})
        assert 403 == answer.status_code, path
        assert "CSRF" in answer.text


async def test_pages_with_2000_chargers(csms: Csms, client: httpx.AsyncClient) -> None:
    """2,000 chargers with two connectors each in 40 communities: the overview, chargers,
    alarms and sessions pages each answer within a second (the best of three, so a busy
    shared machine's moment does not count), one page of 25 at a time."""
    places = [await new_place(csms, f"P{n}") for n in range(40)]
    now = csms.stations.now()
    async with csms.engine.begin() as conn:
        await conn.execute(insert(t.charge_points), [
            {"id": f"CP-{n:04}", "site_id": places[n % 40].site_id,
             "registration_status": "Accepted", "created_at": now} for n in range(2000)])
        await conn.execute(insert(t.evses), [
            {"station_id": f"CP-{n:04}", "evse_id": e} for n in range(2000) for e in (1, 2)])
        await conn.execute(insert(t.connectors), [
            {"station_id": f"CP-{n:04}", "evse_id": e, "connector_id": 1,
             "status": "Available", "status_at": now} for n in range(2000) for e in (1, 2)])
    await add_user(csms, "ops", "operator")
    await login(client, "ops")
    for path in ("/overview", "/overview?offset=1975", "/overview/table", "/chargers",
                 "/alarms", "/sessions", "/load", f"/overview?community_id="
                 f"{places[3].community_id}"):
        took = []
        for _ in range(3):
            started = time.perf_counter()
            answer = await client.get(path)
            took.append(time.perf_counter() - started)
            assert 200 == answer.status_code, path
        print(path, [f"{s:.3f}" for s in took])
        assert min(took) < 1.0, (path, took)
    page = (await client.get("/overview")).text
    assert 25 == page.count('<tr id="cp-')
    assert "1–25 共 2000" in page


def field(html: str, form_id: str, name: str) -> str:
    form = html.split(f'id="{form_id}"', 1)[1].split("</form>", 1)[0]
    found = re.search(rf'name="{name}" value="([^"]*)"', form)
    assert found is not None, (form_id, name)
    return found[1]


async def test_top_up_confirmed_once_and_statement_csv(csms: Csms,
                                                       client: httpx.AsyncClient) -> None:
    """An operator tops up a wallet: a confirmation page first, then the money moves; the
    same form sent twice moves it once. The statement downloads as CSV. A property manager
    of another community gets 403 for that resident."""
    a, b = await new_place(csms, "甲"), await new_place(csms, "乙")
    secret, record = new_token(Role.ADMIN, created_by="test", now=csms.stations.now())
    await csms.access.add_token(record)
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{csms.api_port}") as api:
        made = await api.post("/residents", json={"community_id": a.community_id,
                                                  "name": "张三", "unit": "3-201"},
                              headers={"Authorization": f"Bearer {secret}"})
    resident = made.json()["id"]
    await add_user(csms, "ops", "operator")
    await add_user(csms, "mgr-b", "property", community_id=b.community_id)
    await login(client, "ops")
    html = (await client.get(f"/residents/{resident}")).text
    form = {"csrf": field(html, "top-up", "csrf"), "ref": field(html, "top-up", "ref"),
            "amount_yuan": "50", "memo": "微信"}
    confirm = await client.post(f"/residents/{resident}/wallet/top-up", data=form)
    assert 200 == confirm.status_code
    assert "50.00" in confirm.text
    for _ in range(2):
        done = await client.post(f"/residents/{resident}/wallet/top-up",
                                 data={**form, "confirmed": "1"})
        assert 303 == done.status_code, done.text
    page = (await client.get(f"/residents/{resident}")).text
    assert '<strong id="balance">50.00</strong>' in page
    month = csms.stations.now().strftime("%Y-%m")
    csv = await client.get(f"/residents/{resident}/statements/{month}.csv")
    assert 200 == csv.status_code
    assert csv.headers["content-type"].startswith("text/csv")
    assert "attachment" in csv.headers["content-disposition"]
    client.cookies.clear()
    await login(client, "mgr-b")
    assert 403 == (await client.get(f"/residents/{resident}")).status_code
    listed = (await client.get("/residents")).text
    assert "张三" not in listed


async def test_every_page_as_every_role(csms: Csms, client: httpx.AsyncClient) -> None:
    """Each role, signed in with an API token of its kind, gets every page its API scope
    allows (200, linked in the header) and a 403 for the others; never a 500. Scoped roles
    get 403 for the other community's charger, site and resident."""
    a, b = await new_place(csms, "甲"), await new_place(csms, "乙")
    await csms.store.add_station("CP-B", RegistrationStatus.ACCEPTED)
    assert await csms.store.set_station("CP-B", site_id=b.site_id)
    async with csms.engine.begin() as conn:
        resident_b = (await conn.execute(insert(t.residents).values(
            community_id=b.community_id, name="李四", created_at=csms.stations.now())
            .returning(t.residents.c.id))).scalar_one()
    scopes: dict[Role, tuple[int | None, int | None]] = {  # (district, community)
        Role.DISTRICT: (a.district_id, None), Role.PROPERTY: (None, a.community_id)}
    for role in Role:
        district, community = scopes.get(role, (None, None))
        secret, record = new_token(role, created_by="test", now=csms.stations.now(),
                                   district_id=district, community_id=community)
        await csms.access.add_token(record)
        client.cookies.clear()
        form = (await client.get("/login")).text
        csrf = re.search(r'name="csrf" value="([^"]+)"', form)
        assert csrf is not None
        await client.post("/login/token", data={"csrf": csrf[1], "token": secret})
        header = (await client.get("/login")).text  # any page: the header's links
        overview = await client.get("/overview")
        for href, _, family in NAV:
            may = permitted(role, family, "read")
            answer = await client.get(f"/{href}")
            assert (200 if may else 403) == answer.status_code, (role, href)
            if overview.status_code == 200:
                assert may == (f'href="/console/{href}"' in overview.text), (role, href)
        outside = 403 if role in scopes else 200
        network = permitted(role, Family.NETWORK, "read")
        assert (outside if network else 403) == (
            await client.get("/chargers/CP-B")).status_code, role
        assert (outside if permitted(role, Family.LOAD, "read") else 403) == (
            await client.get(f"/load?site_id={b.site_id}")).status_code, role
        assert (outside if permitted(role, Family.LOAD, "read") else 403) == (
            await client.get(f"/load/{b.site_id}/live")).status_code, role
        assert (200 if permitted(role, Family.SAFETY, "read") else 403) == (
            await client.get("/alarms/banner")).status_code, role
        assert (outside if permitted(role, Family.RESIDENTS, "read") else 403) == (
            await client.get(f"/residents/{resident_b}")).status_code, role
        assert "console" in header


async def test_register_accept_and_command_a_charger(csms: Csms,
                                                     client: httpx.AsyncClient) -> None:
    """An operator registers a charger (Pending), accepts it from the list, gives it a
    password (shown once) and sends a reset while it is offline: the answer is the API's
    409, shown on the page."""
    place = await new_place(csms, "己")
    await add_user(csms, "ops", "operator")
    await login(client, "ops")
    html = (await client.get("/chargers")).text
    csrf = field(html, "register", "csrf")
    made = await client.post("/chargers", data={"csrf": csrf, "station_id": "CP-NEW",
                                                "site_id": str(place.site_id)})
    assert "/console/chargers/CP-NEW" == made.headers["location"]
    await client.post("/chargers/CP-NEW/registration",
                      data={"csrf": csrf, "registration": "Pending"})
    pending = (await client.get("/chargers?registration=Pending")).text
    assert 'id="row-CP-NEW"' in pending
    assert "accept" in pending
    await client.post("/chargers/CP-NEW/registration",
                      data={"csrf": csrf, "registration": "Accepted"})
    page = (await client.get("/chargers/CP-NEW")).text
    assert '<strong id="registration">Accepted</strong>' in page
    secret = await client.post("/chargers/CP-NEW/password", data={"csrf": csrf})
    found = re.search(r'"password": "([^"]+)"', secret.text.replace("&#34;", '"'))
    assert found is not None
    assert len(found[1]) >= 16
    answer = await client.post("/chargers/CP-NEW/commands/reset",
                               data={"csrf": csrf, "kind": "Soft"})
    assert 200 == answer.status_code
    assert "HTTP 409" in answer.text
    assert 404 == (await client.post("/chargers/CP-NEW/commands/nope",
                                     data={"csrf": csrf})).status_code
    assert 422 == (await client.post("/chargers/CP-NEW/commands/unlock",
                                     data={"csrf": csrf, "evse_id": "x"})).status_code
    overview = (await client.get("/overview")).text
    assert "己车棚" in overview
