"""Safety sharing: domain events become scoped notices for the live feed and webhooks, and
charge-point security events and boots become audit records.

Rules:
1. The bus listener only queues the event (bounded; overflow is logged and dropped, the
   event itself is already durable); one task handles events in publication order.
2. A notice's community and district come from the event (alarms carry them) or from the
   charge point's site, cached for ``[sharing] location_cache_s``.
3. Every notice goes to the live feed (:class:`csms.services.sharing.feed.FeedHub`). A notice of a
   kind some webhook subscription wants is inserted into the outbox through the writer and
   the deliverer is woken. Alarm transitions are queued differently: inside the alarm's
   own transaction (:meth:`Sharing.queue_alarm`, hooked into the alarm store by the
   composition root), so a stored transition always has its outbox rows; the committed
   ``AlarmChanged`` then only goes to the live feed and wakes the deliverer.
4. A ``security_event`` station event and a boot (vendor, model, firmware) are written to
   the audit log as ``security_event`` and ``boot`` of ``charge_point``, actor
   ``station:<id>``, in the same unit as any outbox rows for them.
5. At start the effective configuration (secrets masked) is audited as ``csms_config`` when
   it differs from the last one recorded (csms.store.sharing.audit.record_configuration).
6. In a cluster (``cluster`` given) each notice of this node is broadcast to the others,
   which put it on their own live feed (not in their outbox: the node where the event
   happened queued its webhooks). Notices of one charger come from the node that holds
   it, in order; a broadcast lost while the bus is down is logged.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from contextlib import suppress
from datetime import datetime
from typing import Any

import structlog
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from csms.config import Settings
from csms.domain.model import ConnectorStatusChanged, StationBooted, StationEventReported
from csms.services.events import AlarmChanged, ClusterBroadcast, DomainEvent, EventBus
from csms.services.safety.monitor import alarm_changed
from csms.services.sharing.feed import FeedHub, Notice
from csms.services.sharing.webhooks import Deliverer
from csms.store import access as places
from csms.store.access import audit
from csms.store.safety.alarms import AlarmChange
from csms.store.sharing.audit import normalised, record_configuration
from csms.store.sharing.outbox import Outbox, enqueue_notifications
from csms.store.sharing.tables import webhook_subscriptions as subs
from csms.store.writer import Writer, WriteTx

log = structlog.get_logger(__name__)
QUEUE_MAX = 100_000
KINDS_CACHE_S = 5.0
FEED_TOPIC = "feed"
_Handled = AlarmChanged | ConnectorStatusChanged | StationEventReported | StationBooted


class LocationCache:
    """Charge point -> (district, community), each answer kept for ``ttl_s`` (rule 2)."""

    def __init__(self, engine: AsyncEngine, ttl_s: float) -> None:
        self._engine = engine
        self._ttl_s = ttl_s
        self._known: dict[str, tuple[float, places.Location]] = {}

    async def of(self, station_id: str) -> places.Location:
        hit = self._known.get(station_id)
        if hit is not None and hit[0] > time.monotonic():
            return hit[1]
        found = await places.location_of_station(self._engine, station_id) or places.NOWHERE
        self._known[station_id] = (time.monotonic() + self._ttl_s, found)
        return found


class Sharing:
    """The live feed hub, the webhook outbox and its deliverer; start and stop it."""

    def __init__(self, engine: AsyncEngine, writer: Writer, bus: EventBus,
                 settings: Settings, clock: Callable[[], datetime],
                 cluster: ClusterBroadcast | None = None) -> None:
        self.hub = FeedHub(settings.sharing.feed_queue_size)
        self._cluster = cluster
        self._unlisten: Callable[[], None] | None = None
        self.outbox = Outbox(engine, writer)
        self.deliverer = Deliverer(self.outbox, settings.sharing, clock)
        self._settings = settings
        self._engine = engine
        self._writer = writer
        self._bus = bus
        self._clock = clock
        self._places = LocationCache(engine, settings.sharing.location_cache_s)
        self._queue: asyncio.Queue[_Handled] = asyncio.Queue(QUEUE_MAX)
        self._wanted: tuple[float, frozenset[str]] = (0.0, frozenset())
        self._tasks: list[asyncio.Task[None]] = []
        self._unsubscribe: Callable[[], None] | None = None

    async def start(self) -> None:
        """Audit the configuration if it changed (rule 5), then share."""
        await record_configuration(self._engine, self._writer,
                                   self._settings.model_dump(mode="json"), "csms:start",
                                   self._clock())
        self._unsubscribe = self._bus.subscribe(self._on_event)
        if self._cluster is not None:
            self._unlisten = self._cluster.on_broadcast(FEED_TOPIC, self._from_another_node)
        self._tasks = [asyncio.create_task(self._handle_forever(), name="sharing"),
                       asyncio.create_task(self.deliverer.run(), name="webhook-deliverer")]

    async def stop(self) -> None:
        if self._unsubscribe is not None:
            self._unsubscribe()
        if self._unlisten is not None:
            self._unlisten()
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with suppress(asyncio.CancelledError):
                await task

    def subscriptions_changed(self) -> None:
        """Forget which kinds subscriptions want (an API write changed them)."""
        self._wanted = (0.0, frozenset())

    def _on_event(self, event: DomainEvent) -> None:
        if isinstance(event, _Handled):
            try:
                self._queue.put_nowait(event)
            except asyncio.QueueFull:
                log.error("sharing.queue_full", event_type=type(event).__name__)

    async def _handle_forever(self) -> None:
        while True:
            event = await self._queue.get()
            try:
                await self._handle(event)
            except Exception:
                log.exception("sharing.event_failed", event_type=type(event).__name__)

    async def _handle(self, event: _Handled) -> None:
        if isinstance(event, StationBooted):
            await self._write(None, _boot_audit(event))
            return
        notice = await self._notice(event)
        self.hub.publish(notice)
        if self._cluster is not None:  # rule 6
            await self._cluster.broadcast(FEED_TOPIC, notice.body())
        if isinstance(event, AlarmChanged):
            self.deliverer.wake()  # its outbox rows committed with it (queue_alarm)
            return
        queue_it = notice.kind in await self._wanted_kinds()
        audited = (_security_audit(event) if isinstance(event, StationEventReported)
                   and event.kind == "security_event" else None)
        if queue_it or audited:
            await self._write(notice if queue_it else None, audited)

    def _from_another_node(self, body: dict[str, Any]) -> None:
        try:
            notice = Notice.from_body(body)
        except (KeyError, ValueError, TypeError) as exc:
            log.warning("sharing.bad_cluster_notice", error=str(exc))
            return
        self.hub.publish(notice)

    async def queue_alarm(self, tx: WriteTx, change: AlarmChange) -> None:
        """Queue an alarm transition for webhooks in the transaction that stores it."""
        event = alarm_changed(change)
        notice = Notice("alarm", event.at, event.station_id, event.community_id,
                        event.district_id, normalised(_alarm_data(event)), level=event.level)
        await enqueue_notifications(tx, notice, self._clock())

    async def _write(self, notice: Notice | None, audited: dict[str, Any] | None) -> None:
        now = self._clock()

        async def unit(tx: WriteTx) -> int:
            if audited is not None:
                audit(tx, **audited)
            return 0 if notice is None else await enqueue_notifications(tx, notice, now)

        # an audit row and outbox rows: nothing a batch cache or finisher reads (rule 6)
        if await self._writer.submit(unit, keeps_cache=True):
            self.deliverer.wake()

    async def _wanted_kinds(self) -> frozenset[str]:
        """The notice kinds active subscriptions want, re-read every few seconds."""
        expires, kinds = self._wanted
        if expires > time.monotonic():
            return kinds
        async with self._engine.connect() as conn:
            rows = (await conn.execute(select(subs.c.kinds).where(subs.c.active.is_(True))))
            kinds = frozenset(k for row in rows for k in row.kinds)
        self._wanted = (time.monotonic() + KINDS_CACHE_S, kinds)
        return kinds

    async def _notice(self, event: AlarmChanged | ConnectorStatusChanged
                      | StationEventReported) -> Notice:
        if isinstance(event, AlarmChanged):
            district, community = event.district_id, event.community_id
            if district is None and community is None and event.station_id is not None:
                where = await self._places.of(event.station_id)
                district, community = where.district_id, where.community_id
            return Notice("alarm", event.at, event.station_id, community, district,
                          normalised(_alarm_data(event)), level=event.level)
        where = await self._places.of(event.station_id)
        if isinstance(event, ConnectorStatusChanged):
            data: dict[str, Any] = {
                "evse_id": event.evse_id, "connector_id": event.connector_id,
                "status": str(event.status), "error_code": event.error_code,
                "vendor_error_code": event.vendor_error_code, "info": event.info}
            kind = "connector_status"
        else:
            data = {"kind": event.kind, "code": event.code, "evse_id": event.evse_id,
                    "connector_id": event.connector_id, "details": event.details}
            kind = "station_event"
        return Notice(kind, event.at, event.station_id, where.community_id,
                      where.district_id, normalised(data))


def _alarm_data(event: AlarmChanged) -> dict[str, Any]:
    return {"alarm_id": event.alarm_id, "transition": event.transition, "code": event.code,
            "level": event.level, "station_id": event.station_id, "evse_id": event.evse_id,
            "connector_id": event.connector_id, "session_id": event.session_id,
            "site_id": event.site_id, "by": event.by, "comment": event.comment,
            "evidence": event.evidence}


def _security_audit(event: StationEventReported) -> dict[str, Any]:
    return {"actor": f"station:{event.station_id}", "action": "security_event",
            "resource": "charge_point", "resource_id": event.station_id,
            "details": {"type": event.code, "at": event.at.isoformat(),
                        "details": event.details}}


def _boot_audit(event: StationBooted) -> dict[str, Any]:
    return {"actor": f"station:{event.station_id}", "action": "boot",
            "resource": "charge_point", "resource_id": event.station_id,
            "details": {"vendor": event.vendor, "model": event.model,
                        "serial_number": event.serial_number,
                        "firmware_version": event.firmware_version, "reason": event.reason,
                        "at": event.at.isoformat()}}
