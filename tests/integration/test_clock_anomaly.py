"""A charger whose clock is implausible gets a clock_anomaly station event, once per
problem and hour, however many messages carry the bad time (issue 14, defect 3)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select

from csms.app import Csms
from csms.config import Settings
from csms.store import tables as t
from tests.conftest import eventually, make_settings
from tests.integration.test_server import BOOT_16, call, raw

STATUS = {"connectorId": 1, "errorCode": "NoError", "status": "Available"}


async def anomalies(csms: Csms) -> list[Any]:
    e = t.station_events.c
    async with csms.engine.connect() as conn:
        return list((await conn.execute(
            select(e.code, e.details).where(e.kind == "clock_anomaly"))).all())


@pytest.fixture
def settings(database_url: str) -> Settings:
    return make_settings(database_url, clock_anomaly_events=True)


async def test_a_dead_clock_and_a_fast_one_are_flagged_once(csms: Csms) -> None:
    """Three statuses stamped 1970 give one before_registration event; one stamped a year
    ahead gives one in_the_future event; a plausible one gives none."""
    now = csms.stations.now()
    async with raw(csms, "CP-RTC") as ws:
        assert 3 == (await call(ws, "BootNotification", BOOT_16, "b"))[0]
        for n in range(3):
            answer = await call(ws, "StatusNotification",
                                {**STATUS, "timestamp": f"1970-01-01T00:00:0{n}Z"}, f"s{n}")
            assert 3 == answer[0]
        ahead = (now + timedelta(days=365)).isoformat()
        assert 3 == (await call(ws, "StatusNotification", {**STATUS, "timestamp": ahead},
                                "f"))[0]
        assert 3 == (await call(ws, "StatusNotification",
                                {**STATUS, "timestamp": now.isoformat()}, "ok"))[0]
        # checks run in arrival order: once the later one is in, the 1970 ones are done
        found = await eventually(lambda: anomalies(csms),
                                 lambda rows: "in_the_future" in [code for code, _ in rows])
    assert ["before_registration", "in_the_future"] == sorted(code for code, _ in found)
    before = next(details for code, details in found if code == "before_registration")
    assert before["reported_at"].startswith("1970-01-01")
