"""Safety sharing end to end: a simulated charger's ground fault becomes a level-1 alarm
(the safety monitor), which reaches the live feed and the webhook of its own community
only."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from csms.api.access import Role
from csms.app import Csms
from csms.config import Settings, SharingSettings
from simulators.station import SimStation
from tests.api.conftest import TokenFactory
from tests.api.test_feed import Feed, feed
from tests.api.test_webhooks import Receiver, deliveries, make_places, subscribe
from tests.conftest import eventually, make_settings, ocpp_url


@pytest.fixture
def settings(database_url: str) -> Settings:
    return make_settings(database_url).model_copy(update={"sharing": SharingSettings(
        webhook_backoff_initial_s=0.05, webhook_poll_interval_s=0.2)})


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    found = Receiver()
    await found.start()
    yield found
    await found.stop()


async def first_alarm(opened: Feed) -> tuple[dict[str, Any], set[str]]:
    """Events until the first alarm: that alarm, and every station id seen on the way."""
    stations: set[str] = set()
    while True:
        event = await opened.next()
        stations.add(event["data"]["station_id"])
        if event["event"] == "alarm":
            return event, stations


async def ground_fault(csms: Csms, station_id: str) -> None:
    async with SimStation(station_id, "ocpp1.6", ocpp_url(csms)).running() as sim:
        await sim.boot()
        await sim.send_status(1, "Faulted", error_code="GroundFailure")


async def test_a_ground_fault_reaches_its_own_community_only(
    csms: Csms, http: httpx.AsyncClient, token: TokenFactory, receiver: Receiver
) -> None:
    """CP-A (community A) faults, then CP-B: A's feed and webhook get A's level-1
    ground_fault alarm and nothing of CP-B; B's first alarm is CP-B's."""
    places = await make_places(csms)
    admin = await token(Role.ADMIN)
    sub_a = await subscribe(http, admin, receiver.url("/a"), community_id=places.a)
    sub_b = await subscribe(http, admin, receiver.url("/b"), community_id=places.b)
    async with feed(http, await token(Role.PROPERTY, community_id=places.a)) as a, \
            feed(http, await token(Role.PROPERTY, community_id=places.b)) as b:
        await ground_fault(csms, "CP-A")
        alarm_a, seen_a = await first_alarm(a)
        await ground_fault(csms, "CP-B")
        alarm_b, seen_b = await first_alarm(b)
    assert ("ground_fault", 1, "raised", places.a) == (
        alarm_a["data"]["data"]["code"], alarm_a["data"]["level"],
        alarm_a["data"]["data"]["transition"], alarm_a["data"]["community_id"])
    assert ({"CP-A"}, {"CP-B"}) == (seen_a, seen_b)
    assert "CP-B" == alarm_b["data"]["station_id"]
    for sub, path, station in ((sub_a, "/a", "CP-A"), (sub_b, "/b", "CP-B")):
        async def of_sub(sub_id: int = sub) -> list[dict[str, Any]]:
            return await deliveries(http, admin, sub_id)

        done = await eventually(of_sub,
                                lambda items: [i["status"] for i in items] == ["delivered"])
        [request] = [r for r in receiver.requests if r.delivery_id == done[0]["delivery_id"]]
        assert (path, station, "ground_fault") == (
            request.path, request.body["station_id"], request.body["data"]["code"])
