"""Helpers for the load-management tests (no tests here): a site in the database, chargers
that belong to it, a steppable clock."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import insert

from csms.app import Csms
from csms.clock import system_clock
from csms.store import tables as t
from csms.store.load.config import LoadConfig
from simulators.model import Hardware

ONE_PHASE_7KW = Hardware(max_current_a=32.0, phases=1, voltage_v=220.0)  # 7 kW


@dataclass
class StepClock:
    """A clock the test moves; starts at the real now so real and simulated time agree."""

    now: datetime = field(default_factory=lambda: datetime.now(UTC).replace(microsecond=0))

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> datetime:
        self.now += timedelta(seconds=seconds)
        return self.now


async def make_site(app: Csms, stations: list[str], *, kva: float, loading: float = 0.8,
                    power_factor: float = 1.0, margin_w: float = 0.0, voltage_v: float = 220.0,
                    reading_w: float | None = 0.0, reading_at: datetime | None = None,
                    reading_max_age_s: int = 86_400, **extra: Any) -> int:
    """A district, community and site holding ``stations`` (registered, accepted), with
    load settings and, unless None, a live base-load reading."""
    async with app.engine.begin() as conn:
        district = (await conn.execute(insert(t.districts).values(
            name=f"D-{stations[0]}").returning(t.districts.c.id))).scalar_one()
        community = (await conn.execute(insert(t.communities).values(
            district_id=district, name="C").returning(t.communities.c.id))).scalar_one()
        site = (await conn.execute(insert(t.sites).values(
            community_id=community, name="S").returning(t.sites.c.id))).scalar_one()
        for station_id in stations:
            await conn.execute(insert(t.charge_points).values(
                id=station_id, site_id=site, registration_status="Accepted",
                created_at=system_clock()))
    config = LoadConfig(app.store.writer)
    await config.put_site(site, {
        "transformer_kva": kva, "loading_factor": loading, "power_factor": power_factor,
        "margin_w": margin_w, "supply_phases": 1, "voltage_v": voltage_v,
        "reading_max_age_s": reading_max_age_s, **extra}, "test")
    if reading_w is not None:
        await config.put_reading(site, reading_w, reading_at or system_clock(), "test")
    return int(site)
