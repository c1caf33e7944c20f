"""Reading the audit log over the API (family admin): filters, paging, the chain check; and
charge-point security events and boots recorded in it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from sqlalchemy import text

from csms.api.access import Role
from csms.app import Csms
from csms.domain.model import StationBooted, StationEventReported
from tests.api.conftest import TokenFactory, bearer
from tests.conftest import eventually


async def page(http: httpx.AsyncClient, admin: str, **params: Any) -> dict[str, Any]:
    answer = await http.get("/audit-log", headers=bearer(admin), params=params)
    assert 200 == answer.status_code, answer.text
    found: dict[str, Any] = answer.json()
    return found


class TestAuditLogApi:
    async def test_filters_and_pages_newest_first(
        self, http: httpx.AsyncClient, token: TokenFactory
    ) -> None:
        """Token creations are audited; filter by resource, actor, action and time; page."""
        admin = await token(Role.ADMIN)
        for _ in range(3):
            assert 201 == (await http.post("/api-tokens", headers=bearer(admin),
                                           json={"role": "operator"})).status_code
        everything = await page(http, admin, resource="api_token", action="create")
        assert 4 == everything["total"]  # the test's admin token and three by the API
        seqs = [r["seq"] for r in everything["items"]]
        assert sorted(seqs, reverse=True) == seqs
        mine = await page(http, admin, actor=f"token:{admin.split('_')[1]}")
        assert 3 == mine["total"]
        second = await page(http, admin, resource="api_token", limit=2, offset=2)
        assert (seqs[2:4], 2) == ([r["seq"] for r in second["items"]], second["limit"])
        later = (datetime.now(UTC) + timedelta(minutes=1)).isoformat()
        assert 0 == (await page(http, admin, since=later))["total"]
        assert 4 == (await page(http, admin, until=later, resource="api_token"))["total"]
        assert 64 == len(everything["items"][0]["hash"])

    async def test_bad_filters_are_422(self, http: httpx.AsyncClient,
                                       token: TokenFactory) -> None:
        """A time without offset or a control character is refused naming the parameter."""
        admin = await token(Role.ADMIN)
        for params, name in (({"since": "2026-01-01T00:00:00"}, "since"),
                             ({"actor": "a\u0001"}, "actor")):
            answer = await http.get("/audit-log", headers=bearer(admin), params=params)
            assert 422 == answer.status_code
            assert name in answer.text

    async def test_only_admins_read_it(self, http: httpx.AsyncClient,
                                       token: TokenFactory) -> None:
        """Operators (and every scoped role) get 403."""
        operator = await token(Role.OPERATOR)
        assert 403 == (await http.get("/audit-log", headers=bearer(operator))).status_code

    async def test_verify_reports_the_chain(self, csms: Csms, http: httpx.AsyncClient,
                                            token: TokenFactory) -> None:
        """Intact: ok with the count; after a row is altered behind the triggers: its seq."""
        admin = await token(Role.ADMIN)
        total = (await page(http, admin))["total"]  # the configuration and the token
        intact = (await http.get("/audit-log/verify", headers=bearer(admin))).json()
        assert (True, total, total, None) == (intact["ok"], intact["records"],
                                              intact["head_seq"], intact["broken_seq"])
        async with csms.engine.begin() as conn:
            if conn.dialect.name == "postgresql":
                await conn.execute(text("ALTER TABLE audit_log DISABLE TRIGGER USER"))
            else:
                await conn.execute(text("DROP TRIGGER audit_log_no_update"))
            await conn.execute(text("UPDATE audit_log SET details = '{}' WHERE seq = 1"))
        found = (await http.get("/audit-log/verify", headers=bearer(admin))).json()
        assert (False, 1, "altered") == (found["ok"], found["broken_seq"], found["problem"])


class TestChargerEventsAudited:
    async def test_security_events_and_boots_are_recorded(
        self, csms: Csms, http: httpx.AsyncClient, token: TokenFactory
    ) -> None:
        """A SecurityEventNotification and a boot become audit rows of the charge point;
        other station events do not."""
        admin = await token(Role.ADMIN)
        now = datetime.now(UTC)
        csms.bus.publish(StationEventReported("CP-9", "firmware_status", now, code="Installed"))
        csms.bus.publish(StationEventReported("CP-9", "security_event", now,
                                              code="TamperDetectionActivated",
                                              details={"techInfo": "lid open"}))
        csms.bus.publish(StationBooted("CP-9", "Acme", "X1", "SN-1", "2.1", "PowerUp", now))
        found = await eventually(lambda: page(http, admin, resource_id="CP-9"),
                                 lambda p: p["total"] == 2)
        boot, security = found["items"]
        assert ("station:CP-9", "security_event", "TamperDetectionActivated", "lid open") == (
            security["actor"], security["action"], security["details"]["type"],
            security["details"]["details"]["techInfo"])
        assert ("boot", "2.1") == (boot["action"], boot["details"]["firmware_version"])
