"""OCPP 2.0.1 charger-initiated messages: translate, delegate to the service, translate back."""

from __future__ import annotations

from csms.handlers import translate_v201 as tr
from csms.handlers.context import StationContext, handler_map
from csms.handlers.rpc import Handler, Payload
from csms.handlers.timefmt import format_time


def handlers(ctx: StationContext) -> dict[str, Handler]:
    """The handler of every 2.0.1 action a charging station may send."""
    svc, sid = ctx.service, ctx.station_id

    async def boot_notification(p: Payload) -> Payload:
        verdict = await svc.boot(tr.boot(sid, p, svc.now()))
        ctx.registration = verdict.status
        return tr.boot_answer(verdict)

    async def heartbeat(_: Payload) -> Payload:
        return {"currentTime": format_time(await svc.heartbeat(sid))}

    async def status_notification(p: Payload) -> Payload:
        await svc.status_changed(tr.status(sid, p))
        return {}

    async def authorize(p: Payload) -> Payload:
        auth = await svc.authorize(tr.id_token(p["idToken"]))
        return {"idTokenInfo": tr.id_token_info(auth)}

    async def transaction_event(p: Payload) -> Payload:
        verdict = await svc.session_event(tr.transaction_event(sid, p))
        if verdict.authorization is None or "idToken" not in p:
            return {}
        return {"idTokenInfo": tr.id_token_info(verdict.authorization)}

    async def meter_values(p: Payload) -> Payload:
        await svc.meter_values(tr.meter_values(sid, p))
        return {}

    async def notify_event(p: Payload) -> Payload:
        await svc.reported(tr.notify_events(sid, p))
        return {}

    async def security_event(p: Payload) -> Payload:
        await svc.reported([tr.security_event(sid, p)])
        return {}

    def reporter(kind: str, answer: Payload | None = None) -> Handler:
        async def report(p: Payload) -> Payload:
            await svc.reported([tr.report(sid, kind, p, svc.now())])
            return dict(answer or {})

        return report

    async def data_transfer(p: Payload) -> Payload:
        await svc.reported([tr.report(sid, "data_transfer", p, svc.now())])
        return {"status": "UnknownVendorId"}

    return handler_map(ctx, {
        "BootNotification": boot_notification,
        "Heartbeat": heartbeat,
        "StatusNotification": status_notification,
        "Authorize": authorize,
        "TransactionEvent": transaction_event,
        "MeterValues": meter_values,
        "NotifyEvent": notify_event,
        "SecurityEventNotification": security_event,
        "NotifyReport": reporter("notify_report"),
        "FirmwareStatusNotification": reporter("firmware_status"),
        "LogStatusNotification": reporter("log_status"),
        "DataTransfer": data_transfer,
        # Recorded and acknowledged; the features behind them come with later issues.
        "ClearedChargingLimit": reporter("cleared_charging_limit"),
        "NotifyChargingLimit": reporter("notify_charging_limit"),
        "NotifyCustomerInformation": reporter("notify_customer_information"),
        "NotifyDisplayMessages": reporter("notify_display_messages"),
        "NotifyEVChargingNeeds": reporter("notify_ev_charging_needs", {"status": "Rejected"}),
        "NotifyEVChargingSchedule": reporter("notify_ev_charging_schedule",
                                             {"status": "Accepted"}),
        "NotifyMonitoringReport": reporter("notify_monitoring_report"),
        "PublishFirmwareStatusNotification": reporter("publish_firmware_status"),
        "ReportChargingProfiles": reporter("report_charging_profiles"),
        "ReservationStatusUpdate": reporter("reservation_status"),
        # No certificate authority yet: refuse certificate requests cleanly.
        "SignCertificate": reporter("sign_certificate", {"status": "Rejected"}),
        "Get15118EVCertificate": reporter("get_15118_ev_certificate",
                                          {"status": "Failed", "exiResponse": ""}),
        "GetCertificateStatus": reporter("get_certificate_status", {"status": "Failed"}),
    })
