"""Sites and charge points over the API: CRUD, filters, passwords, registration, connectors,
validation naming the field, conflicts, audit, scope, read-only roles; ``chargepoint add
--site``."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select
from websockets.exceptions import InvalidStatus

from csms import cli, passwords
from csms.api.access import Role
from csms.app import Csms
from csms.domain.model import ConnectorStatus, ConnectorStatusChanged
from csms.store import tables as t
from tests.api.conftest import TokenFactory, bearer
from tests.api.test_organisation import (
    Headers,
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
from tests.conftest import eventually
from tests.integration.test_server import raw

__all__ = ["admin", "cli_db"]  # fixtures shared with test_organisation


async def stored_hash(csms: Csms, station_id: str) -> str | None:
    cp = t.charge_points
    async with csms.engine.connect() as conn:
        found: str | None = (await conn.execute(select(cp.c.password_hash).where(
            cp.c.id == station_id))).scalar_one()
    return found


class TestSites:
    async def test_create_read_update_delete(
        self, csms: Csms, http: httpx.AsyncClient, token: TokenFactory
    ) -> None:
        """Limits and time zone round trip; the community filter works; writes audited."""
        secret = await token(Role.OPERATOR)
        operator, admin_ = bearer(secret), bearer(await token(Role.ADMIN))
        place = await new_place(http, admin_, "五华")
        made = await ok(await http.post("/sites", headers=operator, json={
            "community_id": place.community_id, "name": "地下车库", "transformer_kva": 630,
            "max_power_w": 120_000, "timezone": "Asia/Shanghai"}), 201)
        assert (630.0, 120_000, "Asia/Shanghai") == (
            made["transformer_kva"], made["max_power_w"], made["timezone"])
        listed = await ok(await http.get("/sites", headers=operator,
                                         params={"community_id": place.community_id}))
        assert [place.site_id, made["id"]] == [s["id"] for s in listed["items"]]
        changed = await ok(await http.patch(f"/sites/{made['id']}", headers=operator,
                                            json={"transformer_kva": "800.50"}))
        assert 800.5 == changed["transformer_kva"]
        await ok(await http.delete(f"/sites/{made['id']}", headers=operator), 204)
        assert ["create", "update", "delete"] == [
            action for actor, action, _ in await audit_rows(csms, "site", made["id"])
            if actor == actor_of(secret)]

    async def test_validation_errors_name_the_field(
        self, http: httpx.AsyncClient, admin: Headers
    ) -> None:
        place = await new_place(http, admin, "盘龙")
        base = {"community_id": place.community_id, "name": "车棚"}
        cases = [
            ({**base, "timezone": "Mars/Olympus"}, ["body", "timezone"]),
            ({**base, "transformer_kva": -1}, ["body", "transformer_kva"]),
            ({**base, "transformer_kva": 1.234}, ["body", "transformer_kva"]),
            ({**base, "max_power_w": 2**40}, ["body", "max_power_w"]),
            ({**base, "community_id": 999_999}, ["body", "community_id"]),
            ({**base, "name": ""}, ["body", "name"]),
        ]
        for body, loc in cases:
            assert [loc] == error_fields(await http.post("/sites", headers=admin, json=body))
        assert [["path", "site_id"]] == error_fields(await http.get(
            f"/sites/{2**40}", headers=admin))


class TestChargePoints:
    async def test_create_filter_update_and_delete(
        self, csms: Csms, http: httpx.AsyncClient, admin: Headers
    ) -> None:
        """A registered charge point shows its site and community; filters by site,
        community and registration; it moves off its site; then it is deleted."""
        a, b = await new_place(http, admin, "甲"), await new_place(http, admin, "乙")
        made = await ok(await http.post("/charge-points", headers=admin, json={
            "id": "CP-A1", "site_id": a.site_id, "vendor": "ACME", "model": "AC7"}), 201)
        assert ("Accepted", a.community_id, False, False) == (
            made["registration_status"], made["community_id"], made["has_password"],
            made["connected"])
        await ok(await http.post("/charge-points", headers=admin, json={
            "id": "CP-B1", "site_id": b.site_id, "registration_status": "Pending"}), 201)
        await ok(await http.post("/charge-points", headers=admin, json={"id": "CP-X"}), 201)
        for params, expected in (
            ({}, ["CP-A1", "CP-B1", "CP-X"]), ({"site_id": a.site_id}, ["CP-A1"]),
            ({"community_id": b.community_id}, ["CP-B1"]),
            ({"registration_status": "Pending"}, ["CP-B1"]),
        ):
            listed = await ok(await http.get("/charge-points", headers=admin, params=params))
            assert expected == [cp["id"] for cp in listed["items"]], params
        moved = await ok(await http.patch("/charge-points/CP-A1", headers=admin,
                                          json={"site_id": None}))
        assert (None, None, "ACME") == (moved["site_id"], moved["community_id"],
                                        moved["vendor"])
        await ok(await http.delete("/charge-points/CP-A1", headers=admin), 204)
        assert 404 == (await http.get("/charge-points/CP-A1", headers=admin)).status_code
        assert ["create", "update", "delete"] == [
            action for _, action, _ in await audit_rows(csms, "charge_point", "CP-A1")]

    async def test_validation_and_conflicts(self, http: httpx.AsyncClient,
                                            admin: Headers) -> None:
        """Bad ids, statuses and site references name the field; a taken id is 409."""
        for body, loc in (
            ({"id": "CP/1"}, ["body", "id"]), ({"id": "C" * 49}, ["body", "id"]),
            ({"id": "CP 1"}, ["body", "id"]), ({"id": "CP-1", "site_id": 999_999},
                                                ["body", "site_id"]),
            ({"id": "CP-1", "registration_status": "Maybe"}, ["body", "registration_status"]),
        ):
            assert [loc] == error_fields(await http.post("/charge-points", headers=admin,
                                                         json=body)), body
        await ok(await http.post("/charge-points", headers=admin, json={"id": "CP-1"}), 201)
        taken = await http.post("/charge-points", headers=admin, json={"id": "CP-1"})
        assert (409, "id 'CP-1' is already taken") == (taken.status_code,
                                                       taken.json()["detail"])
        assert [["body", "status"]] == error_fields(await http.put(
            "/charge-points/CP-1/registration", headers=admin, json={"status": "Maybe"}))

    async def test_registration_is_set(self, http: httpx.AsyncClient, admin: Headers) -> None:
        await ok(await http.post("/charge-points", headers=admin, json={"id": "CP-R"}), 201)
        for status in ("Rejected", "Pending", "Accepted"):
            answer = await ok(await http.put("/charge-points/CP-R/registration", headers=admin,
                                             json={"status": status}))
            assert status == answer["registration_status"]

    async def test_password_generated_or_given_is_stored_hashed(
        self, csms: Csms, http: httpx.AsyncClient, admin: Headers
    ) -> None:
        """A generated password is shown once and lets the charger in; a given one is not
        echoed; only a hash is stored; the audit row holds neither."""
        await ok(await http.post("/charge-points", headers=admin, json={"id": "CP-P"}), 201)
        generated = await ok(await http.post("/charge-points/CP-P/password", headers=admin))
        password = generated["password"]
        assert generated["charge_point"]["has_password"]
        stored = await stored_hash(csms, "CP-P")
        assert stored is not None
        assert password not in stored
        assert passwords.verify(password, stored)
        async with raw(csms, "CP-P", password=password):
            pass
        with pytest.raises(InvalidStatus):
            async with raw(csms, "CP-P", password="wrong-password-123"):
                pass
        given = await ok(await http.post("/charge-points/CP-P/password", headers=admin,
                                         json={"password": "another-secret-1234"}))
        assert given["password"] is None
        assert passwords.verify("another-secret-1234", await stored_hash(csms, "CP-P") or "")
        assert [["body", "password"]] == error_fields(await http.post(
            "/charge-points/CP-P/password", headers=admin, json={"password": "short"}))
        rows = await audit_rows(csms, "charge_point", "CP-P")
        assert [("set_password", {})] * 2 == [(a, d) for _, a, d in rows[1:]]

    async def test_connectors_and_history_keep_a_charge_point(
        self, csms: Csms, http: httpx.AsyncClient, admin: Headers
    ) -> None:
        """Connectors show their latest status; a charge point with history or connected is
        not deleted (409)."""
        at = datetime(2026, 11, 27, 19, 0, tzinfo=UTC)
        await ok(await http.post("/charge-points", headers=admin, json={"id": "CP-C"}), 201)
        await csms.store.record_status(ConnectorStatusChanged(
            "CP-C", 1, 1, ConnectorStatus.FAULTED, at, error_code="GroundFailure"))
        [connector] = await ok(await http.get("/charge-points/CP-C/connectors", headers=admin))
        assert ({"evse_id": 1, "connector_id": 1, "status": "Faulted",
                 "error_code": "GroundFailure"}.items() <= connector.items())
        assert "2026-11-27T19:00:00Z" == connector["status_at"]
        refused = await http.delete("/charge-points/CP-C", headers=admin)
        assert (409, True) == (refused.status_code, "reject its registration" in refused.text)
        await ok(await http.post("/charge-points", headers=admin, json={"id": "CP-D"}), 201)
        async with raw(csms, "CP-D"):
            await eventually(lambda: http.get("/charge-points/CP-D", headers=admin),
                             lambda answer: answer.json()["connected"])
            assert 409 == (await http.delete("/charge-points/CP-D", headers=admin)).status_code


class TestScope:
    async def test_scoped_tokens_see_only_their_sites_and_charge_points(
        self, http: httpx.AsyncClient, admin: Headers, token: TokenFactory
    ) -> None:
        """Property A: B's site and charge point, and any charge point without a site, are
        403; lists hold only A's."""
        a, b = await new_place(http, admin, "甲"), await new_place(http, admin, "乙")
        for station, site in (("CP-A", a.site_id), ("CP-B", b.site_id), ("CP-N", None)):
            await ok(await http.post("/charge-points", headers=admin,
                                     json={"id": station, "site_id": site}), 201)
        tokens = await scoped_tokens(token, a)
        for role in (Role.PROPERTY, Role.DISTRICT):
            headers = tokens[role]
            for path in (f"/sites/{b.site_id}", "/charge-points/CP-B", "/charge-points/CP-N",
                         "/charge-points/CP-B/connectors"):
                assert 403 == (await http.get(path, headers=headers)).status_code, (role, path)
            for path in (f"/sites/{a.site_id}", "/charge-points/CP-A"):
                assert 200 == (await http.get(path, headers=headers)).status_code, (role, path)
            assert 404 == (await http.get("/charge-points/CP-none",
                                          headers=headers)).status_code
            sites = await ok(await http.get("/sites", headers=headers))
            points = await ok(await http.get("/charge-points", headers=headers))
            assert ([a.site_id], ["CP-A"]) == ([s["id"] for s in sites["items"]],
                                               [cp["id"] for cp in points["items"]])
            foreign = await ok(await http.get("/charge-points", headers=headers,
                                              params={"site_id": b.site_id}))
            assert (0, []) == (foreign["total"], foreign["items"])

    async def test_read_only_roles_change_nothing(
        self, csms: Csms, http: httpx.AsyncClient, admin: Headers, token: TokenFactory
    ) -> None:
        """District, property and safety platform get 403 on every network write and the
        rows stay unchanged; the operator may write."""
        place = await new_place(http, admin, "丙")
        await ok(await http.post("/charge-points", headers=admin,
                                 json={"id": "CP-1", "site_id": place.site_id}), 201)
        tokens = await scoped_tokens(token, place)
        before = [await ok(await http.get(path, headers=admin))
                  for path in (f"/sites/{place.site_id}", "/charge-points/CP-1")]
        audited = await audit_count(csms)
        for role in (Role.DISTRICT, Role.PROPERTY, Role.SAFETY_PLATFORM):
            for method, path, body in (
                ("POST", "/sites", {"community_id": place.community_id, "name": "x"}),
                ("PATCH", f"/sites/{place.site_id}", {"name": "x"}),
                ("DELETE", f"/sites/{place.site_id}", None),
                ("POST", "/charge-points", {"id": "CP-2"}),
                ("PATCH", "/charge-points/CP-1", {"site_id": None}),
                ("DELETE", "/charge-points/CP-1", None),
                ("POST", "/charge-points/CP-1/password", {}),
                ("PUT", "/charge-points/CP-1/registration", {"status": "Rejected"}),
            ):
                answer = await http.request(method, path, json=body, headers=tokens[role])
                assert 403 == answer.status_code, (role, method, path)
        assert before == [await ok(await http.get(path, headers=admin))
                          for path in (f"/sites/{place.site_id}", "/charge-points/CP-1")]
        assert audited == await audit_count(csms)
        assert "Rejected" == (await ok(await http.put(
            "/charge-points/CP-1/registration", headers=tokens[Role.OPERATOR],
            json={"status": "Rejected"})))["registration_status"]


def test_cli_adds_a_charge_point_to_a_site(
    cli_db: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """``chargepoint add --site`` places it; an unknown site fails and adds nothing."""
    assert 0 == cli.main(["db", "upgrade"])
    with sqlite3.connect(cli_db) as conn:
        conn.execute("INSERT INTO districts (id, name) VALUES (1, '五华区')")
        conn.execute("INSERT INTO communities (id, district_id, name) VALUES (1, 1, '翠湖')")
        conn.execute("INSERT INTO sites (id, community_id, name) VALUES (7, 1, '车棚')")
    assert 0 == cli.main(["chargepoint", "add", "CP-S", "--site", "7"])
    assert 1 == cli.main(["chargepoint", "add", "CP-T", "--site", "8"])
    assert "no site 8" in capsys.readouterr().err
    with sqlite3.connect(cli_db) as conn:
        assert [("CP-S", 7)] == conn.execute("SELECT id, site_id FROM charge_points").fetchall()


def test_cli_charge_point_writes_are_audited(
    cli_db: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """add, reject and set-password from the command line each leave an audit row naming
    the command line as the actor; a duplicate id or an unknown one fails and says so."""
    assert 0 == cli.main(["db", "upgrade"])
    assert 0 == cli.main(["chargepoint", "add", "CP-C", "--generate-password"])
    assert "password (shown once)" in capsys.readouterr().out
    assert 1 == cli.main(["chargepoint", "add", "CP-C"])
    assert 0 == cli.main(["chargepoint", "reject", "CP-C"])
    assert 0 == cli.main(["chargepoint", "set-password", "CP-C"])
    assert 1 == cli.main(["chargepoint", "accept", "CP-NONE"])
    with sqlite3.connect(cli_db) as conn:
        rows = conn.execute("SELECT action, resource_id, actor FROM audit_log "
                            "WHERE resource = 'charge_point' ORDER BY id").fetchall()
        status = conn.execute("SELECT registration_status FROM charge_points").fetchall()
    assert ["create", "update", "set_password"] == [action for action, _, _ in rows]
    assert {"CP-C"} == {resource for _, resource, _ in rows}
    assert all(actor.startswith("cli:") for _, _, actor in rows)
    assert [("Rejected",)] == status
