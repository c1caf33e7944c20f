"""Id tokens compared by key (csms.domain.authorization.token_key), on both databases: any
spelling finds the card, registering another spelling updates it, the API and the CLI agree,
billing finds the resident of a session started with another spelling, and migration 0013
refuses to merge existing tokens that now collide."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import Connection, insert, inspect, select, text

from csms import cli
from csms.api.access import Role
from csms.app import Csms
from csms.config import DatabaseSettings
from csms.domain.model import AuthorizationStatus
from csms.store import migrate
from csms.store import tables as t
from csms.store.billing.rows import resident_of_token
from csms.store.engine import create_engine
from csms.store.residents import Residents
from tests.api.conftest import TokenFactory, bearer
from tests.api.test_organisation import cli_db

AT = datetime(2026, 12, 2, 20, 0, tzinfo=UTC)


async def rows(csms: Csms) -> list[tuple[str, str, str]]:
    tok = t.id_tokens
    async with csms.engine.connect() as conn:
        return [tuple(r) for r in (await conn.execute(
            select(tok.c.id_token, tok.c.token_key, tok.c.status).order_by(tok.c.id_token)))]


class TestStore:
    async def test_any_spelling_finds_the_token(self, csms: Csms) -> None:
        """Registered lower-case, found upper- and mixed-case, with its own spelling."""
        await csms.store.put_token("deadbeef", AuthorizationStatus.ACCEPTED)
        for spelling in ("DEADBEEF", "DeadBeef", "deadbeef"):
            record = await csms.store.get_token(spelling)
            assert record is not None, spelling
            assert ("deadbeef", AuthorizationStatus.ACCEPTED) == (record.id_token,
                                                                  record.status)
        assert await csms.store.get_token("DEADBEEF0") is None

    async def test_registering_another_spelling_updates_the_same_token(self,
                                                                       csms: Csms) -> None:
        """put_token and put_id_token of DEADBEEF after deadbeef: one row, first spelling."""
        await csms.store.put_token("deadbeef", AuthorizationStatus.ACCEPTED)
        await csms.store.put_token("DEADBEEF", AuthorizationStatus.BLOCKED)
        assert [("deadbeef", "DEADBEEF", "Blocked")] == await rows(csms)
        residents = Residents(csms.engine, csms.store.writer)
        stored = await residents.put_id_token("DeadBeef", {"status": "Accepted"}, AT, "test")
        assert "deadbeef" == stored.id_token
        assert [("deadbeef", "DEADBEEF", "Accepted")] == await rows(csms)

    async def test_a_raw_insert_gets_its_key_and_a_second_spelling_is_refused(
        self, csms: Csms
    ) -> None:
        """The table computes the key on insert; the unique key refuses a second spelling."""
        async with csms.engine.begin() as conn:
            await conn.execute(insert(t.id_tokens).values(
                id_token="04a1b2", status="Accepted", created_at=AT))
        assert [("04a1b2", "04A1B2", "Accepted")] == await rows(csms)
        with pytest.raises(Exception, match=r"(?i)unique"):
            async with csms.engine.begin() as conn:
                await conn.execute(insert(t.id_tokens).values(
                    id_token="04A1B2", status="Blocked", created_at=AT))

    async def test_billing_finds_the_resident_by_any_spelling(self, csms: Csms) -> None:
        """A session keeps the spelling the charger sent; its resident is still found."""
        async with csms.engine.begin() as conn:
            district = (await conn.execute(insert(t.districts).values(name="区").returning(
                t.districts.c.id))).scalar_one()
            community = (await conn.execute(insert(t.communities).values(
                district_id=district, name="小区").returning(t.communities.c.id))).scalar_one()
            resident = (await conn.execute(insert(t.residents).values(
                community_id=community, name="张三", created_at=AT).returning(
                t.residents.c.id))).scalar_one()
            await conn.execute(insert(t.id_tokens).values(
                id_token="deadbeef", status="Accepted", resident_id=resident, created_at=AT))
            assert resident == await resident_of_token(conn, "DEADBEEF")


class TestApi:
    async def test_routes_take_any_spelling(self, csms: Csms, http: httpx.AsyncClient,
                                            token: TokenFactory) -> None:
        """POST of another spelling is 409; GET, PATCH and DELETE by any spelling reach the
        card; DELETE is refused when a session used another spelling of it."""
        admin = bearer(await token(Role.ADMIN))
        created = await http.post("/id-tokens", headers=admin, json={"id_token": "deadbeef"})
        assert 201 == created.status_code, created.text
        again = await http.post("/id-tokens", headers=admin, json={"id_token": "DEADBEEF"})
        assert 409 == again.status_code
        found = await http.get("/id-tokens/DEADBEEF", headers=admin)
        assert (200, "deadbeef") == (found.status_code, found.json()["id_token"])
        patched = await http.patch("/id-tokens/DeadBeef", headers=admin,
                                   json={"status": "Blocked"})
        assert (200, "Blocked") == (patched.status_code, patched.json()["status"])
        async with csms.engine.begin() as conn:
            await conn.execute(insert(t.charge_points).values(
                id="CP-1", registration_status="Accepted", created_at=AT))
            await conn.execute(insert(t.sessions).values(
                station_id="CP-1", id_token="DEADBEEF", status="ended", created_at=AT,
                updated_at=AT))
        refused = await http.delete("/id-tokens/deadbeef", headers=admin)
        assert (409, True) == (refused.status_code, "block it instead" in refused.text)
        assert [("deadbeef", "DEADBEEF", "Blocked")] == await rows(csms)


def test_cli_add_of_another_spelling_updates_the_card(
    cli_db: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """``idtoken add DEADBEEF`` after ``idtoken add deadbeef``: one row, the new status."""
    assert 0 == cli.main(["idtoken", "add", "deadbeef"])
    assert 0 == cli.main(["idtoken", "add", "DEADBEEF", "--status", "Blocked"])
    assert "id token deadbeef is Blocked" in capsys.readouterr().out
    with sqlite3.connect(cli_db) as conn:
        assert [("deadbeef", "DEADBEEF", "Blocked")] == conn.execute(
            "SELECT id_token, token_key, status FROM id_tokens").fetchall()


async def test_migration_refuses_tokens_that_now_collide(empty_database_url: str) -> None:
    """At 0008 (before 0013): deadbeef, DEADBEEF and 04a1. The upgrade stops naming the pair and
    changes nothing of id_tokens; once one of them is gone it computes every key."""
    engine = create_engine(DatabaseSettings(url=empty_database_url))
    try:
        await migrate.upgrade(engine, "0008")
        async with engine.begin() as conn:
            for token in ("deadbeef", "DEADBEEF", "04a1"):
                await conn.execute(text(
                    "INSERT INTO id_tokens (id_token, kind, status, created_at)"
                    " VALUES (:token, 'ISO14443', 'Accepted', :at)"), {"token": token, "at": AT})
        with pytest.raises(Exception, match="'DEADBEEF', 'deadbeef'") as refused:
            await migrate.upgrade(engine)
        assert "Nothing was changed" in str(refused.value)
        async with engine.connect() as conn:
            assert "token_key" not in await conn.run_sync(_columns)
        async with engine.begin() as conn:
            await conn.execute(text("DELETE FROM id_tokens WHERE id_token = 'DEADBEEF'"))
        await migrate.upgrade(engine)
        async with engine.connect() as conn:
            keyed = (await conn.execute(text(
                "SELECT id_token, token_key FROM id_tokens ORDER BY id_token"))).all()
        assert [("04a1", "04A1"), ("deadbeef", "DEADBEEF")] == [tuple(r) for r in keyed]
    finally:
        await engine.dispose()


def _columns(sync: Connection) -> set[Any]:
    return {c["name"] for c in inspect(sync).get_columns("id_tokens")}


__all__ = ["cli_db"]
