"""Measurement rules: temperature, voltage, current, the energy register. Pure.

Rules:
1. Over-temperature: the hottest Temperature value of a sample (Celsius; Fahrenheit and K
   are converted) above ``max_temperature_c`` raises; at or below max − hysteresis clears;
   in between nothing changes.
2. Voltage: each Voltage value at or above ``voltage_present_v`` is compared with nominal
   (× √3 for a phase-to-phase reading such as "L1-L2"): above nominal × (1 + over ratio)
   raises over_voltage, below nominal × (1 − under ratio) raises under_voltage; a sample
   with present voltages and none out of range on a side clears that side.
3. Over-current: the highest Current.Import of a sample against the reference, the lower of
   the sample's Current.Offered and the history's effective limit (no reference: no
   check). Above reference × (1 + tolerance) for longer than ``over_current_duration_s``
   (history rule 4) raises; a sample within the reference clears.
4. Energy register (whole-meter Energy.Active.Import.Register, kWh scaled to Wh): a reading
   below the previous one by more than the tolerance (at least 1 Wh when either is a whole
   number) raises energy_register_backwards (cleared by a person after checking the meter),
   except at a transaction boundary on a meter that restarts per transaction: the first
   reading of a new transaction at or below ``per_transaction_meter_start_max_wh`` teaches
   that, and from then on falls between that charger's transactions are no alarm (falls
   within a transaction still are); a rise of at least
   ``stall_min_increase_wh`` restarts the stall clock and clears energy_stalled.
5. Energy stalled: while a session is charging, no rise for longer than ``stall_s`` raises;
   not charging (or no session) clears. Evaluated on each sample and on a clock tick.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from datetime import datetime, timedelta
from functools import lru_cache

from csms.domain.model import MeterSample
from csms.domain.sessions import register_readings_wh
from csms.domain.transactions import fell_back
from csms.safety.alarms import (
    Alarm,
    AlarmCode,
    Clear,
    ConditionKey,
    Decision,
    Evidence,
    Json,
    Raise,
)
from csms.safety.history import (
    ConnectorHistory,
    LoadPoint,
    add_load_point,
    evolve,
    excess_duration,
)
from csms.safety.settings import SafetySettings

C = AlarmCode
Outcome = tuple[tuple[Decision, ...], ConnectorHistory]


def _key(code: AlarmCode, history: ConnectorHistory) -> ConditionKey:
    return _condition(code, history.station_id, history.evse_id, history.connector_id)


@lru_cache(maxsize=65536)  # keys are built for every sample: reuse the common ones
def _condition(code: AlarmCode, station_id: str, evse_id: int, connector_id: int
               ) -> ConditionKey:
    return ConditionKey(code, station_id, evse_id, connector_id)


def _raise(code: AlarmCode, h: ConnectorHistory, at: datetime, evidence: Evidence) -> Raise:
    return Raise(Alarm(_key(code, h), at, evidence, h.session_ref))


def _values(sample: MeterSample, measurand: str) -> Iterable[tuple[float, str | None, str | None]]:
    return ((v.value, v.unit, v.phase) for v in sample.values if v.measurand == measurand)


def celsius(value: float, unit: str | None) -> float:
    if unit == "Fahrenheit":
        return (value - 32) * 5 / 9
    if unit == "K":
        return value - 273.15
    return value


def over_temperature(
    sample: MeterSample, history: ConnectorHistory, settings: SafetySettings
) -> Decision | None:
    """Rule 1."""
    temps = [celsius(value, unit) for value, unit, _ in _values(sample, "Temperature")]
    if not temps:
        return None
    hottest = max(temps)
    if hottest > settings.max_temperature_c:
        evidence: Evidence = {"temperature_c": hottest, "max_c": settings.max_temperature_c}
        return _raise(C.OVER_TEMPERATURE, history, sample.at, evidence)
    if hottest <= settings.max_temperature_c - settings.temperature_hysteresis_c:
        return Clear(_key(C.OVER_TEMPERATURE, history), sample.at, "temperature back in range",
                     {"temperature_c": hottest})
    return None


def _nominal(phase: str | None, settings: SafetySettings) -> float:
    line_to_line = phase is not None and "-" in phase and not phase.endswith("-N")
    return settings.nominal_voltage_v * (math.sqrt(3) if line_to_line else 1.0)


def voltage(
    sample: MeterSample, history: ConnectorHistory, settings: SafetySettings
) -> tuple[Decision, ...]:
    """Rule 2."""
    over: list[Json] = []
    under: list[Json] = []
    present = False
    for value, _, phase in _values(sample, "Voltage"):
        if value < settings.voltage_present_v:
            continue
        present = True
        nominal = _nominal(phase, settings)
        if value > nominal * (1 + settings.over_voltage_ratio):
            over.append({"phase": phase, "voltage_v": value, "nominal_v": nominal})
        elif value < nominal * (1 - settings.under_voltage_ratio):
            under.append({"phase": phase, "voltage_v": value, "nominal_v": nominal})
    if not present:
        return ()
    decisions: list[Decision] = []
    for code, found in ((C.OVER_VOLTAGE, over), (C.UNDER_VOLTAGE, under)):
        if found:
            decisions.append(_raise(code, history, sample.at, {"readings": found}))
        else:
            decisions.append(Clear(_key(code, history), sample.at, "voltage back in range"))
    return tuple(decisions)


def over_current(
    sample: MeterSample, history: ConnectorHistory, settings: SafetySettings
) -> Outcome:
    """Rule 3."""
    measured = [value for value, _, _ in _values(sample, "Current.Import")]
    references = [value for value, _, _ in _values(sample, "Current.Offered")]
    if history.limit_a is not None:
        references.append(history.limit_a)
    if not measured or not references:
        return (), history
    point = LoadPoint(sample.at, max(measured), min(references))
    if point.measured <= point.limit * (1 + settings.over_current_tolerance_ratio):
        # Within the reference: any run of excess ends here, no earlier point matters.
        history = evolve(history, load=()) if history.load else history
        return (Clear(_key(C.OVER_CURRENT, history), sample.at, "current back in range"),), history
    keep = timedelta(seconds=settings.over_current_duration_s)
    history = add_load_point(history, point, keep)
    lasted = excess_duration(history.load, settings.over_current_tolerance_ratio)
    assert lasted is not None  # the latest point is an excess
    if lasted > keep:
        evidence: Evidence = {
            "current_a": point.measured, "reference_a": point.limit,
            "tolerance_ratio": settings.over_current_tolerance_ratio,
            "duration_s": lasted.total_seconds(),
        }
        return (_raise(C.OVER_CURRENT, history, sample.at, evidence),), history
    return (), history


def energy_register(
    sample: MeterSample, history: ConnectorHistory, settings: SafetySettings
) -> Outcome:
    """Rule 4."""
    readings = register_readings_wh([sample])
    if not readings:
        return (), history
    reading, previous = readings[-1], history.last_energy_wh
    session = history.session_ref
    if previous is None:
        return (), evolve(history, last_energy_wh=reading, energy_session_ref=session)
    if fell_back(previous, reading, settings.register_backwards_tolerance_wh):
        restarted = session != history.energy_session_ref and (
            history.meter_per_transaction
            or reading <= settings.per_transaction_meter_start_max_wh)
        history = evolve(history, last_energy_wh=reading, energy_session_ref=session,
                         meter_per_transaction=history.meter_per_transaction or restarted)
        if restarted:
            return (), history
        evidence: Evidence = {"previous_wh": previous, "reading_wh": reading}
        return (_raise(C.ENERGY_REGISTER_BACKWARDS, history, sample.at, evidence),), history
    if session != history.energy_session_ref:
        history = evolve(history, energy_session_ref=session)
    if reading - previous >= settings.stall_min_increase_wh:
        history = evolve(history, last_energy_wh=reading, last_rise_at=sample.at)
        clear = Clear(_key(C.ENERGY_STALLED, history), sample.at, "energy rising")
        return (clear,), history
    # No rise worth counting: keep the old baseline so that small rises add up.
    return (), history


def energy_stalled(
    history: ConnectorHistory, now: datetime, settings: SafetySettings
) -> Decision | None:
    """Rule 5."""
    key = _key(C.ENERGY_STALLED, history)
    if not history.charging or history.session_ref is None:
        return Clear(key, now, "not charging")
    if history.last_rise_at is None:
        return None
    idle = now - history.last_rise_at
    if idle > timedelta(seconds=settings.stall_s):
        evidence: Evidence = {
            "last_rise_at": history.last_rise_at.isoformat(), "idle_s": idle.total_seconds(),
            "register_wh": history.last_energy_wh,
        }
        return _raise(C.ENERGY_STALLED, history, now, evidence)
    return None


def meter_sample(
    sample: MeterSample, history: ConnectorHistory, settings: SafetySettings
) -> Outcome:
    """Every measurement rule on one sample, in rule order."""
    decisions: list[Decision] = []
    temperature = over_temperature(sample, history, settings)
    decisions.extend([temperature] if temperature is not None else [])
    decisions.extend(voltage(sample, history, settings))
    current, history = over_current(sample, history, settings)
    energy, history = energy_register(sample, history, settings)
    stalled = energy_stalled(history, sample.at, settings)
    decisions.extend([*current, *energy, *([stalled] if stalled is not None else [])])
    return tuple(decisions), history
