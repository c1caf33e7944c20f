"""One router per endpoint family; each module's ``router`` is listed here."""

from __future__ import annotations

from fastapi import APIRouter

from csms.api.routes import tokens

ROUTERS: list[APIRouter] = [tokens.router]

from csms.api.routes import live, safety, sessions  # noqa: E402 - appended per family

ROUTERS += [sessions.router, safety.router, live.router]

from csms.api.routes import network, organisation, residents  # noqa: E402 - appended per family

ROUTERS += [organisation.router, network.router, residents.router]

from csms.api.routes import billing, billing_wallets  # noqa: E402 - appended per family

ROUTERS += [billing.router, billing_wallets.router]

from csms.api.routes import load  # noqa: E402 - appended per family

ROUTERS += [load.router]

from csms.api.routes import coverage  # noqa: E402 - appended per family

ROUTERS += [coverage.router]

from csms.api.routes import reports  # noqa: E402 - appended per family

ROUTERS += [reports.router]
from csms.api.routes import device_model  # noqa: E402 - appended per family

ROUTERS += [device_model.router]

from csms.api.routes import file_transfer, firmware, logs  # noqa: E402 - appended per family

ROUTERS += [firmware.router, logs.router, file_transfer.router]

from csms.api.routes import tx_commands  # noqa: E402 - appended per family

ROUTERS += [tx_commands.router]

from csms.api.routes import local_lists, reservations  # noqa: E402 - appended per family

ROUTERS += [local_lists.router, reservations.router]

from csms.api.routes import certificates  # noqa: E402 - appended per family

ROUTERS += [certificates.router]
from csms.api.routes import platform  # noqa: E402 - appended per family

ROUTERS += [platform.router]
