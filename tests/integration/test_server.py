"""The OCPP server over real WebSockets with a raw client: handshake policy, auth, bad input."""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import orjson
import pytest
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.typing import Subprotocol

from csms import passwords
from csms.app import Csms, running
from csms.domain.model import RegistrationStatus
from tests.conftest import eventually, make_settings, ocpp_url

BOOT_16 = {"chargePointVendor": "Acme", "chargePointModel": "AC7"}


@asynccontextmanager
async def raw(
    app: Csms, station_id: str, version: str = "ocpp1.6", password: str | None = None
) -> AsyncIterator[ClientConnection]:
    headers = {}
    if password is not None:
        token = base64.b64encode(f"{station_id}:{password}".encode()).decode()
        headers["Authorization"] = f"Basic {token}"
    async with connect(
        ocpp_url(app) + station_id, subprotocols=[Subprotocol(version)],
        additional_headers=headers,
    ) as ws:
        yield ws


async def call(ws: ClientConnection, action: str, payload: dict[str, Any], mid: str = "m1") -> Any:
    """Send a CALL and return the answer to it; a CALL the CSMS sends meanwhile (a profile,
    a transaction status query) is skipped, not taken for the answer."""
    await ws.send(orjson.dumps([2, mid, action, payload]).decode())
    while True:
        frame = orjson.loads(await ws.recv())
        if not (isinstance(frame, list) and frame and frame[0] == 2):
            return frame


class TestHandshake:
    async def test_negotiates_the_highest_common_version(self, csms: Csms) -> None:
        """A charger offering both versions gets ocpp2.0.1."""
        async with connect(
            ocpp_url(csms) + "CP-1", subprotocols=[Subprotocol("ocpp1.6"), Subprotocol("ocpp2.0.1")]
        ) as ws:
            assert "ocpp2.0.1" == ws.subprotocol

    async def test_refuses_a_handshake_without_a_supported_subprotocol(self, csms: Csms) -> None:
        """No ocpp subprotocol offered: HTTP 400, no connection."""
        with pytest.raises(InvalidStatus) as refused:
            async with connect(ocpp_url(csms) + "CP-1", subprotocols=[Subprotocol("ocpp1.5")]):
                pass
        assert 400 == refused.value.response.status_code

    async def test_refuses_an_unknown_id_under_the_reject_policy(self, database_url: str) -> None:
        """reject: an id the CSMS does not know is refused at the upgrade (404)."""
        async with running(make_settings(database_url, unknown_charge_points="reject")) as app:
            with pytest.raises(InvalidStatus) as refused:
                async with raw(app, "STRANGER"):
                    pass
            assert 404 == refused.value.response.status_code
            assert await app.store.get_station("STRANGER") is None

    async def test_serves_under_a_path_prefix(self, database_url: str) -> None:
        """With path_prefix /ocpp/, the id is the segment after it; other paths are 404."""
        async with running(make_settings(database_url, path_prefix="/ocpp")) as app:
            async with raw(app, "CP-P") as ws:
                assert "Accepted" == (await call(ws, "BootNotification", BOOT_16))[2]["status"]
            with pytest.raises(InvalidStatus):
                async with connect(f"ws://127.0.0.1:{app.ocpp.port}/other/CP-P",
                                   subprotocols=[Subprotocol("ocpp1.6")]):
                    pass


class TestBasicAuth:
    async def test_checks_the_password_against_the_stored_hash(self, csms: Csms) -> None:
        """Right password connects; a wrong or missing one gets 401."""
        await csms.store.add_station("CP-A", RegistrationStatus.ACCEPTED,
                                     passwords.hash_password("s3cret-s3cret-16"))
        async with raw(csms, "CP-A", password="s3cret-s3cret-16") as ws:
            assert "Accepted" == (await call(ws, "BootNotification", BOOT_16))[2]["status"]
        for wrong in ("nope", None):
            with pytest.raises(InvalidStatus) as refused:
                async with raw(csms, "CP-A", password=wrong):
                    pass
            assert 401 == refused.value.response.status_code


class TestRegistrationPolicy:
    async def test_pending_until_an_operator_accepts(self, database_url: str) -> None:
        """pending: Boot answers Pending and other messages get SecurityError until accepted."""
        settings = make_settings(database_url, unknown_charge_points="pending")
        async with running(settings) as app, raw(app, "CP-N") as ws:
            assert "Pending" == (await call(ws, "BootNotification", BOOT_16))[2]["status"]
            refused = await call(ws, "Heartbeat", {}, "m2")
            assert [4, "m2", "SecurityError"] == refused[:3]
            assert await app.store.set_station("CP-N", registration_status="Accepted")
            assert "Accepted" == (await call(ws, "BootNotification", BOOT_16, "m3"))[2]["status"]
            assert 3 == (await call(ws, "Heartbeat", {}, "m4"))[0]


class TestBadInput:
    @pytest.mark.parametrize(
        ("frame", "message_id", "code"),
        [
            ("not json", "-1", "FormationViolation"),
            ('{"a": 1}', "-1", "FormationViolation"),
            ('[2, "x1", "Heartbeat", []]', "x1", "FormationViolation"),
            ('[2, "x2", "NoSuchAction", {}]', "x2", "NotImplemented"),
            ('[2, "x3", "Reset", {"type": "Hard"}]', "x3", "NotSupported"),
            ('[2, "x4", "BootNotification", {"chargePointVendor": "A"}]', "x4",
             "OccurenceConstraintViolation"),
            ('[2, "x5", "StatusNotification", {"connectorId": "1", "errorCode": "NoError",'
             ' "status": "Available"}]', "x5", "TypeConstraintViolation"),
            ('[2, "x6", "StartTransaction", {"connectorId": 1, "idTag": "T", "meterStart": 0,'
             ' "timestamp": "yesterday"}]', "x6", "PropertyConstraintViolation"),
            ('[9, "x7", "Heartbeat", {}]', "x7", "NotSupported"),
        ],
    )
    async def test_answers_the_right_callerror_and_lives_on(
        self, csms: Csms, frame: str, message_id: str, code: str
    ) -> None:
        """A malformed frame gets its CALLERROR; the next valid message is answered."""
        async with raw(csms, "CP-BAD") as ws:
            await ws.send(frame)
            error = orjson.loads(await ws.recv())
            assert [4, message_id, code] == error[:3]
            assert 3 == (await call(ws, "Heartbeat", {}, "ok"))[0]

    async def test_oversized_frame_closes_only_that_connection(self, csms: Csms) -> None:
        """A frame above max_message_bytes closes its connection (1009); others carry on."""
        async with raw(csms, "CP-BIG") as big, raw(csms, "CP-OK") as ok:
            await big.send(orjson.dumps([2, "b", "DataTransfer",
                                         {"vendorId": "x", "data": "y" * 70000}]).decode())
            with pytest.raises(ConnectionClosed) as closed:
                await big.recv()
            assert closed.value.rcvd is not None
            assert 1009 == closed.value.rcvd.code
            assert 3 == (await call(ok, "Heartbeat", {}))[0]


class TestReplacement:
    async def test_a_second_connection_replaces_the_first(self, csms: Csms) -> None:
        """The newer connection wins; the older is closed with 1000 and commands reach the new."""
        async with raw(csms, "CP-R") as first, raw(csms, "CP-R") as second:
            with pytest.raises(ConnectionClosed) as closed:
                await first.recv()
            assert closed.value.rcvd is not None
            assert 1000 == closed.value.rcvd.code
            await eventually(lambda: _same(csms, "CP-R"))
            assert 3 == (await call(second, "Heartbeat", {}))[0]


async def _same(app: Csms, station_id: str) -> bool:
    connection = app.connections.get(station_id)
    return connection is not None and 1 == len(app.connections)
