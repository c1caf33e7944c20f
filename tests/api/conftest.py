"""API test helpers: a client on the running HTTP API and tokens of every role."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable

import httpx
import pytest

from csms.api.access import Role
from csms.api.tokens import new_token
from csms.app import Csms

TokenFactory = Callable[..., Awaitable[str]]


@pytest.fixture
async def http(csms: Csms) -> AsyncIterator[httpx.AsyncClient]:
    """A client on the real API server of ``csms`` (127.0.0.1, its ephemeral port). Its
    timeout is well above the longest wait an endpoint may take on a test's behalf (a
    report's ``wait_s``, 10 s by default), so a slow machine fails on the answer, not the
    client."""
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{csms.api_port}",
                                 timeout=30) as client:
        yield client


@pytest.fixture
def token(csms: Csms) -> TokenFactory:
    """``await token(role, district_id=..., community_id=...)`` -> a bearer token string."""

    async def make(role: Role | str, *, district_id: int | None = None,
                   community_id: int | None = None) -> str:
        secret, record = new_token(Role(role), created_by="test", now=csms.stations.now(),
                                   district_id=district_id, community_id=community_id)
        await csms.access.add_token(record)
        return secret

    return make


def bearer(secret: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {secret}"}
