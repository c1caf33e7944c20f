"""Load management in the running CSMS: chargers of one site share its headroom through
TxDefault safe shares and leased TxProfiles (real server, simulator, both databases)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from datetime import timedelta
from typing import Any

import asyncpg
import pytest

from csms.app import Csms, running
from csms.clock import system_clock
from csms.config import LoadSettings
from csms.domain.model import AuthorizationStatus
from csms.services.events import (
    ChargingProfileRefused,
    DomainEvent,
    SiteOverloadCleared,
    SiteOverloaded,
)
from csms.services.load.site import Refusal, SiteState
from csms.smartcharging.headroom import CHINA_STANDARD_TIME
from csms.store.load.config import LoadConfig
from csms.store.load.store import LoadStore
from simulators.station import SimStation
from tests.conftest import eventually, make_settings, ocpp_url
from tests.integration.test_load_support import ONE_PHASE_7KW, StepClock, make_site

VOLTAGE = 220.0


def load_settings(**values: Any) -> LoadSettings:
    base: dict[str, Any] = {"reallocate_interval_s": 100.0, "min_run_s": 0.0,
                            "profile_timeout_s": 3.0}
    return LoadSettings(**{**base, **values})


@asynccontextmanager
async def csms_with(database_url: str, **load: Any) -> AsyncIterator[Csms]:
    settings = make_settings(database_url).model_copy(update={"load": load_settings(**load)})
    async with running(settings) as app:
        yield app


async def charging(app: Csms, stack: AsyncExitStack, ids: list[str], version: str = "ocpp1.6",
                   clock: StepClock | None = None) -> list[SimStation]:
    """Connected, booted stations with one 32 A single-phase connector, each charging (on
    the test's ``clock`` when given)."""
    await app.store.put_token("TAG", AuthorizationStatus.ACCEPTED)
    sims = []
    for station_id in ids:
        sim = SimStation(station_id, version, ocpp_url(app), hardware=ONE_PHASE_7KW,
                         clock=None if clock is None else clock.sim())
        await stack.enter_async_context(sim.running())
        assert "Accepted" == await sim.boot()
        await sim.send_status(1, "Available")
        await sim.start_transaction(1, "TAG")
        sims.append(sim)
    return sims


def limit_a(sim: SimStation, seconds_ahead: float = 0.0) -> float:
    """What the simulated charger offers on connector 1, ``seconds_ahead`` from now."""
    return sim.profiles.limit(1, "A", system_clock() + timedelta(seconds=seconds_ahead))


def tx_profiles(sim: SimStation) -> list[dict[str, Any]]:
    return [p["csChargingProfiles"] for action, p in sim.received
            if action == "SetChargingProfile"
            and p["csChargingProfiles"]["chargingProfilePurpose"] == "TxProfile"]


async def test_three_chargers_share_the_headroom_and_get_it_back(database_url: str) -> None:
    """16 kW for three 7 kW chargers: each gets 24.2 A (the site's sum stays within 16 kW);
    when one stops, the other two go back to 32 A; a rising base load lowers them again."""
    async with csms_with(database_url) as app, AsyncExitStack() as stack:
        site = await make_site(app, ["L-1", "L-2", "L-3"], kva=20.0)
        sims = await charging(app, stack, ["L-1", "L-2", "L-3"])

        async def limits() -> list[float]:
            return [limit_a(s) for s in sims]

        shared = await eventually(limits, lambda v: all(abs(a - 24.2) < 0.01 for a in v))
        assert sum(shared) * VOLTAGE <= 16_000
        assert all(p["validTo"] for s in sims for p in tx_profiles(s))
        await sims[0].stop_transaction(1)
        await eventually(limits, lambda v: v[1:] == [32.0, 32.0])
        await LoadConfig(app.store.writer).put_reading(site, 8_000.0, system_clock(), "test")
        assert app.load is not None
        app.load.site_changed(site)
        after = await eventually(limits, lambda v: abs(v[1] - 18.1) < 0.01)
        assert sum(after[1:]) * VOLTAGE <= 8_000  # L-1 no longer charges


async def test_the_safe_shares_take_over_when_the_leases_run_out(database_url: str) -> None:
    """Once the CSMS is gone and a lease period has passed, every charger is on its static
    safe share, and the shares sum to at most the guaranteed headroom."""
    async with AsyncExitStack() as stack:
        async with csms_with(database_url, lease_s=120.0, renew_before_s=30.0,
                             reallocate_interval_s=20.0) as app:
            await make_site(app, ["K-1", "K-2", "K-3", "K-4"], kva=25.0, reading_w=5_000.0)
            sims = await charging(app, stack, ["K-1", "K-2", "K-3", "K-4"], "ocpp2.0.1")
            # 15 kW for four 7 kW chargers: 17.0 A each (14.96 kW).
            await eventually(lambda: _limits(sims), lambda v: all(a == 17.0 for a in v))
        assert [17.0] * 4 == [limit_a(s, 60) for s in sims]  # still leased
        fallback = [limit_a(s, 121) for s in sims]
        assert all(a == 17.0 for a in fallback), fallback  # 15 kW / 4 / 220 V = 17.0 A
        assert sum(fallback) * VOLTAGE <= 15_000


async def refusing(app: Csms, stack: AsyncExitStack, station_id: str,
                   clock: StepClock | None = None) -> SimStation:
    """A connected 1.6 charger, charging, that rejects every charging profile (its maximum
    stack level is 0)."""
    sim = SimStation(station_id, "ocpp1.6", ocpp_url(app), hardware=ONE_PHASE_7KW,
                     clock=None if clock is None else clock.sim())
    sim.settings.entries["ChargeProfileMaxStackLevel"].value = "0"
    await stack.enter_async_context(sim.running())
    await sim.boot()
    await sim.send_status(1, "Available")
    await sim.start_transaction(1, "TAG")
    return sim


async def _limits(sims: list[SimStation]) -> list[float]:
    return [limit_a(s) for s in sims]


async def test_a_charger_that_refuses_profiles_is_counted_at_its_maximum(
    database_url: str
) -> None:
    """A charger that rejects TxProfiles raises ChargingProfileRefused; the others share
    what its full 32 A leaves."""
    async with csms_with(database_url) as app, AsyncExitStack() as stack:
        seen: list[DomainEvent] = []
        app.bus.subscribe(seen.append)
        await app.store.put_token("TAG", AuthorizationStatus.ACCEPTED)
        site = await make_site(app, ["R-1", "R-2", "R-3"], kva=20.0)
        await refusing(app, stack, "R-1")
        others = await charging(app, stack, ["R-2", "R-3"])
        # 16 kW - 32 A x 220 V = 8960 W for two: 20.3 A each.
        await eventually(lambda: _limits(others), lambda v: all(abs(a - 20.3) < 0.01 for a in v))
        refused = [e for e in seen if isinstance(e, ChargingProfileRefused)]
        assert refused
        assert {("R-1", 1)} == {(e.station_id, e.evse_id) for e in refused}
        assert app.load is not None
        view = await app.load.reallocate(site)
        assert view is not None
        row = next(c for c in view.connectors if c.station_id == "R-1")
        assert (True, 32.0) == (row.refused, row.limit_a)


async def test_a_refusal_is_tried_again_one_lease_later(database_url: str) -> None:
    """A refusal may have been passing: one lease period after it (not before), the next
    pass offers the charger a profile again, and once it accepts it is no longer counted
    as refusing."""
    clock = StepClock()
    settings = make_settings(database_url).model_copy(
        update={"load": load_settings(lease_s=600.0)})
    async with running(settings, clock=clock) as app, AsyncExitStack() as stack:
        await app.store.put_token("TAG", AuthorizationStatus.ACCEPTED)
        site = await make_site(app, ["T-1", "T-2"], kva=20.0, reading_at=clock.now)
        fussy = await refusing(app, stack, "T-1", clock)
        await charging(app, stack, ["T-2"], clock=clock)
        assert app.load is not None

        async def refused() -> bool:
            assert app.load is not None
            view = await app.load.reallocate(site)
            assert view is not None
            return next(c for c in view.connectors if c.station_id == "T-1").refused

        assert await eventually(refused)
        fussy.settings.entries["ChargeProfileMaxStackLevel"].value = "8"  # fixed on site
        clock.advance(599)
        assert await refused()  # not yet a lease period
        clock.advance(1)
        assert not await refused()  # offered again and accepted in the same pass


async def test_the_site_series_is_kept(database_url: str) -> None:
    """Each pass at least ``series_interval_s`` after the last writes one series point."""
    async with csms_with(database_url, series_interval_s=0.001) as app, AsyncExitStack() as st:
        site = await make_site(app, ["S-1"], kva=20.0)
        await charging(app, st, ["S-1"])
        assert app.load is not None
        await app.load.reallocate(site)
        points = await eventually(lambda: LoadStore(app.engine, app.store.writer).series(
            site, None, None, 100), lambda p: len(p) >= 2)
        assert all(p.limit_w == 16_000.0 for p in points)
        assert points[-1].allocated_w == pytest.approx(32 * VOLTAGE)


async def test_a_car_that_can_wait_for_the_valley_waits_then_charges(database_url: str) -> None:
    """Valley shifting: a 2.0.1 car declaring 10 kWh by a departure 8 h away (NotifyEV-
    ChargingNeeds) gets 0 A before the valley (a 4 h valley at half its 7 kW gives 14 kWh >=
    1.25 x 10 kWh) while its neighbour gets the whole 8.8 kW; in the valley it charges."""
    clock = StepClock()
    hour = clock.now.astimezone(CHINA_STANDARD_TIME).hour
    load = load_settings(valley_shifting=True, valley_start_hour=(hour + 1) % 24,
                         valley_end_hour=(hour + 5) % 24)
    settings = make_settings(database_url).model_copy(update={"load": load})
    async with running(settings, clock=clock) as app, AsyncExitStack() as stack:
        site = await make_site(app, ["V-1", "V-2"], kva=11.0, reading_at=clock.now)  # 8.8 kW
        sims = await charging(app, stack, ["V-1", "V-2"], "ocpp2.0.1", clock)
        departure = clock.now + timedelta(hours=8)
        await sims[0].call("NotifyEVChargingNeeds", {"evseId": 1, "chargingNeeds": {
            "requestedEnergyTransfer": "AC_single_phase",
            "departureTime": departure.isoformat().replace("+00:00", "Z"),
            "acChargingParameters": {"energyAmount": 10_000, "evMinCurrent": 6,
                                     "evMaxCurrent": 32, "evMaxVoltage": 230}}})

        async def now_limits() -> list[float]:
            return [s.profiles.limit(1, "A", clock.now) for s in sims]

        assert [0.0, 32.0] == await eventually(now_limits, lambda v: v == [0.0, 32.0])
        clock.now = clock.now.replace(minute=0, second=0) + timedelta(hours=1, minutes=1)
        assert app.load is not None
        app.load.site_changed(site)
        await eventually(now_limits, lambda v: v == [20.0, 20.0])  # 8.8 kW / 2 / 220 V


async def test_measured_power_above_the_headroom_raises_and_clears_an_overload(
    database_url: str
) -> None:
    """A car drawing 20 kW on a 16 kW site (meter values) for longer than the hold time:
    SiteOverloaded once; back at 1 kW: SiteOverloadCleared once."""
    async with csms_with(database_url, overload_hold_s=0.0) as app, AsyncExitStack() as st:
        seen: list[DomainEvent] = []
        app.bus.subscribe(seen.append)
        site = await make_site(app, ["O-1"], kva=20.0)
        [sim] = await charging(app, st, ["O-1"])
        assert app.load is not None
        for power_w in (20_000.0, 20_000.0, 1_000.0, 1_000.0):
            await sim.send_meter_values(1, power_w=power_w)
            view = await app.load.reallocate(site)
            assert view is not None
            assert view.measured_w == power_w
        kinds = [(type(e).__name__, e.feeder_id) for e in seen
                 if isinstance(e, SiteOverloaded | SiteOverloadCleared)]
        assert [("SiteOverloaded", None), ("SiteOverloadCleared", None)] == kinds


@pytest.mark.postgres
@pytest.mark.parametrize("database_url", ["postgres"], indirect=True)
async def test_a_site_locked_by_another_node_is_left_to_it(database_url: str) -> None:
    """ARCHITECTURE property 6 (advisory locks are PostgreSQL's): while another node holds
    the site's advisory lock, this node's pass does nothing (no allocation, no profile);
    once released, it allocates."""
    async with csms_with(database_url) as app:
        site = await make_site(app, ["N-1"], kva=20.0)
        other = await asyncpg.connect(database_url.replace("+asyncpg", ""))
        try:
            await other.execute("SELECT pg_advisory_lock(5005, $1)", site)
            assert app.load is not None
            assert await app.load.reallocate(site) is None
            await other.execute("SELECT pg_advisory_unlock(5005, $1)", site)
            view = await app.load.reallocate(site)
            assert view is not None
            assert 16_000.0 == view.headroom.available_w
        finally:
            await other.close()


def test_a_refusal_ends_with_its_transaction() -> None:
    """A refused TxProfile counts for its own transaction only; a refused safe share (no
    transaction) and a refusal of the running transaction stay until a lease has passed."""
    now = system_clock()
    state = SiteState(refused={
        ("A", 1): Refusal(now, "11"), ("A", 2): Refusal(now, "12"), ("B", 1): Refusal(now, None)})
    state.retry_refused(now + timedelta(seconds=60), 600.0, {("A", 1): "11", ("A", 2): "13"})
    assert {("A", 1), ("B", 1)} == set(state.refused)
    state.retry_refused(now + timedelta(seconds=600), 600.0, {("A", 1): "11"})
    assert {} == state.refused
