"""Handshakes and frames from misbehaving clients (issue 14, defects 7 and 11)."""

from __future__ import annotations

import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import InvalidStatus
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
