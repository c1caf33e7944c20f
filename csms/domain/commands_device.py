"""OCPP 2.0.1 device model and monitoring commands and their results, version-neutral.

Rules:
1. Reports (GetBaseReport, GetReport, GetMonitoringReport) are answered with a status; the
   data comes afterwards in NotifyReport / NotifyMonitoringReport parts that carry the
   command's ``request_id`` (:mod:`csms.domain.device_model` reassembles them).
2. ``SetSettings`` changes several settings at once; :mod:`csms.services.device_model`
   splits it (and ``GetSettings``) into messages the charger accepts and joins the answers in
   request order. OCPP 1.6 sets one key per ChangeConfiguration.
3. Monitors, network profiles and reports are OCPP 2.0.1 only: 1.6 translation raises
   ``CommandNotSupported``.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class ReportBase(StrEnum):
    CONFIGURATION = "ConfigurationInventory"
    FULL = "FullInventory"
    SUMMARY = "SummaryInventory"


class MonitorKind(StrEnum):
    UPPER = "UpperThreshold"
    LOWER = "LowerThreshold"
    DELTA = "Delta"
    PERIODIC = "Periodic"
    PERIODIC_CLOCK_ALIGNED = "PeriodicClockAligned"


class MonitoringBase(StrEnum):
    ALL = "All"
    FACTORY_DEFAULT = "FactoryDefault"
    HARD_WIRED_ONLY = "HardWiredOnly"


@dataclass(frozen=True, slots=True)
class SettingChange:
    key: SettingKey
    value: str


@dataclass(frozen=True, slots=True)
class SetSettings:
    """Several settings at once (2.0.1 SetVariables; 1.6 one ChangeConfiguration each)."""

    changes: tuple[SettingChange, ...]


@dataclass(frozen=True, slots=True)
class GetBaseReport:
    request_id: int
    base: ReportBase = ReportBase.FULL


@dataclass(frozen=True, slots=True)
class GetReport:
    """A report of some components (``variable`` None: all of the component's variables)
    and/or of the variables meeting every criterion (Active, Available, Enabled, Problem)."""

    request_id: int
    keys: tuple[SettingKey, ...] = ()  # SettingKey.variable "" means the whole component
    criteria: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class NetworkProfile:
    """One connection profile (2.0.1 NetworkConnectionProfileType)."""

    csms_url: str
    security_profile: int = 0
    ocpp_interface: str = "Wired0"
    message_timeout_s: int = 30
    ocpp_version: str = "OCPP20"
    ocpp_transport: str = "JSON"
    apn: str | None = None  # the APN name, for a cellular interface


@dataclass(frozen=True, slots=True)
class SetNetworkProfile:
    slot: int
    profile: NetworkProfile


@dataclass(frozen=True, slots=True)
class Monitor:
    """One variable monitor: the variable, the kind, the threshold and its severity."""

    key: SettingKey
    kind: MonitorKind
    value: float
    severity: int  # 0 (Danger) .. 9 (Debug)
    transaction: bool = False
    monitor_id: int | None = None  # None: a new monitor; the charger assigns the id


@dataclass(frozen=True, slots=True)
class SetVariableMonitoring:
    monitors: tuple[Monitor, ...]


@dataclass(frozen=True, slots=True)
class ClearVariableMonitoring:
    monitor_ids: tuple[int, ...]


@dataclass(frozen=True, slots=True)
class SetMonitoringBase:
    base: MonitoringBase


@dataclass(frozen=True, slots=True)
class SetMonitoringLevel:
    severity: int  # events of this severity or more severe (lower) are reported


@dataclass(frozen=True, slots=True)
class GetMonitoringReport:
    request_id: int
    keys: tuple[SettingKey, ...] = ()
    criteria: tuple[str, ...] = ()  # ThresholdMonitoring, DeltaMonitoring, PeriodicMonitoring


DeviceCommand = (
    SetSettings | GetBaseReport | GetReport | SetNetworkProfile | SetVariableMonitoring
    | ClearVariableMonitoring | SetMonitoringBase | SetMonitoringLevel | GetMonitoringReport
)


@dataclass(frozen=True, slots=True)
class SettingSetResult:
    key: SettingKey
    status: str  # Accepted, Rejected, RebootRequired, UnknownComponent, UnknownVariable, ...
    reason: str | None = None


@dataclass(frozen=True, slots=True)
class SettingsSetReport:
    results: tuple[SettingSetResult, ...]


@dataclass(frozen=True, slots=True)
class MonitorResult:
    monitor: Monitor
    status: str  # Accepted, UnknownComponent, UnknownVariable, UnsupportedMonitorType, ...
    monitor_id: int | None = None  # the id the charger gave the monitor
    reason: str | None = None


@dataclass(frozen=True, slots=True)
class MonitorsSetReport:
    results: tuple[MonitorResult, ...]


@dataclass(frozen=True, slots=True)
class MonitorCleared:
    monitor_id: int
    status: str  # Accepted, Rejected, NotFound


@dataclass(frozen=True, slots=True)
class MonitorsClearedReport:
    results: tuple[MonitorCleared, ...]


DeviceResult = SettingsSetReport | MonitorsSetReport | MonitorsClearedReport


# Last: csms.domain.commands imports this module at its end for its unions (either may be
# imported first); the annotations above are resolved lazily.
from csms.domain.commands import SettingKey  # noqa: E402
