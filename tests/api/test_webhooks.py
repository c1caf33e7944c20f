"""Webhook subscriptions over the API, and their deliveries to a real HTTP receiver:
scoped, signed, retried, recorded."""

from __future__ import annotations

import asyncio
import hmac
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from sqlalchemy import insert, select

from csms.api.access import Role
from csms.app import Csms
from csms.config import Settings, SharingSettings
from csms.services.sharing.webhooks import signature
from csms.store import tables as t
from simulators.station import SimStation
from tests.api.conftest import TokenFactory, bearer
from tests.conftest import eventually, make_settings, ocpp_url, until

SECRET = "s3cret-s3cret-s3cret"


@dataclass
class Received:
    path: str
    delivery_id: str
    body: dict[str, Any]
    signed: bool
    status: int


@dataclass
class Receiver:
    """A webhook receiver on 127.0.0.1: answers ``script`` statuses first, then
    ``default``; records every request and counts accepted (2xx) ones per delivery id."""

    script: list[int] = field(default_factory=list)
    default: int = 200
    requests: list[Received] = field(default_factory=list)
    accepted: dict[str, int] = field(default_factory=dict)
    port: int = 0
    _server: asyncio.Server | None = None

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", self.port)
        self.port = self._server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        assert self._server is not None
        self._server.close()
        await self._server.wait_closed()

    def url(self, path: str = "/hook") -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = (await reader.readuntil(b"\r\n\r\n")).decode()
                lines = head.split("\r\n")
                path = lines[0].split(" ")[1]
                headers = {k.strip().lower(): v.strip()
                           for k, v in (line.split(":", 1) for line in lines[1:] if line)}
                body = await reader.readexactly(int(headers.get("content-length", "0")))
                status = self.script.pop(0) if self.script else self.default
                self._record(path, headers, body, status)
                writer.write(f"HTTP/1.1 {status} X\r\nContent-Length: 0\r\n\r\n".encode())
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()

    def _record(self, path: str, headers: dict[str, str], body: bytes, status: int) -> None:
        delivery = headers["x-csms-delivery"]
        expected = signature(SECRET, int(headers["x-csms-timestamp"]), body)
        self.requests.append(Received(path, delivery, json.loads(body), hmac.compare_digest(
            expected, headers["x-csms-signature"]), status))
        if 200 <= status < 300:
            self.accepted[delivery] = self.accepted.get(delivery, 0) + 1


@dataclass(frozen=True)
class Places:
    district: int
    a: int  # community A, with site and charge point CP-A
    b: int  # community B, with CP-B


async def make_places(csms: Csms) -> Places:
    """A district with communities A and B, one site and one charge point in each."""
    now = datetime.now(UTC)
    async with csms.engine.begin() as conn:
        district = (await conn.execute(insert(t.districts).values(
            name="五华区", code="530102").returning(t.districts.c.id))).scalar_one()
        ids = []
        for name in ("A", "B"):
            community = (await conn.execute(insert(t.communities).values(
                district_id=district, name=f"小区{name}").returning(t.communities.c.id))
                ).scalar_one()
            site = (await conn.execute(insert(t.sites).values(
                community_id=community, name=f"site {name}").returning(t.sites.c.id))
                ).scalar_one()
            await conn.execute(insert(t.charge_points).values(
                id=f"CP-{name}", site_id=site, registration_status="Accepted",
                created_at=now))
            ids.append(community)
    return Places(district, ids[0], ids[1])


async def ground_fault(csms: Csms, station_id: str) -> None:
    """A real level-1 alarm: the charger reports a GroundFailure (the alarm and its outbox
    rows are stored together, asynchronously; tests poll for the delivery)."""
    async with SimStation(station_id, "ocpp1.6", ocpp_url(csms)).running() as sim:
        await sim.boot()
        await sim.send_status(1, "Faulted", error_code="GroundFailure")


@pytest.fixture
def settings(database_url: str) -> Settings:
    """Quick retries for the tests."""
    return make_settings(database_url).model_copy(update={"sharing": SharingSettings(
        webhook_backoff_initial_s=0.05, webhook_backoff_max_s=0.2,
        webhook_poll_interval_s=0.2, webhook_max_attempts=3)})


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    found = Receiver()
    await found.start()
    yield found
    await found.stop()


async def subscribe(http: httpx.AsyncClient, admin: str, url: str, **scope: Any) -> int:
    answer = await http.post("/webhooks/subscriptions", headers=bearer(admin), json={
        "url": url, "secret": SECRET, **scope})
    assert 201 == answer.status_code, answer.text
    return int(answer.json()["id"])


async def deliveries(http: httpx.AsyncClient, admin: str, sub_id: int) -> list[dict[str, Any]]:
    answer = await http.get("/webhooks/deliveries", headers=bearer(admin),
                            params={"subscription_id": sub_id})
    assert 200 == answer.status_code, answer.text
    items: list[dict[str, Any]] = answer.json()["items"]
    return items


class TestSubscriptionsApi:
    async def test_create_list_read_and_deactivate(
        self, csms: Csms, http: httpx.AsyncClient, token: TokenFactory
    ) -> None:
        """Created without echoing the secret, listed, read, deactivated once, audited."""
        admin = await token(Role.ADMIN)
        places = await make_places(csms)
        sub_id = await subscribe(http, admin, "https://example.org/hook",
                                 community_id=places.a)
        one = (await http.get(f"/webhooks/subscriptions/{sub_id}", headers=bearer(admin))).json()
        assert ("https://example.org/hook", places.a, ["alarm"], True) == (
            one["url"], one["community_id"], one["kinds"], one["active"])
        assert "secret" not in one
        listed = (await http.get("/webhooks/subscriptions", headers=bearer(admin))).json()
        assert [sub_id] == [s["id"] for s in listed]
        path = f"/webhooks/subscriptions/{sub_id}"
        assert 204 == (await http.delete(path, headers=bearer(admin))).status_code
        assert 404 == (await http.delete(path, headers=bearer(admin))).status_code
        async with csms.engine.connect() as conn:
            actions = (await conn.execute(select(t.audit_log.c.action, t.audit_log.c.details)
                       .where(t.audit_log.c.resource == "webhook_subscription"))).all()
        assert ["create", "delete"] == [a for a, _ in actions]
        assert SECRET not in json.dumps([d for _, d in actions])

    async def test_bad_input_names_the_field(
        self, csms: Csms, http: httpx.AsyncClient, token: TokenFactory
    ) -> None:
        """Unknown community, both scopes, a short secret: 422 naming what is wrong."""
        admin = await token(Role.ADMIN)
        places = await make_places(csms)
        cases: list[tuple[dict[str, Any], str]] = [
                 ({"community_id": 999999}, "community_id"),
                 ({"community_id": places.a, "district_id": places.district}, "not both"),
                 ({"secret": "short"}, "secret"), ({"url": "ftp://x"}, "url")]
        for extra, named in cases:
            answer = await http.post("/webhooks/subscriptions", headers=bearer(admin), json={
                "url": "http://127.0.0.1/x", "secret": SECRET, **extra})
            assert 422 == answer.status_code, extra
            assert named in answer.text, answer.text

    async def test_operators_may_not_subscribe(
        self, http: httpx.AsyncClient, token: TokenFactory
    ) -> None:
        """Webhook subscriptions are the admin's (family admin)."""
        operator = await token(Role.OPERATOR)
        answer = await http.post("/webhooks/subscriptions", headers=bearer(operator), json={
            "url": "http://127.0.0.1/x", "secret": SECRET})
        assert 403 == answer.status_code


class TestDelivery:
    async def test_a_community_subscription_gets_only_its_alarms(
        self, csms: Csms, http: httpx.AsyncClient, token: TokenFactory, receiver: Receiver
    ) -> None:
        """Subscribed to A and to B: A's alarm reaches A's URL, signed, and nothing is
        queued for B."""
        admin = await token(Role.ADMIN)
        places = await make_places(csms)
        sub_a = await subscribe(http, admin, receiver.url("/a"), community_id=places.a)
        sub_b = await subscribe(http, admin, receiver.url("/b"), community_id=places.b)
        await ground_fault(csms, "CP-A")
        await until(lambda: receiver.accepted)
        [got] = receiver.requests
        assert ("/a", True, "alarm", "ground_fault", "CP-A", places.a) == (
            got.path, got.signed, got.body["kind"], got.body["data"]["code"],
            got.body["data"]["station_id"], got.body["community_id"])
        assert got.delivery_id == got.body["delivery_id"]
        delivered = await eventually(lambda: deliveries(http, admin, sub_a),
                                     lambda items: items[0]["status"] == "delivered")
        assert (got.delivery_id, 1) == (delivered[0]["delivery_id"], delivered[0]["attempts"])
        assert [] == await deliveries(http, admin, sub_b)

    async def test_a_district_subscription_gets_both_communities(
        self, csms: Csms, http: httpx.AsyncClient, token: TokenFactory, receiver: Receiver
    ) -> None:
        """A district-wide subscription receives the alarms of every community in it."""
        admin = await token(Role.ADMIN)
        places = await make_places(csms)
        await subscribe(http, admin, receiver.url(), district_id=places.district)
        await ground_fault(csms, "CP-A")
        await ground_fault(csms, "CP-B")
        await until(lambda: len(receiver.accepted), lambda n: n == 2)
        assert {"CP-A", "CP-B"} == {r.body["station_id"] for r in receiver.requests}

    async def test_retried_after_a_server_error_with_the_same_delivery_id(
        self, csms: Csms, http: httpx.AsyncClient, token: TokenFactory, receiver: Receiver
    ) -> None:
        """The receiver answers 500, then 200: one delivery, two attempts, one id."""
        admin = await token(Role.ADMIN)
        places = await make_places(csms)
        sub_id = await subscribe(http, admin, receiver.url(), community_id=places.a)
        receiver.script = [500]
        await ground_fault(csms, "CP-A")
        done = await eventually(lambda: deliveries(http, admin, sub_id),
                                lambda items: bool(items) and items[0]["status"] == "delivered")
        assert [500, 200] == [r.status for r in receiver.requests]
        assert 1 == len({r.delivery_id for r in receiver.requests})
        assert (2, None) == (done[0]["attempts"], done[0]["last_error"])

    async def test_gives_up_after_the_last_attempt(
        self, csms: Csms, http: httpx.AsyncClient, token: TokenFactory, receiver: Receiver
    ) -> None:
        """Always 503: after webhook_max_attempts (3) the delivery is failed, with why."""
        admin = await token(Role.ADMIN)
        places = await make_places(csms)
        sub_id = await subscribe(http, admin, receiver.url(), community_id=places.a)
        receiver.default = 503
        await ground_fault(csms, "CP-A")
        done = await eventually(lambda: deliveries(http, admin, sub_id),
                                lambda items: bool(items) and items[0]["status"] == "failed")
        assert (3, "HTTP 503", 3) == (done[0]["attempts"], done[0]["last_error"],
                                      len(receiver.requests))
