"""The monthly district report end to end: sessions through the real server (raw OCPP 1.6
frames over WebSockets), the scheduler on an injected clock, the stored XLSX opened with
openpyxl and checked against the database and against what the chargers sent; scope."""

from __future__ import annotations

import io
import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import openpyxl
import pytest
from sqlalchemy import func, select

from csms import cli
from csms.api.access import Role
from csms.app import Csms, running
from csms.domain.model import AuthorizationStatus
from csms.services.city.monthly_reports import Reports
from csms.store import tables as t
from csms.store.city.tables import charger_connections, monthly_reports
from csms.store.sharing.tables import webhook_outbox
from tests.api.conftest import TokenFactory, bearer
from tests.api.test_organisation import cli_db, ok  # noqa: F401 - cli_db is a fixture
from tests.conftest import eventually, make_settings
from tests.integration.test_server import BOOT_16, call, raw

Headers = dict[str, str]
NOV_START = datetime(2026, 10, 31, 16, 0, tzinfo=UTC)  # 2026-11-01 00:00 Asia/Shanghai
NOV_END = datetime(2026, 11, 30, 16, 0, tzinfo=UTC)
DUE = datetime(2026, 12, 19, 18, 0, tzinfo=UTC)  # 2026-12-20 02:00 local: [reports] default
MONTH_H = 720


class Clock:
    def __init__(self, at: datetime) -> None:
        self.at = at

    def __call__(self) -> datetime:
        return self.at


@pytest.fixture
def clock() -> Clock:
    return Clock(datetime(2026, 12, 1, 0, 0, tzinfo=UTC))


@pytest.fixture
async def csms(database_url: str, clock: Clock) -> AsyncIterator[Csms]:
    """A running CSMS on the injected clock, its report scheduler left to the tests."""
    async with running(make_settings(database_url), clock) as app:
        yield app


def z(at: datetime) -> str:
    return at.isoformat().replace("+00:00", "Z")


async def place(http: httpx.AsyncClient, admin: Headers, code: str, name: str,
                target: int) -> dict[str, int]:
    d = await ok(await http.post("/districts", headers=admin, json={
        "name": name, "code": code, "short_name": name[:2], "pilot_target": target}), 201)
    c = await ok(await http.post("/communities", headers=admin, json={
        "district_id": d["id"], "name": f"{name}小区", "latitude": 25.04,
        "longitude": round(102.70 + target / 100, 6)}), 201)
    s = await ok(await http.post("/sites", headers=admin, json={
        "community_id": c["id"], "name": f"{name}车棚"}), 201)
    return {"district": d["id"], "community": c["id"], "site": s["id"]}


async def status(ws: Any, state: str, at: datetime, mid: str) -> None:
    assert [3, mid, {}] == await call(ws, "StatusNotification", {
        "connectorId": 1, "errorCode": "NoError" if state != "Faulted" else "GroundFailure",
        "status": state, "timestamp": z(at)}, mid)


async def session(ws: Any, start: datetime, stop: datetime, wh: int, mid: str) -> None:
    answer = await call(ws, "StartTransaction", {"connectorId": 1, "idTag": "TAG",
                                                 "meterStart": 1000, "timestamp": z(start)},
                        f"{mid}a")
    tx = answer[2]["transactionId"]
    await call(ws, "StopTransaction", {"transactionId": tx, "meterStop": 1000 + wh,
                                       "timestamp": z(stop), "reason": "Local"}, f"{mid}b")


async def simulate_month(csms: Csms, http: httpx.AsyncClient, admin: Headers,
                         moved: Clock) -> tuple[dict[str, int], dict[str, int]]:
    """Two districts with a charger each; November as the chargers report it."""
    a = await place(http, admin, "530102", "五华区", 4)
    b = await place(http, admin, "530103", "盘龙区", 2)
    for station, p in (("CP-A", a), ("CP-B", b)):
        await ok(await http.post("/charge-points", headers=admin, json={
            "id": station, "site_id": p["site"]}), 201)
    await csms.store.put_token("TAG", AuthorizationStatus.ACCEPTED)
    async with raw(csms, "CP-A") as ws:
        await call(ws, "BootNotification", BOOT_16)
        await status(ws, "Available", NOV_START - timedelta(days=11), "s0")  # carried in
        # ends in November (local), started in October: counts
        await session(ws, NOV_START - timedelta(hours=1), NOV_START + timedelta(hours=1),
                      7000, "t1")
        await status(ws, "Faulted", NOV_START + timedelta(days=9), "s1")  # 12 h unusable
        await status(ws, "Available", NOV_START + timedelta(days=9, hours=12), "s2")
        # ends in December (local): does not count
        await session(ws, NOV_END - timedelta(hours=1), NOV_END + timedelta(hours=1),
                      5000, "t2")
    # CP-B's connections as the CSMS logs them (its clock): offline Nov 20, 00:00-06:00 UTC
    await eventually(lambda: connections(csms, "CP-A"), lambda n: n == 2)  # at Dec 1
    before = moved.at
    moved.at = NOV_START + timedelta(days=19, hours=8)
    async with raw(csms, "CP-B") as ws:
        await call(ws, "BootNotification", BOOT_16)
        await status(ws, "Available", NOV_START + timedelta(hours=8), "s0")  # unknown before
        await session(ws, NOV_START + timedelta(days=14), NOV_START + timedelta(
            days=14, hours=3, minutes=30), 12345, "t3")
    await eventually(lambda: connections(csms, "CP-B"), lambda n: n == 2)
    moved.at += timedelta(hours=6)
    async with raw(csms, "CP-B") as ws:
        await call(ws, "Heartbeat", {})
        await eventually(lambda: connections(csms, "CP-B"), lambda n: n == 3)
        moved.at = before
    await eventually(lambda: connections(csms, "CP-B"), lambda n: n == 4)
    return a, b


async def connections(csms: Csms, station: str) -> int:
    c = charger_connections
    async with csms.engine.connect() as conn:
        return int((await conn.execute(select(func.count()).select_from(c).where(
            c.c.station_id == station))).scalar_one())


async def db_sessions(csms: Csms, station: str) -> tuple[int, float]:
    s = t.sessions
    async with csms.engine.connect() as conn:
        row = (await conn.execute(select(func.count(), func.sum(s.c.energy_wh)).where(
            s.c.station_id == station, s.c.ended_at >= NOV_START,
            s.c.ended_at < NOV_END))).one()
    return int(row[0]), float(row[1] or 0)


def summary(content: bytes) -> tuple[list[str], dict[str, list[Any]], list[str]]:
    book = openpyxl.load_workbook(io.BytesIO(content))
    rows = list(book["汇总"].iter_rows(values_only=True))
    headings = [str(h) for h in rows[0]]
    return headings, {str(r[headings.index("区域")]): list(r) for r in rows[1:]}, \
        book.sheetnames


async def test_the_november_report_agrees_with_the_database_and_the_chargers(
        csms: Csms, http: httpx.AsyncClient, token: TokenFactory, clock: Clock) -> None:
    admin = bearer(await token(Role.ADMIN))
    a, _ = await simulate_month(csms, http, admin, clock)
    await ok(await http.post("/webhooks/subscriptions", headers=admin, json={
        "url": "http://127.0.0.1:9/hook", "secret": "s" * 16, "kinds": ["report"],
        "district_id": a["district"]}), 201)
    reports = csms.monthly_reports
    assert reports is not None
    clock.at = DUE - timedelta(minutes=1)
    assert await reports.tick() is None  # not yet the 20th, 02:00 local
    clock.at = DUE
    assert "2026-11" == await reports.tick()
    assert await reports.tick() is None  # stored already
    clock.at = DUE + timedelta(days=25)  # 2027-01-14: December's day has not come
    assert await reports.tick() is None
    assert reports.next_due() == datetime(2027, 1, 19, 18, 0, tzinfo=UTC)

    got = await http.get("/reports/monthly/2026-11/stored", headers=admin)
    assert 200 == got.status_code, got.text
    headings, rows, sheets = summary(got.content)
    assert sheets == ["汇总", "五华", "盘龙"]
    assert set(rows) == {"五华区", "盘龙区", "全市"}

    def cell(district: str, heading: str) -> Any:
        return rows[district][headings.index(heading)]

    for district, station, sent_wh, hours, down_h in (("五华区", "CP-A", 7000, 2, 12),
                                                      ("盘龙区", "CP-B", 12345, 3.5, 8 + 6)):
        count, wh = await db_sessions(csms, station)
        assert cell(district, "充电次数(次)") == count == 1
        assert Decimal(str(cell(district, "充电电量(kWh)"))) == Decimal(round(wh)) / 1000 \
            == Decimal(sent_wh) / 1000
        assert cell(district, "充电时长(小时)") == hours
        expected = (Decimal(MONTH_H - down_h) / MONTH_H * 100).quantize(Decimal("0.01"))
        assert Decimal(str(cell(district, "接口可用率(%)"))) == expected
        assert cell(district, "充电桩数(台)") == 1
        assert cell(district, "已建成小区(个)") == 1
        assert cell(district, "月末接口状态·Available(个)") == 1
    assert cell("全市", "充电次数(次)") == 2
    assert Decimal(str(cell("全市", "充电电量(kWh)"))) == Decimal("19.345")
    assert cell("五华区", "试点目标完成率(%)") == 25  # 1 of 4
    assert cell("五华区", "告警·二级(设备)(条)") == \
        await alarms_of(csms, a["district"], 2)

    async with csms.engine.connect() as conn:
        stored = (await conn.execute(select(monthly_reports.c.format, monthly_reports.c.sha256,
                                            monthly_reports.c.district_id))).all()
        notices = (await conn.execute(select(webhook_outbox.c.payload).where(
            webhook_outbox.c.kind == "report"))).all()
    assert len(stored) == 3 * 3  # the city and two districts, three formats each
    assert got.headers["x-content-sha256"] in {row.sha256 for row in stored}
    [notice] = notices  # the district subscription hears of its own district only
    assert notice.payload["data"]["month"] == "2026-11"
    assert notice.payload["district_id"] == a["district"]
    assert {f["format"] for f in notice.payload["data"]["files"]} == {"xlsx", "csv", "json"}


async def alarms_of(csms: Csms, district_id: int, level: int) -> int:
    from csms.store.safety.tables import alarms

    async with csms.engine.connect() as conn:
        return int((await conn.execute(select(func.count()).select_from(alarms).where(
            alarms.c.district_id == district_id, alarms.c.level == level,
            alarms.c.raised_at >= NOV_START, alarms.c.raised_at < NOV_END))).scalar_one())


async def test_a_district_token_reads_only_its_own_district(
        csms: Csms, http: httpx.AsyncClient, token: TokenFactory, clock: Clock) -> None:
    admin = bearer(await token(Role.ADMIN))
    a, b = await simulate_month(csms, http, admin, clock)
    officer = bearer(await token(Role.DISTRICT, district_id=a["district"]))
    for path in ("/reports/monthly/2026-11", "/reports/monthly/2026-11/stored"):
        denied = await http.get(path, headers=officer, params={"district_id": b["district"]})
        assert 403 == denied.status_code
    fresh = await http.get("/reports/monthly/2026-11", headers=officer)  # its own
    assert 200 == fresh.status_code, fresh.text
    _, rows, sheets = summary(fresh.content)
    assert sheets == ["汇总", "五华"]
    assert set(rows) == {"五华区"}
    assert 404 == (await http.get("/reports/monthly/2026-11/stored",
                                  headers=officer)).status_code
    made = await ok(await http.post("/reports/monthly/2026-11/generate", headers=admin))
    assert len(made["reports"]) == 9
    assert 403 == (await http.post("/reports/monthly/2026-11/generate",
                                   headers=officer)).status_code
    listed = await ok(await http.get("/reports/monthly", headers=officer))
    assert {r["district_id"] for r in listed} == {a["district"]}
    csv = await http.get("/reports/monthly/2026-11/stored", headers=officer,
                         params={"format": "csv"})
    assert 200 == csv.status_code
    assert "充电电量(kWh)" in csv.content.decode("utf-8-sig").splitlines()[0]
    body = await ok(await http.get("/reports/monthly/2026-11", headers=officer,
                                   params={"format": "json"}))
    assert body["districts"][0]["energy_kwh"] == "7.000"
    assert body["city"] is None
    resident = bearer(await token(Role.PROPERTY, community_id=a["community"]))
    assert 403 == (await http.get("/reports/monthly/2026-11", headers=resident)).status_code
    assert 422 == (await http.get("/reports/monthly/2026-13", headers=admin)).status_code
    for month in ("0000-01", "1969-12", "3000-01"):  # datetime has no year 0 (was a 500)
        assert 422 == (await http.post(f"/reports/monthly/{month}/generate",
                                       headers=admin)).status_code
        assert 422 == (await http.get(f"/reports/monthly/{month}", headers=admin)).status_code


async def test_the_scheduler_catches_up_a_missed_day(database_url: str) -> None:
    """Started on the 23rd without November's report: generates it once; no dependence on
    today's date (the clock is injected), no sleeping."""
    clock = Clock(datetime(2026, 12, 23, 4, 0, tzinfo=UTC))
    settings = make_settings(database_url)
    settings = settings.model_copy(update={"reports": settings.reports.model_copy(
        update={"monthly_day": 22, "hour": 9})})
    async with running(settings, clock) as app:
        reports = Reports(app.engine, app.store.writer, settings, clock)
        clock.at = datetime(2026, 12, 22, 0, 59, tzinfo=UTC)  # 08:59 local on the 22nd
        assert await reports.tick() is None
        clock.at = datetime(2026, 12, 23, 4, 0, tzinfo=UTC)
        assert "2026-11" == await reports.tick()
        assert await reports.tick() is None
        clock.at = datetime(2027, 1, 22, 1, 0, tzinfo=UTC)  # 09:00 local
        assert "2026-12" == await reports.tick()


def test_cli_report_monthly_after_seed_city(cli_db: Path, tmp_path: Path,  # noqa: F811
                                            capsys: pytest.CaptureFixture[str]) -> None:
    """``csms seed city`` then ``csms report monthly --month 2026-11 --district 530102``:
    an XLSX with the district's sheet; the city as JSON on standard output; --store."""
    assert 0 == cli.main(["seed", "city"])
    out = tmp_path / "wuhua.xlsx"
    assert 0 == cli.main(["report", "monthly", "--month", "2026-11", "--district", "530102",
                          "--out", str(out)])
    book = openpyxl.load_workbook(out)
    assert book.sheetnames[0] == "汇总"
    assert len(book.sheetnames) == 2
    headings: list[Any] = [c.value for c in book["汇总"][1]]
    row: list[Any] = [c.value for c in book["汇总"][2]]
    assert row[headings.index("区划代码")] == "530102"
    assert row[headings.index("小区数(个)")] > 0  # the sample communities
    capsys.readouterr()
    assert 0 == cli.main(["report", "monthly", "--month", "2026-11", "--format", "json",
                          "--out", "-"])
    body = json.loads(capsys.readouterr().out)
    assert body["month"] == "2026-11"
    assert len(body["districts"]) >= 7
    assert body["city"]["communities"] == sum(d["communities"] for d in body["districts"])
    assert 0 == cli.main(["report", "monthly", "--month", "2026-11", "--store"])
    assert 2 == cli.main(["report", "monthly", "--month", "2026-1"])
    assert 1 == cli.main(["report", "monthly", "--month", "2026-11", "--district", "nowhere"])
