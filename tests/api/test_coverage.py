"""Coverage over the API and the CLI: nearest sites and verdicts from the stored places,
the radius override, scope, the SVG map; ``csms seed city`` and ``csms coverage``."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import httpx
import pytest

from csms import cli
from csms.api.access import Role
from csms.city.geo import LatLon, distance_m
from tests.api.conftest import TokenFactory, bearer
from tests.api.test_organisation import cli_db, ok  # noqa: F401 - cli_db is a fixture

Headers = dict[str, str]
# Three communities on a line of latitude in Kunming: home-near 0.9 km, near-far 1.3 km.
HOME = (25.040000, 102.700000)
NEAR = (25.040000, 102.708900)
FAR = (25.040000, 102.722000)


async def place(http: httpx.AsyncClient, admin: Headers, district: str) -> dict[str, Any]:
    d = await ok(await http.post("/districts", headers=admin, json={
        "name": district, "short_name": district[:1], "pilot_target": 5}), 201)
    ids = {}
    for name, (lat, lon) in (("home", HOME), ("near", NEAR), ("far", FAR)):
        c = await ok(await http.post("/communities", headers=admin, json={
            "district_id": d["id"], "name": f"{district}{name}", "latitude": lat,
            "longitude": lon}), 201)
        ids[name] = c["id"]
    return {"district": d, **ids}


class TestCoverageApi:
    async def test_nearest_sites_verdicts_and_radius(self, http: httpx.AsyncClient,
                                                     token: TokenFactory) -> None:
        admin = bearer(await token(Role.ADMIN))
        p = await place(http, admin, "甲区")
        assert 5 == p["district"]["pilot_target"]
        site = await ok(await http.post("/sites", headers=admin, json={
            "community_id": p["home"], "name": "车棚"}), 201)
        assert site["latitude"] is None  # stands at its community
        answer = await ok(await http.get("/coverage", headers=admin))
        assert 1000 == answer["radius_m"]
        assert 1 == answer["sites"]
        assert "WGS-84" in answer["method"]
        by_id = {c["community_id"]: c for c in answer["communities"]["items"]}
        near_m = distance_m(LatLon(*HOME), LatLon(*NEAR))
        assert 850 < near_m < 950
        assert by_id[p["near"]]["verdict"] == "covered"
        assert by_id[p["near"]]["distance_m"] == pytest.approx(near_m, abs=0.05)
        assert by_id[p["near"]]["nearest_site"]["id"] == site["id"]
        assert by_id[p["far"]]["verdict"] == "uncovered"
        assert by_id[p["home"]]["distance_m"] == 0
        [summary] = answer["districts"]
        assert (summary["name"], summary["covered"], summary["uncovered"]) == ("甲区", 2, 1)
        wide = await ok(await http.get("/coverage", headers=admin,
                                       params={"radius_m": 2500, "verdict": "uncovered"}))
        assert [] == wide["communities"]["items"]
        assert 0 == wide["communities"]["total"]
        moved = await ok(await http.patch(f"/sites/{site['id']}", headers=admin, json={
            "latitude": FAR[0], "longitude": FAR[1]}))
        assert moved["longitude"] == FAR[1]
        after = await ok(await http.get("/coverage", headers=admin,
                                        params={"verdict": "uncovered"}))
        # now at "far": "near" is 1.3 km from it, "home" 2.2 km
        assert [p["home"], p["near"]] == [c["community_id"]
                                          for c in after["communities"]["items"]]

    async def test_scope_and_map(self, http: httpx.AsyncClient, token: TokenFactory) -> None:
        admin = bearer(await token(Role.ADMIN))
        one, two = await place(http, admin, "乙区"), await place(http, admin, "丙区")
        await ok(await http.post("/sites", headers=admin, json={
            "community_id": two["home"], "name": "丙车棚"}), 201)
        officer = bearer(await token(Role.DISTRICT, district_id=one["district"]["id"]))
        seen = await ok(await http.get("/coverage", headers=officer))
        assert {c["district_id"] for c in seen["communities"]["items"]} == {
            one["district"]["id"]}
        # the other district's site covers nothing here (same coordinates, but 丙's)...
        # ...and yet is the nearest: public sites are public
        assert all(c["nearest_site"] is not None for c in seen["communities"]["items"])
        assert 403 == (await http.get("/coverage", headers=officer, params={
            "district_id": two["district"]["id"]})).status_code
        picture = await http.get("/coverage/map.svg", headers=officer,
                                 params={"district_id": one["district"]["id"]})
        assert 200 == picture.status_code
        assert picture.headers["content-type"].startswith("image/svg+xml")
        root = ET.fromstring(picture.text)  # noqa: S314 - our own SVG
        marks = [c for c in root.iter("{http://www.w3.org/2000/svg}circle")
                 if c.get("data-verdict")]
        assert 3 == len(marks)
        assert 401 == (await http.get("/coverage")).status_code

    async def test_bad_queries_name_the_parameter(self, http: httpx.AsyncClient,
                                                  token: TokenFactory) -> None:
        admin = bearer(await token(Role.ADMIN))
        for params in ({"radius_m": 0}, {"radius_m": "x"}, {"verdict": "maybe"}):
            answer = await http.get("/coverage", headers=admin, params=params)
            assert 422 == answer.status_code
            assert next(iter(params)) in answer.text


class TestCityCli:
    def test_seed_city_twice_then_coverage(self, cli_db: Path, tmp_path: Path,  # noqa: F811
                                           capsys: pytest.CaptureFixture[str]) -> None:
        assert 0 == cli.main(["seed", "city"])
        out = capsys.readouterr().out
        assert "districts: 18 added" in out
        assert "sample communities: 53 added" in out
        assert 0 == cli.main(["seed", "city"])
        assert "0 added, 53 existed" in capsys.readouterr().out
        svg = tmp_path / "map.svg"
        assert 0 == cli.main(["coverage", "--json", "--svg", str(svg)])
        report = json.loads(capsys.readouterr().out)
        assert 53 == len(report["communities"])
        totals = [sum(d[k] for d in report["districts"]) for k in ("covered", "uncovered")]
        assert sum(totals) == 53
        assert totals[1] > 0
        uncovered = [c for c in report["communities"] if c["verdict"] == "uncovered"]
        assert all(c["distance_m"] > 1000 for c in uncovered)
        assert ET.fromstring(svg.read_text(encoding="utf-8")).tag.endswith("svg")  # noqa: S314 - our own SVG
        assert 0 == cli.main(["coverage", "--district", "530102", "--radius-m", "5000"])
        text = capsys.readouterr().out
        assert "五华区" in text
        assert "盘龙区" not in text
        assert "uncovered:" not in text
        assert 1 == cli.main(["coverage", "--district", "nowhere"])
        assert "no district 'nowhere'" in capsys.readouterr().err

    def test_a_sample_naming_an_unknown_district_changes_nothing(
            self, cli_db: Path, tmp_path: Path,  # noqa: F811
            capsys: pytest.CaptureFixture[str]) -> None:
        sample = tmp_path / "s.toml"
        sample.write_text('[[community]]\ndistrict = "无此区"\nname = "x"\naddress = "y"\n'
                          "latitude = 25.0\nlongitude = 102.0\n", encoding="utf-8")
        assert 1 == cli.main(["seed", "city", "--sample", str(sample)])
        assert "no such district: 无此区" in capsys.readouterr().err
