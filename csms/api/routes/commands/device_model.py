"""OCPP 2.0.1 device model and monitoring (family ``commands`` to send, ``network`` to read).

Commands answer as the other command endpoints do (csms.api.routes.commands.live: audit first, the
charger's answer, 409/422/502/503/504 on failure; 422 for a 1.6 station). Report requests
answer once the report is complete or ``wait_s`` has passed: ``status`` is then "complete",
or the charger's answer while parts are still coming (GET the report later). The stored
device model and monitors are read with GET.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated, Any, TypeVar

from fastapi import APIRouter, HTTPException, Path, Query
from fastapi import status as http_status
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from csms.api import device_model_models as m
from csms.api.commands import CommandIn, Name
from csms.api.deps import CsmsDep
from csms.api.models import MAX_ID, ONE
from csms.api.routes.commands.common import COMMANDS, ERRORS, Commander, CommandReader, send_command
from csms.api.routes.commands.common import audit_command as audit_command
from csms.api.routes.commands.common import command_failure as failure
from csms.api.routes.commands.live import Reader
from csms.api.routes.safety.status import visible_charge_point
from csms.api.routes.sessions.records import StationPath
from csms.app import Csms
from csms.domain.commands_device import DeviceResult, SetVariableMonitoring
from csms.errors import CommandError
from csms.services.device_model import DeviceModelService
from csms.store.device_model import ReportRecord

router = APIRouter(tags=["device model and monitoring (2.0.1)"])
Answer = TypeVar("Answer", bound=BaseModel)
DEVICE = "/charge-points/{station_id}/device-model"


def _service(csms: Csms) -> DeviceModelService:
    assert csms.device_model is not None, "composed in csms.app.running"
    return csms.device_model


def _report_out(record: ReportRecord, reason: str | None = None) -> m.ReportOut:
    return m.ReportOut(
        request_id=record.id, station_id=record.station_id, kind=record.kind,
        status=record.status, parts=record.parts, requested_at=record.requested_at,
        requested_by=record.requested_by, completed_at=record.completed_at, reason=reason)


async def _report(csms: Csms, principal: Commander, station_id: str, name: str,
                  body: m.BaseReportIn | m.ReportIn | m.MonitoringReportIn
                  ) -> m.ReportOut | JSONResponse:
    await visible_charge_point(csms, principal, station_id)
    await audit_command(csms, principal.actor, station_id, name, body)
    service = _service(csms)
    kwargs: dict[str, Any] = {}
    if isinstance(body, m.BaseReportIn):
        kwargs["base"] = body.base
    else:
        kwargs["keys"] = tuple(k.key() for k in body.components)
        kwargs["criteria"] = tuple(body.criteria)
    try:
        request_id, answer = await service.request_report(
            station_id, monitoring=isinstance(body, m.MonitoringReportIn),
            timeout_s=body.timeout_s, requested_by=principal.actor, **kwargs)
    except CommandError as exc:
        return failure(exc)
    wait_s = body.wait_s if answer.status == "Accepted" else 0.0
    record = await service.wait_report(request_id, wait_s)
    assert record is not None
    return _report_out(record, answer.reason)


@router.post(f"{COMMANDS}/get-base-report", response_model=m.ReportOut, responses=ERRORS)
async def get_base_report(station_id: StationPath, body: m.BaseReportIn, csms: CsmsDep,
                          principal: Commander) -> m.ReportOut | JSONResponse:
    """GetBaseReport: the charger reports its device model (FullInventory: everything;
    ConfigurationInventory: its settings; SummaryInventory) in NotifyReport parts, which
    are stored as the station's device model (a full inventory replaces it)."""
    return await _report(csms, principal, station_id, "get-base-report", body)


@router.post(f"{COMMANDS}/get-report", response_model=m.ReportOut, responses=ERRORS)
async def get_report(station_id: StationPath, body: m.ReportIn, csms: CsmsDep,
                     principal: Commander) -> m.ReportOut | JSONResponse:
    """GetReport: some components (and variables) and/or the variables meeting every
    criterion; the parts update the stored device model."""
    return await _report(csms, principal, station_id, "get-report", body)


@router.post(f"{COMMANDS}/get-monitoring-report", response_model=m.ReportOut,
             responses=ERRORS)
async def get_monitoring_report(station_id: StationPath, body: m.MonitoringReportIn,
                                csms: CsmsDep, principal: Commander
                                ) -> m.ReportOut | JSONResponse:
    """GetMonitoringReport: the monitors the charger runs (NotifyMonitoringReport parts,
    stored: GET ``/charge-points/{id}/monitors``)."""
    return await _report(csms, principal, station_id, "get-monitoring-report", body)


@router.get("/device-model-reports/{request_id}", response_model=m.ReportOut, responses=ONE)
async def report_state(request_id: Annotated[int, Path(ge=1, le=MAX_ID)], csms: CsmsDep,
                       principal: CommandReader) -> m.ReportOut:
    """A report request and how far its parts have come."""
    record = await _service(csms).store.report(request_id)
    if record is None:
        raise HTTPException(http_status.HTTP_404_NOT_FOUND, "no such report request")
    await visible_charge_point(csms, principal, record.station_id)
    return _report_out(record)


@router.get(DEVICE, response_model=list[m.VariableOut], responses=ONE)
async def device_model(station_id: StationPath, csms: CsmsDep, principal: Reader,
                       component: Annotated[Name | None, Query()] = None
                       ) -> list[m.VariableOut]:
    """The station's stored device model (one row per variable attribute, with the
    variable's characteristics), optionally of one component."""
    await visible_charge_point(csms, principal, station_id)
    rows = await _service(csms).store.variables(station_id, component)
    return [m.VariableOut.model_validate(row) for row in rows]


@router.get("/charge-points/{station_id}/monitors", response_model=list[m.StoredMonitorOut],
            responses=ONE)
async def monitors(station_id: StationPath, csms: CsmsDep,
                   principal: Reader) -> list[m.StoredMonitorOut]:
    """The variable monitors the station runs, as far as the CSMS knows: those it set and
    those a monitoring report listed."""
    await visible_charge_point(csms, principal, station_id)
    found = await _service(csms).store.monitors(station_id)
    return [m.StoredMonitorOut(**{**vars_of(s.monitor), "origin": s.origin,
                                  "updated_at": s.updated_at}) for s in found]


def vars_of(row: object) -> dict[str, object]:
    return {name: getattr(row, name) for name in row.__dataclass_fields__}  # type: ignore[attr-defined]


@router.post(f"{COMMANDS}/set-variables", response_model=m.SettingsSetReportOut,
             responses=ERRORS)
async def set_variables(station_id: StationPath, body: m.SetVariablesIn, csms: CsmsDep,
                        principal: Commander) -> m.SettingsSetReportOut | JSONResponse:
    """Change several settings: 2.0.1 SetVariables in messages of at most the station's
    ItemsPerMessageSetVariables, 1.6 one ChangeConfiguration per key; one result per
    setting, in request order."""
    return await send_command(csms, principal, station_id, "set-variables", body,
                       m.SettingsSetReportOut)


@router.post(f"{COMMANDS}/set-network-profile", response_model=m.CommandStatusOut,
             responses=ERRORS)
async def set_network_profile(station_id: StationPath, body: m.SetNetworkProfileIn,
                              csms: CsmsDep, principal: Commander
                              ) -> m.CommandStatusOut | JSONResponse:
    """SetNetworkProfile (2.0.1): a connection profile for a configuration slot."""
    return await send_command(csms, principal, station_id, "set-network-profile", body,
                       m.CommandStatusOut)


@router.post(f"{COMMANDS}/set-monitoring-base", response_model=m.CommandStatusOut,
             responses=ERRORS)
async def set_monitoring_base(station_id: StationPath, body: m.MonitoringBaseIn,
                              csms: CsmsDep, principal: Commander
                              ) -> m.CommandStatusOut | JSONResponse:
    """SetMonitoringBase (2.0.1): All, FactoryDefault or HardWiredOnly monitors."""
    return await send_command(csms, principal, station_id, "set-monitoring-base", body,
                       m.CommandStatusOut)


@router.post(f"{COMMANDS}/set-monitoring-level", response_model=m.CommandStatusOut,
             responses=ERRORS)
async def set_monitoring_level(station_id: StationPath, body: m.MonitoringLevelIn,
                               csms: CsmsDep, principal: Commander
                               ) -> m.CommandStatusOut | JSONResponse:
    """SetMonitoringLevel (2.0.1): report events of this severity or more severe."""
    return await send_command(csms, principal, station_id, "set-monitoring-level", body,
                       m.CommandStatusOut)


async def _monitors(csms: Csms, principal: Commander, station_id: str, name: str,
                    body: CommandIn, run: Callable[[], Awaitable[DeviceResult]]
                    ) -> DeviceResult | JSONResponse:
    await visible_charge_point(csms, principal, station_id)
    await audit_command(csms, principal.actor, station_id, name, body)
    try:
        return await run()
    except CommandError as exc:
        return failure(exc)


@router.post(f"{COMMANDS}/set-variable-monitoring", response_model=m.MonitorsSetReportOut,
             responses=ERRORS)
async def set_variable_monitoring(station_id: StationPath, body: m.SetMonitoringIn,
                                  csms: CsmsDep, principal: Commander
                                  ) -> m.MonitorsSetReportOut | JSONResponse:
    """SetVariableMonitoring (2.0.1); accepted monitors are stored with the charger's ids."""
    command = SetVariableMonitoring(tuple(x.monitor() for x in body.monitors))
    result = await _monitors(csms, principal, station_id, "set-variable-monitoring", body,
                             lambda: _service(csms).set_monitors(
                                 station_id, command.monitors, timeout_s=body.timeout_s,
                                 requested_by=principal.actor))
    return result if isinstance(result, JSONResponse) else (
        m.MonitorsSetReportOut.model_validate(result))


@router.post(f"{COMMANDS}/clear-variable-monitoring",
             response_model=m.MonitorsClearedReportOut, responses=ERRORS)
async def clear_variable_monitoring(station_id: StationPath, body: m.ClearMonitoringIn,
                                    csms: CsmsDep, principal: Commander
                                    ) -> m.MonitorsClearedReportOut | JSONResponse:
    """ClearVariableMonitoring (2.0.1) by the station's monitor ids."""
    result = await _monitors(csms, principal, station_id, "clear-variable-monitoring", body,
                             lambda: _service(csms).clear_monitors(
                                 station_id, tuple(body.monitor_ids),
                                 timeout_s=body.timeout_s, requested_by=principal.actor))
    return result if isinstance(result, JSONResponse) else (
        m.MonitorsClearedReportOut.model_validate(result))


@router.post(f"{COMMANDS}/apply-safety-monitors", response_model=m.MonitorsSetReportOut,
             responses=ERRORS)
async def apply_safety_monitors(station_id: StationPath, body: CommandIn, csms: CsmsDep,
                                principal: Commander) -> m.MonitorsSetReportOut | JSONResponse:
    """Set the monitors the ``[safety]`` thresholds give this 2.0.1 station (over-temperature,
    over-/under-voltage, over-current), replacing those set before; the charger then reports
    an excursion itself by NotifyEvent, which raises the alarm."""
    result = await _monitors(csms, principal, station_id, "apply-safety-monitors", body,
                             lambda: _service(csms).apply_safety(
                                 station_id, timeout_s=body.timeout_s,
                                 requested_by=principal.actor))
    return result if isinstance(result, JSONResponse) else (
        m.MonitorsSetReportOut.model_validate(result))
