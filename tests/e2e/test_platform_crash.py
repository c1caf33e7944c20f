"""SIGKILL the CSMS during a burst of ended sessions: after restart the platform simulator
has every order (delivery is at least once: the one order in flight at the kill may arrive
twice, recognisable by its StartChargeSeq; never more)."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
from sqlalchemy import insert, select
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed
from websockets.typing import Subprotocol

from csms.config import DatabaseSettings
from csms.store import tables as t
from csms.store.engine import create_engine
from simulators.platform.sim import PlatformSim, serving
from tests.conftest import eventually
from tests.e2e.conftest import SECRETS
from tests.e2e.test_crash_durability import _listening, free_port
from tests.e2e.test_platform_feed import assert_exact

STATIONS = 10
SESSIONS = 50  # in all, before and after the kill
KILL_AFTER = 20  # acknowledged stops
START = datetime(2026, 11, 27, 4, 0, tzinfo=UTC)


def _stamp(at: datetime) -> str:
    return at.isoformat().replace("+00:00", "Z")


class Charger:
    """A raw 1.6 client that runs sessions back to back and counts the acknowledged stops."""

    def __init__(self, station_id: str, index: int) -> None:
        self.station_id = station_id
        self.index = index
        self.stopped: list[int] = []  # transaction ids whose stop was acknowledged
        self.sessions = 0

    async def run(self, url: str, done: list[int], limit: int) -> None:
        with contextlib.suppress(ConnectionClosed, OSError):
            async with connect(url + self.station_id,
                               subprotocols=[Subprotocol("ocpp1.6")]) as ws:
                while done[0] < limit:
                    n = self.sessions
                    self.sessions += 1
                    at = START + timedelta(hours=n, minutes=self.index)
                    started = await self._call(ws, "StartTransaction", {
                        "connectorId": 1, "idTag": "TAG", "meterStart": 1000 * n,
                        "timestamp": _stamp(at)})
                    tx = started["transactionId"]
                    await self._call(ws, "StopTransaction", {
                        "transactionId": tx, "meterStop": 1000 * n + 777, "reason": "Local",
                        "timestamp": _stamp(at + timedelta(minutes=20))})
                    self.stopped.append(tx)
                    done[0] += 1

    async def _call(self, ws: ClientConnection, action: str, payload: Any) -> Any:
        await ws.send(orjson.dumps([2, "m", action, payload]).decode())
        reply = orjson.loads(await ws.recv())
        assert 3 == reply[0], reply
        return reply[2]


async def _place(database_url: str, chargers: list[Charger]) -> None:
    engine = create_engine(DatabaseSettings(url=database_url))
    try:
        async with engine.begin() as conn:
            district = (await conn.execute(insert(t.districts).values(
                name="五华区", code="530102").returning(t.districts.c.id))).scalar_one()
            community = (await conn.execute(insert(t.communities).values(
                district_id=district, name="小区").returning(t.communities.c.id))).scalar_one()
            site = (await conn.execute(insert(t.sites).values(
                community_id=community, name="车库").returning(t.sites.c.id))).scalar_one()
            await conn.execute(insert(t.charge_points), [
                {"id": c.station_id, "site_id": site, "registration_status": "Accepted",
                 "created_at": START} for c in chargers])
    finally:
        await engine.dispose()


async def _ended(database_url: str) -> list[int]:
    engine = create_engine(DatabaseSettings(url=database_url))
    try:
        async with engine.connect() as conn:
            return list((await conn.execute(select(t.sessions.c.id).where(
                t.sessions.c.status == "ended"))).scalars())
    finally:
        await engine.dispose()


def _start(env: dict[str, str], cwd: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "csms", "run"], env=env, cwd=cwd,
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def _stop(server: subprocess.Popen[bytes], sig: int) -> None:
    if server.poll() is None:
        os.kill(server.pid, sig)
    server.wait(20)


async def _burst(url: str, chargers: list[Charger], done: list[int], limit: int) -> None:
    await asyncio.gather(*(c.run(url, done, limit) for c in chargers))


async def test_every_order_arrives_once_after_sigkill(tmp_path: Path, database_url: str
                                                       ) -> None:
    """Kill -9 after 20 acknowledged stops of a 50-session burst; restart; finish the
    burst: every ended session's order is at the platform, none twice in its records."""
    chargers = [Charger(f"PK-{i:02d}", i) for i in range(STATIONS)]
    await _place(database_url, chargers)
    sim = PlatformSim(SECRETS)
    port = free_port()
    async with serving(sim) as platform_url:
        env = {**os.environ, "CSMS_SERVER__PORT": str(port), "CSMS_SERVER__HOST": "127.0.0.1",
               "CSMS_API__HOST": "127.0.0.1", "CSMS_API__PORT": "0",
               "CSMS_DATABASE__URL": database_url, "CSMS_LOGGING__LEVEL": "warning",
               "CSMS_AUTHORIZATION__UNKNOWN_ID_TOKENS": "accept",
               "CSMS_REPORTS__ENABLED": "false",
               "CSMS_PLATFORM__ENABLED": "true", "CSMS_PLATFORM__URL": platform_url,
               "CSMS_PLATFORM__OPERATOR_ID": SECRETS.operator_id,
               "CSMS_PLATFORM__OPERATOR_SECRET": SECRETS.operator_secret,
               "CSMS_PLATFORM__DATA_SECRET": SECRETS.data_secret,
               "CSMS_PLATFORM__DATA_IV": SECRETS.data_iv,
               "CSMS_PLATFORM__SIG_SECRET": SECRETS.sig_secret,
               "CSMS_PLATFORM__PLATFORM_ID": SECRETS.platform_id,
               "CSMS_PLATFORM__PLATFORM_SECRET": SECRETS.platform_secret,
               "CSMS_PLATFORM__TIMEOUT_S": "1.0", "CSMS_PLATFORM__RETRY_INTERVAL_S": "0.5",
               "CSMS_PLATFORM__POLL_INTERVAL_S": "0.5"}
        url = f"ws://127.0.0.1:{port}/"
        done = [0]
        server = _start(env, tmp_path)
        try:
            await eventually(lambda: _listening(port), timeout_s=30)
            burst = asyncio.create_task(_burst(url, chargers, done, SESSIONS))
            await eventually(lambda: _value(done[0]), lambda n: n >= KILL_AFTER, 60)
            _stop(server, signal.SIGKILL)
            await asyncio.wait_for(burst, 30)
            killed_at = done[0]
            server = _start(env, tmp_path)
            await eventually(lambda: _listening(port), timeout_s=30)
            await asyncio.wait_for(_burst(url, chargers, done, SESSIONS), 120)
            ended = await _ended(database_url)
            await eventually(lambda: _seqs(sim), lambda s: len(set(s)) >= len(ended), 90)
        finally:
            _stop(server, signal.SIGTERM)
    assert KILL_AFTER <= killed_at < SESSIONS <= done[0]
    acked = {tx for c in chargers for tx in c.stopped}
    seqs = await _seqs(sim)
    expected = {f"{SECRETS.operator_id}{i:018d}" for i in ended}
    assert expected == set(seqs)
    assert {f"{SECRETS.operator_id}{i:018d}" for i in acked} <= expected
    repeats = len(seqs) - len(set(seqs))
    assert repeats <= 1  # at most the one order in flight at the kill
    assert len(sim.repeated_orders()) == repeats
    for order in sim.of("notification_charge_order_info"):
        assert_exact(order)
        # 0.777 kWh, or 0 for a session whose stop was lost with the kill (superseded)
        assert order["TotalPower"] in (0.777, 0.0)


async def _seqs(sim: PlatformSim) -> list[str]:
    return [o["StartChargeSeq"] for o in sim.of("notification_charge_order_info")]


async def _value(n: int) -> int:
    return n
