"""The site allocator: a current limit for every active session, within every node's limit.

Rules:
1. A session's limit is 0 (paused) or between ``min_a`` (6 A, the lowest IEC 61851 pilot
   current) and its connector's ``max_a``. A session whose ``max_a`` is below 6 A, or whose
   6 A alone exceeds a node on its path, is never started (``INFEASIBLE``).
2. Power of a session = ``limit_a × voltage_v × phases``; at every node of the tree the sum
   over the sessions below it stays within the node's limit.
3. Priority classes first: a higher ``priority`` is admitted first and filled first; a lower
   class gets what the higher ones leave. Rotation (Rule 7) is within a class.
4. Fair share: the admitted sessions of a class are filled max-min fairly in amps
   (water-filling), each node's remaining power bounding every session below it.
5. Measured draw: a session that was offered ``limit_a`` (or, new, its ``max_a``) and draws
   less than that by more than ``draw_margin_a`` is capped at ``measured_a +
   draw_margin_a`` (never below 6 A); what it leaves goes to the others. When it draws its
   cap again, the cap is lifted on the next call.
6. Admission: if every session fits at 6 A, nobody is paused. Otherwise sessions are taken
   in order and admitted at 6 A while every node on their path has room:
   (a) sessions charging for less than ``min_run_s`` (protected: no start/stop flapping);
   (b) waiting sessions, longest waiting first (paused since, or started at when new);
   (c) the other charging sessions: urgent ones (Rule 8) first, then the one that started
       charging most recently; so the one that has charged longest is paused first.
   A waiting session that does not fit blocks the nodes where it did not fit for every
   later waiting session (no overtaking by smaller cars), so nobody waits indefinitely.
7. Rotation bound: in one class, with ``D`` tree levels, a waiting session with ``m``
   waiters ahead of it starts within ``(m + 1) × D`` periods of ``min_run_s`` plus one call
   each (see tests/unit/smartcharging/test_allocator.py for the measured bound).
8. Departure: a session with ``energy_needed_wh`` and a future ``departure_at`` that needs
   at least ``urgency_ratio`` of its remaining time at full current is urgent; it is kept
   charging before other unprotected sessions (Rule 6c). No minimum current is reserved.
9. Deterministic: the same inputs give the same output; ties are broken by session id.
   Limits are rounded down to ``resolution_a`` (never below 6 A).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from csms.smartcharging.filling import Filler, fill, node_tolerance_w
from csms.smartcharging.tree import SiteTree


@dataclass(frozen=True, slots=True)
class AllocatorSettings:
    min_a: float = 6.0
    draw_margin_a: float = 2.0
    min_run_s: float = 900.0
    resolution_a: float = 0.1
    urgency_ratio: float = 0.8


DEFAULT_SETTINGS = AllocatorSettings()


@dataclass(frozen=True, slots=True)
class SessionDemand:
    """An active session as the allocator sees it."""

    session_id: int
    node_id: str
    max_a: float
    started_at: datetime
    phases: int = 1
    priority: int = 0  # higher is served first
    measured_a: float | None = None  # per phase, from the latest meter values
    energy_needed_wh: float | None = None
    departure_at: datetime | None = None


class LimitReason(StrEnum):
    AT_MAX = "at_max"  # got its connector's maximum
    NODE_LIMIT = "node_limit"  # its fair share at ``node_id``
    DRAW_LIMITED = "draw_limited"  # capped at measured draw + margin (Rule 5)
    QUEUED = "queued"  # paused: not enough capacity now (Rule 6)
    INFEASIBLE = "infeasible"  # paused: can never charge here (Rule 1)
    VALLEY = "valley"  # paused by its caller until the valley (csms.smartcharging.valley)
    AWAITING_CAR = "awaiting_car"  # reserved, car not there (csms.smartcharging.reservations)


@dataclass(frozen=True, slots=True)
class SessionLimit:
    session_id: int
    limit_a: float
    reason: LimitReason
    charging_since: datetime | None = None
    paused_since: datetime | None = None
    node_id: str | None = None  # the node that bounds it (NODE_LIMIT)


@dataclass(frozen=True, slots=True)
class Allocation:
    site_id: str
    at: datetime
    limits: tuple[SessionLimit, ...]  # by session id

    def by_id(self) -> dict[int, SessionLimit]:
        return {limit.session_id: limit for limit in self.limits}

    @property
    def paused_ids(self) -> tuple[int, ...]:
        return tuple(limit.session_id for limit in self.limits if limit.limit_a == 0)


@dataclass(frozen=True, slots=True)
class _Candidate:
    demand: SessionDemand
    path: tuple[str, ...]
    weight_w_per_a: float
    cap_a: float
    draw_limited: bool
    order: tuple[int, int, float, int]
    previous: SessionLimit | None


def allocate(
    tree: SiteTree,
    sessions: Iterable[SessionDemand],
    now: datetime,
    previous: Allocation | None = None,
    settings: AllocatorSettings = DEFAULT_SETTINGS,
) -> Allocation:
    """The limit of every session in ``sessions`` at ``now`` (see the module's rules)."""
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    demands = sorted(sessions, key=lambda d: d.session_id)
    if len({d.session_id for d in demands}) != len(demands):
        raise ValueError("duplicate session id")
    before = previous.by_id() if previous is not None else {}
    limits_w = {node.node_id: node.limit_w for node in tree.nodes}
    candidates = [_candidate(tree, d, now, before.get(d.session_id), settings) for d in demands]
    infeasible = {c.demand.session_id for c in candidates if not _feasible(c, limits_w, settings)}
    remaining = dict(limits_w)
    admitted = _admit(
        sorted((c for c in candidates if c.demand.session_id not in infeasible),
               key=lambda c: c.order),
        remaining, settings,
    )
    currents: dict[int, tuple[float, str | None]] = {}
    for priority in sorted({c.demand.priority for c in admitted}, reverse=True):
        fillers = [
            Filler(c.demand.session_id, c.path, c.weight_w_per_a, c.cap_a)
            for c in admitted if c.demand.priority == priority
        ]
        currents.update(fill(fillers, settings.min_a, remaining, limits_w))
    limits = tuple(_limit(c, currents, infeasible, now, settings) for c in candidates)
    return Allocation(tree.site_id, now, limits)


def _candidate(
    tree: SiteTree, demand: SessionDemand, now: datetime, before: SessionLimit | None,
    settings: AllocatorSettings,
) -> _Candidate:
    if demand.node_id not in tree.paths:
        raise ValueError(f"session {demand.session_id}: unknown node {demand.node_id}")
    if demand.phases not in (1, 2, 3):
        raise ValueError(f"session {demand.session_id}: phases must be 1, 2 or 3")
    cap_a, draw_limited = _cap(demand, before, settings)
    weight = tree.voltage_v * demand.phases
    return _Candidate(
        demand, tree.paths[demand.node_id], weight, cap_a, draw_limited,
        _order(demand, before, now, _urgent(demand, weight, now, settings), settings.min_run_s),
        before,
    )


def _cap(
    demand: SessionDemand, before: SessionLimit | None, settings: AllocatorSettings
) -> tuple[float, bool]:
    """The most this session may get now, and whether its measured draw set that (Rule 5)."""
    if demand.measured_a is None or (before is not None and before.limit_a == 0):
        return demand.max_a, False
    offered = before.limit_a if before is not None else demand.max_a
    ceiling = max(settings.min_a, demand.measured_a + settings.draw_margin_a)
    if demand.measured_a + settings.draw_margin_a < offered and ceiling < demand.max_a:
        return ceiling, True
    return demand.max_a, False


def _order(
    demand: SessionDemand, before: SessionLimit | None, now: datetime, urgent: bool,
    min_run_s: float,
) -> tuple[int, int, float, int]:
    """Admission order (Rule 6): class, group, time key, session id; smallest first."""
    charging_since = before.charging_since if before is not None else None
    if charging_since is None:
        waiting_since = before.paused_since if before is not None else None
        start = min(waiting_since or demand.started_at, now)
        return (-demand.priority, 1, start.timestamp(), demand.session_id)
    if (now - charging_since).total_seconds() < min_run_s:
        return (-demand.priority, 0, charging_since.timestamp(), demand.session_id)
    group = 2 if urgent else 3
    return (-demand.priority, group, -charging_since.timestamp(), demand.session_id)


def _urgent(
    demand: SessionDemand, weight_w_per_a: float, now: datetime, settings: AllocatorSettings
) -> bool:
    """Rule 8: it needs most of its remaining time at full current to meet its need."""
    if demand.energy_needed_wh is None or demand.departure_at is None:
        return False
    left_s = (demand.departure_at - now).total_seconds()
    if left_s <= 0 or demand.energy_needed_wh <= 0 or demand.max_a <= 0:
        return False
    needed_s = demand.energy_needed_wh / (demand.max_a * weight_w_per_a) * 3600.0
    return needed_s >= settings.urgency_ratio * left_s


def _feasible(c: _Candidate, limits_w: dict[str, float], settings: AllocatorSettings) -> bool:
    if c.demand.max_a < settings.min_a:
        return False
    need_w = settings.min_a * c.weight_w_per_a
    return all(need_w <= limits_w[n] + node_tolerance_w(limits_w[n]) for n in c.path)


def _admit(
    ordered: Sequence[_Candidate], remaining: dict[str, float], settings: AllocatorSettings
) -> list[_Candidate]:
    """Admit at 6 A in order while they fit; a waiter that does not fit blocks (Rule 6)."""
    blocked: set[str] = set()
    admitted: list[_Candidate] = []
    for c in ordered:
        waiting = c.order[1] == 1
        if waiting and not blocked.isdisjoint(c.path):
            continue
        need_w = settings.min_a * c.weight_w_per_a
        short = [n for n in c.path if remaining[n] + node_tolerance_w(remaining[n]) < need_w]
        if short:
            if waiting:
                blocked.update(short)
            continue
        for n in c.path:
            remaining[n] -= need_w
        admitted.append(c)
    return admitted


def _limit(
    c: _Candidate, currents: dict[int, tuple[float, str | None]], infeasible: set[int],
    now: datetime, settings: AllocatorSettings,
) -> SessionLimit:
    sid = c.demand.session_id
    before = c.previous
    if sid not in currents:
        was_paused = before is None or before.limit_a == 0
        since = (before.paused_since if before is not None else None) or c.demand.started_at
        reason = LimitReason.INFEASIBLE if sid in infeasible else LimitReason.QUEUED
        return SessionLimit(sid, 0.0, reason, None, min(since, now) if was_paused else now)
    current_a, node = currents[sid]
    step = settings.resolution_a
    floored = round(math.floor(current_a / step + 1e-9) * step, 6)
    limit_a = max(settings.min_a, min(current_a, floored))
    charging_since = before.charging_since if before is not None else None
    if node is not None:
        reason = LimitReason.NODE_LIMIT
    elif c.draw_limited:
        reason = LimitReason.DRAW_LIMITED
    else:
        reason = LimitReason.AT_MAX
    return SessionLimit(sid, limit_a, reason, charging_since or now, None, node)
