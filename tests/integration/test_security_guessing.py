"""Password guessing and revocation (issue 15, parts 4 and 5): failed attempts are throttled
per charge point id and per source address, the lockout is a recorded security event and
audit row, unknown ids answer like wrong passwords, and rejecting a charger or changing its
password closes its open connection."""

from __future__ import annotations

import base64
from typing import Any

import httpx
import pytest
from sqlalchemy import select
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.typing import Subprotocol

from csms import passwords
from csms.api.access import Role
from csms.app import Csms, running
from csms.domain.model import RegistrationStatus
from csms.store import tables as t
from csms.store.safety import tables as ts
from tests.conftest import eventually, make_settings, ocpp_url
from tests.integration.test_server import BOOT_16, call, raw

PASSWORD = "right-password-0123"


def guarded(database_url: str, **more: Any) -> Any:
    return make_settings(database_url, security_profile=1, auth_failures_per_id=3,
                         auth_failures_per_address=8, auth_failure_refill_s=3600.0, **more)


async def status_of(app: Csms, station_id: str, password: str | None) -> int:
    """The HTTP status a handshake gets (101 when it is let in)."""
    try:
        async with raw(app, station_id, password=password):
            return 101
    except InvalidStatus as refused:
        return int(refused.response.status_code)


async def rows(app: Csms, query: Any) -> list[Any]:
    async with app.engine.connect() as conn:
        return list((await conn.execute(query)).all())


class TestGuessing:
    async def test_an_id_is_locked_after_its_failures_and_the_lockout_recorded(
            self, database_url: str) -> None:
        async with running(guarded(database_url)) as app:
            for station in ("CP-A", "CP-B"):
                await app.store.add_station(station, RegistrationStatus.ACCEPTED,
                                            passwords.hash_password(PASSWORD))
            assert [401, 401, 401] == [await status_of(app, "CP-A", f"guess-{n:012d}")
                                       for n in range(3)]
            with pytest.raises(InvalidStatus) as locked:
                async with raw(app, "CP-A", password=PASSWORD):
                    pass
            assert 429 == locked.value.response.status_code
            assert int(locked.value.response.headers["Retry-After"]) > 0
            assert 101 == await status_of(app, "CP-B", PASSWORD)  # others are not affected
            e = t.station_events
            events = await rows(app, select(e.c.code, e.c.details).where(
                e.c.station_id == "CP-A", e.c.kind == "security_event"))
            assert [("FailedToAuthenticateAtCsms", "id")] == [
                (code, details["locked"]) for code, details in events]
            a = t.audit_log
            audited = await eventually(lambda: rows(app, select(a.c.action).where(
                a.c.resource_id == "CP-A")))
            assert [("security_event",)] == audited
            alarms = await eventually(lambda: rows(app, select(ts.alarms.c.code).where(
                ts.alarms.c.station_id == "CP-A")))
            assert [("security_event",)] == alarms

    async def test_an_address_is_locked_across_ids_and_unknown_ids_look_like_bad_passwords(
            self, database_url: str) -> None:
        async with running(guarded(database_url)) as app:
            await app.store.add_station("CP-KNOWN", RegistrationStatus.ACCEPTED,
                                        passwords.hash_password(PASSWORD))
            answers = [await status_of(app, f"CP-GUESS-{n}", "whatever-0123456") for n in range(4)]
            answers += [await status_of(app, "CP-KNOWN", f"wrong-{n:012d}") for n in range(2)]
            assert [401] * 6 == answers  # unknown ids: the same 401 as a wrong password
            answers = [await status_of(app, f"CP-MORE-{n}", "whatever-0123456") for n in range(2)]
            assert [401, 401] == answers
            assert 429 == await status_of(app, "CP-KNOWN", PASSWORD)  # the address is locked
            e = t.station_events
            events = await rows(app, select(e.c.details).where(e.c.kind == "security_event"))
            assert ["address"] == [details["locked"] for (details,) in events]

    async def test_a_missing_header_is_a_challenge_not_a_failure(self, database_url: str
                                                                  ) -> None:
        async with running(guarded(database_url)) as app:
            await app.store.add_station("CP-C", RegistrationStatus.ACCEPTED,
                                        passwords.hash_password(PASSWORD))
            assert [401] * 5 == [await status_of(app, "CP-C", None) for _ in range(5)]
            assert 101 == await status_of(app, "CP-C", PASSWORD)

    async def test_a_rejected_charger_learns_nothing_before_it_authenticates(
            self, database_url: str) -> None:
        async with running(guarded(database_url)) as app:
            await app.store.add_station("CP-R", RegistrationStatus.REJECTED,
                                        passwords.hash_password(PASSWORD))
            assert 401 == await status_of(app, "CP-R", "not-the-password-0")
            assert 403 == await status_of(app, "CP-R", PASSWORD)


class TestRevocation:
    async def test_rejecting_or_a_new_password_closes_the_open_connection(
            self, database_url: str) -> None:
        settings = make_settings(database_url, security_profile=1)
        async with running(settings) as app:
            await app.store.add_station("CP-REV", RegistrationStatus.ACCEPTED,
                                        passwords.hash_password(PASSWORD))
            from csms.api.tokens import new_token
            secret, record = new_token(Role.ADMIN, created_by="test", now=app.stations.now())
            await app.access.add_token(record)
            headers = {"Authorization": f"Bearer {secret}"}
            async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{app.api_port}") as http:
                for change in ("password", "reject"):
                    async with raw(app, "CP-REV", password=PASSWORD) as ws:
                        await call(ws, "BootNotification", BOOT_16)
                        if change == "password":
                            answer = await http.post("/charge-points/CP-REV/password",
                                                     headers=headers,
                                                     json={"password": PASSWORD})
                        else:
                            answer = await http.put("/charge-points/CP-REV/registration",
                                                    headers=headers,
                                                    json={"status": "Rejected"})
                        assert 200 == answer.status_code, answer.text
                        with pytest.raises(ConnectionClosed) as closed:
                            await ws.recv()
                        assert closed.value.rcvd is not None
                        assert closed.value.rcvd.reason in ("password changed",
                                                            "charge point rejected")
                    await eventually(lambda: _gone(app, "CP-REV"))
            e = t.station_events
            events = await rows(app, select(e.c.code).where(
                e.c.kind == "disconnected_by_csms").order_by(e.c.id))
            assert [("password changed",), ("charge point rejected",)] == events
            assert 403 == await status_of(app, "CP-REV", PASSWORD)


async def _gone(app: Csms, station_id: str) -> bool:
    return app.connections.get(station_id) is None


async def status_via(app: Csms, station_id: str, password: str, forwarded_for: str) -> int:
    """The HTTP status of a handshake as a proxy on 127.0.0.1 forwards it for a client."""
    token = base64.b64encode(f"{station_id}:{password}".encode()).decode()
    try:
        async with connect(ocpp_url(app) + station_id, subprotocols=[Subprotocol("ocpp1.6")],
                           additional_headers={"Authorization": f"Basic {token}",
                                               "X-Forwarded-For": forwarded_for}):
            return 101
    except InvalidStatus as refused:
        return int(refused.response.status_code)


@pytest.mark.parametrize("trusted", [["127.0.0.1"], []])
async def test_behind_a_trusted_proxy_each_client_address_has_its_own_bucket(
        database_url: str, trusted: list[str]) -> None:
    """Through a trusted proxy, a guesser at one address locks only that address; a charger
    forwarded for another gets in. Without the proxy trusted, the header is ignored and every
    client shares the proxy's bucket."""
    async with running(guarded(database_url, trusted_proxies=trusted)) as app:
        await app.store.add_station("CP-OK", RegistrationStatus.ACCEPTED,
                                    passwords.hash_password(PASSWORD))
        guesses = [await status_via(app, f"CP-G-{n}", "whatever-0123456", "203.0.113.66")
                   for n in range(8)]
        assert [401] * 8 == guesses
        assert 429 == await status_via(app, "CP-OK", PASSWORD, "203.0.113.66")
        expected = 101 if trusted else 429
        assert expected == await status_via(app, "CP-OK", PASSWORD, "198.51.100.5")
