"""The console's pages, one module per area."""

from __future__ import annotations

from fastapi import APIRouter

from csms.console.routes import (
    alarms,
    billing,
    chargers,
    city,
    lists,
    load,
    overview,
    signin,
    wallets,
)

ROUTERS: list[APIRouter] = [signin.router, overview.router, alarms.router, load.router,
                            chargers.router, lists.router, wallets.router, billing.router,
                            city.router]
