"""Load benchmark: the CSMS and a bare ``ocpp``-library central system, measured in one run.

``python -m bench.load`` (or ``make bench``) starts each server under test as a child process
pinned to CPU 0, drives N simulated OCPP 1.6 charge points from this process pinned to CPU 1,
and prints for each N and each stack:

1. the time to connect and boot all N charge points;
2. the most calls per second the server answers on its one core (closed loop: every
   connection sends its next call as soon as the answer to the last one came), and the
   MeterValues per second among them; for the CSMS the rows in ``meter_values`` are counted
   afterwards to check that every answered MeterValues was persisted;
3. p50/p99/max round-trip latency at a fixed, open-loop rate (500 calls/s by default),
   measured from each call's *scheduled* send time so a slow answer cannot hide the calls
   queued behind it (no coordinated omission);
4. the server's resident memory per idle connection (VmRSS before and after connecting).

Every loop here is bounded: each phase has a duration and a grace period after which its
tasks are cancelled, the whole run has ``--timeout-s``, and the server processes are
stopped by PID in ``finally`` blocks. See ``bench/README.md``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import itertools
import json
import os
import platform
import resource
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Callable, Coroutine, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any, Final

import orjson
from websockets.asyncio.client import ClientConnection, connect
from websockets.typing import Subprotocol

from bench import profile_top

REPO: Final = Path(__file__).resolve().parents[1]
SERVER_CPU: Final = 0
LOAD_CPU: Final = 1
TARGET_CALLS_PER_S: Final = 3000
TARGET_P99_MS: Final = 10.0
TARGET_P99_AT_N: Final = 5000
TARGET_KIB_PER_CONN: Final = 30.0
SAMPLES_PER_METER_VALUES: Final = 8
OTHERS_WARN_PCT: Final = 5.0
PG_ADMIN_DSN: Final = os.environ.get(
    "CSMS_TEST_PG", "postgresql://postgres@127.0.0.1:5432/test")

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
    """The current UTC time as OCPP bytes, formatted at most once a second."""

    def __init__(self) -> None:
        self._second = -1
        self._text = b""

    def now(self) -> bytes:
        second = int(time.time())
        if second != self._second:
            self._second = second
            self._text = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(second)).encode()
        return self._text


_clock = Timestamp()
_ids = itertools.count(1)


def build_frame(action: int, message_id: bytes, *, available: bool = False) -> bytes:
    """A pre-serialised OCPP-J CALL frame (only the id and the timestamp are filled in)."""
    head = b'[2,"' + message_id
    if action == MV:
        return head + _MV_HEAD + _clock.now() + _MV_TAIL
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


# -- measuring the server process -------------------------------------------------------------


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError(f"no VmRSS for pid {pid}")


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of all threads of ``pid``."""
    stat = Path(f"/proc/{pid}/stat").read_text()
    fields = stat[stat.rindex(")") + 2:].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def cpu_busy_seconds() -> dict[int, float]:
    """Busy (not idle, not iowait) seconds of each CPU since boot, from /proc/stat."""
    busy: dict[int, float] = {}
    tick = os.sysconf("SC_CLK_TCK")
    for line in Path("/proc/stat").read_text().splitlines():
        name, *values = line.split()
        if name.startswith("cpu") and name[3:].isdigit():
            v = [int(x) for x in values[:8]]
            busy[int(name[3:])] = (v[0] + v[1] + v[2] + v[5] + v[6] + v[7]) / tick
    return busy


@dataclass(frozen=True, slots=True)
class CpuSnapshot:
    """CPU time of the server, of this process and of both CPUs at one instant."""

    wall: float
    server: float
    own: float
    cpus: dict[int, float]

    @classmethod
    def take(cls, server_pid: int) -> CpuSnapshot:
        return cls(time.monotonic(), cpu_seconds(server_pid), cpu_seconds(os.getpid()),
                   cpu_busy_seconds())


@dataclass(frozen=True, slots=True)
class CpuUse:
    """Per cent of one core over an interval: the server, the load generator, and what
    other processes on the machine took from the server's and the generator's CPUs."""

    server: float
    loadgen: float
    others_on_server_cpu: float
    others_on_loadgen_cpu: float

    @classmethod
    def between(cls, a: CpuSnapshot, b: CpuSnapshot) -> CpuUse:
        wall = max(1e-9, b.wall - a.wall)
        server = 100 * (b.server - a.server) / wall
        own = 100 * (b.own - a.own) / wall

        def busy(cpu: int) -> float:
            return 100 * (b.cpus.get(cpu, 0.0) - a.cpus.get(cpu, 0.0)) / wall

        return cls(server, own, max(0.0, busy(SERVER_CPU) - server),
                   max(0.0, busy(LOAD_CPU) - own))


def listen_overflows() -> int:
    """TcpExt ListenOverflows of this network namespace (accept queue full)."""
    try:
        lines = Path("/proc/net/netstat").read_text().splitlines()
    except OSError:
        return -1
    for names, values in itertools.pairwise(lines):
        if names.startswith("TcpExt:") and values.startswith("TcpExt:"):
            table = dict(zip(names.split()[1:], values.split()[1:], strict=True))
            return int(table.get("ListenOverflows", "-1"))
    return -1


def is_listening(port: int) -> bool:
    """Whether a TCP socket listens on 127.0.0.1 or 0.0.0.0 ``port`` (no connection made)."""
    wanted = {f"0100007F:{port:04X}", f"00000000:{port:04X}"}
    with contextlib.suppress(OSError):
        for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
            parts = line.split()
            if parts[1] in wanted and parts[3] == "0A":
                return True
    return False


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def filesystem_of(path: Path) -> str:
    best, fstype = "", "?"
    resolved = str(path.resolve())
    with contextlib.suppress(OSError):
        for line in Path("/proc/mounts").read_text().splitlines():
            parts = line.split()
            mount = parts[1]
            inside = resolved == mount or resolved.startswith(mount.rstrip("/") + "/")
            if inside and len(mount) > len(best):
                best, fstype = mount, parts[2]
    return f"{fstype} ({best})"


class ServerProcess:
    """A server under test: started pinned to one CPU, stopped by its PID."""

    def __init__(self, argv: list[str], log_path: Path, port: int) -> None:
        self.argv = argv
        self.log_path = log_path
        self.port = port
        self._proc: subprocess.Popen[bytes] | None = None

    @property
    def pid(self) -> int:
        assert self._proc is not None
        return self._proc.pid

    async def start(self, deadline_s: float = 60.0) -> None:
        self._spawn()
        assert self._proc is not None
        self.pin()  # before the interpreter has started any thread; pin() again once up
        loop = asyncio.get_running_loop()
        deadline = loop.time() + deadline_s
        while not is_listening(self.port):
            if self._proc.poll() is not None:
                raise RuntimeError(
                    f"server exited with {self._proc.returncode}:\n{self.log_tail()}")
            if loop.time() > deadline:
                raise RuntimeError(f"server not listening after {deadline_s} s:\n"
                                   f"{self.log_tail()}")
            await asyncio.sleep(0.05)  # polling interval of a deadline loop
        self.pin()

    def _spawn(self) -> None:
        with self.log_path.open("wb") as log:
            self._proc = subprocess.Popen(
                self.argv, cwd=REPO, stdin=subprocess.DEVNULL, stdout=log,
                stderr=subprocess.STDOUT, start_new_session=True,
            )

    def pin(self) -> None:
        """Pin every thread of the server to SERVER_CPU (threads started later inherit)."""
        if os.cpu_count() is None or (os.cpu_count() or 1) < 2:
            return
        with contextlib.suppress(OSError):
            for task in Path(f"/proc/{self.pid}/task").iterdir():
                with contextlib.suppress(OSError):
                    os.sched_setaffinity(int(task.name), {SERVER_CPU})

    def check_alive(self) -> None:
        assert self._proc is not None
        if self._proc.poll() is not None:
            raise RuntimeError(f"server died ({self._proc.returncode}):\n{self.log_tail()}")

    def stop(self, timeout_s: float = 20.0) -> None:
        proc = self._proc
        if proc is None or proc.poll() is not None:
            return
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout_s)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)

    def log_tail(self, lines: int = 20) -> str:
        with contextlib.suppress(OSError):
            text = self.log_path.read_text(errors="replace").splitlines()
            return "\n".join(text[-lines:])
        return ""


# -- results ----------------------------------------------------------------------------------


@dataclass(slots=True)
class RunResult:
    stack: str
    n: int
    connected: int = 0
    connect_failures: dict[str, int] = field(default_factory=dict)
    connect_boot_s: float | None = None
    listen_overflows: int | None = None
    rss_before_kib: int | None = None
    rss_after_kib: int | None = None
    kib_per_connection: float | None = None
    latency_rate: float | None = None
    latency_calls: int = 0
    latency_achieved_per_s: float | None = None
    latency_unanswered: int = 0
    p50_ms: float | None = None
    p99_ms: float | None = None
    max_ms: float | None = None
    closed_window_s: float | None = None
    calls_per_s: float | None = None
    meter_values_per_s: float | None = None
    server_cpu_pct: float | None = None
    loadgen_cpu_pct: float | None = None
    others_closed: tuple[float, float] | None = None
    others_latency: tuple[float, float] | None = None
    others_connect: tuple[float, float] | None = None
    closed_meter_values_answered: int | None = None
    meter_rows_added: int | None = None
    persisted_ok: bool | None = None
    refused: dict[str, int] = field(default_factory=dict)
    stale_answers: int = 0
    profile_top: list[str] = field(default_factory=list)
    error: str | None = None


def percentile(sorted_values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile of already sorted values."""
    if not sorted_values:
        return float("nan")
    rank = max(0, min(len(sorted_values) - 1, int(q * len(sorted_values) + 0.5) - 1))
    return sorted_values[rank]


# -- the phases -------------------------------------------------------------------------------


async def bounded_gather(tasks: list[asyncio.Task[Any]], timeout_s: float) -> int:
    """Wait for ``tasks`` at most ``timeout_s``, cancel the rest; returns how many were."""
    if not tasks:
        return 0
    _, pending = await asyncio.wait(tasks, timeout=timeout_s)
    for task in pending:
        task.cancel()
    if pending:
        await asyncio.wait(pending, timeout=10)
    for task in tasks:
        if task.done() and not task.cancelled():
            task.exception()  # retrieved: reported through the tally, not as a warning
    return len(pending)


async def connect_all(
    port: int, ids: list[str], tally: Tally, window: int, deadline_s: float
) -> tuple[list[Station], Counter[str]]:
    """Connect and boot every id, at most ``window`` handshakes in flight."""
    gate = asyncio.Semaphore(window)
    failures: Counter[str] = Counter()

    async def one(index: int, station_id: str) -> Station | None:
        async with gate:
            try:
                station = await open_station(port, station_id, tally)
            except Exception as exc:  # noqa: BLE001 - counted and reported, run goes on
                failures[f"connect: {type(exc).__name__}: {str(exc)[:120]}"] += 1
                return None
            try:
                await station.boot()
            except Exception as exc:  # noqa: BLE001 - counted and reported
                failures[f"boot: {type(exc).__name__}: {str(exc)[:120]}"] += 1
                station.ws.transport.abort()
                return None
            # Stagger the cycle so that at any moment 60 % of the calls are MeterValues.
            station.position = index % len(CYCLE)
            return station

    tasks = [asyncio.create_task(one(i, station_id)) for i, station_id in enumerate(ids)]
    cancelled = await bounded_gather(tasks, deadline_s)
    if cancelled:
        failures["not connected and booted within the deadline"] += cancelled
    stations = [t.result() for t in tasks if t.done() and not t.cancelled()
                and t.exception() is None]
    return [s for s in stations if s is not None], failures


async def latency_phase(
    stations: list[Station], rate: float, duration_s: float, grace_s: float
) -> tuple[list[float], int, float]:
    """Open loop at ``rate`` calls/s spread round-robin over the stations.

    Call j of station k is scheduled at ``t0 + (k + j * n) / rate``; its latency runs from
    that time to its answer, so a late answer also delays (and is charged to) the calls
    scheduled behind it. Returns the sorted latencies (unanswered calls count at their age
    when cancelled), how many were unanswered, and the achieved rate.
    """
    loop = asyncio.get_running_loop()
    n = len(stations)
    latencies: list[float] = []
    t0 = loop.time() + 0.2
    t_end = t0 + duration_s

    async def drive(k: int, station: Station) -> None:
        for j in itertools.count():  # bounded: stops at the first schedule past t_end
            scheduled = t0 + (k + j * n) / rate
            if scheduled >= t_end:
                return
            delay = scheduled - loop.time()
            if delay > 0:
                await asyncio.sleep(delay)
            station.inflight_since = scheduled
            await station.next_in_cycle()
            latencies.append(loop.time() - scheduled)
            station.inflight_since = None

    tasks = [asyncio.create_task(drive(k, s)) for k, s in enumerate(stations)]
    await bounded_gather(tasks, duration_s + 0.2 + grace_s)
    finished = loop.time()
    unanswered = 0
    for station in stations:
        if station.inflight_since is not None:
            unanswered += 1
            latencies.append(finished - station.inflight_since)
            station.inflight_since = None
    answered = len(latencies) - unanswered
    achieved = answered / max(1e-9, finished - t0)
    return sorted(latencies), unanswered, achieved


async def closed_phase(
    stations: list[Station], tally: Tally, warm_s: float, window_s: float, grace_s: float,
    server: ServerProcess, during: Callable[[], Coroutine[Any, Any, None]] | None = None,
) -> tuple[float, int, int, CpuUse]:
    """Every connection sends its next call as soon as its last one is answered.

    Counts answers in a window after ``warm_s`` of warm-up. Returns (window seconds,
    calls answered in the window, MeterValues answered in the window, CPU use).
    """
    loop = asyncio.get_running_loop()
    running = [True]

    async def drive(station: Station) -> None:
        while running[0]:  # bounded: running is cleared after the window, then a deadline
            await station.next_in_cycle()

    tasks = [asyncio.create_task(drive(s)) for s in stations]
    await asyncio.sleep(warm_s)
    c0, m0 = tally.total(), tally.answered[MV]
    w0, cpu0 = loop.time(), CpuSnapshot.take(server.pid)
    side = asyncio.create_task(during()) if during is not None else None
    await asyncio.sleep(window_s)
    c1, m1 = tally.total(), tally.answered[MV]
    w1, cpu1 = loop.time(), CpuSnapshot.take(server.pid)
    running[0] = False
    await bounded_gather(tasks, grace_s)
    if side is not None:
        await bounded_gather([side], grace_s)
    return w1 - w0, c1 - c0, m1 - m0, CpuUse.between(cpu0, cpu1)


# -- the stacks -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Options:
    sizes: list[int]
    duration_s: float
    rate: float
    stacks: list[str]
    db: str
    window: int
    register: str
    workdir: Path | None
    keep: bool
    profile: bool
    profile_s: float
    profile_out: Path
    grace_s: float
    timeout_s: float
    json: Path | None
    wait_quiet_s: float


def csms_toml(port: int, db_url: str) -> str:
    return "\n".join([
        "[server]",
        'host = "127.0.0.1"',
        f"port = {port}",
        'unknown_charge_points = "accept"',
        "[database]",
        f'url = "{db_url}"',
        'sqlite_synchronous = "FULL"',
        "[logging]",
        'level = "warning"',
        'format = "json"',
        "",
    ])


class Database:
    """Where the CSMS under test stores its data, and how to count its meter values."""

    def __init__(self, kind: str, tmp: Path) -> None:
        self.kind = kind
        self.sqlite_path = tmp / "csms.db"
        self.pg_name = f"csms_bench_{uuid.uuid4().hex[:12]}"

    @property
    def url(self) -> str:
        if self.kind == "sqlite":
            return f"sqlite+aiosqlite:///{self.sqlite_path}"
        return f"postgresql+asyncpg://postgres@127.0.0.1:5432/{self.pg_name}"

    async def create(self) -> None:
        if self.kind == "postgres":
            await _pg_admin(f'CREATE DATABASE "{self.pg_name}"')

    async def drop(self) -> None:
        if self.kind == "postgres":
            await _pg_admin(f'DROP DATABASE IF EXISTS "{self.pg_name}" WITH (FORCE)')

    async def meter_rows(self) -> int:
        if self.kind == "sqlite":
            uri = f"file:{self.sqlite_path}?mode=ro"
            with contextlib.closing(sqlite3.connect(uri, uri=True, timeout=30)) as db:
                return int(db.execute("SELECT count(*) FROM meter_values").fetchone()[0])
        import asyncpg  # only with --db postgres

        conn = await asyncpg.connect(PG_ADMIN_DSN.rsplit("/", 1)[0] + "/" + self.pg_name)
        try:
            return int(await conn.fetchval("SELECT count(*) FROM meter_values"))
        finally:
            await conn.close()


async def _pg_admin(statement: str) -> None:
    import asyncpg  # only with --db postgres

    conn = await asyncpg.connect(PG_ADMIN_DSN)
    try:
        await conn.execute(statement)
    finally:
        await conn.close()


async def preregister(config: Path, ids: list[str]) -> None:
    """Register the charge points as Accepted before the server starts (a known fleet)."""
    from csms.app import store_only  # the csms stack only
    from csms.config import load_settings
    from csms.domain.model import RegistrationStatus

    async with store_only(load_settings(config)) as store:
        await asyncio.gather(*(store.add_station(station_id, RegistrationStatus.ACCEPTED)
                               for station_id in ids))


def csms_executable() -> str:
    beside = Path(sys.executable).with_name("csms")
    if beside.exists():
        return str(beside)
    found = shutil.which("csms")
    if found is None:
        raise RuntimeError("no csms executable: run from the project's virtualenv")
    return found


async def run_stack(stack: str, n: int, opts: Options) -> RunResult:
    """Start one server, measure it with N charge points, stop it."""
    result = RunResult(stack, n)
    tmp = Path(tempfile.mkdtemp(prefix=f"csms-bench-{stack}-{n}-", dir=opts.workdir))
    port = free_port()
    database = Database(opts.db, tmp)
    tally = Tally()
    stations: list[Station] = []
    ids = station_ids(n)
    if stack == "csms":
        config = tmp / "csms.toml"
        config.write_text(csms_toml(port, database.url))
        argv = [csms_executable(), "--config", str(config), "run"]
    else:
        argv = [sys.executable, "-m", "bench.bare_ocpp", "--port", str(port)]
    server = ServerProcess(argv, tmp / "server.log", port)
    try:
        if stack == "csms":
            await database.create()
            if opts.register == "pre":
                await preregister(config, [*ids, WARMUP_ID])
        await server.start()
        await _warm_up(port, tally)
        await asyncio.sleep(1.0)  # let the server settle before the baseline
        _collect_own_garbage()
        result.rss_before_kib = rss_kib(server.pid)

        overflows0 = listen_overflows()
        before = CpuSnapshot.take(server.pid)
        started = time.perf_counter()
        stations, failures = await connect_all(port, ids, tally, opts.window,
                                               deadline_s=120 + n / 50)
        result.connect_boot_s = time.perf_counter() - started
        use = CpuUse.between(before, CpuSnapshot.take(server.pid))
        result.others_connect = (use.others_on_server_cpu, use.others_on_loadgen_cpu)
        result.listen_overflows = listen_overflows() - overflows0 if overflows0 >= 0 else None
        result.connected = len(stations)
        result.connect_failures = dict(failures)
        server.check_alive()
        if not stations:
            raise RuntimeError(f"no charge point connected: {dict(failures)}")

        await asyncio.sleep(2.0)  # idle: no calls in flight
        result.rss_after_kib = rss_kib(server.pid)
        result.kib_per_connection = (
            (result.rss_after_kib - result.rss_before_kib) / len(stations))

        # Latency at a fixed rate (validators and statements already warm).
        _collect_own_garbage()
        before = CpuSnapshot.take(server.pid)
        with _own_gc_paused():
            latencies, unanswered, achieved = await latency_phase(
                stations, opts.rate, opts.duration_s, opts.grace_s)
        use = CpuUse.between(before, CpuSnapshot.take(server.pid))
        result.others_latency = (use.others_on_server_cpu, use.others_on_loadgen_cpu)
        server.check_alive()
        result.latency_rate = opts.rate
        result.latency_calls = len(latencies)
        result.latency_unanswered = unanswered
        result.latency_achieved_per_s = achieved
        result.p50_ms = 1000 * percentile(latencies, 0.50)
        result.p99_ms = 1000 * percentile(latencies, 0.99)
        result.max_ms = 1000 * latencies[-1] if latencies else None

        # Maximum sustained throughput, every MeterValues checked against the database.
        rows0 = await database.meter_rows() if stack == "csms" else 0
        mv0 = tally.answered[MV]
        during = None
        profile_raw = opts.profile_out.with_suffix(f".{stack}-{n}.raw.txt")
        if opts.profile and stack == "csms":
            during = _profiler(server.pid, min(opts.profile_s, opts.duration_s), profile_raw)
        _collect_own_garbage()
        with _own_gc_paused():
            wall, calls, mvs, use = await closed_phase(
                stations, tally, min(2.0, opts.duration_s / 4), opts.duration_s,
                opts.grace_s, server, during)
        server.check_alive()
        result.closed_window_s = wall
        result.calls_per_s = calls / wall
        result.meter_values_per_s = mvs / wall
        result.server_cpu_pct = use.server
        result.loadgen_cpu_pct = use.loadgen
        result.others_closed = (use.others_on_server_cpu, use.others_on_loadgen_cpu)
        result.closed_meter_values_answered = tally.answered[MV] - mv0
        if stack == "csms":
            result.meter_rows_added = await database.meter_rows() - rows0
            result.persisted_ok = (result.meter_rows_added
                                   == SAMPLES_PER_METER_VALUES
                                   * result.closed_meter_values_answered)
        if during is not None and profile_raw.exists():
            result.profile_top = [f"py-spy raw stacks: {profile_raw}", *profile_top.report(
                profile_top.analyse(profile_raw.read_text()),
                min(opts.profile_s, opts.duration_s))]
    except Exception as exc:  # noqa: BLE001 - one failed run is reported, the others go on
        result.error = f"{type(exc).__name__}: {exc}"
        print(f"  {stack} N={n}: FAILED: {result.error}", flush=True)
    finally:
        for station in stations:
            station.ws.transport.abort()
        server.stop()
        with contextlib.suppress(Exception):
            await database.drop()
        if opts.keep:
            print(f"  kept {tmp}", flush=True)
        else:
            shutil.rmtree(tmp, ignore_errors=True)
        result.refused = dict(tally.refused)
        result.stale_answers = tally.stale
    return result


async def _warm_up(port: int, tally: Tally) -> None:
    """One charge point sends every message once: schemas compiled, statements cached."""
    station = await open_station(port, WARMUP_ID, tally)
    try:
        async with asyncio.timeout(30):
            await station.boot()
            for _ in CYCLE:
                await station.next_in_cycle()
    finally:
        async with asyncio.timeout(10):
            await station.ws.close()


def _collect_own_garbage() -> None:
    gc.collect()
    gc.freeze()


@contextlib.contextmanager
def _own_gc_paused() -> Iterator[None]:
    """The load generator's own collections would show up as server latency: pause them."""
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


# -- profiling (optional) ---------------------------------------------------------------------


def _profiler(pid: int, seconds: float, out: Path) -> Callable[[], Coroutine[Any, Any, None]]:
    async def record() -> None:
        py_spy = Path(sys.executable).with_name("py-spy")
        exe = str(py_spy) if py_spy.exists() else shutil.which("py-spy")
        if exe is None:
            print("  py-spy not found: pip install py-spy", flush=True)
            return
        proc = await asyncio.create_subprocess_exec(
            exe, "record", "--pid", str(pid), "--duration", str(max(1, int(seconds))),
            "--format", "raw", "--output", str(out), "--threads",
            stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE,
        )
        try:
            async with asyncio.timeout(seconds + 30):
                _, err = await proc.communicate()
        except TimeoutError:
            proc.kill()
            await proc.wait()
            return
        if proc.returncode != 0:
            print(f"  py-spy failed: {err.decode(errors='replace')[-400:]}", flush=True)

    return record


# -- report -----------------------------------------------------------------------------------


def _fmt(value: float | None, spec: str = ",.0f") -> str:
    return "—" if value is None else format(value, spec)


def _ratio(a: float | None, b: float | None) -> str:
    if a is None or b is None or b == 0:
        return "—"
    return f"{a / b:.2f}×"


def report(results: list[RunResult], opts: Options) -> str:
    lines: list[str] = []
    by_key = {(r.stack, r.n): r for r in results}
    rows: list[tuple[str, Callable[[RunResult], float | None], str, str]] = [
        ("connect + boot all N (s)", lambda r: r.connect_boot_s, ",.2f", ""),
        ("max calls/s, closed loop", lambda r: r.calls_per_s, ",.0f",
         f">= {TARGET_CALLS_PER_S:,}"),
        ("MeterValues/s (csms: persisted)", lambda r: r.meter_values_per_s, ",.0f", ""),
        ("server CPU in closed loop (%)", lambda r: r.server_cpu_pct, ".0f", ""),
        ("load generator CPU (%)", lambda r: r.loadgen_cpu_pct, ".0f", ""),
        (f"p50 at {opts.rate:,.0f} calls/s (ms)", lambda r: r.p50_ms, ",.2f", ""),
        (f"p99 at {opts.rate:,.0f} calls/s (ms)", lambda r: r.p99_ms, ",.2f",
         f"< {TARGET_P99_MS:g} (N={TARGET_P99_AT_N:,})"),
        (f"max at {opts.rate:,.0f} calls/s (ms)", lambda r: r.max_ms, ",.1f", ""),
        ("achieved rate in latency phase (/s)", lambda r: r.latency_achieved_per_s, ",.0f", ""),
        ("server RSS per idle connection (KiB)", lambda r: r.kib_per_connection, ",.1f",
         f"<= {TARGET_KIB_PER_CONN:g}"),
    ]
    both = "csms" in opts.stacks and "bare" in opts.stacks
    header = f"{'N':>6}  {'figure':<38} {'csms':>10} {'bare':>10} {'csms/bare':>10}  target"
    lines += [header, "-" * len(header)]
    for n in opts.sizes:
        csms, bare = by_key.get(("csms", n)), by_key.get(("bare", n))
        for label, get, spec, target in rows:
            a = get(csms) if csms else None
            b = get(bare) if bare else None
            verdict = ""
            if target and csms is not None and a is not None:
                verdict = _verdict(label, n, a)
            lines.append(f"{n:>6,}  {label:<38} {_fmt(a, spec):>10} {_fmt(b, spec):>10} "
                         f"{_ratio(a, b) if both else '':>10}  {target}{verdict}")
        for run in (csms, bare):
            if run is not None:
                lines.extend(_notes(run))
        lines.append("")
    return "\n".join(lines)


def _verdict(label: str, n: int, value: float) -> str:
    if label.startswith("max calls/s"):
        ok = value >= TARGET_CALLS_PER_S
    elif label.startswith("p99"):
        if n != TARGET_P99_AT_N:
            return ""
        ok = value < TARGET_P99_MS
    elif label.startswith("server RSS"):
        ok = value <= TARGET_KIB_PER_CONN
    else:
        return ""
    return "  MET" if ok else "  MISSED"


def _notes(r: RunResult) -> list[str]:
    out: list[str] = []
    tag = f"{'':>8}{r.stack}:"
    if r.error:
        out.append(f"{tag} FAILED: {r.error}")
    if r.connected != r.n:
        out.append(f"{tag} connected {r.connected:,} of {r.n:,}: {r.connect_failures}")
    if r.listen_overflows:
        out.append(f"{tag} accept-queue overflows during connect: {r.listen_overflows} "
                   "(SYN/ACK retried; adds ~1 s to some handshakes)")
    for phase, others in (("connect", r.others_connect), ("latency", r.others_latency),
                          ("closed-loop", r.others_closed)):
        if others is not None and max(others) >= OTHERS_WARN_PCT:
            out.append(f"{tag} WARNING: other processes used {others[0]:.0f} % of CPU "
                       f"{SERVER_CPU} (server) and {others[1]:.0f} % of CPU {LOAD_CPU} "
                       f"(load generator) during the {phase} phase: figures disturbed")
    if r.latency_unanswered:
        out.append(f"{tag} {r.latency_unanswered} calls of the latency phase unanswered "
                   "at its deadline (counted at their age then)")
    if r.meter_rows_added is not None:
        expected = SAMPLES_PER_METER_VALUES * (r.closed_meter_values_answered or 0)
        check = "all persisted" if r.persisted_ok else "MISMATCH"
        out.append(f"{tag} meter_values rows added in the closed-loop phase: "
                   f"{r.meter_rows_added:,} = {r.meter_rows_added / 8:,.0f} MeterValues × 8; "
                   f"answered: {r.closed_meter_values_answered:,} ({expected:,} rows) → {check}")
    if r.refused:
        out.append(f"{tag} CALLERRORs: {r.refused}")
    if r.profile_top:
        out.append(f"{tag} profile of the server in the closed-loop phase:")
        out.extend(f"{'':>10}{line}" for line in r.profile_top)
    return out


def code_version() -> str:
    """The commit the CSMS runs from, and whether files differ from it (read-only git)."""
    try:
        head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=REPO, text=True,
                              capture_output=True, timeout=10, check=True).stdout.strip()
        changed = subprocess.run(["git", "diff", "--name-only", "HEAD", "--"], cwd=REPO,
                                 text=True, capture_output=True, timeout=10,
                                 check=True).stdout.split()
    except (OSError, subprocess.SubprocessError):
        return "unknown (no git)"
    return head + (f" with uncommitted changes in {len(changed)} files" if changed else "")


def machine_info(opts: Options) -> list[str]:
    cpu = "?"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    versions = ", ".join(f"{name} {metadata.version(name)}"
                         for name in ("ocpp", "websockets", "orjson", "SQLAlchemy", "aiosqlite"))
    db_dir = opts.workdir or Path(tempfile.gettempdir())
    info = [
        f"csms code: {code_version()}",
        f"machine: nproc={os.cpu_count()}, {cpu}, {platform.system()} {platform.release()}",
        f"python {platform.python_version()} ({sys.executable}); {versions}",
        f"server pinned to CPU {SERVER_CPU}, load generator pinned to CPU {LOAD_CPU}; "
        f"open-file limit {resource.getrlimit(resource.RLIMIT_NOFILE)[0]:,}",
        "mix (OCPP 1.6): BootNotification + StatusNotification once, then repeated "
        f"MeterValues ×3 ({SAMPLES_PER_METER_VALUES} sampled values, "
        f"{len(build_frame(MV, b'1000000'))} bytes), Heartbeat, StatusNotification",
    ]
    if "csms" in opts.stacks:
        where = (f"SQLite file in {db_dir} on {filesystem_of(db_dir)}, journal_mode=WAL, "
                 'sqlite_synchronous="FULL" (every commit fsynced before the answer)'
                 if opts.db == "sqlite" else
                 "PostgreSQL on 127.0.0.1:5432, a fresh database (NOT pinned: it shares "
                 "both cores)")
        info.append(f'csms: csms run, {where}; logging level "warning"; '
                    'unknown_charge_points = "accept"; charge points '
                    + ("pre-registered (a known fleet)" if opts.register == "pre"
                       else "auto-registered on first connect"))
    if "bare" in opts.stacks:
        info.append("bare: stock ocpp 2.1.0 v16 ChargePoint, @on handlers that only reply, "
                    "default validation (jsonschema in the thread pool), no storage; "
                    "logging level WARNING; same websockets settings")
    info.append(f"each phase {opts.duration_s:g} s; connect window {opts.window} handshakes "
                "in flight")
    info.append("figures vary ±15–25 % between runs: compare the stacks within one run")
    return info


# -- entry point ------------------------------------------------------------------------------


def raise_file_limit() -> int:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


def pin_self() -> None:
    if (os.cpu_count() or 1) >= 2:
        os.sched_setaffinity(0, {LOAD_CPU})


def _parse(argv: Sequence[str] | None) -> Options:
    parser = argparse.ArgumentParser(prog="python -m bench.load", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="100,1000,5000",
                        help="numbers of charge points, comma-separated (default 100,1000,5000)")
    parser.add_argument("--duration-s", type=float, default=20.0,
                        help="length of the latency and of the throughput phase (default 20)")
    parser.add_argument("--rate", type=float, default=500.0,
                        help="calls/s of the latency phase (default 500)")
    parser.add_argument("--stack", choices=["csms", "bare", "both"], default="both")
    parser.add_argument("--db", choices=["sqlite", "postgres"], default="sqlite",
                        help="the CSMS's database (postgres: a fresh database on "
                             "127.0.0.1:5432, dropped after)")
    parser.add_argument("--window", type=int, default=200,
                        help="handshakes in flight while connecting (default 200)")
    parser.add_argument("--register", choices=["pre", "auto"], default="pre",
                        help="csms: register the charge points before the start (pre, a "
                             "known fleet) or let the server register them on connect (auto)")
    parser.add_argument("--workdir", type=Path, default=None,
                        help="where the temporary databases and logs go (default: $TMPDIR)")
    parser.add_argument("--keep", action="store_true", help="keep the databases and logs")
    parser.add_argument("--json", type=Path, default=None, help="also write results here")
    parser.add_argument("--timeout-s", type=float, default=3600.0,
                        help="stop everything after this long (default 3600)")
    parser.add_argument("--grace-s", type=float, default=30.0,
                        help="how long a phase's calls may still take after its end")
    parser.add_argument("--wait-quiet-s", type=float, default=0.0,
                        help="first wait up to this long for both CPUs to be idle (other "
                             "processes disturb the figures; default: just report)")
    parser.add_argument("--profile", action="store_true",
                        help="record the csms server with py-spy during the closed loop "
                             "(slows it a little) and print the top 10 functions by own time")
    parser.add_argument("--profile-s", type=float, default=10.0)
    parser.add_argument("--profile-out", type=Path, default=Path("bench/results/profile"),
                        help="prefix of the py-spy raw output files")
    args = parser.parse_args(argv)
    sizes = [int(s.replace("_", "")) for s in args.sizes.split(",") if s.strip()]
    if not sizes or min(sizes) < 1 or args.duration_s <= 0 or args.rate <= 0:
        parser.error("sizes, --duration-s and --rate must be positive")
    stacks = ["csms", "bare"] if args.stack == "both" else [args.stack]
    if args.profile:
        args.profile_out.parent.mkdir(parents=True, exist_ok=True)
    return Options(sizes, args.duration_s, args.rate, stacks, args.db, args.window,
                   args.register, args.workdir, args.keep, args.profile, args.profile_s,
                   args.profile_out, args.grace_s, args.timeout_s,
                   args.json, args.wait_quiet_s)


async def machine_busy(seconds: float = 2.0) -> dict[int, float]:
    """Per cent busy of each CPU over ``seconds`` (before we start anything)."""
    a, t0 = cpu_busy_seconds(), time.monotonic()
    await asyncio.sleep(seconds)
    b, t1 = cpu_busy_seconds(), time.monotonic()
    return {cpu: 100 * (b[cpu] - a.get(cpu, 0.0)) / (t1 - t0) for cpu in sorted(b)}


async def wait_until_quiet(limit_s: float) -> None:
    """Report how busy the machine is; wait (at most ``limit_s``) until it is quiet."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + limit_s
    while True:  # bounded by the deadline
        busy = await machine_busy()
        text = ", ".join(f"CPU {cpu} {pct:.0f} %" for cpu, pct in busy.items())
        quiet = max(busy.values(), default=0.0) < OTHERS_WARN_PCT
        if quiet or loop.time() >= deadline:
            print(f"machine before the run: {text}"
                  + ("" if quiet else " (NOT quiet: other processes compete for the CPUs)"),
                  flush=True)
            return
        print(f"waiting for a quiet machine: {text}", flush=True)
        await asyncio.sleep(min(10.0, max(0.0, deadline - loop.time())))


async def _main(opts: Options) -> list[RunResult]:
    main_task = asyncio.current_task()
    assert main_task is not None
    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGTERM, main_task.cancel)
    results: list[RunResult] = []
    async with asyncio.timeout(opts.timeout_s):
        await wait_until_quiet(opts.wait_quiet_s)
        for n in opts.sizes:
            for stack in opts.stacks:
                print(f"running {stack} with N={n:,} ...", flush=True)
                results.append(await run_stack(stack, n, opts))
    return results


def main(argv: Sequence[str] | None = None) -> int:
    opts = _parse(argv)
    raise_file_limit()
    pin_self()
    for line in machine_info(opts):
        print(line)
    print(flush=True)
    results = asyncio.run(_main(opts))
    print()
    print(report(results, opts))
    if opts.json is not None:
        opts.json.parent.mkdir(parents=True, exist_ok=True)
        opts.json.write_text(json.dumps({
            "machine": machine_info(opts),
            "options": {k: str(v) if isinstance(v, Path) else v
                        for k, v in asdict(opts).items()},
            "results": [asdict(r) for r in results],
        }, indent=2, default=str))
        print(f"results written to {opts.json}")
    return 1 if any(r.error for r in results) else 0


if __name__ == "__main__":
    sys.exit(main())
