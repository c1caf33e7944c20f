"""Request and answer bodies of the 2.0.1 device model and monitoring endpoints."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from csms.api.commands import (
    MAX_WAIT_S,
    CommandIn,
    CommandStatusOut,
    Name,
    SettingKeyIn,
    SettingKeyOut,
)

__all__ = ["CommandStatusOut"]  # re-exported for the routes
from csms.api.models import Printable
from csms.domain import commands as c
from csms.domain import commands_device as d

_IN = ConfigDict(extra="forbid", allow_inf_nan=False)
Severity = Annotated[int, Field(ge=0, le=9, description="0 Danger ... 9 Debug")]
Wait = Annotated[float, Field(ge=0, le=MAX_WAIT_S,
                              description="seconds to wait for the whole report")]


class ComponentIn(BaseModel):
    """A component, optionally one of its variables (none: all of them)."""

    model_config = _IN

    component: Name
    variable: Name | None = None
    instance: Name | None = None
    evse_id: Annotated[int, Field(ge=1, le=2**31 - 1)] | None = None

    def key(self) -> c.SettingKey:
        return c.SettingKey(self.variable or "", self.component, self.instance, self.evse_id)


class BaseReportIn(CommandIn):
    base: d.ReportBase = d.ReportBase.FULL
    wait_s: Wait = 10.0


class ReportIn(CommandIn):
    components: list[ComponentIn] = Field(default_factory=list, max_length=100)
    criteria: list[Literal["Active", "Available", "Enabled", "Problem"]] = Field(
        default_factory=list, max_length=4)
    wait_s: Wait = 10.0


class MonitoringReportIn(CommandIn):
    components: list[ComponentIn] = Field(default_factory=list, max_length=100)
    criteria: list[Literal["ThresholdMonitoring", "DeltaMonitoring", "PeriodicMonitoring"]] = (
        Field(default_factory=list, max_length=3))
    wait_s: Wait = 10.0


class ReportOut(BaseModel):
    """A report request: the charger's answer and how far its parts have come."""

    request_id: int
    station_id: str
    kind: str
    status: str = Field(description="pending, the charger's answer, failed, or complete")
    parts: int
    requested_at: datetime
    requested_by: str | None
    completed_at: datetime | None
    reason: str | None = None


class SettingChangeIn(BaseModel):
    model_config = _IN

    key: SettingKeyIn
    value: Annotated[str, Printable] = Field(max_length=1000)


class SetVariablesIn(CommandIn):
    settings: list[SettingChangeIn] = Field(min_length=1, max_length=100)

    def command(self) -> d.SetSettings:
        return d.SetSettings(tuple(d.SettingChange(s.key.key(), s.value) for s in self.settings))


class SettingSetResultOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    key: SettingKeyOut
    status: str
    reason: str | None = None


class SettingsSetReportOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    results: list[SettingSetResultOut]


class NetworkProfileIn(BaseModel):
    model_config = _IN

    csms_url: Annotated[str, Printable] = Field(min_length=1, max_length=512)
    security_profile: int = Field(default=0, ge=0, le=3)
    ocpp_interface: Literal["Wired0", "Wired1", "Wired2", "Wired3", "Wireless0", "Wireless1",
                            "Wireless2", "Wireless3"] = "Wired0"
    message_timeout_s: int = Field(default=30, ge=1, le=3600)
    apn: Annotated[str, Printable] | None = Field(default=None, max_length=512)


class SetNetworkProfileIn(CommandIn):
    slot: int = Field(ge=0, le=2**31 - 1, description="configurationSlot")
    profile: NetworkProfileIn

    def command(self) -> d.SetNetworkProfile:
        p = self.profile
        return d.SetNetworkProfile(self.slot, d.NetworkProfile(
            p.csms_url, p.security_profile, p.ocpp_interface, p.message_timeout_s, apn=p.apn))


class MonitorIn(BaseModel):
    model_config = _IN

    key: SettingKeyIn
    kind: d.MonitorKind
    value: float
    severity: Severity
    transaction: bool = False
    monitor_id: int | None = Field(default=None, ge=0, le=2**31 - 1,
                                   description="replace this monitor of the station")

    def monitor(self) -> d.Monitor:
        return d.Monitor(self.key.key(), self.kind, self.value, self.severity,
                         self.transaction, self.monitor_id)


class SetMonitoringIn(CommandIn):
    monitors: list[MonitorIn] = Field(min_length=1, max_length=100)


class ClearMonitoringIn(CommandIn):
    monitor_ids: list[Annotated[int, Field(ge=0, le=2**31 - 1)]] = Field(
        min_length=1, max_length=100)


class MonitoringBaseIn(CommandIn):
    base: d.MonitoringBase

    def command(self) -> d.SetMonitoringBase:
        return d.SetMonitoringBase(self.base)


class MonitoringLevelIn(CommandIn):
    severity: Severity

    def command(self) -> d.SetMonitoringLevel:
        return d.SetMonitoringLevel(self.severity)


class MonitorOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    key: SettingKeyOut
    kind: str
    value: float
    severity: int
    transaction: bool
    monitor_id: int | None


class MonitorResultOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    monitor: MonitorOut
    status: str
    monitor_id: int | None
    reason: str | None = None


class MonitorsSetReportOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    results: list[MonitorResultOut]


class MonitorClearedOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    monitor_id: int
    status: str


class MonitorsClearedReportOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    results: list[MonitorClearedOut]


class VariableOut(BaseModel):
    """One attribute of one variable of the station's stored device model."""

    model_config = ConfigDict(from_attributes=True)

    component: str
    component_instance: str
    evse_id: int = Field(description="0: the component is not on an EVSE")
    connector_id: int
    variable: str
    variable_instance: str
    attribute_type: str
    value: str | None
    mutability: str | None
    persistent: bool | None
    constant: bool | None
    data_type: str | None
    unit: str | None
    min_limit: float | None
    max_limit: float | None
    values_list: str | None
    supports_monitoring: bool | None


class StoredMonitorOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    monitor_id: int
    component: str
    component_instance: str
    evse_id: int
    variable: str
    variable_instance: str
    kind: str
    value: float
    severity: int
    transaction: bool
    origin: str = Field(description="safety, api (set by the CSMS) or reported")
    updated_at: datetime
