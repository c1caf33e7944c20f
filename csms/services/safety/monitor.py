"""The safety monitor: domain events in, alarms out. The adapter around csms.safety.

Rules:
1. The bus listener only queues the events the rules read (bounded: beyond
   ``safety.queue_size`` an event is dropped and logged); one worker task applies them in
   order, so a connector's history sees its events as they were published.
2. The pure rules decide (csms.safety.monitor); :func:`settle_conditions` drops what changes
   nothing against the open conditions this node knows (seeded from the store at start);
   the rest is written by the alarm store (one unit, audit rows included) and, after
   commit, published as :class:`AlarmChanged` with the alarm's site, community and district
   (resolved when raised, cached for ``PLACE_TTL_S``).
3. A raised alarm whose level has protective actions is handed to the :class:`Protector`.
   Over-current compares with load management's limit for the EVSE when load management
   runs (:func:`load_limits`), besides the charger's own Current.Offered.
4. A clock tick every ``safety.scan_interval_s`` runs the clock rules: lost communication
   (a station is seen when any event of it arrives or its connection received a frame since
   the last tick; times are the CSMS clock's; before raising, the store's last-seen time,
   which any node serving the station writes, is consulted) and each connector's energy
   stall. A station that connects loads its open alarms from the store, so one raised by
   another node clears here.
5. Histories and session connectors are per node and in memory; after a restart they
   start empty (a session's stall clock restarts with its next event). Every accepted
   station heard of before counts as seen at start-up: it has the usual two heartbeat
   intervals to reconnect before it is lost, so a restart raises no alarm storm.
6. In a cluster (``cluster.command_bus`` not local) every node watches every station: each
   :data:`REFRESH_S` the stations heard of are read again, so one registered through
   another node is watched here too, and if its node dies and it falls silent, a surviving
   node raises its lost communication (rule 4 asks the store's last-seen time first). Two
   nodes cannot open one condition twice (the alarm store's unique open key), so exactly one
   raises it and only that one's protective actions run.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Sequence
from contextlib import suppress
from datetime import datetime

import structlog

from csms.config import SafetyConfig, Settings
from csms.domain.model import ConnectorStatusChanged, StationBooted, StationEventReported
from csms.handlers.connection import ConnectionRegistry
from csms.safety import monitor
from csms.safety.alarms import (
    AlarmCode,
    ConditionKey,
    Decision,
    Raise,
    settle_conditions,
    stations_with_open,
    would_change,
)
from csms.safety.alarms import condition_text as text_of
from csms.safety.settings import DEFAULT_ALARMING_SECURITY_EVENTS, SafetySettings
from csms.safety.timers import lost_communication, silence_allowed
from csms.services.commands.service import CommandService
from csms.services.events import (
    AlarmChanged,
    ChargingProfileRefused,
    DomainEvent,
    EventBus,
    MeterValuesRecorded,
    SessionRecorded,
    SiteOverloadCleared,
    SiteOverloaded,
    StationConnected,
    StationDisconnected,
)
from csms.services.load.service import LoadService
from csms.services.safety.actions import Protector
from csms.services.safety.events import Memory, decide
from csms.store.safety.alarms import AlarmChange, AlarmStore, Place, Placed, StoredAlarm

log = structlog.get_logger(__name__)
REFRESH_S = 60.0  # rule 6
PLACE_TTL_S = 60.0
YIELD_EVERY = 64  # events handled between two yields to the event loop
LoadLimits = Callable[[int, str, int], float | None]  # (site, station, evse) -> A


def load_limits(load: LoadService) -> LoadLimits:
    """The current limit (A) load management last sent to an EVSE and the charger did not
    refuse, from the latest allocation of the site (in a cluster, the owner's); None if
    there is none."""
    return load.sent_limit
_WATCHED = (StationConnected, StationDisconnected, StationBooted, ConnectorStatusChanged,
            SessionRecorded, MeterValuesRecorded, StationEventReported, SiteOverloaded,
            SiteOverloadCleared, ChargingProfileRefused)


def rule_settings(config: SafetyConfig) -> SafetySettings:
    """The pure rules' thresholds from the ``[safety]`` section."""
    events = config.alarming_security_events
    return SafetySettings(
        max_temperature_c=config.max_temperature_c,
        temperature_hysteresis_c=config.temperature_hysteresis_c,
        nominal_voltage_v=config.nominal_voltage_v,
        over_voltage_ratio=config.over_voltage_ratio,
        under_voltage_ratio=config.under_voltage_ratio,
        voltage_present_v=config.voltage_present_v,
        over_current_tolerance_ratio=config.over_current_tolerance_ratio,
        over_current_duration_s=config.over_current_duration_s,
        repeated_fault_count=config.repeated_fault_count,
        repeated_fault_window_s=config.repeated_fault_window_s,
        stall_s=config.stall_s, stall_min_increase_wh=config.stall_min_increase_wh,
        register_backwards_tolerance_wh=config.register_backwards_tolerance_wh,
        per_transaction_meter_start_max_wh=config.per_transaction_meter_start_max_wh,
        lost_communication_intervals=config.lost_communication_intervals,
        emergency_stop_words=tuple(w.lower() for w in config.emergency_stop_words),
        alarming_security_events=(DEFAULT_ALARMING_SECURITY_EVENTS if events is None
                                  else frozenset(events)),
    )


class SafetyMonitor:
    """Subscribes to the bus, runs the rules, keeps alarms; see the module rules."""

    def __init__(
        self, settings: Settings, store: AlarmStore, bus: EventBus, commands: CommandService,
        connections: ConnectionRegistry, clock: Callable[[], datetime],
        load_limits: LoadLimits | None = None,
    ) -> None:
        self.config = settings.safety
        self.rules = rule_settings(settings.safety)
        self.store = store
        self._bus = bus
        self._connections = connections
        self._clock = clock
        self._interval_s = float(settings.server.heartbeat_interval_s)
        # With several nodes a station's alarms may have been opened on another one, so they
        # are read again when it connects here; a single node opened them all itself.
        self._other_nodes = settings.cluster.command_bus != "local"
        self._queue: asyncio.Queue[DomainEvent] = asyncio.Queue(settings.safety.queue_size)
        self._open: set[str] = set()
        self._known = Memory()
        self._load_limits = load_limits
        if load_limits is not None:
            self._known.limit_of = self._limit_of
        self.protector = Protector(store, commands, settings.safety, clock)
        self._tasks: list[asyncio.Task[None]] = []
        self._unsubscribe: Callable[[], None] | None = None
        self.dropped = 0

    async def start(self) -> None:
        """Seed the open conditions, subscribe, start the worker, ticker and actions."""
        if not self.config.enabled:
            return
        self._open = await self.store.open_keys()
        now = self._clock()  # known stations get two intervals from now to reconnect
        for station_id in await self.store.stations_heard_of():
            self._known.last_seen.setdefault(station_id, now)
        self._unsubscribe = self._bus.subscribe(self._listen)
        for name, work in (("safety-worker", self._work()), ("safety-ticker", self._ticks()),
                           ("safety-actions", self.protector.run())):
            self._tasks.append(asyncio.create_task(work, name=name))

    async def stop(self) -> None:
        if self._unsubscribe is not None:
            self._unsubscribe()
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with suppress(asyncio.CancelledError):
                await task
        self._tasks.clear()

    def _listen(self, event: DomainEvent) -> None:
        if not isinstance(event, _WATCHED):
            return
        try:
            self._queue.put_nowait(event)
        except asyncio.QueueFull:
            self.dropped += 1
            if self.dropped & (self.dropped - 1) == 0:  # 1, 2, 4, 8...: no log flood
                log.warning("safety.events_dropped", event_type=type(event).__name__,
                            dropped=self.dropped)

    async def _work(self) -> None:
        handled = 0
        while True:
            event = await self._queue.get()
            try:
                await self.handle(event)
            except Exception:  # one bad event must not stop the monitor
                log.exception("safety.event_failed", event_type=type(event).__name__)
            handled += 1
            if handled % YIELD_EVERY == 0:  # a long queue must not hold the loop
                await asyncio.sleep(0)

    async def _ticks(self) -> None:
        last_refresh = time.monotonic()
        while True:
            await asyncio.sleep(self.config.scan_interval_s)  # the scan period, not a wait
            try:
                if self._other_nodes and time.monotonic() - last_refresh >= REFRESH_S:
                    last_refresh = time.monotonic()
                    await self.watch_new_stations()
                await self.tick()
            except Exception:
                log.exception("safety.tick_failed")

    async def watch_new_stations(self) -> int:
        """Rule 6: stations registered since (through another node) are watched from now,
        as at start-up; how many were added."""
        now = self._clock()
        added = 0
        for station_id in await self.store.stations_heard_of():
            if station_id not in self._known.last_seen:
                self._known.last_seen[station_id] = now
                added += 1
        return added

    async def handle(self, event: DomainEvent) -> None:
        """Run the rules on one event and keep what they decide (rules 2 and 3)."""
        station = getattr(event, "station_id", None)
        if self._load_limits is not None and isinstance(station, str):
            await self._place(station)  # cached: the limit look-up needs the site
        if isinstance(event, StationConnected) and self._other_nodes:
            self._open |= await self.store.open_keys(event.station_id)
        self._known.heard(event, self._clock())
        decisions = decide(self._known, event, self.rules)
        if isinstance(station, str) and not isinstance(event, StationDisconnected):
            decisions = (*self._seen(station), *decisions)
        await self._apply(decisions)

    def _limit_of(self, station_id: str, evse_id: int) -> float | None:
        cached = self._known.places.get(station_id)
        site_id = None if cached is None else cached[1].site_id
        if site_id is None or self._load_limits is None:
            return None
        return self._load_limits(site_id, station_id, evse_id)

    def _seen(self, station_id: str) -> tuple[Decision, ...]:
        now = self._clock()
        self._known.last_seen[station_id] = now
        if text_of(ConditionKey(AlarmCode.LOST_COMMUNICATION, station_id)) not in self._open:
            return ()  # the common case: nothing to clear, no decision to build
        return (lost_communication(station_id, now, self._interval_s, now, self.rules),)

    async def tick(self) -> None:
        """Rule 4: the clock rules, once.

        Only decisions that could change something are kept (a station heard in time whose
        lost-communication alarm is not open would only be cleared again): with thousands of
        stations, a tick must not build and hold a decision for each of them.
        """
        now = self._clock()
        heard_by = now - silence_allowed(self._interval_s, self.rules)
        lost = stations_with_open(self._open, AlarmCode.LOST_COMMUNICATION)
        decisions: list[Decision] = []
        for station_id, seen in list(self._known.last_seen.items()):
            connection = self._connections.get(station_id)
            if connection is not None:
                frame = connection.endpoint.received_at
                if frame is not None and frame != self._known.frames.get(station_id):
                    self._known.frames[station_id] = frame
                    seen = self._known.last_seen[station_id] = now
            if seen >= heard_by and station_id not in lost:
                continue
            decisions.append(lost_communication(station_id, seen, self._interval_s, now,
                                                self.rules))
        decisions = await self._confirm_lost(decisions, now)
        for history in self._known.histories.values():
            charger_now = self._known.charger_now(history.station_id, now)
            decisions.extend(d for d in monitor.on_tick(history, charger_now, self.rules)
                             if would_change(self._open, d))
        await self._apply(tuple(decisions))

    async def _confirm_lost(self, decisions: list[Decision], now: datetime) -> list[Decision]:
        """A station about to be lost may talk to another node: the store's last-seen time
        (written by whichever node serves it) gets a say before the alarm is raised."""
        new = {d.key.station_id for d in decisions if isinstance(d, Raise)
               and text_of(d.key) not in self._open}
        if not new:
            return decisions
        stored = await self.store.last_seen(new)
        confirmed: list[Decision] = []
        for decision in decisions:
            station_id = decision.key.station_id
            at = stored.get(station_id)
            if station_id in new and at is not None and at > self._known.last_seen[station_id]:
                self._known.last_seen[station_id] = at
                decision = lost_communication(station_id, at, self._interval_s, now,
                                              self.rules)
            confirmed.append(decision)
        return confirmed

    async def _apply(self, decisions: Sequence[Decision]) -> None:
        effective = settle_conditions(self._open, decisions)
        if not effective:
            return
        try:
            placed = [await self._placed(d) for d in effective]
            changes = await self.store.apply(placed)
        except Exception:
            self._open = await self.store.open_keys()  # the store is the truth
            raise
        self._after(changes)

    async def _placed(self, decision: Decision) -> Placed:
        if not isinstance(decision, Raise):
            return Placed(decision)
        key = decision.alarm.key
        ref = decision.alarm.session_ref
        session = int(ref) if ref is not None and ref.isdigit() else None
        if key.site_id is not None:
            return Placed(decision, await self._place_of_site(key.site_id), session)
        return Placed(decision, await self._place(key.station_id), session)

    async def _place(self, station_id: str) -> Place:
        cached = self._known.places.get(station_id)
        if cached is not None and cached[0] > time.monotonic():
            return cached[1]
        place = await self.store.place_of_station(station_id)
        self._known.places[station_id] = (time.monotonic() + PLACE_TTL_S, place)
        return place

    async def _place_of_site(self, site_id: int) -> Place:
        return await self.store.place_of_site(site_id)

    def _after(self, changes: Sequence[AlarmChange]) -> None:
        for change in changes:
            self._publish(change)
            alarm = change.alarm
            log.info("safety.alarm", alarm_id=alarm.id, transition=change.transition,
                     code=alarm.code, level=alarm.level, station_id=alarm.station_id,
                     evse_id=alarm.evse_id, connector_id=alarm.connector_id)
            if change.transition == "raised" and self.protector.wants(alarm):
                self.protector.submit(alarm)

    def _publish(self, change: AlarmChange) -> None:
        self._bus.publish(alarm_changed(change))

    # -- operators -------------------------------------------------------------------------

    async def acknowledge(self, alarm_id: int, actor: str, comment: str | None
                          ) -> StoredAlarm:
        """Acknowledge for an operator; raises as :meth:`AlarmStore.acknowledge`."""
        change = await self.store.acknowledge(alarm_id, actor, comment, self._clock())
        self._after([change])
        return change.alarm

    async def clear(self, alarm_id: int, actor: str, comment: str | None) -> StoredAlarm:
        """Clear for an operator; raises as :meth:`AlarmStore.clear`."""
        change = await self.store.clear(alarm_id, actor, comment, self._clock())
        self._open.discard(change.alarm.condition_key)
        self._after([change])
        return change.alarm

    @property
    def memory(self) -> Memory:
        """What the monitor remembers (for tests and diagnostics)."""
        return self._known


def alarm_changed(change: AlarmChange) -> AlarmChanged:
    """The bus event of a stored transition."""
    a = change.alarm
    at = {"raised": a.raised_at, "acknowledged": a.acknowledged_at,
          "cleared": a.cleared_at}[change.transition] or a.raised_at
    return AlarmChanged(
        alarm_id=a.id, transition=change.transition, level=a.level, code=a.code,
        station_id=a.station_id, evse_id=a.evse_id, connector_id=a.connector_id,
        session_id=a.session_id, site_id=a.site_id, community_id=a.community_id,
        district_id=a.district_id, at=at, by=change.by, comment=change.comment,
        evidence=dict(a.evidence),
    )
