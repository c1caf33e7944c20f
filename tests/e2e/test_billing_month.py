"""A simulated month of charging through the real server (simulator, injected clock, both
databases): the operator sets up prices over the API, residents charge, the statements
reconcile with the ledger and the sessions."""

from __future__ import annotations

import csv
import io
from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
from sqlalchemy import select

from csms.api.access import Role
from csms.api.tokens import new_token
from csms.app import Csms, running
from csms.config import BillingSettings
from csms.store import tables as t
from simulators.station import SimStation
from tests.conftest import make_settings, ocpp_url
from tests.e2e.test_billing_flows import YUNNAN_FILE, drive_session, new_place

SHANGHAI = ZoneInfo("Asia/Shanghai")
NOV_1 = datetime(2026, 11, 1, 9, 0, tzinfo=SHANGHAI)
# (day, local start hour:minute, minutes, power W): valley, evening and cross-midnight ones.
SESSIONS = [(2, 1, 0, 120, 7000), (4, 19, 30, 90, 7000), (7, 23, 30, 90, 7000),
            (11, 2, 15, 180, 3500), (15, 18, 0, 60, 7000), (19, 22, 0, 240, 7000),
            (23, 5, 0, 60, 7000), (28, 12, 0, 45, 3500), (30, 23, 0, 120, 7000)]


class Clock:
    """The CSMS's clock, set by the test (API writes happen 'when' the test says)."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
async def month(database_url: str) -> AsyncIterator[tuple[Csms, Clock]]:
    clock = Clock(NOV_1)
    settings = make_settings(database_url).model_copy(update={"billing": BillingSettings(
        min_balance_yuan=Decimal("1.00"))})
    async with running(settings, clock=clock) as app:
        yield app, clock


async def api(app: Csms) -> tuple[httpx.AsyncClient, dict[str, str]]:
    secret, record = new_token(Role.OPERATOR, created_by="test", now=app.stations.now())
    await app.access.add_token(record)
    client = httpx.AsyncClient(base_url=f"http://127.0.0.1:{app.api_port}", timeout=10)
    return client, {"Authorization": f"Bearer {secret}"}


async def ok(response: httpx.Response, status: int = 200) -> Any:
    assert status == response.status_code, response.text
    return response.json() if "json" in response.headers["content-type"] else response.text


def tariff_body(community_id: int) -> dict[str, Any]:
    import tomllib

    body = tomllib.loads(YUNNAN_FILE.read_text(encoding="utf-8"))
    body["effective_from"] = body["effective_from"].isoformat()
    return {**body, "community_id": community_id}


@pytest.mark.parametrize("version", ["ocpp1.6", "ocpp2.0.1"])
async def test_a_month_of_sessions_reconciles(month: tuple[Csms, Clock], version: str) -> None:
    """Nine sessions in November and one in December, a valley package of 20 kWh bought
    from a 200 yuan top-up: the November statement's opening balance plus its movements is
    its closing balance, equal to the ledger at the month's end; each session's details sum
    to its totals; its energy is the session's; the wallet paid exactly what the packages
    left; package use never exceeds the package; JSON and CSV agree."""
    app, clock = month
    place = await new_place(app, "CP-M", "CARD-M")
    http, auth = await api(app)
    async with http:
        await ok(await http.post("/tariffs", headers=auth,
                                 json=tariff_body(place.community_id)), 201)
        package = await ok(await http.post("/packages", headers=auth, json={
            "code": "valley-20", "name": "谷时 20 度", "price_yuan": "30.00",
            "included_kwh": "20", "coverage": "both", "periods": ["valley"],
            "communities": [place.community_id]}), 201)
        wallet = f"/residents/{place.resident_id}/wallet"
        await ok(await http.post(f"{wallet}/top-ups", headers=auth,
                                 json={"amount_yuan": "200.00", "ref": "pay-1"}), 201)
        await ok(await http.post(f"/residents/{place.resident_id}/subscriptions", headers=auth,
                                 json={"package_id": package["id"], "month": "2026-11"}), 201)
        sim = SimStation("CP-M", version, ocpp_url(app))
        register = 50_000.0
        async with sim.running():
            await sim.boot()
            for day, hour, minute, minutes, power in [*SESSIONS, (33, 20, 0, 60, 7000)]:
                start = datetime(2026, 11, 1, hour, minute, tzinfo=SHANGHAI) + timedelta(
                    days=day - 1)
                clock.now = start
                register = await drive_session(sim, "CARD-M", start, minutes, power, register,
                                               step_min=30)
            clock.now = datetime(2026, 12, 3, 21, 0, tzinfo=SHANGHAI)
            await ok(await http.post(f"{wallet}/top-ups", headers=auth,
                                     json={"amount_yuan": "50.00", "ref": "pay-2"}), 201)
        statement = await ok(await http.get(
            f"/residents/{place.resident_id}/statements/2026-11", headers=auth))
        text = await ok(await http.get(
            f"/residents/{place.resident_id}/statements/2026-11", headers=auth,
            params={"format": "csv"}))
        december = await ok(await http.get(
            f"/residents/{place.resident_id}/statements/2026-12", headers=auth))
        now = await ok(await http.get(wallet, headers=auth))
    ended_in_november = [
        d for d, h, m, minutes, _ in SESSIONS
        if (datetime(2026, 11, d, h, m, tzinfo=SHANGHAI) + timedelta(minutes=minutes)).month == 11]
    assert 8 == len(ended_in_november)  # the last one ends on 1 December: posted then
    await check_statement(app, statement, len(ended_in_november))
    assert 2 == len(december["sessions"])
    assert statement["closing_balance_yuan"] == december["opening_balance_yuan"]
    assert Decimal(december["closing_balance_yuan"]) == Decimal(now["balance_yuan"])
    assert Decimal(december["closing_balance_yuan"]) == sum(
        (Decimal(m["amount_yuan"]) for m in [*statement["movements"], *december["movements"]]
         if m["account"] == "wallet"), Decimal(0))
    check_csv(statement, text)


async def check_statement(app: Csms, statement: dict[str, Any], sessions: int) -> None:
    movements = [m for m in statement["movements"] if m["account"] == "wallet"]
    assert Decimal(statement["opening_balance_yuan"]) + sum(
        (Decimal(m["amount_yuan"]) for m in movements), Decimal(0)) == Decimal(
        statement["closing_balance_yuan"])
    assert Decimal("0") <= Decimal(statement["closing_balance_yuan"])
    assert sessions == len(statement["sessions"])
    async with app.engine.connect() as conn:
        rows = await conn.execute(select(t.sessions.c.id, t.sessions.c.energy_wh))
        energy = {row.id: row.energy_wh for row in rows}
    charged = Decimal(0)
    for s in statement["sessions"]:
        details = s["details"]
        for field in ("energy_kwh", "electricity_yuan", "service_yuan"):
            assert Decimal(s[field]) == sum((Decimal(d[field]) for d in details), Decimal(0))
        assert Decimal(s["total_yuan"]) == Decimal(s["electricity_yuan"]) + Decimal(
            s["service_yuan"])
        assert Decimal(s["energy_kwh"]) == Decimal(str(energy[s["session_id"]])) / 1000
        assert Decimal(s["due_yuan"]) == Decimal(s["wallet_yuan"]) + Decimal(s["shortfall_yuan"])
        assert Decimal(s["due_yuan"]) <= Decimal(s["total_yuan"])
        paid = -sum((Decimal(m["amount_yuan"]) for m in movements
                     if m["session_id"] == s["session_id"]), Decimal(0))
        assert Decimal(s["wallet_yuan"]) == paid
        charged += Decimal(s["due_yuan"])
    assert charged == Decimal(statement["charged_yuan"])
    [use] = statement["packages"]
    package_kwh = sum((Decimal(s["package_kwh"]) for s in statement["sessions"]), Decimal(0))
    assert Decimal(use["used_in_month_kwh"]) == package_kwh
    assert Decimal("20") == Decimal(use["used_in_month_kwh"]) + Decimal(use["remaining_kwh"])
    assert Decimal(0) <= Decimal(use["remaining_kwh"])
    assert Decimal(0) < package_kwh  # the valley sessions did use it


def check_csv(statement: dict[str, Any], text: str) -> None:
    rows = list(csv.DictReader(io.StringIO(text)))
    summary = {r["kind"]: r["amount_yuan"] for r in rows if r["line"] == "summary"}
    assert statement["closing_balance_yuan"] == summary["closing_balance"]
    moves = [r for r in rows if r["line"] == "movement"]
    assert [m["amount_yuan"] for m in statement["movements"]] == [m["amount_yuan"]
                                                                   for m in moves]
    details = [r for r in rows if r["line"] == "detail"]
    assert sum(len(s["details"]) for s in statement["sessions"]) == len(details)
