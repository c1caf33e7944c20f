"""The variable monitors a 2.0.1 charger runs for the safety rules, from ``[safety]``. Pure.

The CSMS's own thresholds (csms.safety.settings) stay the one place: the charger is asked
to report the same excursions itself, by NotifyEvent (faults rule 3: trigger Alerting),
so they are seen even between meter samples.

Rules:
1. Over-temperature: an UpperThreshold on ``TemperatureSensor.Temperature`` at
   ``max_temperature_c``, severity 0 (Danger: a hot connector is a fire risk).
2. Voltage: per EVSE an UpperThreshold on ``EVSE.Voltage`` at nominal × (1 + over ratio)
   and a LowerThreshold at nominal × (1 − under ratio), severity 3 (Critical).
3. Over-current: per EVSE an UpperThreshold on ``EVSE.Current`` at the EVSE's rated
   current × (1 + tolerance), severity 3, when the rating is known (the device model's
   ``EVSE.Current`` maxLimit); without it no current monitor (the CSMS's own rule, which
   compares with the offered current, still runs).
4. Thresholds are rounded to 0.1 (what the charger compares with is what was configured,
   within the display precision of the device model). Severity levels are OCPP 2.0.1
   Part 2 §3.77 (0 Danger ... 9 Debug).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Final

from csms.domain.commands import SettingKey
from csms.domain.commands_device import Monitor, MonitorKind
from csms.safety.settings import SafetySettings

DANGER: Final = 0
CRITICAL: Final = 3
TEMPERATURE: Final = SettingKey("Temperature", component="TemperatureSensor")


def _voltage(evse_id: int) -> SettingKey:
    return SettingKey("Voltage", component="EVSE", evse_id=evse_id)


def current_key(evse_id: int) -> SettingKey:
    return SettingKey("Current", component="EVSE", evse_id=evse_id)


def safety_monitors(settings: SafetySettings, evse_ids: Sequence[int],
                    rated_current_a: Mapping[int, float] | None = None) -> tuple[Monitor, ...]:
    """The monitors for a charger with ``evse_ids`` (module rules)."""
    rated = rated_current_a or {}
    monitors = [Monitor(TEMPERATURE, MonitorKind.UPPER, round(settings.max_temperature_c, 1),
                        DANGER)]
    high = round(settings.nominal_voltage_v * (1 + settings.over_voltage_ratio), 1)
    low = round(settings.nominal_voltage_v * (1 - settings.under_voltage_ratio), 1)
    for evse_id in sorted(set(evse_ids)):
        monitors.append(Monitor(_voltage(evse_id), MonitorKind.UPPER, high, CRITICAL))
        monitors.append(Monitor(_voltage(evse_id), MonitorKind.LOWER, low, CRITICAL))
        if evse_id in rated:
            limit = round(rated[evse_id] * (1 + settings.over_current_tolerance_ratio), 1)
            monitors.append(Monitor(current_key(evse_id), MonitorKind.UPPER, limit, CRITICAL))
    return tuple(monitors)
