"""OCPP 2.0.1 charger-initiated messages: translate, delegate to the service, translate back."""

from __future__ import annotations

from csms.handlers.context import (
    BoundHandlers,
    ContextHandler,
    StationContext,
    handler_table,
    reporter,
)
from csms.handlers.messages import certificates, device_model_v201, files
from csms.handlers.messages.ev_needs_v201 import notify_ev_charging_needs
from csms.handlers.rpc import Payload
from csms.handlers.timefmt import format_time
from csms.handlers.translate import v201 as tr


async def boot_notification(ctx: StationContext, p: Payload) -> Payload:
    verdict = await ctx.service.boot(tr.boot(ctx.station_id, p, ctx.service.now()))
    ctx.registration = verdict.status
    return tr.boot_answer(verdict)


async def heartbeat(ctx: StationContext, _: Payload) -> Payload:
    return {"currentTime": format_time(await ctx.service.heartbeat(ctx.station_id))}


async def status_notification(ctx: StationContext, p: Payload) -> Payload:
    await ctx.service.status_changed(tr.status(ctx.station_id, p))
    return {}


async def authorize(ctx: StationContext, p: Payload) -> Payload:
    auth = await ctx.service.authorize(tr.id_token(p["idToken"]))
    return {"idTokenInfo": tr.id_token_info(auth)}


async def transaction_event(ctx: StationContext, p: Payload) -> Payload:
    verdict = await ctx.service.session_event(tr.transaction_event(ctx.station_id, p))
    answer: Payload = {}
    if verdict.authorization is not None and "idToken" in p:
        answer["idTokenInfo"] = tr.id_token_info(verdict.authorization)
    billing = ctx.service.billing
    if p["eventType"] == "Ended" and verdict.session_id is not None and billing is not None:
        cost = await billing.session_cost(verdict.session_id)
        if cost is not None:
            answer["totalCost"] = tr.money(cost)
    return answer


async def meter_values(ctx: StationContext, p: Payload) -> Payload:
    await ctx.service.meter_values(tr.meter_values(ctx.station_id, p), ctx.sessions)
    return {}


async def notify_event(ctx: StationContext, p: Payload) -> Payload:
    await ctx.service.reported(tr.notify_events(ctx.station_id, p))
    return {}


async def security_event(ctx: StationContext, p: Payload) -> Payload:
    await ctx.service.reported([tr.security_event(ctx.station_id, p)])
    return {}


HANDLERS: dict[str, ContextHandler] = handler_table({
    "BootNotification": boot_notification,
    "Heartbeat": heartbeat,
    "StatusNotification": status_notification,
    "Authorize": authorize,
    "TransactionEvent": transaction_event,
    "MeterValues": meter_values,
    "NotifyEvent": notify_event,
    "SecurityEventNotification": security_event,
    "NotifyReport": device_model_v201.notify_report,
    "FirmwareStatusNotification": files.firmware_status,
    "LogStatusNotification": files.log_status,
    "DataTransfer": reporter("data_transfer", {"status": "UnknownVendorId"}),
    # Recorded and acknowledged; the features behind them come with later issues.
    "ClearedChargingLimit": reporter("cleared_charging_limit"),
    "NotifyChargingLimit": reporter("notify_charging_limit"),
    "NotifyCustomerInformation": reporter("notify_customer_information"),
    "NotifyDisplayMessages": reporter("notify_display_messages"),
    "NotifyEVChargingNeeds": notify_ev_charging_needs,
    "NotifyEVChargingSchedule": reporter("notify_ev_charging_schedule", {"status": "Accepted"}),
    "NotifyMonitoringReport": device_model_v201.notify_monitoring_report,
    "PublishFirmwareStatusNotification": reporter("publish_firmware_status"),
    "ReportChargingProfiles": reporter("report_charging_profiles"),
    "ReservationStatusUpdate": reporter("reservation_status"),
    # csms.handlers.messages.certificates: the CA when configured, else clean refusals
    "SignCertificate": certificates.sign_certificate,
    "Get15118EVCertificate": certificates.get_15118_ev_certificate,
    "GetCertificateStatus": certificates.get_certificate_status,
})


def handlers(ctx: StationContext) -> BoundHandlers:
    """The handler of every 2.0.1 action a charging station may send, bound to ``ctx``."""
    return BoundHandlers(ctx, HANDLERS)
