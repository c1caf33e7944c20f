"""One router per endpoint family; each module's ``router`` is listed here."""

from __future__ import annotations

from fastapi import APIRouter

from csms.api.routes.admin import tokens

ROUTERS: list[APIRouter] = [tokens.router]

from csms.api.routes.commands import live  # noqa: E402 - appended per family
from csms.api.routes.safety import status  # noqa: E402 - appended per family
from csms.api.routes.sessions import records  # noqa: E402 - appended per family

ROUTERS += [records.router, status.router, live.router]

from csms.api.routes.city import organisation, residents  # noqa: E402 - appended per family
from csms.api.routes.stations import network  # noqa: E402 - appended per family

ROUTERS += [organisation.router, network.router, residents.router]

from csms.api.routes.billing import tariffs, wallets  # noqa: E402 - appended per family

ROUTERS += [tariffs.router, wallets.router]

from csms.api.routes.stations import load  # noqa: E402 - appended per family

ROUTERS += [load.router]

from csms.api.routes.city import coverage  # noqa: E402 - appended per family

ROUTERS += [coverage.router]

from csms.api.routes.city import reports  # noqa: E402 - appended per family

ROUTERS += [reports.router]
from csms.api.routes.commands import device_model  # noqa: E402 - appended per family

ROUTERS += [device_model.router]

from csms.api.routes.files import firmware, logs, transfer  # noqa: E402 - appended per family

ROUTERS += [firmware.router, logs.router, transfer.router]

from csms.api.routes.commands import transactions  # noqa: E402 - appended per family

ROUTERS += [transactions.router]

from csms.api.routes.commands import local_lists  # noqa: E402 - appended per family
from csms.api.routes.sessions import reservations  # noqa: E402 - appended per family

ROUTERS += [local_lists.router, reservations.router]

from csms.api.routes.commands import certificates  # noqa: E402 - appended per family

ROUTERS += [certificates.router]
from csms.api.routes.platform import pushes  # noqa: E402 - appended per family

ROUTERS += [pushes.router]
