"""Billing in the running CSMS: pricing at session end, credit at authorization, cost reads.

Wiring only (the composition root calls :meth:`BillingService.attach`): the session
recorder prices and posts each session in the unit that ends it
(:class:`csms.store.billing.store.SessionBilling`), transaction starts and Authorize get the
resident's credit for the NoCredit rule (:mod:`csms.domain.authorization`, Rule 2), and the
2.0.1 handler reads a session's posted cost for ``totalCost``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from contextlib import suppress
from dataclasses import replace
from datetime import datetime
from decimal import Decimal

import structlog
from sqlalchemy.ext.asyncio import AsyncConnection

from csms.config import BillingSettings
from csms.domain.authorization import TokenRecord
from csms.services.billing.costs import CostDisplay
from csms.services.commands.service import CommandService
from csms.services.events import EventBus
from csms.services.stations import StationService
from csms.store.billing.store import SessionBilling, credit_of_token, session_cost_yuan
from csms.store.repository import Store
from csms.tariffs.ledger import WalletPolicy

log = structlog.get_logger(__name__)


class BillingService:
    """Credit look-ups and session costs for the station service (``BillingHooks``)."""

    def __init__(self, store: Store, settings: BillingSettings,
                 clock: Callable[[], datetime]) -> None:
        self._store = store
        self._settings = settings
        self._clock = clock
        self._costs: asyncio.Task[None] | None = None
        self._unsubscribe: Callable[[], None] | None = None

    def attach(self, stations: StationService) -> None:
        """Hook billing into the session recorder and the station service."""
        if not self._settings.enabled:
            return
        policy = WalletPolicy(self._settings.credit_floor_yuan)
        self._store.sessions.end_hooks.append(SessionBilling(policy).session_ended)
        self._store.sessions.credit = self._credit_in
        stations.billing = self

    def start_costs(self, commands: CommandService, bus: EventBus) -> None:
        """Cost on the chargers' displays (csms.services.billing.costs): its own task."""
        if not self._settings.enabled:
            return
        display = CostDisplay(self._store, commands, self._settings, self._clock)
        self._unsubscribe = bus.subscribe(display.listen)
        self._costs = asyncio.create_task(display.run(), name="billing-costs")

    async def stop(self) -> None:
        if self._unsubscribe is not None:
            self._unsubscribe()
        if self._costs is not None:
            self._costs.cancel()
            with suppress(asyncio.CancelledError):
                await self._costs

    async def credit(self, record: TokenRecord) -> TokenRecord:
        """``record`` with its resident's wallet balance and package kWh left (read now)."""
        async with self._store.engine.connect() as conn:
            return await self._credit_in(conn, record)

    async def _credit_in(self, conn: AsyncConnection, record: TokenRecord) -> TokenRecord:
        credit = await credit_of_token(conn, record.id_token, self._clock())
        minimum = self._settings.min_balance_yuan
        if credit is not None and minimum is not None and not credit.sufficient(minimum):
            log.info("billing.no_credit", id_token=record.id_token,
                     balance_yuan=str(credit.balance_yuan),
                     package_kwh_left=str(credit.package_kwh_left),
                     min_balance_yuan=str(minimum))
        return replace(record, credit=credit)

    async def session_cost(self, session_id: int) -> Decimal | None:
        async with self._store.engine.connect() as conn:
            return await session_cost_yuan(conn, session_id)
