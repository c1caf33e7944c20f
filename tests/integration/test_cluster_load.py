"""Load management and the live feed across two nodes on one PostgreSQL database: one node
owns a site and allocates it, chargers on either node; the other takes over with the
owner's memory; a node past its lease is fenced; notices reach every node's feed."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AsyncExitStack
from datetime import timedelta

import httpx
import pytest
from sqlalchemy import insert, select

from csms.api.access import Role
from csms.api.tokens import new_token
from csms.app import Csms, running
from csms.config import Settings, load_settings
from csms.services.load import memory as load_memory
from csms.services.load.cluster import HELD_SHARE, SiteOwnership
from csms.services.load.site import Refusal, SiteState
from csms.services.sharing.feed import Notice, Subscriber
from csms.store import tables as t
from csms.store.load.owners import SiteOwners
from csms.store.load.tables import load_site_owners
from simulators.station import SimStation
from tests.conftest import ManualClock, eventually, make_settings, ocpp_url, until
from tests.integration.test_load_service import charging, limit_a
from tests.integration.test_load_support import EVENING, make_site

pytestmark = pytest.mark.postgres
ON_POSTGRES = pytest.mark.parametrize("database_url", ["postgres"], indirect=True)
VOLTAGE = 220.0


def node_settings(database_url: str, node: str) -> Settings:
    base = make_settings(database_url, call_timeout_s=3.0).model_dump(mode="json")
    return load_settings(None, **{
        **base,
        "cluster": {"command_bus": "postgres", "claim_timeout_s": 1.0, "node_name": node},
        "load": {**base["load"], "reallocate_interval_s": 100.0, "min_run_s": 0.0,
                 "profile_timeout_s": 3.0, "owner_lease_s": 2.0}})


@pytest.fixture
async def pair(database_url: str) -> AsyncIterator[tuple[Csms, Csms]]:
    """Node A and node B, both running."""
    async with running(node_settings(database_url, "node-a")) as a, \
            running(node_settings(database_url, "node-b")) as b:
        yield a, b


async def owner_of(app: Csms, site_id: int) -> tuple[str, int] | None:
    async with app.engine.connect() as conn:
        row = (await conn.execute(select(load_site_owners.c.node, load_site_owners.c.token)
                                  .where(load_site_owners.c.site_id == site_id))).first()
    return None if row is None else (row.node, int(row.token))


@ON_POSTGRES
async def test_one_node_allocates_a_site_whose_chargers_are_on_both(database_url: str) -> None:
    """16 kW for three 7 kW chargers, one on node A (which owns the site) and two on node B:
    each gets 24.2 A from A (the sessions and draws come from the shared database, the
    profiles cross the command bus); both nodes answer the same allocations, naming A. When
    A stops, B takes the site under a higher token and, after a stop on it, gives the
    remaining charger its 32 A."""
    async with AsyncExitStack() as nodes, AsyncExitStack() as chargers:
        a_stack = await nodes.enter_async_context(AsyncExitStack())
        a = await a_stack.enter_async_context(running(node_settings(database_url, "node-a")))
        site = await make_site(a, ["CL-1", "CL-2", "CL-3"], kva=20.0)
        first = await eventually(lambda: owner_of(a, site), lambda o: o is not None,
                                 timeout_s=10)
        assert first is not None
        assert first[0] == "node-a"
        b = await nodes.enter_async_context(running(node_settings(database_url, "node-b")))
        on_a = await charging(a, a_stack, ["CL-3"])
        on_b = await charging(b, chargers, ["CL-1", "CL-2"])
        sims = [*on_b, *on_a]
        shared = await eventually(limits_of(sims), lambda v: all(
            abs(x - 24.2) < 0.01 for x in v), timeout_s=20)
        assert sum(shared) * VOLTAGE <= 16_000
        secret, record = new_token(Role.ADMIN, created_by="test", now=a.stations.now())
        await a.access.add_token(record)
        answers, metrics = [], []
        for app in (a, b):
            async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{app.api_port}",
                                         headers={"Authorization": f"Bearer {secret}"}) as h:
                answers.append((await h.get(f"/sites/{site}/load/allocations")).json())
                metrics.append((await h.get("/metrics")).text)
        assert "csms_load_sites_owned 1.0" in metrics[0]
        assert "csms_load_sites_owned 0.0" in metrics[1]
        assert answers[0]["node"] == answers[1]["node"] == "node-a"
        assert b.load is not None  # B's safety rules see the limits A sent
        load_b = b.load
        assert 24.2 == await until(lambda: load_b.sent_limit(site, "CL-1", 1),
                                   lambda v: v is not None)
        assert ({(c["station_id"], c["limit_a"]) for c in answers[0]["connectors"]}
                == {(c["station_id"], c["limit_a"]) for c in answers[1]["connectors"]}
                == {("CL-1", 24.2), ("CL-2", 24.2), ("CL-3", 24.2)})

        await a_stack.aclose()  # node A stops (and CL-3 with it; its session stays open)
        await eventually(lambda: owner_of(b, site),
                         lambda o: o is not None and o[0] == "node-b" and o[1] > first[1],
                         timeout_s=10)
        await on_b[0].stop_transaction(1)
        await eventually(limits_of(on_b[1:]), lambda v: v == [32.0], timeout_s=20)


def limits_of(sims: list[SimStation]) -> Callable[[], Awaitable[list[float]]]:
    async def probe() -> list[float]:
        return [limit_a(s) for s in sims]
    return probe


@ON_POSTGRES
async def test_a_node_past_its_lease_is_fenced_and_its_site_taken_with_its_memory(
    database_url: str,
) -> None:
    """Node X owns a site and remembers a refusal; it stops renewing (it hangs). Within its
    lease node Y takes nothing; after it, Y takes the site under a higher token and finds
    the refusal. X, by its own clock, no longer holds the site; its write with the old
    token changes nothing, and its next look gives the site up."""
    settings = make_settings(database_url).model_copy(update={"load": load_settings(
        None, load={"enabled": False}).load})
    async with running(settings) as app:
        async with app.engine.begin() as conn:
            district = (await conn.execute(insert(t.districts).values(name="盘龙区")
                        .returning(t.districts.c.id))).scalar_one()
            community = (await conn.execute(insert(t.communities).values(
                district_id=district, name="F").returning(t.communities.c.id))).scalar_one()
            site = (await conn.execute(insert(t.sites).values(
                community_id=community, name="F-1").returning(t.sites.c.id))).scalar_one()
        owners = SiteOwners(app.engine, app.store.writer)
        clock_x, clock_y = ManualClock(EVENING), ManualClock(EVENING)
        x = SiteOwnership(owners, "node-x", clock_x, lease_s=30.0)
        y = SiteOwnership(owners, "node-y", clock_y, lease_s=30.0)

        assert [site] == [o.site_id for o in await x.look([site])]
        token = x.token(site)
        assert token is not None
        memory = {"refused": {"CP-R\x1f1": {"at": EVENING.isoformat(), "tx": None}}}
        assert await owners.remember(site, token, memory, EVENING)
        held_s = 30.0 * HELD_SHARE  # how long a taken row is valid
        clock_y.at = EVENING + timedelta(seconds=held_s - 1)
        assert [] == await y.look([site])  # X's lease still runs
        clock_y.at = EVENING + timedelta(seconds=held_s + 1)
        taken = await y.look([site])
        assert [(site, "node-y", token + 1)] == [(o.site_id, o.node, o.token) for o in taken]
        remembered = await owners.memory(site)
        assert remembered is not None
        state = SiteState()
        load_memory.restore(state, remembered)
        assert {("CP-R", 1): Refusal(EVENING, None)} == state.refused

        clock_x.at = EVENING + timedelta(seconds=held_s + 1)  # X wakes up
        assert x.token(site) is None  # its lease ended by its own clock
        assert not await owners.remember(site, token, {}, clock_x.at)  # fenced
        assert [] == await x.look([site])
        assert site not in x.held
        assert (await owners.memory(site)) == remembered


@ON_POSTGRES
async def test_a_notice_on_one_node_reaches_every_nodes_feed_once(
    pair: tuple[Csms, Csms],
) -> None:
    """A status change of a charger on node A is on node B's live feed too, once, and the
    notices of one charger arrive in order."""
    a, b = pair
    assert a.sharing is not None
    assert b.sharing is not None
    readers: list[Subscriber] = [a.sharing.hub.subscribe(lambda d, c: True),
                                 b.sharing.hub.subscribe(lambda d, c: True)]
    async with AsyncExitStack() as stack:
        sim = SimStation("CL-FEED", "ocpp1.6", ocpp_url(a))
        await stack.enter_async_context(sim.running())
        assert "Accepted" == await sim.boot()
        for status in ("Available", "Preparing", "Charging", "Finishing"):
            await sim.send_status(1, status)

    async def statuses(reader: Subscriber) -> list[str]:
        found = []
        while not reader.queue.empty():
            item = reader.queue.get_nowait()
            assert isinstance(item, tuple)
            notice = item[1]
            assert isinstance(notice, Notice)
            if notice.station_id == "CL-FEED" and notice.kind == "connector_status":
                found.append(notice.data["status"])
        return found

    seen: list[list[str]] = [[], []]

    async def gathered() -> list[list[str]]:
        for n, reader in enumerate(readers):
            seen[n].extend(await statuses(reader))
        return seen

    wanted = ["Available", "Preparing", "Charging", "Finishing"]
    assert [wanted, wanted] == await eventually(  # each once, in order
        gathered, lambda s: all(len(x) >= 4 for x in s), timeout_s=10)
