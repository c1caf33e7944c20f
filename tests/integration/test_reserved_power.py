"""A reserved connector is not allocated power until the car arrives (running CSMS with load
management, simulator, both databases; csms.smartcharging.reservations)."""

from __future__ import annotations

from contextlib import AsyncExitStack
from datetime import timedelta

from csms.app import running
from csms.clock import system_clock
from csms.domain.model import AuthorizationStatus, IdToken
from csms.services.sessions.reservations import ReserveRequest
from simulators.station import SimStation
from tests.conftest import eventually, make_settings, ocpp_url
from tests.integration.test_load_service import limit_a, load_settings
from tests.integration.test_load_support import ONE_PHASE_7KW, make_site


async def test_a_reserved_connector_gets_power_only_once_the_car_is_there(
    database_url: str
) -> None:
    """8.8 kW for two 7 kW chargers: while R-1's session that used its reservation shows no
    car (Preparing), R-2 gets its full 32 A and R-1 0 A; once R-1 reports Charging they
    share (20 A each)."""
    settings = make_settings(database_url).model_copy(update={"load": load_settings()})
    async with running(settings) as app, AsyncExitStack() as stack:
        site = await make_site(app, ["R-1", "R-2"], kva=11.0)
        await app.store.put_token("OWNER", AuthorizationStatus.ACCEPTED)
        sims = [SimStation(s, "ocpp1.6", ocpp_url(app), hardware=ONE_PHASE_7KW)
                for s in ("R-1", "R-2")]
        for sim in sims:
            await stack.enter_async_context(sim.running())
            await sim.boot()
            await sim.send_status(1, "Available")
        assert app.reservations is not None
        assert app.load is not None
        record, answer = await app.reservations.reserve(ReserveRequest(
            "R-1", IdToken("OWNER"), system_clock() + timedelta(hours=1), 1))
        await sims[1].start_transaction(1, "OWNER")
        await sims[1].send_status(1, "Charging")
        await sims[0].start_transaction(1, "OWNER")
        await sims[0].send_status(1, "Preparing")
        reservations = app.reservations
        used = await eventually(lambda: reservations.get(record.id),
                                lambda r: r is not None and r.session_id is not None)
        app.load.site_changed(site)

        async def limits() -> list[float]:
            return [limit_a(s) for s in sims]

        assert [0.0, 32.0] == await eventually(limits, lambda v: v == [0.0, 32.0])
        await sims[0].send_status(1, "Charging")
        await eventually(limits, lambda v: v == [20.0, 20.0])
        tx = sims[0].transaction(1)
    assert ("Accepted", record.id) == (answer, None if tx is None else tx.reservation_id)
    assert used is not None
    assert "used" == used.status
