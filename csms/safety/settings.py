"""Safety thresholds: one frozen settings object, every number configurable. Pure.

Rules:
1. Every threshold a rule uses lives here with its default and its source; nothing in the
   rules is a hidden constant. Defaults marked (U) are judgement calls, not standards.
2. Boundaries are exclusive: a value *equal* to a threshold, or a duration *equal* to a
   time limit, does not raise an alarm.
3. Times are in seconds, temperatures in °C, voltages in V, currents in A, power in W,
   energy in Wh, tolerances as fractions (0.10 = 10 %).
"""

from __future__ import annotations

from dataclasses import dataclass

DEFAULT_ALARMING_SECURITY_EVENTS = frozenset({
    # OCPP 2.0.1 Part 2 Appendix 1 security events that need a person to look at them.
    "TamperDetectionActivated",
    "SecurityLogWasCleared",
    "InvalidFirmwareSignature",
    "InvalidFirmwareSigningCertificate",
    "InvalidCsmsCertificate",
    "InvalidChargingStationCertificate",
    "InvalidTLSVersion",
    "InvalidTLSCipherSuite",
    "AttemptedReplayAttacks",
    "MemoryExhaustion",
    "FailedToAuthenticateAtCsms",
    "CsmsFailedToAuthenticate",
    "MaintenanceLoginFailed",
})


@dataclass(frozen=True, slots=True)
class SafetySettings:
    """Thresholds of the alarm rules.

    Attributes:
        max_temperature_c: Temperature above this raises over-temperature (U: 80 °C; a
            connector's terminals may rise about 50 K over ambient under IEC 62196).
        temperature_hysteresis_c: the alarm clears at or below max minus this (U: 5 °C).
        nominal_voltage_v: phase-to-neutral nominal (220 V in China); a phase-to-phase
            reading ("L1-L2") is compared with nominal × √3.
        over_voltage_ratio / under_voltage_ratio: allowed deviation (GB/T 12325 for 220 V
            supply: +7 %, −10 %).
        voltage_present_v: readings below this mean "no supply measured" (a phase that is not
            connected), not under-voltage (U: 50 V).
        over_current_tolerance_ratio: Current.Import may exceed Current.Offered or the
            effective limit by this much (U: 10 %).
        over_current_duration_s: ...for at most this long (U: 60 s).
        repeated_fault_count / repeated_fault_window_s: this many faults on one connector
            within the window raise repeated-faults (DOMAIN.md: ≥ 3 in 24 h).
        stall_s: a charging session whose register has not risen for longer than this
            raises energy-stalled (DOMAIN.md: 15 min).
        stall_min_increase_wh: a rise smaller than this does not count as a rise (U: 1 Wh).
        register_backwards_tolerance_wh: a fall up to this is rounding, not a fault (0; at
            least 1 Wh when a reading is a whole number, as 1.6 meterStop is).
        per_transaction_meter_start_max_wh: a new transaction whose register starts at or
            below this, after the previous one ended higher, shows a meter that restarts
            for every transaction (U: 10 Wh); once seen, falls between transactions of
            that charger are not alarms.
        lost_communication_intervals: silence longer than this many heartbeat intervals
            raises lost-communication (DOMAIN.md: 2).
        site_overload_tolerance_ratio: site power may exceed its limit by this much (U: 5 %).
        site_overload_duration_s: ...for at most this long (U: 60 s).
        emergency_stop_words: a 1.6 vendorErrorCode or info containing one of these
            (case-insensitive) means an emergency stop (1.6 has no error code for it).
        alarming_security_events: SecurityEventNotification types that raise an alarm.
    """

    max_temperature_c: float = 80.0
    temperature_hysteresis_c: float = 5.0
    nominal_voltage_v: float = 220.0
    over_voltage_ratio: float = 0.07
    under_voltage_ratio: float = 0.10
    voltage_present_v: float = 50.0
    over_current_tolerance_ratio: float = 0.10
    over_current_duration_s: float = 60.0
    repeated_fault_count: int = 3
    repeated_fault_window_s: float = 24 * 3600.0
    stall_s: float = 15 * 60.0
    stall_min_increase_wh: float = 1.0
    register_backwards_tolerance_wh: float = 0.0
    per_transaction_meter_start_max_wh: float = 10.0
    lost_communication_intervals: float = 2.0
    site_overload_tolerance_ratio: float = 0.05
    site_overload_duration_s: float = 60.0
    emergency_stop_words: tuple[str, ...] = ("emergency", "estop", "e-stop", "e_stop")
    alarming_security_events: frozenset[str] = DEFAULT_ALARMING_SECURITY_EVENTS
