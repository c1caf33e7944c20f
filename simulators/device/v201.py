"""A simulated 2.0.1 station's device model reports, monitors and network profiles.

Rules:
1. GetBaseReport (Configuration / Full / Summary inventory) and GetReport are Accepted (a
   GetReport that matches nothing: EmptyResultSet) and the report follows in NotifyReport
   parts of :data:`PART_SIZE` variables, seqNo from 0, ``tbc`` true on all but the last.
   The model: every setting of :mod:`simulators.settings` (ReadOnly or ReadWrite, with its
   data type), and per EVSE ``EVSE.AvailabilityState``, ``EVSE.Power`` (maxLimit: the
   hardware's), ``EVSE.Current`` (maxLimit: the rated current) and ``EVSE.Voltage``, plus
   ``TemperatureSensor.Temperature``; the measured ones support monitoring.
2. SetVariableMonitoring / ClearVariableMonitoring with more items than
   ``MonitoringCtrlr.ItemsPerMessageSet/ClearVariableMonitoring`` (4) are refused with a
   CALLERROR OccurrenceConstraintViolation, as
   GetVariables / SetVariables beyond ``DeviceDataCtrlr.ItemsPerMessage...`` are
   (:mod:`simulators.protocol.v201_commands`). Monitors: :mod:`simulators.device.monitoring`.
3. SetNetworkProfile: Accepted for slots 1-3 and a ws:// or wss:// URL, else Rejected.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Final

from csms.handlers.ocppj import ErrorCode, OcppError
from simulators.device.monitoring import MONITORED
from simulators.sampling import MeterSample

if TYPE_CHECKING:
    from csms.handlers.rpc import Handler
    from simulators.settings import SettingsStore
    from simulators.station import SimStation

Payload = dict[str, Any]
PART_SIZE: Final = 4
_TYPES: Final = {"int": "integer", "bool": "boolean", "str": "string"}
_CRITERIA: Final = {"ThresholdMonitoring": {"UpperThreshold", "LowerThreshold"},
                    "DeltaMonitoring": {"Delta"},
                    "PeriodicMonitoring": {"Periodic", "PeriodicClockAligned"}}


def check_items(settings: SettingsStore[Any], component: str, variable: str,
                count: int) -> None:
    """Refuse a request of more items than the station's limit (rule 2)."""
    setting = settings.get((component, variable))
    if setting is not None and count > int(setting.value):
        raise OcppError(ErrorCode.OCCURRENCE_CONSTRAINT_VIOLATION,
                        f"{count} items; {component}.{variable} is {setting.value}")


def _item(component: Payload, variable: str, value: str, *, mutability: str = "ReadOnly",
          data_type: str = "string", extra: Payload | None = None) -> Payload:
    return {
        "component": component, "variable": {"name": variable},
        "variableAttribute": [{"type": "Actual", "value": value, "mutability": mutability,
                               "persistent": True, "constant": mutability == "ReadOnly"}],
        "variableCharacteristics": {"dataType": data_type, "supportsMonitoring": False,
                                    **(extra or {})},
    }


class V201Device:
    """The handlers of rule 1-3 for one station."""

    def __init__(self, station: SimStation, settings: SettingsStore[Any]) -> None:
        self._st = station
        self._settings = settings

    def handlers(self) -> dict[str, Handler]:
        return {
            "GetBaseReport": self.get_base_report, "GetReport": self.get_report,
            "SetVariableMonitoring": self.set_monitoring,
            "ClearVariableMonitoring": self.clear_monitoring,
            "SetMonitoringBase": self.set_monitoring_base,
            "SetMonitoringLevel": self.set_monitoring_level,
            "GetMonitoringReport": self.get_monitoring_report,
            "SetNetworkProfile": self.set_network_profile,
        }

    def model(self, *, configuration_only: bool = False) -> list[Payload]:
        """The device model as reportData items (rule 1)."""
        items = [
            _item({"name": c}, v, s.value, mutability="ReadOnly" if s.readonly else "ReadWrite",
                  data_type=_TYPES[s.kind])
            for (c, v), s in self._settings
        ]
        if configuration_only:
            return items
        hw = self._st.hardware
        monitored = {"supportsMonitoring": True}
        items.append(_item({"name": "TemperatureSensor"}, "Temperature", "25",
                           data_type="decimal", extra={**monitored, "unit": "Celsius"}))
        for evse_id, connector in sorted(self._st.connectors.items()):
            evse = {"name": "EVSE", "evse": {"id": evse_id}}
            items += [
                _item(evse, "AvailabilityState", connector.status.value),
                _item(evse, "Power", "0", data_type="decimal",
                      extra={"unit": "W", "maxLimit": hw.watts(hw.max_current_a)}),
                _item(evse, "Current", "0", data_type="decimal",
                      extra={**monitored, "unit": "A", "maxLimit": hw.max_current_a}),
                _item(evse, "Voltage", f"{hw.voltage_v:g}", data_type="decimal",
                      extra={**monitored, "unit": "V"}),
            ]
        return items

    async def get_base_report(self, p: Payload) -> Payload:
        base = p["reportBase"]
        items = self.model(configuration_only=base == "ConfigurationInventory")
        if base == "SummaryInventory":
            items = [i for i in items if i["variable"]["name"] == "AvailabilityState"]
        self._send_parts("NotifyReport", "reportData", p["requestId"], items)
        return {"status": "Accepted"}

    async def get_report(self, p: Payload) -> Payload:
        wanted = p.get("componentVariable") or []
        criteria = p.get("componentCriteria") or []
        items = [i for i in self.model() if _matches(i, wanted)]
        if "Problem" in criteria:
            items = []  # the simulated station has no problems to report
        if not items:
            return {"status": "EmptyResultSet"}
        self._send_parts("NotifyReport", "reportData", p["requestId"], items)
        return {"status": "Accepted"}

    def _send_parts(self, action: str, field: str, request_id: int,
                    items: list[Payload]) -> None:
        st = self._st

        async def send() -> None:
            parts = [items[i:i + PART_SIZE] for i in range(0, len(items), PART_SIZE)] or [[]]
            for seq_no, part in enumerate(parts):
                body: Payload = {"requestId": request_id, "generatedAt": st.timestamp(),
                                 "seqNo": seq_no, "tbc": seq_no < len(parts) - 1}
                if part:
                    body[field] = part
                await st.call(action, body)

        st.link.after_answer(action, send)

    async def set_monitoring(self, p: Payload) -> Payload:
        data = p["setMonitoringData"]
        check_items(self._settings, "MonitoringCtrlr", "ItemsPerMessageSetVariableMonitoring",
                    len(data))
        return {"setMonitoringResult": [self._set_one(item) for item in data]}

    def _set_one(self, item: Payload) -> Payload:
        component, variable = item["component"], item["variable"]
        result: Payload = {"type": item["type"], "severity": item["severity"],
                           "component": component, "variable": variable}
        evse_id = (component.get("evse") or {}).get("id", 0)
        names = {c for c, _ in MONITORED}
        if component["name"] not in names or (component["name"] == "EVSE"
                                              and evse_id not in self._st.connectors):
            result["status"] = "UnknownComponent"
        elif (component["name"], variable["name"]) not in MONITORED:
            result["status"] = "UnknownVariable"
        else:
            status, monitor_id = self._st.monitors.set(
                (component["name"], variable["name"], evse_id), item["type"],
                float(item["value"]), item["severity"], item.get("transaction", False),
                item.get("id"))
            result["status"] = status
            if monitor_id is not None:
                result["id"] = monitor_id
        return result

    async def clear_monitoring(self, p: Payload) -> Payload:
        check_items(self._settings, "MonitoringCtrlr",
                    "ItemsPerMessageClearVariableMonitoring", len(p["id"]))
        return {"clearMonitoringResult": [
            {"id": i, "status": self._st.monitors.clear(i)} for i in p["id"]]}

    async def set_monitoring_base(self, p: Payload) -> Payload:
        self._st.monitors.base = p["monitoringBase"]
        return {"status": "Accepted"}

    async def set_monitoring_level(self, p: Payload) -> Payload:
        self._st.monitors.level = p["severity"]
        return {"status": "Accepted"}

    async def get_monitoring_report(self, p: Payload) -> Payload:
        kinds = set().union(*(_CRITERIA[c] for c in p.get("monitoringCriteria") or []))
        wanted = p.get("componentVariable") or []
        monitors = []
        for entry in self._st.monitors.report():
            kept = [m for m in entry["variableMonitoring"] if not kinds or m["type"] in kinds]
            if kept and _matches(entry, wanted):
                monitors.append({**entry, "variableMonitoring": kept})
        if not monitors:
            return {"status": "EmptyResultSet"}
        self._send_parts("NotifyMonitoringReport", "monitor", p["requestId"], monitors)
        return {"status": "Accepted"}

    async def set_network_profile(self, p: Payload) -> Payload:
        url = p["connectionData"]["ocppCsmsUrl"]
        ok = 1 <= p["configurationSlot"] <= 3 and url.startswith(("ws://", "wss://"))
        if ok:
            self._st.network_profiles[p["configurationSlot"]] = p["connectionData"]
        return {"status": "Accepted" if ok else "Rejected"}


def _matches(item: Payload, wanted: list[Payload]) -> bool:
    if not wanted:
        return True
    component = item["component"]
    for w in wanted:
        wc = w["component"]
        if wc["name"] != component["name"]:
            continue
        if "evse" in wc and wc["evse"].get("id") != (component.get("evse") or {}).get("id"):
            continue
        if "variable" in w and w["variable"]["name"] != item["variable"]["name"]:
            continue
        return True
    return False


async def report_monitored(station: SimStation, connector_id: int, sample: MeterSample) -> None:
    """NotifyEvent for the monitors that this sample trips or clears (monitoring rule 2)."""
    events = station.monitors.events(connector_id, sample, sample.timestamp)
    if events:
        await station.call("NotifyEvent", {"generatedAt": station.timestamp(), "seqNo": 0,
                                           "eventData": events})
