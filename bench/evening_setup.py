"""The community network of ``bench.evening``, written before the CSMS under test starts.

Run as a script (``python bench/evening_setup.py ...``, by path, with ``PYTHONPATH`` naming
the CSMS tree under test), so that the tree's own store code writes the data: the evening
benchmark runs it once for the working tree and once for ``--compare REV``. It imports
nothing from ``bench``.

Rules:
1. The places and people are plain rows (districts, communities, sites, charge points,
   residents, id tokens), bulk-inserted: ``--per-site`` chargers per site, one community
   per site, one resident with one card per connector (the card of connector ``c`` of
   charger ``i`` is ``EVT<i:05d><c>``).
2. What billing and load management decide on goes through the store's own writes, as the
   CLI does (``csms billing seed yunnan``, ``package create``, ``top-up``, ``subscribe``,
   ``csms load configure``): the Yunnan residential tariff for every community, one package
   covering the electricity of every period (so each session end writes package usage and
   a wallet debit for the service fee), a top-up and a subscription for every resident for
   the month in force, and load settings for every site.
3. A webhook subscription for every notice kind to ``--webhook-url`` and an admin API token
   (printed once, for the SSE feed subscriber) complete it. The output is one JSON line.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from csms.api.access import Role
from csms.api.tokens import new_token
from csms.app import store_only
from csms.config import load_settings
from csms.domain.authorization import token_key
from csms.store import tables as t
from csms.store.access import AccessStore
from csms.store.billing.admin import BillingAdmin, PackageSpec
from csms.store.load.config import LoadConfig
from csms.store.repository import Store
from csms.store.sharing.outbox import Outbox

try:
    from csms.cli.billing import SEEDS
except ModuleNotFoundError:  # a tree from before the command line became a package (csms/cli/)
    from csms.cli_billing import SEEDS  # type: ignore[import-not-found,no-redef]
try:
    from csms.services.billing.tariffs import load_tariff_file
except ModuleNotFoundError:  # a tree from before the services were grouped (0291f1c)
    from csms.services.billing_tariffs import load_tariff_file  # type: ignore[import-not-found,no-redef]

ACTOR = "bench:evening"
CHUNK = 1000
SITE_LOAD = {"enabled": True, "transformer_kva": 630.0, "loading_factor": 0.8,
             "power_factor": 1.0, "margin_w": 0.0, "supply_phases": 3, "voltage_v": 220.0,
             "hard_cap_w": None, "reading_max_age_s": 300}


def station_id(i: int) -> str:
    return f"EVE-{i:05d}"


def card(i: int, connector: int) -> str:
    return f"EVT{i:05d}{connector}"


async def _rows(store: Store, chargers: int, per_site: int, now: datetime) -> int:
    """Rule 1; returns the number of sites."""
    sites = (chargers + per_site - 1) // per_site
    async with store.engine.begin() as conn:
        await conn.execute(t.districts.insert(), [{"id": 1, "name": "五华区"}])
        await conn.execute(t.communities.insert(), [
            {"id": s, "district_id": 1, "name": f"小区 {s}"} for s in range(1, sites + 1)])
        await conn.execute(t.sites.insert(), [
            {"id": s, "community_id": s, "name": f"车库 {s}"} for s in range(1, sites + 1)])
        for lo in range(0, chargers, CHUNK):
            hi = min(chargers, lo + CHUNK)
            await conn.execute(t.charge_points.insert(), [
                {"id": station_id(i), "site_id": 1 + i // per_site,
                 "registration_status": "Accepted", "created_at": now} for i in range(lo, hi)])
            people = [(i, c) for i in range(lo, hi) for c in (1, 2)]
            await conn.execute(t.residents.insert(), [
                {"id": 1 + 2 * i + c - 1, "community_id": 1 + i // per_site,
                 "name": f"住户 {i}-{c}", "created_at": now} for i, c in people])
            await conn.execute(t.id_tokens.insert(), [
                {"id_token": card(i, c), "token_key": token_key(card(i, c)),
                 "status": "Accepted", "resident_id": 1 + 2 * i + c - 1, "created_at": now}
                for i, c in people])
    return sites


async def _gathered(calls: list[Any]) -> None:
    for lo in range(0, len(calls), CHUNK):
        await asyncio.gather(*calls[lo:lo + CHUNK])


async def _billing(store: Store, sites: int, residents: int, now: datetime) -> None:
    """Rule 2, billing: tariffs, the package, wallets and subscriptions."""
    admin = BillingAdmin(store.writer, engine=store.engine)
    await _gathered([admin.create_tariff(load_tariff_file(SEEDS["yunnan"], community_id=s),
                                         now, ACTOR) for s in range(1, sites + 1)])
    package = await admin.create_package(PackageSpec(
        code="evening-500", name="电量包 500 度", price_yuan=Decimal("30.00"),
        included_kwh=Decimal("500"), coverage="electricity",
        communities=tuple(range(1, sites + 1))), now, ACTOR)
    await _gathered([admin.top_up(r, Decimal("500.00"), now, ACTOR, f"bench:{r}")
                     for r in range(1, residents + 1)])
    local = now.astimezone(ZoneInfo("Asia/Shanghai"))
    await _gathered([admin.subscribe(r, package, local.year, local.month, now, ACTOR)
                     for r in range(1, residents + 1)])


async def setup(config: Path, chargers: int, per_site: int, webhook_url: str) -> dict[str, Any]:
    settings = load_settings(config)
    now = datetime.now(UTC)
    started = time.perf_counter()
    async with store_only(settings, lambda: now) as store:
        sites = await _rows(store, chargers, per_site, now)
        await _billing(store, sites, 2 * chargers, now)
        loads = LoadConfig(store.writer)
        await _gathered([loads.put_site(s, SITE_LOAD, ACTOR) for s in range(1, sites + 1)])
        await Outbox(store.engine, store.writer).add({
            "url": webhook_url, "secret": "bench-evening-webhook-secret",
            "district_id": None, "community_id": None,
            "kinds": ["alarm", "connector_status", "station_event"], "min_level": 3,
            "description": "bench.evening receiver"}, ACTOR, now)
        secret, record = new_token(Role.ADMIN, created_by=ACTOR, now=now)
        await AccessStore(store.writer, store.engine).add_token(record)
    return {"api_token": secret, "sites": sites, "residents": 2 * chargers,
            "seconds": round(time.perf_counter() - started, 1)}


def main() -> int:
    p = argparse.ArgumentParser(prog="bench/evening_setup.py", description=__doc__)
    p.add_argument("--config", type=Path, required=True)
    p.add_argument("--chargers", type=int, required=True)
    p.add_argument("--per-site", type=int, default=20)
    p.add_argument("--webhook-url", required=True)
    a = p.parse_args()
    print(json.dumps(asyncio.run(setup(a.config, a.chargers, a.per_site, a.webhook_url))))
    return 0


if __name__ == "__main__":
    sys.exit(main())
