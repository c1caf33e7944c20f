"""Issue 5 end to end: a site of 30 single-phase 7 kW chargers (32 A, 220 V) shares a
transformer's headroom through the running CSMS, an evening long, and stays under it when
the CSMS is killed.

Time: the CSMS runs on a clock the test steps one simulated minute at a time; the
simulated chargers answer the CSMS's profiles with their own profile engine, and a car
draws exactly what its charger offers at that minute (``profiles.limit(at=...)``). Each
minute: the building meter posts the base load, new cars plug in, every charger reports
its meter values, then the test waits for one re-allocation pass that started after that.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from csms.app import Csms, running
from csms.config import LoadSettings
from csms.domain.model import AuthorizationStatus
from csms.store.load.config import LoadConfig
from csms.store.load.store import LoadStore
from simulators.station import SimStation
from tests.conftest import eventually, make_settings, ocpp_url
from tests.integration.test_load_support import ONE_PHASE_7KW, StepClock, make_site

VOLTAGE = 220.0
STEP_W = 32 * VOLTAGE  # one charger at full power: 7,040 W
USABLE_W = 800 * 0.8 * 1000  # 800 kVA transformer, loading factor 0.8, power factor 1


@dataclass
class Car:
    sim: SimStation
    arrives_min: int
    need_wh: float
    delivered_wh: float = 0.0
    charging: bool = False
    done: bool = False
    waited_min: int = 0  # current run of minutes plugged in at 0 A
    longest_wait_min: int = 0


@dataclass
class Evening:
    app: Csms
    clock: StepClock
    site: int
    cars: list[Car]
    base_w: Callable[[int], float]  # minute -> base load in W
    minute: int = 0
    worst_over_w: float = 0.0  # after re-allocation
    worst_between_w: float = 0.0  # new base load, old profiles
    seen_currents: set[float] = field(default_factory=set)
    most_waiting: int = 0  # the most cars plugged in at 0 A at the end of one minute

    def headroom_w(self) -> float:
        return USABLE_W - self.base_w(self.minute)

    def site_power_w(self, at: datetime) -> float:
        return sum(c.sim.profiles.limit(1, "W", at) for c in self.cars if c.charging)

    async def step(self) -> None:
        """One simulated minute (module docstring)."""
        now = self.clock.advance(60)
        self.minute += 1
        await LoadConfig(self.app.store.writer).put_reading(
            self.site, self.base_w(self.minute), now, "meter")
        self.worst_between_w = max(self.worst_between_w,
                                   self.site_power_w(now) - self.headroom_w())
        await asyncio.gather(*(self._car_minute(car, now) for car in self.cars))
        assert self.app.load is not None
        mark = self.app.load.passes
        self.app.load.site_changed(self.site)
        await eventually(self._passes, lambda n: n >= mark + 2, timeout_s=20)
        self.worst_over_w = max(self.worst_over_w, self.site_power_w(now) - self.headroom_w())
        waiting = 0
        for car in self.cars:
            if car.charging:
                current = car.sim.profiles.limit(1, "A", now)
                self.seen_currents.add(current)
                car.waited_min = car.waited_min + 1 if current == 0 else 0
                car.longest_wait_min = max(car.longest_wait_min, car.waited_min)
                waiting += current == 0
        self.most_waiting = max(self.most_waiting, waiting)

    async def _passes(self) -> int:
        assert self.app.load is not None
        return self.app.load.passes

    async def _car_minute(self, car: Car, now: datetime) -> None:
        sim = car.sim
        if not car.charging and not car.done and self.minute >= car.arrives_min:
            await sim.start_transaction(1, "TAG", timestamp=now, meter_start_wh=0.0)
            car.charging = True
            return
        if not car.charging:
            return
        power_w = sim.profiles.limit(1, "W", now)  # drawn during the minute that ended
        car.delivered_wh += power_w / 60.0
        await sim.send_meter_values(1, energy_wh=car.delivered_wh, power_w=power_w,
                                    timestamp=now)
        if car.delivered_wh >= car.need_wh:
            await sim.stop_transaction(1, energy_wh=car.delivered_wh, timestamp=now)
            car.charging, car.done = False, True


@asynccontextmanager
async def evening(database_url: str, clock: StepClock, peak_base_w: float,
                  stack: AsyncExitStack, **load: Any) -> AsyncIterator[Evening]:
    """The CSMS with a 30-charger site whose base load rises from 540 kW to ``peak_base_w``
    over the first three hours, in 5-minute steps; cars arrive every five minutes needing
    8 to 22.5 kWh."""
    settings = make_settings(database_url).model_copy(update={"load": LoadSettings(**{
        "reallocate_interval_s": 0.05, "lease_s": 600.0, "renew_before_s": 120.0,
        "min_run_s": 600.0, "series_interval_s": 60.0, "profile_timeout_s": 5.0, **load})})
    ids = [f"EVE-{n:02d}" for n in range(30)]
    async with running(settings, clock=clock) as app:
        await app.store.put_token("TAG", AuthorizationStatus.ACCEPTED)
        site = await make_site(app, ids, kva=800.0, reading_w=540_000.0, reading_at=clock.now)
        await LoadConfig(app.store.writer).put_profile(site, [peak_base_w] * 24, None, "test")
        cars = []
        for n, station_id in enumerate(ids):
            sim = SimStation(station_id, "ocpp1.6" if n % 2 else "ocpp2.0.1", ocpp_url(app),
                             hardware=ONE_PHASE_7KW)
            await stack.enter_async_context(sim.running())
            await sim.boot()
            await sim.send_status(1, "Available")
            cars.append(Car(sim, arrives_min=1 + 5 * n, need_wh=8_000 + 500 * n))

        def base_w(minute: int) -> float:  # the building meter moves in 5-minute steps
            return 540_000 + (peak_base_w - 540_000) * min(1.0, (minute // 5 * 5) / 180)

        yield Evening(app, clock, site, cars, base_w)


async def test_an_evening_of_thirty_cars_stays_under_the_headroom(database_url: str) -> None:
    """Headroom falls from 100 kW to 30 kW (less than 30 cars at 6 A): the site's power is
    within the headroom after every pass and never more than one charger's step above it
    in between; every current is 0 or at least 6 A; no car waits longer than the rotation
    bound; over the evening every car gets charge."""
    clock = StepClock()
    async with AsyncExitStack() as stack, evening(
            database_url, clock, 610_000.0, stack) as eve:
        for _ in range(200):
            await eve.step()
        print(f"\nevening: worst over headroom after a pass {eve.worst_over_w:.0f} W, "
              f"between passes {eve.worst_between_w:.0f} W; longest wait "
              f"{max(c.longest_wait_min for c in eve.cars)} min; currents "
              f"{sorted(eve.seen_currents)[:6]}")
        assert eve.worst_over_w <= 1.0, eve.worst_over_w
        assert eve.worst_between_w <= STEP_W, eve.worst_between_w
        assert all(a == 0 or 6.0 <= a <= 32.0 for a in eve.seen_currents), eve.seen_currents
        assert 0.0 in eve.seen_currents  # the headroom really was short: some waited
        longest = max(c.longest_wait_min for c in eve.cars)
        # Rotation bound (allocator rule 7, one tree level): a waiter with m waiters ahead
        # starts within (m + 1) x min_run_s (10 min) plus one pass; m + 1 is at most the most
        # cars ever waiting at once. About 8 wait at the peak (30 kW / 1.32 kW per car at
        # 6 A = 22 run); how many exactly depends on when in a minute each car's meter
        # values reach a pass, so the bound is taken from what was seen.
        assert eve.most_waiting <= 12, eve.most_waiting
        assert longest <= eve.most_waiting * 10 + 1, (longest, eve.most_waiting)
        assert all(c.delivered_wh > 0 for c in eve.cars)
        series = await LoadStore(eve.app.engine, eve.app.store.writer).series(
            eve.site, None, None, 1000)
        assert len(series) >= 190  # one point per simulated minute
        assert all(p.measured_w <= p.limit_w + STEP_W for p in series)


async def test_killed_mid_evening_the_chargers_fall_back_to_their_safe_shares(
    database_url: str
) -> None:
    """Kill the CSMS mid-evening: one lease period later every charger offers its static
    safe share (45 kW / 30 / 220 V = 6.8 A) and the site is under its headroom."""
    clock = StepClock()
    async with AsyncExitStack() as stack:
        async with evening(database_url, clock, 595_000.0, stack) as eve:
            for _ in range(120):
                await eve.step()
            charging = [c for c in eve.cars if c.charging]
            assert len(charging) >= 20
        # The CSMS is gone: its server stopped and every connection dropped, nothing renews
        # and nothing was cleared on the way out (what follows depends only on what the
        # chargers hold, so an orderly stop and a SIGKILL look the same to them).
        later = clock.advance(600 + 60)
        offered = [c.sim.profiles.limit(1, "A", later) for c in charging]
        assert all(a == 6.8 for a in offered), offered
        site_w = sum(c.sim.profiles.limit(1, "W", later) for c in charging)
        assert site_w <= USABLE_W - 595_000.0
