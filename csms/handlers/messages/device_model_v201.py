"""OCPP 2.0.1 NotifyReport and NotifyMonitoringReport: parts of a report the CSMS asked for,
stored as they arrive (csms.services.device_model); recorded as station events when no
device model service is composed (a bare OCPP server in tests)."""

from __future__ import annotations

from csms.handlers.context import StationContext, reporter
from csms.handlers.rpc import Payload

_record_report = reporter("notify_report")
_record_monitoring = reporter("notify_monitoring_report")


async def notify_report(ctx: StationContext, p: Payload) -> Payload:
    service = ctx.service.device_model
    if service is None:
        return await _record_report(ctx, p)
    await service.notify_report(ctx.station_id, p)
    return {}


async def notify_monitoring_report(ctx: StationContext, p: Payload) -> Payload:
    service = ctx.service.device_model
    if service is None:
        return await _record_monitoring(ctx, p)
    await service.notify_monitoring_report(ctx.station_id, p)
    return {}
