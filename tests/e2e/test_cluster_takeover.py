"""Site ownership across three real nodes behind HAProxy (csms.services.load.cluster): the
sites of a node that is SIGKILLed, or cut off from PostgreSQL, are taken by the others under
a higher fencing token within a couple of owner leases, and the cut-off node stops
allocating (it holds nothing by its own clock once its lease has run out)."""

from __future__ import annotations

import asyncio
import signal
from collections.abc import Callable
from contextlib import AsyncExitStack
from pathlib import Path

import pytest
from sqlalchemy import insert, select
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine

from csms.store import tables as t
from csms.store.load.tables import load_site_owners as so
from csms.store.load.tables import site_load
from tests.conftest import eventually
from tests.e2e.cluster_rig import OWNER_LEASE_S, Partition, three_nodes
from tests.e2e.test_cluster_balancer import engine_of, readyz
from tests.integration.test_load_support import EVENING

pytestmark = pytest.mark.postgres
ON_POSTGRES = pytest.mark.parametrize("database_url", ["postgres"], indirect=True)
SITES = 3
TAKEOVER_S = 2 * OWNER_LEASE_S + 5.0  # 0.9 of a lease, and the nodes' start and poll slack

Owners = dict[int, tuple[str, int]]  # site -> (node, token)


async def enabled_sites(engine: AsyncEngine, count: int) -> list[int]:
    """``count`` sites with load management on (no chargers: ownership is per site)."""
    async with engine.begin() as conn:
        district = (await conn.execute(insert(t.districts).values(name="官渡区")
                    .returning(t.districts.c.id))).scalar_one()
        community = (await conn.execute(insert(t.communities).values(
            district_id=district, name="T").returning(t.communities.c.id))).scalar_one()
        sites = []
        for n in range(count):
            site = (await conn.execute(insert(t.sites).values(
                community_id=community, name=f"T-{n}").returning(t.sites.c.id))).scalar_one()
            await conn.execute(insert(site_load).values(
                site_id=site, transformer_kva=200.0, loading_factor=0.8, power_factor=1.0,
                margin_w=0.0, supply_phases=1, voltage_v=220.0, reading_max_age_s=600,
                updated_at=EVENING))
            sites.append(int(site))
    return sites


async def owners(engine: AsyncEngine) -> Owners:
    async with engine.connect() as conn:
        rows = (await conn.execute(select(so.c.site_id, so.c.node, so.c.token))).all()
    return {row.site_id: (row.node, int(row.token)) for row in rows}


def taken_from(before: Owners, victim: str) -> Callable[[Owners], bool]:
    """Whether every site of ``victim`` in ``before`` has another owner, a higher token."""
    def accept(now: Owners) -> bool:
        return all(now[site][0] != victim and now[site][1] > token
                   for site, (node, token) in before.items() if node == victim)
    return accept


@ON_POSTGRES
async def test_a_killed_owners_sites_are_taken_by_the_others(
    database_url: str, tmp_path: Path,
) -> None:
    async with engine_of(database_url) as engine, \
            three_nodes(database_url, tmp_path / "cluster") as cluster:
        sites = await enabled_sites(engine, SITES)
        before = await eventually(lambda: owners(engine),
                                  lambda o: set(o) == set(sites), timeout_s=TAKEOVER_S)
        victim = before[sites[0]][0]
        started = asyncio.get_running_loop().time()
        cluster.nodes[victim].signal(signal.SIGKILL)
        after = await eventually(lambda: owners(engine), taken_from(before, victim),
                                 timeout_s=TAKEOVER_S)
        took_s = asyncio.get_running_loop().time() - started
        assert {node for node, _ in after.values()} <= {"csms-1", "csms-2", "csms-3"} - {victim}
        print(f"taken over in {took_s:.1f} s (owner lease {OWNER_LEASE_S} s)")


@ON_POSTGRES
async def test_an_owner_cut_off_from_the_database_loses_its_sites(
    database_url: str, tmp_path: Path,
) -> None:
    """Every node reaches PostgreSQL through its own proxy; the owner's is cut (packets
    dropped): the owner cannot renew, the others take its sites, and its /readyz fails."""
    async with AsyncExitStack() as stack:
        paths = {}
        for name in ("csms-1", "csms-2", "csms-3"):
            partition = Partition("drop")
            port = await partition.start()
            stack.push_async_callback(partition.close)
            paths[name] = (partition, make_url(database_url).set(port=port)
                           .render_as_string(hide_password=False))
        engine = await stack.enter_async_context(engine_of(database_url))
        cluster = await stack.enter_async_context(three_nodes(
            database_url, tmp_path / "cluster", {n: url for n, (_, url) in paths.items()}))
        sites = await enabled_sites(engine, SITES)
        before = await eventually(lambda: owners(engine),
                                  lambda o: set(o) == set(sites), timeout_s=TAKEOVER_S)
        victim = before[sites[0]][0]
        paths[victim][0].cut()
        await eventually(lambda: owners(engine), taken_from(before, victim),
                         timeout_s=TAKEOVER_S)
        assert 503 == await eventually(lambda: readyz(cluster.plan.node(victim).api_port),
                                       lambda s: s == 503, timeout_s=30)
