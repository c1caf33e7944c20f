"""Fault rules: OCPP error codes, NotifyEvent, security events, repeated faults. Pure.

Rules:
1. OCPP 1.6 StatusNotification: every ChargePointErrorCode except NoError raises the alarm
   :data:`V16_ERROR_CODES` maps it to (GroundFailure → ground_fault, HighTemperature →
   over_temperature, OverCurrentFailure → over_current, ...). A vendorErrorCode or info
   containing an emergency-stop word (settings) raises emergency_stop instead: 1.6 has no
   error code for it. Status Faulted without a code (and the 2.0.1 Faulted status, whose
   detail comes by NotifyEvent) raises ``faulted``.
2. A status without error code and not Faulted (1.6 NoError) clears every status-derived
   alarm of that connector. OCPP 2.0.1 StatusNotification carries no error code
   (``error_codes=False``): its faults come by NotifyEvent and clear by NotifyEvent, so a
   2.0.1 status clears only ``faulted``.
3. OCPP 2.0.1 NotifyEvent (one eventData): ``cleared=true`` clears. Otherwise it is an alarm
   when trigger is Alerting (a monitor crossed its threshold) or the variable is a boolean
   problem variable (Problem, Tripped, Operated) with actualValue true; actualValue false on
   such a variable clears. Delta/Periodic events of other variables are telemetry: nothing.
4. The 2.0.1 code is chosen by component (:data:`V201_COMPONENTS`: RCD and
   GroundIsolationProtection → ground_fault, EmergencyStopSensor → emergency_stop, ...),
   else by a keyword in techCode or the variable name (:data:`V201_KEYWORDS`: "ground",
   "earth", "residual", "rcd" → ground_fault, ...), else ``station_problem``.
5. SecurityEventNotification of a type in ``settings.alarming_security_events`` raises
   ``security_event`` (TamperDetectionActivated: ``tamper_detected``). These never clear by
   themselves: a person acknowledges and clears them.
6. Repeated faults: at least ``repeated_fault_count`` faults (history rule 2) within the
   window before ``now`` (a fault exactly one window old no longer counts) raise
   repeated_faults; fewer clear it.
7. A NotifyEvent from a monitor on a measured quantity (csms.safety.monitors) names the
   excursion by its variable: Current (ACCurrent) is over_current; Voltage (ACVoltage) is
   over_voltage above the nominal voltage and under_voltage below it.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta

from csms.domain.model import ConnectorStatus, ConnectorStatusChanged, StationEventReported
from csms.safety.alarms import Alarm, AlarmCode, Clear, ConditionKey, Decision, Evidence, Raise
from csms.safety.history import ConnectorHistory
from csms.safety.settings import SafetySettings

C = AlarmCode
V16_ERROR_CODES: Mapping[str, AlarmCode] = {
    "GroundFailure": C.GROUND_FAULT,
    "HighTemperature": C.OVER_TEMPERATURE,
    "OverCurrentFailure": C.OVER_CURRENT,
    "OverVoltage": C.OVER_VOLTAGE,
    "UnderVoltage": C.UNDER_VOLTAGE,
    "PowerSwitchFailure": C.POWER_SWITCH_FAILURE,
    "ConnectorLockFailure": C.CONNECTOR_LOCK_FAILURE,
    "PowerMeterFailure": C.POWER_METER_FAILURE,
    "InternalError": C.INTERNAL_ERROR,
    "OtherError": C.OTHER_ERROR,
    "EVCommunicationError": C.EV_COMMUNICATION_ERROR,
    "ReaderFailure": C.READER_FAILURE,
    "ResetFailure": C.RESET_FAILURE,
    "LocalListConflict": C.LOCAL_LIST_CONFLICT,
    "WeakSignal": C.WEAK_SIGNAL,
}
STATUS_CODES = frozenset({*V16_ERROR_CODES.values(), C.EMERGENCY_STOP, C.FAULTED})

V201_COMPONENTS: Mapping[str, AlarmCode] = {
    "RCD": C.GROUND_FAULT,
    "GroundIsolationProtection": C.GROUND_FAULT,
    "EmergencyStopSensor": C.EMERGENCY_STOP,
    "TemperatureSensor": C.OVER_TEMPERATURE,
    "OverCurrentProtection": C.OVER_CURRENT,
    "PowerContactor": C.POWER_SWITCH_FAILURE,
    "ConnectorPlugRetentionLock": C.CONNECTOR_LOCK_FAILURE,
    "FiscalMetering": C.POWER_METER_FAILURE,
    "ControlMetering": C.POWER_METER_FAILURE,
    "TokenReader": C.READER_FAILURE,
    "CaseAccessSensor": C.TAMPER_DETECTED,
    "ExternalTemperatureSensor": C.OVER_TEMPERATURE,
    "OverCurrentProtectionRecloser": C.OVER_CURRENT,
    "RCDRecloser": C.GROUND_FAULT,
}
V201_KEYWORDS: tuple[tuple[str, AlarmCode], ...] = (
    ("ground", C.GROUND_FAULT), ("earth", C.GROUND_FAULT), ("residual", C.GROUND_FAULT),
    ("rcd", C.GROUND_FAULT), ("emergency", C.EMERGENCY_STOP), ("estop", C.EMERGENCY_STOP),
    ("temperature", C.OVER_TEMPERATURE), ("overtemp", C.OVER_TEMPERATURE),
    ("overcurrent", C.OVER_CURRENT), ("overvoltage", C.OVER_VOLTAGE),
    ("undervoltage", C.UNDER_VOLTAGE), ("overload", C.OVER_CURRENT),
)
PROBLEM_VARIABLES = frozenset({"Problem", "Tripped", "Operated"})


def _key(code: AlarmCode, station_id: str, evse: int | None, conn: int | None) -> ConditionKey:
    return ConditionKey(code, station_id, evse or 0, conn or 0)


def _v16_code(event: ConnectorStatusChanged, settings: SafetySettings) -> AlarmCode:
    text = f"{event.vendor_error_code or ''} {event.info or ''}".lower()
    if any(word in text for word in settings.emergency_stop_words):
        return C.EMERGENCY_STOP
    return V16_ERROR_CODES.get(event.error_code or "", C.FAULTED)


def status_fault(
    event: ConnectorStatusChanged, settings: SafetySettings, session_ref: str | None = None,
    *, error_codes: bool = True,
) -> tuple[Decision, ...]:
    """Rules 1 and 2 for one status change; ``error_codes`` False for OCPP 2.0.1."""
    faulted = event.status is ConnectorStatus.FAULTED
    if event.error_code is None and not faulted:
        codes = sorted(STATUS_CODES) if error_codes else [C.FAULTED]
        return tuple(
            Clear(_key(code, event.station_id, event.evse_id, event.connector_id), event.at,
                  "NoError")
            for code in codes
        )
    code = _v16_code(event, settings)
    evidence: Evidence = {
        "status": event.status.value, "error_code": event.error_code,
        "vendor_error_code": event.vendor_error_code, "info": event.info,
    }
    key = _key(code, event.station_id, event.evse_id, event.connector_id)
    return (Raise(Alarm(key, event.at, evidence, session_ref)),)


def _name(details: Mapping[str, object], part: str) -> str:
    value = details.get(part)
    if isinstance(value, Mapping):
        return str(value.get("name", ""))
    return ""


def v201_code(component: str, variable: str, tech_code: str) -> AlarmCode:
    """Rule 4: the alarm code of a 2.0.1 NotifyEvent."""
    if component in V201_COMPONENTS:
        return V201_COMPONENTS[component]
    text = f"{tech_code} {variable}".lower().replace("-", "").replace("_", "")
    for word, code in V201_KEYWORDS:
        if word in text:
            return code
    return C.STATION_PROBLEM


def _truthy(value: object) -> bool | None:
    text = str(value).strip().lower()
    return {"true": True, "1": True, "false": False, "0": False}.get(text)


def notify_event(event: StationEventReported, session_ref: str | None = None,
                 settings: SafetySettings | None = None) -> Decision | None:
    """Rules 3 and 4 for one NotifyEvent eventData (``event.details``)."""
    d = event.details
    component, variable = _name(d, "component"), _name(d, "variable")
    code = _measured_code(variable, d.get("actualValue"), settings) or v201_code(
        component, variable, str(d.get("techCode") or ""))
    key = _key(code, event.station_id, event.evse_id, event.connector_id)
    problem = _truthy(d.get("actualValue")) if variable in PROBLEM_VARIABLES else None
    if d.get("cleared") is True or problem is False:
        return Clear(key, event.at, "NotifyEvent cleared")
    if d.get("trigger") != "Alerting" and problem is not True:
        return None
    evidence: Evidence = {
        "component": component, "variable": variable, "trigger": str(d.get("trigger")),
        "actual_value": str(d.get("actualValue")), "tech_code": _opt_str(d.get("techCode")),
    }
    return Raise(Alarm(key, event.at, evidence, session_ref))


def _measured_code(variable: str, actual: object,
                   settings: SafetySettings | None) -> AlarmCode | None:
    """Rule 7: a monitor on a measured Current or Voltage (csms.safety.monitors)."""
    if variable in ("Current", "ACCurrent"):
        return C.OVER_CURRENT
    if variable not in ("Voltage", "ACVoltage") or settings is None:
        return None
    try:
        value = float(str(actual))
    except ValueError:
        return None
    return C.OVER_VOLTAGE if value > settings.nominal_voltage_v else C.UNDER_VOLTAGE


def _opt_str(value: object) -> str | None:
    return None if value is None else str(value)


def security_event(event: StationEventReported, settings: SafetySettings) -> Decision | None:
    """Rule 5 for one SecurityEventNotification (``event.code`` is its type)."""
    if event.code not in settings.alarming_security_events:
        return None
    code = C.TAMPER_DETECTED if event.code == "TamperDetectionActivated" else C.SECURITY_EVENT
    evidence: Evidence = {"type": event.code, "tech_info": _opt_str(event.details.get("techInfo"))}
    return Raise(Alarm(_key(code, event.station_id, None, None), event.at, evidence))


def repeated_faults(
    history: ConnectorHistory, now: datetime, settings: SafetySettings
) -> Decision:
    """Rule 6 over the fault times the history kept."""
    horizon = now - timedelta(seconds=settings.repeated_fault_window_s)
    recent = [t for t in history.fault_times if horizon < t <= now]
    key = ConditionKey(C.REPEATED_FAULTS, history.station_id, history.evse_id,
                       history.connector_id)
    if len(recent) >= settings.repeated_fault_count:
        evidence: Evidence = {
            "count": len(recent), "window_s": settings.repeated_fault_window_s,
            "fault_times": [t.isoformat() for t in recent],
        }
        return Raise(Alarm(key, now, evidence, history.session_ref))
    return Clear(key, now, "fewer faults in window", {"count": len(recent)})
