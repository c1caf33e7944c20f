"""Districts and communities over the API: CRUD, paging, validation naming the field,
conflicts, the audit log, scope and read-only roles; and ``csms seed districts``.

Also home of the helpers the network and residents tests share (:func:`new_place`, ...).
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from csms import cli
from csms.api.access import Role
from csms.app import Csms
from csms.logs import configure_logging
from csms.store import tables as t
from tests.api.conftest import TokenFactory, bearer

KUNMING = Path(__file__).resolve().parents[2] / "data" / "city" / "kunming_districts.toml"
Headers = dict[str, str]


@dataclass(frozen=True)
class Place:
    district_id: int
    community_id: int
    site_id: int


def actor_of(secret: str) -> str:
    """The audit actor of a bearer token."""
    return f"token:{secret.split('_')[1]}"


async def ok(answer: httpx.Response, expected: int = 200) -> Any:
    assert expected == answer.status_code, answer.text
    return answer.json() if answer.content else None


async def new_place(http: httpx.AsyncClient, admin: Headers, name: str) -> Place:
    """A district with one community with one site, made through the API."""
    district = await ok(await http.post("/districts", headers=admin, json={"name": f"{name}区"}),
                        201)
    community = await ok(await http.post("/communities", headers=admin, json={
        "district_id": district["id"], "name": f"{name}小区"}), 201)
    site = await ok(await http.post("/sites", headers=admin, json={
        "community_id": community["id"], "name": f"{name}车棚"}), 201)
    return Place(district["id"], community["id"], site["id"])


async def audit_rows(csms: Csms, resource: str, resource_id: object) -> list[tuple[Any, ...]]:
    """(actor, action, details) of the audit rows of one resource, oldest first."""
    a = t.audit_log
    async with csms.engine.connect() as conn:
        rows = await conn.execute(select(a.c.actor, a.c.action, a.c.details).where(
            a.c.resource == resource, a.c.resource_id == str(resource_id)).order_by(a.c.id))
        return [tuple(row) for row in rows]


async def audit_count(csms: Csms) -> int:
    async with csms.engine.connect() as conn:
        return int((await conn.execute(select(func.count()).select_from(t.audit_log)))
                   .scalar_one())


def error_fields(answer: httpx.Response) -> list[list[Any]]:
    """The ``loc`` of each error of a 422 answer."""
    assert 422 == answer.status_code, answer.text
    return [error["loc"] for error in answer.json()["detail"]]


async def scoped_tokens(token: TokenFactory, place: Place) -> dict[Role, Headers]:
    """Read-only tokens scoped to ``place`` (district and property) and the others."""
    return {
        Role.DISTRICT: bearer(await token(Role.DISTRICT, district_id=place.district_id)),
        Role.PROPERTY: bearer(await token(Role.PROPERTY, community_id=place.community_id)),
        Role.SAFETY_PLATFORM: bearer(await token(Role.SAFETY_PLATFORM)),
        Role.OPERATOR: bearer(await token(Role.OPERATOR)),
    }


@pytest.fixture
async def admin(token: TokenFactory) -> Headers:
    return bearer(await token(Role.ADMIN))


class TestDistricts:
    async def test_create_read_update_delete_each_audited(
        self, csms: Csms, http: httpx.AsyncClient, token: TokenFactory
    ) -> None:
        """Every write answers with the row and leaves an audit row with the caller."""
        secret = await token(Role.ADMIN)
        admin = bearer(secret)
        made = await ok(await http.post("/districts", headers=admin,
                                        json={"name": " 五华区 ", "code": "530102"}), 201)
        assert {"id": made["id"], "name": "五华区", "code": "530102", "short_name": None,
                "pilot_target": None} == made
        assert made == await ok(await http.get(f"/districts/{made['id']}", headers=admin))
        changed = await ok(await http.patch(f"/districts/{made['id']}", headers=admin,
                                            json={"code": None}))
        assert (None, "五华区") == (changed["code"], changed["name"])
        await ok(await http.delete(f"/districts/{made['id']}", headers=admin), 204)
        assert 404 == (await http.get(f"/districts/{made['id']}", headers=admin)).status_code
        assert [
            (actor_of(secret), "create", {"name": "五华区", "code": "530102",
                                          "short_name": None, "pilot_target": None}),
            (actor_of(secret), "update", {"code": None}),
            (actor_of(secret), "delete", {}),
        ] == await audit_rows(csms, "district", made["id"])

    async def test_name_and_code_are_unique_and_a_used_district_stays(
        self, http: httpx.AsyncClient, admin: Headers
    ) -> None:
        """409 for a taken name or code, and for deleting a district with communities."""
        place = await new_place(http, admin, "盘龙")
        await ok(await http.post("/districts", headers=admin,
                                 json={"name": "官渡区", "code": "530111"}), 201)
        for body in ({"name": "盘龙区"}, {"name": "新区", "code": "530111"}):
            answer = await http.post("/districts", headers=admin, json=body)
            assert 409 == answer.status_code, answer.text
            assert "already taken" in answer.json()["detail"]
        patched = await http.patch(f"/districts/{place.district_id}", headers=admin,
                                   json={"name": "官渡区"})
        assert 409 == patched.status_code
        refused = await http.delete(f"/districts/{place.district_id}", headers=admin)
        assert 409 == refused.status_code
        assert "still has communities" in refused.json()["detail"]

    async def test_validation_errors_name_the_field(
        self, http: httpx.AsyncClient, admin: Headers
    ) -> None:
        """Too long, empty, control characters, not null, unknown fields: 422 at the field."""
        cases = [
            ({"name": "x" * 101}, ["body", "name"]),
            ({"name": "   "}, ["body", "name"]),
            ({"name": "a\x00b"}, ["body", "name"]),
            ({"name": "ok", "code": "5301020000000"}, ["body", "code"]),
            ({"name": "ok", "colour": "red"}, ["body", "colour"]),
        ]
        for body, loc in cases:
            assert [loc] == error_fields(await http.post("/districts", headers=admin,
                                                         json=body)), body
        made = await ok(await http.post("/districts", headers=admin, json={"name": "西山区"}),
                        201)
        assert [["body", "name"]] == error_fields(await http.patch(
            f"/districts/{made['id']}", headers=admin, json={"name": None}))

    async def test_list_pages_in_id_order(
        self, csms: Csms, http: httpx.AsyncClient, admin: Headers
    ) -> None:
        """limit/offset slices the id order; total counts all; limit is capped."""
        ids = [(await ok(await http.post("/districts", headers=admin,
                                         json={"name": f"区{i}"}), 201))["id"]
               for i in range(5)]
        page = await ok(await http.get("/districts", headers=admin,
                                       params={"limit": 2, "offset": 1}))
        assert (ids[1:3], 5, 2, 1) == ([d["id"] for d in page["items"]], page["total"],
                                       page["limit"], page["offset"])
        capped = await ok(await http.get("/districts", headers=admin,
                                         params={"limit": 100_000}))
        assert csms.settings.api.page_size_max == capped["limit"]
        assert ids == [d["id"] for d in capped["items"]]
        assert [["query", "limit"]] == error_fields(await http.get(
            "/districts", headers=admin, params={"limit": 0}))


class TestCommunities:
    async def test_coordinates_and_address_round_trip(
        self, csms: Csms, http: httpx.AsyncClient, admin: Headers
    ) -> None:
        """Six-decimal coordinates come back exactly, as numbers; the district filter works."""
        place = await new_place(http, admin, "五华")
        other = await new_place(http, admin, "呈贡")
        made = await ok(await http.post("/communities", headers=admin, json={
            "district_id": place.district_id, "name": "翠湖小区", "address": "翠湖南路 1 号",
            "latitude": 25.046123, "longitude": "102.704567"}), 201)
        assert (25.046123, 102.704567) == (made["latitude"], made["longitude"])
        listed = await ok(await http.get("/communities", headers=admin,
                                         params={"district_id": place.district_id}))
        assert [place.community_id, made["id"]] == [c["id"] for c in listed["items"]]
        moved = await ok(await http.patch(f"/communities/{made['id']}", headers=admin, json={
            "district_id": other.district_id, "latitude": None}))
        assert (other.district_id, None, 102.704567) == (
            moved["district_id"], moved["latitude"], moved["longitude"])
        [(_, action, details)] = (await audit_rows(csms, "community", made["id"]))[1:]
        assert ("update", {"district_id": other.district_id, "latitude": None}) == (
            action, details)

    async def test_bad_values_and_references_name_the_field(
        self, http: httpx.AsyncClient, admin: Headers
    ) -> None:
        """Out-of-range or over-precise coordinates, an unknown district: 422 at the field."""
        place = await new_place(http, admin, "官渡")
        base = {"district_id": place.district_id, "name": "小区"}
        cases = [
            ({**base, "latitude": 90.5}, ["body", "latitude"]),
            ({**base, "longitude": -180.000001}, ["body", "longitude"]),
            ({**base, "longitude": 102.1234567}, ["body", "longitude"]),
            ({**base, "address": "路" * 401}, ["body", "address"]),
            ({**base, "district_id": 999_999}, ["body", "district_id"]),
            ({"name": "小区"}, ["body", "district_id"]),
        ]
        for body, loc in cases:
            assert [loc] == error_fields(await http.post("/communities", headers=admin,
                                                         json=body)), body
        assert [["body", "district_id"]] == error_fields(await http.patch(
            f"/communities/{place.community_id}", headers=admin,
            json={"district_id": 999_999}))

    async def test_a_community_with_sites_is_not_deleted(
        self, http: httpx.AsyncClient, admin: Headers
    ) -> None:
        """409 while a site is in it; 204 once the site is gone."""
        place = await new_place(http, admin, "西山")
        refused = await http.delete(f"/communities/{place.community_id}", headers=admin)
        assert (409, True) == (refused.status_code, "still has sites" in refused.text)
        await ok(await http.delete(f"/sites/{place.site_id}", headers=admin), 204)
        await ok(await http.delete(f"/communities/{place.community_id}", headers=admin), 204)


class TestScope:
    async def test_scoped_tokens_see_only_their_part(
        self, http: httpx.AsyncClient, admin: Headers, token: TokenFactory
    ) -> None:
        """Property A: its community and district; B's are 403, nowhere's 404; lists show
        only A. A district token sees its district's communities."""
        a, b = await new_place(http, admin, "甲"), await new_place(http, admin, "乙")
        tokens = await scoped_tokens(token, a)
        for role in (Role.PROPERTY, Role.DISTRICT):
            headers = tokens[role]
            for path in (f"/communities/{b.community_id}", f"/districts/{b.district_id}"):
                assert 403 == (await http.get(path, headers=headers)).status_code, (role, path)
            for path in (f"/communities/{a.community_id}", f"/districts/{a.district_id}"):
                assert 200 == (await http.get(path, headers=headers)).status_code, (role, path)
            assert 404 == (await http.get("/communities/999999", headers=headers)).status_code
            for path, expected in (("/communities", a.community_id),
                                   ("/districts", a.district_id)):
                listed = await ok(await http.get(path, headers=headers))
                assert ([expected], 1) == ([x["id"] for x in listed["items"]],
                                           listed["total"]), (role, path)

    async def test_read_only_roles_change_nothing(
        self, csms: Csms, http: httpx.AsyncClient, admin: Headers, token: TokenFactory
    ) -> None:
        """Operator, district, property and safety platform: 403 on every write here, the
        rows stay as they were and nothing is audited."""
        place = await new_place(http, admin, "晋宁")
        before = await ok(await http.get(f"/communities/{place.community_id}", headers=admin))
        tokens = await scoped_tokens(token, place)
        audited = await audit_count(csms)
        for role, headers in tokens.items():
            for method, path, body in (
                ("POST", "/districts", {"name": "新区"}),
                ("PATCH", f"/districts/{place.district_id}", {"name": "改名"}),
                ("DELETE", f"/districts/{place.district_id}", None),
                ("POST", "/communities", {"district_id": place.district_id, "name": "x"}),
                ("PATCH", f"/communities/{place.community_id}", {"name": "改名"}),
                ("DELETE", f"/communities/{place.community_id}", None),
            ):
                answer = await http.request(method, path, json=body, headers=headers)
                assert 403 == answer.status_code, (role, method, path)
        assert before == await ok(await http.get(f"/communities/{place.community_id}",
                                                 headers=admin))
        assert audited == await audit_count(csms)

    async def test_no_or_bad_token_is_401(self, http: httpx.AsyncClient) -> None:
        for headers in ({}, bearer("csms_0000000000000000_wrong")):
            assert 401 == (await http.get("/communities", headers=headers)).status_code


@pytest.fixture
def cli_db(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, clean_env: None) -> Iterator[Path]:
    """A SQLite file for ``csms.cli.main``; logging put back as the test session has it."""
    db = tmp_path / "cli.db"
    monkeypatch.setenv("CSMS_DATABASE__URL", f"sqlite+aiosqlite:///{db}")
    monkeypatch.setenv("CSMS_LOGGING__LEVEL", "warning")
    try:
        yield db
    finally:
        configure_logging("warning", "json", stream=sys.__stderr__, cache=False)


def districts_in(db: Path) -> list[tuple[str, str | None]]:
    import sqlite3

    with sqlite3.connect(db) as conn:
        return conn.execute("SELECT name, code FROM districts ORDER BY id").fetchall()


class TestSeedDistricts:
    def test_seeding_twice_adds_once(
        self, cli_db: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """The Kunming file gives every district once; a second run changes nothing."""
        assert 0 == cli.main(["seed", "districts", str(KUNMING)])
        assert "18 added, 0 updated, 0 unchanged" in capsys.readouterr().out
        first = districts_in(cli_db)
        assert ("五华区", "530102") == first[0]
        assert ("昆明经济技术开发区", None) in first
        assert 0 == cli.main(["seed", "districts", str(KUNMING)])
        assert "0 added, 0 updated, 18 unchanged" in capsys.readouterr().out
        assert first == districts_in(cli_db)

    def test_codes_are_filled_in_and_bad_files_change_nothing(
        self, cli_db: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """A code is added to a district seeded without one; a bad entry or a code held by
        another district fails the whole file with a message naming it."""
        seed = tmp_path / "d.toml"
        seed.write_text('[[district]]\nname = "甲区"\n[[district]]\nname = "乙区"\n'
                        'code = "1"\n', encoding="utf-8")
        assert 0 == cli.main(["seed", "districts", str(seed)])
        seed.write_text('[[district]]\nname = "甲区"\ncode = "2"\n', encoding="utf-8")
        assert 0 == cli.main(["seed", "districts", str(seed)])
        assert "0 added, 1 updated, 0 unchanged" in capsys.readouterr().out
        seed.write_text('[[district]]\nname = "丙区"\n[[district]]\nname = "丁区"\n'
                        'code = "1"\n', encoding="utf-8")
        assert 1 == cli.main(["seed", "districts", str(seed)])
        assert "code '1' is already taken" in capsys.readouterr().err
        seed.write_text('[[district]]\ncode = "3"\n', encoding="utf-8")
        assert 1 == cli.main(["seed", "districts", str(seed)])
        assert "district.0.name" in capsys.readouterr().err
        assert [("甲区", "2"), ("乙区", "1")] == districts_in(cli_db)
