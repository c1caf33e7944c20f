"""One run of the evening benchmark: a code tree on a database, every phase, its figures.

Rules:
1. Each run starts from nothing: a fresh temporary directory (and a fresh PostgreSQL
   database with ``--db postgres``), the network written by ``bench/evening_setup.py``
   with the tree's own store code, then the tree's CSMS started (``python -m csms``, the
   tree first on ``PYTHONPATH``) pinned to CPU 0. Everything is stopped and removed in a
   ``finally``, the server by its PID.
2. The phases run in the order of ``bench.evening``'s docstring, each under ``_phase``:
   the CPU other processes took is recorded beside it, the load generator's own garbage
   collector is paused while it runs, and ``--profile PHASE`` records the server then.
   After the evening start and after the storm, the next phase waits (bounded) until the
   server's CPU falls below ``QUIET_PCT``: what those phases leave queued (webhook
   deliveries, first cost displays, load passes, safe shares) is timed as their aftermath,
   not counted against the steady evening or the stop burst.
3. The checks compare what the chargers were answered with what the database holds, after
   the last phase (``census``).
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import json
import shutil
import sys
import tempfile
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from bench import evening_frames as frames
from bench import evening_phases as phases
from bench import profile_top
from bench.evening_chargers import CYCLES, HEARTBEAT, SAMPLE, Charger, Tally
from bench.evening_listeners import FeedSubscriber, WebhookReceiver
from bench.evening_report import Figures
from bench.load import bounded_gather
from bench.machine import REPO, CpuSnapshot, CpuUse, free_port, listen_overflows, rss_kib
from bench.report import percentile
from bench.servers import Database, ServerProcess, profiler

QUIET_PCT = 25.0  # % of one core: the server has caught up with what a phase queued


@dataclass(frozen=True, slots=True)
class EveningOptions:
    chargers: int
    per_site: int
    duration_s: float
    rate: float
    burst_s: float
    offline_queue: int
    window: int
    storm_window: int
    dbs: list[str]
    compare: str | None
    profile: str | None
    profile_s: float
    profile_out: Path
    grace_s: float
    timeout_s: float
    workdir: Path | None
    keep: bool
    json: Path | None


def config_toml(port: int, api_port: int, db_url: str) -> str:
    """The CSMS under test: every service at its default (on), the API for the feed."""
    return "\n".join([
        "[server]", 'host = "127.0.0.1"', f"port = {port}", 'unknown_charge_points = "reject"',
        "[database]", f'url = "{db_url}"', 'sqlite_synchronous = "FULL"',
        "[api]", "enabled = true", 'host = "127.0.0.1"', f"port = {api_port}",
        "[logging]", 'level = "warning"', 'format = "json"',
        "[load]", "enabled = true", "[safety]", "enabled = true", "[billing]", "enabled = true",
        "[files]", 'directory = "files"', "",
    ])


def station_id(i: int) -> str:
    return f"EVE-{i:05d}"


def two_ports() -> tuple[int, int]:
    """Two free ports that differ (two look-ups can return the same one: the API would then
    fail to bind and the CSMS stop right after its OCPP port opened)."""
    port = free_port()
    for _ in range(100):  # bounded: the kernel hands out another port almost always
        other = free_port()
        if other != port:
            return port, other
    raise RuntimeError("no second free port")


def stagger(version: str, k: int) -> int:
    """Where charger ``k`` enters the cycle: spread over it, but never inside a turnover
    (a start without its stop would supersede the running session)."""
    steps = CYCLES[version]
    position = (k * 7919) % len(steps)
    while steps[position % len(steps)][0] not in (SAMPLE, HEARTBEAT):
        position += 1
    return position


def make_charger(i: int, tally: Tally, clock: frames.Clock) -> Charger:
    """Charger ``i`` of the network (``bench/evening_setup.py`` names it the same way)."""
    tags = (f"EVT{i:05d}1".encode(), f"EVT{i:05d}2".encode())
    return Charger(station_id(i), frames.V201 if i % 2 else frames.V16, tags,
                   100_000 + 1_000 * i, tally, clock)


async def _setup(path: Path, env: dict[str, str], config: Path, chargers: int,
                 per_site: int, webhook_url: str) -> dict[str, Any]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable, str(REPO / "bench" / "evening_setup.py"), "--config", str(config),
        "--chargers", str(chargers), "--per-site", str(per_site), "--webhook-url", webhook_url,
        cwd=config.parent, env=env, stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE)
    try:
        async with asyncio.timeout(120 + chargers / 20):
            out, err = await proc.communicate()
    except TimeoutError:
        proc.kill()
        await proc.wait()
        raise
    if proc.returncode != 0:
        raise RuntimeError(f"setup failed ({proc.returncode}): {err.decode()[-1500:]}")
    result: dict[str, Any] = json.loads(out.decode().strip().splitlines()[-1])
    return result


@contextlib.asynccontextmanager
async def _phase(name: str, fig: Figures, server: ServerProcess, opts: EveningOptions,
                 ) -> AsyncIterator[None]:
    """Rule 2."""
    gc.collect()
    gc.freeze()
    spy = None
    raw = opts.profile_out.with_suffix(f".{fig.label.split()[0]}-{fig.db}-{name}.raw.txt")
    if opts.profile == name:
        raw.parent.mkdir(parents=True, exist_ok=True)
        spy = asyncio.create_task(profiler(server.pid, opts.profile_s, raw)())
    before = CpuSnapshot.take(server.pid)
    gc.disable()
    began = time.time()
    try:
        yield
    finally:
        gc.enable()
        fig.phase_walls[name] = (began, time.time())
        use = CpuUse.between(before, CpuSnapshot.take(server.pid))
        fig.disturbed[name] = (use.others_on_server_cpu, use.others_on_loadgen_cpu)
        fig.server_cpu[name] = use.server
        if spy is not None:
            await bounded_gather([spy], opts.profile_s + 60)
            if raw.exists():
                fig.profile = [f"{name}, py-spy raw stacks: {raw}", *profile_top.report(
                    profile_top.analyse(raw.read_text()), opts.profile_s)]
    server.check_alive()


async def _quiet(server: ServerProcess, deadline_s: float, below_pct: float = QUIET_PCT,
                 window_s: float = 1.0) -> float | None:
    """Rule 2: wait until the server's CPU over ``window_s`` is below ``below_pct`` (the
    work a phase left queued is done: webhook deliveries, cost displays, load passes), at
    most ``deadline_s``; the seconds it took, None if it never got quiet."""
    loop = asyncio.get_running_loop()
    t0 = loop.time()
    before = CpuSnapshot.take(server.pid)
    while loop.time() - t0 < deadline_s:
        await asyncio.sleep(window_s)  # a sampling window, not a wait for work
        now = CpuSnapshot.take(server.pid)
        if CpuUse.between(before, now).server < below_pct:
            return loop.time() - t0 - window_s
        before = now
    return None


def gc_pauses(log: Path, walls: dict[str, tuple[float, float]]) -> dict[str, list[float]]:
    """The server's logged garbage-collector pauses (``csms.gc.pause``, >= 50 ms), in ms,
    by the phase they fell in."""
    found: dict[str, list[float]] = {}
    with contextlib.suppress(OSError):
        for line in log.read_text(errors="replace").splitlines():
            if '"csms.gc.pause"' not in line:
                continue
            with contextlib.suppress(ValueError, KeyError, TypeError):
                entry = json.loads(line)
                at = datetime.fromisoformat(entry["timestamp"]).timestamp()
                phase = next((name for name, (a, b) in walls.items() if a <= at <= b),
                             "between phases")
                found.setdefault(phase, []).append(float(entry["pause_ms"]))
    return found


def _ms(values: list[float], q: float) -> float | None:
    return 1000 * percentile(values, q) if values else None


async def _warm_up(port: int, tally: Tally, clock: frames.Clock, first: int) -> None:
    """Two chargers beyond the fleet (one per version) send every message once."""
    for i in (first, first + 1):
        charger = make_charger(i, tally, clock)
        await charger.open(port)
        try:
            async with asyncio.timeout(60):
                await charger.boot()
                await charger.arrive_all()
                for _ in range(4):
                    await charger.next_in_cycle()
                await charger.heartbeat()
                for c in (1, 2):
                    await charger.stop(c)
        finally:
            charger.abort()


async def run_one(label: str, path: Path, env: dict[str, str], db: str,
                  opts: EveningOptions) -> Figures:
    """Rule 1: one fresh network, one server, every phase."""
    fig = Figures(label, db, chargers=opts.chargers)
    tmp = Path(tempfile.mkdtemp(prefix=f"evening-{db}-", dir=opts.workdir))
    port, api_port = two_ports()
    database = Database(db, tmp)
    config = tmp / "csms.toml"
    config.write_text(config_toml(port, api_port, database.url))
    server = ServerProcess([sys.executable, "-m", "csms", "--config", str(config), "run"],
                           tmp / "server.log", port, env=env, cwd=tmp)
    receiver, tally, clock = WebhookReceiver(), Tally(), frames.Clock()
    chargers: list[Charger] = []
    feed: FeedSubscriber | None = None
    try:
        await receiver.start()
        await database.create()
        setup = await _setup(path, env, config, opts.chargers + 2, opts.per_site,
                             receiver.url)
        fig.setup_s = float(setup["seconds"])
        await server.start(deadline_s=120)
        feed = FeedSubscriber(api_port, setup["api_token"])
        feed.start()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(feed.connected.wait(), 30)
        await _warm_up(port, tally, clock, opts.chargers)
        await asyncio.sleep(1.0)
        chargers = [make_charger(i, tally, clock) for i in range(opts.chargers)]
        await _phases(fig, chargers, server, port, tally, database, opts)
        fig.census = await census(database.url, tally)
    except Exception as exc:  # noqa: BLE001 - one failed run is reported, the others go on
        fig.error = f"{type(exc).__name__}: {exc}"
        print(f"  {label} on {db}: FAILED: {fig.error}\n{server.log_tail()}", flush=True)
    finally:
        for charger in chargers:
            charger.abort()
        fig.webhooks, fig.webhook_repeats = receiver.deliveries, receiver.repeats
        fig.webhook_kinds = dict(receiver.by_kind)
        if feed is not None:
            fig.feed_events, fig.feed_problem = feed.events, feed.error
            await feed.close()
        server.stop()
        fig.gc_pauses = gc_pauses(tmp / "server.log", fig.phase_walls)
        await receiver.close()
        with contextlib.suppress(Exception):
            await database.drop()
        if opts.keep:
            print(f"  kept {tmp}", flush=True)
        else:
            shutil.rmtree(tmp, ignore_errors=True)
        fig.server_calls, fig.refused = dict(tally.server_calls), dict(tally.refused)
        fig.not_accepted = dict(tally.not_accepted)
    return fig


async def _phases(fig: Figures, chargers: list[Charger], server: ServerProcess, port: int,
                  tally: Tally, database: Database, opts: EveningOptions) -> None:
    """Rule 2: the phases, in order; the figures into ``fig``."""
    n = len(chargers)
    rss0 = rss_kib(server.pid)

    async def connect(_: int, charger: Charger) -> None:
        await charger.open(port)
        await charger.boot()

    async with _phase("connect", fig, server, opts):
        timed = await phases.each(chargers, connect, 120 + n / 50, opts.window)
    fig.connect_boot_s, fig.connected = timed.span_s, timed.done
    fig.failures["connect"] = dict(timed.failures)
    chargers = [c for c in chargers if c.ws is not None]
    if not chargers:
        raise RuntimeError(f"no charger connected: {dict(timed.failures)}")
    await asyncio.sleep(2.0)  # idle
    fig.kib_per_connection = (rss_kib(server.pid) - rss0) / len(chargers)

    async with _phase("start", fig, server, opts):
        timed = await phases.each(chargers, lambda _, c: c.arrive_all(), 120 + n / 25)
    fig.starts = 2 * timed.done
    fig.starts_per_s = fig.starts / max(1e-9, timed.span_s)
    fig.failures["start"] = dict(timed.failures)
    for k, charger in enumerate(chargers):  # stagger the cycle (its shares at every moment)
        charger.position = stagger(charger.version, k)
    async with _phase("settle", fig, server, opts):
        fig.settle_s = await _quiet(server, 120 + n / 25)

    async with _phase("open", fig, server, opts):
        timed = await phases.steady_open(chargers, opts.rate, opts.duration_s, opts.grace_s)
    fig.rate = opts.rate
    fig.open_achieved = len(timed.latencies) / max(1e-9, timed.span_s)
    fig.open_p50_ms, fig.open_p99_ms = _ms(timed.latencies, 0.5), _ms(timed.latencies, 0.99)
    fig.open_max_ms = 1000 * timed.latencies[-1] if timed.latencies else None
    fig.open_stop_p99_ms = _ms(timed.by_kind.get("stop", []), 0.99)
    fig.open_p99_by_s = [1000 * percentile(sorted(v), 0.99) for v in timed.per_second() if v]
    fig.failures["open"] = dict(timed.failures)

    rows0, expected0 = await database.meter_rows(), tally.rows
    marks: list[tuple[CpuSnapshot, int]] = []
    async with _phase("closed", fig, server, opts):
        timed = await phases.steady_closed(
            chargers, min(2.0, opts.duration_s / 4), opts.duration_s, opts.grace_s,
            lambda _: marks.append((CpuSnapshot.take(server.pid), tally.stops)))
    fig.closed_calls_per_s = timed.done / max(1e-9, timed.span_s)
    use = CpuUse.between(marks[0][0], marks[1][0])
    fig.server_cpu_pct, fig.loadgen_cpu_pct = use.server, use.loadgen
    fig.closed_ends_per_s = (marks[1][1] - marks[0][1]) / max(1e-9, timed.span_s)
    fig.rows_added, fig.rows_expected = await database.meter_rows() - rows0, tally.rows - expected0
    fig.failures["closed"] = dict(timed.failures)

    for charger in chargers:
        charger.abort()
    await asyncio.sleep(2.0)  # the server notices every connection gone
    overflows0 = listen_overflows()
    async with _phase("storm", fig, server, opts):
        timed, booted_s, replayed = await phases.storm(
            chargers, port, opts.storm_window, opts.offline_queue, 120 + n / 50)
    fig.storm_boot_s, fig.storm_replay_s, fig.replayed = booted_s, timed.span_s, replayed
    fig.listen_overflows = listen_overflows() - overflows0 if overflows0 >= 0 else None
    fig.failures["storm"] = dict(timed.failures)
    chargers = [c for c in chargers if c.ws is not None]
    async with _phase("storm-settle", fig, server, opts):
        fig.storm_settle_s = await _quiet(server, 120 + n / 25)

    async with _phase("burst", fig, server, opts):
        timed = await phases.stop_burst(chargers, opts.burst_s,
                                        opts.grace_s + 2 * len(chargers) / 100)
    fig.burst_offered_per_s = 2 * len(chargers) / opts.burst_s
    fig.burst_ends = timed.done
    fig.burst_ends_per_s = timed.done / max(1e-9, timed.span_s)
    stops = timed.by_kind.get("stop", [])
    fig.burst_p50_ms, fig.burst_p99_ms = _ms(stops, 0.5), _ms(stops, 0.99)
    fig.burst_max_ms = 1000 * stops[-1] if stops else None
    fig.failures["burst"] = dict(timed.failures)
    await asyncio.sleep(3.0)  # the last webhook deliveries and feed events


CENSUS = {
    "ended": "SELECT count(*) FROM sessions WHERE status = 'ended'",
    "active": "SELECT count(*) FROM sessions WHERE status = 'active'",
    "charged": "SELECT count(*) FROM session_charges",
    "package_usage": "SELECT count(*) FROM package_usage",
    "wallet_debits": "SELECT count(*) FROM wallet_entries WHERE session_id IS NOT NULL",
    "billing_pending": "SELECT count(*) FROM station_events WHERE kind = 'billing_pending'",
    "billing_unpriced": "SELECT count(*) FROM station_events WHERE kind = 'billing_unpriced'",
    "audit": "SELECT count(*) FROM audit_log",
    "alarms": "SELECT count(*) FROM alarms",
    "outbox_pending": "SELECT count(*) FROM webhook_outbox WHERE status = 'pending'",
    "outbox_delivered": "SELECT count(*) FROM webhook_outbox WHERE status = 'delivered'",
    "outbox_failed": "SELECT count(*) FROM webhook_outbox WHERE status = 'failed'",
}


async def census(url: str, tally: Tally) -> dict[str, int]:
    """Rule 3: what the database holds after the last phase."""
    engine = create_async_engine(url)
    try:
        async with engine.connect() as conn:
            found = {k: int((await conn.execute(text(q))).scalar_one())
                     for k, q in CENSUS.items()}
            codes = (await conn.execute(text(
                "SELECT code, count(*) FROM alarms GROUP BY code ORDER BY code"))).all()
    finally:
        await engine.dispose()
    return {**found, "stops_answered": tally.stops,
            **{f"alarm:{code}": int(n) for code, n in codes}}
