"""The variable monitors of a simulated 2.0.1 station, and the NotifyEvents they raise.

Rules:
1. A monitor watches one (component, variable, EVSE): UpperThreshold trips when the value
   rises *above* its threshold, LowerThreshold when it falls *below*; Delta when it moves
   by more than its value since the last report. Ids are the station's, from 1, never
   reused while the station runs; a SetVariableMonitoring item with an ``id`` replaces that
   monitor.
2. A tripped threshold sends one NotifyEvent (trigger Alerting, the monitor's id and
   severity as ``eventNotificationType`` CustomMonitor); back within the threshold sends
   one with ``cleared`` true. Monitors with a severity above (less severe than) the
   monitoring level are kept but not reported (SetMonitoringLevel).
3. What is measured: ``TemperatureSensor.Temperature`` (station), ``EVSE.Voltage`` and
   ``EVSE.Current`` (per EVSE) from each meter sample the station takes.
4. Monitors survive reconnects and reboots (a real charger persists them).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final

from simulators.sampling import MeterSample

Payload = dict[str, Any]
Place = tuple[str, str, int]  # component, variable, EVSE (0: the station)
MONITORED: Final = frozenset({("TemperatureSensor", "Temperature"), ("EVSE", "Voltage"),
                              ("EVSE", "Current")})
KINDS: Final = frozenset({"UpperThreshold", "LowerThreshold", "Delta"})


@dataclass(slots=True)
class SimMonitor:
    monitor_id: int
    place: Place
    kind: str
    value: float
    severity: int
    transaction: bool
    tripped: bool = False
    last: float | None = None  # Delta: the value last reported


class MonitorBank:
    """The station's monitors (module rules)."""

    def __init__(self) -> None:
        self.monitors: dict[int, SimMonitor] = {}
        self.level = 9
        self.base = "All"
        self._next_id = 1
        self._next_event = 1
        self.sent: list[Payload] = []  # every eventData sent, for tests

    def set(self, place: Place, kind: str, value: float, severity: int, transaction: bool,
            monitor_id: int | None) -> tuple[str, int | None]:
        """(status, id) for one SetMonitoringData."""
        if kind not in KINDS:
            return "UnsupportedMonitorType", None
        if monitor_id is not None and monitor_id not in self.monitors:
            return "Rejected", None
        if monitor_id is None:
            monitor_id, self._next_id = self._next_id, self._next_id + 1
        self.monitors[monitor_id] = SimMonitor(monitor_id, place, kind, value, severity,
                                               transaction)
        return "Accepted", monitor_id

    def clear(self, monitor_id: int) -> str:
        return "Accepted" if self.monitors.pop(monitor_id, None) is not None else "NotFound"

    def events(self, evse_id: int, sample: MeterSample, at: str) -> list[Payload]:
        """The eventData that one sample of ``evse_id`` raises (rule 2)."""
        values = {("TemperatureSensor", "Temperature", 0): sample.temperature_c,
                  ("EVSE", "Voltage", evse_id): sample.voltage_v,
                  ("EVSE", "Current", evse_id): sample.current_a}
        found = []
        for monitor in self.monitors.values():
            value = values.get(monitor.place)
            if value is None:
                continue
            event = self._check(monitor, value, at)
            if event is not None and monitor.severity <= self.level:
                found.append(event)
        self.sent.extend(found)
        return found

    def _check(self, m: SimMonitor, value: float, at: str) -> Payload | None:
        if m.kind == "Delta":
            if m.last is not None and abs(value - m.last) <= m.value:
                return None
            m.last = value
            return self._event(m, value, at, trigger="Delta", cleared=False)
        beyond = value > m.value if m.kind == "UpperThreshold" else value < m.value
        if beyond == m.tripped:
            return None
        m.tripped = beyond
        return self._event(m, value, at, trigger="Alerting", cleared=not beyond)

    def _event(self, m: SimMonitor, value: float, at: str, *, trigger: str,
               cleared: bool) -> Payload:
        component, variable, evse_id = m.place
        event_id, self._next_event = self._next_event, self._next_event + 1
        data: Payload = {
            "eventId": event_id, "timestamp": at, "trigger": trigger,
            "actualValue": f"{value:g}", "eventNotificationType": "CustomMonitor",
            "variableMonitoringId": m.monitor_id, "cleared": cleared,
            "component": {"name": component, **({"evse": {"id": evse_id}} if evse_id else {})},
            "variable": {"name": variable},
        }
        return data

    def report(self) -> list[Payload]:
        """The monitors as NotifyMonitoringReport ``monitor`` entries, one per variable."""
        grouped: dict[Place, list[Payload]] = {}
        for m in sorted(self.monitors.values(), key=lambda m: m.monitor_id):
            grouped.setdefault(m.place, []).append({
                "id": m.monitor_id, "transaction": m.transaction, "value": m.value,
                "type": m.kind, "severity": m.severity})
        return [{"component": {"name": c, **({"evse": {"id": e}} if e else {})},
                 "variable": {"name": v}, "variableMonitoring": items}
                for (c, v, e), items in grouped.items()]
