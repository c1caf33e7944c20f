"""The orderly-charging API: site load settings, base load, feeders, EVSE limits,
allocations and the site series; roles, scope, audit and validation."""

from __future__ import annotations

import sqlite3
import sys
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from sqlalchemy import insert, select

from csms import cli
from csms.app import Csms
from csms.clock import system_clock
from csms.logs import configure_logging
from csms.store import tables as t
from csms.store.load.store import LoadStore, SeriesPoint
from tests.api.conftest import TokenFactory, bearer

SETTINGS = {"transformer_kva": 800, "loading_factor": 0.8, "power_factor": 1.0,
            "margin_w": 10_000, "supply_phases": 3, "voltage_v": 220}


async def a_site(csms: Csms, station_id: str = "API-L1") -> tuple[int, int]:
    """(site id, community id) of a new site with one charge point."""
    async with csms.engine.begin() as conn:
        district = (await conn.execute(insert(t.districts).values(
            name=f"D-{station_id}").returning(t.districts.c.id))).scalar_one()
        community = (await conn.execute(insert(t.communities).values(
            district_id=district, name="C").returning(t.communities.c.id))).scalar_one()
        site = (await conn.execute(insert(t.sites).values(
            community_id=community, name="S").returning(t.sites.c.id))).scalar_one()
        await conn.execute(insert(t.charge_points).values(
            id=station_id, site_id=site, registration_status="Accepted", created_at=system_clock()))
    return int(site), int(community)


async def audited(csms: Csms, resource: str) -> list[str]:
    async with csms.engine.connect() as conn:
        rows = await conn.execute(select(t.audit_log.c.action).where(
            t.audit_log.c.resource == resource))
        return list(rows.scalars().all())


async def test_an_operator_configures_a_site_and_reads_its_headroom(
    csms: Csms, http: httpx.AsyncClient, token: TokenFactory
) -> None:
    """PUT settings, a profile and a live reading: the headroom follows the fresh reading
    (800 kVA x 0.8 - 500 kW - 10 kW margin = 130 kW); every write is audited."""
    site, _ = await a_site(csms)
    auth = bearer(await token("operator"))
    put = await http.put(f"/sites/{site}/load", json=SETTINGS, headers=auth)
    assert 200 == put.status_code, put.text
    assert 404 == (await http.get(f"/sites/{site}/load/base-load-profile",
                                  headers=auth)).status_code
    profile = {"workday_w": [400_000.0] * 24}
    assert 204 == (await http.put(f"/sites/{site}/load/base-load-profile", json=profile,
                                  headers=auth)).status_code
    assert {"workday_w": [400_000.0] * 24, "rest_day_w": [400_000.0] * 24} == (
        await http.get(f"/sites/{site}/load/base-load-profile", headers=auth)).json()
    got = (await http.get(f"/sites/{site}/load", headers=auth)).json()
    assert (230_000.0, "profile") == (got["headroom_w"], got["base_load_source"])
    assert 204 == (await http.post(f"/sites/{site}/load/base-load-readings",
                                   json={"load_w": 500_000}, headers=auth)).status_code
    got = (await http.get(f"/sites/{site}/load", headers=auth)).json()
    assert (130_000.0, "reading") == (got["headroom_w"], got["base_load_source"])
    assert ["create"] == await audited(csms, "site_load")
    assert ["update"] == await audited(csms, "base_load_reading")
    assert ["update"] == await audited(csms, "base_load_profile")


async def test_feeders_and_evse_limits(
    csms: Csms, http: httpx.AsyncClient, token: TokenFactory
) -> None:
    """A feeder under another; an EVSE placed under it; a feeder with something under it
    cannot be deleted; an unknown parent is a 422 naming ``parent_id``."""
    site, _ = await a_site(csms)
    auth = bearer(await token("admin"))
    await http.put(f"/sites/{site}/load", json=SETTINGS, headers=auth)
    top = (await http.post(f"/sites/{site}/load/feeders", json={
        "name": "B1", "limit_w": 50_000}, headers=auth)).json()
    sub = await http.post(f"/sites/{site}/load/feeders", json={
        "name": "B1-a", "limit_w": 20_000, "parent_id": top["id"]}, headers=auth)
    assert 201 == sub.status_code
    bad = await http.post(f"/sites/{site}/load/feeders", json={
        "name": "x", "limit_w": 1, "parent_id": 999}, headers=auth)
    assert 422 == bad.status_code
    assert "parent_id" in bad.text
    evse = await http.put("/charge-points/API-L1/evses/1/load", json={
        "feeder_id": sub.json()["id"], "max_current_a": 16, "phases": 1}, headers=auth)
    assert (200, 16.0) == (evse.status_code, evse.json()["max_current_a"])
    assert 409 == (await http.delete(f"/sites/{site}/load/feeders/{top['id']}",
                                     headers=auth)).status_code
    got = (await http.get(f"/sites/{site}/load", headers=auth)).json()
    assert ["B1", "B1-a"] == [f["name"] for f in got["feeders"]]


async def test_roles_scope_and_validation(
    csms: Csms, http: httpx.AsyncClient, token: TokenFactory
) -> None:
    """A district token reads but cannot write (403); a property token of another
    community gets 403; a missing site 404; a bad value 422 naming the field."""
    site, community = await a_site(csms)
    other, _ = await a_site(csms, "API-L2")
    admin = bearer(await token("admin"))
    await http.put(f"/sites/{site}/load", json=SETTINGS, headers=admin)
    reader = bearer(await token("property", community_id=community))
    assert 200 == (await http.get(f"/sites/{site}/load", headers=reader)).status_code
    assert 403 == (await http.get(f"/sites/{other}/load", headers=reader)).status_code
    assert 403 == (await http.put(f"/sites/{site}/load", json=SETTINGS,
                                  headers=reader)).status_code
    assert 404 == (await http.get("/sites/9999/load", headers=admin)).status_code
    bad = await http.put(f"/sites/{site}/load", json={**SETTINGS, "transformer_kva": -1},
                         headers=admin)
    assert 422 == bad.status_code
    assert "transformer_kva" in bad.text


async def test_allocations_and_series(
    csms: Csms, http: httpx.AsyncClient, token: TokenFactory
) -> None:
    """Allocations are empty before any pass; the series is served oldest first within
    ``[from, to)``."""
    site, _ = await a_site(csms)
    auth = bearer(await token("admin"))
    await http.put(f"/sites/{site}/load", json=SETTINGS, headers=auth)
    t0 = system_clock().replace(microsecond=0)
    await LoadStore(csms.engine, csms.store.writer).add_series(site, [
        SeriesPoint(t0 + timedelta(minutes=m), 100.0, 50.0, 40.0 + m, 10.0) for m in range(5)])
    got = await http.get(f"/sites/{site}/load/series", headers=auth, params={
        "from": (t0 + timedelta(minutes=1)).isoformat(),
        "to": (t0 + timedelta(minutes=4)).isoformat()})
    assert [41.0, 42.0, 43.0] == [p["measured_w"] for p in got.json()]
    allocations = (await http.get(f"/sites/{site}/load/allocations", headers=auth)).json()
    assert isinstance(allocations["connectors"], list)



async def test_a_declared_charging_need_is_audited(
    csms: Csms, http: httpx.AsyncClient, token: TokenFactory
) -> None:
    """PUT charging-needs: 204 and an audit row; an unknown charge point 404; a zero need
    is a 422 naming ``energy_wh``."""
    await a_site(csms)
    auth = bearer(await token("operator"))
    body = {"energy_wh": 12_000, "departure_at": "2026-11-28T07:00:00+08:00"}
    answer = await http.put("/charge-points/API-L1/evses/1/charging-needs", json=body,
                            headers=auth)
    assert 204 == answer.status_code, answer.text
    assert ["update"] == await audited(csms, "charging_need")
    assert 404 == (await http.put("/charge-points/NOPE/evses/1/charging-needs", json=body,
                                  headers=auth)).status_code
    bad = await http.put("/charge-points/API-L1/evses/1/charging-needs",
                         json={**body, "energy_wh": 0}, headers=auth)
    assert bad.status_code == 422
    assert "energy_wh" in bad.text

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


def test_cli_configures_a_site_sets_its_profile_and_shows_it(
    cli_db: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """``load configure``, ``load profile FILE`` and ``load show``: the headroom printed is
    800 kVA x 0.8 - the profile's base load; a bad file or unknown site fails with a
    message."""
    assert 0 == cli.main(["db", "upgrade"])
    with sqlite3.connect(cli_db) as conn:
        conn.execute("INSERT INTO districts (id, name) VALUES (1, 'D')")
        conn.execute("INSERT INTO communities (id, district_id, name) VALUES (1, 1, 'C')")
        conn.execute("INSERT INTO sites (id, community_id, name) VALUES (7, 1, 'S')")
    assert 0 == cli.main(["load", "configure", "7", "--kva", "800"])
    profile = tmp_path / "base.toml"
    profile.write_text("workday_w = [" + ", ".join(["500000"] * 24) + "]\n")
    assert 0 == cli.main(["load", "profile", "7", str(profile)])
    assert 0 == cli.main(["load", "show", "7"])
    assert "headroom 140000 W (base load 500000 W from profile)" in capsys.readouterr().out
    profile.write_text("workday_w = [1, 2]\n")
    assert 1 == cli.main(["load", "profile", "7", str(profile)])
    assert 1 == cli.main(["load", "configure", "8", "--kva", "800"])
    assert "no such site" in capsys.readouterr().out
    with sqlite3.connect(cli_db) as conn:
        assert [("create",), ("update",)] == conn.execute(
            "SELECT action FROM audit_log WHERE resource IN ('site_load', 'base_load_profile')"
            " ORDER BY id").fetchall()
