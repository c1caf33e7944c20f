"""The billing API: tariff and package versions, wallet movements, subscriptions, charges
and statements; 422 naming the field, 409 for what the ledger refuses, audit rows, scope."""

from __future__ import annotations

from typing import Any

import httpx

from csms.api.access import Role
from csms.app import Csms
from tests.api.conftest import TokenFactory, bearer
from tests.api.test_organisation import (
    Headers,
    Place,
    admin,
    audit_rows,
    error_fields,
    new_place,
    ok,
)

__all__ = ["admin"]

YUNNAN: dict[str, Any] = {
    "name": "yunnan-residential-2024", "effective_from": "2024-01-01T00:00:00+08:00",
    "electricity": {"default_yuan_per_kwh": "0.61", "segments": [
        {"start": "00:00", "end": "08:00", "period": "valley", "yuan_per_kwh": "0.31"}]},
    "service": {"default_yuan_per_kwh": "0.40"},
}


async def resident(http: httpx.AsyncClient, headers: Headers, place: Place) -> int:
    made = await ok(await http.post("/residents", headers=headers, json={
        "community_id": place.community_id, "name": "张三"}), 201)
    return int(made["id"])


class TestTariffsAndPackages:
    async def test_versions_are_created_read_and_audited(
        self, csms: Csms, http: httpx.AsyncClient, admin: Headers
    ) -> None:
        place = await new_place(http, admin, "甲")
        made = await ok(await http.post("/tariffs", headers=admin, json={
            **YUNNAN, "community_id": place.community_id}), 201)
        assert ("0.61", "0.31", "00:00", "08:00", "CNY") == (
            made["electricity"]["default_yuan_per_kwh"],
            made["electricity"]["segments"][0]["yuan_per_kwh"],
            made["electricity"]["segments"][0]["start"], made["electricity"]["segments"][0]["end"],
            made["currency"])
        assert 409 == (await http.post("/tariffs", headers=admin, json={
            **YUNNAN, "community_id": place.community_id})).status_code
        later = await ok(await http.post("/tariffs", headers=admin, json={
            **YUNNAN, "effective_from": "2027-01-01T00:00:00+08:00",
            "site_id": place.site_id}), 201)
        listed = await ok(await http.get("/tariffs", headers=admin))
        assert [made["id"], later["id"]] == [x["id"] for x in listed["items"]]
        assert made == await ok(await http.get(f"/tariffs/{made['id']}", headers=admin))
        assert [("create",)] == [r[1:2] for r in await audit_rows(csms, "tariff", made["id"])]
        first = await ok(await http.post("/packages", headers=admin, json={
            "code": "v20", "name": "谷时", "price_yuan": "30", "included_kwh": "20",
            "periods": ["valley"], "communities": [place.community_id]}), 201)
        second = await ok(await http.post("/packages", headers=admin, json={
            "code": "v20", "name": "谷时", "price_yuan": "35", "included_kwh": "20",
            "communities": [place.community_id]}), 201)
        assert (1, 2, "30.00", ["valley"], None) == (
            first["version"], second["version"], first["price_yuan"], first["periods"],
            second["periods"])

    async def test_bad_input_names_the_field(
        self, http: httpx.AsyncClient, admin: Headers
    ) -> None:
        place = await new_place(http, admin, "乙")
        wrap = {**YUNNAN, "community_id": place.community_id, "electricity": {
            "default_yuan_per_kwh": "0.61", "segments": [
                {"start": "22:00", "end": "06:00", "period": "valley", "yuan_per_kwh": "0.3"}]}}
        assert 422 == (await http.post("/tariffs", headers=admin, json=wrap)).status_code
        both = {**YUNNAN, "community_id": place.community_id, "site_id": place.site_id}
        assert 422 == (await http.post("/tariffs", headers=admin, json=both)).status_code
        assert [["body", "zone"]] == error_fields(await http.post("/tariffs", headers=admin, json={
            **YUNNAN, "community_id": place.community_id, "zone": "Mars/Base"}))
        assert [["body", "community_id"]] == error_fields(await http.post(
            "/tariffs", headers=admin, json={**YUNNAN, "community_id": 999}))
        assert [["body", "price_yuan"]] == error_fields(await http.post(
            "/packages", headers=admin, json={
                "code": "x", "name": "x", "price_yuan": "1.005", "included_kwh": "1",
                "communities": [place.community_id]}))


class TestWallets:
    async def test_movements_are_idempotent_refused_beyond_the_balance_and_audited(
        self, csms: Csms, http: httpx.AsyncClient, admin: Headers
    ) -> None:
        place = await new_place(http, admin, "丙")
        rid = await resident(http, admin, place)
        wallet = f"/residents/{rid}/wallet"
        top = {"amount_yuan": "50.00", "ref": "pay-1"}
        first = await ok(await http.post(f"{wallet}/top-ups", headers=admin, json=top), 201)
        again = await ok(await http.post(f"{wallet}/top-ups", headers=admin, json=top), 201)
        assert first == again
        assert 409 == (await http.post(f"{wallet}/refunds", headers=admin,
                                       json={"amount_yuan": "50.01"})).status_code
        await ok(await http.post(f"{wallet}/refunds", headers=admin,
                                 json={"amount_yuan": "20"}), 201)
        assert 409 == (await http.post(f"{wallet}/adjustments", headers=admin, json={
            "amount_yuan": "-30.01", "memo": "too much"})).status_code
        await ok(await http.post(f"{wallet}/adjustments", headers=admin, json={
            "amount_yuan": "-0.50", "memo": "rounding"}), 201)
        assert [["body", "amount_yuan"]] == error_fields(await http.post(
            f"{wallet}/adjustments", headers=admin, json={"amount_yuan": "0", "memo": "x"}))
        assert [["body", "amount_yuan"]] == error_fields(await http.post(
            f"{wallet}/top-ups", headers=admin, json={"amount_yuan": "-1"}))
        assert {"resident_id": rid, "balance_yuan": "29.50", "owed_yuan": "0.00"} == await ok(
            await http.get(wallet, headers=admin))
        entries = await ok(await http.get(f"{wallet}/entries", headers=admin))
        assert ["50.00", "-20.00", "-0.50"] == [e["amount_yuan"] for e in entries["items"]]
        assert ["top_up", "refund", "adjust"] == [r[1] for r in await audit_rows(
            csms, "wallet", rid)]
        assert 404 == (await http.get("/residents/9999/wallet", headers=admin)).status_code

    async def test_scope_and_read_only_roles(
        self, http: httpx.AsyncClient, admin: Headers, token: TokenFactory
    ) -> None:
        mine, other = await new_place(http, admin, "丁"), await new_place(http, admin, "戊")
        rid, stranger = await resident(http, admin, mine), await resident(http, admin, other)
        await ok(await http.post("/tariffs", headers=admin, json={
            **YUNNAN, "community_id": other.community_id}), 201)
        prop = bearer(await token(Role.PROPERTY, community_id=mine.community_id))
        assert 200 == (await http.get(f"/residents/{rid}/wallet", headers=prop)).status_code
        assert 403 == (await http.get(f"/residents/{stranger}/wallet",
                                      headers=prop)).status_code
        assert 403 == (await http.post(f"/residents/{rid}/wallet/top-ups", headers=prop,
                                       json={"amount_yuan": "1"})).status_code
        assert [] == (await ok(await http.get("/tariffs", headers=prop)))["items"]
        statement = await ok(await http.get(f"/residents/{rid}/statements/2026-11",
                                            headers=prop))
        assert ("0.00", "0.00", []) == (statement["opening_balance_yuan"],
                                        statement["closing_balance_yuan"], statement["sessions"])
        assert 422 == (await http.get(f"/residents/{rid}/statements/2026-13",
                                      headers=prop)).status_code


class TestSubscriptions:
    async def test_purchase_renewal_at_the_latest_version_and_refusals(
        self, csms: Csms, http: httpx.AsyncClient, admin: Headers
    ) -> None:
        """A package bought for November is paid from the wallet; renewing it buys December
        at the package's latest price; a second renewal, or one without money, is 409."""
        place = await new_place(http, admin, "己")
        rid = await resident(http, admin, place)
        body = {"code": "m", "name": "月包", "price_yuan": "30", "included_kwh": "50",
                "communities": [place.community_id]}
        package = await ok(await http.post("/packages", headers=admin, json=body), 201)
        subs = f"/residents/{rid}/subscriptions"
        buy = {"package_id": package["id"], "month": "2026-11"}
        assert 409 == (await http.post(subs, headers=admin, json=buy)).status_code  # no money
        await ok(await http.post(f"/residents/{rid}/wallet/top-ups", headers=admin,
                                 json={"amount_yuan": "65"}), 201)
        bought = await ok(await http.post(subs, headers=admin, json=buy), 201)
        assert 409 == (await http.post(subs, headers=admin, json=buy)).status_code  # twice
        newer = await ok(await http.post("/packages", headers=admin, json={
            **body, "price_yuan": "35"}), 201)
        renewed = await ok(await http.post(f"{subs}/{bought['id']}/renewals", headers=admin),
                           201)
        assert (newer["id"], "2026-12") == (renewed["package_id"], renewed["month"])
        assert 409 == (await http.post(f"{subs}/{bought['id']}/renewals",
                                       headers=admin)).status_code
        assert 409 == (await http.post(f"{subs}/{renewed['id']}/renewals",
                                       headers=admin)).status_code  # 0 yuan left for 35
        listed = await ok(await http.get(subs, headers=admin))
        assert [("50.00", "50.00")] * 2 == [(s["included_kwh"], s["remaining_kwh"])
                                            for s in listed]
        assert {"resident_id": rid, "balance_yuan": "0.00", "owed_yuan": "0.00"} == await ok(
            await http.get(f"/residents/{rid}/wallet", headers=admin))
        assert 404 == (await http.post(f"{subs}/999/renewals", headers=admin)).status_code
        elsewhere = await new_place(http, admin, "庚")
        foreign = await ok(await http.post("/packages", headers=admin, json={
            **body, "code": "other", "communities": [elsewhere.community_id]}), 201)
        refused = await http.post(subs, headers=admin, json={
            "package_id": foreign["id"], "month": "2027-01"})
        assert (409, True) == (refused.status_code, "does not apply" in refused.text)
