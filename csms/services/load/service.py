"""Orderly charging in the running CSMS: when to re-allocate which site.

Rules:
1. The bus listener never blocks: it updates the in-memory draw of an EVSE from meter
   values (pure arithmetic) and queues the station or site to re-allocate; one dispatcher
   task resolves stations to sites and starts the site's pass.
2. Passes of one site never overlap (a lock per site); a change seen while a pass runs
   makes it run once more after. Different sites run concurrently.
3. Triggers: a charger connecting or booting (its safe share is sent again), a connector
   status change, a session starting or ending, a base-load or settings change (the API
   calls :meth:`LoadService.site_changed`), and a timer every ``reallocate_interval_s``
   for every enabled site (lease renewal, profile-driven base load, overload check).
4. With several nodes (``ownership`` given) a site's passes run only on the node that
   owns it, and what they remember is written to the database after each pass under the
   owner's fencing token (csms.services.load.cluster). Without ownership, on PostgreSQL, a
   pass runs only where it holds the site's advisory lock for the duration of its reads.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from typing import Any

import structlog

from csms.config import LoadSettings
from csms.domain.model import (
    ConnectorStatusChanged,
    MeterSample,
    SessionEvent,
    SessionEventKind,
    StationBooted,
    StationEventReported,
)
from csms.handlers.timefmt import parse_time
from csms.services.commands.service import CommandService
from csms.services.events import (
    ClusterBroadcast,
    DomainEvent,
    EventBus,
    MeterValuesRecorded,
    SessionRecorded,
    StationConnected,
)
from csms.services.load import memory as load_memory
from csms.services.load.cluster import TOPIC, SiteOwnership, looking
from csms.services.load.site import (
    EvseKey,
    Need,
    SitePass,
    SiteState,
    SiteView,
    Tuning,
    ValleySettings,
)
from csms.smartcharging.allocator import AllocatorSettings
from csms.smartcharging.leases import LeasePolicy
from csms.smartcharging.measure import Draw, update_draw
from csms.store.load.owners import Ownership
from csms.store.load.store import EvseDefaults, LoadStore

log = structlog.get_logger(__name__)
DRAW_WINDOW_S = 900.0  # a cluster owner's draws: meter values of the last 15 minutes


def tuning(settings: LoadSettings) -> Tuning:
    return Tuning(
        LeasePolicy(settings.lease_s, settings.renew_before_s, settings.deadband_a),
        AllocatorSettings(min_run_s=settings.min_run_s, draw_margin_a=settings.draw_margin_a),
        EvseDefaults(settings.default_max_current_a, settings.default_phases),
        settings.profile_timeout_s, settings.overload_tolerance_w, settings.overload_hold_s,
        settings.series_interval_s,
        ValleySettings(settings.valley_start_hour, settings.valley_end_hour,
                       settings.valley_assumed_share, settings.valley_safety_factor)
        if settings.valley_shifting else None,
        settings.draw_settle_s,
    )


class LoadService:
    """Keeps every enabled site within its headroom (module rules)."""

    def __init__(self, store: LoadStore, commands: CommandService, bus: EventBus,
                 clock: Callable[[], datetime], settings: LoadSettings,
                 cluster: ClusterBroadcast | None = None,
                 ownership: SiteOwnership | None = None) -> None:
        self._store = store
        self._cluster = cluster
        self.ownership = ownership
        self._outgoing: asyncio.Queue[dict[str, Any]] = asyncio.Queue(10_000)
        self._resets: dict[str, datetime] = {}  # station -> when it last (re)connected
        self._remote_limits: dict[int, dict[str, float | None]] = {}  # the owners' passes
        self._unlisten: Callable[[], None] | None = None
        self._commands = commands
        self._bus = bus
        self._clock = clock
        self._settings = settings
        self._tuning = tuning(settings)
        self._queue: asyncio.Queue[tuple[str, str | int]] = asyncio.Queue()
        self._states: dict[int, SiteState] = {}
        self._draws: dict[int, Draw] = {}  # by session id
        self._station_sites: dict[str, int | None] = {}
        self._needs: dict[EvseKey, Need] = {}  # declared needs of running sessions
        self._running: dict[int, asyncio.Task[None]] = {}
        self._again: set[int] = set()
        self._tasks: list[asyncio.Task[None]] = []
        self._unsubscribe: Callable[[], None] | None = None
        self._slots = asyncio.Semaphore(2)  # passes at a time (database connections)
        self.passes = 0  # completed passes, for tests and metrics

    async def start(self) -> None:
        self._unsubscribe = self._bus.subscribe(self._on_event)
        self._tasks = [asyncio.create_task(self._dispatch(), name="load-dispatch"),
                       asyncio.create_task(self._tick(), name="load-timer")]
        if self._cluster is not None:
            self._unlisten = self._cluster.on_broadcast(TOPIC, self._from_another_node)
            self._tasks.append(asyncio.create_task(self._forward(), name="load-forward"))
        if self.ownership is not None:
            self._tasks.append(asyncio.create_task(looking(
                self.ownership, self._store.sites, self._taken), name="load-ownership"))

    async def stop(self) -> None:
        """Stop reacting; profiles already sent stay on the chargers (leases run out)."""
        if self._unsubscribe is not None:
            self._unsubscribe()
        if self._unlisten is not None:
            self._unlisten()
        tasks = [*self._tasks, *self._running.values()]
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        if self.ownership is not None:
            try:
                await self.ownership.release()
            except Exception:  # the leases end by themselves
                log.exception("load.release_failed")

    def site_changed(self, site_id: int) -> None:
        """Re-allocate ``site_id`` soon (settings, feeders or base load changed)."""
        self._queue.put_nowait(("site", site_id))

    def declare_need(self, station_id: str, evse_id: int, energy_wh: float,
                     departure_at: datetime) -> None:
        """The session on this EVSE needs ``energy_wh`` by ``departure_at`` (valley shifting
        and urgency); forgotten when the session ends."""
        self._needs[station_id, evse_id] = Need(energy_wh, departure_at)
        self._queue.put_nowait(("station", station_id))
        self._tell({"op": "need", "station": station_id, "evse": evse_id, "wh": energy_wh,
                    "by": departure_at.isoformat()})

    def view(self, site_id: int) -> SiteView | None:
        """The last pass's allocation of the site on this node, if any (in a cluster: only
        while this node owns the site; :meth:`remembered` has the owner's)."""
        if self.ownership is not None and self.ownership.token(site_id) is None:
            return None
        state = self._states.get(site_id)
        return None if state is None else state.view

    def sent_limit(self, site_id: int, station_id: str, evse_id: int) -> float | None:
        """The limit (A) the site's last pass sent to an EVSE and the charger did not refuse
        (None: none); in a cluster from the owner's pass, whichever node owns the site."""
        view = self.view(site_id)
        if view is None:
            return self._remote_limits.get(site_id, {}).get(load_memory.evse_key(
                (station_id, evse_id)))
        for allocation in view.connectors:
            if (allocation.station_id, allocation.evse_id) == (station_id, evse_id):
                return None if allocation.refused else allocation.sent_limit_a
        return None

    async def remembered(self, site_id: int) -> tuple[str, dict[str, Any]] | None:
        """In a cluster: the owning node and the allocation its last pass wrote."""
        if self.ownership is None:
            return None
        found = await self.ownership.owners.remembered(site_id)
        if found is None or not isinstance(found[1].get("view"), dict):
            return None
        return found[0], found[1]["view"]

    async def reallocate(self, site_id: int) -> SiteView | None:
        """Run one pass of ``site_id`` now and return its view (CLI, API, tests)."""
        state = self._states.setdefault(site_id, SiteState())
        async with state.lock:
            return await self._pass(site_id, state)

    def _on_event(self, event: DomainEvent) -> None:
        match event:
            case MeterValuesRecorded():
                if event.session_id is not None:
                    self._measured(event.session_id, event.event.samples)
            case StationConnected() | StationBooted():
                if isinstance(event, StationConnected):  # its site: read once a connection
                    self._station_sites.pop(event.station_id, None)
                self._reset(event.station_id)
                self._tell({"op": "reset", "station": event.station_id})
            case ConnectorStatusChanged():
                self._queue.put_nowait(("station", event.station_id))
                self._tell({"op": "station", "station": event.station_id})
            case SessionRecorded():
                self._session_event(event.event, event.session_id)
            case StationEventReported(kind="notify_ev_charging_needs"):
                need = charging_needs(event.details)
                if need is not None:
                    self.declare_need(event.station_id, need[0], need[1], need[2])
            case _:
                pass

    def _session_event(self, event: SessionEvent, session_id: int | None) -> None:
        if session_id is not None and event.kind is SessionEventKind.ENDED:
            self._draws.pop(session_id, None)
            if event.evse_id:
                self._needs.pop((event.station_id, event.evse_id), None)
                self._tell({"op": "ended", "station": event.station_id,
                            "evse": event.evse_id})
        elif session_id is not None and event.samples:  # 2.0.1 meter values ride here
            self._measured(session_id, event.samples)
        if event.kind is not SessionEventKind.UPDATED:
            self._queue.put_nowait(("station", event.station_id))
            self._tell({"op": "station", "station": event.station_id})

    def _reset(self, station_id: str) -> None:
        """A charger (re)connected or booted: resend its safe share, trust it again."""
        now = self._clock()
        self._resets[station_id] = now
        horizon = now - timedelta(seconds=3 * max(self._settings.reallocate_interval_s,
                                                  self._settings.owner_lease_s))
        if len(self._resets) > 10_000:
            self._resets = {k: at for k, at in self._resets.items() if at > horizon}
        for state in self._states.values():
            state.forget_station(station_id)
        self._queue.put_nowait(("station", station_id))

    # -- the cluster (csms.services.load.cluster) --------------------------------------------

    def _tell(self, message: dict[str, Any]) -> None:
        """Queue a trigger for the other nodes (csms.services.load.cluster rule 5)."""
        if self._cluster is None:
            return
        try:
            self._outgoing.put_nowait(message)
        except asyncio.QueueFull:
            log.warning("load.forward_queue_full", op=message["op"])

    async def _forward(self) -> None:
        assert self._cluster is not None
        while True:
            message = await self._outgoing.get()
            if message["op"] == "station" and not await self._owned_elsewhere(
                    str(message["station"])):
                continue  # load.cluster rule 5: nobody else needs it
            await self._cluster.broadcast(TOPIC, message)

    async def _owned_elsewhere(self, station_id: str) -> bool:
        if self.ownership is None:
            return True
        try:
            site = await self._site_of(station_id)
        except Exception:  # the database: tell the others anyway
            log.exception("load.site_of_failed", station_id=station_id)
            return True
        return site is not None and site in self.ownership.elsewhere

    def _from_another_node(self, body: dict[str, Any]) -> None:
        if body["op"] == "limits":  # an owner's pass: the limits it sent
            self._remote_limits[int(body["site"])] = {
                str(k): None if v is None else float(v) for k, v in body["limits"].items()}
            return
        station, op = str(body["station"]), body["op"]
        if op == "reset":
            self._station_sites.pop(station, None)
            self._reset(station)
        elif op == "need":
            self._needs[station, int(body["evse"])] = Need(
                float(body["wh"]), parse_time(str(body["by"])))
            self._queue.put_nowait(("station", station))
        elif op == "ended":
            self._needs.pop((station, int(body["evse"])), None)
            self._queue.put_nowait(("station", station))
        else:
            self._queue.put_nowait(("station", station))

    async def _taken(self, taken: Ownership) -> None:
        """Load_cluster rule 3: carry on from the last owner's memory, pass at once."""
        state = self._states[taken.site_id] = SiteState()
        assert self.ownership is not None
        memory = await self.ownership.owners.memory(taken.site_id)
        if memory is not None:
            needs = load_memory.restore(state, memory)
            for key, need in needs.items():
                self._needs.setdefault(key, need)
            written = load_memory.written_at(memory)
            for station, at in self._resets.items():
                if written is None or at >= written:
                    state.forget_station(station)
        self._queue.put_nowait(("site", taken.site_id))

    def _measured(self, session_id: int, samples: Sequence[MeterSample]) -> None:
        key = session_id
        draw = update_draw(self._draws.get(key), samples, self._settings.default_voltage_v,
                           self._settings.default_phases)
        if draw is not None:
            self._draws[key] = draw

    async def _dispatch(self) -> None:
        while True:
            kind, key = await self._queue.get()
            try:
                site = key if isinstance(key, int) else await self._site_of(str(key))
            except Exception:
                log.exception("load.dispatch_failed", kind=kind, key=key)
                continue
            if site is not None:
                self._schedule(site)

    async def _site_of(self, station_id: str) -> int | None:
        if station_id not in self._station_sites:
            self._station_sites[station_id] = await self._store.site_of_station(station_id)
        return self._station_sites[station_id]

    def _schedule(self, site_id: int) -> None:
        if site_id in self._running:
            self._again.add(site_id)
            return
        self._running[site_id] = asyncio.create_task(self._serve(site_id),
                                                     name=f"load-site-{site_id}")

    async def _serve(self, site_id: int) -> None:
        state = self._states.setdefault(site_id, SiteState())
        try:
            while True:
                self._again.discard(site_id)
                async with state.lock:
                    try:
                        await self._pass(site_id, state)
                    except Exception:
                        log.exception("load.pass_failed", site_id=site_id)
                if site_id not in self._again:
                    return
        finally:
            del self._running[site_id]

    async def _pass(self, site_id: int, state: SiteState) -> SiteView | None:
        if self.ownership is not None:
            return await self._owned_pass(site_id, state)
        async with self._slots:
            if self._store.engine.dialect.name != "postgresql":
                view = await self._run(site_id, state)
            else:
                async with self._store.engine.connect() as conn, conn.begin():
                    if not await self._store.try_site_lock(conn, site_id):
                        log.info("load.site_locked_elsewhere", site_id=site_id)
                        return state.view
                    view = await self._run(site_id, state)
        self.passes += 1
        return view

    async def _owned_pass(self, site_id: int, state: SiteState) -> SiteView | None:
        """Rule 4 in a cluster: only as the site's owner; remember under its token."""
        assert self.ownership is not None
        token = self.ownership.token(site_id)
        if token is None:
            return None
        async with self._slots:
            view = await self._run(site_id, state, DRAW_WINDOW_S)
            now = self._clock()
            needs = {k: n for k, n in self._needs.items()
                     if self._station_sites.get(k[0]) == site_id}
            if not await self.ownership.owners.remember(
                    site_id, token, load_memory.encode(state, needs, view, now), now):
                self.ownership.lost(site_id)
                self._states.pop(site_id, None)
                return None
        if view is not None:
            self._tell({"op": "limits", "site": site_id, "limits": {
                load_memory.evse_key((c.station_id, c.evse_id)):
                    None if c.refused else c.sent_limit_a for c in view.connectors}})
        self.passes += 1
        return view

    async def _run(self, site_id: int, state: SiteState, draw_window_s: float | None = None
                   ) -> SiteView | None:
        known = dict(self._needs)  # a need declared during the pass is newer than its view
        view = await SitePass(site_id, state, self._store, self._commands, self._bus,
                              self._tuning, self._draws, self._clock, self._needs,
                              draw_window_s).run()
        if view is not None:  # a need belongs to the session running when it was declared
            active = {(c.station_id, c.evse_id) for c in view.connectors}
            for key in [k for k, need in self._needs.items() if k not in active
                        and known.get(k) is need
                        and self._station_sites.get(k[0]) == site_id]:
                del self._needs[key]
        return view

    async def _tick(self) -> None:
        while True:
            await asyncio.sleep(self._settings.reallocate_interval_s)
            self._station_sites.clear()  # charge points may have moved between sites
            try:
                for site_id in await self._store.sites():
                    self._queue.put_nowait(("site", site_id))
            except Exception:
                log.exception("load.timer_failed")


def charging_needs(details: dict[str, object]) -> tuple[int, float, datetime] | None:
    """(EVSE, energy in Wh, departure) from a 2.0.1 NotifyEVChargingNeeds payload, if it
    states them."""
    needs, evse_id = details.get("chargingNeeds"), details.get("evseId")
    if not isinstance(needs, dict) or not isinstance(evse_id, int):
        return None
    ac = needs.get("acChargingParameters") or needs.get("dcChargingParameters") or {}
    energy, departure = ac.get("energyAmount"), needs.get("departureTime")
    if not isinstance(energy, int | float) or not isinstance(departure, str):
        return None
    try:
        return evse_id, float(energy), parse_time(departure)
    except ValueError:
        return None
