"""End to end, both versions, both databases, over real WebSockets with the simulator: the
local authorization list is derived from the id-token table, sent full then differentially,
split into the charger's message size, kept in step across a reconnect, and the cache is
cleared."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from sqlalchemy import insert, select

from csms.api.access import Role
from csms.api.tokens import new_token
from csms.app import Csms
from csms.domain.model import AuthorizationStatus
from csms.handlers.rpc import ConnectionLost
from csms.store import tables as t
from simulators.behaviour.offline import Backoff
from simulators.station import SimStation
from tests.conftest import eventually, ocpp_url, until
from tests.integration.test_load_support import make_site

VERSIONS = ["ocpp1.6", "ocpp2.0.1"]


@pytest.fixture
async def api(csms: Csms) -> AsyncIterator[httpx.AsyncClient]:
    """An operator's client on the running API."""
    secret, record = new_token(Role.OPERATOR, created_by="test", now=csms.stations.now())
    await csms.access.add_token(record)
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{csms.api_port}", timeout=30,
                                 headers={"Authorization": f"Bearer {secret}"}) as client:
        yield client


async def sync(api: httpx.AsyncClient, station_id: str, **body: Any) -> Any:
    answer = await api.post(f"/charge-points/{station_id}/local-list/sync", json=body)
    assert 200 == answer.status_code, answer.text
    return answer.json()


def held(sim: SimStation) -> dict[str, str]:
    return {e.id_tag: e.status for e in sim.local_list.entries.values()}


@pytest.mark.parametrize("version", VERSIONS)
async def test_a_full_list_then_exactly_what_changed(
    csms: Csms, api: httpx.AsyncClient, version: str
) -> None:
    """The first sync sends the whole list (version 1); after a token is blocked and one
    added, the next sends a differential update with just those two (version 2)."""
    for tag in ("LL-A", "LL-B", "LL-C"):
        await csms.store.put_token(tag, AuthorizationStatus.ACCEPTED)
    sim = SimStation("CP-LL1", version, ocpp_url(csms))
    async with sim.running():
        await sim.boot()
        first = await sync(api, "CP-LL1")
        await csms.store.put_token("LL-B", AuthorizationStatus.BLOCKED)
        await csms.store.put_token("LL-D", AuthorizationStatus.ACCEPTED)
        second = await sync(api, "CP-LL1")
        again = await sync(api, "CP-LL1")
        state = (await api.get("/charge-points/CP-LL1/local-list")).json()
    assert (("Accepted", 1, 1, 3), ("Accepted", 2, 1, 4), ("UpToDate", 2, 0, 4)) == tuple(
        (r["outcome"], r["version"], r["messages"], r["entries"])
        for r in (first, second, again))
    assert [("Full", 1, 3), ("Differential", 2, 2)] == sim.local_list.updates
    assert {"LL-A": "Accepted", "LL-B": "Blocked", "LL-C": "Accepted",
            "LL-D": "Accepted"} == held(sim)
    assert (2, 4, 2) == (state["version"], state["wanted_entries"], state["reported_version"])
    assert ["LL-A", "LL-B", "LL-C", "LL-D"] == [e["id_token"] for e in state["entries"]]


@pytest.mark.parametrize("version", VERSIONS)
async def test_a_list_longer_than_a_message_is_split(
    csms: Csms, api: httpx.AsyncClient, version: str
) -> None:
    """With the charger's items-per-message setting at 2, five tokens go as Full(2),
    Differential(2), Differential(1), each raising the version."""
    for n in range(5):
        await csms.store.put_token(f"SPLIT-{n}", AuthorizationStatus.ACCEPTED)
    sim = SimStation("CP-LL2", version, ocpp_url(csms))
    key = "SendLocalListMaxLength" if version == "ocpp1.6" else (
        "LocalAuthListCtrlr", "ItemsPerMessage")
    sim.settings.entries[key].value = "2"
    async with sim.running():
        await sim.boot()
        result = await sync(api, "CP-LL2")
    assert ("Accepted", 3, 3, 5) == (result["outcome"], result["version"],
                                     result["messages"], result["entries"])
    assert [("Full", 1, 2), ("Differential", 2, 2), ("Differential", 3, 1)] == \
        sim.local_list.updates
    assert 5 == len(held(sim))


@pytest.mark.parametrize("version", VERSIONS)
async def test_a_charger_behind_is_brought_up_to_date_on_reconnect(
    csms: Csms, api: httpx.AsyncClient, version: str
) -> None:
    """A token removed while the charger was away reaches it as a differential update when
    it reconnects and boots, without an operator asking."""
    for tag in ("RC-A", "RC-B"):
        await csms.store.put_token(tag, AuthorizationStatus.ACCEPTED)
    sim = SimStation("CP-LL3", version, ocpp_url(csms), reconnect=Backoff(0.05, 0.2))
    async with sim.running():
        await sim.boot()
        await sync(api, "CP-LL3")
        await sim.drop_connection()
        await csms.store.put_token("RC-C", AuthorizationStatus.ACCEPTED)
        await sim.wait_online()
        await sim.boot()
        await until(lambda: sim.local_list.version, lambda v: v == 2)
    assert [("Full", 1, 2), ("Differential", 2, 1)] == sim.local_list.updates
    assert {"RC-A", "RC-B", "RC-C"} == set(held(sim))


@pytest.mark.parametrize("version", VERSIONS)
async def test_a_charger_that_lost_its_list_gets_it_whole(
    csms: Csms, api: httpx.AsyncClient, version: str
) -> None:
    """A charger reporting version 0 after the CSMS sent version 1 gets a full update with
    a higher version; GetLocalListVersion through the API reports it."""
    await csms.store.put_token("LOST-A", AuthorizationStatus.ACCEPTED)
    sim = SimStation("CP-LL4", version, ocpp_url(csms))
    async with sim.running():
        await sim.boot()
        await sync(api, "CP-LL4")
        sim.local_list.entries.clear()
        sim.local_list.version = 0
        result = await sync(api, "CP-LL4")
        answer = await api.post("/charge-points/CP-LL4/commands/get-local-list-version",
                                json={})
    assert ("Accepted", 2) == (result["outcome"], result["version"])
    assert ("Full", 2, 1) == sim.local_list.updates[-1]
    assert (200, {"version": 2}) == (answer.status_code, answer.json())


@pytest.mark.parametrize("version", VERSIONS)
async def test_clear_cache_empties_the_chargers_cache(
    csms: Csms, api: httpx.AsyncClient, version: str
) -> None:
    """ClearCache is Accepted and the charger forgets the Authorize answers it kept."""
    await csms.store.put_token("CACHE-1", AuthorizationStatus.ACCEPTED)
    sim = SimStation("CP-LL5", version, ocpp_url(csms))
    async with sim.running():
        await sim.boot()
        await sim.authorize("CACHE-1")
        cached = dict(sim.local_list.cache)
        answer = await api.post("/charge-points/CP-LL5/commands/clear-cache", json={})
    assert {"CACHE-1": "Accepted"} == cached
    assert (200, "Accepted", {}) == (answer.status_code, answer.json()["status"],
                                     sim.local_list.cache)


async def test_sync_of_an_offline_charger_is_409(csms: Csms, api: httpx.AsyncClient) -> None:
    """A known charger that is not connected: 409, and nothing is recorded as sent."""
    sim = SimStation("CP-LL6", "ocpp1.6", ocpp_url(csms))
    async with sim.running():
        await sim.boot()
    await eventually(lambda: api.get("/charge-points/CP-LL6/live"),
                     lambda r: r.json()["connected"] is False)
    answer = await api.post("/charge-points/CP-LL6/local-list/sync", json={})
    state = (await api.get("/charge-points/CP-LL6/local-list")).json()
    assert (409, 0, []) == (answer.status_code, state["version"], state["entries"])


async def _community_with(csms: Csms, stations: list[str]) -> int:
    """A community holding ``stations``, with a resident holding HOME-1; AWAY-1 is a
    resident's of another community. The community's id."""
    site = await make_site(csms, stations, kva=20.0)
    async with csms.engine.begin() as conn:
        community = (await conn.execute(select(t.sites.c.community_id).where(
            t.sites.c.id == site))).scalar_one()
        district = (await conn.execute(select(t.communities.c.district_id).where(
            t.communities.c.id == community))).scalar_one()
        other = (await conn.execute(insert(t.communities).values(
            district_id=district, name="other").returning(t.communities.c.id))).scalar_one()
        residents = [(await conn.execute(insert(t.residents).values(
            community_id=place, name="r", created_at=csms.stations.now()
        ).returning(t.residents.c.id))).scalar_one() for place in (community, other)]
        for token, resident in (("HOME-1", residents[0]), ("AWAY-1", residents[1])):
            await conn.execute(insert(t.id_tokens).values(
                id_token=token, status="Accepted", resident_id=resident,
                created_at=csms.stations.now()))
    return int(community)


@pytest.mark.parametrize("version", VERSIONS)
async def test_a_communitys_chargers_get_its_residents_cards(
    csms: Csms, api: httpx.AsyncClient, version: str
) -> None:
    """The list holds the community's residents' cards and cards of no resident, not another
    community's; a community sync reaches the chargers that keep a list (all=true: every
    one) and reports each."""
    community = await _community_with(csms, ["CP-LC1", "CP-LC2"])
    await csms.store.put_token("STAFF-1", AuthorizationStatus.ACCEPTED)
    sims = [SimStation(s, version, ocpp_url(csms)) for s in ("CP-LC1", "CP-LC2")]
    async with sims[0].running(), sims[1].running():
        for sim in sims:
            await sim.boot()
        await sync(api, "CP-LC1")
        await csms.store.put_token("STAFF-2", AuthorizationStatus.ACCEPTED)
        kept = await api.post(f"/communities/{community}/local-lists/sync", json={})
        every = await api.post(f"/communities/{community}/local-lists/sync",
                               json={"all": True})
    assert ["CP-LC1"] == [r["station_id"] for r in kept.json()]
    assert ("Accepted", 2) == (kept.json()[0]["result"]["outcome"],
                               kept.json()[0]["result"]["version"])
    assert [("CP-LC1", "UpToDate"), ("CP-LC2", "Accepted")] == [
        (r["station_id"], r["result"]["outcome"]) for r in every.json()]
    assert {"HOME-1", "STAFF-1", "STAFF-2"} == set(held(sims[0])) == set(held(sims[1]))


@pytest.mark.parametrize("version", VERSIONS)
async def test_offline_the_charger_authorizes_from_its_list(
    csms: Csms, api: httpx.AsyncClient, version: str
) -> None:
    """Cut off from the CSMS, the charger decides by the list it was sent: a listed card is
    Accepted, a blocked one Blocked, an unknown one cannot be authorized."""
    await csms.store.put_token("OFF-OK", AuthorizationStatus.ACCEPTED)
    await csms.store.put_token("OFF-NO", AuthorizationStatus.BLOCKED)
    sim = SimStation("CP-LL7", version, ocpp_url(csms), reconnect=Backoff(30.0, 30.0))
    async with sim.running():
        await sim.boot()
        await sync(api, "CP-LL7")
        await sim.drop_connection()
        await until(lambda: sim.connected, lambda c: not c)
        decided = (await sim.authorize("off-ok"), await sim.authorize("OFF-NO"))
        with pytest.raises(ConnectionLost):
            await sim.authorize("OFF-UNKNOWN")
    assert ("Accepted", "Blocked") == decided
