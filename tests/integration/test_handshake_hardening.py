"""Handshakes and frames from misbehaving clients (issue 14, defects 7 and 11)."""

from __future__ import annotations

import orjson
import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.typing import Subprotocol

from csms.app import Csms
from tests.conftest import ocpp_url
from tests.integration.test_server import BOOT_16, call, raw


class TestRegistrationAfterHandshake:
    @pytest.mark.parametrize("offered", [[], ["ocpp1.5"], ["chat"]])
    async def test_a_refused_handshake_registers_nothing(self, csms: Csms,
                                                         offered: list[str]) -> None:
        """Under ``accept``, a handshake without a supported subprotocol is refused (400)
        and leaves no charge point behind."""
        for n in range(3):
            with pytest.raises(InvalidStatus) as refused:
                async with connect(ocpp_url(csms) + f"CP-NOPROTO-{n}",
                                   subprotocols=[Subprotocol(p) for p in offered]):
                    pass
            assert 400 == refused.value.response.status_code
            assert await csms.store.get_station(f"CP-NOPROTO-{n}") is None

    async def test_a_completed_handshake_registers(self, csms: Csms) -> None:
        """The same id with a subprotocol is registered as the policy says, and boots."""
        async with raw(csms, "CP-NEWCOMER") as ws:
            assert "Accepted" == (await call(ws, "BootNotification", BOOT_16))[2]["status"]
        record = await csms.store.get_station("CP-NEWCOMER")
        assert record is not None
        assert "Accepted" == record.registration_status.value


class TestBinaryFrames:
    async def test_a_binary_call_closes_the_connection_with_1003(self, csms: Csms) -> None:
        """A binary frame holding a valid CALL is not processed: the connection is closed
        with 1003 and the refusal is counted; other connections carry on."""
        async with raw(csms, "CP-BIN") as binary, raw(csms, "CP-TEXT") as text:
            await binary.send(orjson.dumps([2, "b1", "Heartbeat", {}]))  # bytes: binary
            with pytest.raises(ConnectionClosed) as closed:
                await binary.recv()
            assert closed.value.rcvd is not None
            assert 1003 == closed.value.rcvd.code
            assert 3 == (await call(text, "Heartbeat", {}))[0]
        refused = csms.metrics.registry.get_sample_value(
            "csms_ocpp_refused_frames_total", {"reason": "binary"})
        assert 1.0 == refused
