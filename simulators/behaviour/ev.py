"""The simulated electric vehicle: battery, charging curve, arrival and departure. Pure.

Rules:
1. The EV's own maximum current per phase follows its curve: ``max_current_a`` up to
   ``taper_from_soc_pct``, then falling linearly towards the full battery, but never below
   :data:`MIN_CURRENT_A` while not full (IEC 61851: 6 A is the least a car charges at);
   a full battery (``soc >= target_soc_pct``) draws nothing.
2. What it draws (:func:`draw`) is the smaller of its own maximum and the charger's
   effective limit (current per phase, and power when the profile is in W), on
   ``min(ev.phases, charger phases)`` phases. An offered current below 6 A pauses it: 0 A.
3. The state of charge grows by the energy delivered (Wh) over the capacity, losses
   ignored (the meter measures what the car takes).
4. Times are simulated (see :mod:`simulators.clock`), aware UTC.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Final

MIN_CURRENT_A: Final = 6.0


@dataclass(frozen=True, slots=True)
class Ev:
    """One car. ``departure``: when it leaves (``None``: once full); ``arrival``: when a
    fleet plugs it in (``None``: at once). ``declares_needs``: it tells the charger its
    energy need and departure (ISO 15118), which a 2.0.1 charger passes on."""

    capacity_wh: float = 60_000.0
    arrival_soc_pct: float = 20.0
    target_soc_pct: float = 100.0
    max_current_a: float = 32.0
    phases: int = 3
    taper_from_soc_pct: float = 80.0
    arrival: datetime | None = None
    departure: datetime | None = None
    declares_needs: bool = False  # ISO 15118: NotifyEVChargingNeeds at the start (2.0.1)

    def __post_init__(self) -> None:
        if self.capacity_wh <= 0 or self.max_current_a <= 0 or self.phases not in (1, 2, 3):
            raise ValueError("an EV needs a positive capacity and current and 1-3 phases")
        if not 0 <= self.arrival_soc_pct <= 100 or not 0 < self.target_soc_pct <= 100:
            raise ValueError("states of charge are percentages")


@dataclass(frozen=True, slots=True)
class Draw:
    """What a connector delivers at one instant and why."""

    current_a: float  # per phase
    power_w: float
    phases: int
    limit_a: float  # the charger's effective limit per phase
    limit_w: float
    soc_pct: float
    paused: bool  # the limit is below 6 A
    full: bool


def own_max_current_a(ev: Ev, soc_pct: float) -> float:
    """Rule 1: the EV's curve at ``soc_pct`` (A per phase)."""
    if soc_pct >= ev.target_soc_pct:
        return 0.0
    if soc_pct <= ev.taper_from_soc_pct:
        return ev.max_current_a
    span = max(1e-9, 100.0 - ev.taper_from_soc_pct)
    tapered = ev.max_current_a * (100.0 - soc_pct) / span
    return max(MIN_CURRENT_A, min(ev.max_current_a, tapered))


def draw(
    ev: Ev, soc_pct: float, *, limit_a: float, limit_w: float, voltage_v: float,
    charger_phases: int,
) -> Draw:
    """Rule 2: what the EV takes at ``soc_pct`` under the charger's limits."""
    phases = min(ev.phases, charger_phases)
    own = own_max_current_a(ev, soc_pct)
    full = own == 0.0
    paused = limit_a < MIN_CURRENT_A
    amps = 0.0 if paused or full else min(own, limit_a, limit_w / (voltage_v * phases))
    if 0 < amps < MIN_CURRENT_A:  # a W limit below 6 A on these phases pauses it too
        amps, paused = 0.0, True
    return Draw(amps, amps * voltage_v * phases, phases, limit_a, limit_w, soc_pct, paused, full)


def charged_soc(ev: Ev, soc_pct: float, energy_wh: float) -> float:
    """Rule 3: the state of charge after taking ``energy_wh`` more (capped at 100 %)."""
    return min(100.0, soc_pct + energy_wh / ev.capacity_wh * 100.0)


def random_ev(
    rng: random.Random, *, arrival: datetime, dwell_min_s: float, dwell_max_s: float
) -> Ev:
    """A car arriving at ``arrival`` and staying a uniform ``dwell_min_s``..``dwell_max_s``,
    from a typical mix of batteries (40-77 kWh), arrival states of charge (10-60 %) and
    on-board chargers (16 A 1-phase, 16 A or 32 A 3-phase)."""
    dwell = rng.uniform(dwell_min_s, dwell_max_s)
    current, phases = rng.choice([(16.0, 1), (16.0, 3), (32.0, 3)])
    return Ev(
        capacity_wh=rng.choice([40_000.0, 60_000.0, 77_000.0]),
        arrival_soc_pct=round(rng.uniform(10, 60), 1), max_current_a=current, phases=phases,
        arrival=arrival, departure=arrival + timedelta(seconds=dwell),
    )


def evening_evs(
    count: int, rng: random.Random, *, start: datetime, arrival_window_s: float,
    dwell_min_s: float, dwell_max_s: float,
) -> list[Ev]:
    """``count`` cars (:func:`random_ev`) arriving uniformly over ``arrival_window_s`` from
    ``start``, sorted by arrival. Same ``rng`` seed, same cars."""
    evs = [
        random_ev(rng, arrival=start + timedelta(seconds=rng.uniform(0, arrival_window_s)),
                  dwell_min_s=dwell_min_s, dwell_max_s=dwell_max_s)
        for _ in range(count)
    ]
    return sorted(evs, key=lambda ev: ev.arrival or start)
