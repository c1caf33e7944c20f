"""Credit at the charger: a resident whose wallet is below the minimum and who has no
package kWh left is refused (2.0.1 NoCredit, 1.6 Blocked with a logged reason), at
Authorize and at the transaction's start; money or a package lets them charge again."""

from __future__ import annotations

import io
import sys
from collections.abc import AsyncIterator, Iterator
from datetime import datetime
from decimal import Decimal

import pytest
from sqlalchemy import select
from structlog.testing import capture_logs

from csms.app import Csms, running
from csms.config import BillingSettings
from csms.logs import configure_logging
from csms.store import tables as t
from csms.store.billing.admin import BillingAdmin, PackageSpec
from simulators.station import SimStation
from tests.conftest import make_settings, ocpp_url
from tests.e2e.test_billing_flows import CREATED, new_place, top_up, yunnan_tariff

NOW = datetime(2026, 11, 10, 12, 0, tzinfo=CREATED.tzinfo)


@pytest.fixture
async def strict(database_url: str) -> AsyncIterator[Csms]:
    settings = make_settings(database_url).model_copy(update={"billing": BillingSettings(
        min_balance_yuan=Decimal("5.00"))})
    async with running(settings, clock=lambda: NOW) as app:
        yield app


@pytest.fixture
def info_logs() -> Iterator[None]:
    """Let info events through (the suite runs at warning) for the duration of a test."""
    configure_logging("info", "json", stream=io.StringIO(), cache=False)
    yield
    configure_logging("warning", "json", stream=sys.__stderr__, cache=False)


@pytest.mark.usefixtures("info_logs")
@pytest.mark.parametrize(("version", "refused"), [("ocpp1.6", "Blocked"),
                                                  ("ocpp2.0.1", "NoCredit")])
async def test_no_credit_then_top_up_then_package(
    strict: Csms, version: str, refused: str
) -> None:
    """Empty wallet, no package: refused with the reason logged. 4.99 yuan: still refused.
    5.00: accepted. A second resident with nothing in the wallet but package kWh left:
    accepted."""
    place = await new_place(strict, "CP-C", "CARD-C")
    await yunnan_tariff(strict, place)
    sim = SimStation("CP-C", version, ocpp_url(strict))
    async with sim.running():
        await sim.boot()
        with capture_logs() as logs:
            assert refused == await sim.authorize("CARD-C")
        assert [("CARD-C", "0.00", "0")] == [
            (e["id_token"], e["balance_yuan"], e["package_kwh_left"]) for e in logs
            if e["event"] == "billing.no_credit"]
        await sim.start_transaction(1, "CARD-C", timestamp=NOW)  # the charger may insist
        await sim.stop_transaction(1, energy_wh=0, timestamp=NOW)
        await top_up(strict, place, "4.99", NOW, "a")
        assert refused == await sim.authorize("CARD-C")
        await top_up(strict, place, "0.01", NOW, "b")
        assert "Accepted" == await sim.authorize("CARD-C")
    assert ["NoCredit"] == await _session_status(strict)  # the start's verdict, stored


async def _session_status(app: Csms) -> list[str]:
    async with app.engine.connect() as conn:
        return list((await conn.execute(select(t.sessions.c.auth_status))).scalars())


async def test_package_allowance_is_credit(strict: Csms) -> None:
    """Nothing in the wallet, but package kWh left this month: Accepted (a free package)."""
    place = await new_place(strict, "CP-P", "CARD-P", name="乙")
    admin = BillingAdmin(strict.store.writer)
    package = await admin.create_package(PackageSpec(
        "free-5", "5 kWh", Decimal("0"), Decimal("5"), "both", (place.community_id,)),
        CREATED, "test")
    await admin.subscribe(place.resident_id, package, 2026, 11, CREATED, "test")
    sim = SimStation("CP-P", "ocpp2.0.1", ocpp_url(strict))
    async with sim.running():
        await sim.boot()
        assert "Accepted" == await sim.authorize("CARD-P")
