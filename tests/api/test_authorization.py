"""Every role against every endpoint: the policy in ``csms.api.access`` is what the API does.

The routes are enumerated from the app, so an endpoint added later is checked too; each must
declare its family and mode through exactly one ``require(...)`` dependency.
"""

from __future__ import annotations

import re
from typing import Any

import httpx
import pytest
from fastapi.routing import APIRoute
from sqlalchemy import func, insert, select

from csms.api.access import Family, Role, permitted
from csms.api.app import create_app
from csms.app import Csms
from csms.resident.qr import PAGE_PREFIX
from csms.store import tables as t
from tests.api.conftest import TokenFactory, bearer

OPEN_PATHS = {"/healthz", "/readyz", "/metrics"}
RESIDENT_PAGES = f"{PAGE_PREFIX}/"  # a resident's card and PIN, not a token (csms.resident)


def declared(route: APIRoute) -> list[tuple[Family, str]]:
    """The (family, mode) pairs of the route's ``require`` dependencies."""
    found = []
    stack = list(route.dependant.dependencies)
    while stack:
        dependency = stack.pop()
        call: Any = dependency.call
        if hasattr(call, "family"):
            found.append((call.family, call.mode))
        stack.extend(dependency.dependencies)
    return found


def api_routes(app_csms: Csms) -> list[APIRoute]:
    app = create_app(app_csms)
    return [r for r in app.routes if isinstance(r, APIRoute) and r.path not in OPEN_PATHS
            and not r.path.startswith(RESIDENT_PAGES)]


def concrete(path: str) -> str:
    """A request path for a templated one: ids that exist nowhere."""
    return re.sub(r"\{[^}]+\}", "999999", path)


async def scoped_places(csms: Csms) -> tuple[int, int]:
    async with csms.engine.begin() as conn:
        district = (await conn.execute(insert(t.districts).values(
            name="测试区", code="999001").returning(t.districts.c.id))).scalar_one()
        community = (await conn.execute(insert(t.communities).values(
            district_id=district, name="测试小区").returning(t.communities.c.id))).scalar_one()
    return district, community


async def role_tokens(csms: Csms, token: TokenFactory) -> dict[Role, str]:
    district, community = await scoped_places(csms)
    return {
        Role.ADMIN: await token(Role.ADMIN),
        Role.OPERATOR: await token(Role.OPERATOR),
        Role.DISTRICT: await token(Role.DISTRICT, district_id=district),
        Role.PROPERTY: await token(Role.PROPERTY, community_id=community),
        Role.SAFETY_PLATFORM: await token(Role.SAFETY_PLATFORM),
    }


async def audit_rows(csms: Csms) -> int:
    async with csms.engine.connect() as conn:
        return int((await conn.execute(select(func.count()).select_from(t.audit_log)))
                   .scalar_one())


class TestPolicy:
    def test_every_endpoint_declares_one_family(self, csms: Csms) -> None:
        """No endpoint escapes the policy: each has exactly one require(family, mode)."""
        for route in api_routes(csms):
            assert 1 == len(declared(route)), (route.path, route.methods)

    async def test_every_endpoint_wants_a_token(
        self, csms: Csms, http: httpx.AsyncClient
    ) -> None:
        """Without a token every endpoint answers 401."""
        for route in api_routes(csms):
            for method in route.methods or ():
                answer = await http.request(method, concrete(route.path), json={})
                assert 401 == answer.status_code, (method, route.path)

    @pytest.mark.parametrize("role", list(Role))
    async def test_each_role_gets_exactly_what_the_policy_allows(
        self, csms: Csms, http: httpx.AsyncClient, token: TokenFactory, role: Role
    ) -> None:
        """Forbidden: 403 and nothing written. Allowed: never 403 for a resource that does
        not exist (it is 404, 422 or a list), and never a server error."""
        secret = (await role_tokens(csms, token))[role]
        before = await audit_rows(csms)
        for route in api_routes(csms):
            [(family, mode)] = declared(route)
            for method in route.methods or ():
                answer = await http.request(method, concrete(route.path), json={},
                                            headers=bearer(secret))
                where = (role.value, method, route.path, answer.text[:200])
                assert answer.status_code < 500, where
                if permitted(role, family, mode):
                    assert 403 != answer.status_code, where
                else:
                    assert 403 == answer.status_code, where
        if role not in (Role.ADMIN, Role.OPERATOR):
            assert before == await audit_rows(csms)
