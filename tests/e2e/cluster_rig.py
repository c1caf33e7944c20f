"""What the cluster tests share: three real nodes behind a real HAProxy, simulated chargers
that keep sending, a cuttable TCP path to PostgreSQL, and the tally of what the CSMS
acknowledged against what the database holds."""

from __future__ import annotations

import asyncio
import contextlib
import random
import socket
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from csms.cluster.plan import ClusterPlan, NodePlan
from csms.cluster.run import Cluster
from csms.handlers.rpc import CallFailed, ConnectionLost, ResponseInvalid
from csms.store import tables as t
from csms.store.city.tables import charger_connections as cc
from simulators.behaviour.offline import Backoff
from simulators.clock import SimClock
from simulators.station import SimStation

START = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)  # the chargers' clocks start here
OWNER_LEASE_S = 3.0  # a site's owner lease (csms.services.load.cluster), short for the tests
RECONNECT = Backoff(base_s=0.05, cap_s=0.5, max_attempts=400)  # ~ a minute at most


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def base_config(database_url: str) -> dict[str, Any]:
    return {
        "server": {"unknown_charge_points": "accept", "ping_interval_s": 5.0,
                   "clock_anomaly_events": False, "call_timeout_s": 5.0},
        # a node cut off mid-commit holds its row locks only this long (engine.py)
        "database": {"url": database_url, "pool_size": 3, "idle_in_transaction_timeout_s": 2.0},
        "authorization": {"unknown_id_tokens": "accept"},
        "cluster": {"claim_timeout_s": 1.0},
        "reports": {"enabled": False},
        "load": {"owner_lease_s": OWNER_LEASE_S},
        "logging": {"level": "warning", "format": "json"},
    }


@asynccontextmanager
async def three_nodes(database_url: str, run_dir: Path,
                      own_database: Mapping[str, str] | None = None
                      ) -> AsyncIterator[Cluster]:
    """csms-1..3 on ``database_url`` (a node in ``own_database`` on its own URL) behind
    HAProxy, every port free; everything stopped by PID on exit."""
    own = own_database or {}
    nodes = tuple(NodePlan(name, free_port(), free_port(), own.get(name))
                  for name in ("csms-1", "csms-2", "csms-3"))
    plan = ClusterPlan(nodes, run_dir, ocpp_port=free_port(), api_port=free_port(),
                       stats_port=free_port(), base=base_config(database_url))
    cluster = Cluster(plan)
    await cluster.start(timeout_s=90)
    try:
        yield cluster
    finally:
        await cluster.stop(grace_s=5.0)


async def holders(engine: AsyncEngine) -> dict[str, str]:
    """Station -> the node of its newest connect row (where it connected last)."""
    async with engine.connect() as conn:
        rows = (await conn.execute(select(cc.c.station_id, cc.c.node)
                                   .where(cc.c.connected.is_(True))
                                   .order_by(cc.c.at, cc.c.id))).all()
    return {row.station_id: row.node for row in rows}


# -- chargers under load ----------------------------------------------------------------------


@dataclass
class Charger:
    """A simulated charger that reconnects through the balancer, charging on connector 1."""

    sim: SimStation
    sent: int = 0
    refused: int = 0  # CALLERROR or no answer in time: not acknowledged, may be missing

    @classmethod
    def make(cls, url: str, station_id: str, version: str) -> Charger:
        return cls(SimStation(station_id, version, url, reconnect=RECONNECT,
                              call_timeout_s=5.0, rng=random.Random(station_id),
                              clock=SimClock(start=START)))

    @property
    def station_id(self) -> str:
        return self.sim.station_id

    async def begin(self) -> None:
        await self.sim.boot()
        await self.sim.send_status(1, "Available")
        await self.sim.start_transaction(1, f"TAG-{self.station_id}")

    async def meter(self) -> None:
        """One reading of the running transaction: 1.6 MeterValues, 2.0.1 Updated."""
        self.sent += 1
        try:
            await self.sim.send_meter_values(1, power_w=7000.0)
        except (CallFailed, ResponseInvalid, TimeoutError, ConnectionLost):
            self.refused += 1

    async def drive(self, stop: asyncio.Event, pace_s: float, most: int) -> None:
        """At most ``most`` readings, one per ``pace_s``, until ``stop``."""
        for _ in range(most):
            if stop.is_set():
                return
            await self.meter()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), pace_s)  # the pace of the load


Acked = tuple[str, dict[str, Any], dict[str, Any]]  # action, payload, the CALLRESULT's


def acknowledged(sim: SimStation, since: int = 0, before: int | None = None) -> list[Acked]:
    """The charger's CALLs that got a CALLRESULT, with it, from its frame history; with
    ``since``/``before``, only CALLs sent within those frame indexes."""
    calls: dict[str, tuple[int, str, dict[str, Any]]] = {}
    acked: list[Acked] = []
    end = len(sim.link.frames) if before is None else before
    for index, (direction, frame) in enumerate(sim.link.frames):
        message = orjson.loads(frame)
        if direction == "out" and message[0] == 2:
            calls[message[1]] = (index, message[2], message[3])
        elif direction == "in" and message[0] == 3 and message[1] in calls:
            sent_at, action, payload = calls[message[1]]
            if since <= sent_at < end:
                acked.append((action, payload, message[2]))
    return acked


@dataclass
class Tally:
    """Acknowledged messages of each kind, and how many of them the database holds."""

    acknowledged: dict[str, int] = field(default_factory=dict)
    stored: dict[str, int] = field(default_factory=dict)

    def add(self, kind: str, found: bool) -> None:
        self.acknowledged[kind] = self.acknowledged.get(kind, 0) + 1
        self.stored[kind] = self.stored.get(kind, 0) + int(found)


def _at(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def _aware(at: datetime) -> datetime:
    return at.replace(tzinfo=UTC) if at.tzinfo is None else at


def _readings(payload: dict[str, Any]) -> list[dict[str, Any]]:
    return list(payload.get("meterValue", [])) + list(payload.get("transactionData", []))


async def durability(engine: AsyncEngine, sims: list[SimStation]) -> Tally:
    """Every acknowledged StatusNotification, transaction start and stop and meter reading,
    looked up in the database: a status history row at its time, the session, every
    sampled value at its time."""
    tally = Tally()
    async with engine.connect() as conn:
        for sim in sims:
            sid = sim.station_id
            samples: dict[datetime, int] = {
                _aware(row[0]): int(row[1]) for row in (await conn.execute(
                    select(t.meter_values.c.at, func.count()).where(
                        t.meter_values.c.station_id == sid).group_by(t.meter_values.c.at)
                )).all()}
            statuses = {_aware(at) for at in (
                await conn.execute(select(t.connector_status_history.c.at).where(
                    t.connector_status_history.c.station_id == sid))).scalars()}
            sessions = {row.transaction_id: row for row in (await conn.execute(
                select(t.sessions).where(t.sessions.c.station_id == sid))).all()}
            for action, payload, answer in acknowledged(sim):
                if action == "StatusNotification":
                    tally.add("status", _at(payload["timestamp"]) in statuses)
                for reading in _readings(payload):
                    expected = len(reading["sampledValue"])
                    tally.add("reading", samples.get(_at(reading["timestamp"]), 0) >= expected)
                event = payload.get("eventType")
                tx = payload.get("transactionInfo", {}).get("transactionId")
                if action == "TransactionEvent" and event in ("Started", "Ended"):
                    row = sessions.get(tx)
                    tally.add(event.lower(), row is not None and (
                        event == "Started" or row.status == "ended"))
                if action == "StartTransaction":
                    tally.add("started", str(answer["transactionId"]) in sessions)
                if action == "StopTransaction":
                    row = sessions.get(str(payload["transactionId"]))
                    tally.add("ended", row is not None and row.status == "ended")
    return tally


async def started_sessions(engine: AsyncEngine, station_id: str) -> list[Any]:
    async with engine.connect() as conn:
        return list((await conn.execute(select(t.sessions).where(
            t.sessions.c.station_id == station_id))).all())


# -- a network path to PostgreSQL that can be cut ---------------------------------------------


class Partition:
    """A TCP proxy between one node and PostgreSQL, cut by :meth:`cut` in one of two ways:

    - ``drop``: as a network partition does, nothing passes in either direction from then
      on (what is read is dropped), on the open connections and on new ones, and nothing is
      closed, so neither side is told;
    - ``reset``: as a firewall that rejects, every open connection is reset and new ones
      are reset as soon as they are accepted.
    """

    def __init__(self, mode: str, upstream_port: int = 5432) -> None:
        assert mode in ("drop", "reset")
        self.mode = mode
        self._upstream = upstream_port
        self._cut = False
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._writers: list[asyncio.StreamWriter] = []

    async def start(self) -> int:
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", 0)
        return int(self._server.sockets[0].getsockname()[1])

    def cut(self) -> None:
        self._cut = True
        if self.mode == "reset":
            for writer in self._writers:
                writer.transport.abort()

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        for writer in self._writers:
            writer.transport.abort()

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._writers.append(writer)
        if self._cut and self.mode == "reset":
            writer.transport.abort()
            return
        if self._cut:  # a new connection into the partition: accepted, never answered
            self._spawn(self._pump(reader, None))
            return
        up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self._upstream)
        self._writers.append(up_writer)
        self._spawn(self._pump(reader, up_writer))
        self._spawn(self._pump(up_reader, writer))

    def _spawn(self, work: Any) -> None:
        task = asyncio.get_running_loop().create_task(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _pump(self, source: asyncio.StreamReader,
                    sink: asyncio.StreamWriter | None) -> None:
        with contextlib.suppress(OSError):
            while data := await source.read(65536):  # bounded by the peer's close
                if self._cut or sink is None:
                    continue  # dropped, as by the partition
                sink.write(data)
                await sink.drain()
        if sink is not None and not self._cut:
            sink.close()
