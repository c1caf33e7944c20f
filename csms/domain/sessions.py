"""Session arithmetic: energy from register readings, seqNo continuity. Pure."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from csms.domain.model import MeterSample

ENERGY_REGISTER = "Energy.Active.Import.Register"
_WH_PER_UNIT = {None: 1.0, "Wh": 1.0, "kWh": 1000.0}


def session_energy_wh(meter_start_wh: float | None, meter_stop_wh: float | None) -> float:
    """Energy delivered: register at stop minus register at start, never negative.

    A missing reading or a register that went backwards gives 0; callers record the latter
    as an event (see :func:`register_went_backwards`).
    """
    if meter_start_wh is None or meter_stop_wh is None:
        return 0.0
    return max(0.0, meter_stop_wh - meter_start_wh)


def register_went_backwards(meter_start_wh: float | None, meter_stop_wh: float | None) -> bool:
    return (
        meter_start_wh is not None and meter_stop_wh is not None and meter_stop_wh < meter_start_wh
    )


def register_readings_wh(samples: Iterable[MeterSample]) -> list[float]:
    """The energy-register readings among ``samples``, in Wh, in sample order.

    Only whole-meter (phase-less) import registers count; kWh readings are scaled.
    """
    readings = []
    for sample in samples:
        for value in sample.values:
            if value.measurand == ENERGY_REGISTER and value.phase is None:
                scale = _WH_PER_UNIT.get(value.unit)
                if scale is not None:
                    readings.append(value.value * scale)
    return readings


def register_points_wh(samples: Iterable[MeterSample]) -> list[tuple[datetime, float]]:
    """:func:`register_readings_wh` with the instant of each reading."""
    return [(sample.at, reading) for sample in samples
            for reading in register_readings_wh((sample,))]


def seq_gap(last_seq_no: int | None, seq_no: int) -> int:
    """How many TransactionEvents are missing before ``seq_no`` (0 if none)."""
    expected = 0 if last_seq_no is None else last_seq_no + 1
    return max(0, seq_no - expected)
