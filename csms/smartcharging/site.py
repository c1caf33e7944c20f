"""A site as load management configures it: headroom now, the limit tree, the safe shares.

Rules:
1. Headroom (headroom.py Rule 1) uses the live base-load reading while it is at most
   ``reading_max_age_s`` old, else the base-load profile; a site without a profile counts
   its base load as 0 only when it has a fresh reading, else as the transformer's whole
   usable power (no headroom: unknown load is never assumed small).
2. The tree: the site is the root (``site:<id>``, limit = headroom now); each feeder is a
   node ``feeder:<id>`` under its parent feeder or the root. An EVSE hangs under its feeder
   or the root.
3. Chargers that refuse our profiles draw up to their maximum whatever we say: their
   maximum power is taken off every node on their path before the others are shared.
4. Safe shares (ARCHITECTURE property 5): every EVSE of the site gets the same static
   current, the largest (rounded down to 0.1 A) such that at every node the shares of all
   EVSEs below it fit the node's *guaranteed* limit (the root's: the headroom at the worst
   hour of the profile, or now when there is no profile), and at most its own maximum. A
   share below 6 A is 0: those EVSEs do not charge while the CSMS is away.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from csms.smartcharging.headroom import BaseLoadProfile, available_w
from csms.smartcharging.tree import Node, SiteTree

MIN_A = 6.0


@dataclass(frozen=True, slots=True)
class SiteLimits:
    """The electrical settings of a site (headroom.py Rule 1 terms)."""

    site_id: int
    transformer_kva: float
    loading_factor: float
    power_factor: float
    margin_w: float
    voltage_v: float
    supply_phases: int = 3
    hard_cap_w: float | None = None
    reading_max_age_s: float = 300.0

    def usable_w(self) -> float:
        """The transformer's usable power before any base load, in W."""
        return available_w(self.transformer_kva, self.loading_factor, self.power_factor,
                           0.0, 0.0)


@dataclass(frozen=True, slots=True)
class Feeder:
    feeder_id: int
    limit_w: float
    parent_id: int | None = None  # None: directly under the site


@dataclass(frozen=True, slots=True)
class BaseReading:
    load_w: float
    at: datetime


@dataclass(frozen=True, slots=True)
class EvseSpec:
    """One EVSE of the site: its maximum current per phase, phases, and feeder."""

    station_id: str
    evse_id: int
    max_a: float
    phases: int
    feeder_id: int | None = None


@dataclass(frozen=True, slots=True)
class Headroom:
    """The power for charging now and where the base load came from."""

    available_w: float
    base_load_w: float
    source: str  # "reading" | "profile" | "unknown"


def root_id(site_id: int) -> str:
    return f"site:{site_id}"


def feeder_node(feeder_id: int | None, site_id: int) -> str:
    return root_id(site_id) if feeder_id is None else f"feeder:{feeder_id}"


def headroom(limits: SiteLimits, at: datetime, profile: BaseLoadProfile | None,
             reading: BaseReading | None) -> Headroom:
    """The site's headroom at ``at`` (Rule 1), in W."""
    if reading is not None and 0 <= (at - reading.at).total_seconds() <= (
            limits.reading_max_age_s):
        base, source = reading.load_w, "reading"
    elif profile is not None:
        base, source = profile.base_load_w(at), "profile"
    else:
        base, source = limits.usable_w(), "unknown"
    return Headroom(_available(limits, base), base, source)


def guaranteed_w(limits: SiteLimits, profile: BaseLoadProfile | None,
                 now_w: float) -> float:
    """The least headroom the site can count on: its worst profile hour (Rule 4), in W."""
    if profile is None:
        return now_w
    worst = max(*profile.workday_w, *profile.rest_day_w)
    return _available(limits, worst)


def _available(limits: SiteLimits, base_w: float) -> float:
    return available_w(limits.transformer_kva, limits.loading_factor, limits.power_factor,
                       base_w, limits.margin_w, limits.hard_cap_w)


def build_tree(limits: SiteLimits, root_w: float, feeders: Sequence[Feeder],
               refused: Iterable[EvseSpec] = ()) -> SiteTree:
    """The limit tree with ``root_w`` at the root, minus refusing chargers (Rules 2, 3).

    Raises:
        ValueError: a feeder names an unknown parent or the feeders form a cycle.
    """
    nodes = [Node(root_id(limits.site_id), root_w)]
    nodes += [Node(feeder_node(f.feeder_id, limits.site_id), f.limit_w,
                   feeder_node(f.parent_id, limits.site_id)) for f in feeders]
    tree = SiteTree(root_id(limits.site_id), tuple(nodes), limits.voltage_v)
    taken: dict[str, float] = {}
    for evse in refused:
        for node in tree.paths[feeder_node(evse.feeder_id, limits.site_id)]:
            taken[node] = taken.get(node, 0.0) + evse.max_a * limits.voltage_v * evse.phases
    if not taken:
        return tree
    reduced = tuple(Node(n.node_id, max(0.0, n.limit_w - taken.get(n.node_id, 0.0)),
                         n.parent_id) for n in tree.nodes)
    return SiteTree(tree.site_id, reduced, tree.voltage_v)


def safe_shares(tree: SiteTree, evses: Sequence[EvseSpec], site_id: int,
                resolution_a: float = 0.1) -> dict[tuple[str, int], float]:
    """Each EVSE's static safe current in A per phase (Rule 4); ``tree`` holds the
    guaranteed limits."""
    weight: dict[str, float] = {}
    for evse in evses:
        for node in tree.paths[feeder_node(evse.feeder_id, site_id)]:
            weight[node] = weight.get(node, 0.0) + tree.voltage_v * evse.phases
    if not weight:
        return {}
    per_a = min(tree.limit_w(node) / w for node, w in weight.items())
    shares: dict[tuple[str, int], float] = {}
    for evse in evses:
        share = math.floor(min(per_a, evse.max_a) / resolution_a + 1e-9) * resolution_a
        shares[evse.station_id, evse.evse_id] = round(share, 6) if share >= MIN_A else 0.0
    return shares


def node_power_w(tree: SiteTree, site_id: int, evse_power_w: Mapping[EvseSpec, float]
                 ) -> dict[str, float]:
    """Power summed at every node from per-EVSE power, in W."""
    total = dict.fromkeys(tree.paths, 0.0)
    for evse, power in evse_power_w.items():
        for node in tree.paths[feeder_node(evse.feeder_id, site_id)]:
            total[node] += power
    return total
