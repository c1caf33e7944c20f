"""Meter samples, version-neutral: what the meter reads at one instant.

A :class:`MeterSample` holds every quantity the simulator measures; :func:`readings` turns
it into a list of :class:`Reading` (measurand, value, unit, phase, location) for the
measurands a dialect sends, and the dialect only spells them for its version.

Samples with context ``Transaction.Begin`` or ``Transaction.End`` carry the energy register
alone, as chargers typically send in StartTransaction/StopTransaction or Started/Ended.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

ENERGY: Final = "Energy.Active.Import.Register"
REGISTER_ONLY_CONTEXTS: Final = frozenset({"Transaction.Begin", "Transaction.End"})


@dataclass(frozen=True, slots=True)
class MeterSample:
    """One reading of every measured quantity at ``timestamp``."""

    timestamp: str
    energy_wh: float
    power_w: float = 0.0
    current_a: float = 0.0
    voltage_v: float = 230.0
    offered_a: float = 32.0
    offered_w: float = 0.0
    temperature_c: float = 25.0
    soc_pct: float = 50.0
    frequency_hz: float = 50.0
    context: str = "Sample.Periodic"
    extra: tuple[str, ...] = ()  # measurands to add to the dialect's list (faults)


@dataclass(frozen=True, slots=True)
class Reading:
    """One sampled value, neutral spelling (units as in 2.0.1: Wh, W, A, V, Celsius, ...)."""

    measurand: str
    value: float
    unit: str
    phase: str | None = None
    location: str | None = None


def _all_readings(sample: MeterSample) -> dict[str, Reading]:
    return {
        ENERGY: Reading(ENERGY, sample.energy_wh, "Wh"),
        "Power.Active.Import": Reading("Power.Active.Import", sample.power_w, "W"),
        "Current.Import": Reading("Current.Import", sample.current_a, "A", phase="L1"),
        "Voltage": Reading("Voltage", sample.voltage_v, "V", phase="L1-N"),
        "Current.Offered": Reading("Current.Offered", sample.offered_a, "A"),
        "Power.Offered": Reading("Power.Offered", sample.offered_w, "W"),
        "Temperature": Reading("Temperature", sample.temperature_c, "Celsius", location="Body"),
        "SoC": Reading("SoC", sample.soc_pct, "Percent", location="EV"),
        "Frequency": Reading("Frequency", sample.frequency_hz, "Hz"),
    }


def readings(sample: MeterSample, measurands: tuple[str, ...]) -> list[Reading]:
    """The readings for ``measurands``, in that order (the register alone at tx begin/end)."""
    table = _all_readings(sample)
    if sample.context in REGISTER_ONLY_CONTEXTS:
        return [table[ENERGY]]
    names = measurands + tuple(m for m in sample.extra if m not in measurands)
    return [table[name] for name in names]


def format_value(value: float) -> str:
    """A 1.6 sampled value: integers without a fraction, others with up to 3 decimals."""
    if float(value).is_integer():
        return str(int(value))
    return f"{value:.3f}".rstrip("0").rstrip(".")
