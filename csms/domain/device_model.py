"""A 2.0.1 station's device model as the CSMS keeps it, and the pure rules around it.

Rules:
1. A report (NotifyReport or NotifyMonitoringReport, one ``requestId``) comes in parts
   numbered by ``seqNo`` from 0; the part with ``tbc`` false is the last. The report is
   complete when the last part and every part before it arrived, in any order; a part
   that arrives twice counts once (:class:`ReportProgress`).
2. A variable is one row per attribute type (Actual, Target, MinSet, MaxSet), carrying the
   variable's characteristics (data type, unit, limits, values list, supportsMonitoring)
   and the attribute's mutability, persistence and constancy (:func:`report_rows`).
   A component without instance is instance ``""``, without EVSE EVSE 0 and connector 0:
   the key is never NULL, so a re-report replaces rather than duplicates.
3. GetVariables / SetVariables go out in messages of at most ``ItemsPerMessage...`` items
   (DeviceDataCtrlr), SetVariableMonitoring / ClearVariableMonitoring of at most
   ``ItemsPerMessage...VariableMonitoring`` (MonitoringCtrlr), in request order
   (:func:`batches`); answers are joined in the same order. Unknown or unreadable
   limits give :data:`DEFAULT_ITEMS_PER_MESSAGE`.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Final, TypeVar

T = TypeVar("T")
Payload = dict[str, Any]

DEVICE_DATA_CTRLR: Final = "DeviceDataCtrlr"
ITEMS_PER_GET: Final = "ItemsPerMessageGetVariables"
ITEMS_PER_SET: Final = "ItemsPerMessageSetVariables"
MONITORING_CTRLR: Final = "MonitoringCtrlr"
ITEMS_PER_SET_MONITORING: Final = "ItemsPerMessageSetVariableMonitoring"
ITEMS_PER_CLEAR_MONITORING: Final = "ItemsPerMessageClearVariableMonitoring"
# Without a known limit, one item per message: every charger accepts that (OCPP 2.0.1
# requires ItemsPerMessage* >= 1), and the answers are joined the same way.
DEFAULT_ITEMS_PER_MESSAGE: Final = 1


@dataclass(frozen=True, slots=True)
class ReportProgress:
    """Which parts of one report arrived (rule 1)."""

    seen: frozenset[int] = frozenset()
    last: int | None = None  # seqNo of the part with tbc false

    def add(self, seq_no: int, tbc: bool) -> ReportProgress:
        last = self.last if tbc else seq_no if self.last is None else min(self.last, seq_no)
        return replace(self, seen=self.seen | {seq_no}, last=last)

    @property
    def complete(self) -> bool:
        return self.last is not None and all(n in self.seen for n in range(self.last + 1))

    @property
    def parts(self) -> int:
        return len(self.seen)


@dataclass(frozen=True, slots=True)
class VariableRow:
    """One attribute of one variable of one component (rule 2)."""

    component: str
    variable: str
    attribute_type: str = "Actual"
    component_instance: str = ""
    variable_instance: str = ""
    evse_id: int = 0
    connector_id: int = 0
    value: str | None = None
    mutability: str | None = None
    persistent: bool | None = None
    constant: bool | None = None
    data_type: str | None = None
    unit: str | None = None
    min_limit: float | None = None
    max_limit: float | None = None
    values_list: str | None = None
    supports_monitoring: bool | None = None

    def key(self) -> tuple[str, str, int, int, str, str, str]:
        return (self.component, self.component_instance, self.evse_id, self.connector_id,
                self.variable, self.variable_instance, self.attribute_type)


def component_key(component: Payload) -> tuple[str, str, int, int]:
    """(name, instance, evse, connector) of a 2.0.1 ComponentType, rule 2's sentinels."""
    evse = component.get("evse") or {}
    return (component["name"], component.get("instance") or "", evse.get("id") or 0,
            evse.get("connectorId") or 0)


def report_rows(report_data: Sequence[Payload]) -> list[VariableRow]:
    """The rows of a NotifyReport part's ``reportData`` (rule 2)."""
    rows: list[Any] = []
    for item in report_data:
        name, instance, evse, connector = component_key(item["component"])
        variable = item["variable"]
        traits = item.get("variableCharacteristics") or {}
        rows.extend(
            VariableRow(
                component=name, component_instance=instance, evse_id=evse,
                connector_id=connector, variable=variable["name"],
                variable_instance=variable.get("instance") or "",
                attribute_type=attribute.get("type", "Actual"), value=attribute.get("value"),
                mutability=attribute.get("mutability", "ReadWrite"),
                persistent=attribute.get("persistent"), constant=attribute.get("constant"),
                data_type=traits.get("dataType"), unit=traits.get("unit"),
                min_limit=traits.get("minLimit"), max_limit=traits.get("maxLimit"),
                values_list=traits.get("valuesList"),
                supports_monitoring=traits.get("supportsMonitoring"),
            ) for attribute in item["variableAttribute"])
    return rows


@dataclass(frozen=True, slots=True)
class MonitorRow:
    """One monitor a NotifyMonitoringReport part lists."""

    monitor_id: int
    component: str
    variable: str
    kind: str
    value: float
    severity: int
    transaction: bool
    component_instance: str = ""
    variable_instance: str = ""
    evse_id: int = 0
    connector_id: int = 0


def monitor_rows(monitors: Sequence[Payload]) -> list[MonitorRow]:
    """The monitors of a NotifyMonitoringReport part's ``monitor`` list."""
    rows: list[Any] = []
    for item in monitors:
        name, instance, evse, connector = component_key(item["component"])
        variable = item["variable"]
        rows.extend(
            MonitorRow(
                monitor_id=m["id"], component=name, variable=variable["name"], kind=m["type"],
                value=float(m["value"]), severity=m["severity"], transaction=m["transaction"],
                component_instance=instance, variable_instance=variable.get("instance") or "",
                evse_id=evse, connector_id=connector,
            ) for m in item["variableMonitoring"])
    return rows


def items_limit(value: str | None) -> int:
    """An ItemsPerMessage* value as a limit (rule 3): a positive integer, else the default."""
    try:
        limit = int(str(value).strip())
    except ValueError:
        return DEFAULT_ITEMS_PER_MESSAGE
    return limit if limit >= 1 else DEFAULT_ITEMS_PER_MESSAGE


def batches(items: Sequence[T], limit: int) -> Iterator[tuple[T, ...]]:
    """``items`` in order, in runs of at most ``limit`` (at least 1)."""
    size = max(1, limit)
    for start in range(0, len(items), size):
        yield tuple(items[start:start + size])


@dataclass(slots=True)
class Assembly:
    """The reports of one kind in progress, keyed by (station, requestId)."""

    reports: dict[tuple[str, int], ReportProgress] = field(default_factory=dict)

    def add(self, station_id: str, request_id: int, seq_no: int, tbc: bool) -> ReportProgress:
        key = (station_id, request_id)
        progress = self.reports.get(key, ReportProgress()).add(seq_no, tbc)
        if progress.complete:
            self.reports.pop(key, None)
        else:
            self.reports[key] = progress
        return progress
