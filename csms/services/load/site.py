"""One site's load management pass: allocate, enforce with profiles, check, record.

Rules:
1. A pass reads the site's model and active sessions from the database, computes the
   headroom now and allocates with the pure allocator (csms.smartcharging).
2. Safe shares (TxDefaultProfile) go out first, to every EVSE whose installed share differs
   from the computed one; then the leased TxProfiles where :func:`needs_sending` says so.
   Sends to different chargers run concurrently.
3. An answer other than Accepted, a CALLERROR or a timeout marks the EVSE as refusing: it
   is counted at its maximum from the next pass on, and ``ChargingProfileRefused`` is
   published. A charger that is offline is not marked (it runs on its own profiles). A
   refusal is tried again one lease period later, when another transaction runs on the
   EVSE than the one its TxProfile was for, or when the charger reconnects: it may have been
   passing (a TxProfile that crossed the transaction's end), and a charger left on a 0 A
   safe share would otherwise keep its car waiting for good.
4. Measured site power is the sum of the latest draw of every active session; it is
   compared with the headroom for the overload check and written to the series. A pass
   given ``draw_window_s`` (a cluster's site owner) computes the draws from the sessions'
   meter values of that window in the database instead of from this node's events.
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import structlog

from csms.domain.commands import ChargingProfile, CommandStatus, SetChargingProfile
from csms.errors import CommandError, StationOffline
from csms.services.commands.service import CommandService
from csms.services.events import (
    ChargingProfileRefused,
    EventBus,
    SiteOverloadCleared,
    SiteOverloaded,
)
from csms.smartcharging.allocator import (
    Allocation,
    AllocatorSettings,
    LimitReason,
    SessionDemand,
    SessionLimit,
    allocate,
)
from csms.smartcharging.leases import (
    Lease,
    LeasePolicy,
    lease_profile,
    needs_sending,
    renewed,
    safe_profile,
)
from csms.smartcharging.measure import Draw, OverloadState, observe_overload, update_draw
from csms.smartcharging.site import (
    EvseSpec,
    Headroom,
    build_tree,
    feeder_node,
    guaranteed_w,
    headroom,
    node_power_w,
    safe_shares,
)
from csms.smartcharging.valley import ValleyWindow, plan
from csms.store.load.store import ActiveSession, EvseDefaults, LoadStore, SeriesPoint, SiteModel

log = structlog.get_logger(__name__)
EvseKey = tuple[str, int]


@dataclass(frozen=True, slots=True)
class Tuning:
    """What a pass needs from the settings."""

    policy: LeasePolicy
    allocator: AllocatorSettings
    defaults: EvseDefaults
    profile_timeout_s: float
    overload_tolerance_w: float
    overload_hold_s: float
    series_interval_s: float
    valley: ValleySettings | None = None  # None: no valley shifting
    draw_settle_s: float = 30.0  # samples this soon after a limit change are ignored


@dataclass(frozen=True, slots=True)
class ValleySettings:
    start_hour: int
    end_hour: int
    assumed_share: float  # of a session's maximum power, expected in the valley
    safety_factor: float


@dataclass(frozen=True, slots=True)
class Need:
    """A session's declared energy need (Wh) and departure."""

    energy_wh: float
    departure_at: datetime


@dataclass(frozen=True, slots=True)
class ConnectorAllocation:
    """What the API shows per EVSE with an active session."""

    station_id: str
    evse_id: int
    session_id: int
    limit_a: float
    reason: str
    phases: int
    max_a: float
    sent_limit_a: float | None
    lease_until: datetime | None
    refused: bool
    measured_w: float | None


@dataclass(frozen=True, slots=True)
class SiteView:
    site_id: int
    at: datetime
    headroom: Headroom
    allocated_w: float
    measured_w: float
    overloaded: bool
    connectors: tuple[ConnectorAllocation, ...]
    safe_shares_a: dict[str, float]  # "station/evse" -> A


@dataclass(frozen=True, slots=True)
class Refusal:
    """When an EVSE refused a profile, and the transaction of that profile (None: a safe
    share, which has none)."""

    at: datetime
    transaction_ref: str | None


@dataclass(slots=True)
class SiteState:
    """What one site's passes remember between them (this node only)."""

    previous: Allocation | None = None
    leases: dict[EvseKey, Lease] = field(default_factory=dict)
    safe: dict[EvseKey, float] = field(default_factory=dict)
    refused: dict[EvseKey, Refusal] = field(default_factory=dict)
    overload: dict[str, OverloadState] = field(default_factory=dict)  # by tree node
    last_series_at: datetime | None = None
    view: SiteView | None = None
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)

    def forget_station(self, station_id: str) -> None:
        """A (re)connected charger: resend its safe share, trust it again."""
        for keys in (self.safe, self.leases):
            for key in [k for k in keys if k[0] == station_id]:
                del keys[key]
        self.refused = {k: r for k, r in self.refused.items() if k[0] != station_id}

    def retry_refused(self, now: datetime, after_s: float,
                      transactions: Mapping[EvseKey, str | None]) -> None:
        """Trust again the EVSEs that refused at least ``after_s`` ago, or whose refused
        TxProfile was for another transaction than the one running now (rule 3)."""
        self.refused = {
            k: r for k, r in self.refused.items()
            if (now - r.at).total_seconds() < after_s
            and (r.transaction_ref is None or transactions.get(k) == r.transaction_ref)}


class SitePass:
    """One pass over one site (module rules)."""

    def __init__(self, site_id: int, state: SiteState, store: LoadStore,
                 commands: CommandService, bus: EventBus, tuning: Tuning,
                 draws: Mapping[int, Draw], clock: Callable[[], datetime],
                 needs: Mapping[EvseKey, Need] | None = None,
                 draw_window_s: float | None = None) -> None:
        self.site_id = site_id
        self.state = state
        self._store = store
        self._commands = commands
        self._bus = bus
        self._tuning = tuning
        self._draws = draws
        self._clock = clock
        self._needs = needs or {}
        self._draw_window_s = draw_window_s

    async def run(self) -> SiteView | None:
        """Allocate, enforce, check and record; None if the site has no enabled settings."""
        model = await self._store.site_model(self.site_id, self._tuning.defaults)
        if model is None or not model.enabled:
            return None
        sessions = await self._store.active_sessions(self.site_id)
        now = self._clock()
        self.state.retry_refused(now, self._tuning.policy.lease_s, {
            (s.station_id, s.evse_id): s.transaction_ref for s in sessions})
        head = headroom(model.limits, now, model.profile, model.reading)
        specs = _specs(model, sessions, self._tuning.defaults)
        if self._draw_window_s is not None:
            self._draws = await self._read_draws(sessions, specs, model.limits.voltage_v, now)
        await self._install_safe_shares(model, specs, head)
        by_key = {(s.station_id, s.evse_id): s for s in sessions}
        refused = [specs[k] for k in by_key if k in self.state.refused]
        tree = build_tree(model.limits, head.available_w, model.feeders, refused)
        deferred = self._deferred(model, sessions, specs, now)
        waiting = await self._store.awaiting_car(self.site_id) - deferred
        demands = [self._demand(s, specs[k], model.limits.voltage_v)
                   for k, s in by_key.items() if k not in self.state.refused
                   and s.session_id not in deferred | waiting]
        allocation = allocate(tree, demands, now, self.state.previous, self._tuning.allocator)
        self.state.previous = allocation
        allocation = dataclasses.replace(allocation, limits=allocation.limits + tuple(
            SessionLimit(sid, 0.0, LimitReason.VALLEY) for sid in sorted(deferred)) + tuple(
            SessionLimit(sid, 0.0, LimitReason.AWAITING_CAR) for sid in sorted(waiting)))
        await self._enforce(allocation, sessions, specs, now)
        view = self._check_overload(
            self._view(model, head, allocation, sessions, specs, now), model, specs, now)
        await self._record(view, now)
        self.state.view = view
        return view

    async def _read_draws(self, sessions: list[ActiveSession],
                          specs: Mapping[EvseKey, EvseSpec], voltage_v: float, now: datetime
                          ) -> dict[int, Draw]:
        """Rule 4: the draws from the database's meter values."""
        assert self._draw_window_s is not None
        since = now - timedelta(seconds=self._draw_window_s)
        found = await self._store.samples([s.session_id for s in sessions], since)
        draws = {}
        for s in sessions:
            draw = update_draw(None, found.get(s.session_id, ()), voltage_v,
                               specs[(s.station_id, s.evse_id)].phases)
            if draw is not None:
                draws[s.session_id] = draw
        return draws

    def _demand(self, session: ActiveSession, spec: EvseSpec, voltage_v: float
                ) -> SessionDemand:
        draw = self._draws.get(session.session_id)
        lease = self.state.leases.get((session.station_id, session.evse_id))
        stale = draw is not None and lease is not None and not lease.settled(
            draw.at, self._tuning.draw_settle_s)  # taken before the limit took effect
        measured = None if draw is None or draw.power_w is None or stale else (
            draw.power_w / (voltage_v * spec.phases))
        need = self._needs.get((session.station_id, session.evse_id))
        return SessionDemand(session.session_id, feeder_node(spec.feeder_id, self.site_id),
                             spec.max_a, session.started_at, spec.phases,
                             measured_a=measured,
                             energy_needed_wh=None if need is None else need.energy_wh,
                             departure_at=None if need is None else need.departure_at)

    def _deferred(self, model: SiteModel, sessions: list[ActiveSession],
                  specs: Mapping[EvseKey, EvseSpec], now: datetime) -> set[int]:
        """Sessions that wait for the valley (csms.smartcharging.valley)."""
        valley = self._tuning.valley
        if valley is None:
            return set()
        window = ValleyWindow(valley.start_hour, valley.end_hour, model.zone)
        out = set()
        for s in sessions:
            key = (s.station_id, s.evse_id)
            need = self._needs.get(key)
            if need is None:
                continue
            spec = specs[key]
            assumed_w = valley.assumed_share * spec.max_a * model.limits.voltage_v * spec.phases
            if plan(now, need.departure_at, need.energy_wh, assumed_w, window,
                    valley.safety_factor).deferred:
                out.add(s.session_id)
        return out

    async def _install_safe_shares(self, model: SiteModel, specs: Mapping[EvseKey, EvseSpec],
                                   head: Headroom) -> None:
        floor_w = guaranteed_w(model.limits, model.profile, head.available_w)
        tree = build_tree(model.limits, floor_w, model.feeders)
        shares = safe_shares(tree, list(specs.values()), self.site_id)
        sends = [(key, safe_profile(key[1], share, specs[key].phases), share)
                 for key, share in shares.items() if self.state.safe.get(key) != share]
        results = await asyncio.gather(*(self._send(key, profile) for key, profile, _ in sends))
        for (key, _, share), ok in zip(sends, results, strict=True):
            if ok:
                self.state.safe[key] = share

    async def _enforce(self, allocation: Allocation, sessions: list[ActiveSession],
                       specs: Mapping[EvseKey, EvseSpec], now: datetime) -> None:
        limits = allocation.by_id()
        live = {(s.station_id, s.evse_id) for s in sessions}
        for key in [k for k in self.state.leases if k not in live]:
            del self.state.leases[key]
        sends: list[tuple[EvseKey, ChargingProfile, float]] = []
        for session in sessions:
            key = (session.station_id, session.evse_id)
            limit = limits.get(session.session_id)
            if limit is None or not needs_sending(
                    self.state.leases.get(key), session.transaction_ref, limit.limit_a, now,
                    self._tuning.policy):
                continue
            profile = lease_profile(session.evse_id, session.transaction_ref, limit.limit_a,
                                    specs[key].phases, now, self._tuning.policy)
            sends.append((key, profile, limit.limit_a))
        results = await asyncio.gather(*(self._send(key, profile) for key, profile, _ in sends))
        for (key, profile, limit_a), ok in zip(sends, results, strict=True):
            if ok and profile.transaction_ref is not None:
                self.state.leases[key] = renewed(self.state.leases.get(key),
                                                 profile.transaction_ref, limit_a, now,
                                                 self._tuning.policy)

    async def _send(self, key: EvseKey, profile: ChargingProfile) -> bool:
        """Whether the charger accepted ``profile`` (Rule 3)."""
        station_id, evse_id = key
        try:
            result = await self._commands.send(
                station_id, SetChargingProfile(evse_id, profile),
                timeout_s=self._tuning.profile_timeout_s, requested_by="load")
        except StationOffline:
            return False
        except CommandError as exc:
            self._refused(key, profile, type(exc).__name__)
            return False
        status = result.status if isinstance(result, CommandStatus) else "Invalid"
        if status != "Accepted":
            self._refused(key, profile, status)
            return False
        return True

    def _refused(self, key: EvseKey, profile: ChargingProfile, outcome: str) -> None:
        log.warning("load.profile_refused", site_id=self.site_id, station_id=key[0],
                    evse_id=key[1], outcome=outcome)
        self.state.refused[key] = Refusal(self._clock(), profile.transaction_ref)
        self.state.leases.pop(key, None)
        self._bus.publish(ChargingProfileRefused(key[0], key[1], outcome, self._clock()))

    def _view(self, model: SiteModel, head: Headroom, allocation: Allocation,
              sessions: list[ActiveSession], specs: Mapping[EvseKey, EvseSpec],
              now: datetime) -> SiteView:
        limits = allocation.by_id()
        rows: list[ConnectorAllocation] = []
        allocated = measured = 0.0
        voltage = model.limits.voltage_v
        for s in sessions:
            key = (s.station_id, s.evse_id)
            spec, lease = specs[key], self.state.leases.get(key)
            draw = self._draws.get(s.session_id)
            refused = key in self.state.refused
            limit = limits.get(s.session_id)
            limit_a = spec.max_a if refused or limit is None else limit.limit_a
            reason = "refused" if refused else (limit.reason.value if limit else "unknown")
            allocated += limit_a * voltage * spec.phases
            power_w = None if draw is None else draw.power_w
            measured += power_w or 0.0
            rows.append(ConnectorAllocation(
                s.station_id, s.evse_id, s.session_id, limit_a, reason, spec.phases,
                spec.max_a, lease.limit_a if lease else None,
                lease.valid_to if lease else None, refused,
                power_w))
        shares = {f"{k[0]}/{k[1]}": v for k, v in self.state.safe.items()}
        return SiteView(self.site_id, now, head, allocated, measured, False, tuple(rows),
                        shares)

    def _check_overload(self, view: SiteView, model: SiteModel,
                        specs: Mapping[EvseKey, EvseSpec], now: datetime) -> SiteView:
        """Measured power against the headroom at the site and each feeder's limit."""
        tree = build_tree(model.limits, view.headroom.available_w, model.feeders)
        measured = node_power_w(tree, self.site_id, {
            specs[(c.station_id, c.evse_id)]: c.measured_w or 0.0 for c in view.connectors})
        for node in tree.nodes:
            feeder = None if node.parent_id is None else int(node.node_id.split(":")[1])
            self._observe(node.node_id, feeder, measured[node.node_id], node.limit_w, now)
        root = self.state.overload.get(tree.site_id)
        return dataclasses.replace(view, overloaded=root is not None and root.reported)

    def _observe(self, node_id: str, feeder_id: int | None, measured_w: float,
                 limit_w: float, now: datetime) -> None:
        t = self._tuning
        state, change = observe_overload(self.state.overload.get(node_id, OverloadState()),
                                         measured_w, limit_w, t.overload_tolerance_w,
                                         t.overload_hold_s, now)
        self.state.overload[node_id] = state
        if change is not None and change.overloaded:
            log.warning("load.site_overloaded", site_id=self.site_id, feeder_id=feeder_id,
                        measured_w=measured_w, limit_w=limit_w)
            self._bus.publish(SiteOverloaded(self.site_id, feeder_id, measured_w, limit_w,
                                             change.since, now))
        elif change is not None:
            log.info("load.site_overload_cleared", site_id=self.site_id, feeder_id=feeder_id)
            self._bus.publish(SiteOverloadCleared(self.site_id, feeder_id, measured_w,
                                                  limit_w, now))

    async def _record(self, view: SiteView, now: datetime) -> None:
        last = self.state.last_series_at
        if last is not None and (now - last).total_seconds() < self._tuning.series_interval_s:
            return
        self.state.last_series_at = now
        await self._store.add_series(self.site_id, [SeriesPoint(
            now, view.headroom.available_w, view.allocated_w, view.measured_w,
            view.headroom.base_load_w)])


def _specs(model: SiteModel, sessions: list[ActiveSession], defaults: EvseDefaults
           ) -> dict[EvseKey, EvseSpec]:
    """The site's EVSEs, plus one with the defaults for a session on an EVSE not yet seen."""
    specs = {(e.station_id, e.evse_id): e for e in model.evses}
    for s in sessions:
        specs.setdefault((s.station_id, s.evse_id), EvseSpec(
            s.station_id, s.evse_id, defaults.max_current_a, defaults.phases))
    return specs
