"""Cost on the charger's display: running cost while a session runs, final cost at its end.

Rules:
1. Listens on the event bus (after commit): meter values of a session (1.6 MeterValues,
   2.0.1 TransactionEvent Updated with samples) ask for a running cost; a session's end asks
   for the final cost. The listener decides from memory (the stations' versions from their
   connections, the last look per session) and only queues; one task prices and sends.
2. 2.0.1 stations get CostUpdated with the running cost, at most once per
   ``billing.cost_update_interval_s`` per session (0: never; a session without a tariff
   is looked at no more often either); the final cost is the
   TransactionEventResponse's totalCost (csms.handlers.messages.v201), not a command.
3. 1.6 stations listed in ``billing.show_cost_charge_points`` get California-pricing
   DataTransfer RunningCost (same throttle) and FinalCost once the session is posted.
4. The running cost is what the resident would pay if the session ended at its last
   reading: priced by the pure core like the end (packages first), rounded half-up, never
   posted. A station that is offline or does not answer is logged and skipped.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

import structlog

from csms.config import BillingSettings
from csms.domain.commands import ShowCost
from csms.domain.model import SessionEventKind
from csms.errors import CommandError
from csms.services.commands.service import CommandService
from csms.services.events import (
    DomainEvent,
    MeterValuesRecorded,
    SessionRecorded,
    StationConnected,
)
from csms.store.billing.store import running_cost_yuan, session_cost_yuan
from csms.store.repository import Store

log = structlog.get_logger(__name__)
V16 = "ocpp1.6"


@dataclass(frozen=True, slots=True)
class _Ask:
    station_id: str
    session_id: int
    transaction_ref: str
    final: bool


class CostDisplay:
    """Rules 1–4; ``listen`` goes on the bus, ``run`` is the task."""

    def __init__(self, store: Store, commands: CommandService, settings: BillingSettings,
                 clock: Callable[[], datetime]) -> None:
        self._store = store
        self._commands = commands
        self._settings = settings
        self._clock = clock
        self._queue: asyncio.Queue[_Ask] = asyncio.Queue(maxsize=10_000)
        self._last: dict[int, datetime] = {}
        self._versions: dict[str, str] = {}  # station -> subprotocol, from connections

    def listen(self, event: DomainEvent) -> None:
        """Queue what is wanted (Rules 1–3); decided here, without a database read."""
        if isinstance(event, StationConnected):
            self._versions[event.station_id] = event.ocpp_version
            return
        ask: _Ask | None = None
        if isinstance(event, MeterValuesRecorded) and event.session_id is not None:
            ref = event.event.transaction_ref
            if ref is not None:
                ask = _Ask(event.event.station_id, event.session_id, ref, final=False)
        elif isinstance(event, SessionRecorded) and event.session_id is not None:
            e = event.event
            if e.transaction_ref is not None and e.kind is SessionEventKind.ENDED:
                ask = _Ask(e.station_id, event.session_id, e.transaction_ref, final=True)
            elif e.transaction_ref is not None and e.samples and e.seq_no is not None:
                ask = _Ask(e.station_id, event.session_id, e.transaction_ref, final=False)
        if ask is not None and self._wanted(ask) and not self._queue.full():
            self._queue.put_nowait(ask)

    def _wanted(self, ask: _Ask) -> bool:
        is_v16 = self._versions.get(ask.station_id) == V16
        if ask.final:
            self._last.pop(ask.session_id, None)
            return is_v16 and ask.station_id in self._settings.show_cost_charge_points
        if is_v16 and ask.station_id not in self._settings.show_cost_charge_points:
            return False
        interval = self._settings.cost_update_interval_s
        now, last = self._clock(), self._last.get(ask.session_id)
        if interval <= 0 or (last is not None and now - last < timedelta(seconds=interval)):
            return False
        self._last[ask.session_id] = now  # at most one look per interval, priced or not
        return True

    async def run(self) -> None:
        while True:
            ask = await self._queue.get()
            try:
                await self._show(ask)
            except CommandError as exc:
                log.info("billing.cost_not_shown", station_id=ask.station_id,
                         session_id=ask.session_id, error=str(exc))
            except Exception as exc:  # noqa: BLE001 - one bad session must not stop the task
                log.warning("billing.cost_failed", station_id=ask.station_id,
                            session_id=ask.session_id, error=repr(exc))

    async def _show(self, ask: _Ask) -> None:
        if ask.final:
            await self._final_v16(ask)
            return
        async with self._store.engine.connect() as conn:
            cost = await running_cost_yuan(conn, ask.session_id)
        if cost is not None:
            await self._commands.send(ask.station_id, ShowCost(
                ask.transaction_ref, cost, text=_text(cost, final=False)))

    async def _final_v16(self, ask: _Ask) -> None:
        async with self._store.engine.connect() as conn:
            cost = await session_cost_yuan(conn, ask.session_id)
        if cost is not None:
            await self._commands.send(ask.station_id, ShowCost(
                ask.transaction_ref, cost, final=True, text=_text(cost, final=True)))


def _text(cost: Decimal, *, final: bool) -> str:
    return f"{'Total' if final else 'So far'}: {cost} CNY"
