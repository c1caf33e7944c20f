"""The console's reports and coverage page: stored monthly reports generated from the form
and downloaded through the console, scoped as the API scopes them; the coverage table and
map."""

from __future__ import annotations

import httpx
import pytest

from csms.api.access import Role
from csms.app import Csms
from tests.api.test_sessions import new_place
from tests.console.conftest import token_sign_in

pytestmark = pytest.mark.timeout(120)


async def test_reports_are_generated_downloaded_and_scoped(csms: Csms,
                                                           client: httpx.AsyncClient) -> None:
    a, b = await new_place(csms, "甲"), await new_place(csms, "乙")
    csrf = await token_sign_in(csms, client, Role.ADMIN)
    made = await client.post("/reports/generate", data={"csrf": csrf, "month": "2026-11"})
    assert 303 == made.status_code
    page = (await client.get("/reports")).text
    for scope in ("city", a.district_id, b.district_id):
        assert f'href="/console/reports/2026-11/{scope}.xlsx"' in page
    xlsx = await client.get("/reports/2026-11/city.xlsx")
    assert (200, b"PK") == (xlsx.status_code, xlsx.content[:2])  # a zip: the spreadsheet
    assert 422 == (await client.get("/reports/0000-01/city.xlsx")).status_code
    svg = await client.get("/coverage/map.svg")
    assert 200 == svg.status_code
    assert svg.headers["content-type"].startswith("image/svg+xml")
    assert 'id="coverage"' in page

    csrf = await token_sign_in(csms, client, Role.DISTRICT, a.district_id)
    page = (await client.get("/reports")).text
    assert f'href="/console/reports/2026-11/{a.district_id}.csv"' in page
    assert "/console/reports/2026-11/city." not in page
    assert f"/console/reports/2026-11/{b.district_id}." not in page
    assert 'id="generate"' not in page
    assert 200 == (await client.get(f"/reports/2026-11/{a.district_id}.csv")).status_code
    assert 403 == (await client.get(f"/reports/2026-11/{b.district_id}.csv")).status_code
    assert 403 == (await client.get("/reports/2026-11/city.json")).status_code
    assert 403 == (await client.post("/reports/generate",
                                     data={"csrf": csrf, "month": "2026-11"})).status_code
