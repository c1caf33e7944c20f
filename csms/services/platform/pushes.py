"""The municipal platform feed in the running CSMS: pushes queued with their causes.

Rules:
1. Pushes are queued inside the unit of work that stores their cause, so a status, a
   session's end or a boot that committed has its push (and the charger is answered only
   after that commit): a connector status (``Store.status_hooks``), a session's end after
   billing priced it (``SessionRecorder.end_hooks``, after billing's hook), a boot
   of a charger on a site (station info, ``Store.boot_hooks``). Operators can queue station
   info for every site (:meth:`PlatformFeed.queue_station_info`, e.g. after changes). With
   ``platform.send_alarms``, an alarm raised or cleared on a charger of a sent site
   (``AlarmStore.in_transaction``, :meth:`PlatformFeed.queue_alarm`).
2. Only charge points on a site of ``platform.communities`` (all, if empty) are sent; a
   charge point's site is cached for ``PLACE_CACHE_S``.
3. Building an order never fails a session's end: an error is logged and the end commits.
4. The deliverer (csms.services.platform.delivery) is woken by the committed events on
   the bus, so a status reaches the platform within moments of its commit.
5. A charger that disconnects is sent as offline (0) on each of its connectors, one that
   connects with its stored statuses; best effort, like the connection events themselves
   (a push lost to a crash is corrected by the charger's next status).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from contextlib import suppress
from datetime import datetime, timedelta

import structlog

from csms.city.tcec import orders as tcec_orders
from csms.city.tcec.stations import (
    Connector,
    alarm_info,
    connector_status_info,
    station_info,
)
from csms.config import Settings
from csms.domain.model import ConnectorStatusChanged, StationBooted
from csms.services.events import (
    DomainEvent,
    EventBus,
    SessionRecorded,
    StationConnected,
    StationDisconnected,
)
from csms.services.platform.delivery import PlatformDeliverer
from csms.services.platform.pulls import PlatformAnswers
from csms.store.platform import (
    ALARM_INFO,
    CHARGE_ORDER,
    STATION_INFO,
    STATION_STATUS,
    PushStore,
    has_order,
    queue,
)
from csms.store.platform.reads import Place, connectors_of, order_of, place_of, sites
from csms.store.repository import Store
from csms.store.safety.alarms import AlarmChange
from csms.store.writer import WriteTx

log = structlog.get_logger(__name__)
PLACE_CACHE_S = 10.0


class PlatformFeed:
    """Hooks that queue pushes, the outbox and its deliverer; attach, start, stop."""

    def __init__(self, store: Store, settings: Settings, clock: Callable[[], datetime]
                 ) -> None:
        self._store = store
        self._p = settings.platform
        self._online_within = timedelta(seconds=3 * settings.server.heartbeat_interval_s)
        self._clock = clock
        self.pushes = PushStore(store.engine, store.writer)
        self.deliverer = PlatformDeliverer(self.pushes, self._p, clock)
        self.answers = PlatformAnswers(store.engine, self.pushes, settings, clock)
        self._places: dict[str, tuple[float, Place | None]] = {}
        self._task: asyncio.Task[None] | None = None
        self._unsubscribe: Callable[[], None] | None = None
        self._pending: set[asyncio.Task[None]] = set()  # rule 5's writes

    def attach(self) -> None:
        """Rule 1: hook into the store before the OCPP server takes connections."""
        self._store.status_hooks.append(self._status)
        self._store.boot_hooks.append(self._boot)
        self._store.sessions.end_hooks.append(self._session_ended)  # after billing's

    def start(self, bus: EventBus) -> None:
        self._unsubscribe = bus.subscribe(self._on_event)
        self._task = asyncio.create_task(self.deliverer.run(), name="platform-deliverer")

    async def stop(self) -> None:
        if self._unsubscribe is not None:
            self._unsubscribe()
        for pending in list(self._pending):
            with suppress(Exception):
                await pending
        if self._task is not None:
            self._task.cancel()
            with suppress(asyncio.CancelledError):
                await self._task

    def _on_event(self, event: DomainEvent) -> None:
        """Rules 4–5."""
        if isinstance(event, ConnectorStatusChanged | StationBooted | SessionRecorded):
            self.deliverer.wake()
        elif isinstance(event, StationConnected | StationDisconnected):
            task = asyncio.create_task(self._connection(
                event.station_id, isinstance(event, StationConnected)))
            self._pending.add(task)
            task.add_done_callback(self._pending.discard)

    async def _connection(self, station_id: str, online: bool) -> None:
        """Rule 5: every connector of the charger with its code now."""
        async def unit(tx: WriteTx) -> int:
            if await self._place(tx, station_id) is None:
                return 0
            found = await connectors_of(tx.conn, station_id)
            for c in found:
                info = connector_status_info(c, online)
                queue(tx, STATION_STATUS, f"status:{info['ConnectorID']}",
                      {"ConnectorStatusInfo": info})
            return len(found)

        try:
            if await self._store.writer.submit(unit):
                self.deliverer.wake()
        except Exception:
            log.exception("platform.connection_push_failed", station_id=station_id)

    async def _place(self, tx: WriteTx, station_id: str) -> Place | None:
        """Rule 2: the charge point's site, if it is one the platform is sent."""
        hit = self._places.get(station_id)
        if hit is None or hit[0] < time.monotonic():
            found = await place_of(tx.conn, station_id)
            hit = (time.monotonic() + PLACE_CACHE_S, found)
            self._places[station_id] = hit
        place = hit[1]
        if place is None or (self._p.communities and
                             place.community_id not in self._p.communities):
            return None
        return place

    async def _status(self, tx: WriteTx, event: ConnectorStatusChanged) -> None:
        if event.connector_id == 0 or event.evse_id == 0 or \
                await self._place(tx, event.station_id) is None:
            return
        info = connector_status_info(Connector(event.station_id, event.evse_id,
                                               event.connector_id, event.status.value, 0.0),
                                     online=True)
        queue(tx, STATION_STATUS, f"status:{info['ConnectorID']}",
              {"ConnectorStatusInfo": info})

    async def _boot(self, tx: WriteTx, event: StationBooted) -> None:
        place = await self._place(tx, event.station_id)
        if place is not None:
            await self._queue_sites(tx, [place.site_id])

    async def _queue_sites(self, tx: WriteTx, site_ids: list[int] | None) -> int:
        found = await sites(tx.conn, communities=self._p.communities, site_ids=site_ids,
                            now=tx.now, online_within=self._online_within,
                            fees=(self._p.electricity_fee, self._p.service_fee))
        for site in found:
            queue(tx, STATION_INFO, f"station:{site.site_id}",
                  {"StationInfo": station_info(site, self._p.operator_id)})
        return len(found)

    async def queue_station_info(self, site_id: int | None) -> int:
        """Queue station info for one site or all; how many were queued."""
        async def unit(tx: WriteTx) -> int:
            return await self._queue_sites(tx, None if site_id is None else [site_id])

        count = await self._store.writer.submit(unit)
        self.deliverer.wake()
        return count

    async def queue_alarm(self, tx: WriteTx, change: AlarmChange) -> None:
        """Rule 1: ``notification_alarmInfo`` in the alarm transition's transaction."""
        alarm = change.alarm
        if change.transition not in ("raised", "cleared") or alarm.station_id is None or \
                await self._place(tx, alarm.station_id) is None:
            return
        at = alarm.cleared_at if change.transition == "cleared" else alarm.raised_at
        info = alarm_info(alarm.station_id, alarm.evse_id, alarm.connector_id, alarm.code,
                          alarm.level, change.transition == "raised",
                          tcec_orders.local(at or tx.now, self._p.timezone))
        queue(tx, ALARM_INFO, f"alarm:{alarm.id}:{change.transition}", {"AlarmInfos": [info]})

    async def _session_ended(self, tx: WriteTx, session_id: int) -> None:
        """Rules 1 and 3: the session's charge order, once, after billing priced it (billing
        prices a batch's ends after its units, writer rule 7: so does this, after it)."""
        tx.at_end(self._orders, session_id)

    async def _orders(self, tx: WriteTx, session_ids: list[int]) -> None:
        for session_id in dict.fromkeys(session_ids):
            await self._order(tx, session_id)

    async def _order(self, tx: WriteTx, session_id: int) -> None:
        key = f"order:{session_id}"
        try:
            async with tx.conn.begin_nested():
                found = await order_of(tx.conn, session_id, self._p.operator_id)
                if found is None or await has_order(tx, key):
                    return
                ref, order, place = found
                if self._p.communities and place.community_id not in self._p.communities:
                    return
                queue(tx, CHARGE_ORDER, key, tcec_orders.charge_order(ref, order))
        except Exception:  # the end of a session must always commit
            log.exception("platform.order_failed", session_id=session_id)
