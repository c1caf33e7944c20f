"""Operations endpoints and API-token authentication."""

from __future__ import annotations

import httpx

from csms.app import Csms, running
from tests.api.conftest import TokenFactory, bearer
from tests.conftest import make_settings
from tests.integration.test_server import raw


class TestOperations:
    async def test_health_and_readiness(self, http: httpx.AsyncClient) -> None:
        """/healthz answers; /readyz checks the database and the OCPP listener."""
        assert {"status": "ok"} == (await http.get("/healthz")).json()
        ready = await http.get("/readyz")
        assert (200, "ready") == (ready.status_code, ready.json()["status"])

    async def test_metrics_count_messages_by_action(
        self, csms: Csms, http: httpx.AsyncClient
    ) -> None:
        """Prometheus text shows messages in by action and connected charge points."""
        async with raw(csms, "CP-MET") as ws:
            await ws.send('[2,"1","Heartbeat",{}]')
            await ws.recv()
            text = (await http.get("/metrics")).text
        assert 'csms_ocpp_messages_total{action="Heartbeat",direction="in"} 1.0' in text
        assert 'csms_connected_charge_points{version="ocpp1.6"} 1.0' in text
        assert "csms_db_commit_seconds_bucket" in text
        assert f'csms_node_info{{node="{csms.settings.cluster.node()}"}} 1.0' in text

    async def test_openapi_document_is_served(self, http: httpx.AsyncClient) -> None:
        """/openapi.json describes the API; /docs is the interactive page."""
        assert "/api-tokens" in (await http.get("/openapi.json")).json()["paths"]
        assert 200 == (await http.get("/docs")).status_code


class TestTokens:
    async def test_missing_or_bad_token_is_401(self, http: httpx.AsyncClient) -> None:
        """No token, a malformed one and a wrong secret all get 401 with a Bearer challenge."""
        for headers in ({}, bearer("nonsense"), bearer("csms_0000000000000000_wrong")):
            answer = await http.get("/api-tokens", headers=headers)
            assert 401 == answer.status_code
            assert "Bearer" == answer.headers["www-authenticate"]

    async def test_admin_creates_lists_and_revokes(
        self, http: httpx.AsyncClient, token: TokenFactory
    ) -> None:
        """A created token works at once and stops working when revoked; others get 403."""
        admin = bearer(await token("admin"))
        created = await http.post("/api-tokens", headers=admin, json={"role": "operator"})
        assert 201 == created.status_code
        operator = bearer(created.json()["token"])
        assert 403 == (await http.get("/api-tokens", headers=operator)).status_code
        listed = (await http.get("/api-tokens", headers=admin)).json()
        assert created.json()["id"] in [t["id"] for t in listed]
        assert "token" not in listed[0]
        assert 204 == (await http.delete(f"/api-tokens/{created.json()['id']}",
                                          headers=admin)).status_code
        assert 401 == (await http.get("/api-tokens", headers=operator)).status_code

    async def test_scope_rules_are_checked_at_creation(
        self, http: httpx.AsyncClient, token: TokenFactory
    ) -> None:
        """A property token needs a community; an operator token cannot be scoped."""
        admin = bearer(await token("admin"))
        for body in ({"role": "property"}, {"role": "operator", "district_id": 1}):
            assert 422 == (await http.post("/api-tokens", headers=admin, json=body)).status_code


class TestMetricsToken:
    async def test_metrics_need_the_token_when_one_is_set(self, database_url: str) -> None:
        """With api.metrics_token, /metrics is 401 without it or with another, 200 with it;
        the other operations endpoints stay open."""
        secret = "metrics-token-0123456789"
        settings = make_settings(database_url)
        settings = settings.model_copy(update={
            "api": settings.api.model_copy(update={"metrics_token": secret})})
        async with running(settings) as app, httpx.AsyncClient(
                base_url=f"http://127.0.0.1:{app.api_port}", timeout=10) as http:
            assert 401 == (await http.get("/metrics")).status_code
            assert 401 == (await http.get("/metrics", headers=bearer("x" * 24))).status_code
            answer = await http.get("/metrics", headers=bearer(secret))
            assert 200 == answer.status_code
            assert "csms_db_commit_seconds_bucket" in answer.text
            assert 200 == (await http.get("/healthz")).status_code
