"""Sessions and meter values over the API: sessions made by simulated chargers of both OCPP
versions, listed, filtered, paged, read one by one, and kept within a token's scope."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import insert

from csms.api.access import Role
from csms.app import Csms
from csms.domain.model import AuthorizationStatus, RegistrationStatus
from csms.store import tables as t
from simulators.station import SimStation
from tests.api.conftest import TokenFactory, bearer
from tests.conftest import ocpp_url

VERSIONS = ["ocpp1.6", "ocpp2.0.1"]
T0 = datetime(2026, 11, 27, 19, 0, tzinfo=UTC)


@dataclass(frozen=True)
class Place:
    district_id: int
    community_id: int
    site_id: int


async def new_place(csms: Csms, name: str) -> Place:
    """A district with one community with one site, written straight to the tables."""
    async with csms.engine.begin() as conn:
        district = (await conn.execute(insert(t.districts).values(name=f"{name}区")
                                       .returning(t.districts.c.id))).scalar_one()
        community = (await conn.execute(insert(t.communities).values(
            district_id=district, name=f"{name}小区").returning(t.communities.c.id))).scalar_one()
        site = (await conn.execute(insert(t.sites).values(
            community_id=community, name=f"{name}车棚").returning(t.sites.c.id))).scalar_one()
    return Place(district, community, site)


async def place_station(csms: Csms, station_id: str, place: Place) -> None:
    """Register the charge point (if new) and put it on ``place``'s site."""
    await csms.store.add_station(station_id, RegistrationStatus.ACCEPTED)
    assert await csms.store.set_station(station_id, site_id=place.site_id)


async def charge(csms: Csms, station_id: str, version: str, id_token: str, at: datetime,
                 wh: tuple[float, float, float] = (10_000, 11_000, 12_000)) -> str:
    """One ended session: start at ``wh[0]``, one meter value at ``wh[1]``, stop at
    ``wh[2]``; returns the transaction id."""
    sim = SimStation(station_id, version, ocpp_url(csms), meter_start_wh=wh[0])
    async with sim.running():
        assert "Accepted" == await sim.boot()
        tx = await sim.start_transaction(1, id_token, timestamp=at)
        await sim.send_meter_values(1, energy_wh=wh[1], power_w=7000,
                                    timestamp=at + timedelta(minutes=10))
        await sim.stop_transaction(1, "Local", energy_wh=wh[2],
                                   timestamp=at + timedelta(minutes=20))
    return tx


async def get(http: httpx.AsyncClient, secret: str, path: str, **params: Any) -> Any:
    answer = await http.get(path, params=params, headers=bearer(secret))
    assert 200 == answer.status_code, answer.text
    return answer.json()


async def two_communities(csms: Csms, version: str) -> tuple[Place, Place]:
    """Community A with CP-A (sessions at T0 and T0 + 1 day, token RES-A), community B
    with CP-B (one session at T0, token RES-B)."""
    a, b = await new_place(csms, "甲"), await new_place(csms, "乙")
    await place_station(csms, "CP-A", a)
    await place_station(csms, "CP-B", b)
    for token in ("RES-A", "RES-B"):
        await csms.store.put_token(token, AuthorizationStatus.ACCEPTED)
    await charge(csms, "CP-A", version, "RES-A", T0)
    await charge(csms, "CP-A", version, "RES-A", T0 + timedelta(days=1),
                 wh=(12_000, 13_000, 15_500))
    await charge(csms, "CP-B", version, "RES-B", T0)
    return a, b


@pytest.mark.parametrize("version", VERSIONS)
async def test_sessions_are_listed_filtered_and_paged(
    csms: Csms, http: httpx.AsyncClient, token: TokenFactory, version: str
) -> None:
    """Every filter narrows the list; pages slice it newest first; energy is the delta."""
    a, _ = await two_communities(csms, version)
    admin = await token(Role.ADMIN)
    listed = await get(http, admin, "/sessions")
    assert (3, 50, 0) == (listed["total"], listed["limit"], listed["offset"])
    assert {"ended"} == {s["status"] for s in listed["items"]}
    assert [3500.0, 2000.0] == [s["energy_wh"] for s in listed["items"]
                                if s["station_id"] == "CP-A"]
    counts: dict[str, dict[str, Any]] = {
        "station": {"station_id": "CP-A"}, "site": {"site_id": a.site_id},
        "community": {"community_id": a.community_id}, "token": {"id_token": "RES-B"},
        "ended": {"status": "ended"}, "active": {"status": "active"},
        "from": {"started_from": (T0 + timedelta(hours=12)).isoformat()},
        "to": {"started_to": "2026-11-28T04:00:00+08:00"},  # T0 + 1 h, in China time
    }
    totals = {name: (await get(http, admin, "/sessions", **query))["total"]
              for name, query in counts.items()}
    assert {"station": 2, "site": 2, "community": 2, "token": 1, "ended": 3, "active": 0,
            "from": 1, "to": 2} == totals
    second = await get(http, admin, "/sessions", limit=1, offset=1)
    assert (3, 1, 1) == (second["total"], second["limit"], len(second["items"]))
    assert listed["items"][1]["id"] == second["items"][0]["id"]
    assert T0 + timedelta(days=1) == datetime.fromisoformat(listed["items"][0]["started_at"])


async def test_page_size_is_capped_and_times_must_be_aware(
    csms: Csms, http: httpx.AsyncClient, token: TokenFactory
) -> None:
    """A limit over api.page_size_max is cut to it; a time without offset is refused."""
    admin = bearer(await token(Role.ADMIN))
    capped = await http.get("/sessions", params={"limit": 100_000}, headers=admin)
    assert csms.settings.api.page_size_max == capped.json()["limit"]
    naive = await http.get("/sessions", params={"started_from": "2026-11-27T19:00:00"},
                           headers=admin)
    assert 422 == naive.status_code
    out_of_range: list[tuple[str, dict[str, Any]]] = [
        ("/sessions", {"limit": 0}), ("/sessions", {"site_id": 2**40}),
        ("/sessions", {"started_to": "9999-12-31T23:00:00-05:00"}),
        ("/sessions/99999999999999999999", {}),
    ]
    for path, params in out_of_range:
        assert 422 == (await http.get(path, params=params, headers=admin)).status_code, params


@pytest.mark.parametrize("version", VERSIONS)
async def test_one_session_and_its_meter_values(
    csms: Csms, http: httpx.AsyncClient, token: TokenFactory, version: str
) -> None:
    """A session by id, its meter values in time order, filtered by measurand, paged."""
    await csms.store.put_token("RES-1", AuthorizationStatus.ACCEPTED)
    tx = await charge(csms, "CP-MV", version, "RES-1", T0)
    admin = await token(Role.OPERATOR)
    [listed] = (await get(http, admin, "/sessions", station_id="CP-MV"))["items"]
    one = await get(http, admin, f"/sessions/{listed['id']}")
    assert (tx, "RES-1", 10_000.0, 12_000.0, 2000.0) == (
        one["transaction_id"], one["id_token"], one["meter_start_wh"], one["meter_stop_wh"],
        one["energy_wh"])
    values = await get(http, admin, f"/sessions/{one['id']}/meter-values", limit=500)
    assert values["total"] >= 8
    times = [v["at"] for v in values["items"]]
    assert sorted(times) == times
    register = await get(http, admin, f"/sessions/{one['id']}/meter-values",
                         measurand="Energy.Active.Import.Register")
    readings = [v["value"] for v in register["items"] if v["phase"] is None]
    assert [11_000.0, 12_000.0] == readings[-2:]  # 2.0.1 also samples the start
    paged = await get(http, admin, f"/sessions/{one['id']}/meter-values", limit=2, offset=1)
    assert values["items"][1:3] == paged["items"]


async def test_missing_session_is_404(
    csms: Csms, http: httpx.AsyncClient, token: TokenFactory
) -> None:
    admin = bearer(await token(Role.ADMIN))
    for path in ("/sessions/424242", "/sessions/424242/meter-values"):
        assert 404 == (await http.get(path, headers=admin)).status_code


async def test_scoped_tokens_see_only_their_communities(
    csms: Csms, http: httpx.AsyncClient, token: TokenFactory
) -> None:
    """A property token of A lists only A's sessions and gets 403 for B's; a district token
    sees its district; the safety platform may not read sessions at all."""
    a, _ = await two_communities(csms, "ocpp1.6")
    unassigned = await charge(csms, "CP-LOOSE", "ocpp1.6", "RES-A", T0)
    assert unassigned
    admin = await token(Role.ADMIN)
    everything = (await get(http, admin, "/sessions"))["items"]
    assert 4 == len(everything)
    b_session = next(s["id"] for s in everything if s["station_id"] == "CP-B")
    prop = await token(Role.PROPERTY, community_id=a.community_id)
    listed = await get(http, prop, "/sessions")
    assert (2, {"CP-A"}) == (listed["total"], {s["station_id"] for s in listed["items"]})
    assert 0 == (await get(http, prop, "/sessions", station_id="CP-B"))["total"]
    for path in (f"/sessions/{b_session}", f"/sessions/{b_session}/meter-values"):
        assert 403 == (await http.get(path, headers=bearer(prop))).status_code
    district = await token(Role.DISTRICT, district_id=a.district_id)
    assert 2 == (await get(http, district, "/sessions"))["total"]
    safety = bearer(await token(Role.SAFETY_PLATFORM))
    assert 403 == (await http.get("/sessions", headers=safety)).status_code
