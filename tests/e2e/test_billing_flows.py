"""Billing end to end: the real server, the simulator, both versions, both databases.

Also the set-up the other billing tests share: a place, a resident with a card, the
Yunnan tariff from the shipped seed file.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import insert, select

from csms.app import Csms, running
from csms.config import BillingSettings
from csms.services.billing.tariffs import load_tariff_file
from csms.store import tables as t
from csms.store.billing.admin import BillingAdmin
from csms.store.billing.reads import BillingReads
from simulators.station import SimStation
from tests.conftest import eventually, make_settings, ocpp_url

YUNNAN_FILE = Path(__file__).parents[2] / "data" / "tariffs" / "yunnan-residential.toml"
CREATED = datetime(2026, 1, 1, tzinfo=UTC)


@dataclass(frozen=True, slots=True)
class Place:
    community_id: int
    site_id: int
    resident_id: int
    station_id: str
    id_token: str


async def new_place(app: Csms, station_id: str, id_token: str, name: str = "甲") -> Place:
    """District, community, site (Asia/Shanghai), an accepted charger, a resident, a card."""
    async with app.engine.begin() as conn:
        district = (await conn.execute(insert(t.districts).values(
            name=f"{name}区", code=None).returning(t.districts.c.id))).scalar_one()
        community = (await conn.execute(insert(t.communities).values(
            district_id=district, name=f"{name}小区").returning(
            t.communities.c.id))).scalar_one()
        site = (await conn.execute(insert(t.sites).values(
            community_id=community, name="车库").returning(t.sites.c.id))).scalar_one()
        await conn.execute(insert(t.charge_points).values(
            id=station_id, site_id=site, registration_status="Accepted", created_at=CREATED))
        resident = (await conn.execute(insert(t.residents).values(
            community_id=community, name="张三", created_at=CREATED).returning(
            t.residents.c.id))).scalar_one()
        await conn.execute(insert(t.id_tokens).values(
            id_token=id_token, status="Accepted", resident_id=resident, created_at=CREATED))
    return Place(community, site, resident, station_id, id_token)


def admin(app: Csms) -> BillingAdmin:
    return BillingAdmin(app.store.writer)


async def yunnan_tariff(app: Csms, place: Place) -> int:
    """The shipped seed file, for the place's community."""
    spec = load_tariff_file(YUNNAN_FILE, community_id=place.community_id)
    return await admin(app).create_tariff(spec, CREATED, "test")


async def top_up(app: Csms, place: Place, amount: str, at: datetime, ref: str) -> None:
    await admin(app).top_up(place.resident_id, Decimal(amount), at, "test", ref)


VALLEY = (time(0), time(8))


# -- tests -----------------------------------------------------------------------------------

VERSIONS = ["ocpp1.6", "ocpp2.0.1"]
SHANGHAI = ZoneInfo("Asia/Shanghai")


async def drive_session(sim: SimStation, token: str, start: datetime, minutes: int,
                        power_w: float, start_wh: float, step_min: int = 15) -> float:
    """One session at constant power with a sample every ``step_min`` minutes; the register
    at the end (Wh)."""
    await sim.start_transaction(1, token, timestamp=start, meter_start_wh=start_wh)
    wh = start_wh
    for minute in range(step_min, minutes, step_min):
        wh = start_wh + power_w * minute / 60
        await sim.send_meter_values(1, energy_wh=wh, power_w=power_w,
                                    timestamp=start + timedelta(minutes=minute))
    wh = start_wh + power_w * minutes / 60
    await sim.stop_transaction(1, "EVDisconnected" if sim.version.value == "ocpp2.0.1"
                               else "Local", energy_wh=wh,
                               timestamp=start + timedelta(minutes=minutes))
    return wh


async def charge_of(app: Csms, station_id: str) -> Any:
    async with app.engine.connect() as conn:
        session_id = (await conn.execute(select(t.sessions.c.id).where(
            t.sessions.c.station_id == station_id))).scalar_one()
    return await eventually(lambda: BillingReads(app.engine).charge(session_id))


@pytest.mark.parametrize("version", VERSIONS)
async def test_yunnan_2330_to_0100_priced_to_the_fen_through_the_server(
    csms: Csms, version: str
) -> None:
    """A 7 kW session from 23:30 to 01:00 local under the Yunnan tariff: 3.5 kWh at 0.61
    and 7 kWh at 0.31 (electricity 2.135 + 2.17 = 4.305 -> 4.31; details 2.14 + 2.17),
    service 10.5 x 0.40 = 4.20; 8.51 yuan taken from the wallet in the same commit."""
    place = await new_place(csms, "CP-YN", "CARD-YN")
    await yunnan_tariff(csms, place)
    await top_up(csms, place, "100", CREATED, "t1")
    start = datetime(2026, 11, 27, 23, 30, tzinfo=SHANGHAI)
    sim = SimStation("CP-YN", version, ocpp_url(csms))
    async with sim.running():
        await sim.boot()
        await drive_session(sim, "CARD-YN", start, 90, 7000, 10_000)
    charge = await charge_of(csms, "CP-YN")
    assert (Decimal("10.500"), Decimal("4.31"), Decimal("4.20"), Decimal("8.51")) == (
        charge.energy_kwh, charge.electricity_yuan, charge.service_yuan, charge.total_yuan)
    assert [("flat", Decimal("3.500"), Decimal("2.14"), Decimal("1.40")),
            ("valley", Decimal("7.000"), Decimal("2.17"), Decimal("2.80"))] == [
        (d.period, d.energy_kwh, d.electricity_yuan, d.service_yuan) for d in charge.details]
    assert datetime(2026, 11, 28, 0, 0, tzinfo=SHANGHAI) == charge.details[0].ends_at
    assert (Decimal("8.51"), Decimal("0.00")) == (charge.wallet_yuan, charge.shortfall_yuan)
    assert (Decimal("91.49"), Decimal("0.00")) == await BillingReads(csms.engine).balance(
        place.resident_id)


@pytest.fixture
async def shows_cost(database_url: str) -> AsyncIterator[Csms]:
    """A CSMS whose chargers show cost: CostUpdated (2.0.1) on every reading, and
    California-pricing DataTransfer for the 1.6 charger CP-YN."""
    settings = make_settings(database_url).model_copy(update={"billing": BillingSettings(
        cost_update_interval_s=0.000001, show_cost_charge_points=("CP-YN",))})
    async with running(settings) as app:
        yield app


@pytest.mark.parametrize("version", VERSIONS)
async def test_the_charger_shows_running_and_final_cost(
    shows_cost: Csms, version: str
) -> None:
    """Running cost while charging (2.0.1 CostUpdated, 1.6 RunningCost: 3.54 yuan after
    the first half hour) and the final cost (2.0.1 totalCost in the Ended answer, 1.6
    FinalCost: 8.51) reach the simulator's display; each is in the command log."""
    app = shows_cost
    place = await new_place(app, "CP-YN", "CARD-YN")
    await yunnan_tariff(app, place)
    await top_up(app, place, "100", CREATED, "t1")
    start = datetime(2026, 11, 27, 23, 30, tzinfo=SHANGHAI)
    sim = SimStation("CP-YN", version, ocpp_url(app))
    running = "total cost" if version == "ocpp2.0.1" else "So far: "
    async with sim.running():
        await sim.boot()
        await sim.start_transaction(1, "CARD-YN", timestamp=start, meter_start_wh=10_000)
        await sim.send_meter_values(1, energy_wh=13_500, power_w=7000,
                                    timestamp=start + timedelta(minutes=30))
        # 3.5 kWh, 23:30-00:00: 3.5 x 0.61 = 2.135 -> 2.14, plus 3.5 x 0.40 = 1.40
        await eventually(lambda: _shown(sim), lambda shown: any(
            running in x and "3.54" in x for x in shown))
        await sim.send_meter_values(1, energy_wh=17_000, power_w=7000,
                                    timestamp=start + timedelta(minutes=60))
        await sim.stop_transaction(1, "EVDisconnected" if version == "ocpp2.0.1" else "Local",
                                   energy_wh=20_500, timestamp=start + timedelta(minutes=90))
        if version == "ocpp2.0.1":
            answer = await sim.resend_last("TransactionEvent")  # the Ended event again
            assert 8.51 == answer["totalCost"]
        else:
            await eventually(lambda: _shown(sim), lambda shown: "Total: 8.51 CNY" in shown)
    logged = await eventually(lambda: _cost_commands(app), lambda rows: len(rows) >= 2)
    assert "answered" in {outcome for outcome, _ in logged}
    assert {"answered", "offline"} >= {outcome for outcome, _ in logged}  # sim may be gone
    assert all(Decimal(request["cost_yuan"]) >= 0 for _, request in logged)  # logged exactly


async def _cost_commands(app: Csms) -> list[tuple[str, Any]]:
    log = t.command_log
    async with app.engine.connect() as conn:
        rows = await conn.execute(select(log.c.outcome, log.c.request).where(
            log.c.action == "ShowCost"))
        return [(row.outcome, row.request) for row in rows]


async def _shown(sim: SimStation) -> list[str]:
    return list(sim.display)
