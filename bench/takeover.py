"""How long a dead node's sites go without an owner (issue 19: within one lease period).

``python -m bench.takeover`` (or ``make bench-takeover``):

1. One fresh PostgreSQL database on 127.0.0.1:5432 (dropped afterwards) with ``--sites``
   sites under load management, and three CSMS nodes on it behind HAProxy (csms.cluster.run)
   with ``[load] owner_lease_s`` = ``--lease-s``.
2. Each of ``--rounds`` rounds waits until every site has a live owner, SIGKILLs the node
   that owns the most sites (no release: its leases must run out), and polls the owner table
   until every site it held has another node's owner row under a higher fencing token. The
   figure is the time from the kill to that poll, over the lease. The killed node is then
   started again for the next round.
3. It prints every round's takeover, the worst over the lease, and the verdict against 1.0.

Every wait is bounded (``--timeout-s`` per wait) and the processes are stopped by PID in a
``finally`` block.
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import signal
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncEngine

from bench.machine import code_version, free_port, machine_busy
from bench.servers import Database
from csms.cluster.plan import ClusterPlan, NodePlan
from csms.cluster.run import Cluster
from csms.config import DatabaseSettings
from csms.store import tables as t
from csms.store.engine import create_engine
from csms.store.load.tables import load_site_owners as so
from csms.store.load.tables import site_load

TARGET_LEASES = 1.0
POLL_S = 0.02
Owners = dict[int, tuple[str, int, datetime]]  # site -> (node, token, lease end)


async def add_sites(engine: AsyncEngine, count: int) -> list[int]:
    """``count`` sites with load management on (ownership needs no chargers)."""
    async with engine.begin() as conn:
        district = (await conn.execute(insert(t.districts).values(name="官渡区")
                    .returning(t.districts.c.id))).scalar_one()
        community = (await conn.execute(insert(t.communities).values(
            district_id=district, name="bench").returning(t.communities.c.id))).scalar_one()
        sites = []
        for n in range(count):
            site = (await conn.execute(insert(t.sites).values(
                community_id=community, name=f"bench-{n}").returning(t.sites.c.id))
                    ).scalar_one()
            await conn.execute(insert(site_load).values(
                site_id=site, transformer_kva=200.0, loading_factor=0.8, power_factor=1.0,
                margin_w=0.0, supply_phases=1, voltage_v=220.0, reading_max_age_s=600,
                updated_at=datetime.now(UTC)))
            sites.append(int(site))
    return sites


async def owners(engine: AsyncEngine) -> Owners:
    async with engine.connect() as conn:
        rows = (await conn.execute(select(so.c.site_id, so.c.node, so.c.token,
                                          so.c.expires_at))).all()
    return {r.site_id: (r.node, int(r.token), r.expires_at) for r in rows}


async def poll(engine: AsyncEngine, done: Callable[[Owners], bool], timeout_s: float,
               what: str) -> Owners:
    """The owner table once ``done(owners)`` holds; TimeoutError naming ``what``."""
    deadline = time.monotonic() + timeout_s
    while True:
        found = await owners(engine)
        if done(found):
            return found
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what} not within {timeout_s} s")
        await asyncio.sleep(POLL_S)


def taken_from(victim: str, held: dict[int, int]) -> Callable[[Owners], bool]:
    """Whether every site in ``held`` (site -> token) has another owner, a higher token."""
    def done(now: Owners) -> bool:
        return all(now[s][0] != victim and now[s][1] > token for s, token in held.items())
    return done


def plan(db_url: str, run_dir: Path, lease_s: float) -> ClusterPlan:
    nodes = tuple(NodePlan(f"bench-{i}", free_port(), free_port()) for i in (1, 2, 3))
    base = {"server": {"unknown_charge_points": "accept"}, "database": {"url": db_url},
            "logging": {"level": "warning", "format": "json"}, "reports": {"enabled": False},
            "load": {"owner_lease_s": lease_s}}
    return ClusterPlan(nodes, run_dir, ocpp_port=free_port(), api_port=free_port(),
                       stats_port=free_port(), base=base)


async def rounds(opts: argparse.Namespace, cluster: Cluster, engine: AsyncEngine,
                 sites: list[int]) -> list[float]:
    """Rule 2: the takeover time of each round, in seconds."""
    names = {n.name for n in cluster.plan.nodes}
    took: list[float] = []
    for number in range(1, opts.rounds + 1):
        before = await poll(engine, lambda o: set(o) == set(sites) and all(
            node in names and until.replace(tzinfo=UTC) > datetime.now(UTC)
            for node, _, until in o.values()), opts.timeout_s, "every site owned")
        held: dict[str, int] = {}
        for node, _, _ in before.values():
            held[node] = held.get(node, 0) + 1
        victim = max(held, key=lambda n: held[n])
        mine = {site: token for site, (node, token, _) in before.items() if node == victim}
        started = time.monotonic()
        cluster.nodes[victim].signal(signal.SIGKILL)
        await poll(engine, taken_from(victim, mine), opts.timeout_s,
                   f"round {number}: the sites of {victim} taken")
        took.append(time.monotonic() - started)
        print(f"round {number}: killed {victim} (owner of {len(mine)} of {len(sites)} sites),"
              f" taken over in {took[-1]:.2f} s = {took[-1] / opts.lease_s:.2f} leases",
              flush=True)
        await cluster.nodes[victim].stop(grace_s=1.0)  # reaps the killed process
        cluster.start_node(victim)
        await cluster.wait_ready(victim, timeout_s=opts.timeout_s)
    return took


async def measure(opts: argparse.Namespace) -> list[float]:
    work = Path(tempfile.mkdtemp(prefix="csms-bench-takeover-"))
    database = Database("postgres", work)
    cluster: Cluster | None = None
    try:
        await database.create()
        cluster = Cluster(plan(database.url, work / "nodes", opts.lease_s))
        await cluster.start(timeout_s=120)
        engine = create_engine(DatabaseSettings(url=database.url))
        try:
            sites = await add_sites(engine, opts.sites)
            return await rounds(opts, cluster, engine, sites)
        finally:
            await engine.dispose()
    finally:
        if cluster is not None:
            await cluster.stop(grace_s=5.0)
        await database.drop()
        shutil.rmtree(work, ignore_errors=True)


def report(took: list[float], opts: argparse.Namespace) -> list[str]:
    worst = max(took) / opts.lease_s
    verdict = "PASS" if worst <= TARGET_LEASES else "FAIL"
    return [f"takeover over {len(took)} kills, owner lease {opts.lease_s} s, {opts.sites} sites:"
            f" median {statistics.median(took):.2f} s, worst {max(took):.2f} s"
            f" = {worst:.2f} leases",
            f"target: within {TARGET_LEASES:.1f} lease: {verdict}"]


def _parse(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.takeover", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--lease-s", type=float, default=5.0, help="owner lease (default 5)")
    parser.add_argument("--sites", type=int, default=6, help="sites (default 6)")
    parser.add_argument("--rounds", type=int, default=5, help="kills (default 5)")
    parser.add_argument("--timeout-s", type=float, default=60.0, help="bound of every wait")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    opts = _parse(argv)
    print(code_version())
    busy = asyncio.run(machine_busy())
    print("CPU busy before the run: " + ", ".join(f"cpu{c} {p:.0f} %" for c, p in
                                                  sorted(busy.items())))
    took = asyncio.run(measure(opts))
    for line in report(took, opts):
        print(line)
    return 0


if __name__ == "__main__":
    sys.exit(main())
