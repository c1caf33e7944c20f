"""Soak benchmark: the CSMS's memory over a long run, with rounds of abuse; RSS over time.

    python -m bench.soak                          # 30 minutes (the default)
    python -m bench.soak --duration-s 120 --sample-s 10 --tracemalloc   # a quick look

It starts the CSMS as a child process on 127.0.0.1 (SQLite in a temporary directory, or
``--db postgres``; any charge point and token accepted, no HTTP API), pinned to CPU 0, and
runs a ``csms-sim`` fleet (``--stations``, mixed 1.6/2.0.1, EVs charging back to back) as a
second child for ``--duration-s``. Every ``--abuse-every-s`` it also opens
``--abuse-handshakes`` TCP connections that send half an HTTP upgrade request and never
finish it, holds them ``--abuse-hold-s`` and drops them (the handshake flood of issue 14).

Every ``--sample-s`` it prints the server's RSS (MiB, from /proc) with the elapsed time.
At the end: the RSS at start, after warm-up, its peak and end, and the steady-state slope
(MiB per minute, a least-squares fit over the samples after the warm-up, abuse rounds
included). With ``--tracemalloc`` the server runs with tracemalloc on and the bench prints
the 15 allocation sites that grew most between the end of the warm-up and the end
(csms.memory: SIGUSR1 writes the snapshots).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import signal
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from bench.fleet import FleetOptions, csms_config, sim_argv
from bench.machine import LOAD_CPU, REPO, free_port, raise_file_limit, rss_kib
from bench.servers import Database, ServerProcess, csms_executable

HALF_REQUEST: Final = b"GET /SOAK-ABUSE HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n"


@dataclass(frozen=True, slots=True)
class SoakOptions:
    duration_s: float
    sample_s: float
    warmup_s: float
    stations: int
    abuse_every_s: float
    abuse_handshakes: int
    abuse_hold_s: float
    db: str
    tracemalloc: bool


def _parse(argv: Sequence[str] | None) -> SoakOptions:
    p = argparse.ArgumentParser(prog="python -m bench.soak",
                                description=__doc__.split("\n\n")[0])
    p.add_argument("--duration-s", type=float, default=1800.0)
    p.add_argument("--sample-s", type=float, default=30.0)
    p.add_argument("--warmup-s", type=float, default=None,
                   help="excluded from the slope (default: a sixth of the run)")
    p.add_argument("--stations", type=int, default=200)
    p.add_argument("--abuse-every-s", type=float, default=None,
                   help="default: a third of the run (so three rounds)")
    p.add_argument("--abuse-handshakes", type=int, default=2000)
    p.add_argument("--abuse-hold-s", type=float, default=5.0)
    p.add_argument("--db", choices=["sqlite", "postgres"], default="sqlite")
    p.add_argument("--tracemalloc", action="store_true")
    a = p.parse_args(argv)
    if a.duration_s <= 0 or a.sample_s <= 0 or a.stations <= 0:
        p.error("--duration-s, --sample-s and --stations must be positive")
    return SoakOptions(
        a.duration_s, a.sample_s, a.warmup_s if a.warmup_s is not None else a.duration_s / 6,
        a.stations, a.abuse_every_s or a.duration_s / 3, a.abuse_handshakes, a.abuse_hold_s,
        a.db, a.tracemalloc)


async def abuse(port: int, count: int, hold_s: float) -> int:
    """Open ``count`` connections with an unfinished handshake, hold, drop; how many opened."""
    writers = []
    for _ in range(count):
        try:
            _, writer = await asyncio.open_connection("127.0.0.1", port)
        except OSError:
            break
        writer.write(HALF_REQUEST)
        writers.append(writer)
    await asyncio.sleep(hold_s)  # the abuse itself: hold the half-open handshakes
    for writer in writers:
        writer.close()
    for writer in writers:
        with contextlib.suppress(OSError):
            await writer.wait_closed()
    return len(writers)


async def sample(server: ServerProcess, opts: SoakOptions, started: float,
                 out: list[tuple[float, float]], stop: asyncio.Event) -> None:
    """Append (elapsed s, RSS MiB) every ``sample_s`` and print it, until ``stop``."""
    while not stop.is_set():
        elapsed = time.monotonic() - started
        rss = rss_kib(server.pid) / 1024
        out.append((elapsed, rss))
        print(f"  {elapsed:8.1f} s  {rss:8.1f} MiB", flush=True)
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(opts.sample_s):
                await stop.wait()


def slope_mib_per_min(points: list[tuple[float, float]]) -> float | None:
    """Least-squares slope of RSS over time, MiB per minute."""
    if len(points) < 2:
        return None
    n = len(points)
    mean_t = sum(p[0] for p in points) / n
    mean_r = sum(p[1] for p in points) / n
    var = sum((p[0] - mean_t) ** 2 for p in points)
    if var == 0:
        return None
    cov = sum((p[0] - mean_t) * (p[1] - mean_r) for p in points)
    return cov / var * 60


def fleet(opts: SoakOptions) -> FleetOptions:
    return FleetOptions(opts.stations, opts.duration_s, 2, 30.0, 50.0, 0.5, opts.db, None, 1,
                        None, None, max(opts.duration_s, 60.0))


async def run(opts: SoakOptions) -> list[tuple[float, float]]:
    tmp = Path(tempfile.mkdtemp(prefix="csms-soak-"))
    port = free_port()
    database = Database(opts.db, tmp)
    config = tmp / "csms.toml"
    config.write_text(csms_config(port, database.url))
    if opts.tracemalloc:
        os.environ["PYTHONTRACEMALLOC"] = "1"  # one frame: start-up stays bearable
        os.environ["CSMS_TRACEMALLOC_DIR"] = str(tmp)
    server = ServerProcess([csms_executable(), "--config", str(config), "run"],
                           tmp / "server.log", port)
    points: list[tuple[float, float]] = []
    try:
        await database.create()
        await server.start(deadline_s=240.0 if opts.tracemalloc else 60.0)
        os.environ.pop("PYTHONTRACEMALLOC", None)
        sim = await asyncio.create_subprocess_exec(
            *sim_argv(fleet(opts), f"ws://127.0.0.1:{port}/", tmp / "summary.json"),
            cwd=REPO, stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.DEVNULL)
        with contextlib.suppress(OSError):
            os.sched_setaffinity(sim.pid, {LOAD_CPU})
        await _drive(server, opts, port, points)
        sim.send_signal(signal.SIGINT)
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(30):
                await sim.wait()
        server.check_alive()
        if opts.tracemalloc:
            _print_growth(tmp)
    finally:
        server.stop()
        await database.drop()
    return points


async def _drive(server: ServerProcess, opts: SoakOptions, port: int,
                 points: list[tuple[float, float]]) -> None:
    """Sample for the whole run; abuse rounds on schedule; snapshots after warm-up and end."""
    started = time.monotonic()
    stop = asyncio.Event()
    sampler = asyncio.create_task(sample(server, opts, started, points, stop))
    next_abuse, snapped = opts.abuse_every_s / 2, False
    while (elapsed := time.monotonic() - started) < opts.duration_s:
        if not snapped and elapsed >= opts.warmup_s:
            os.kill(server.pid, signal.SIGUSR1)
            snapped = True
        if opts.abuse_handshakes and elapsed >= next_abuse:
            opened = await abuse(port, opts.abuse_handshakes, opts.abuse_hold_s)
            print(f"  {time.monotonic() - started:8.1f} s  abuse: {opened} unfinished "
                  "handshakes held and dropped", flush=True)
            next_abuse += opts.abuse_every_s
        await asyncio.sleep(1.0)  # the schedule's tick
    os.kill(server.pid, signal.SIGUSR1)
    stop.set()
    await sampler


def _print_growth(tmp: Path) -> None:
    deadline = time.monotonic() + 30
    paths = sorted(tmp.glob("snapshot-*.bin"))
    while len(paths) < 2 and time.monotonic() < deadline:
        time.sleep(0.5)  # the server writes the last snapshot after its signal
        paths = sorted(tmp.glob("snapshot-*.bin"))
    if len(paths) < 2:
        print("tracemalloc: snapshots missing")
        return
    first, last = (tracemalloc.Snapshot.load(str(p)) for p in (paths[0], paths[-1]))
    print("tracemalloc: growth from the end of the warm-up to the end (top 15)")
    for stat in last.compare_to(first, "lineno")[:15]:
        print(f"  {stat.size_diff / 1024:+9.1f} KiB {stat.count_diff:+7d}  {stat.traceback}")


def main(argv: Sequence[str] | None = None) -> int:
    opts = _parse(argv)
    raise_file_limit()
    print(f"soak: {opts.stations} stations for {opts.duration_s:.0f} s, "
          f"{opts.abuse_handshakes} unfinished handshakes every {opts.abuse_every_s:.0f} s")
    points = asyncio.run(run(opts))
    if not points:
        return 1
    steady = [p for p in points if p[0] >= opts.warmup_s]
    slope = slope_mib_per_min(steady)
    print(f"rss: start {points[0][1]:.1f} MiB, after warm-up "
          f"{(steady[0][1] if steady else points[-1][1]):.1f}, peak "
          f"{max(p[1] for p in points):.1f}, end {points[-1][1]:.1f}; steady slope "
          + ("n/a" if slope is None else f"{slope:+.3f} MiB/min"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
