"""Acknowledged means durable: SIGKILL the server under load, every acknowledged message is
in the database after restart."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
import pytest
from sqlalchemy import func, select
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed
from websockets.typing import Subprotocol

from csms.config import DatabaseSettings
from csms.store import tables as t
from csms.store.engine import create_engine
from tests.conftest import eventually

STATIONS = 20
ACKS_BEFORE_KILL = 400
VALUES_PER_MESSAGE = 8


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def meter_value(n: int) -> dict[str, Any]:
    sampled = [{"value": str(1000 + n), "measurand": "Energy.Active.Import.Register"}]
    phases = ["L1", "L2", "L3", "L1-N", "L2-N", "L3-N", "N"]
    sampled += [{"value": str(n), "measurand": "Voltage", "phase": p} for p in phases]
    # one sample a second: each message is a new reading (a repeated one is stored once)
    at = datetime(2026, 11, 27, 12, 0, tzinfo=UTC) + timedelta(seconds=n)
    return {"timestamp": at.isoformat().replace("+00:00", "Z"), "sampledValue": sampled}


class Station:
    """A raw 1.6 client that counts what the server acknowledged."""

    def __init__(self, station_id: str) -> None:
        self.station_id = station_id
        self.transaction_id: int | None = None
        self.acked_meter_values = 0

    async def run(self, url: str, acked: list[int]) -> None:
        with contextlib.suppress(ConnectionClosed, OSError):
            async with connect(url + self.station_id,
                               subprotocols=[Subprotocol("ocpp1.6")]) as ws:
                start = {"connectorId": 1, "idTag": "TAG", "meterStart": 1000,
                         "timestamp": "2026-11-27T12:00:00Z"}
                answer = await self._call(ws, "StartTransaction", start)
                self.transaction_id = answer["transactionId"]
                acked[0] += 1
                n = 0
                while n < 100_000:  # bounded; the kill ends it long before
                    n += 1
                    await self._call(ws, "MeterValues", {
                        "connectorId": 1, "transactionId": self.transaction_id,
                        "meterValue": [meter_value(n)]})
                    self.acked_meter_values += 1
                    acked[0] += 1

    async def _call(self, ws: ClientConnection, action: str, payload: Any) -> Any:
        await ws.send(orjson.dumps([2, "m", action, payload]).decode())
        reply = orjson.loads(await ws.recv())
        assert 3 == reply[0], reply
        return reply[2]


@pytest.mark.parametrize("event_loop", ["asyncio", "uvloop"])
async def test_acknowledged_messages_survive_sigkill(
    tmp_path: Path, database_url: str, event_loop: str
) -> None:
    """Kill -9 mid-load; each acknowledged StartTransaction and MeterValues is stored, on
    either event loop ([server] event_loop)."""
    port = free_port()
    env = {**os.environ, "CSMS_SERVER__PORT": str(port), "CSMS_SERVER__HOST": "127.0.0.1",
           "CSMS_API__HOST": "127.0.0.1", "CSMS_API__PORT": "0",
           "CSMS_SERVER__UNKNOWN_CHARGE_POINTS": "accept", "CSMS_DATABASE__URL": database_url,
           "CSMS_AUTHORIZATION__UNKNOWN_ID_TOKENS": "accept", "CSMS_LOGGING__LEVEL": "info",
           "CSMS_LOGGING__FORMAT": "json", "CSMS_SERVER__EVENT_LOOP": event_loop}
    log_path = tmp_path / "csms.log"
    with log_path.open("wb") as log_file:
        server = subprocess.Popen(  # noqa: ASYNC220 - started once, awaited by polling below
            [sys.executable, "-m", "csms", "run"], env=env, cwd=tmp_path,
            stdout=subprocess.DEVNULL, stderr=log_file,
        )
    stations = [Station(f"K-{i:02d}") for i in range(STATIONS)]
    try:
        await eventually(lambda: _listening(port), timeout_s=30)
        acked = [0]
        url = f"ws://127.0.0.1:{port}/"
        tasks = [asyncio.create_task(s.run(url, acked)) for s in stations]
        await eventually(lambda: _value(acked[0]), lambda n: n >= ACKS_BEFORE_KILL, 60)
        os.kill(server.pid, signal.SIGKILL)
        await asyncio.wait_for(asyncio.gather(*tasks), 30)
    finally:
        if server.poll() is None:
            os.kill(server.pid, signal.SIGKILL)
        server.wait(10)
    logged = [orjson.loads(line) for line in log_path.read_bytes().splitlines()
              if line.startswith(b"{")]
    [started] = [line for line in logged if line.get("event") == "csms.started"]
    assert started["event_loop"].startswith(f"{event_loop}.")

    engine = create_engine(DatabaseSettings(url=database_url))
    try:
        async with engine.connect() as conn:
            for station in stations:
                if station.transaction_id is None:
                    continue
                session = (await conn.execute(select(t.sessions.c.id).where(
                    t.sessions.c.station_id == station.station_id))).scalar_one()
                assert station.transaction_id == session
                rows = (await conn.execute(select(func.count()).select_from(t.meter_values)
                        .where(t.meter_values.c.session_id == session))).scalar_one()
                assert rows >= station.acked_meter_values * VALUES_PER_MESSAGE
    finally:
        await engine.dispose()
    assert sum(s.acked_meter_values for s in stations) > 0


async def _listening(port: int) -> bool:
    try:
        _, writer = await asyncio.open_connection("127.0.0.1", port)
    except OSError:
        return False
    writer.close()
    await writer.wait_closed()
    return True


async def _value(n: int) -> int:
    return n
