"""End to end, both databases: an ISO 15118 car on a 2.0.1 charger declares its energy need
and departure (NotifyEVChargingNeeds at the transaction's start); the CSMS accepts it and
valley shifting defers the car that the valley can still fill; without load management
the need is rejected. A need declared while an allocation pass that read the sessions
before the transaction began is still running is kept (it used to be dropped as the need of
a session that was gone)."""

from __future__ import annotations

import dataclasses
from contextlib import AsyncExitStack
from datetime import timedelta

from csms.app import running
from csms.domain.model import AuthorizationStatus
from csms.handlers.messages.ev_needs_v201 import needs_status
from csms.smartcharging.headroom import CHINA_STANDARD_TIME
from simulators.behaviour.ev import Ev
from simulators.behaviour.ev_needs import needs_payload
from simulators.station import SimStation
from tests.conftest import eventually, make_settings, ocpp_url
from tests.integration.test_load_service import charging, load_settings
from tests.integration.test_load_support import ONE_PHASE_7KW, StepClock, make_site

# 10 kWh short of its target: a 4 h valley at half of 7 kW gives 14 kWh >= 1.25 x 10 kWh.
CAR = Ev(capacity_wh=50_000, arrival_soc_pct=60, target_soc_pct=80, max_current_a=32,
         phases=1, declares_needs=True)


async def test_a_declared_need_is_accepted_and_the_car_waits_for_the_valley(
    database_url: str
) -> None:
    clock = StepClock()
    hour = clock.now.astimezone(CHINA_STANDARD_TIME).hour
    load = load_settings(valley_shifting=True, valley_start_hour=(hour + 1) % 24,
                         valley_end_hour=(hour + 5) % 24)
    settings = make_settings(database_url).model_copy(update={"load": load})
    async with running(settings, clock=clock) as app, AsyncExitStack() as stack:
        await make_site(app, ["N-1", "N-2"], kva=11.0, reading_at=clock.now)  # 8.8 kW
        [neighbour] = await charging(app, stack, ["N-2"], "ocpp2.0.1", clock)
        sim = SimStation("N-1", "ocpp2.0.1", ocpp_url(app), hardware=ONE_PHASE_7KW,
                         clock=clock.sim())
        await stack.enter_async_context(sim.running())
        assert "Accepted" == await sim.boot()
        await sim.send_status(1, "Available")
        session = await sim.plug_in(
            1, dataclasses.replace(CAR, departure=clock.now + timedelta(hours=8)), "TAG")
        assert "Accepted" == session.needs_status
        [sent] = await sim.wait_sent("NotifyEVChargingNeeds")
        assert 10_000 == sent["chargingNeeds"]["acChargingParameters"]["energyAmount"]

        async def now_limits() -> list[float]:
            return [s.profiles.limit(1, "A", clock.now) for s in (sim, neighbour)]

        assert [0.0, 32.0] == await eventually(now_limits, lambda v: v == [0.0, 32.0])


async def test_without_load_management_the_need_is_rejected(database_url: str) -> None:
    settings = make_settings(database_url).model_copy(
        update={"load": load_settings(enabled=False)})
    async with running(settings) as app:
        await app.store.put_token("TAG", AuthorizationStatus.ACCEPTED)
        sim = SimStation("N-3", "ocpp2.0.1", ocpp_url(app))
        async with sim.running():
            await sim.boot()
            car = Ev(declares_needs=True, departure=app.stations.now() + timedelta(hours=3))
            session = await sim.plug_in(1, car, "TAG")
            assert "Rejected" == session.needs_status


def test_the_answer_rule() -> None:
    """Accepted only when load management runs and the need states energy and departure."""
    car = Ev(declares_needs=True, departure=StepClock().now)
    full = needs_payload(1, car)
    assert "Accepted" == needs_status(full, load_enabled=True)
    assert "Rejected" == needs_status(full, load_enabled=False)
    del full["chargingNeeds"]["departureTime"]
    assert "Rejected" == needs_status(full, load_enabled=True)
