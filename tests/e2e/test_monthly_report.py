"""The November report of a simulated month (the charger simulator through the real server,
an injected clock, both databases, both OCPP versions): opened as a spreadsheet, its
figures agree with the database and with the sessions the simulator ran."""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import openpyxl
import pytest
from sqlalchemy import func, select

from csms.app import Csms
from csms.store import tables as t
from csms.store.billing import tables as b
from simulators.station import SimStation
from tests.conftest import eventually, ocpp_url
from tests.e2e.test_billing_flows import drive_session, new_place
from tests.e2e.test_billing_month import SESSIONS, SHANGHAI, Clock, api, month, ok, tariff_body

__all__ = ["month"]  # the fixture
NOV = (datetime(2026, 10, 31, 16, 0, tzinfo=UTC), datetime(2026, 11, 30, 16, 0, tzinfo=UTC))


async def db_figures(app: Csms) -> dict[str, Any]:
    s, c, d = t.sessions, b.session_charges, b.session_charge_details
    in_month = (s.c.ended_at >= NOV[0], s.c.ended_at < NOV[1], s.c.status == "ended")
    async with app.engine.connect() as conn:
        count, wh = (await conn.execute(select(func.count(), func.sum(s.c.energy_wh))
                                        .where(*in_month))).one()
        valley = (await conn.execute(select(func.sum(d.c.energy_kwh)).join(
            s, s.c.id == d.c.session_id).where(*in_month, d.c.period == "valley"))).scalar()
        residents = (await conn.execute(select(func.count(func.distinct(c.c.resident_id)))
                                        .join(s, s.c.id == c.c.session_id)
                                        .where(*in_month))).scalar_one()
    return {"sessions": int(count), "wh": round(float(wh)), "valley": Decimal(valley),
            "residents": int(residents)}


@pytest.mark.parametrize("version", ["ocpp1.6", "ocpp2.0.1"])
async def test_november_report_matches_the_database_and_the_simulator(
        month: tuple[Csms, Clock], version: str) -> None:
    app, clock = month
    place = await new_place(app, "CP-R", "CARD-R")
    http, auth = await api(app)
    ran: list[tuple[datetime, datetime, float]] = []  # what the simulator did
    async with http:
        await ok(await http.post("/tariffs", headers=auth,
                                 json=tariff_body(place.community_id)), 201)
        package = await ok(await http.post("/packages", headers=auth, json={
            "code": "valley-20", "name": "谷时 20 度", "price_yuan": "30.00",
            "included_kwh": "20", "coverage": "both", "periods": ["valley"],
            "communities": [place.community_id]}), 201)
        await ok(await http.post(f"/residents/{place.resident_id}/wallet/top-ups",
                                 headers=auth, json={"amount_yuan": "300.00", "ref": "p1"}), 201)
        await ok(await http.post(f"/residents/{place.resident_id}/subscriptions", headers=auth,
                                 json={"package_id": package["id"], "month": "2026-11"}), 201)
        sim = SimStation("CP-R", version, ocpp_url(app))
        register = 10_000.0
        async with sim.running():
            await sim.boot()
            for day, hour, minute, minutes, power in [*SESSIONS, (33, 20, 0, 60, 7000)]:
                start = datetime(2026, 11, 1, hour, minute, tzinfo=SHANGHAI) + timedelta(
                    days=day - 1)
                clock.now = start
                before = register
                register = await drive_session(sim, "CARD-R", start, minutes, power, register,
                                               step_min=30)
                ran.append((start, start + timedelta(minutes=minutes), register - before))
            clock.now = datetime(2026, 12, 3, 21, 0, tzinfo=SHANGHAI)
        ended = [(a, z, wh) for a, z, wh in ran if NOV[0] <= z < NOV[1]]
        assert 8 == len(ended)

        async def charged() -> int:
            async with app.engine.connect() as conn:
                return int((await conn.execute(select(func.count()).select_from(
                    b.session_charges))).scalar_one())

        await eventually(charged, lambda n: n == len(ran))
        got = await http.get("/reports/monthly/2026-11", headers=auth)
        assert 200 == got.status_code, got.text
    book = openpyxl.load_workbook(io.BytesIO(got.content))
    rows = list(book["汇总"].iter_rows(values_only=True))
    headings = [str(h) for h in rows[0]]
    city = dict(zip(headings, rows[-1], strict=True))
    district = dict(zip(headings, rows[1], strict=True))
    assert city["区域"] == "全市"
    db = await db_figures(app)
    sent_wh = round(sum(wh for _, _, wh in ended))
    for figures in (city, district):
        assert figures["充电次数(次)"] == db["sessions"] == 8
        assert Decimal(str(figures["充电电量(kWh)"])) == Decimal(db["wh"]) / 1000 \
            == Decimal(sent_wh) / 1000
        hours = sum((z - a).total_seconds() for a, z, _ in ended) / 3600
        assert Decimal(str(figures["充电时长(小时)"])) == Decimal(str(hours)).quantize(
            Decimal("0.01"))
        assert Decimal(str(figures["谷时段电量(kWh)"])) == db["valley"].quantize(
            Decimal("0.001")) > 0
        assert figures["服务居民(户)"] == db["residents"] == 1
        assert figures["套餐销售(份)"] == 1
        assert figures["套餐销售额(分)"] == 3000
        assert figures["充电桩数(台)"] == 1
        assert figures["已建成小区(个)"] == 1
    sheet = {row[0]: row[1] for row in book[book.sheetnames[1]].iter_rows(values_only=True)}
    assert sheet["充电次数(次)"] == 8
