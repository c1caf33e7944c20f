"""Throughput of one CSMS node and of two, in one run (issue 19: two nodes at least 1.7×).

``python -m bench.cluster`` (or ``make bench-cluster``):

1. One fresh PostgreSQL database on 127.0.0.1:5432 (dropped afterwards), the fleet of N
   charge points registered before the first start (bench.servers.preregister).
2. For k = 1, then k = 2: a cluster of k nodes (csms.cluster.run: command bus on
   PostgreSQL, node heartbeats, HAProxy in front) with node i pinned to CPU i - 1 by
   ``taskset``. PostgreSQL and this load generator are not pinned: they share both CPUs
   with the nodes, as they would on a two-core machine.
3. The same N charge points (bench.frames: OCPP 1.6, pre-serialised frames, one CALL
   outstanding each) connect straight to the nodes, split evenly (what HAProxy's leastconn
   does; ``--balancer`` goes through HAProxy, which then shares the CPUs too), boot, and run
   bench.load's closed loop: each sends its next call as soon as the last is answered. The
   figure is the calls answered in the window over its length.
4. Every answered MeterValues must be persisted: the ``meter_values`` rows added in the
   window are compared with 8 × the MeterValues answered.
5. It prints calls/s for 1 and 2 nodes, the ratio and the verdict against 1.7×, with each
   node's CPU use, the load generator's and the rest of the machine's (PostgreSQL, other
   processes): on a shared machine the figures are disturbed, and it says by how much.

Every phase is bounded (a window, a grace period, ``--timeout-s`` for the whole run) and the
processes are stopped by PID in ``finally`` blocks.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import shutil
import signal
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from bench.frames import MV, SAMPLES_PER_METER_VALUES, Station, Tally, station_ids
from bench.load import bounded_gather, connect_all
from bench.machine import (
    code_version,
    cpu_busy_seconds,
    cpu_seconds,
    free_port,
    machine_busy,
    raise_file_limit,
)
from bench.servers import PG_ADMIN_DSN, Database, csms_toml, preregister
from csms.cluster.plan import ClusterPlan, NodePlan
from csms.cluster.run import Cluster

TARGET_RATIO = 1.7


@dataclass
class Run:
    """The figures of one cluster size."""

    nodes: int
    connected: int = 0
    connect_s: float = 0.0
    window_s: float = 0.0
    calls: int = 0
    meter_values: int = 0  # answered in the window
    meter_values_total: int = 0  # answered from the row count before to the one after
    rows_added: int = 0
    node_cpu_pct: list[float] = field(default_factory=list)
    loadgen_cpu_pct: float = 0.0
    machine_cpu_pct: float = 0.0  # both CPUs together: 200 % is the whole machine
    postgres_cpu_pct: float = 0.0  # the backends serving this database
    failures: dict[str, int] = field(default_factory=dict)
    refused: dict[str, int] = field(default_factory=dict)
    error: str | None = None

    @property
    def calls_per_s(self) -> float:
        return self.calls / self.window_s if self.window_s else 0.0

    @property
    def calls_per_node_cpu_s(self) -> float:
        """Calls per second of CPU the nodes got: what a node does with a core it has alone,
        less disturbed by what the rest of the machine takes than calls/s."""
        used = sum(self.node_cpu_pct) / 100
        return self.calls_per_s / used if used else 0.0

    @property
    def persisted(self) -> bool:
        return self.rows_added == SAMPLES_PER_METER_VALUES * self.meter_values_total

    @property
    def others_cpu_pct(self) -> float:
        """What the rest of the machine took: HAProxy, other processes, other databases."""
        return max(0.0, self.machine_cpu_pct - sum(self.node_cpu_pct) - self.loadgen_cpu_pct
                   - self.postgres_cpu_pct)


def cluster_plan(k: int, db_url: str, run_dir: Path) -> ClusterPlan:
    nodes = tuple(NodePlan(f"bench-{i}", free_port(), free_port(), cpu=i - 1)
                  for i in range(1, k + 1))
    base = {"server": {"unknown_charge_points": "accept"}, "database": {"url": db_url},
            "logging": {"level": "warning", "format": "json"}, "reports": {"enabled": False}}
    return ClusterPlan(nodes, run_dir, ocpp_port=free_port(), api_port=free_port(),
                       stats_port=free_port(), base=base)


async def backend_cpu(database: str) -> dict[int, float]:
    """CPU seconds of each PostgreSQL backend connected to ``database`` (same machine)."""
    import asyncpg

    conn = await asyncpg.connect(PG_ADMIN_DSN)
    try:
        pids = [row[0] for row in await conn.fetch(
            "SELECT pid FROM pg_stat_activity WHERE datname = $1", database)]
    finally:
        await conn.close()
    found: dict[int, float] = {}
    for pid in pids:
        with contextlib.suppress(OSError):
            found[pid] = cpu_seconds(pid)
    return found


async def closed_loop(stations: list[Station], tally: Tally, warm_s: float, window_s: float,
                      grace_s: float, pids: list[int], run: Run, database: str) -> None:
    """bench.load's closed loop, with the CPU of every node, of this process, of the
    database's PostgreSQL backends and of the machine read around the window."""
    running = [True]

    async def drive(station: Station) -> None:
        while running[0]:  # bounded: cleared after the window, then a deadline
            await station.next_in_cycle()

    tasks = [asyncio.create_task(drive(s)) for s in stations]
    await asyncio.sleep(warm_s)
    pg0 = await backend_cpu(database)
    c0, m0, t0 = tally.total(), tally.answered[MV], time.monotonic()
    n0, own0, busy0 = [cpu_seconds(p) for p in pids], cpu_seconds(os.getpid()), cpu_busy_seconds()
    await asyncio.sleep(window_s)
    c1, m1, t1 = tally.total(), tally.answered[MV], time.monotonic()
    n1, own1, busy1 = [cpu_seconds(p) for p in pids], cpu_seconds(os.getpid()), cpu_busy_seconds()
    pg1 = await backend_cpu(database)
    running[0] = False
    await bounded_gather(tasks, grace_s)
    wall = t1 - t0
    run.postgres_cpu_pct = 100 * sum(pg1[p] - pg0[p] for p in pg1.keys() & pg0.keys()) / wall
    run.window_s, run.calls, run.meter_values = wall, c1 - c0, m1 - m0
    run.node_cpu_pct = [100 * (b - a) / wall for a, b in zip(n0, n1, strict=True)]
    run.loadgen_cpu_pct = 100 * (own1 - own0) / wall
    run.machine_cpu_pct = 100 * sum(busy1[c] - busy0.get(c, 0.0) for c in busy1) / wall


async def run_nodes(k: int, opts: argparse.Namespace, database: Database, ids: list[str],
                    work: Path) -> Run:
    """Start k pinned nodes, measure them, stop them."""
    run = Run(k)
    cluster = Cluster(cluster_plan(k, database.url, work / f"nodes-{k}"))
    tally = Tally()
    stations: list[Station] = []
    try:
        await cluster.start(timeout_s=120)
        ports = ([cluster.plan.ocpp_port] if opts.balancer
                 else [node.ocpp_port for node in cluster.plan.nodes])
        started = time.perf_counter()
        for i, port in enumerate(ports):  # an even split over the nodes
            part, failures = await connect_all(port, ids[i::len(ports)], tally, opts.window,
                                               deadline_s=60 + len(ids) / 50)
            stations += part
            run.failures.update(failures)
        run.connect_s, run.connected = time.perf_counter() - started, len(stations)
        if not stations:
            raise RuntimeError(f"no charge point connected: {run.failures}")
        rows0, mv0 = await database.meter_rows(), tally.answered[MV]
        pids = [cluster.nodes[node.name].pid for node in cluster.plan.nodes]
        await closed_loop(stations, tally, opts.warm_s, opts.duration_s, opts.grace_s, pids,
                          run, database.pg_name)
        run.rows_added = await database.meter_rows() - rows0
        run.meter_values_total = tally.answered[MV] - mv0
    except Exception as exc:  # noqa: BLE001 - reported in the table; the other size still runs
        run.error = f"{type(exc).__name__}: {exc}"
    finally:
        for station in stations:
            station.ws.transport.abort()
        await cluster.stop()
        run.refused = dict(tally.refused)
    return run


async def measure(opts: argparse.Namespace) -> list[Run]:
    work = Path(tempfile.mkdtemp(prefix="csms-bench-cluster-"))
    database = Database("postgres", work)
    ids = station_ids(opts.stations)
    runs: list[Run] = []
    try:
        await database.create()
        config = work / "register.toml"
        config.write_text(csms_toml(free_port(), database.url))
        await preregister(config, ids)
        for k in (1, 2):
            print(f"running {k} node{'s' if k > 1 else ''} with N={len(ids):,} ...",
                  flush=True)
            runs.append(await run_nodes(k, opts, database, ids, work))
    finally:
        await database.drop()
        if not opts.keep:
            shutil.rmtree(work, ignore_errors=True)
        else:
            print(f"kept {work}")
    return runs


def report(runs: list[Run], opts: argparse.Namespace) -> list[str]:
    lines = [f"{'nodes':>5} {'connected':>9} {'calls/s':>9} {'MV/s':>8} {'per node-CPU-s':>14} "
             f"{'node CPU %':>14} "
             f"{'loadgen %':>9} {'postgres %':>10} {'rest %':>7} {'persisted':>10}"]
    for r in runs:
        if r.error:
            lines.append(f"{r.nodes:>5} FAILED: {r.error}")
            continue
        cpus = "/".join(f"{c:.0f}" for c in r.node_cpu_pct)
        lines.append(f"{r.nodes:>5} {r.connected:>9,} {r.calls_per_s:>9,.0f} "
                     f"{r.meter_values / r.window_s:>8,.0f} {r.calls_per_node_cpu_s:>14,.0f} "
                     f"{cpus:>14} "
                     f"{r.loadgen_cpu_pct:>9.0f} {r.postgres_cpu_pct:>10.0f} "
                     f"{r.others_cpu_pct:>7.0f} "
                     f"{'yes' if r.persisted else 'MISMATCH':>10}")
        lines.append(f"      meter_values rows added {r.rows_added:,}; MeterValues answered "
                     f"meanwhile {r.meter_values_total:,} (x {SAMPLES_PER_METER_VALUES})")
        if r.failures or r.refused:
            lines.append(f"      connect failures {r.failures}; CALLERRORs {r.refused}")
    one, two = [*runs, Run(0), Run(0)][:2]
    if one.error or two.error or not one.calls_per_s:
        lines.append("ratio: — (a run failed)")
        return lines
    ratio = two.calls_per_s / one.calls_per_s
    verdict = "MET" if ratio >= TARGET_RATIO else "MISSED"
    lines.append(f"2 nodes / 1 node: {ratio:.2f}×  (target >= {TARGET_RATIO}×: {verdict})")
    if max(one.others_cpu_pct, two.others_cpu_pct) >= 20:
        lines.append(f"WARNING: other processes took {one.others_cpu_pct:.0f} % and "
                     f"{two.others_cpu_pct:.0f} % of the machine during the two windows: the "
                     "nodes did not have their cores, the ratio is disturbed; run again on an "
                     "idle machine")
    lines.append("CPU % of one core; the machine has 200 %. 'postgres %': the backends of the "
                 "benchmark's database; 'rest %': HAProxy and every other process (a busy "
                 "machine's other work lands here and takes the nodes' cores)")
    return lines


def _parse(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.cluster", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--stations", type=int, default=400, help="charge points (400)")
    parser.add_argument("--duration-s", type=float, default=15.0, help="the window (15 s)")
    parser.add_argument("--warm-s", type=float, default=3.0)
    parser.add_argument("--grace-s", type=float, default=15.0)
    parser.add_argument("--window", type=int, default=100, help="handshakes in flight")
    parser.add_argument("--balancer", action="store_true",
                        help="connect through HAProxy instead of straight to the nodes")
    parser.add_argument("--timeout-s", type=float, default=900.0)
    parser.add_argument("--keep", action="store_true", help="keep the logs and configs")
    opts = parser.parse_args(argv)
    if opts.stations < 2 or opts.duration_s <= 0:
        parser.error("--stations must be at least 2 and --duration-s positive")
    return opts


async def _main(opts: argparse.Namespace) -> list[Run]:
    task = asyncio.current_task()
    assert task is not None
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, task.cancel)
    busy = await machine_busy()
    print("machine before the run: " + ", ".join(f"CPU {c} {p:.0f} %" for c, p in busy.items()),
          flush=True)
    async with asyncio.timeout(opts.timeout_s):
        return await measure(opts)


def main(argv: Sequence[str] | None = None) -> int:
    opts = _parse(argv)
    raise_file_limit()
    print(f"csms code: {code_version()}; nodes pinned to CPU 0 and 1 (taskset); PostgreSQL, "
          "HAProxy and this load generator unpinned; OCPP 1.6 closed loop "
          f"(bench.load's mix), N={opts.stations:,}, window {opts.duration_s:g} s, "
          + ("through HAProxy" if opts.balancer else "straight to the nodes"), flush=True)
    runs = asyncio.run(_main(opts))
    print()
    for line in report(runs, opts):
        print(line)
    return 1 if any(r.error for r in runs) else 0


if __name__ == "__main__":
    sys.exit(main())
