"""What a session draws, from its meter values, and when a site counts as overloaded.

Rules:
1. Draw comes from, in this order: ``Power.Active.Import`` (W; a per-phase breakdown is
   summed, a total wins over the breakdown), ``Current.Import`` (A; the largest phase times
   the voltage and the phases), or the energy register's increase over the time between
   two samples (``Energy.Active.Import.Register``, Wh; kWh converted).
2. A site is overloaded when its measured power stays above ``limit + tolerance`` for at
   least ``hold_s``; it is cleared when it is back at or below the limit plus tolerance.
   Each transition is reported once.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from csms.domain.model import MeterSample, SampledValue

POWER = "Power.Active.Import"
CURRENT = "Current.Import"
ENERGY = "Energy.Active.Import.Register"


@dataclass(frozen=True, slots=True)
class Draw:
    """The latest measured draw of one session: power in W at ``at`` (None: not known yet,
    e.g. only a start register seen), and the register."""

    power_w: float | None
    at: datetime
    energy_wh: float | None = None


def _scaled(value: SampledValue, unit_k: str) -> float:
    return value.value * 1000.0 if value.unit == unit_k else value.value


def sample_power_w(sample: MeterSample, voltage_v: float, phases: int) -> float | None:
    """The power stated by one sample (Rule 1, first two sources), in W; None if absent."""
    power = [v for v in sample.values if v.measurand == POWER]
    if power:
        totals = [v for v in power if v.phase is None]
        chosen = totals or power
        return sum(_scaled(v, "kW") for v in (chosen[:1] if totals else chosen))
    current = [v.value for v in sample.values if v.measurand == CURRENT]
    if current:
        return max(current) * voltage_v * phases
    return None


def sample_energy_wh(sample: MeterSample) -> float | None:
    for value in sample.values:
        if value.measurand == ENERGY and value.phase is None:
            return _scaled(value, "kWh")
    return None


def update_draw(previous: Draw | None, samples: Iterable[MeterSample], voltage_v: float,
                phases: int) -> Draw | None:
    """The draw after ``samples`` (oldest first), from ``previous`` (Rule 1)."""
    draw = previous
    for sample in sorted(samples, key=lambda s: s.at):
        energy = sample_energy_wh(sample)
        power = sample_power_w(sample, voltage_v, phases)
        if power is None and energy is not None and draw is not None and (
                draw.energy_wh is not None):
            seconds = (sample.at - draw.at).total_seconds()
            if seconds > 0 and energy >= draw.energy_wh:
                power = (energy - draw.energy_wh) * 3600.0 / seconds
        if power is None:
            if energy is not None:
                draw = Draw(draw.power_w if draw else None, sample.at, energy)
            continue
        draw = Draw(max(0.0, power), sample.at, energy)
    return draw


@dataclass(frozen=True, slots=True)
class OverloadState:
    above_since: datetime | None = None
    reported: bool = False


@dataclass(frozen=True, slots=True)
class OverloadChange:
    overloaded: bool  # True: became overloaded; False: cleared
    since: datetime


def observe_overload(state: OverloadState, measured_w: float, limit_w: float,
                     tolerance_w: float, hold_s: float, at: datetime
                     ) -> tuple[OverloadState, OverloadChange | None]:
    """The next state and the transition to report, if any (Rule 2)."""
    if measured_w <= limit_w + tolerance_w:
        if state.reported:
            return OverloadState(), OverloadChange(False, at)
        return OverloadState(), None
    since = state.above_since or at
    if not state.reported and (at - since).total_seconds() >= hold_s:
        return OverloadState(since, True), OverloadChange(True, since)
    return OverloadState(since, state.reported), None
