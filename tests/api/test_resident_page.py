"""The resident page behind the QR code, against the real server and the simulator, both
databases: PINs set by the operator, wrong PINs refused and counted, throttling (429), a
start the charger sees as a remote start, live figures, a stop, and no way into another
resident's session; the QR code and the PIN endpoints."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
from sqlalchemy import select

from csms.api.access import Role
from csms.app import Csms
from csms.resident.cookie import NAME
from csms.store import tables as t
from csms.store.billing.admin import BillingAdmin, PackageSpec
from csms.store.resident_pins.tables import resident_pins
from simulators.station import SimStation
from tests.api.conftest import TokenFactory, bearer
from tests.conftest import eventually, ocpp_url
from tests.e2e.test_billing_flows import Place, new_place, top_up, yunnan_tariff

PAGE = "/console/r/CP-R/1"
T0 = datetime(2026, 11, 1, tzinfo=UTC)


def csrf_of(html: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', html)
    assert found is not None, html[:500]
    return found.group(1)


async def set_pin(http: httpx.AsyncClient, secret: str, card: str, pin: str) -> httpx.Response:
    return await http.put(f"/id-tokens/{card}/pin", json={"pin": pin}, headers=bearer(secret))


@pytest.fixture
async def place(csms: Csms, http: httpx.AsyncClient, token: TokenFactory) -> Place:
    """A charger CP-R on a site with the Yunnan tariff; card RES-A (PIN 2468, 50 yuan) and
    card RES-B (PIN 1357) of another resident."""
    mine = await new_place(csms, "CP-R", "RES-A")
    other = await new_place(csms, "CP-OTHER", "RES-B", name="乙")
    await yunnan_tariff(csms, mine)
    await top_up(csms, mine, "50.00", T0, "top-up:1")
    operator = await token(Role.OPERATOR)
    for card, pin in (("RES-A", "2468"), ("RES-B", "1357")):
        assert 200 == (await set_pin(http, operator, card, pin)).status_code
    del other
    return mine


async def resident(csms: Csms) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{csms.api_port}",
                                 timeout=30) as client:
        yield client


@pytest.fixture
async def phone(csms: Csms) -> AsyncIterator[httpx.AsyncClient]:
    async for client in resident(csms):
        yield client


@pytest.fixture
async def other_phone(csms: Csms) -> AsyncIterator[httpx.AsyncClient]:
    async for client in resident(csms):
        yield client


async def sign_in(client: httpx.AsyncClient, card: str, pin: str,
                  page: str = PAGE) -> httpx.Response:
    csrf = csrf_of((await client.get(page)).text)
    return await client.post(f"{page}/sign-in", data={"card": card, "pin": pin, "csrf": csrf})


async def post(client: httpx.AsyncClient, path: str, **form: Any) -> httpx.Response:
    csrf = csrf_of((await client.get(PAGE)).text)
    return await client.post(path, data={"csrf": csrf, **form},
                             headers={"Accept": "application/json"})


async def failures(csms: Csms, card: str) -> int:
    async with csms.engine.connect() as conn:
        return int((await conn.execute(select(resident_pins.c.failures).where(
            resident_pins.c.id_token == card))).scalar_one())


class TestSignIn:
    async def test_the_page_shows_status_and_price_without_signing_in(
        self, csms: Csms, place: Place, phone: httpx.AsyncClient
    ) -> None:
        """Chinese by default, English on asking; the price now; a sign-in form; the
        cookie is HttpOnly, SameSite and scoped to the page's path."""
        answer = await phone.get(PAGE)
        assert 200 == answer.status_code
        assert "扫码充电" in answer.text
        assert "当前电价" in answer.text
        assert "元/度" in answer.text
        assert 'action="/console/r/CP-R/1/sign-in"' in answer.text
        cookie = answer.headers["set-cookie"].lower()
        assert "httponly" in cookie
        assert "samesite=lax" in cookie
        assert "path=/console/r" in cookie
        assert "frame-ancestors 'none'" in answer.headers["content-security-policy"]
        english = await phone.get(PAGE, params={"lang": "en"})
        assert "Price now" in english.text
        assert "Sign in" in english.text
        assert 404 == (await phone.get("/console/r/NOPE/1")).status_code

    async def test_a_wrong_pin_is_refused_and_counted(
        self, csms: Csms, place: Place, phone: httpx.AsyncClient
    ) -> None:
        """401, no signed-in cookie, the card's failure count goes up; an unknown card gets
        the same answer; the right PIN then signs in."""
        wrong = await post(phone, f"{PAGE}/sign-in", card="RES-A", pin="0000")
        assert (401, "pin") == (wrong.status_code, wrong.json()["outcome"])
        assert 1 == await failures(csms, "RES-A")
        unknown = await post(phone, f"{PAGE}/sign-in", card="NO-SUCH-CARD", pin="0000")
        assert (401, "pin") == (unknown.status_code, unknown.json()["outcome"])
        assert (await phone.get(f"{PAGE}/live.json")).json()["account"] is None
        right = await sign_in(phone, "res-a", "2468")  # any spelling of the card
        assert 303 == right.status_code
        account = (await phone.get(f"{PAGE}/live.json")).json()["account"]
        assert ("RES-A", "50.00") == (account["card"], account["wallet_yuan"])

    async def test_the_account_shows_wallet_and_package_left(
        self, csms: Csms, place: Place, phone: httpx.AsyncClient
    ) -> None:
        """Signed in: the wallet in yuan with 2 decimals and the package in force now
        (this month's and next month's subscriptions, so any instant has one in force)."""
        admin = BillingAdmin(csms.store.writer)
        package = await admin.create_package(PackageSpec(
            "night-60", "夜间60度", Decimal("0"), Decimal("60"), "both",
            (place.community_id,)), T0, "test")
        now = csms.stations.now().astimezone(ZoneInfo("Asia/Shanghai"))
        for year, month in ((now.year, now.month),
                            (now.year + now.month // 12, now.month % 12 + 1)):
            await admin.subscribe(place.resident_id, package, year, month, T0, "test")
        assert 303 == (await sign_in(phone, "RES-A", "2468")).status_code
        account = (await phone.get(f"{PAGE}/live.json")).json()["account"]
        assert ("50.00", "0.00") == (account["wallet_yuan"], account["owed_yuan"])
        assert [("夜间60度", "60.00", "60.00")] == [
            (p["name"], p["remaining_kwh"], p["included_kwh"]) for p in account["packages"]]
        page = (await phone.get(PAGE)).text
        assert "夜间60度" in page
        assert "50.00 元" in page

    async def test_too_many_wrong_pins_get_429_even_with_the_right_one(
        self, csms: Csms, place: Place, phone: httpx.AsyncClient
    ) -> None:
        """After pin_failures_per_card wrong PINs the card is locked: 429 with Retry-After,
        also for the right PIN, while another card still signs in."""
        for _ in range(csms.settings.resident.pin_failures_per_card):
            answer = await post(phone, f"{PAGE}/sign-in", card="RES-A", pin="9999")
            assert 401 == answer.status_code
        locked = await post(phone, f"{PAGE}/sign-in", card="RES-A", pin="2468")
        assert 429 == locked.status_code
        assert int(locked.headers["retry-after"]) > 0
        other = await post(phone, f"{PAGE}/sign-in", card="RES-B", pin="1357")
        assert 200 == other.status_code

    async def test_guesses_sent_at_once_get_no_more_checks_than_the_bucket_holds(
        self, csms: Csms, place: Place, phone: httpx.AsyncClient
    ) -> None:
        """Twelve wrong PINs for one card at once: at most pin_failures_per_card are
        checked (401, each counted), the rest are 429."""
        csrf = csrf_of((await phone.get(PAGE)).text)
        answers = await asyncio.gather(*(phone.post(
            f"{PAGE}/sign-in", data={"card": "RES-A", "pin": f"{1000 + i}", "csrf": csrf},
            headers={"Accept": "application/json"}) for i in range(12)))
        codes = [a.status_code for a in answers]
        assert {401, 429} >= set(codes)
        assert codes.count(401) <= csms.settings.resident.pin_failures_per_card
        assert codes.count(401) == await failures(csms, "RES-A")

    async def test_a_form_without_its_csrf_token_is_refused(
        self, csms: Csms, place: Place, phone: httpx.AsyncClient
    ) -> None:
        """403 without the token or with another visit's token; nothing is counted."""
        await phone.get(PAGE)
        bare = await phone.post(f"{PAGE}/sign-in", data={"card": "RES-A", "pin": "2468"})
        assert 403 == bare.status_code
        forged = await phone.post(f"{PAGE}/sign-in", data={
            "card": "RES-A", "pin": "2468", "csrf": "x" * 43})
        assert 403 == forged.status_code
        assert 0 == await failures(csms, "RES-A")


    async def test_odd_requests_are_refused_not_errors(
        self, csms: Csms, place: Place, phone: httpx.AsyncClient
    ) -> None:
        """An oversized or field-stuffed form, bytes that are not UTF-8, connector 0 or
        beyond 99, a forged cookie: 4xx, never a server error."""
        csrf = csrf_of((await phone.get(PAGE)).text)
        bodies = [b"csrf=" + csrf.encode() + b"&card=" + b"A" * 10_000,
                  "&".join(f"f{i}=1" for i in range(50)).encode(), b"\xff\xfe=\x80"]
        for body in bodies:
            answer = await phone.post(f"{PAGE}/sign-in", content=body, headers={
                "Content-Type": "application/x-www-form-urlencoded"})
            assert 403 == answer.status_code
        for path in ("/console/r/CP-R/0", "/console/r/CP-R/100", "/console/r/CP-R/x"):
            assert (await phone.get(path)).status_code in (404, 422)
        phone.cookies.set(NAME, "e30." + "A" * 43, path="/console/r")
        assert 200 == (await phone.get(PAGE)).status_code


class TestCharging:
    @pytest.mark.parametrize("version", ["ocpp1.6", "ocpp2.0.1"])
    async def test_start_watch_and_stop(
        self, csms: Csms, place: Place, phone: httpx.AsyncClient,
        other_phone: httpx.AsyncClient, version: str
    ) -> None:
        """The charger gets a remote start with the card; the page shows energy, power
        and cost; another resident sees nothing of it and cannot stop it; stop works."""
        sim = SimStation("CP-R", version, ocpp_url(csms))
        async with sim.running():
            await sim.boot()
            await sim.send_status(1, "Available")
            assert 303 == (await sign_in(phone, "RES-A", "2468")).status_code
            started = await post(phone, f"{PAGE}/start")
            assert (200, "started") == (started.status_code, started.json()["outcome"])
            [(_, request)] = [m for m in sim.received
                              if m[0] in ("RequestStartTransaction", "RemoteStartTransaction")]
            if version == "ocpp1.6":
                assert ("RES-A", 1) == (request["idTag"], request["connectorId"])
            else:
                assert ("RES-A", 1) == (request["idToken"]["idToken"], request["evseId"])
            await eventually(lambda: _sessions(phone), lambda s: len(s) == 1)
            await sim.send_meter_values(1, energy_wh=1500.0, power_w=7000.0)
            [session] = await eventually(
                lambda: _sessions(phone), lambda s: bool(s) and s[0]["energy_kwh"] == "1.50")
            assert "7.0" == session["power_kw"]
            assert re.fullmatch(r"\d+\.\d\d", session["cost_yuan"])

            assert 303 == (await sign_in(other_phone, "RES-B", "1357")).status_code
            assert [] == await _sessions(other_phone)
            theirs = await post(other_phone, f"{PAGE}/stop", session_id=session["id"])
            assert 404 == theirs.status_code
            assert sim.transaction(1) is not None

            stopped = await post(phone, f"{PAGE}/stop", session_id=session["id"])
            assert (200, "stop.sent") == (stopped.status_code, stopped.json()["outcome"])
            await eventually(lambda: _sessions(phone), lambda s: s == [])
        async with csms.engine.connect() as conn:
            row = (await conn.execute(select(t.sessions).where(
                t.sessions.c.id == session["id"]))).one()
        assert ("RES-A", "ended") == (row.id_token, row.status)

    async def test_a_busy_connector_or_a_signed_out_visit_starts_nothing(
        self, csms: Csms, place: Place, phone: httpx.AsyncClient
    ) -> None:
        """A connector charging for someone else: 409 busy; without signing in: 401."""
        sim = SimStation("CP-R", "ocpp1.6", ocpp_url(csms))
        async with sim.running():
            await sim.boot()
            anonymous = await post(phone, f"{PAGE}/start")
            assert 401 == anonymous.status_code
            await sim.start_transaction(1, "RES-B")
            await sim.send_status(1, "Charging")
            assert 303 == (await sign_in(phone, "RES-A", "2468")).status_code
            busy = await post(phone, f"{PAGE}/start")
            assert (409, "busy") == (busy.status_code, busy.json()["outcome"])
        assert not [m for m in sim.received if m[0] == "RemoteStartTransaction"]


async def _sessions(client: httpx.AsyncClient) -> list[dict[str, Any]]:
    account = (await client.get(f"{PAGE}/live.json")).json()["account"]
    return list(account["sessions"])


class TestOperator:
    async def test_pins_are_hashed_scoped_and_audited(
        self, csms: Csms, place: Place, http: httpx.AsyncClient, token: TokenFactory,
        phone: httpx.AsyncClient
    ) -> None:
        """Only a scrypt hash is stored; a property token of another community gets 403;
        a new PIN ends the visits signed in with the old one; a PIN is 4-8 digits."""
        async with csms.engine.connect() as conn:
            stored = (await conn.execute(select(resident_pins.c.pin_hash).where(
                resident_pins.c.id_token == "RES-A"))).scalar_one()
        assert stored.startswith("scrypt$")
        assert "2468" not in stored
        elsewhere = await token(Role.PROPERTY, community_id=place.community_id + 1)
        assert 403 == (await set_pin(http, elsewhere, "RES-A", "1111")).status_code
        operator = await token(Role.OPERATOR)
        assert 422 == (await set_pin(http, operator, "RES-A", "12ab")).status_code
        assert 303 == (await sign_in(phone, "RES-A", "2468")).status_code
        assert (await phone.get(f"{PAGE}/live.json")).json()["account"] is not None
        assert 200 == (await set_pin(http, operator, "RES-A", "97531")).status_code
        assert (await phone.get(f"{PAGE}/live.json")).json()["account"] is None
        shown = (await http.get("/id-tokens/RES-A/pin", headers=bearer(operator))).json()
        assert (0, "RES-A") == (shown["failures"], shown["id_token"])
        assert 204 == (await http.delete("/id-tokens/RES-A/pin",
                                         headers=bearer(operator))).status_code
        assert 404 == (await http.get("/id-tokens/RES-A/pin",
                                      headers=bearer(operator))).status_code
        async with csms.engine.connect() as conn:
            actions = (await conn.execute(select(t.audit_log.c.action).where(
                t.audit_log.c.resource_id == "RES-A"))).scalars().all()
        assert {"set_pin", "clear_pin"} <= set(actions)

    async def test_the_qr_code_points_at_the_connector_page(
        self, csms: Csms, place: Place, http: httpx.AsyncClient, token: TokenFactory
    ) -> None:
        """A PNG whose target is <base>/console/r/<charger>/<connector>; scoped."""
        operator = await token(Role.OPERATOR)
        answer = await http.get("/console/chargers/CP-R/qr.png", params={"connector": 2},
                                headers=bearer(operator))
        assert 200 == answer.status_code
        assert answer.content.startswith(b"\x89PNG")
        assert answer.headers["x-target-url"].endswith("/console/r/CP-R/2")
        elsewhere = await token(Role.PROPERTY, community_id=place.community_id + 1)
        assert 403 == (await http.get("/console/chargers/CP-R/qr.png",
                                      headers=bearer(elsewhere))).status_code
        assert 401 == (await http.get("/console/chargers/CP-R/qr.png")).status_code

    async def test_a_deleted_card_takes_its_pin_with_it(
        self, csms: Csms, place: Place, http: httpx.AsyncClient, token: TokenFactory
    ) -> None:
        """Deleting an id token with a PIN works and deletes the PIN (cascade), so a card
        registered again under that number has none."""
        admin = await token(Role.ADMIN)
        assert 204 == (await http.delete("/id-tokens/RES-B", headers=bearer(admin))).status_code
        async with csms.engine.connect() as conn:
            left = (await conn.execute(select(resident_pins.c.id_token))).scalars().all()
        assert ["RES-A"] == list(left)
