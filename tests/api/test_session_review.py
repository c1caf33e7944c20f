"""``POST /sessions/{id}/review``: an operator's decision on a session that is not billed
until reviewed (issue 20, defect 9): who may decide, what it changes, what it refuses."""

from __future__ import annotations

import httpx
from sqlalchemy import insert

from csms.api.access import Role
from csms.app import Csms
from csms.store import tables as t
from tests.api.conftest import TokenFactory, bearer
from tests.integration.test_server import call, raw
from tests.integration.test_transactions import session_rows, tx_event, v201_register


async def flagged_session(csms: Csms) -> int:
    """An offline 2.0.1 session whose Transaction.Begin was 0 before the real register."""
    async with raw(csms, "CP-RV", "ocpp2.0.1") as ws:
        await call(ws, "TransactionEvent", tx_event(
            "Started", 0, 0, offline=True, evse={"id": 1, "connectorId": 1},
            meterValue=v201_register(0, 0)), "a")
        await call(ws, "TransactionEvent", tx_event(
            "Ended", 1, 30, offline=True, meterValue=[
                *v201_register(500_000, 1), *v201_register(502_000, 30)]), "b")
    [session] = await session_rows(csms, "CP-RV")
    return int(session.id)


async def a_district(csms: Csms) -> int:
    async with csms.engine.begin() as conn:
        return int((await conn.execute(insert(t.districts).values(name="五华区")
                                       .returning(t.districts.c.id))).scalar_one())


async def test_an_operator_decides_once_and_others_may_not(
    csms: Csms, http: httpx.AsyncClient, token: TokenFactory
) -> None:
    """Safety platform and district 403; operator 200 (flags reviewed, no longer waiting);
    again 409; 404."""
    session_id = await flagged_session(csms)
    path = f"/sessions/{session_id}/review"
    listed = (await http.get(f"/sessions/{session_id}",
                             headers=bearer(await token(Role.ADMIN)))).json()
    assert (True, ["implausible_baseline"]) == (listed["needs_review"], listed["flags"])
    body = {"decision": "bill", "comment": "checked the meter"}
    for role in (Role.SAFETY_PLATFORM, Role.DISTRICT):  # neither may decide on billing
        reader = bearer(await token(role, district_id=await a_district(csms)
                                    if role is Role.DISTRICT else None))
        assert 403 == (await http.post(path, headers=reader, json=body)).status_code
    operator = bearer(await token(Role.OPERATOR))
    decided = await http.post(path, headers=operator, json=body)
    assert 200 == decided.status_code
    assert (False, ["implausible_baseline", "reviewed"], 2000.0) == (
        decided.json()["needs_review"], decided.json()["flags"], decided.json()["energy_wh"])
    assert 409 == (await http.post(path, headers=operator, json=body)).status_code
    assert 404 == (await http.post("/sessions/999999/review", headers=operator,
                                   json=body)).status_code
    assert 422 == (await http.post(path, headers=operator,
                                   json={"decision": "maybe", "comment": "x"})).status_code
