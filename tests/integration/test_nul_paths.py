"""NUL and other control characters in a path never reach the database: a 4xx, no 500, on
SQLite and PostgreSQL alike, before and after authentication (issue 14, defect 5)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import InvalidStatus
from websockets.typing import Subprotocol

from csms.api.access import Role
from csms.api.tokens import new_token
from csms.app import Csms
from tests.api.conftest import bearer
from tests.conftest import ocpp_url


@pytest.fixture
async def http(csms: Csms) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{csms.api_port}",
                                 timeout=10) as client:
        yield client


@pytest.mark.parametrize("path", ["AUTH-1%00", "%00", "CP%01X", "CP%7F"])
async def test_an_ocpp_handshake_with_a_control_character_is_404(csms: Csms,
                                                                  path: str) -> None:
    """/AUTH-1%00: refused as no valid charge point id (404), nothing registered."""
    with pytest.raises(InvalidStatus) as refused:
        async with connect(ocpp_url(csms) + path, subprotocols=[Subprotocol("ocpp1.6")]):
            pass
    assert 404 == refused.value.response.status_code


@pytest.mark.parametrize("path", [
    "/charge-points/%00", "/id-tokens/%00", "/charge-points/CP%00/live",
    "/charge-points?site_id=%00", "/audit-log?actor=a%00b",
])
@pytest.mark.parametrize("authenticated", [False, True])
async def test_an_api_path_with_nul_is_a_client_error(
    csms: Csms, http: httpx.AsyncClient, path: str, authenticated: bool
) -> None:
    """A NUL in the path or query: 4xx with or without a token, never 500."""
    headers = {}
    if authenticated:
        secret, record = new_token(Role.ADMIN, created_by="test", now=csms.stations.now())
        await csms.access.add_token(record)
        headers = bearer(secret)
    answer = await http.get(path, headers=headers)
    assert 400 <= answer.status_code < 500, (answer.status_code, answer.text)
