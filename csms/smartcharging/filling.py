"""Max-min fair sharing (progressive filling / water-filling) on a limit tree.

All sessions being filled start at the same current and rise together; a session stops
rising at its cap, and every session below a node stops when that node is full. Each step
freezes at least one session or one node, so a fill costs O((sessions + nodes) × nodes).
Currents are fair in amps: a three-phase session at the same current uses three times the
power of a single-phase one.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

_CAP_TOL_A = 1e-9


def node_tolerance_w(limit_w: float) -> float:
    """How close to its limit a node counts as full (float rounding only)."""
    return 1e-9 * max(1.0, limit_w)


@dataclass(frozen=True, slots=True)
class Filler:
    """One session to be filled: its path to the root, W per A, and its cap in A."""

    key: int
    path: tuple[str, ...]
    weight_w_per_a: float
    cap_a: float


@dataclass(slots=True)
class _State:
    remaining_w: dict[str, float]
    limits_w: Mapping[str, float]
    slope: dict[str, float]
    count: dict[str, int]
    members: dict[str, list[int]]
    active: dict[int, Filler]
    result: dict[int, tuple[float, str | None]]
    level_a: float

    def freeze(self, filler: Filler, current_a: float, node_id: str | None) -> None:
        del self.active[filler.key]
        self.result[filler.key] = (current_a, node_id)
        for node in filler.path:
            self.slope[node] -= filler.weight_w_per_a
            self.count[node] -= 1

    def freeze_full_nodes(self) -> None:
        for node, count in self.count.items():
            if count == 0 or self.remaining_w[node] > node_tolerance_w(self.limits_w[node]):
                continue
            for key in self.members[node]:
                filler = self.active.get(key)
                if filler is not None:
                    self.freeze(filler, self.level_a, node)


def fill(
    fillers: Sequence[Filler], start_a: float, remaining_w: dict[str, float],
    limits_w: Mapping[str, float],
) -> dict[int, tuple[float, str | None]]:
    """Raise every filler from ``start_a`` (already counted in ``remaining_w``) fairly.

    Returns key → (current in A, the node that stopped it or None when its cap did), and
    lowers ``remaining_w`` by the power handed out.
    """
    state = _State(
        remaining_w, limits_w, dict.fromkeys(remaining_w, 0.0), dict.fromkeys(remaining_w, 0),
        {node: [] for node in remaining_w}, {}, {}, start_a,
    )
    for filler in fillers:
        state.active[filler.key] = filler
        for node in filler.path:
            state.slope[node] += filler.weight_w_per_a
            state.count[node] += 1
            state.members[node].append(filler.key)
    by_cap = sorted(fillers, key=lambda f: (f.cap_a, f.key))
    next_cap = 0
    while True:
        while next_cap < len(by_cap) and (
            by_cap[next_cap].key not in state.active
            or by_cap[next_cap].cap_a <= state.level_a + _CAP_TOL_A
        ):
            filler = by_cap[next_cap]
            if filler.key in state.active:
                state.freeze(filler, filler.cap_a, None)
            next_cap += 1
        state.freeze_full_nodes()
        if not state.active:
            return state.result
        _raise_level(state, by_cap[next_cap].cap_a - state.level_a)


def _raise_level(state: _State, up_to_a: float) -> None:
    """Raise the level by ``up_to_a`` or until the first node fills, whichever is first."""
    step = up_to_a
    full: str | None = None
    for node, slope in state.slope.items():
        if state.count[node] > 0 and state.remaining_w[node] / slope < step:
            step = state.remaining_w[node] / slope
            full = node
    step = max(step, 0.0)
    state.level_a += step
    for node, slope in state.slope.items():
        if state.count[node] > 0:
            state.remaining_w[node] -= slope * step
    if full is not None:
        state.remaining_w[full] = min(state.remaining_w[full], 0.0)
