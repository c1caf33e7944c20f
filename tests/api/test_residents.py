"""Residents and id tokens over the API: CRUD, filters, validation naming the field,
conflicts, audit, the effect on authorization, scope, read-only roles; ``idtoken add
--resident``."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import insert

from csms import cli
from csms.api.access import Role
from csms.app import Csms
from csms.domain.model import AuthorizationStatus
from csms.store import tables as t
from tests.api.conftest import TokenFactory, bearer
from tests.api.test_organisation import (
    Headers,
    Place,
    actor_of,
    admin,
    audit_count,
    audit_rows,
    cli_db,
    error_fields,
    new_place,
    ok,
    scoped_tokens,
)

__all__ = ["admin", "cli_db"]  # fixtures shared with test_organisation


async def new_resident(http: httpx.AsyncClient, headers: Headers, place: Place,
                       name: str = "张三", **more: Any) -> Any:
    return await ok(await http.post("/residents", headers=headers, json={
        "community_id": place.community_id, "name": name, **more}), 201)


class TestResidents:
    async def test_create_read_update_delete_audited(
        self, csms: Csms, http: httpx.AsyncClient, admin: Headers, token: TokenFactory
    ) -> None:
        secret = await token(Role.OPERATOR)
        operator = bearer(secret)
        a, b = await new_place(http, admin, "甲"), await new_place(http, admin, "乙")
        made = await new_resident(http, operator, a, unit="3-201", phone="+86 138 0000 0000")
        assert ("张三", "3-201", a.community_id) == (made["name"], made["unit"],
                                                    made["community_id"])
        assert made["created_at"].endswith("Z") or made["created_at"].endswith("+00:00")
        await new_resident(http, operator, b, name="李四")
        listed = await ok(await http.get("/residents", headers=operator,
                                         params={"community_id": a.community_id}))
        assert [made["id"]] == [r["id"] for r in listed["items"]]
        moved = await ok(await http.patch(f"/residents/{made['id']}", headers=operator,
                                          json={"community_id": b.community_id, "phone": None}))
        assert (b.community_id, None) == (moved["community_id"], moved["phone"])
        await ok(await http.delete(f"/residents/{made['id']}", headers=operator), 204)
        assert [(actor_of(secret), "create"), (actor_of(secret), "update"),
                (actor_of(secret), "delete")] == [
            (actor, action) for actor, action, _ in await audit_rows(csms, "resident",
                                                                     made["id"])]

    async def test_validation_errors_name_the_field(
        self, http: httpx.AsyncClient, admin: Headers
    ) -> None:
        place = await new_place(http, admin, "丙")
        base = {"community_id": place.community_id, "name": "王五"}
        for body, loc in (
            ({**base, "phone": "call me"}, ["body", "phone"]),
            ({**base, "unit": "x" * 51}, ["body", "unit"]),
            ({**base, "name": "x" * 101}, ["body", "name"]),
            ({**base, "community_id": 999_999}, ["body", "community_id"]),
            ({**base, "community_id": 0}, ["body", "community_id"]),
        ):
            assert [loc] == error_fields(await http.post("/residents", headers=admin,
                                                         json=body)), body


class TestIdTokens:
    async def test_create_filter_update_delete(
        self, csms: Csms, http: httpx.AsyncClient, admin: Headers
    ) -> None:
        """A card with a resident and an expiry (kept in UTC); filters; blocking it is what
        the charger is told next; then it is deleted."""
        place = await new_place(http, admin, "甲")
        resident = await new_resident(http, admin, place)
        made = await ok(await http.post("/id-tokens", headers=admin, json={
            "id_token": "04A1B2C3", "resident_id": resident["id"], "owner": "3-201",
            "expires_at": "2027-12-31T16:00:00+08:00"}), 201)
        assert ("Accepted", "ISO14443", "2027-12-31T08:00:00Z", place.community_id) == (
            made["status"], made["kind"], made["expires_at"], made["community_id"])
        await ok(await http.post("/id-tokens", headers=admin,
                                 json={"id_token": "LOOSE", "status": "Blocked"}), 201)
        for params, expected in (({}, ["04A1B2C3", "LOOSE"]), ({"status": "Blocked"}, ["LOOSE"]),
                                 ({"resident_id": resident["id"]}, ["04A1B2C3"]),
                                 ({"community_id": place.community_id}, ["04A1B2C3"])):
            listed = await ok(await http.get("/id-tokens", headers=admin, params=params))
            assert expected == [x["id_token"] for x in listed["items"]], params
        blocked = await ok(await http.patch("/id-tokens/04A1B2C3", headers=admin,
                                            json={"status": "Blocked", "expires_at": None}))
        assert ("Blocked", None) == (blocked["status"], blocked["expires_at"])
        record = await csms.store.get_token("04A1B2C3")
        assert record is not None
        assert AuthorizationStatus.BLOCKED is record.status
        await ok(await http.delete("/id-tokens/04A1B2C3", headers=admin), 204)
        assert await csms.store.get_token("04A1B2C3") is None
        assert ["create", "update", "delete"] == [
            action for _, action, _ in await audit_rows(csms, "id_token", "04A1B2C3")]

    async def test_validation_and_conflicts(
        self, csms: Csms, http: httpx.AsyncClient, admin: Headers
    ) -> None:
        """Bad values name the field; a taken id token, deleting a resident's last link or
        a token a session used is 409."""
        place = await new_place(http, admin, "乙")
        resident = await new_resident(http, admin, place)
        for body, loc in (
            ({"id_token": "T" * 37}, ["body", "id_token"]),
            ({"id_token": "A/B"}, ["body", "id_token"]),
            ({"id_token": "T1", "status": "Maybe"}, ["body", "status"]),
            ({"id_token": "T1", "kind": "Barcode"}, ["body", "kind"]),
            ({"id_token": "T1", "expires_at": "2027-12-31T16:00:00"}, ["body", "expires_at"]),
            ({"id_token": "T1", "resident_id": 999_999}, ["body", "resident_id"]),
        ):
            assert [loc] == error_fields(await http.post("/id-tokens", headers=admin,
                                                         json=body)), body
        body = {"id_token": "T1", "resident_id": resident["id"]}
        await ok(await http.post("/id-tokens", headers=admin, json=body), 201)
        assert 409 == (await http.post("/id-tokens", headers=admin, json=body)).status_code
        assert [["body", "status"]] == error_fields(await http.patch(
            "/id-tokens/T1", headers=admin, json={"status": None}))
        refused = await http.delete(f"/residents/{resident['id']}", headers=admin)
        assert (409, True) == (refused.status_code, "still has id tokens" in refused.text)
        async with csms.engine.begin() as conn:
            await conn.execute(insert(t.charge_points).values(
                id="CP-1", registration_status="Accepted", created_at=csms.stations.now()))
            await conn.execute(insert(t.sessions).values(
                station_id="CP-1", id_token="T1", status="ended",
                created_at=csms.stations.now(), updated_at=csms.stations.now()))
        refused = await http.delete("/id-tokens/T1", headers=admin)
        assert (409, True) == (refused.status_code, "block it instead" in refused.text)


class TestScope:
    async def test_scoped_tokens_see_only_their_residents_and_cards(
        self, http: httpx.AsyncClient, admin: Headers, token: TokenFactory
    ) -> None:
        """Property A: B's resident and card, and a card without a resident, are 403;
        lists hold only A's."""
        a, b = await new_place(http, admin, "甲"), await new_place(http, admin, "乙")
        ra, rb = await new_resident(http, admin, a), await new_resident(http, admin, b)
        for card, resident in (("CARD-A", ra["id"]), ("CARD-B", rb["id"]), ("CARD-N", None)):
            await ok(await http.post("/id-tokens", headers=admin, json={
                "id_token": card, "resident_id": resident}), 201)
        tokens = await scoped_tokens(token, a)
        for role in (Role.PROPERTY, Role.DISTRICT):
            headers = tokens[role]
            for path in (f"/residents/{rb['id']}", "/id-tokens/CARD-B", "/id-tokens/CARD-N"):
                assert 403 == (await http.get(path, headers=headers)).status_code, (role, path)
            for path in (f"/residents/{ra['id']}", "/id-tokens/CARD-A"):
                assert 200 == (await http.get(path, headers=headers)).status_code, (role, path)
            assert 404 == (await http.get("/id-tokens/NONE", headers=headers)).status_code
            residents = await ok(await http.get("/residents", headers=headers))
            cards = await ok(await http.get("/id-tokens", headers=headers))
            assert ([ra["id"]], ["CARD-A"]) == ([r["id"] for r in residents["items"]],
                                                [c["id_token"] for c in cards["items"]])
        assert 403 == (await http.get("/residents", headers=tokens[Role.SAFETY_PLATFORM])
                       ).status_code

    async def test_read_only_roles_change_nothing(
        self, csms: Csms, http: httpx.AsyncClient, admin: Headers, token: TokenFactory
    ) -> None:
        place = await new_place(http, admin, "丁")
        resident = await new_resident(http, admin, place)
        await ok(await http.post("/id-tokens", headers=admin, json={"id_token": "C1"}), 201)
        tokens = await scoped_tokens(token, place)
        paths = (f"/residents/{resident['id']}", "/id-tokens/C1")
        before = [await ok(await http.get(path, headers=admin)) for path in paths]
        audited = await audit_count(csms)
        for role in (Role.DISTRICT, Role.PROPERTY, Role.SAFETY_PLATFORM):
            for method, path, body in (
                ("POST", "/residents", {"community_id": place.community_id, "name": "x"}),
                ("PATCH", paths[0], {"name": "x"}), ("DELETE", paths[0], None),
                ("POST", "/id-tokens", {"id_token": "C2"}),
                ("PATCH", paths[1], {"status": "Blocked"}), ("DELETE", paths[1], None),
            ):
                answer = await http.request(method, path, json=body, headers=tokens[role])
                assert 403 == answer.status_code, (role, method, path)
        assert before == [await ok(await http.get(path, headers=admin)) for path in paths]
        assert audited == await audit_count(csms)


def test_cli_adds_an_id_token_for_a_resident(
    cli_db: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """``idtoken add --resident`` links the card; an unknown resident fails, adding nothing;
    the CLI's writes are audited."""
    assert 0 == cli.main(["db", "upgrade"])
    with sqlite3.connect(cli_db) as conn:
        conn.execute("INSERT INTO districts (id, name) VALUES (1, '五华区')")
        conn.execute("INSERT INTO communities (id, district_id, name) VALUES (1, 1, '翠湖')")
        conn.execute("INSERT INTO residents (id, community_id, name, created_at) "
                     "VALUES (5, 1, '张三', '2026-01-01 00:00:00')")
    assert 0 == cli.main(["idtoken", "add", "04A1", "--resident", "5", "--owner", "3-201"])
    assert 1 == cli.main(["idtoken", "add", "04A2", "--resident", "6"])
    assert "no resident 6" in capsys.readouterr().err
    with sqlite3.connect(cli_db) as conn:
        assert [("04A1", 5, "3-201", "Accepted")] == conn.execute(
            "SELECT id_token, resident_id, owner, status FROM id_tokens").fetchall()
        [(actor,)] = conn.execute("SELECT actor FROM audit_log WHERE resource = 'id_token'")
        assert actor.startswith("cli:")
