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
4. With several nodes, a pass runs only where it holds the site's PostgreSQL advisory
   lock for the duration of its reads (ARCHITECTURE property 6); the leases, draws and
   refusals are per node, so run load management on one node (``load.enabled``) until
   they are shared (docs/decisions.md).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Sequence
from datetime import datetime

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
from csms.services.commands import CommandService
from csms.services.events import (
    DomainEvent,
    EventBus,
    MeterValuesRecorded,
    SessionRecorded,
    StationConnected,
)
from csms.services.load_site import (
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
from csms.store.load.store import EvseDefaults, LoadStore

log = structlog.get_logger(__name__)


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
                 clock: Callable[[], datetime], settings: LoadSettings) -> None:
        self._store = store
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

    async def stop(self) -> None:
        """Stop reacting; profiles already sent stay on the chargers (leases run out)."""
        if self._unsubscribe is not None:
            self._unsubscribe()
        tasks = [*self._tasks, *self._running.values()]
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task

    def site_changed(self, site_id: int) -> None:
        """Re-allocate ``site_id`` soon (settings, feeders or base load changed)."""
        self._queue.put_nowait(("site", site_id))

    def declare_need(self, station_id: str, evse_id: int, energy_wh: float,
                     departure_at: datetime) -> None:
        """The session on this EVSE needs ``energy_wh`` by ``departure_at`` (valley shifting
        and urgency); forgotten when the session ends."""
        self._needs[station_id, evse_id] = Need(energy_wh, departure_at)
        self._queue.put_nowait(("station", station_id))

    def view(self, site_id: int) -> SiteView | None:
        """The last pass's allocation of the site on this node, if any."""
        state = self._states.get(site_id)
        return None if state is None else state.view

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
                for state in self._states.values():
                    state.forget_station(event.station_id)
                self._queue.put_nowait(("station", event.station_id))
            case ConnectorStatusChanged():
                self._queue.put_nowait(("station", event.station_id))
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
        elif session_id is not None and event.samples:  # 2.0.1 meter values ride here
            self._measured(session_id, event.samples)
        if event.kind is not SessionEventKind.UPDATED:
            self._queue.put_nowait(("station", event.station_id))

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

    async def _run(self, site_id: int, state: SiteState) -> SiteView | None:
        known = dict(self._needs)  # a need declared during the pass is newer than its view
        view = await SitePass(site_id, state, self._store, self._commands, self._bus,
                              self._tuning, self._draws, self._clock, self._needs).run()
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
