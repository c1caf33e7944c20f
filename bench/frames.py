"""The load generator's side of the wire: pre-serialised OCPP 1.6 frames, simulated chargers.

The message mix (BootNotification and StatusNotification once, then the cycle MeterValues ×3,
Heartbeat, StatusNotification) is serialised once, with only the message id and the
timestamp (``Timestamp``: the date formatted at most once a second; a MeterValues' time is
unique to the microsecond) filled in per call. A
``Station`` is one raw ``websockets`` client connection with at most one CALL outstanding;
its answers are parsed with orjson, checked and counted in a shared ``Tally``.
``open_station`` connects one, ``station_ids`` names a fleet of N.
"""

from __future__ import annotations

import itertools
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Final

import orjson
from websockets.asyncio.client import ClientConnection, connect
from websockets.typing import Subprotocol

SAMPLES_PER_METER_VALUES: Final = 8

# -- the messages -------------------------------------------------------------------------------

CALL: Final = 2
CALLRESULT: Final = 3

MV, HB, SN = 0, 1, 2
ACTION_NAMES: Final = ("MeterValues", "Heartbeat", "StatusNotification")
# After BootNotification and one StatusNotification, every charge point repeats this cycle.
CYCLE: Final = (MV, MV, MV, HB, SN)


def _sv(value: str, measurand: str, unit: str, *, phase: str | None = None,
        location: str = "Outlet") -> dict[str, str]:
    sampled = {"value": value, "context": "Sample.Periodic", "format": "Raw",
               "measurand": measurand, "location": location, "unit": unit}
    if phase is not None:
        sampled["phase"] = phase
    return sampled


SAMPLED_VALUES: Final = [
    _sv("1234567.8", "Energy.Active.Import.Register", "Wh"),
    _sv("7360.5", "Power.Active.Import", "W"),
    _sv("31.8", "Current.Import", "A", phase="L1"),
    _sv("31.9", "Current.Import", "A", phase="L2"),
    _sv("31.7", "Current.Import", "A", phase="L3"),
    _sv("230.4", "Voltage", "V", phase="L1-N"),
    _sv("32", "Current.Offered", "A"),
    _sv("38.5", "Temperature", "Celsius", location="Body"),
]
assert len(SAMPLED_VALUES) == SAMPLES_PER_METER_VALUES

_MV_HEAD: Final = b'","MeterValues",{"connectorId":1,"meterValue":[{"timestamp":"'
_MV_TAIL: Final = b'","sampledValue":' + orjson.dumps(SAMPLED_VALUES) + b"}]}]"
_HB: Final = b'","Heartbeat",{}]'
_SN_HEAD: Final = b'","StatusNotification",{"connectorId":1,"errorCode":"NoError",'
_SN_CHARGING: Final = b'"status":"Charging","timestamp":"'
_SN_AVAILABLE: Final = b'"status":"Available","timestamp":"'


class Timestamp:
    """The current UTC time as OCPP bytes, its date and time formatted at most once a second."""

    def __init__(self) -> None:
        self._second = -1
        self._base = b""  # YYYY-MM-DDTHH:MM:SS of _second
        self._last_us = 0

    def _of(self, second: int) -> bytes:
        if second != self._second:
            self._second = second
            self._base = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(second)).encode()
        return self._base

    def now(self) -> bytes:
        return self._of(int(time.time())) + b"Z"

    def unique(self) -> bytes:
        """Now to the microsecond, later than every instant this returned before: the CSMS
        stores one of samples that share a time (a retransmission), so each MeterValues
        must carry a new one for its rows to count."""
        us = max(int(time.time() * 1_000_000), self._last_us + 1)
        self._last_us = us
        second, micro = divmod(us, 1_000_000)
        return self._of(second) + b".%06dZ" % micro


_clock = Timestamp()
_ids = itertools.count(1)


def build_frame(action: int, message_id: bytes, *, available: bool = False) -> bytes:
    """A pre-serialised OCPP-J CALL frame (only the id and the timestamp are filled in)."""
    head = b'[2,"' + message_id
    if action == MV:
        return head + _MV_HEAD + _clock.unique() + _MV_TAIL
    if action == HB:
        return head + _HB
    status = _SN_AVAILABLE if available else _SN_CHARGING
    return head + _SN_HEAD + status + _clock.now() + b'"}]'


def boot_frame(message_id: bytes, station_id: str) -> bytes:
    payload = {"chargePointVendor": "Bench", "chargePointModel": "Load-1",
               "chargePointSerialNumber": station_id[-25:], "firmwareVersion": "1.0.0"}
    return orjson.dumps([CALL, message_id.decode(), "BootNotification", payload])


# -- one simulated charge point ---------------------------------------------------------------


@dataclass(slots=True)
class Tally:
    """Answers counted by this process, per action; refusals and odd frames apart."""

    answered: list[int] = field(default_factory=lambda: [0, 0, 0])
    refused: Counter[str] = field(default_factory=Counter)
    stale: int = 0
    server_calls: int = 0

    def total(self) -> int:
        return sum(self.answered)


class CallRefused(Exception):
    """The server answered with a CALLERROR."""


class Station:
    """One connection, one CALL outstanding at a time (the OCPP rule)."""

    __slots__ = ("inflight_since", "position", "station_id", "tally", "ws")

    def __init__(self, station_id: str, ws: ClientConnection, tally: Tally) -> None:
        self.station_id = station_id
        self.ws = ws
        self.tally = tally
        self.position = 0
        self.inflight_since: float | None = None

    async def call_frame(self, frame: bytes, message_id: bytes) -> bool:
        """Send ``frame``; True for a CALLRESULT, False for a CALLERROR (counted)."""
        ws = self.ws
        await ws.send(frame, text=True)
        expected = message_id.decode()
        while True:  # bounded by the frames the server sends; each phase has a deadline
            message = orjson.loads(await ws.recv(decode=False))
            kind = message[0]
            if kind == CALL:  # the benchmark's charge points support no CSMS commands
                self.tally.server_calls += 1
                await ws.send(orjson.dumps(
                    [4, message[1], "NotSupported", "bench charge point", {}]), text=True)
                continue
            if message[1] != expected:  # the answer to a call cancelled at a phase end
                self.tally.stale += 1
                continue
            if kind == CALLRESULT:
                return True
            self.tally.refused[f"{message[2]}: {message[3]}"] += 1
            return False

    async def call(self, action: int) -> bool:
        message_id = str(next(_ids)).encode()
        ok = await self.call_frame(build_frame(action, message_id), message_id)
        if ok:
            self.tally.answered[action] += 1
        return ok

    async def next_in_cycle(self) -> bool:
        action = CYCLE[self.position % len(CYCLE)]
        self.position += 1
        return await self.call(action)

    async def boot(self) -> None:
        message_id = str(next(_ids)).encode()
        if not await self.call_frame(boot_frame(message_id, self.station_id), message_id):
            raise CallRefused(f"{self.station_id}: BootNotification refused")
        message_id = str(next(_ids)).encode()
        frame = build_frame(SN, message_id, available=True)
        if not await self.call_frame(frame, message_id):
            raise CallRefused(f"{self.station_id}: StatusNotification refused")


async def open_station(port: int, station_id: str, tally: Tally) -> Station:
    ws = await connect(
        f"ws://127.0.0.1:{port}/{station_id}", subprotocols=[Subprotocol("ocpp1.6")],
        compression=None, proxy=None, open_timeout=60, ping_interval=None,
        close_timeout=2, user_agent_header=None,
    )
    if ws.subprotocol != "ocpp1.6":
        ws.transport.abort()
        raise RuntimeError(f"server chose subprotocol {ws.subprotocol!r}, not ocpp1.6")
    return Station(station_id, ws, tally)


def station_ids(n: int) -> list[str]:
    return [f"BENCH-{i:05d}" for i in range(n)]


WARMUP_ID: Final = "BENCH-WARMUP"
