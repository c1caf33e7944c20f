"""The live safety feed over HTTP (Server-Sent Events): scoped per token, live station data
resolved to its community, and a plain GET refused."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Any

import httpx

from csms.api.access import Role
from csms.api.tokens import new_token
from csms.app import Csms, running
from csms.config import Settings
from csms.domain.model import ConnectorStatus, ConnectorStatusChanged, StationEventReported
from csms.services.events import AlarmChanged
from tests.api.conftest import TokenFactory, bearer
from tests.api.test_webhooks import Places, make_places
from tests.conftest import eventually

STREAM = {"Accept": "text/event-stream"}



def alarm_in(places: Places, community: int, alarm_id: int) -> AlarmChanged:
    """A synthetic committed alarm of CP-A or CP-B, as the safety monitor publishes it."""
    station = "CP-A" if community == places.a else "CP-B"
    return AlarmChanged(alarm_id, "raised", 1, "ground_fault", station, 1, 1, None, None,
                        community, places.district, datetime.now(UTC),
                        evidence={"error_code": "GroundFailure"})

class Feed:
    """One open feed: :meth:`next` returns the next event's fields (comments skipped)."""

    def __init__(self, lines: AsyncIterator[str]) -> None:
        self._lines = lines

    async def comment(self) -> str:
        line = await asyncio.wait_for(anext(self._lines), 10)
        assert line.startswith(":"), line
        await asyncio.wait_for(anext(self._lines), 10)  # the blank line after it
        return line

    async def next(self) -> dict[str, Any]:
        fields: dict[str, str] = {}
        while True:
            line = await asyncio.wait_for(anext(self._lines), 10)
            if line.startswith(":"):
                continue
            if not line:
                if fields:
                    return {**fields, "data": json.loads(fields["data"])}
                continue
            name, _, value = line.partition(": ")
            fields[name] = value


@asynccontextmanager
async def feed(http: httpx.AsyncClient, secret: str) -> AsyncIterator[Feed]:
    async with http.stream("GET", "/feed/safety", headers={**bearer(secret), **STREAM}) as r:
        assert 200 == r.status_code
        assert r.headers["content-type"].startswith("text/event-stream")
        opened = Feed(r.aiter_lines())
        assert ": connected" == await opened.comment()  # subscribed from here on
        yield opened


class TestSafetyFeed:
    async def test_each_token_sees_only_its_scope(
        self, csms: Csms, http: httpx.AsyncClient, token: TokenFactory
    ) -> None:
        """B's alarm then A's: property A sees only A's, property B only B's, the district
        and the safety platform both, in order."""
        places = await make_places(csms)
        secrets = [await token(Role.PROPERTY, community_id=places.a),
                   await token(Role.PROPERTY, community_id=places.b),
                   await token(Role.DISTRICT, district_id=places.district),
                   await token(Role.SAFETY_PLATFORM)]
        async with feed(http, secrets[0]) as a, feed(http, secrets[1]) as b, \
                feed(http, secrets[2]) as district, feed(http, secrets[3]) as platform:
            csms.bus.publish(alarm_in(places, places.b, 2))
            csms.bus.publish(alarm_in(places, places.a, 1))
            first_a = await a.next()
            assert ("alarm", 1, places.a, 1) == (first_a["event"], first_a["data"]["data"][
                "alarm_id"], first_a["data"]["community_id"], first_a["data"]["level"])
            assert 2 == (await b.next())["data"]["data"]["alarm_id"]
            for both in (district, platform):
                assert [2, 1] == [(await both.next())["data"]["data"]["alarm_id"]
                                  for _ in range(2)]

    async def test_station_data_is_scoped_by_the_station_site(
        self, csms: Csms, http: httpx.AsyncClient, token: TokenFactory
    ) -> None:
        """A fault status and a security event of CP-A reach A's feed with A's community;
        CP-B's fault does not."""
        places = await make_places(csms)
        now = datetime.now(UTC)
        async with feed(http, await token(Role.PROPERTY, community_id=places.a)) as a:
            csms.bus.publish(ConnectorStatusChanged("CP-B", 1, 1, ConnectorStatus.FAULTED, now,
                                                    error_code="GroundFailure"))
            csms.bus.publish(ConnectorStatusChanged("CP-A", 1, 1, ConnectorStatus.FAULTED, now,
                                                    error_code="HighTemperature"))
            csms.bus.publish(StationEventReported("CP-A", "security_event", now,
                                                  code="TamperDetectionActivated"))
            status = await a.next()
            assert ("connector_status", "CP-A", places.a, "Faulted", "HighTemperature") == (
                status["event"], status["data"]["station_id"], status["data"]["community_id"],
                status["data"]["data"]["status"], status["data"]["data"]["error_code"])
            event = await a.next()
            assert ("station_event", "TamperDetectionActivated") == (
                event["event"], event["data"]["data"]["code"])

    async def test_a_plain_get_is_refused_and_roles_are_checked(
        self, http: httpx.AsyncClient, token: TokenFactory
    ) -> None:
        """Without Accept: text/event-stream 406 (it would never end); no token 401."""
        admin = await token(Role.ADMIN)
        assert 406 == (await http.get("/feed/safety", headers=bearer(admin))).status_code
        assert 401 == (await http.get("/feed/safety", headers=STREAM)).status_code

    async def test_the_subscription_ends_when_the_client_leaves(
        self, csms: Csms, http: httpx.AsyncClient, token: TokenFactory
    ) -> None:
        """Closing the stream unsubscribes (no queue left behind)."""
        assert csms.sharing is not None
        hub = csms.sharing.hub
        async with feed(http, await token(Role.ADMIN)):
            assert 1 == len(hub)

        async def count() -> int:
            return len(hub)

        assert 0 == await eventually(count, lambda n: n == 0)


async def test_an_open_stream_does_not_keep_the_server_from_stopping(
    settings: Settings,
) -> None:
    """Stopping the CSMS while a feed is open ends the stream with a comment, promptly."""
    server = running(settings)
    app = await server.__aenter__()
    stopping = None
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{app.api_port}",
                                     timeout=10) as client:
            secret, record = new_token(Role.ADMIN, created_by="test", now=app.stations.now())
            await app.access.add_token(record)
            async with feed(client, secret) as opened:
                stopping = asyncio.create_task(server.__aexit__(None, None, None))
                assert ": closing: the server is stopping; reconnect" == await opened.comment()
                await asyncio.wait_for(stopping, 20)
    finally:
        if stopping is None:
            await server.__aexit__(None, None, None)
