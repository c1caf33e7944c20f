"""The evening benchmark's simulated chargers: two connectors, sessions, and the CSMS's calls.

A ``Charger`` is one raw ``websockets`` client connection (OCPP 1.6 or 2.0.1) with a reader
task of its own: answers to the charger's calls are handed to the one call waiting (at most
one CALL outstanding, the OCPP rule), and calls from the CSMS (SetChargingProfile from load
management, GetTransactionStatus after a 2.0.1 reconnect, CostUpdated, ...) are answered at
once, whatever the charger is doing (``bench.evening_frames.answer``).

Rules:
1. Each connector has its resident's card, a session (a transaction id once started) and an
   energy register that grows at 7.04 kW of real time (at least 1 Wh a sample), so sessions
   are plausible and get priced, whatever the call rate.
2. The steady mix is ``cycle(version)``: 480 samples alternating between the connectors, a
   Heartbeat after every eighth, and one session turnover per connector (the car leaves,
   the next one arrives: stop, statuses, Authorize, start). That is a network whose every
   connector charges, sessions of 240 samples (4 h at one a minute) and a heartbeat every
   300 s per charger, each message type in its share (``bench.evening.implied_rate``).
3. A call answered with a CALLERROR counts as refused (``Tally.refused``); a start or an
   Authorize answered with another status than Accepted counts in ``Tally.not_accepted``.
   Neither stops the charger.
4. The offline queue (``replay``) is samples of the running sessions dated between the
   disconnection and now, sent after the boot and the statuses; 2.0.1 marks them offline.
"""

from __future__ import annotations

import asyncio
import itertools
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Final

import orjson
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed
from websockets.typing import Subprotocol

from bench import evening_frames as f

POWER_W: Final = 7040.0
# The steps of the cycle: (operation, connector).
SAMPLE, HEARTBEAT, STOP, START, AUTH = "sample", "heartbeat", "stop", "start", "auth"
STATUS = "status:"  # + the state, in the version's spelling
_STATES_AFTER_BOOT: Final = {f.V16: b"Charging", f.V201: b"Occupied"}
_ids = itertools.count(1)


@dataclass(slots=True)
class Tally:
    """What the chargers saw, per action; refusals, odd answers and the CSMS's calls apart."""

    answered: Counter[str] = field(default_factory=Counter)
    refused: Counter[str] = field(default_factory=Counter)
    not_accepted: Counter[str] = field(default_factory=Counter)
    server_calls: Counter[str] = field(default_factory=Counter)
    stale: int = 0
    lost: int = 0
    samples: int = 0  # answered samples (MeterValues, TransactionEvent Updated)
    stops: int = 0  # answered stops (StopTransaction, TransactionEvent Ended)
    rows: int = 0  # meter_values rows the answered calls should have stored


class CallRefused(Exception):
    """The CSMS answered with a CALLERROR."""


class Connector:
    __slots__ = ("last_ms", "number", "seq", "tag", "tx", "wh")

    def __init__(self, number: int, tag: bytes, wh: int) -> None:
        self.number = number
        self.tag = tag
        self.tx: bytes | None = None  # 1.6: the CSMS's id (digits); 2.0.1: ours
        self.seq = 0  # 2.0.1 seqNo of the next TransactionEvent
        self.wh = wh
        self.last_ms = 0

    def advance(self, clock: f.Clock) -> tuple[int, bytes]:
        """The next reading: its register (Wh) and its timestamp, later than the last."""
        ms = max(clock.now_ms(), self.last_ms + 1)
        if self.last_ms:
            self.wh += max(1, round(POWER_W * (ms - self.last_ms) / 3_600_000))
        self.last_ms = ms
        return self.wh, clock.stamp(ms)


def cycle(version: str) -> tuple[tuple[str, int], ...]:
    """Rule 2: the steps a charger repeats in the steady evening."""
    steps: list[tuple[str, int]] = []
    for k in range(480):
        steps.append((SAMPLE, 1 + k % 2))
        if k % 8 == 7:
            steps.append((HEARTBEAT, 0))
        if k in (239, 479):
            steps += turnover(version, 1 if k == 239 else 2)
    return tuple(steps)


def turnover(version: str, c: int) -> list[tuple[str, int]]:
    """A session ends and the next car's begins on connector ``c``."""
    if version == f.V16:
        return [(STOP, c), (STATUS + "Finishing", c), (STATUS + "Available", c),
                *arrival(version, c)]
    return [(STOP, c), (STATUS + "Available", c), *arrival(version, c)]


def arrival(version: str, c: int) -> list[tuple[str, int]]:
    """A car plugs in on connector ``c`` and its driver's card starts the session."""
    if version == f.V16:
        return [(STATUS + "Preparing", c), (AUTH, c), (START, c), (STATUS + "Charging", c)]
    return [(STATUS + "Occupied", c), (AUTH, c), (START, c)]


CYCLES: Final = {v: cycle(v) for v in (f.V16, f.V201)}


class Charger:
    """One connection, one CALL outstanding, the CSMS's calls answered by a reader task."""

    __slots__ = ("_expect", "_future", "_reader", "clock", "connectors", "inflight_since",
                 "offline_since_ms", "position", "station_id", "tally", "version", "ws")

    def __init__(self, station_id: str, version: str, tags: tuple[bytes, bytes], wh: int,
                 tally: Tally, clock: f.Clock) -> None:
        self.station_id = station_id
        self.version = version
        self.tally = tally
        self.clock = clock
        self.connectors = (Connector(1, tags[0], wh), Connector(2, tags[1], wh + 500))
        self.position = 0
        self.inflight_since: float | None = None
        self.offline_since_ms = 0
        self.ws: ClientConnection | None = None
        self._reader: asyncio.Task[None] | None = None
        self._future: asyncio.Future[list[Any]] | None = None
        self._expect = ""

    # -- the connection ---------------------------------------------------------------------

    async def open(self, port: int) -> None:
        ws = await connect(
            f"ws://127.0.0.1:{port}/{self.station_id}",
            subprotocols=[Subprotocol(self.version)], compression=None, proxy=None,
            open_timeout=120, ping_interval=None, close_timeout=2, user_agent_header=None)
        if ws.subprotocol != self.version:
            ws.transport.abort()
            raise RuntimeError(f"server chose {ws.subprotocol!r}, not {self.version}")
        self.ws = ws
        self._reader = asyncio.create_task(self._read(ws))

    def abort(self) -> None:
        """Drop the connection at once (a network outage), remembering when."""
        if self.ws is not None:
            self.ws.transport.abort()
            self.ws = None
        if self._reader is not None:
            self._reader.cancel()
            self._reader = None
        self.offline_since_ms = self.clock.now_ms()

    async def _read(self, ws: ClientConnection) -> None:
        try:
            while True:  # bounded by the connection: ends when it closes or is aborted
                message = orjson.loads(await ws.recv(decode=False))
                if message[0] == 2:
                    self.tally.server_calls[message[2]] += 1
                    await ws.send(f.answer(self.version, message[1], message[2]), text=True)
                    continue
                future = self._future
                if future is None or message[1] != self._expect:
                    self.tally.stale += 1
                    continue
                self._future = None
                future.set_result(message)
        except ConnectionClosed as exc:
            if self._future is not None and not self._future.done():
                self.tally.lost += 1
                self._future.set_exception(exc)

    async def _call(self, action: str, frame: bytes, message_id: bytes) -> dict[str, Any]:
        ws = self.ws
        if ws is None:
            raise ConnectionError(f"{self.station_id} is not connected")
        future = asyncio.get_running_loop().create_future()
        self._future, self._expect = future, message_id.decode()
        await ws.send(frame, text=True)
        message = await future
        if message[0] != 3:
            self.tally.refused[f"{action}: {message[2]}: {message[3][:80]}"] += 1
            raise CallRefused(action)
        self.tally.answered[action] += 1
        payload: dict[str, Any] = message[2]
        return payload

    # -- the charger's messages -------------------------------------------------------------

    async def boot(self, state: bytes | None = None) -> None:
        """BootNotification, then every connector's status (Available, or ``state``)."""
        mid = b"%d" % next(_ids)
        await self._call("BootNotification", f.boot(self.version, mid, self.station_id), mid)
        for connector in self.connectors:
            await self.status(connector.number, state or b"Available")

    def reboot_state(self) -> bytes:
        """The connectors' state after a reconnect: charging while a session runs."""
        return _STATES_AFTER_BOOT[self.version]

    async def status(self, c: int, state: bytes) -> None:
        mid = b"%d" % next(_ids)
        ms = max(self.clock.now_ms(), self.connectors[c - 1].last_ms + 1)
        await self._call("StatusNotification",
                         f.status(self.version, mid, c, state, self.clock.stamp(ms)), mid)

    async def heartbeat(self) -> None:
        mid = b"%d" % next(_ids)
        await self._call("Heartbeat", f.heartbeat(mid), mid)

    async def authorize(self, c: int) -> None:
        mid = b"%d" % next(_ids)
        answer = await self._call(
            "Authorize", f.authorize(self.version, mid, self.connectors[c - 1].tag), mid)
        self._check_accepted("Authorize", answer)

    async def start(self, c: int) -> None:
        """StartTransaction / TransactionEvent Started on connector ``c``."""
        conn, mid = self.connectors[c - 1], b"%d" % next(_ids)
        wh, at = conn.advance(self.clock)
        if self.version == f.V16:
            answer = await self._call("StartTransaction",
                                      f.start16(mid, c, conn.tag, wh, at), mid)
            conn.tx = b"%d" % answer["transactionId"]
        else:
            conn.tx, conn.seq = b"%s-%d-%d" % (self.station_id.encode(), c, next(_ids)), 1
            answer = await self._call("TransactionEvent",
                                      f.started201(mid, c, conn.tx, 0, conn.tag, wh, at), mid)
            self.tally.rows += 1  # its Transaction.Begin register
        self._check_accepted("start", answer)

    async def sample(self, c: int, *, offline_at_ms: int | None = None) -> None:
        """A sample of connector ``c``'s session: MeterValues / TransactionEvent Updated."""
        conn, mid = self.connectors[c - 1], b"%d" % next(_ids)
        if conn.tx is None:
            return await self.heartbeat()  # no session here (a start was refused)
        wh, at = (conn.advance(self.clock) if offline_at_ms is None
                  else self._at(conn, offline_at_ms))
        if self.version == f.V16:
            await self._call("MeterValues", f.sample16(mid, c, conn.tx, wh, at), mid)
        else:
            conn.seq += 1
            await self._call("TransactionEvent", f.updated201(
                mid, conn.tx, conn.seq - 1, wh, at, offline=offline_at_ms is not None), mid)
        self.tally.samples += 1
        self.tally.rows += f.SAMPLES_PER_CALL
        return None

    def _at(self, conn: Connector, ms: int) -> tuple[int, bytes]:
        """A reading dated ``ms`` (an offline one), the register grown to then."""
        ms = max(ms, conn.last_ms + 1)
        if conn.last_ms:
            conn.wh += max(1, round(POWER_W * max(0, ms - conn.last_ms) / 3_600_000))
        conn.last_ms = ms
        return conn.wh, self.clock.stamp(ms)

    async def stop(self, c: int) -> bool:
        """StopTransaction / TransactionEvent Ended; False when nothing runs on ``c``."""
        conn, mid = self.connectors[c - 1], b"%d" % next(_ids)
        if conn.tx is None:
            return False
        wh, at = conn.advance(self.clock)
        tx, conn.tx = conn.tx, None
        if self.version == f.V16:
            await self._call("StopTransaction", f.stop16(mid, tx, conn.tag, wh, at), mid)
        else:
            await self._call("TransactionEvent", f.ended201(mid, tx, conn.seq, wh, at), mid)
            self.tally.rows += 1  # its Transaction.End register
        self.tally.stops += 1
        return True

    def _check_accepted(self, what: str, answer: dict[str, Any]) -> None:
        info = answer.get("idTagInfo") or answer.get("idTokenInfo")
        if info is not None and info.get("status") != "Accepted":
            self.tally.not_accepted[f"{what}: {info.get('status')}"] += 1

    # -- the steps of the phases ------------------------------------------------------------

    async def step(self, op: str, c: int) -> str:
        """Run one step of the cycle; returns what it was (for the latency by kind)."""
        if op == SAMPLE:
            await self.sample(c)
        elif op == HEARTBEAT:
            await self.heartbeat()
        elif op == STOP:
            await self.stop(c)
        elif op == START:
            await self.start(c)
        elif op == AUTH:
            await self.authorize(c)
        else:
            await self.status(c, op[len(STATUS):].encode())
        return op

    async def next_in_cycle(self) -> str:
        steps = CYCLES[self.version]
        op, c = steps[self.position % len(steps)]
        self.position += 1
        return await self.step(op, c)

    async def arrive_all(self) -> int:
        """Every connector's car arrives and starts (the evening's start); the starts."""
        for connector in self.connectors:
            for op, c in arrival(self.version, connector.number):
                await self.step(op, c)
        return len(self.connectors)

    async def replay(self, queued: int) -> int:
        """Rule 4: ``queued`` samples recorded while offline, oldest first; how many."""
        now, since = self.clock.now_ms(), self.offline_since_ms or self.clock.now_ms()
        sent = 0
        for k in range(queued):
            c = 1 + k % 2
            if self.connectors[c - 1].tx is None:
                continue
            await self.sample(c, offline_at_ms=since + (k + 1) * max(1, now - since)
                              // (queued + 1))
            sent += 1
        return sent
