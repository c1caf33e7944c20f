"""The machine the benchmark runs on: CPU and memory readings, ports, pinning, a quiet start.

Readings come from ``/proc`` without touching the server under test: its VmRSS and CPU time,
every CPU's busy time (to tell what other processes took, ``CpuSnapshot``/``CpuUse``), the
accept-queue overflows and whether a port listens. The server is pinned to ``SERVER_CPU``
and this process to ``LOAD_CPU``; ``raise_file_limit`` lifts the open-file limit the servers
inherit. ``machine_info`` describes the machine, the code and the run for the output's head,
and ``wait_until_quiet`` reports (and optionally waits out) other load before the run.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import os
import platform
import resource
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Final

from bench.frames import MV, SAMPLES_PER_METER_VALUES, build_frame
from bench.options import Options

REPO: Final = Path(__file__).resolve().parents[1]
SERVER_CPU: Final = 0
LOAD_CPU: Final = 1
OTHERS_WARN_PCT: Final = 5.0


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


# -- the machine and the code -----------------------------------------------------------------


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
        info.append(f'csms: csms run on {opts.event_loop}, {where}; logging level "warning"; '
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


def raise_file_limit() -> int:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


def pin_self() -> None:
    if (os.cpu_count() or 1) >= 2:
        os.sched_setaffinity(0, {LOAD_CPU})


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
