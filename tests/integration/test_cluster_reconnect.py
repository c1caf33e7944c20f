"""The cross-node command bus survives losing its PostgreSQL connection (issue 14, defect 1).

The tests never restart the shared PostgreSQL server: they end the bus's backend with
``pg_terminate_backend`` and, to hold the bus down, refuse new connections to the test's own
database (``ALLOW_CONNECTIONS false``) for a while.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager

import asyncpg
import httpx
import pytest
from structlog.testing import capture_logs

from csms.api.access import Role
from csms.api.tokens import new_token
from csms.app import Csms, running
from csms.config import load_settings
from csms.domain.commands import TriggerableMessage, TriggerMessage
from csms.errors import CommandBusDown, StationOffline
from csms.services.commands.bus import PostgresCommandBus
from simulators.station import SimStation
from tests.api.conftest import bearer
from tests.conftest import PG_ADMIN_DSN, eventually, make_settings, ocpp_url, until
from tests.integration.test_tls_and_logging import info_logs as info_logs

pytestmark = pytest.mark.postgres
ON_POSTGRES = pytest.mark.parametrize("database_url", ["postgres"], indirect=True)
HEARTBEAT = TriggerMessage(TriggerableMessage.HEARTBEAT)


@pytest.fixture
async def nodes(database_url: str) -> AsyncIterator[tuple[Csms, Csms]]:
    """Two nodes on one database and the PostgreSQL bus, reconnecting fast."""
    base = make_settings(database_url, call_timeout_s=2.0)
    settings = load_settings(None, **{
        **base.model_dump(mode="json"),
        "cluster": {"command_bus": "postgres", "claim_timeout_s": 1.0}})
    async with AsyncExitStack() as stack:
        a = await stack.enter_async_context(running(settings))
        b = await stack.enter_async_context(running(settings))
        yield a, b


def bus(node: Csms) -> PostgresCommandBus:
    assert node.cluster is not None
    return node.cluster


async def terminate(*nodes: Csms) -> None:
    """End each node's bus connection on the server side, as a restart would."""
    admin = await asyncpg.connect(PG_ADMIN_DSN)
    try:
        for node in nodes:
            pid = bus(node).server_pid
            assert pid is not None
            assert await admin.fetchval("SELECT pg_terminate_backend($1)", pid)
    finally:
        await admin.close()


@asynccontextmanager
async def connections_refused(database_url: str) -> AsyncIterator[None]:
    """No new connections to the test's database until the block ends."""
    name = database_url.rsplit("/", 1)[1]
    admin = await asyncpg.connect(PG_ADMIN_DSN)
    try:
        await admin.execute(f'ALTER DATABASE "{name}" WITH ALLOW_CONNECTIONS false')
        try:
            yield
        finally:
            await admin.execute(f'ALTER DATABASE "{name}" WITH ALLOW_CONNECTIONS true')
    finally:
        await admin.close()


async def answered(node: Csms, station_id: str) -> bool:
    """One command attempt: True if answered; only StationOffline may fail it meanwhile."""
    try:
        await node.commands.send(station_id, HEARTBEAT, timeout_s=2.0)
    except StationOffline:
        return False
    return True


@ON_POSTGRES
@pytest.mark.usefixtures("info_logs")
async def test_commands_cross_nodes_again_after_the_connections_are_terminated(
    nodes: tuple[Csms, Csms],
) -> None:
    """Both buses lose their connection: they log it, reconnect, listen again, and a command
    from A reaches the charger on B within seconds, in both directions."""
    a, b = nodes
    far_b = SimStation("CP-ON-B", "ocpp1.6", ocpp_url(b))
    far_a = SimStation("CP-ON-A", "ocpp2.0.1", ocpp_url(a))
    async with far_b.running(), far_a.running():
        await far_b.boot()
        await far_a.boot()
        assert await answered(a, "CP-ON-B")
        old = (bus(a).server_pid, bus(b).server_pid)
        with capture_logs() as logs:
            await terminate(a, b)
            await eventually(lambda: answered(a, "CP-ON-B"), timeout_s=15)
            await eventually(lambda: answered(b, "CP-ON-A"), timeout_s=15)
        assert old != (bus(a).server_pid, bus(b).server_pid)
    events = [e["event"] for e in logs]
    assert 2 == events.count("cluster.bus.lost")
    assert 2 == events.count("cluster.bus.reconnected")


@ON_POSTGRES
async def test_while_down_commands_are_409_and_readyz_says_not_ready(
    nodes: tuple[Csms, Csms], database_url: str,
) -> None:
    """While the bus cannot reconnect: a command for a charger elsewhere is CommandBusDown
    (a StationOffline: HTTP 409, never 500), /readyz is 503 naming the bus; a charger on the
    node itself still gets its commands. Once connections are allowed again, all is back."""
    a, b = nodes
    far = SimStation("CP-FAR", "ocpp1.6", ocpp_url(b))
    near = SimStation("CP-NEAR", "ocpp1.6", ocpp_url(a))
    admin_token = await _admin_token(a)
    async with far.running(), near.running(), httpx.AsyncClient(
            base_url=f"http://127.0.0.1:{a.api_port}", timeout=10) as http:
        await far.boot()
        await near.boot()
        async with connections_refused(database_url):
            await terminate(a)
            await until(lambda: not bus(a).ready)
            with pytest.raises(CommandBusDown):
                await a.commands.send("CP-FAR", HEARTBEAT)
            assert await answered(a, "CP-NEAR")
            ready = await http.get("/readyz")
            assert 503 == ready.status_code
            assert "ok" != ready.json()["checks"]["command_bus"]
            sent = await http.post("/charge-points/CP-FAR/commands/trigger-message",
                                   json={"message": "Heartbeat"}, headers=bearer(admin_token))
            assert 409 == sent.status_code, sent.text
        await until(lambda: bus(a).ready, timeout_s=15)
        await eventually(lambda: answered(a, "CP-FAR"), timeout_s=15)
        ready = await http.get("/readyz")
        assert "ok" == ready.json()["checks"]["command_bus"]


async def _admin_token(node: Csms) -> str:
    secret, record = new_token(Role.ADMIN, created_by="test", now=node.stations.now())
    await node.access.add_token(record)
    return secret
