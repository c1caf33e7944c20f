"""Pricing a session: energy split at every tariff boundary, into charge details.

Rules:
1. The energy register between samples is interpolated linearly in time; before the first
   sample it is the first value, after the last the last value. Samples must be in time
   order, at distinct instants, and never go down (``ValueError`` otherwise: a register
   going backwards is a safety alarm, not something to bill).
2. The register is read at every boundary and quantized to ``WH_QUANTUM`` (0.001 Wh), so
   a detail's energy is the difference of two readings and the details' kWh sum exactly
   (by telescoping) to the session's kWh: register(end) − register(start).
3. ``[start, end)`` is cut at every ``effective_from`` inside it (model Rule 5), then at
   every local time where either schedule of that version changes, and at every local
   midnight; so a detail lies in one version, one rate and one local day. A piece is
   priced at its start instant. Pieces with no energy are kept (the platform wants the
   time line complete).
4. Money is unrounded here: ``kWh × price``, exact in ``Decimal``. The session's totals
   are the sums of the details' amounts, so they agree exactly. Rounding happens only
   when posted (``csms.tariffs.rounding``).
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import ROUND_HALF_EVEN, Decimal

from csms.tariffs.model import Period, TariffVersion, require_aware, versions_during

WH_QUANTUM = Decimal("0.001")
WH_PER_KWH = Decimal(1000)
_MICROSECOND = datetime.resolution


@dataclass(frozen=True, slots=True)
class RegisterSample:
    """The energy register (Wh) at an instant."""

    at: datetime
    energy_wh: Decimal

    def __post_init__(self) -> None:
        require_aware(self.at)


def register_sample(at: datetime, energy_wh: float | int | Decimal) -> RegisterSample:
    """A sample from a charger's number; a float goes through its shortest ``repr``."""
    value = energy_wh if isinstance(energy_wh, Decimal) else Decimal(str(energy_wh))
    return RegisterSample(at, value)


@dataclass(frozen=True, slots=True)
class ChargeDetail:
    """One piece of a session at one price (a platform ChargeDetails item, unrounded)."""

    start: datetime
    end: datetime
    tariff: str
    period: Period
    energy_kwh: Decimal
    electricity_yuan_per_kwh: Decimal
    service_yuan_per_kwh: Decimal

    @property
    def electricity_yuan(self) -> Decimal:
        return self.energy_kwh * self.electricity_yuan_per_kwh

    @property
    def service_yuan(self) -> Decimal:
        return self.energy_kwh * self.service_yuan_per_kwh


@dataclass(frozen=True, slots=True)
class PricedSession:
    """A session's details; the totals are their sums (Rule 4)."""

    start: datetime
    end: datetime
    details: tuple[ChargeDetail, ...]

    @property
    def energy_kwh(self) -> Decimal:
        return sum((d.energy_kwh for d in self.details), Decimal(0))

    @property
    def electricity_yuan(self) -> Decimal:
        return sum((d.electricity_yuan for d in self.details), Decimal(0))

    @property
    def service_yuan(self) -> Decimal:
        return sum((d.service_yuan for d in self.details), Decimal(0))

    @property
    def total_yuan(self) -> Decimal:
        return self.electricity_yuan + self.service_yuan


def _check_samples(samples: Sequence[RegisterSample]) -> None:
    if not samples:
        raise ValueError("no register samples")
    for before, after in itertools.pairwise(samples):
        if after.at <= before.at:
            raise ValueError("register samples must be in strictly increasing time order")
        if after.energy_wh < before.energy_wh:
            raise ValueError(f"energy register went backwards at {after.at.isoformat()}")


def register_wh_at(samples: Sequence[RegisterSample], at: datetime) -> Decimal:
    """The interpolated register at ``at`` (Rule 1), quantized (Rule 2)."""
    value = samples[0].energy_wh
    if at >= samples[-1].at:
        value = samples[-1].energy_wh
    else:
        for before, after in itertools.pairwise(samples):
            if before.at <= at < after.at:
                elapsed = Decimal((at - before.at) // _MICROSECOND)
                span = Decimal((after.at - before.at) // _MICROSECOND)
                value = before.energy_wh + (after.energy_wh - before.energy_wh) * elapsed / span
                break
    return value.quantize(WH_QUANTUM, rounding=ROUND_HALF_EVEN)


def price_session(
    versions: Sequence[TariffVersion],
    samples: Sequence[RegisterSample],
    start: datetime,
    end: datetime,
) -> PricedSession:
    """The session ``[start, end)`` split and priced (Rules 1–4)."""
    _check_samples(samples)
    details: list[ChargeDetail] = []
    for piece_start, piece_end, version in versions_during(versions, start, end):
        cuts = [piece_start, *version.boundaries_between(piece_start, piece_end), piece_end]
        for a, b in itertools.pairwise(cuts):
            if a == b:  # an empty session
                continue
            rate = version.rate_at(a)
            wh = register_wh_at(samples, b) - register_wh_at(samples, a)
            details.append(
                ChargeDetail(
                    start=a,
                    end=b,
                    tariff=version.name,
                    period=rate.period,
                    energy_kwh=wh / WH_PER_KWH,
                    electricity_yuan_per_kwh=rate.electricity_yuan_per_kwh,
                    service_yuan_per_kwh=rate.service_yuan_per_kwh,
                )
            )
    return PricedSession(start, end, tuple(details))
