"""Two CSMS nodes on one PostgreSQL database: a command sent on one node reaches a charger
connected to the other, with the charger's answer or its typed error coming back."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import httpx
import pytest
from sqlalchemy import insert, select, update
from websockets.asyncio.client import connect
from websockets.typing import Subprotocol

from csms.api.access import Role
from csms.api.tokens import new_token
from csms.app import Csms, running
from csms.config import Settings, load_settings
from csms.domain.commands import (
    GetSettings,
    SettingKey,
    SettingsReport,
    TriggerableMessage,
    TriggerMessage,
)
from csms.domain.model import RegistrationStatus
from csms.errors import CommandRejected, CommandTimeout, StationOffline
from csms.services.commands import bus as command_bus
from csms.services.commands import codec
from csms.store import tables as t
from csms.store.city.tables import charger_connections
from csms.store.cluster.nodes import holder
from csms.store.cluster.tables import cluster_nodes
from csms.store.queries import Window
from csms.store.safety.queries import AlarmFilter, AlarmQueries
from simulators.station import SimStation
from tests.conftest import ManualClock, eventually, make_settings, ocpp_url, until
from tests.integration.test_server import BOOT_16, call, raw

pytestmark = pytest.mark.postgres
ON_POSTGRES = pytest.mark.parametrize("database_url", ["postgres"], indirect=True)


@pytest.fixture
async def nodes(database_url: str) -> AsyncIterator[tuple[Csms, Csms]]:
    """Two running nodes sharing the database and the PostgreSQL command bus."""
    base = make_settings(database_url, call_timeout_s=2.0)

    def named(node: str) -> Settings:
        return load_settings(None, **{**base.model_dump(mode="json"), "cluster": {
            "command_bus": "postgres", "claim_timeout_s": 1.0, "node_name": node}})

    async with AsyncExitStack() as stack:
        a = await stack.enter_async_context(running(named("node-a")))
        b = await stack.enter_async_context(running(named("node-b")))
        yield a, b


async def on(node: Csms, station_id: str) -> bool:
    return node.connections.get(station_id) is not None


@ON_POSTGRES
@pytest.mark.parametrize("version", ["ocpp1.6", "ocpp2.0.1"])
async def test_a_command_on_one_node_reaches_a_charger_on_the_other(
    nodes: tuple[Csms, Csms], version: str
) -> None:
    """Node A sends, node B holds the charger: the charger's own answer comes back."""
    a, b = nodes
    sim = SimStation("CP-FAR", version, ocpp_url(b))
    async with sim.running():
        await sim.boot()
        assert not await on(a, "CP-FAR")
        answer = await a.commands.send(
            "CP-FAR", TriggerMessage(TriggerableMessage.HEARTBEAT), requested_by="test")
        assert "Accepted" == getattr(answer, "status", None)
        await eventually(lambda: _received(sim, "TriggerMessage"))


@ON_POSTGRES
async def test_a_large_answer_crosses_in_chunks(nodes: tuple[Csms, Csms]) -> None:
    """An answer over the 8,000-byte NOTIFY limit (every 1.6 configuration key with long
    values) arrives whole."""
    a, b = nodes
    sim = SimStation("CP-BIG", "ocpp1.6", ocpp_url(b))
    async with sim.running():
        await sim.boot()
        local = await b.commands.send("CP-BIG", GetSettings(()))
        remote = await a.commands.send("CP-BIG", GetSettings(()))
        assert local == remote
        names = [f"UnknownConfigurationKeyWithALongName{n:04d}" for n in range(400)]
        report = await a.commands.send("CP-BIG", GetSettings(tuple(map(SettingKey, names))))
        assert isinstance(report, SettingsReport)
        assert len(json.dumps(codec.encode_result(report))) > 2 * command_bus.CHUNK_CHARS
        assert names == list(report.unknown)


@ON_POSTGRES
async def test_errors_cross_nodes_typed(nodes: tuple[Csms, Csms]) -> None:
    """Connected nowhere: StationOffline after the claim timeout. Connected to B but silent:
    CommandTimeout. A CALLERROR on B arrives on A as CommandRejected with its code."""
    a, b = nodes
    with pytest.raises(StationOffline):
        await a.commands.send("CP-NOWHERE", TriggerMessage(TriggerableMessage.HEARTBEAT))
    async with connect(ocpp_url(b) + "CP-SILENT",
                       subprotocols=[Subprotocol("ocpp1.6")]) as ws:
        await eventually(lambda: on(b, "CP-SILENT"))
        with pytest.raises(CommandTimeout):
            await a.commands.send("CP-SILENT", TriggerMessage(TriggerableMessage.HEARTBEAT),
                                  timeout_s=0.5)
        request = await ws.recv()  # the CALL the silent charger did not answer
        assert "TriggerMessage" in str(request)
        task = asyncio.create_task(
            a.commands.send("CP-SILENT", TriggerMessage(TriggerableMessage.HEARTBEAT)))
        call = json.loads(await ws.recv())
        await ws.send(json.dumps([4, call[1], "NotImplemented", "not here", {}]))
        with pytest.raises(CommandRejected) as rejected:
            await task
    assert "NotImplemented" == rejected.value.code


async def _received(sim: SimStation, action: str) -> bool:
    return any(name == action for name, _ in sim.received)


@ON_POSTGRES
async def test_an_alarm_raised_on_one_node_clears_on_the_next(
    nodes: tuple[Csms, Csms]
) -> None:
    """A charger faults on node A, then reconnects to node B (started before the alarm
    existed) and reports NoError: B reads the charger's open alarms when it connects and
    clears the one A raised."""
    a, b = nodes

    async def over_voltage(state: str) -> bool:
        found = await AlarmQueries(a.engine).alarms(
            AlarmFilter(code="over_voltage", station_id="CP-MOVE"), Window(10))
        return [state] == [alarm.state for alarm in found.items]

    first = SimStation("CP-MOVE", "ocpp1.6", ocpp_url(a))
    async with first.running():
        await first.boot()
        await first.send_status(1, "Faulted", error_code="OverVoltage")
        await eventually(lambda: over_voltage("raised"))
    second = SimStation("CP-MOVE", "ocpp1.6", ocpp_url(b))
    async with second.running():
        await second.boot()
        await second.send_status(1, "Available", error_code="NoError")
        await eventually(lambda: over_voltage("cleared"))


@ON_POSTGRES
async def test_rejecting_a_charger_on_one_node_closes_its_connection_on_the_other(
    nodes: tuple[Csms, Csms],
) -> None:
    """Revocation takes effect wherever the charger is connected: the operator rejects it
    through node A's API, node B closes its connection with the reason, and the station
    event and audit row are recorded."""
    a, b = nodes
    await a.store.add_station("CP-REVOKE", RegistrationStatus.ACCEPTED)
    secret, record = new_token(Role.ADMIN, created_by="test", now=a.stations.now())
    await a.access.add_token(record)
    async with raw(b, "CP-REVOKE") as ws:
        await call(ws, "BootNotification", BOOT_16)
        assert not await on(a, "CP-REVOKE")
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{a.api_port}") as http:
            answer = await http.put("/charge-points/CP-REVOKE/registration",
                                    headers={"Authorization": f"Bearer {secret}"},
                                    json={"status": "Rejected"})
        assert 200 == answer.status_code, answer.text
        await ws.wait_closed()
        assert ws.close_reason == "charge point rejected"
    async with a.engine.connect() as conn:
        events = (await conn.execute(select(t.station_events.c.code).where(
            t.station_events.c.station_id == "CP-REVOKE",
            t.station_events.c.kind == "disconnected_by_csms"))).scalars().all()
        audited = (await conn.execute(select(t.audit_log.c.action).where(
            t.audit_log.c.resource_id == "CP-REVOKE"))).scalars().all()
    assert ["charge point rejected"] == list(events)
    assert "disconnect" in audited


@ON_POSTGRES
async def test_every_node_answers_the_same_live_state(nodes: tuple[Csms, Csms]) -> None:
    """A charger held by node B is connected, on node B, in node A's answer too; gone when it
    disconnects; a node that stopped beating (it crashed) holds nothing."""
    a, b = nodes
    secret, record = new_token(Role.ADMIN, created_by="test", now=a.stations.now())
    await a.access.add_token(record)
    headers = {"Authorization": f"Bearer {secret}"}
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{a.api_port}",
                                 headers=headers) as http:
        async def live(station_id: str) -> tuple[bool, str | None]:
            body = (await http.get(f"/charge-points/{station_id}/live")).json()
            return body["connected"], body["node"]

        async with raw(b, "CP-WHERE") as ws:
            await call(ws, "BootNotification", BOOT_16)
            assert not await on(a, "CP-WHERE")
            await eventually(lambda: live("CP-WHERE"), lambda v: v == (True, "node-b"))
        await eventually(lambda: live("CP-WHERE"), lambda v: v == (False, None))

        now = a.stations.now()
        async with a.engine.begin() as conn:
            await conn.execute(insert(t.charge_points).values(
                id="CP-GHOST", registration_status="Accepted", created_at=now))
            await conn.execute(insert(cluster_nodes).values(
                node="node-dead", started_at=now, seen_at=now - timedelta(minutes=5)))
            await conn.execute(insert(charger_connections).values(
                station_id="CP-GHOST", connected=True, at=now, node="node-dead"))
        assert (False, None) == await live("CP-GHOST")
        async with a.engine.begin() as conn:
            await conn.execute(update(cluster_nodes).values(seen_at=now))
        assert (True, "node-dead") == await live("CP-GHOST")


@ON_POSTGRES
async def test_a_station_of_another_node_is_watched_and_lost_once(database_url: str) -> None:
    """A charger registered through node B after node A started: A watches it from its next
    refresh; silent past two heartbeat intervals on A's clock (and in the store's last-seen
    time), A raises its lost communication once, and a second tick adds nothing."""
    start = datetime.now(UTC)
    clock_a, clock_b = ManualClock(start), ManualClock(start)
    base = make_settings(database_url)
    cluster = {"command_bus": "postgres", "claim_timeout_s": 1.0}
    settings = load_settings(None, **{**base.model_dump(mode="json"), "cluster": cluster})
    async with running(settings, clock_a) as a, running(settings, clock_b) as b:
        assert a.safety is not None
        async with raw(b, "CP-WATCHED") as ws:
            await call(ws, "BootNotification", BOOT_16)
        assert await a.safety.watch_new_stations() >= 1
        assert 0 == await a.safety.watch_new_stations()

        async def lost() -> list[str]:
            found = await AlarmQueries(a.engine).alarms(
                AlarmFilter(code="lost_communication", station_id="CP-WATCHED"), Window(10))
            return [alarm.state for alarm in found.items]

        await a.safety.tick()
        assert [] == await lost()  # heard just now (the store's last-seen time)
        clock_a.at = start + timedelta(hours=1)
        await a.safety.tick()
        assert ["raised"] == await lost()
        await a.safety.tick()
        assert ["raised"] == await lost()


@ON_POSTGRES
async def test_a_late_disconnect_from_the_old_node_does_not_hide_the_new_one(
    nodes: tuple[Csms, Csms],
) -> None:
    """The charger left node A (which noticed only at its ping timeout) and connected to B
    before A wrote its disconnect: B holds it."""
    a, _ = nodes
    now = a.stations.now()
    async with a.engine.begin() as conn:
        await conn.execute(insert(t.charge_points).values(
            id="CP-LATE", registration_status="Accepted", created_at=now))
        await conn.execute(insert(charger_connections), [
            {"station_id": "CP-LATE", "connected": True, "at": now - timedelta(seconds=30),
             "node": "node-a"},
            {"station_id": "CP-LATE", "connected": True, "at": now - timedelta(seconds=20),
             "node": "node-b"},
            {"station_id": "CP-LATE", "connected": False, "at": now - timedelta(seconds=10),
             "node": "node-a"}])
    found = await holder(a.engine, "CP-LATE", now)
    assert found is not None
    assert ("node-b", now - timedelta(seconds=20)) == (found.node, found.connected_at)
    async with a.engine.begin() as conn:
        await conn.execute(insert(charger_connections).values(
            station_id="CP-LATE", connected=False, at=now, node="node-b"))
    assert await holder(a.engine, "CP-LATE", now) is None


class _Nowhere:
    """A node's connections when it holds no charger."""

    def connected_here(self, station_id: str) -> bool:
        return False

    async def send(self, station_id: str, command: object, timeout_s: float) -> object:
        raise AssertionError("no charger here")


@ON_POSTGRES
async def test_a_burst_of_broadcasts_arrives_in_order_in_few_notifications(
    database_url: str,
) -> None:
    """Command bus rule 7: 500 broadcasts sent at once (one of them too big for a NOTIFY)
    reach the other node whole and in order, in far fewer notifications than broadcasts;
    the sender's own receivers are not called."""
    dsn = database_url.replace("postgresql+asyncpg://", "postgresql://", 1)
    sender = command_bus.PostgresCommandBus(dsn, _Nowhere())  # type: ignore[arg-type]
    receiver = command_bus.PostgresCommandBus(dsn, _Nowhere())  # type: ignore[arg-type]
    notifications: list[str] = []
    counter = await asyncpg.connect(dsn)
    await counter.add_listener(command_bus.BROADCASTS,
                               lambda *args: notifications.append(args[-1]))
    got: list[dict[str, Any]] = []
    own: list[dict[str, Any]] = []
    await sender.start()
    await receiver.start()
    try:
        receiver.on_broadcast("t", got.append)
        sender.on_broadcast("t", own.append)
        bodies: list[dict[str, Any]] = [{"n": n, "pad": "x" * 40} for n in range(500)]
        bodies[250]["pad"] = "y" * (3 * command_bus.CHUNK_CHARS)
        for body in bodies:
            assert await sender.broadcast("t", body)
        await until(lambda: len(got), lambda n: n >= len(bodies))
        assert bodies == got
        assert [] == own
        assert len(notifications) < len(bodies) / 10
    finally:
        await counter.close()
        await sender.stop()
        await receiver.stop()
