"""Device model and monitoring commands as OCPP 2.0.1 CALLs, and the answers as results. Pure.

Rules:
1. Component/variable pairs are written as :mod:`csms.handlers.commands.v201` writes them
   (``component_variable``), with the same length limits; GetReport and GetMonitoringReport
   take a ``SettingKey`` whose ``variable`` is empty as "the whole component".
2. SetVariableMonitoring sends ``value`` as a number (whole numbers as integers), with
   ``id`` only for a monitor that replaces an existing one. Each result is matched to its
   monitor by position (the charger answers in request order, OCPP 2.0.1 N04).
3. SetNetworkProfile's URL holds at most 512 characters, the APN 512 (schema limits).
4. Every answer without a list is a ``CommandStatus`` (status, statusInfo.reasonCode).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Final

from csms.domain.commands import CommandResult, CommandStatus, SettingKey
from csms.domain.commands_device import (
    ClearVariableMonitoring,
    DeviceCommand,
    GetBaseReport,
    GetMonitoringReport,
    GetReport,
    Monitor,
    MonitorCleared,
    MonitorResult,
    MonitorsClearedReport,
    MonitorsSetReport,
    SetMonitoringBase,
    SetMonitoringLevel,
    SetNetworkProfile,
    SetSettings,
    SettingSetResult,
    SettingsSetReport,
    SetVariableMonitoring,
)

Payload = dict[str, Any]
CRITERIA: Final = frozenset({"Active", "Available", "Enabled", "Problem"})
MONITOR_CRITERIA: Final = frozenset({"ThresholdMonitoring", "DeltaMonitoring",
                                     "PeriodicMonitoring"})


class Inexpressible(ValueError):
    """OCPP 2.0.1 has no spelling for this; the message says why."""


ComponentVariable = Callable[[SettingKey], Payload]


def call(command: DeviceCommand, component_variable: ComponentVariable) -> tuple[str, Payload]:
    """(action, payload); raises :class:`Inexpressible`."""
    match command:
        case SetSettings():
            if not command.changes:
                raise Inexpressible("SetVariables needs at least one setting")
            return "SetVariables", {"setVariableData": [
                {"attributeValue": _fit(change.value, 1000, "attributeValue"),
                 **component_variable(change.key)} for change in command.changes]}
        case GetBaseReport():
            return "GetBaseReport", {"requestId": command.request_id,
                                     "reportBase": command.base.value}
        case GetReport():
            return "GetReport", {"requestId": command.request_id, **_report_filter(
                command.keys, command.criteria, CRITERIA, component_variable,
                "componentCriteria")}
        case GetMonitoringReport():
            return "GetMonitoringReport", {"requestId": command.request_id, **_report_filter(
                command.keys, command.criteria, MONITOR_CRITERIA, component_variable,
                "monitoringCriteria")}
        case SetNetworkProfile():
            return "SetNetworkProfile", _network_profile(command)
        case SetVariableMonitoring():
            if not command.monitors:
                raise Inexpressible("SetVariableMonitoring needs at least one monitor")
            return "SetVariableMonitoring", {"setMonitoringData": [
                _monitor(m, component_variable) for m in command.monitors]}
        case ClearVariableMonitoring():
            if not command.monitor_ids:
                raise Inexpressible("ClearVariableMonitoring needs at least one id")
            return "ClearVariableMonitoring", {"id": list(command.monitor_ids)}
        case SetMonitoringBase():
            return "SetMonitoringBase", {"monitoringBase": command.base.value}
        case SetMonitoringLevel():
            if not 0 <= command.severity <= 9:
                raise Inexpressible("severity is 0..9")
            return "SetMonitoringLevel", {"severity": command.severity}


def answer(command: DeviceCommand, p: Payload) -> CommandResult:
    """The domain result of the (schema-valid) answer to ``command``."""
    if isinstance(command, SetSettings):
        return SettingsSetReport(tuple(
            SettingSetResult(_key(item), item["attributeStatus"],
                             _reason(item.get("attributeStatusInfo")))
            for item in p["setVariableResult"]))
    if isinstance(command, SetVariableMonitoring):
        return MonitorsSetReport(tuple(
            MonitorResult(monitor, item["status"], item.get("id"), _reason(item.get("statusInfo")))
            for monitor, item in zip(command.monitors, p["setMonitoringResult"], strict=False)))
    if isinstance(command, ClearVariableMonitoring):
        return MonitorsClearedReport(tuple(
            MonitorCleared(item["id"], item["status"]) for item in p["clearMonitoringResult"]))
    return CommandStatus(p["status"], _reason(p.get("statusInfo")))


def _report_filter(keys: tuple[SettingKey, ...], criteria: tuple[str, ...],
                   allowed: frozenset[str], component_variable: ComponentVariable,
                   criteria_field: str) -> Payload:
    unknown = set(criteria) - allowed
    if unknown:
        raise Inexpressible(f"unknown criteria {sorted(unknown)}; allowed {sorted(allowed)}")
    found: Payload = {}
    if keys:
        found["componentVariable"] = [_component_only(key, component_variable) for key in keys]
    if criteria:
        found[criteria_field] = list(criteria)
    return found


def _component_only(key: SettingKey, component_variable: ComponentVariable) -> Payload:
    if key.variable:
        return component_variable(key)
    whole = component_variable(SettingKey("x", key.component, key.instance, key.evse_id))
    return {"component": whole["component"]}


def _monitor(monitor: Monitor, component_variable: ComponentVariable) -> Payload:
    if not 0 <= monitor.severity <= 9:
        raise Inexpressible("severity is 0..9")
    value = monitor.value
    data: Payload = {
        "value": int(value) if float(value).is_integer() else value,
        "type": monitor.kind.value, "severity": monitor.severity,
        "transaction": monitor.transaction, **component_variable(monitor.key),
    }
    if monitor.monitor_id is not None:
        data["id"] = monitor.monitor_id
    return data


def _network_profile(command: SetNetworkProfile) -> Payload:
    profile = command.profile
    data: Payload = {
        "ocppVersion": profile.ocpp_version, "ocppTransport": profile.ocpp_transport,
        "ocppCsmsUrl": _fit(profile.csms_url, 512, "ocppCsmsUrl"),
        "messageTimeout": profile.message_timeout_s, "securityProfile": profile.security_profile,
        "ocppInterface": profile.ocpp_interface,
    }
    if profile.apn is not None:
        data["apn"] = {"apn": _fit(profile.apn, 512, "apn"), "apnAuthentication": "AUTO"}
    return {"configurationSlot": command.slot, "connectionData": data}


def _key(item: Payload) -> SettingKey:
    component = item["component"]
    evse = component.get("evse")
    return SettingKey(item["variable"]["name"], component["name"], component.get("instance"),
                      None if evse is None else evse["id"])


def _reason(status_info: Payload | None) -> str | None:
    return None if status_info is None else str(status_info["reasonCode"])


def _fit(text: str, max_length: int, field: str) -> str:
    if len(text) > max_length:
        raise Inexpressible(f"2.0.1 {field} holds at most {max_length} characters")
    return text
