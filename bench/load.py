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
import shutil
import signal
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Coroutine, Iterator, Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

from bench import profile_top
from bench.frames import (
    CYCLE,
    MV,
    SAMPLES_PER_METER_VALUES,
    WARMUP_ID,
    Station,
    Tally,
    open_station,
    station_ids,
)
from bench.machine import (
    CpuSnapshot,
    CpuUse,
    free_port,
    listen_overflows,
    machine_info,
    pin_self,
    raise_file_limit,
    rss_kib,
    wait_until_quiet,
)
from bench.options import Options
from bench.report import RunResult, percentile, report
from bench.servers import Database, ServerProcess, csms_executable, csms_toml, preregister, profiler

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
        config.write_text(csms_toml(port, database.url, event_loop=opts.event_loop))
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
            during = profiler(server.pid, min(opts.profile_s, opts.duration_s), profile_raw)
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


# -- entry point ------------------------------------------------------------------------------


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
    parser.add_argument("--event-loop", choices=["asyncio", "uvloop"], default="asyncio",
                        help="the csms stack's event loop ([server] event_loop)")
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
                   args.json, args.wait_quiet_s, args.event_loop)

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
