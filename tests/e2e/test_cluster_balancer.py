"""Three CSMS nodes on the machine's PostgreSQL behind a real HAProxy (csms.cluster.run),
driven by simulated chargers over real WebSockets through the balancer: a charger moved to
another node mid-transaction, a node killed under load, a node cut off from its database."""

from __future__ import annotations

import asyncio
import signal
from collections import Counter
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine

from csms.api.access import Role
from csms.api.tokens import new_token
from csms.app import store_only
from csms.cluster.run import Cluster
from csms.config import DatabaseSettings, load_settings
from csms.store import tables as t
from csms.store.access import AccessStore
from csms.store.engine import create_engine
from tests.conftest import eventually, until
from tests.e2e.cluster_rig import (
    Charger,
    Partition,
    acknowledged,
    durability,
    holders,
    started_sessions,
    three_nodes,
)

pytestmark = [pytest.mark.postgres,
              pytest.mark.parametrize("database_url", ["postgres"], indirect=True)]
VERSIONS = ("ocpp1.6", "ocpp2.0.1")
PACE_S = 0.1  # each charger sends a reading every 0.1 s: ~90 calls/s for nine of them
MOST = 600  # readings per charger at most (a minute at that pace)


@asynccontextmanager
async def engine_of(url: str) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(DatabaseSettings(url=url))
    try:
        yield engine
    finally:
        await engine.dispose()


@asynccontextmanager
async def charging(cluster: Cluster, count: int, prefix: str) -> AsyncIterator[list[Charger]]:
    """``count`` chargers (1.6 and 2.0.1 in turn), each booted and charging, connected one
    after the other so that HAProxy's leastconn spreads them over the nodes."""
    chargers = [Charger.make(cluster.ocpp_url, f"{prefix}-{i:02d}", VERSIONS[i % 2])
                for i in range(count)]
    async with AsyncExitStack() as stack:
        for charger in chargers:
            await stack.enter_async_context(charger.sim.running())
            await charger.begin()
        yield chargers


async def placed(engine: AsyncEngine, chargers: list[Charger]) -> dict[str, str]:
    """Where each charger connected last, once the connection log has every one of them."""
    ids = {c.station_id for c in chargers}
    found = await eventually(lambda: holders(engine), lambda h: ids <= h.keys(), 20)
    return {sid: node for sid, node in found.items() if sid in ids}


def back_online(chargers: list[Charger]) -> bool:
    return all(c.sim.link.connected and c.sim.link.reconnects >= 1
               and not c.sim.outbox.queue for c in chargers)


def answered(chargers: list[Charger]) -> int:
    return sum(c.sim.stats.latency.count for c in chargers)


async def readyz(port: int) -> int:
    async with httpx.AsyncClient(timeout=5.0) as http:
        try:
            return (await http.get(f"http://127.0.0.1:{port}/readyz")).status_code
        except httpx.HTTPError:
            return 0


async def admin_token(database_url: str) -> str:
    """A new admin API token, stored through the CLI's store (the nodes read it)."""
    async with store_only(load_settings(None, database={"url": database_url})) as store:
        secret, record = new_token(Role.ADMIN, created_by="test", now=datetime.now(UTC))
        await AccessStore(store.writer, store.engine).add_token(record)
    return secret


async def assert_nothing_acknowledged_lost(engine: AsyncEngine, chargers: list[Charger]
                                           ) -> None:
    tally = await durability(engine, [c.sim for c in chargers])
    assert tally.acknowledged == tally.stored
    assert tally.acknowledged["reading"] >= 3 * len(chargers)
    assert len(chargers) == tally.acknowledged["started"]
    for charger in chargers:  # one session each: no start was applied twice
        assert 1 == len(await started_sessions(engine, charger.station_id))


async def test_a_charger_moved_to_another_node_mid_transaction_continues_its_session(
    database_url: str, tmp_path: Path,
) -> None:
    """A 1.6 and a 2.0.1 charger charge on their nodes; the balancer takes those nodes out
    (maintenance, their sessions shut) and the chargers reconnect through it to another
    node, which every node's live view names: their readings and their stop go to the same
    session, one session each."""
    async with (three_nodes(database_url, tmp_path / "cluster") as cluster,
                engine_of(database_url) as engine,
                charging(cluster, 2, "MOVE") as chargers):
        for charger in chargers:
            await charger.meter()
        first = await placed(engine, chargers)
        for node in set(first.values()):
            await cluster.haproxy_command(f"set server csms_ocpp/{node} state maint")
            await cluster.haproxy_command(f"shutdown sessions server csms_ocpp/{node}")
        for charger in chargers:
            await charger.meter()  # sent or queued while it reconnects
        await until(lambda: back_online(chargers), timeout_s=20)
        moved = await eventually(lambda: holders(engine), lambda h: all(
            h.get(sid) not in (None, first[sid]) for sid in first), 20)
        headers = {"Authorization": f"Bearer {await admin_token(database_url)}"}
        apis = [cluster.api_url, *(f"http://127.0.0.1:{n.api_port}" for n in cluster.plan.nodes)]
        async with httpx.AsyncClient(headers=headers) as http:
            for sid, node in moved.items():  # the balancer's answer and every node's
                for api in apis:
                    body = (await http.get(f"{api}/charge-points/{sid}/live")).json()
                    assert (True, node) == (body["connected"], body["node"])
        for charger in chargers:
            await charger.meter()
            await charger.sim.stop_transaction(1, reason="Local")

        for charger in chargers:
            sid = charger.station_id
            assert moved[sid] != first[sid]
            (session,) = await started_sessions(engine, sid)
            assert "ended" == session.status
            assert charger.refused == 0
            async with engine.connect() as conn:
                links = Counter((await conn.execute(select(t.meter_values.c.session_id).where(
                    t.meter_values.c.station_id == sid))).scalars())
            assert [session.id] == list(links)  # every reading, both nodes', in the session
        await assert_nothing_acknowledged_lost(engine, chargers)


async def test_a_node_killed_under_load_loses_nothing_it_acknowledged(
    database_url: str, tmp_path: Path,
) -> None:
    """Nine chargers send readings; the node holding most of them is SIGKILLed: HAProxy
    takes it out, its chargers reconnect through the balancer to the others and go on, and
    every message any node answered with a CALLRESULT is in the database."""
    async with (three_nodes(database_url, tmp_path / "cluster") as cluster,
                engine_of(database_url) as engine,
                charging(cluster, 9, "KILL") as chargers):
        stop = asyncio.Event()
        drivers = [asyncio.create_task(c.drive(stop, PACE_S, MOST)) for c in chargers]
        try:
            where = await placed(engine, chargers)
            victim, _ = Counter(where.values()).most_common(1)[0]
            moving = [c for c in chargers if where[c.station_id] == victim]
            await until(lambda: answered(chargers), lambda n: n >= 60 + 5 * len(chargers))
            before = {c.station_id: c.sim.stats.latency.count for c in moving}
            cluster.nodes[victim].signal(signal.SIGKILL)

            await until(lambda: back_online(moving), timeout_s=30)
            await eventually(cluster.server_states,
                             lambda s: s[("csms_ocpp", victim)].startswith("DOWN"), 20)
            now = await eventually(lambda: holders(engine), lambda h: all(
                h[c.station_id] != victim for c in moving), 20)
            await until(lambda: all(c.sim.stats.latency.count >= before[c.station_id] + 10
                                    for c in moving), timeout_s=30)
        finally:
            stop.set()
            await asyncio.wait_for(asyncio.gather(*drivers), 30)
        await until(lambda: not any(c.sim.outbox.queue for c in chargers), timeout_s=20)
        assert {now[c.station_id] for c in moving} <= {"csms-1", "csms-2", "csms-3"} - {victim}
        await assert_nothing_acknowledged_lost(engine, chargers)


@pytest.mark.parametrize("mode", ["drop", "reset"])
async def test_a_node_cut_off_from_the_database_stops_acknowledging(
    database_url: str, tmp_path: Path, mode: str,
) -> None:
    """csms-3 reaches PostgreSQL through a proxy the test cuts (drop: nothing passes,
    nothing is closed; reset: every connection is reset). From the cut on it answers no CALL
    its chargers send with a CALLRESULT, its /readyz says not ready, HAProxy takes it out
    and its chargers carry on on the other nodes; every acknowledged message is in the
    database."""
    partition = Partition(mode)
    port = await partition.start()
    through = make_url(database_url).set(port=port).render_as_string(hide_password=False)
    try:
        async with (three_nodes(database_url, tmp_path / "cluster",
                                {"csms-3": through}) as cluster,
                    engine_of(database_url) as engine,
                    charging(cluster, 9, "CUT") as chargers):
            stop = asyncio.Event()
            drivers = [asyncio.create_task(c.drive(stop, PACE_S, MOST)) for c in chargers]
            try:
                where = await placed(engine, chargers)
                cut_off = [c for c in chargers if where[c.station_id] == "csms-3"]
                assert cut_off, where
                await until(lambda: answered(chargers), lambda n: n >= 60 + 5 * len(chargers))
                partition.cut()
                cut_at = {c.station_id: len(c.sim.link.frames) for c in cut_off}

                node_3 = cluster.plan.node("csms-3")
                await eventually(lambda: readyz(node_3.api_port), lambda s: s == 503, 20)
                await eventually(cluster.server_states,
                                 lambda s: s[("csms_ocpp", "csms-3")].startswith("DOWN"), 30)
                await until(lambda: back_online(cut_off), timeout_s=30)
                await eventually(lambda: holders(engine), lambda h: all(
                    h[c.station_id] != "csms-3" for c in cut_off), 20)
                after = {c.station_id: c.sim.stats.latency.count for c in cut_off}
                await until(lambda: all(c.sim.stats.latency.count >= after[c.station_id] + 5
                                        for c in cut_off), timeout_s=30)
            finally:
                stop.set()
                await asyncio.wait_for(asyncio.gather(*drivers), 30)
            await until(lambda: not any(c.sim.outbox.queue for c in chargers), timeout_s=20)
            for charger in cut_off:  # from the cut to the move: nothing acknowledged
                sid = charger.station_id
                moved_at = min(i for i in charger.sim.link.connection_starts if i > cut_at[sid])
                assert [] == acknowledged(charger.sim, cut_at[sid], moved_at)
                assert charger.sent > 0
            await assert_nothing_acknowledged_lost(engine, chargers)
    finally:
        await partition.close()

